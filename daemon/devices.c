/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "devices.h"

#include <errno.h>
#include <string.h>

#include "dbus-util.h"
#include "util/log.h"
#include "util/string-table.h"
#include "util/parse-util.h"

struct DeviceTable {
    Daemon *daemon;
    DeviceClassifier classify;
    void *classify_userdata;
    struct udev *udev;
    struct udev_monitor *monitor;
    sd_event_source *monitor_source;
    Device *devices;
    unsigned n_devices;
};

static const char *const device_mode_table[_DEVICE_MODE_MAX] = {
    [DEVICE_ABSENT] = "absent",
    [DEVICE_APPLICATION] = "application",
    [DEVICE_BOOTLOADER] = "bootloader",
};

const char *device_mode_to_string(DeviceMode m) {
    return TABLE_NAME(device_mode_table, m, "unknown");
}

bool port_path_is_valid(const char *port) {
    /* bus "-" port { "." port }, numbers only; USB allows at most 7 tiers below the root. */
    const char *p = port;
    unsigned parts = 0;
    if (!port || strlen(port) > 64)
        return false;
    for (;;) {
        if (*p < '0' || *p > '9')
            return false;
        while (*p >= '0' && *p <= '9')
            p++;
        parts++;
        if (*p == '\0')
            return parts >= 2;
        if ((parts == 1 && *p != '-') || (parts > 1 && *p != '.'))
            return false;
        p++;
    }
}

static void device_clear_udev(Device *dev) {
    dev->mode = DEVICE_ABSENT;
    dev->vid = dev->pid = dev->bcd_device = 0;
    dev->busnum = dev->devnum = 0;
    dev->product = mfree(dev->product);
    dev->serial = mfree(dev->serial);
    dev->syspath = mfree(dev->syspath);
    dev->hidraw_node = mfree(dev->hidraw_node);
    dev->hidraw_syspath = mfree(dev->hidraw_syspath);
}

static Device *device_free(Device *dev) {
    if (!dev)
        return NULL;
    device_clear_udev(dev);
    sd_event_source_disable_unref(dev->progress_timer);
    sd_event_source_disable_unref(dev->settle_timer);
    free(dev->port);
    free(dev->object_path);
    free(dev->running_version);
    free(dev->target_version);
    free(dev->last_error);
    free(dev->resume);
    if (dev->resume_spec)
        job_spec_done(dev->resume_spec);
    free(dev->resume_spec);
    free(dev);
    return NULL;
}

int device_table_new(DeviceTable **ret, Daemon *d, DeviceClassifier classify, void *userdata) {
    DeviceTable *t = calloc(1, sizeof *t);
    if (!t)
        return -ENOMEM;
    t->daemon = d;
    t->classify = classify;
    t->classify_userdata = userdata;
    t->udev = udev_new();
    if (!t->udev) {
        free(t);
        return -ENOMEM;
    }
    *ret = t;
    return 0;
}

DeviceTable *device_table_free(DeviceTable *t) {
    if (!t)
        return NULL;
    while (t->devices) {
        Device *dev = t->devices;
        t->devices = dev->next;
        device_free(dev);
    }
    sd_event_source_disable_unref(t->monitor_source);
    udev_monitor_unref(t->monitor);
    udev_unref(t->udev);
    free(t);
    return NULL;
}

Daemon *device_table_daemon(DeviceTable *t) {
    return t->daemon;
}
Device *device_table_first(DeviceTable *t) {
    return t->devices;
}
unsigned device_table_count(DeviceTable *t) {
    return t->n_devices;
}

Device *device_table_find(DeviceTable *t, const char *port) {
    for (Device *dev = t->devices; dev; dev = dev->next)
        if (streq(dev->port, port))
            return dev;
    return NULL;
}

Device *device_table_find_path(DeviceTable *t, const char *object_path) {
    for (Device *dev = t->devices; dev; dev = dev->next)
        if (streq(dev->object_path, object_path))
            return dev;
    return NULL;
}

/* Kept sorted by port so that ListDevices and the node enumerator are stable. */
static void device_table_link(DeviceTable *t, Device *dev) {
    Device **p = &t->devices;
    while (*p && strverscmp((*p)->port, dev->port) < 0)
        p = &(*p)->next;
    dev->next = *p;
    *p = dev;
    t->n_devices++;
}

static int device_new(DeviceTable *t, const char *port, Device **ret) {
    if (!port_path_is_valid(port))
        return -EINVAL;
    Device *dev = calloc(1, sizeof *dev);
    if (!dev)
        return -ENOMEM;
    dev->table = t;
    dev->port = strdup(port);
    int r = dev->port ? device_object_path(port, &dev->object_path) : -ENOMEM;
    if (r < 0) {
        device_free(dev);
        return r;
    }
    dev->state = JOB_IDLE;
    device_table_link(t, dev);
    *ret = dev;
    return 0;
}

int device_table_ensure(DeviceTable *t, const char *port, Device **ret) {
    Device *dev = device_table_find(t, port);
    if (!dev) {
        int r = device_new(t, port, &dev);
        if (r < 0)
            return r;
        daemon_on_device_added(t->daemon, dev);
    }
    *ret = dev;
    return 0;
}

void device_table_drop(DeviceTable *t, Device *dev) {
    daemon_on_device_dropped(t->daemon, dev);
    for (Device **p = &t->devices; *p; p = &(*p)->next)
        if (*p == dev) {
            *p = dev->next;
            t->n_devices--;
            break;
        }
    device_free(dev);
}

static int strdup_attr(struct udev_device *u, const char *attr, char **ret) {
    const char *v = udev_device_get_sysattr_value(u, attr);
    free(*ret);
    *ret = NULL;
    if (!v)
        return 0;
    *ret = strdup(v);
    return *ret ? 0 : -ENOMEM;
}

static uint16_t hex_attr(struct udev_device *u, const char *attr) {
    const char *v = udev_device_get_sysattr_value(u, attr);
    uint16_t x = 0;
    return v && parse_u16_hex(v, &x) >= 0 ? x : 0;
}

static uint8_t dec_attr(struct udev_device *u, const char *attr) {
    const char *v = udev_device_get_sysattr_value(u, attr);
    uint32_t x = 0;
    return v && parse_u32(v, &x) >= 0 && x <= 255 ? (uint8_t) x : 0;
}

static void handle_usb_present(DeviceTable *t, struct udev_device *u) {
    const char *port = udev_device_get_sysname(u);
    uint16_t vid = hex_attr(u, "idVendor"), pid = hex_attr(u, "idProduct");
    Device *dev = device_table_find(t, port);
    DeviceMode mode = t->classify(vid, pid, port, t->classify_userdata);

    if (!dev && mode == DEVICE_ABSENT)
        return;   /* not ours */
    /* On a port we already watch, anything that is not the bootloader is the application:
     * after an UpdateFile the image may bring an id no rule names. */
    if (mode == DEVICE_ABSENT)
        mode = DEVICE_APPLICATION;
    if (!dev && device_table_ensure(t, port, &dev) < 0) {
        log_warning("Cannot track USB device on port %s.", port);
        return;
    }

    bool mode_changed = dev->mode != mode || !streq_ptr(dev->syspath, udev_device_get_syspath(u));
    if (mode_changed)
        device_clear_udev(dev);
    dev->mode = mode;
    dev->vid = vid;
    dev->pid = pid;
    dev->bcd_device = hex_attr(u, "bcdDevice");
    dev->busnum = dec_attr(u, "busnum");
    dev->devnum = dec_attr(u, "devnum");
    if (strdup_attr(u, "product", &dev->product) < 0 || strdup_attr(u, "serial", &dev->serial) < 0)
        log_oom();
    free(dev->syspath);
    dev->syspath = strdup(udev_device_get_syspath(u));
    log_debug("%s: %s %04x:%04x (bcdDevice %04x)", port, device_mode_to_string(mode), vid, pid,
              dev->bcd_device);
    daemon_on_device_changed(t->daemon, dev, mode_changed);
}

static void handle_usb_removed(DeviceTable *t, struct udev_device *u) {
    Device *dev = device_table_find(t, udev_device_get_sysname(u));
    if (!dev || dev->mode == DEVICE_ABSENT)
        return;
    /* A remove of an older incarnation that arrives late must not hide the new one. */
    if (dev->syspath && !streq(dev->syspath, udev_device_get_syspath(u)))
        return;
    log_debug("%s: removed", dev->port);
    device_clear_udev(dev);
    daemon_on_device_changed(t->daemon, dev, true);
}

static void handle_hidraw(DeviceTable *t, struct udev_device *u, bool present) {
    const char *syspath = udev_device_get_syspath(u);
    if (!present) {
        for (Device *dev = t->devices; dev; dev = dev->next)
            if (streq_ptr(dev->hidraw_syspath, syspath)) {
                dev->hidraw_node = mfree(dev->hidraw_node);
                dev->hidraw_syspath = mfree(dev->hidraw_syspath);
                daemon_on_device_changed(t->daemon, dev, false);
            }
        return;
    }
    struct udev_device *usb = udev_device_get_parent_with_subsystem_devtype(u, "usb", "usb_device");
    if (!usb || !udev_device_get_devnode(u))
        return;
    Device *dev = device_table_find(t, udev_device_get_sysname(usb));
    if (!dev)
        return;
    free(dev->hidraw_node);
    free(dev->hidraw_syspath);
    dev->hidraw_node = strdup(udev_device_get_devnode(u));
    dev->hidraw_syspath = strdup(syspath);
    daemon_on_device_changed(t->daemon, dev, false);
}

static void handle_udev_device(DeviceTable *t, struct udev_device *u, const char *action) {
    const char *subsystem = udev_device_get_subsystem(u);
    bool present = !action || !streq(action, "remove");

    if (action && (streq(action, "unbind") || streq(action, "offline")))
        return;
    if (streq_ptr(subsystem, "hidraw"))
        handle_hidraw(t, u, present);
    else if (streq_ptr(subsystem, "usb") && streq_ptr(udev_device_get_devtype(u), "usb_device")) {
        if (!port_path_is_valid(udev_device_get_sysname(u)))
            return;  /* root hubs ("usb1") have no port */
        if (present)
            handle_usb_present(t, u);
        else
            handle_usb_removed(t, u);
    }
}

static int on_udev_event(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
    DeviceTable *t = userdata;
    struct udev_device *u;
    (void) s, (void) fd, (void) revents;

    /* Drain everything that is there: one wake-up per burst. */
    while ((u = udev_monitor_receive_device(t->monitor))) {
        handle_udev_device(t, u, udev_device_get_action(u));
        udev_device_unref(u);
    }
    return 0;
}

static int enumerate_subsystem(DeviceTable *t, const char *subsystem) {
    struct udev_enumerate *e = udev_enumerate_new(t->udev);
    struct udev_list_entry *entry;
    if (!e)
        return -ENOMEM;
    int r = udev_enumerate_add_match_subsystem(e, subsystem);
    if (r >= 0)
        r = udev_enumerate_scan_devices(e);
    if (r < 0) {
        udev_enumerate_unref(e);
        return r;
    }
    udev_list_entry_foreach(entry, udev_enumerate_get_list_entry(e)) {
        struct udev_device *u = udev_device_new_from_syspath(t->udev, udev_list_entry_get_name(entry));
        if (!u)
            continue;
        handle_udev_device(t, u, NULL);
        udev_device_unref(u);
    }
    udev_enumerate_unref(e);
    return 0;
}

int device_table_rescan(DeviceTable *t) {
    /* USB devices first, so that hidraw nodes find their device record. */
    int r = enumerate_subsystem(t, "usb");
    if (r >= 0)
        r = enumerate_subsystem(t, "hidraw");
    if (r < 0)
        return log_error_errno(r, "Failed to enumerate devices: %m");
    return 0;
}

int device_table_start(DeviceTable *t) {
    int r;

    t->monitor = udev_monitor_new_from_netlink(t->udev, "udev");
    if (!t->monitor)
        return log_error_errno(ENOMEM, "Failed to create udev monitor: %m");
    if ((r = udev_monitor_filter_add_match_subsystem_devtype(t->monitor, "usb", "usb_device")) < 0 ||
        (r = udev_monitor_filter_add_match_subsystem_devtype(t->monitor, "hidraw", NULL)) < 0 ||
        (r = udev_monitor_enable_receiving(t->monitor)) < 0)
        return log_error_errno(r, "Failed to set up udev monitor: %m");

    r = sd_event_add_io(t->daemon->event, &t->monitor_source, udev_monitor_get_fd(t->monitor),
                        EPOLLIN, on_udev_event, t);
    if (r < 0)
        return log_error_errno(r, "Failed to watch udev monitor: %m");
    (void) sd_event_source_set_description(t->monitor_source, "udev-monitor");

    /* Monitor first, then enumerate: a device that appears in between is seen twice, never
     * missed; both paths are idempotent. */
    return device_table_rescan(t);
}
