/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* umockdev device records (the umockdev-record format): what the kernel and udev put in sysfs
 * and in the uevent for a USB device, its interfaces and, for a HID application, the hid bus
 * device and its hidraw class device. Attribute formats follow drivers/usb/core/sysfs.c and
 * endpoint/interface code of Linux 6.1, properties what udev's usb_id and path_id add. */
#include <errno.h>
#include <string.h>

#include "umock/internal.h"
#include "util/log.h"
#include "util/macro.h"

static uint16_t le16(const uint8_t *p) {
    return (uint16_t) (p[0] | p[1] << 8);
}

int records_parse_config(usb_node *n) {
    const uint8_t *cfg = n->descriptors + 18;
    size_t len = n->descriptors_len - 18;

    n->n_interfaces = 0;
    if (len < 9 || cfg[1] != 0x02 || le16(cfg + 2) > len)
        return -EBADMSG;
    len = le16(cfg + 2);
    for (size_t off = 0; off + 2 <= len && cfg[off] >= 2; off += cfg[off]) {
        const uint8_t *d = cfg + off;
        if (off + d[0] > len)
            return -EBADMSG;
        if (d[1] != 0x04 || d[0] < 9)
            continue;
        if (d[3] != 0)
            continue;
        if (n->n_interfaces >= SIM_MAX_INTERFACES)
            return -E2BIG;
        node_interface *i = &n->interfaces[n->n_interfaces++];
        *i = (node_interface) {
            .number = d[2], .n_endpoints = d[4], .cls = d[5], .subclass = d[6],
            .protocol = d[7], .string_index = d[8],
        };
    }
    return 0;
}

/* udev's ID_VENDOR/ID_MODEL: whitespace runs become one '_', unsafe characters go. */
static void append_udev_safe(GString *s, const char *text) {
    size_t start = s->len;
    bool space = false;

    for (const char *p = text ? text : ""; *p; p++) {
        if (*p == ' ' || *p == '\t') {
            space = true;
            continue;
        }
        if (space && s->len > start)
            g_string_append_c(s, '_');
        space = false;
        g_string_append_c(s, g_ascii_isalnum(*p) || strchr("#+-.:=@_", *p) ? *p : '_');
    }
}

static void append_hex(GString *s, const uint8_t *data, size_t len) {
    for (size_t i = 0; i < len; i++)
        g_string_append_printf(s, "%02X", data[i]);
}

/* "1-1.2" -> "1.2" (devpath and the port part of ID_PATH); the root hub has devpath 0. */
static const char *node_devpath(const usb_node *n) {
    return n->kind == NODE_ROOT_HUB ? "0" : strchr(n->name, '-') + 1;
}

static void append_device_properties(GString *s, const usb_node *n) {
    const uint8_t *dd = n->descriptors;
    uint16_t vid = le16(dd + 8), pid = le16(dd + 10), bcd = le16(dd + 12);

    g_string_append_printf(s,
        "E: DEVNAME=%s\nE: DEVTYPE=usb_device\nE: DRIVER=usb\nE: PRODUCT=%x/%x/%x\n"
        "E: TYPE=%u/%u/%u\nE: BUSNUM=%03u\nE: DEVNUM=%03u\nE: MAJOR=%u\nE: MINOR=%u\n"
        "E: SUBSYSTEM=usb\n",
        n->devnode, vid, pid, bcd, dd[4], dd[5], dd[6], SIM_BUSNUM, n->devnum, SIM_USB_MAJOR,
        (SIM_BUSNUM - 1) * 128 + n->devnum - 1);

    g_string_append(s, "E: ID_VENDOR=");
    append_udev_safe(s, n->manufacturer);
    g_string_append(s, "\nE: ID_MODEL=");
    append_udev_safe(s, n->product);
    g_string_append(s, "\nE: ID_SERIAL=");
    append_udev_safe(s, n->manufacturer);
    g_string_append_c(s, '_');
    append_udev_safe(s, n->product);
    if (n->serial) {
        g_string_append_c(s, '_');
        append_udev_safe(s, n->serial);
        g_string_append(s, "\nE: ID_SERIAL_SHORT=");
        append_udev_safe(s, n->serial);
    }
    g_string_append_printf(s, "\nE: ID_VENDOR_ID=%04x\nE: ID_MODEL_ID=%04x\nE: ID_REVISION=%04x\n"
                           "E: ID_BUS=usb\nE: ID_USB_INTERFACES=:", vid, pid, bcd);
    for (unsigned i = 0; i < n->n_interfaces; i++)
        g_string_append_printf(s, "%02x%02x%02x:", n->interfaces[i].cls,
                               n->interfaces[i].subclass, n->interfaces[i].protocol);
    g_autofree char *tag = g_strdup_printf("pci-%s-usb-0:%s", SIM_PCI_SLOT, node_devpath(n));
    g_string_append_printf(s, "\nE: ID_PATH=%s\nE: ID_PATH_TAG=", tag);
    for (const char *p = tag; *p; p++)
        g_string_append_c(s, g_ascii_isalnum(*p) || *p == '-' ? *p : '_');
    g_string_append_c(s, '\n');
}

static void append_device_attributes(GString *s, const usb_node *n) {
    const uint8_t *dd = n->descriptors, *cd = n->descriptors + 18;
    unsigned maxchild = n->kind == NODE_ROOT_HUB ? SIM_BUS_ROOT_PORTS
                        : n->kind == NODE_HUB    ? SIM_HUB_PORTS
                                                 : 0;

    g_string_append_printf(s,
        "A: authorized=1\\n\nA: avoid_reset_quirk=0\\n\nA: bConfigurationValue=%u\\n\n"
        "A: bDeviceClass=%02x\\n\nA: bDeviceProtocol=%02x\\n\nA: bDeviceSubClass=%02x\\n\n"
        "A: bMaxPacketSize0=%u\\n\nA: bMaxPower=%umA\\n\nA: bNumConfigurations=%u\\n\n"
        "A: bNumInterfaces=%2u\\n\nA: bcdDevice=%04x\\n\nA: bmAttributes=%02x\\n\n"
        "A: busnum=%u\\n\nA: dev=%u:%u\\n\nA: devnum=%u\\n\nA: devpath=%s\\n\n"
        "A: idProduct=%04x\\n\nA: idVendor=%04x\\n\nA: ltm_capable=no\\n\nA: maxchild=%u\\n\n"
        "A: quirks=0x0\\n\nA: removable=%s\\n\nA: rx_lanes=1\\n\nA: speed=%u\\n\n"
        "A: tx_lanes=1\\n\nA: version=%2x.%02x\\n\n",
        cd[5], dd[4], dd[6], dd[5], dd[7], cd[8] * 2u, dd[17], cd[4], le16(dd + 12), cd[7],
        SIM_BUSNUM, SIM_USB_MAJOR, (SIM_BUSNUM - 1) * 128 + n->devnum - 1, n->devnum,
        node_devpath(n), le16(dd + 10), le16(dd + 8), maxchild,
        n->kind == NODE_ROOT_HUB ? "unknown" : "removable", n->speed_mbps, dd[3], dd[2]);
    g_string_append(s, "A: configuration=\\n\n");
    if (n->manufacturer)
        g_string_append_printf(s, "A: manufacturer=%s\\n\n", n->manufacturer);
    if (n->product)
        g_string_append_printf(s, "A: product=%s\\n\n", n->product);
    if (n->serial)
        g_string_append_printf(s, "A: serial=%s\\n\n", n->serial);
    if (n->kind == NODE_ROOT_HUB)
        g_string_append(s, "A: authorized_default=1\\n\nA: interface_authorized_default=1\\n\n");
    g_string_append(s, "L: driver=../../../../../bus/usb/drivers/usb\n");
    g_string_append(s, "H: descriptors=");
    append_hex(s, n->descriptors, n->descriptors_len);
    g_string_append(s, "\n\n");
}

static void append_interface(GString *s, const usb_node *n, const node_interface *i) {
    const uint8_t *dd = n->descriptors;
    g_autofree char *modalias = g_strdup_printf(
        "usb:v%04Xp%04Xd%04Xdc%02Xdsc%02Xdp%02Xic%02Xisc%02Xip%02Xin%02X", le16(dd + 8),
        le16(dd + 10), le16(dd + 12), dd[4], dd[5], dd[6], i->cls, i->subclass, i->protocol,
        i->number);

    g_string_append_printf(s,
        "P: %s\nE: DEVTYPE=usb_interface\n%s%s%sE: PRODUCT=%x/%x/%x\nE: TYPE=%u/%u/%u\n"
        "E: INTERFACE=%u/%u/%u\nE: MODALIAS=%s\nE: SUBSYSTEM=usb\n"
        "A: authorized=1\\n\nA: bAlternateSetting= 0\\n\nA: bInterfaceClass=%02x\\n\n"
        "A: bInterfaceNumber=%02x\\n\nA: bInterfaceProtocol=%02x\\n\n"
        "A: bInterfaceSubClass=%02x\\n\nA: bNumEndpoints=%02x\\n\nA: modalias=%s\\n\n"
        "A: supports_autosuspend=1\\n\n",
        i->syspath + strlen("/sys"), i->driver ? "E: DRIVER=" : "", i->driver ? i->driver : "",
        i->driver ? "\n" : "", le16(dd + 8), le16(dd + 10), le16(dd + 12), dd[4], dd[5], dd[6],
        i->cls, i->subclass, i->protocol, modalias, i->cls, i->number, i->protocol, i->subclass,
        i->n_endpoints, modalias);
    if (i->name)
        g_string_append_printf(s, "A: interface=%s\\n\n", i->name);
    /* sysfs's driver link; lsusb -t and others read its last component */
    if (i->driver)
        g_string_append_printf(s, "L: driver=../../../../../../bus/usb/drivers/%s\n", i->driver);
    g_string_append_c(s, '\n');
}

char *records_usb(const usb_node *n) {
    GString *s = g_string_new(NULL);

    g_string_append_printf(s, "P: %s\n", n->syspath + strlen("/sys"));
    append_device_properties(s, n);
    append_device_attributes(s, n);
    for (unsigned i = 0; i < n->n_interfaces; i++)
        append_interface(s, n, &n->interfaces[i]);
    return g_string_free(s, false);
}

char *records_hid(const usb_node *n) {
    const uint8_t *dd = n->descriptors;
    GString *s = g_string_new(NULL);
    uint16_t vid = le16(dd + 8), pid = le16(dd + 10);

    /* usbhid names the device "<manufacturer> <product>" and its phys "usb-<bus>-<devpath>/
     * input<interface>" (drivers/hid/usbhid/hid-core.c). */
    g_string_append_printf(s,
        "P: %s\nE: DRIVER=hid-generic\nE: HID_ID=0003:%08X:%08X\nE: HID_NAME=%s%s%s\n"
        "E: HID_PHYS=usb-%s-%s/input0\nE: HID_UNIQ=%s\nE: MODALIAS=hid:b0003g0001v%08Xp%08X\n"
        "E: SUBSYSTEM=hid\nA: country=00\\n\nH: report_descriptor=",
        n->hid_syspath + strlen("/sys"), vid, pid, n->manufacturer ? n->manufacturer : "",
        n->manufacturer && n->product ? " " : "", n->product ? n->product : "", SIM_PCI_SLOT,
        node_devpath(n), n->serial ? n->serial : "", vid, pid);
    append_hex(s, n->report_descriptor, n->report_descriptor_len);
    g_string_append_printf(s,
        "\n\nP: %s\nE: DEVNAME=%s\nE: MAJOR=%u\nE: MINOR=%u\nE: SUBSYSTEM=hidraw\n"
        "A: dev=%u:%u\\n\n\n",
        n->hidraw_syspath + strlen("/sys"), n->hidraw_devnode, SIM_HIDRAW_MAJOR, n->hidraw_minor,
        SIM_HIDRAW_MAJOR, n->hidraw_minor);
    return g_string_free(s, false);
}

char *records_pci_controller(void) {
    return g_strdup("P: " SIM_PCI_PATH "\nE: DRIVER=xhci_hcd\nE: PCI_CLASS=C0330\n"
                    "E: PCI_ID=8086:A36D\nE: PCI_SLOT_NAME=" SIM_PCI_SLOT "\n"
                    "E: SUBSYSTEM=pci\nA: class=0x0c0330\\n\nA: vendor=0x8086\\n\n"
                    "A: device=0xa36d\\n\nL: driver=../../../bus/pci/drivers/xhci_hcd\n\n");
}
