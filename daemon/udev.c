/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "udev.h"

#include <errno.h>
#include <libudev.h>
#include <string.h>

#include "device.h"
#include "policy.h"
#include "rules.h"
#include "usb/usb.h"
#include "util/log.h"
#include "util/parse-util.h"

struct DeviceMonitor {
    Daemon *daemon;
    struct udev *udev;
    struct udev_monitor *monitor;
    sd_event_source *monitor_source;
};

int device_monitor_new(DeviceMonitor **ret, Daemon *d) {
    DeviceMonitor *m = calloc(1, sizeof *m);
    if (!m)
        return -ENOMEM;
    m->daemon = d;
    m->udev = udev_new();
    if (!m->udev) {
        free(m);
        return -ENOMEM;
    }
    *ret = m;
    return 0;
}

DeviceMonitor *device_monitor_free(DeviceMonitor *m) {
    if (!m)
        return NULL;
    sd_event_source_disable_unref(m->monitor_source);
    udev_monitor_unref(m->monitor);
    udev_unref(m->udev);
    return mfree(m);
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

static void handle_usb_present(DeviceMonitor *m, struct udev_device *u) {
    Daemon *d = m->daemon;
    const char *port = udev_device_get_sysname(u);
    DeviceFacts f = {
        .port = port,
        .mode = rules_classify(d->manifest, hex_attr(u, "idVendor"), hex_attr(u, "idProduct"),
                               port),
        .vid = hex_attr(u, "idVendor"),
        .pid = hex_attr(u, "idProduct"),
        .bcd_device = hex_attr(u, "bcdDevice"),
        .busnum = dec_attr(u, "busnum"),
        .devnum = dec_attr(u, "devnum"),
        .product = udev_device_get_sysattr_value(u, "product"),
        .serial = udev_device_get_sysattr_value(u, "serial"),
        .syspath = udev_device_get_syspath(u),
    };
    Device *dev = device_table_find(d->devices, port);

    if (!dev && f.mode == DEVICE_ABSENT)
        return;   /* not ours */
    /* On a port we already watch, anything that is not the bootloader is the application:
     * after an UpdateFile the image may bring an id no rule names. */
    if (f.mode == DEVICE_ABSENT)
        f.mode = DEVICE_APPLICATION;
    if (!dev && device_table_ensure(d->devices, port, &dev) < 0) {
        log_warning("Cannot track USB device on port %s.", port);
        return;
    }
    int r = device_set_facts(dev, &f);
    if (r < 0)
        return;
    log_debug("%s: %s %04x:%04x (bcdDevice %04x)", port, device_mode_to_string(f.mode), f.vid,
              f.pid, f.bcd_device);
    policy_device_changed(d, dev, r > 0);
}

static void handle_usb_removed(DeviceMonitor *m, struct udev_device *u) {
    Daemon *d = m->daemon;
    Device *dev = device_table_find(d->devices, udev_device_get_sysname(u));
    if (!dev || device_mode(dev) == DEVICE_ABSENT)
        return;
    /* A remove of an older incarnation that arrives late must not hide the new one. */
    const char *syspath = device_facts(dev)->syspath;
    if (syspath && !streq(syspath, udev_device_get_syspath(u)))
        return;
    log_debug("%s: removed", device_port(dev));
    device_clear_facts(dev);
    policy_device_changed(d, dev, true);
}

static void handle_hidraw(DeviceMonitor *m, struct udev_device *u, bool present) {
    Daemon *d = m->daemon;
    const char *syspath = udev_device_get_syspath(u);
    if (!present) {
        for (Device *dev = device_table_first(d->devices); dev; dev = device_next(dev))
            if (streq_ptr(device_hidraw_syspath(dev), syspath)) {
                device_set_hidraw(dev, NULL, NULL);
                policy_device_changed(d, dev, false);
            }
        return;
    }
    struct udev_device *usb = udev_device_get_parent_with_subsystem_devtype(u, "usb", "usb_device");
    if (!usb || !udev_device_get_devnode(u))
        return;
    Device *dev = device_table_find(d->devices, udev_device_get_sysname(usb));
    if (!dev)
        return;
    device_set_hidraw(dev, udev_device_get_devnode(u), syspath);
    policy_device_changed(d, dev, false);
}

static void handle_udev_device(DeviceMonitor *m, struct udev_device *u, const char *action) {
    const char *subsystem = udev_device_get_subsystem(u);
    bool present = !action || !streq(action, "remove");

    if (action && (streq(action, "unbind") || streq(action, "offline")))
        return;
    if (streq_ptr(subsystem, "hidraw"))
        handle_hidraw(m, u, present);
    else if (streq_ptr(subsystem, "usb") && streq_ptr(udev_device_get_devtype(u), "usb_device")) {
        if (!stdfu_usb_port_is_valid(udev_device_get_sysname(u)))
            return;  /* root hubs ("usb1") have no port */
        if (present)
            handle_usb_present(m, u);
        else
            handle_usb_removed(m, u);
    }
}

static int on_udev_event(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
    DeviceMonitor *m = userdata;
    struct udev_device *u;
    (void) s, (void) fd, (void) revents;

    /* Drain everything that is there: one wake-up per burst. */
    while ((u = udev_monitor_receive_device(m->monitor))) {
        handle_udev_device(m, u, udev_device_get_action(u));
        udev_device_unref(u);
    }
    return 0;
}

static int enumerate_subsystem(DeviceMonitor *m, const char *subsystem) {
    struct udev_enumerate *e = udev_enumerate_new(m->udev);
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
        struct udev_device *u = udev_device_new_from_syspath(m->udev,
                                                             udev_list_entry_get_name(entry));
        if (!u)
            continue;
        handle_udev_device(m, u, NULL);
        udev_device_unref(u);
    }
    udev_enumerate_unref(e);
    return 0;
}

int device_monitor_rescan(DeviceMonitor *m) {
    /* USB devices first, so that hidraw nodes find their device record. */
    int r = enumerate_subsystem(m, "usb");
    if (r >= 0)
        r = enumerate_subsystem(m, "hidraw");
    if (r < 0)
        return log_error_errno(r, "Failed to enumerate devices: %m");
    return 0;
}

int device_monitor_start(DeviceMonitor *m) {
    int r;

    m->monitor = udev_monitor_new_from_netlink(m->udev, "udev");
    if (!m->monitor)
        return log_error_errno(ENOMEM, "Failed to create udev monitor: %m");
    if ((r = udev_monitor_filter_add_match_subsystem_devtype(m->monitor, "usb", "usb_device")) < 0 ||
        (r = udev_monitor_filter_add_match_subsystem_devtype(m->monitor, "hidraw", NULL)) < 0 ||
        (r = udev_monitor_enable_receiving(m->monitor)) < 0)
        return log_error_errno(r, "Failed to set up udev monitor: %m");

    r = sd_event_add_io(m->daemon->event, &m->monitor_source, udev_monitor_get_fd(m->monitor),
                        EPOLLIN, on_udev_event, m);
    if (r < 0)
        return log_error_errno(r, "Failed to watch udev monitor: %m");
    (void) sd_event_source_set_description(m->monitor_source, "udev-monitor");

    /* Monitor first, then enumerate: a device that appears in between is seen twice, never
     * missed; both paths are idempotent. */
    return device_monitor_rescan(m);
}
