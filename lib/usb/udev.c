/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Device lookup through libudev: what is on which port, in which mode. */
#include <errno.h>
#include <libudev.h>
#include <stdlib.h>
#include <string.h>

#include "usb/usb-internal.h"
#include "util/parse-util.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct udev *, udev_unref)
DEFINE_TRIVIAL_CLEANUP_FUNC(struct udev_device *, udev_device_unref)
DEFINE_TRIVIAL_CLEANUP_FUNC(struct udev_enumerate *, udev_enumerate_unref)

static void copy_attr(struct udev_device *dev, const char *name, char *buf, size_t size) {
    const char *v = udev_device_get_sysattr_value(dev, name);
    size_t n;

    buf[0] = '\0';
    if (!v)
        return;
    n = strnlen(v, size - 1);
    memcpy(buf, v, n);
    buf[n] = '\0';
    /* sysfs values may end in a newline */
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
        buf[--n] = '\0';
}

static int attr_hex16(struct udev_device *dev, const char *name, uint16_t *ret) {
    char buf[16];
    copy_attr(dev, name, buf, sizeof buf);
    return parse_u16_hex(buf, ret);
}

static int attr_unsigned(struct udev_device *dev, const char *name, unsigned *ret) {
    char buf[16];
    uint32_t v;
    int r;

    copy_attr(dev, name, buf, sizeof buf);
    r = parse_u32(buf, &v);
    if (r < 0)
        return r;
    *ret = v;
    return 0;
}

static void note_interface(stdfu_usb_info *info, uint8_t number, uint8_t cls, uint8_t sub,
                           uint8_t proto) {
    if (cls == 0xfe && sub == 0x01 && proto == 0x02 && info->dfu_interface < 0)
        info->dfu_interface = number;
    if (cls == 0xfe && sub == 0x01 && proto == 0x01 && !info->has_dfu_runtime) {
        info->has_dfu_runtime = true;
        info->dfu_runtime_interface = number;
    }
    if (cls == 0x03)
        info->has_hid = true;
}

/* The "descriptors" attribute: device descriptor, then the configuration descriptors. Returns
 * -ENOENT when absent so the caller falls back to the interface children. */
static int interfaces_from_descriptors(struct udev_device *dev, stdfu_usb_info *info) {
    const char *path = udev_device_get_syspath(dev);
    _cleanup_free_ char *fn = NULL;
    _cleanup_fclose_ FILE *f = NULL;
    uint8_t buf[4096];
    size_t len, i;

    if (asprintf(&fn, "%s/descriptors", path) < 0)
        return -ENOMEM;
    f = fopen(fn, "re");
    if (!f)
        return -ENOENT;
    len = fread(buf, 1, sizeof buf, f);
    if (len < 18 || buf[1] != 0x01)
        return -ENOENT;
    for (i = buf[0]; i + 2 <= len;) {
        uint8_t l = buf[i], type = buf[i + 1];
        if (l < 2 || i + l > len)
            break;
        if (type == 0x04 && l >= 9)
            note_interface(info, buf[i + 2], buf[i + 5], buf[i + 6], buf[i + 7]);
        i += l;
    }
    return 0;
}

static void interfaces_from_children(struct udev *udev, struct udev_device *dev,
                                     stdfu_usb_info *info) {
    _cleanup_(udev_enumerate_unrefp) struct udev_enumerate *e = udev_enumerate_new(udev);
    struct udev_list_entry *entry;

    if (!e || udev_enumerate_add_match_parent(e, dev) < 0 ||
        udev_enumerate_add_match_subsystem(e, "usb") < 0 || udev_enumerate_scan_devices(e) < 0)
        return;
    udev_list_entry_foreach(entry, udev_enumerate_get_list_entry(e)) {
        _cleanup_(udev_device_unrefp) struct udev_device *intf =
            udev_device_new_from_syspath(udev, udev_list_entry_get_name(entry));
        uint16_t number, cls, sub, proto;

        if (!intf || !streq_ptr(udev_device_get_devtype(intf), "usb_interface"))
            continue;
        if (attr_hex16(intf, "bInterfaceNumber", &number) < 0 ||
            attr_hex16(intf, "bInterfaceClass", &cls) < 0 ||
            attr_hex16(intf, "bInterfaceSubClass", &sub) < 0 ||
            attr_hex16(intf, "bInterfaceProtocol", &proto) < 0)
            continue;
        note_interface(info, (uint8_t) number, (uint8_t) cls, (uint8_t) sub, (uint8_t) proto);
    }
}

/* The hidraw node below this usb_device (the first one, in syspath order). */
static void find_hidraw(struct udev *udev, struct udev_device *dev, stdfu_usb_info *info) {
    _cleanup_(udev_enumerate_unrefp) struct udev_enumerate *e = udev_enumerate_new(udev);
    struct udev_list_entry *entry;

    if (!e || udev_enumerate_add_match_parent(e, dev) < 0 ||
        udev_enumerate_add_match_subsystem(e, "hidraw") < 0 || udev_enumerate_scan_devices(e) < 0)
        return;
    udev_list_entry_foreach(entry, udev_enumerate_get_list_entry(e)) {
        _cleanup_(udev_device_unrefp) struct udev_device *h =
            udev_device_new_from_syspath(udev, udev_list_entry_get_name(entry));
        const char *node = h ? udev_device_get_devnode(h) : NULL;

        if (node && strlen(node) < sizeof info->hidraw) {
            strcpy(info->hidraw, node);
            return;
        }
    }
}

int stdfu_usb_info_from_udev(struct udev_device *dev, const stdfu_usb_ids *ids,
                             stdfu_usb_info *ret) {
    stdfu_usb_info info = { .dfu_interface = -1, .dfu_runtime_interface = -1 };
    const char *sysname, *devnode;
    uint16_t cls = 0;

    if (!streq_ptr(udev_device_get_subsystem(dev), "usb") ||
        !streq_ptr(udev_device_get_devtype(dev), "usb_device"))
        return -ENODEV;
    sysname = udev_device_get_sysname(dev);
    if (!stdfu_usb_port_is_valid(sysname)) /* root hubs ("usb1") are no port */
        return -ENODEV;
    strcpy(info.port, sysname);
    snprintf(info.syspath, sizeof info.syspath, "%s", udev_device_get_syspath(dev));
    devnode = udev_device_get_devnode(dev);
    if (devnode)
        snprintf(info.devnode, sizeof info.devnode, "%s", devnode);

    if (attr_unsigned(dev, "busnum", &info.busnum) < 0 ||
        attr_unsigned(dev, "devnum", &info.devnum) < 0 ||
        attr_hex16(dev, "idVendor", &info.vid) < 0 || attr_hex16(dev, "idProduct", &info.pid) < 0)
        return -ENODEV; /* half gone, or not yet complete */
    (void) attr_hex16(dev, "bcdDevice", &info.bcd_device);
    (void) attr_hex16(dev, "bDeviceClass", &cls);
    info.device_class = (uint8_t) cls;
    copy_attr(dev, "manufacturer", info.manufacturer, sizeof info.manufacturer);
    copy_attr(dev, "product", info.product, sizeof info.product);
    copy_attr(dev, "serial", info.serial, sizeof info.serial);

    struct udev *udev = udev_device_get_udev(dev);
    if (interfaces_from_descriptors(dev, &info) < 0)
        interfaces_from_children(udev, dev, &info);
    if (info.has_hid)
        find_hidraw(udev, dev, &info);

    info.mode = stdfu_usb_ids_classify(ids, &info);
    *ret = info;
    return 0;
}

int stdfu_usb_lookup_port(struct udev *udev, const stdfu_usb_ids *ids, const char *port,
                          stdfu_usb_info *ret) {
    _cleanup_(udev_unrefp) struct udev *own = NULL;
    _cleanup_(udev_device_unrefp) struct udev_device *dev = NULL;

    if (!stdfu_usb_port_is_valid(port))
        return -EINVAL;
    if (!udev) {
        udev = own = udev_new();
        if (!udev)
            return -ENOMEM;
    }
    dev = udev_device_new_from_subsystem_sysname(udev, "usb", port);
    if (!dev)
        return -ENODEV;
    return stdfu_usb_info_from_udev(dev, ids, ret);
}

int stdfu_usb_enumerate(struct udev *udev, const stdfu_usb_ids *ids, stdfu_usb_info **ret,
                        size_t *ret_n, stdfu_error *err) {
    _cleanup_(udev_unrefp) struct udev *own = NULL;
    _cleanup_(udev_enumerate_unrefp) struct udev_enumerate *e = NULL;
    _cleanup_free_ stdfu_usb_info *list = NULL;
    struct udev_list_entry *entry;
    size_t n = 0, allocated = 0;

    if (!udev) {
        udev = own = udev_new();
        if (!udev)
            return stdfu_error_set(err, -ENOMEM, "cannot create a udev context");
    }
    e = udev_enumerate_new(udev);
    if (!e || udev_enumerate_add_match_subsystem(e, "usb") < 0 ||
        udev_enumerate_add_match_property(e, "DEVTYPE", "usb_device") < 0 ||
        udev_enumerate_scan_devices(e) < 0)
        return stdfu_error_set(err, -EIO, "cannot enumerate USB devices through udev");

    udev_list_entry_foreach(entry, udev_enumerate_get_list_entry(e)) {
        _cleanup_(udev_device_unrefp) struct udev_device *dev =
            udev_device_new_from_syspath(udev, udev_list_entry_get_name(entry));
        stdfu_usb_info info;

        if (!dev || stdfu_usb_info_from_udev(dev, ids, &info) < 0 ||
            info.mode == STDFU_USB_ABSENT)
            continue;
        if (n == allocated) {
            size_t k = allocated ? allocated * 2 : 8;
            stdfu_usb_info *p = realloc(list, k * sizeof *list);
            if (!p)
                return stdfu_error_set(err, -ENOMEM, "out of memory");
            list = p;
            allocated = k;
        }
        list[n++] = info;
    }
    if (n > 1)
        qsort(list, n, sizeof *list, stdfu_usb_info_compare);
    *ret = TAKE_PTR(list);
    *ret_n = n;
    return 0;
}

int stdfu_usb_find(struct udev *udev, const stdfu_usb_ids *ids, const stdfu_usb_matcher *m,
                   stdfu_usb_info *ret, stdfu_error *err) {
    _cleanup_free_ stdfu_usb_info *list = NULL;
    size_t n;
    int r;

    r = stdfu_usb_enumerate(udev, ids, &list, &n, err);
    if (r < 0)
        return r;
    return stdfu_usb_select(list, n, m, ret, err);
}
