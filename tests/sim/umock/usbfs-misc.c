/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The usbfs ioctls other than URBs: capabilities, interface claims and kernel drivers, alt
 * settings, reset, speed and connection info, with the errors of drivers/usb/core/devio.c. */
#include <errno.h>
#include <linux/usbdevice_fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "umock/internal.h"
#include "util/log.h"
#include "util/macro.h"

#define USB_SPEED_FULL 2
#define USB_SPEED_HIGH 3

static node_interface *find_interface(usb_node *n, unsigned number) {
    for (unsigned i = 0; i < n->n_interfaces; i++)
        if (n->interfaces[i].number == number)
            return &n->interfaces[i];
    return NULL;
}

/* Resolves the ioctl argument as a struct of `size` bytes. */
static UMockdevIoctlData *arg_struct(UMockdevIoctlData *arg, size_t size) {
    return umockdev_ioctl_data_resolve(arg, 0, size, NULL);
}

static int claim(usb_node *n, UMockdevIoctlClient *c, unsigned number) {
    node_interface *i = find_interface(n, number);

    if (number >= 32)
        return EINVAL;
    if (!i)
        return ENOENT;
    UMockdevIoctlClient *owner = interface_owner(i);
    if (owner == c)
        return 0;
    if (owner || i->driver)
        return EBUSY;
    interface_set_owner(i, c);
    return 0;
}

static bool config_has_alt(const usb_node *n, unsigned number, unsigned alt) {
    const uint8_t *cfg = n->descriptors + 18;
    size_t len = n->descriptors_len - 18;

    for (size_t off = 0; off + 9 <= len && cfg[off] >= 2; off += cfg[off])
        if (cfg[off + 1] == 0x04 && cfg[off + 2] == number && cfg[off + 3] == alt)
            return true;
    return false;
}

/* A standard request the kernel sends on the client's behalf (SET_INTERFACE, ...). */
static int std_request(usb_node *n, uint8_t type, uint8_t request, uint16_t value,
                       uint16_t index) {
    sim_setup s = { type, request, value, index, 0 };
    sim_usec now = now_usec(), at;
    uint8_t none[8];
    int r;

    if (n->kind == NODE_ROOT_HUB)
        r = roothub_control(n->bus, &s, none);
    else if (n->kind == NODE_HUB)
        r = sim_hub_control(n->hub, &s, none, now, &at);
    else {
        r = sim_device_control(n->slot->dev, &s, none, now, &at);
        slot_poll_transition(n->slot);
    }
    trace("%s: kernel request %02x %02x %04x %04x -> %d", n->name, type, request, value, index,
          r);
    return r < 0 ? (r == -ENODEV ? ETIMEDOUT : -r) : 0;
}

static int set_interface(usb_node *n, UMockdevIoctlClient *c, UMockdevIoctlData *arg) {
    g_autoptr(UMockdevIoctlData) d = arg_struct(arg, sizeof(struct usbdevfs_setinterface));
    if (!d)
        return EFAULT;
    struct usbdevfs_setinterface *si = (void *) d->data;
    /* devio.c claims an unclaimed interface on first use */
    int r = claim(n, c, si->interface);
    if (r != 0)
        return r;
    if (!config_has_alt(n, si->interface, si->altsetting))
        return EINVAL;
    return std_request(n, 0x01, 0x0b, (uint16_t) si->altsetting, (uint16_t) si->interface);
}

static int set_configuration(usb_node *n, UMockdevIoctlClient *c, UMockdevIoctlData *arg) {
    g_autoptr(UMockdevIoctlData) d = arg_struct(arg, sizeof(int));
    if (!d)
        return EFAULT;
    int value = *(int *) d->data;
    for (unsigned i = 0; i < n->n_interfaces; i++)
        if (interface_owner(&n->interfaces[i]) && n->interfaces[i].owner != c)
            return EBUSY;
    if (value < 0)
        return 0; /* unconfigure: nothing to tell the device */
    return std_request(n, 0x00, 0x09, (uint16_t) value, 0);
}

static int get_driver(usb_node *n, UMockdevIoctlData *arg) {
    g_autoptr(UMockdevIoctlData) d = arg_struct(arg, sizeof(struct usbdevfs_getdriver));
    if (!d)
        return EFAULT;
    struct usbdevfs_getdriver *gd = (void *) d->data;
    node_interface *i = find_interface(n, gd->interface);
    if (!i || !(i->driver || interface_owner(i)))
        return ENODATA;
    g_strlcpy(gd->driver, i->owner ? "usbfs" : i->driver, sizeof gd->driver);
    return 0;
}

/* Unbinding usbhid takes the hid and hidraw devices away, as on a real system. */
static int unbind(usb_node *n, node_interface *i) {
    if (!i->driver)
        return ENODATA;
    trace("%s: driver %s unbound from interface %u", n->name, i->driver, i->number);
    node_set_driver_bound(n, i, false);
    return 0;
}

static int usbfs_ioctl_ioctl(usb_node *n, UMockdevIoctlData *arg) {
    g_autoptr(UMockdevIoctlData) d = arg_struct(arg, sizeof(struct usbdevfs_ioctl));
    if (!d)
        return EFAULT;
    struct usbdevfs_ioctl *io = (void *) d->data;
    node_interface *i = io->ifno >= 0 ? find_interface(n, (unsigned) io->ifno) : NULL;
    if (!i)
        return EINVAL;
    switch (io->ioctl_code) {
    case USBDEVFS_DISCONNECT:
        return unbind(n, i);
    case USBDEVFS_CONNECT:
        if (interface_owner(i))
            return EBUSY;
        node_set_driver_bound(n, i, true);
        return 0;
    }
    return ENOTTY;
}

static int disconnect_claim(usb_node *n, UMockdevIoctlClient *c, UMockdevIoctlData *arg) {
    g_autoptr(UMockdevIoctlData) d = arg_struct(arg, sizeof(struct usbdevfs_disconnect_claim));
    if (!d)
        return EFAULT;
    struct usbdevfs_disconnect_claim *dc = (void *) d->data;
    node_interface *i = find_interface(n, dc->interface);
    if (!i)
        return ENOENT;
    if (i->driver) {
        bool same = strncmp(i->driver, dc->driver, sizeof dc->driver) == 0;
        if (((dc->flags & USBDEVFS_DISCONNECT_CLAIM_IF_DRIVER) && !same) ||
            ((dc->flags & USBDEVFS_DISCONNECT_CLAIM_EXCEPT_DRIVER) && same))
            return EBUSY;
        unbind(n, i);
    }
    return claim(n, c, dc->interface);
}

/* usb_reset_device(): the device is enumerated again in place, keeping its address and node,
 * when it comes back as what it was (same descriptors); only when it comes back as something
 * else is it disconnected and added anew. */
static int reset_device(usb_node *n) {
    sim_device *d = n->kind == NODE_DEVICE ? n->slot->dev : NULL;
    sim_mode before = d ? sim_device_mode(d) : SIM_MODE_OFF;
    sim_transition t;
    bool any = false;

    if (!d)
        return 0;
    if (before == SIM_MODE_OFF)
        return ENODEV;
    sim_device_usb_reset(d, now_usec());
    while (sim_device_take_transition(d, &t))
        any = true;
    if (any && t.mode == before) {
        trace("%s: USB reset, enumerated again in place", n->name);
        sim_device_connected(d, before, now_usec());
        slot_poll_transition(n->slot);
    } else if (any) {
        trace("%s: USB reset, comes back as something else", n->name);
        slot_start_transition(n->slot, &t);
    }
    return 0;
}

static unsigned node_ports(const usb_node *n, uint8_t *ports, unsigned max) {
    unsigned count = 0;

    if (n->kind == NODE_ROOT_HUB)
        return 0;
    for (const char *p = strchr(n->name, '-') + 1; *p; p++) {
        unsigned long v = strtoul(p, (char **) &p, 10);
        if (count < max)
            ports[count] = (uint8_t) v;
        count++;
        if (*p != '.')
            break;
    }
    return count;
}

static int conninfo_ex(usb_node *n, gulong req, UMockdevIoctlData *arg) {
    struct usbdevfs_conninfo_ex ci = {
        .size = sizeof ci,
        .busnum = SIM_BUSNUM,
        .devnum = n->devnum,
        .speed = n->speed_mbps == 480 ? USB_SPEED_HIGH : USB_SPEED_FULL,
    };
    size_t size = MIN((size_t) _IOC_SIZE(req), sizeof ci);

    ci.num_ports = (uint8_t) node_ports(n, ci.ports, sizeof ci.ports);
    g_autoptr(UMockdevIoctlData) d = arg_struct(arg, size);
    if (!d)
        return EFAULT;
    memcpy(d->data, &ci, size);
    return 0;
}

int usbfs_misc_ioctl(usb_node *n, UMockdevIoctlClient *c, gulong req, UMockdevIoctlData *arg,
                     long *res) {
    g_autoptr(UMockdevIoctlData) d = NULL;

    if (_IOC_TYPE(req) == 'U' && _IOC_NR(req) == _IOC_NR(USBDEVFS_CONNINFO_EX(0)))
        return conninfo_ex(n, req, arg);

    switch (req) {
    case USBDEVFS_GET_CAPABILITIES:
        d = arg_struct(arg, sizeof(uint32_t));
        if (!d)
            return EFAULT;
        *(uint32_t *) d->data = USBDEVFS_CAP_ZERO_PACKET | USBDEVFS_CAP_BULK_CONTINUATION |
                                USBDEVFS_CAP_NO_PACKET_SIZE_LIM |
                                USBDEVFS_CAP_REAP_AFTER_DISCONNECT | USBDEVFS_CAP_CONNINFO_EX;
        return 0;
    case USBDEVFS_CLAIMINTERFACE:
    case USBDEVFS_RELEASEINTERFACE: {
        d = arg_struct(arg, sizeof(unsigned));
        if (!d)
            return EFAULT;
        unsigned number = *(unsigned *) d->data;
        if (req == USBDEVFS_CLAIMINTERFACE)
            return claim(n, c, number);
        node_interface *i = find_interface(n, number);
        if (!i || interface_owner(i) != c)
            return EINVAL;
        interface_set_owner(i, NULL);
        return 0;
    }
    case USBDEVFS_SETINTERFACE:
        return set_interface(n, c, arg);
    case USBDEVFS_SETCONFIGURATION:
        return set_configuration(n, c, arg);
    case USBDEVFS_GETDRIVER:
        return get_driver(n, arg);
    case USBDEVFS_IOCTL:
        return usbfs_ioctl_ioctl(n, arg);
    case USBDEVFS_DISCONNECT_CLAIM:
        return disconnect_claim(n, c, arg);
    case USBDEVFS_RESET:
        return reset_device(n);
    case USBDEVFS_GET_SPEED:
        *res = n->speed_mbps == 480 ? USB_SPEED_HIGH : USB_SPEED_FULL;
        return 0;
    case USBDEVFS_CONNECTINFO: {
        d = arg_struct(arg, sizeof(struct usbdevfs_connectinfo));
        if (!d)
            return EFAULT;
        struct usbdevfs_connectinfo *ci = (void *) d->data;
        ci->devnum = n->devnum;
        ci->slow = 0;
        return 0;
    }
    case USBDEVFS_CLEAR_HALT:
    case USBDEVFS_RESETEP:
    case USBDEVFS_DROP_PRIVILEGES:
    case USBDEVFS_FORBID_SUSPEND:
    case USBDEVFS_ALLOW_SUSPEND:
        return 0;
    }
    trace("%s: usbfs ioctl 0x%lx is not emulated", n->name, req);
    return ENOTTY;
}
