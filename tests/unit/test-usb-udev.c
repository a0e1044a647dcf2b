/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lib/usb against a umockdev testbed: what udev shows on a port (ids, interfaces from the
 * "descriptors" attribute or from interface children, hidraw), enumeration order, and the
 * re-enumeration watch (sysfs first, then uevents; timeout, cancel, gone). The program re-runs
 * itself under libumockdev-preload. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "usb/usb.h"
/* after usb.h: glib redefines MIN/MAX (the same way) */
#include <umockdev.h>

static UMockdevTestbed *tb;

/* Device and configuration descriptor of an application: one HID interface. */
static const uint8_t app_descriptors[] = {
    18, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 64, 0x83, 0x04, 0x50, 0x57, 0x00, 0x01, 1, 2, 3, 1,
    9, 0x02, 34, 0, 1, 1, 0, 0x80, 50,
    9, 0x04, 0, 0, 1, 0x03, 0x00, 0x00, 0,
    9, 0x21, 0x11, 0x01, 0, 1, 0x22, 33, 0,
    7, 0x05, 0x81, 0x03, 64, 0, 1,
};

typedef struct dev_spec {
    const char *port;
    unsigned devnum;
    bool bootloader;
    bool with_hidraw;
    const char *pid; /* NULL: df11 or 5750 by mode */
} dev_spec;

/* Adds a usb_device (and its interface, and maybe a hidraw node); returns its syspath. */
static char *add_usb(const dev_spec *d) {
    char devnum[8], devname[64], serial[16];
    char *path, *intf;

    snprintf(devnum, sizeof devnum, "%u", d->devnum);
    snprintf(devname, sizeof devname, "/dev/bus/usb/001/%03u", d->devnum);
    snprintf(serial, sizeof serial, "APP%u", d->devnum);
    path = umockdev_testbed_add_device(
        tb, "usb", d->port, NULL,
        /* attributes */
        "busnum", "1", "devnum", devnum, "idVendor", "0483", "idProduct",
        d->pid ? d->pid : d->bootloader ? "df11" : "5750", "bcdDevice",
        d->bootloader ? "2200" : "0102",
        "bDeviceClass", "00", "manufacturer", "STMicroelectronics", "product",
        d->bootloader ? "STM32  BOOTLOADER" : "Sim App", "serial",
        d->bootloader ? "FFFFFFFEFFFF" : serial, NULL,
        /* properties */
        "DEVTYPE", "usb_device", "DEVNAME", devname, NULL);
    assert_non_null(path);

    if (d->bootloader) {
        /* no "descriptors": the interface child tells it is a DFU device */
        char name[48];
        snprintf(name, sizeof name, "%s:1.0", d->port);
        intf = umockdev_testbed_add_device(tb, "usb", name, path, "bInterfaceNumber", "00",
                                           "bInterfaceClass", "fe", "bInterfaceSubClass", "01",
                                           "bInterfaceProtocol", "02", NULL, "DEVTYPE",
                                           "usb_interface", NULL);
        assert_non_null(intf);
        g_free(intf);
    } else {
        umockdev_testbed_set_attribute_binary(tb, path, "descriptors", (guint8 *) app_descriptors,
                                              sizeof app_descriptors);
        if (d->with_hidraw) {
            char name[48];
            snprintf(name, sizeof name, "%s:1.0", d->port);
            intf = umockdev_testbed_add_device(tb, "usb", name, path, "bInterfaceClass", "03",
                                               NULL, "DEVTYPE", "usb_interface", NULL);
            assert_non_null(intf);
            char *hid = umockdev_testbed_add_device(tb, "hidraw", "hidraw7", intf, NULL,
                                                    "DEVNAME", "/dev/hidraw7", NULL);
            assert_non_null(hid);
            g_free(hid);
            g_free(intf);
        }
    }
    return path;
}

/* Symbolic links in dir whose target is gone. */
static void unlink_dangling(const char *dir) {
    char *sys = umockdev_testbed_get_sys_dir(tb);
    char *d = g_build_filename(sys, dir, NULL);
    GDir *gd = g_dir_open(d, 0, NULL);
    const char *name;

    while (gd && (name = g_dir_read_name(gd))) {
        char *p = g_build_filename(d, name, NULL);
        if (g_file_test(p, G_FILE_TEST_IS_SYMLINK) && !g_file_test(p, G_FILE_TEST_EXISTS))
            unlink(p);
        g_free(p);
    }
    if (gd)
        g_dir_close(gd);
    g_free(d);
    g_free(sys);
}

/* umockdev 0.17 sends no "remove" itself and leaves the bus and class links behind. */
static void remove_usb(char *path) {
    umockdev_testbed_uevent(tb, path, "remove");
    umockdev_testbed_remove_device(tb, path);
    unlink_dangling("bus/usb/devices");
    unlink_dangling("class/hidraw");
    g_free(path);
}

static void test_info_and_enumerate(void **state) {
    dev_spec boot = { "1-3", 5, true, false, NULL }, app = { "1-10", 6, false, true, NULL },
             app2 = { "1-2", 7, false, false, NULL };
    char *p1 = add_usb(&boot), *p2 = add_usb(&app), *p3 = add_usb(&app2);
    stdfu_usb_ids ids;
    stdfu_usb_info info, *list = NULL;
    stdfu_usb_matcher m;
    stdfu_error err = {};
    size_t n = 0;
    (void) state;

    stdfu_usb_ids_init_default(&ids);
    assert_int_equal(stdfu_usb_lookup_port(NULL, &ids, "1-3", &info), 0);
    assert_string_equal(info.port, "1-3");
    assert_int_equal(info.mode, STDFU_USB_BOOTLOADER);
    assert_int_equal(info.busnum, 1);
    assert_int_equal(info.devnum, 5);
    assert_int_equal(info.vid, 0x0483);
    assert_int_equal(info.pid, 0xdf11);
    assert_int_equal(info.bcd_device, 0x2200);
    assert_int_equal(info.dfu_interface, 0);
    assert_string_equal(info.serial, "FFFFFFFEFFFF");
    assert_string_equal(info.product, "STM32  BOOTLOADER");

    assert_int_equal(stdfu_usb_lookup_port(NULL, &ids, "1-10", &info), 0);
    assert_int_equal(info.mode, STDFU_USB_APPLICATION);
    assert_int_equal(info.bcd_device, 0x0102);
    assert_true(info.has_hid);
    assert_false(info.has_dfu_runtime);
    assert_int_equal(info.dfu_interface, -1);
    assert_string_equal(info.hidraw, "/dev/hidraw7");

    assert_int_equal(stdfu_usb_lookup_port(NULL, &ids, "1-4", &info), -ENODEV);
    assert_int_equal(stdfu_usb_lookup_port(NULL, &ids, "nonsense", &info), -EINVAL);

    /* sorted by port in natural order: 1-2, 1-3, 1-10 */
    assert_int_equal(stdfu_usb_enumerate(NULL, &ids, &list, &n, &err), 0);
    assert_int_equal(n, 3);
    assert_string_equal(list[0].port, "1-2");
    assert_string_equal(list[1].port, "1-3");
    assert_string_equal(list[2].port, "1-10");
    free(list);

    assert_int_equal(stdfu_usb_matcher_parse_id("0483:5750,APP7", &m, &err), 0);
    assert_int_equal(stdfu_usb_find(NULL, &ids, &m, &info, &err), 0);
    assert_string_equal(info.port, "1-2");

    /* an application id the rule does not know is not listed */
    stdfu_usb_ids_init_any(&ids);
    ids.n_app_ids = 1;
    ids.app_ids[0].vid = 0x1209;
    ids.app_ids[0].pid = 0x0001;
    assert_int_equal(stdfu_usb_enumerate(NULL, &ids, &list, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(list[0].port, "1-3");
    free(list);

    remove_usb(p1);
    remove_usb(p2);
    remove_usb(p3);
}

typedef struct later {
    useconds_t delay_us;
    dev_spec add;
    char *remove;
    char *added;
} later;

static void *later_thread(void *userdata) {
    later *l = userdata;
    usleep(l->delay_us);
    if (l->remove)
        remove_usb(l->remove);
    if (l->add.port)
        l->added = add_usb(&l->add);
    return NULL;
}

/* A device that becomes the application in steps, as the kernel binds its drivers: first not
 * ours (unknown id), then complete but without hidraw, then the hidraw node. */
static char *hidraw_later_path;

static void *hidraw_later_thread(void *userdata) {
    dev_spec d = { "1-5", 12, false, false, "ffff" };
    char *intf, *hid;
    (void) userdata;

    usleep(50000);
    hidraw_later_path = add_usb(&d);
    usleep(50000);
    umockdev_testbed_set_attribute(tb, hidraw_later_path, "idProduct", "5750");
    intf = umockdev_testbed_add_device(tb, "usb", "1-5:1.0", hidraw_later_path,
                                       "bInterfaceClass", "03", NULL, "DEVTYPE", "usb_interface",
                                       NULL);
    umockdev_testbed_uevent(tb, hidraw_later_path, "change");
    usleep(100000);
    hid = umockdev_testbed_add_device(tb, "hidraw", "hidraw7", intf, NULL, "DEVNAME",
                                      "/dev/hidraw7", NULL);
    g_free(hid);
    g_free(intf);
    return NULL;
}

static usec_t elapsed_since(usec_t t) {
    return now_monotonic() - t;
}

static void test_watch(void **state) {
    dev_spec app = { "1-5", 10, false, false, NULL };
    char *path = add_usb(&app);
    stdfu_usb_watch *w = NULL;
    stdfu_usb_info info;
    stdfu_error err = {};
    atomic_bool cancel = true;
    pthread_t th;
    (void) state;

    assert_int_equal(stdfu_usb_watch_new(NULL, &w, &err), 0);

    /* already there: found in sysfs at once */
    assert_int_equal(stdfu_usb_watch_wait(w, "1-5", STDFU_USB_WANT_APPLICATION, 0, USEC_PER_SEC,
                                          NULL, &info), 0);
    assert_int_equal(info.devnum, 10);

    /* the same enumeration is excluded: nothing new within the timeout */
    usec_t t = now_monotonic();
    assert_int_equal(stdfu_usb_watch_wait(w, "1-5", STDFU_USB_WANT_ANY, 10,
                                          200 * USEC_PER_MSEC, NULL, &info), -ETIMEDOUT);
    assert_true(elapsed_since(t) >= 200 * USEC_PER_MSEC);
    assert_int_equal(stdfu_usb_watch_wait(w, "1-5", STDFU_USB_WANT_ANY, 10, USEC_PER_SEC,
                                          &cancel, &info), -ECANCELED);

    /* it leaves and comes back as the bootloader while we wait: seen through events */
    later l = { .delay_us = 100000, .remove = path, .add = { "1-5", 11, true, false, NULL } };
    assert_int_equal(pthread_create(&th, NULL, later_thread, &l), 0);
    assert_int_equal(stdfu_usb_watch_wait(w, "1-5", STDFU_USB_WANT_BOOTLOADER, 10,
                                          5 * USEC_PER_SEC, NULL, &info), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(info.mode, STDFU_USB_BOOTLOADER);
    assert_int_equal(info.devnum, 11);
    path = l.added;

    remove_usb(path);

    /* the application, whose hidraw node is bound a moment after it appears: the watch
     * gives it that moment */
    stdfu_usb_watch_free(w);
    w = NULL;
    stdfu_usb_ids ids;
    stdfu_usb_ids_init_default(&ids);
    assert_int_equal(stdfu_usb_watch_new(&ids, &w, &err), 0);
    assert_int_equal(pthread_create(&th, NULL, hidraw_later_thread, NULL), 0);
    assert_int_equal(stdfu_usb_watch_wait(w, "1-5", STDFU_USB_WANT_APPLICATION, 0,
                                          5 * USEC_PER_SEC, NULL, &info), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(info.devnum, 12);
    assert_true(info.has_hid);
    assert_string_equal(info.hidraw, "/dev/hidraw7");
    remove_usb(hidraw_later_path);

    stdfu_usb_watch_free(w);
}

int main(int argc, char **argv) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_info_and_enumerate),
        cmocka_unit_test(test_watch),
    };
    int r;
    (void) argc;

    /* umockdev works through its preload library: run again under it. */
    if (!getenv("STDFU_TEST_UMOCKDEV")) {
        const char *old = getenv("LD_PRELOAD");
        char *preload = NULL;
        if (asprintf(&preload, "libumockdev-preload.so.0%s%s", old ? " " : "", old ? old : "") <
            0)
            return 1;
        setenv("LD_PRELOAD", preload, 1);
        setenv("STDFU_TEST_UMOCKDEV", "1", 1);
        /* ASan wants to be first; umockdev's preload is harmless before it */
        setenv("ASAN_OPTIONS", "verify_asan_link_order=0", 0);
        char self[4096];
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        if (n <= 0)
            return 1;
        self[n] = '\0';
        execv(self, argv);
        perror("execv");
        return 1;
    }
    tb = umockdev_testbed_new();
    r = cmocka_run_group_tests(tests, NULL, NULL);
    g_object_unref(tb);
    return r;
}
