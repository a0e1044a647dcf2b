/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* hidraw (/dev/hidrawN) of the HID application, answered on umockdev's worker thread, with the
 * results of drivers/hid/hidraw.c: HIDIOCGRDESCSIZE/GRDESC/GRAWINFO/GRAWNAME/GRAWPHYS/GRAWUNIQ,
 * HIDIOCSFEATURE/GFEATURE, write() as an output report, read() of input reports.
 *
 * Input reports live in the node's FIFO, so that poll() says POLLIN exactly when one is
 * queued. A read() with a report queued is answered here with exactly one report (hidraw
 * keeps report boundaries, a pipe would not); without one it falls through to the FIFO, where
 * it blocks or says EAGAIN as the client's fd asks. */
#include <errno.h>
#include <linux/hidraw.h>
#include <string.h>
#include <sys/ioctl.h>

#include "umock/internal.h"
#include "util/log.h"
#include "util/macro.h"

#define BUS_USB 0x03

void hidraw_flush_input(usb_node *n) {
    uint8_t report[SIM_HID_REPORT_SIZE * 2];

    if (!n->has_hidraw || n->hid_fifo.fd < 0)
        return;
    for (;;) {
        int r = sim_device_hid_read(n->slot->dev, report, sizeof report);
        if (r <= 0)
            break;
        if (sim_fifo_push(&n->hid_fifo, report, (size_t) r) < 0) {
            log_warning("%s: hidraw input queue full, input report dropped", n->name);
            continue;
        }
        g_queue_push_tail(&n->hid_report_sizes, GSIZE_TO_POINTER((gsize) r));
    }
}

/* A client that read() through to the FIFO took bytes behind our back: forget those reports. */
static void hidraw_resync(usb_node *n) {
    size_t queued = (size_t) sim_fifo_queued(&n->hid_fifo), total = 0;

    for (GList *l = n->hid_report_sizes.head; l; l = l->next)
        total += GPOINTER_TO_SIZE(l->data);
    while (total > queued && !g_queue_is_empty(&n->hid_report_sizes))
        total -= GPOINTER_TO_SIZE(g_queue_pop_head(&n->hid_report_sizes));
}

static bool hid_usable(const usb_node *n) {
    return n && n->live && n->has_hidraw && n->hid_fifo.fd >= 0;
}

/* HIDIOCGRAWNAME/PHYS/UNIQ: the string, cut to the buffer, NUL included in the count. */
static long copy_string(UMockdevIoctlData *d, size_t size, const char *s) {
    size_t len = MIN(strlen(s) + 1, size);
    memcpy(d->data, s, len);
    if (len > 0)
        d->data[len - 1] = '\0';
    return (long) len;
}

static int hidraw_ioctl(usb_node *n, gulong req, UMockdevIoctlData *arg, long *res) {
    size_t size = _IOC_SIZE(req);
    g_autoptr(UMockdevIoctlData) d = NULL;
    sim_device *dev = n->slot->dev;
    sim_usec now = now_usec();
    int r;

    if (_IOC_TYPE(req) != 'H')
        return ENOTTY;
    if (size > 0) {
        d = umockdev_ioctl_data_resolve(arg, 0, size, NULL);
        if (!d)
            return EFAULT;
    }
    switch (_IOC_NR(req)) {
    case _IOC_NR(HIDIOCGRDESCSIZE):
        *(int *) d->data = (int) n->report_descriptor_len;
        return 0;
    case _IOC_NR(HIDIOCGRDESC): {
        struct hidraw_report_descriptor *rd = (void *) d->data;
        if (rd->size > HID_MAX_DESCRIPTOR_SIZE - 1)
            return EINVAL;
        memcpy(rd->value, n->report_descriptor, MIN((size_t) rd->size, n->report_descriptor_len));
        return 0;
    }
    case _IOC_NR(HIDIOCGRAWINFO): {
        struct hidraw_devinfo *info = (void *) d->data;
        info->bustype = BUS_USB;
        info->vendor = (int16_t) (n->descriptors[8] | n->descriptors[9] << 8);
        info->product = (int16_t) (n->descriptors[10] | n->descriptors[11] << 8);
        return 0;
    }
    case _IOC_NR(HIDIOCGRAWNAME(0)): {
        g_autofree char *name = g_strdup_printf("%s%s%s", n->manufacturer ? n->manufacturer : "",
                                                n->manufacturer && n->product ? " " : "",
                                                n->product ? n->product : "");
        *res = copy_string(d, size, name);
        return 0;
    }
    case _IOC_NR(HIDIOCGRAWPHYS(0)): {
        g_autofree char *phys = g_strdup_printf("usb-%s-%s/input0", SIM_PCI_SLOT,
                                                strchr(n->name, '-') + 1);
        *res = copy_string(d, size, phys);
        return 0;
    }
    case _IOC_NR(HIDIOCGRAWUNIQ(0)):
        *res = copy_string(d, size, n->serial ? n->serial : "");
        return 0;
    case _IOC_NR(HIDIOCSFEATURE(0)):
    case _IOC_NR(HIDIOCGFEATURE(0)):
        if (size == 0)
            return EINVAL;
        if (_IOC_NR(req) == _IOC_NR(HIDIOCSFEATURE(0)))
            r = sim_device_hid_set_feature(dev, d->data, size, now);
        else
            r = sim_device_hid_get_feature(dev, d->data, size, now);
        trace("%s: hidraw %s feature report 0x%02x, %zu bytes -> %d", n->name,
              _IOC_NR(req) == _IOC_NR(HIDIOCSFEATURE(0)) ? "set" : "get", d->data[0], size, r);
        slot_poll_transition(n->slot);
        hidraw_flush_input(n);
        if (r < 0)
            return -r;
        *res = r;
        return 0;
    }
    trace("%s: hidraw ioctl 0x%lx is not emulated", n->name, req);
    return EINVAL;
}

static gboolean hidraw_handle_ioctl(UMockdevIoctlBase *h, UMockdevIoctlClient *c, gpointer ud) {
    sim_bus *b = ud;
    long res = 0;
    int err;

    (void) h;
    g_mutex_lock(&b->lock);
    usb_node *n = client_node(b, c);
    if (!hid_usable(n))
        err = ENODEV;
    else
        err = hidraw_ioctl(n, umockdev_ioctl_client_get_request(c),
                           umockdev_ioctl_client_get_arg(c), &res);
    g_mutex_unlock(&b->lock);

    umockdev_ioctl_client_complete(c, err ? -1 : res, err);
    return TRUE;
}

static gboolean hidraw_handle_write(UMockdevIoctlBase *h, UMockdevIoctlClient *c, gpointer ud) {
    UMockdevIoctlData *arg = umockdev_ioctl_client_get_arg(c);
    sim_bus *b = ud;
    int r;

    (void) h;
    g_mutex_lock(&b->lock);
    usb_node *n = client_node(b, c);
    if (!hid_usable(n))
        r = -ENODEV;
    else if (arg->data_len == 0)
        r = -EINVAL;
    else {
        r = sim_device_hid_output(n->slot->dev, arg->data, (size_t) arg->data_len, now_usec());
        trace("%s: hidraw output report 0x%02x, %d bytes -> %d", n->name, arg->data[0],
              arg->data_len, r);
        slot_poll_transition(n->slot);
        hidraw_flush_input(n);
    }
    g_mutex_unlock(&b->lock);

    umockdev_ioctl_client_complete(c, r < 0 ? -1 : r, r < 0 ? -r : 0);
    return TRUE;
}

static gboolean hidraw_handle_read(UMockdevIoctlBase *h, UMockdevIoctlClient *c, gpointer ud) {
    UMockdevIoctlData *arg = umockdev_ioctl_client_get_arg(c);
    sim_bus *b = ud;
    ssize_t r = 0;

    (void) h;
    g_mutex_lock(&b->lock);
    usb_node *n = client_node(b, c);
    if (!hid_usable(n))
        r = -EIO; /* hidraw_read() of a disconnected device */
    else {
        hidraw_resync(n);
        if (g_queue_is_empty(&n->hid_report_sizes)) {
            g_mutex_unlock(&b->lock);
            return FALSE; /* the FIFO answers: blocks, or EAGAIN */
        }
        size_t size = GPOINTER_TO_SIZE(g_queue_pop_head(&n->hid_report_sizes));
        uint8_t report[SIM_HID_REPORT_SIZE * 2];
        r = sim_fifo_pop(&n->hid_fifo, report, MIN(size, sizeof report));
        if (r > 0) {
            r = MIN(r, (ssize_t) arg->data_len);
            memcpy(arg->data, report, (size_t) r);
        }
    }
    g_mutex_unlock(&b->lock);

    umockdev_ioctl_client_complete(c, r < 0 ? -1 : r, r < 0 ? (int) -r : 0);
    return TRUE;
}

UMockdevIoctlBase *hidraw_handler_new(sim_bus *b) {
    UMockdevIoctlBase *h = umockdev_ioctl_base_new();

    g_signal_connect(h, "handle-ioctl", G_CALLBACK(hidraw_handle_ioctl), b);
    g_signal_connect(h, "handle-write", G_CALLBACK(hidraw_handle_write), b);
    g_signal_connect(h, "handle-read", G_CALLBACK(hidraw_handle_read), b);
    g_signal_connect(h, "client-connected", G_CALLBACK(client_connected_cb), b);
    return h;
}
