/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "update/enter.h"

#include <errno.h>
#include <fcntl.h>
#include <libusb.h>
#include <linux/hidraw.h>
#include <string.h>
#include <sys/ioctl.h>

#include "update/hid-descriptor.h"
#include "usb/usb.h"
#include "util/macro.h"
#include "util/parse-util.h"
#include "util/string-table.h"

/* DFU 1.1, section 3 and 4.1.3. */
#define DFU_DETACH 0x00
#define DFU_FUNCTIONAL_DESCRIPTOR 0x21
#define DFU_WILL_DETACH 0x08
#define DFU_DETACH_TIMEOUT_MS 1000
#define CONTROL_TIMEOUT_MS 2000

static const char *const kind_names[] = {
    [STDFU_ENTER_AUTO] = "auto",
    [STDFU_ENTER_ST_HID_DETACH] = "st-hid-detach",
    [STDFU_ENTER_HID_FEATURE] = "hid-feature",
    [STDFU_ENTER_HID_OUTPUT] = "hid-output",
    [STDFU_ENTER_DETACH] = "detach",
    [STDFU_ENTER_NONE] = "none",
};

const char *stdfu_enter_kind_to_string(stdfu_enter_kind k) {
    return TABLE_NAME(kind_names, k, "unknown");
}

int stdfu_enter_method_parse(const char *s, stdfu_enter_method *ret, stdfu_error *err) {
    stdfu_enter_method m = {};

    for (size_t k = 0; k < ELEMENTSOF(kind_names); k++) {
        size_t n = strlen(kind_names[k]);
        bool with_bytes = k == STDFU_ENTER_HID_FEATURE || k == STDFU_ENTER_HID_OUTPUT;

        if (strncmp(s, kind_names[k], n) != 0)
            continue;
        if (!with_bytes) {
            if (s[n] != '\0')
                continue;
            m.kind = (stdfu_enter_kind) k;
            *ret = m;
            return 0;
        }
        if (s[n] != ':' || s[n + 1] == '\0')
            return stdfu_error_set(err, -EINVAL, "enter method '%s' needs the report bytes in "
                                   "hex, e.g. %s:8055", s, kind_names[k]);
        int r = parse_hex_bytes(s + n + 1, m.bytes, sizeof m.bytes);
        if (r == -E2BIG)
            return stdfu_error_set(err, r, "enter method '%s': more than %d report bytes", s,
                                   STDFU_ENTER_MAX_BYTES);
        if (r < 0)
            return stdfu_error_set(err, r, "enter method '%s': '%s' is not a hex byte string",
                                   s, s + n + 1);
        m.kind = (stdfu_enter_kind) k;
        m.n_bytes = (size_t) r;
        *ret = m;
        return 0;
    }
    return stdfu_error_set(err, -EINVAL, "unknown enter method '%s' (expected auto, "
                           "st-hid-detach, hid-feature:HEX, hid-output:HEX, detach or none)", s);
}

int stdfu_enter_method_format(const stdfu_enter_method *m, char *buf, size_t size) {
    size_t at;
    int n = snprintf(buf, size, "%s", stdfu_enter_kind_to_string(m->kind));

    if (n < 0 || (size_t) n >= size)
        return -ENOBUFS;
    if (m->kind != STDFU_ENTER_HID_FEATURE && m->kind != STDFU_ENTER_HID_OUTPUT)
        return 0;
    at = (size_t) n;
    if (at + 1 + 2 * m->n_bytes + 1 > size)
        return -ENOBUFS;
    buf[at++] = ':';
    for (size_t i = 0; i < m->n_bytes; i++, at += 2)
        snprintf(buf + at, 3, "%02x", m->bytes[i]);
    buf[at] = '\0';
    return 0;
}

/* Errors that mean the device went away while (or right after) taking the request: it is
 * on its way into the bootloader, and the wait that follows decides. */
static bool is_gone_error(int r) {
    return r == -ENODEV || r == -ESHUTDOWN || r == -EPROTO || r == -EIO;
}

static int open_hidraw(const struct stdfu_usb_info *app, int *ret, stdfu_error *err) {
    if (!app->hidraw[0])
        return stdfu_error_set(err, -ENODEV, "device on port %s has no hidraw node", app->port);
    int fd = open(app->hidraw, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return stdfu_error_set(err, negative_errno(), "cannot open %s of port %s: %m",
                               app->hidraw, app->port);
    *ret = fd;
    return 0;
}

static int read_report_descriptor(int fd, const struct stdfu_usb_info *app,
                                  stdfu_hid_descriptor *ret, stdfu_error *err) {
    struct hidraw_report_descriptor rd = {};
    int size = 0;

    if (ioctl(fd, HIDIOCGRDESCSIZE, &size) < 0)
        return stdfu_error_set(err, negative_errno(), "port %s: cannot read the HID report "
                               "descriptor size: %m", app->port);
    if (size <= 0 || size > HID_MAX_DESCRIPTOR_SIZE)
        return stdfu_error_set(err, -EBADMSG, "port %s: HID report descriptor size %d is invalid",
                               app->port, size);
    rd.size = (uint32_t) size;
    if (ioctl(fd, HIDIOCGRDESC, &rd) < 0)
        return stdfu_error_set(err, negative_errno(), "port %s: cannot read the HID report "
                               "descriptor: %m", app->port);
    int r = stdfu_hid_descriptor_parse(rd.value, rd.size, ret, err);
    if (r < 0)
        return stdfu_error_prefix(err, "port %s", app->port);
    return 0;
}

/* The ST detach report the device declares, or -ENOENT. */
static int find_st_detach(int fd, const struct stdfu_usb_info *app, stdfu_hid_report *ret,
                          stdfu_error *err) {
    stdfu_hid_descriptor d;
    int r = read_report_descriptor(fd, app, &d, err);
    if (r < 0)
        return r;
    const stdfu_hid_report *rep = stdfu_hid_find_st_detach(&d);
    if (!rep)
        return stdfu_error_set(err, -ENOENT, "device on port %s declares no DfuSe HID detach "
                               "report (a feature report in usage page 0xFF00)", app->port);
    *ret = *rep;
    return 0;
}

static int send_feature(int fd, const struct stdfu_usb_info *app, const uint8_t *buf,
                        size_t len, stdfu_error *err) {
    if (ioctl(fd, HIDIOCSFEATURE(len), buf) < 0) {
        int r = negative_errno();
        if (!is_gone_error(r))
            return stdfu_error_set(err, r, "port %s: HID feature report 0x%02x was refused: %m",
                                   app->port, buf[0]);
    }
    return 0;
}

/* Sends the detach report rep on the open hidraw node fd. */
static int send_st_detach(int fd, const struct stdfu_usb_info *app, const stdfu_hid_report *rep,
                          stdfu_error *err) {
    uint8_t buf[1 + HID_MAX_DESCRIPTOR_SIZE];
    int len = stdfu_hid_st_detach_report(rep, buf, sizeof buf);
    if (len < 0)
        return stdfu_error_set(err, len, "port %s: DfuSe detach report 0x%02x is too long (%zu "
                               "bytes)", app->port, rep->id, stdfu_hid_report_bytes(rep));
    return send_feature(fd, app, buf, (size_t) len, err);
}

static int enter_st_hid_detach(const struct stdfu_usb_info *app, stdfu_error *err) {
    _cleanup_close_ int fd = -EBADF;
    stdfu_hid_report rep;
    int r;

    r = open_hidraw(app, &fd, err);
    if (r < 0)
        return r;
    r = find_st_detach(fd, app, &rep, err);
    if (r < 0)
        return r;
    return send_st_detach(fd, app, &rep, err);
}

static int enter_hid_bytes(const struct stdfu_usb_info *app, const stdfu_enter_method *m,
                           stdfu_error *err) {
    _cleanup_close_ int fd = -EBADF;
    int r = open_hidraw(app, &fd, err);
    if (r < 0)
        return r;
    if (m->kind == STDFU_ENTER_HID_FEATURE)
        return send_feature(fd, app, m->bytes, m->n_bytes, err);

    ssize_t n = write(fd, m->bytes, m->n_bytes);
    if (n < 0) {
        r = negative_errno();
        if (!is_gone_error(r))
            return stdfu_error_set(err, r, "port %s: HID output report 0x%02x was refused: %m",
                                   app->port, m->bytes[0]);
    } else if ((size_t) n != m->n_bytes)
        return stdfu_error_set(err, -EIO, "port %s: short write of the HID output report (%zd of "
                               "%zu bytes)", app->port, n, m->n_bytes);
    return 0;
}

static void close_handlep(libusb_device_handle **h) {
    if (*h)
        libusb_close(*h);
}

static void exit_contextp(libusb_context **ctx) {
    if (*ctx)
        libusb_exit(*ctx);
}

/* bmAttributes and wDetachTimeOut of the runtime's DFU functional descriptor. */
static void read_runtime_attributes(libusb_device_handle *h, int iface, uint8_t *attributes,
                                    uint16_t *detach_timeout) {
    struct libusb_config_descriptor *c = NULL;

    *attributes = 0; /* no descriptor: assume the host must reset */
    *detach_timeout = DFU_DETACH_TIMEOUT_MS;
    if (libusb_get_active_config_descriptor(libusb_get_device(h), &c) < 0)
        return;
    for (int i = 0; i < c->bNumInterfaces; i++)
        for (int a = 0; a < c->interface[i].num_altsetting; a++) {
            const struct libusb_interface_descriptor *alt = &c->interface[i].altsetting[a];
            const uint8_t *x = alt->extra;

            if (alt->bInterfaceNumber != iface)
                continue;
            for (int at = 0; at + 2 <= alt->extra_length && x[at] >= 2; at += x[at])
                if (x[at + 1] == DFU_FUNCTIONAL_DESCRIPTOR && x[at] >= 5 &&
                    at + 5 <= alt->extra_length) {
                    *attributes = x[at + 2];
                    *detach_timeout = (uint16_t) (x[at + 3] | x[at + 4] << 8);
                }
        }
    libusb_free_config_descriptor(c);
}

static int enter_dfu_detach(libusb_context *ctx, const struct stdfu_usb_info *app,
                            stdfu_error *err) {
    /* Declared before h: the handle is closed before its context goes. */
    _cleanup_(exit_contextp) libusb_context *own = NULL;
    _cleanup_(close_handlep) libusb_device_handle *h = NULL;
    uint8_t attributes;
    uint16_t timeout;
    int r, iface = app->dfu_runtime_interface;

    if (!app->has_dfu_runtime || iface < 0)
        return stdfu_error_set(err, -EOPNOTSUPP, "device on port %s has no DFU runtime "
                               "interface for DFU_DETACH", app->port);
    if (!ctx) {
        r = libusb_init(&own);
        if (r < 0)
            return stdfu_error_set(err, stdfu_usb_errno(r), "cannot initialise libusb: %s",
                                   libusb_strerror(r));
        ctx = own;
    }
    r = stdfu_usb_open(ctx, app->port, app->devnum, &h, err);
    if (r < 0)
        return r;
    read_runtime_attributes(h, iface, &attributes, &timeout);
    (void) libusb_set_auto_detach_kernel_driver(h, 1);
    r = libusb_claim_interface(h, iface);
    if (r < 0)
        return stdfu_error_set(err, stdfu_usb_errno(r), "port %s: cannot claim DFU runtime "
                               "interface %d: %s", app->port, iface, libusb_strerror(r));

    r = libusb_control_transfer(h, LIBUSB_ENDPOINT_OUT | LIBUSB_REQUEST_TYPE_CLASS |
                                LIBUSB_RECIPIENT_INTERFACE, DFU_DETACH,
                                MIN(timeout, DFU_DETACH_TIMEOUT_MS), (uint16_t) iface, NULL, 0,
                                CONTROL_TIMEOUT_MS);
    if (r < 0 && !is_gone_error(stdfu_usb_errno(r)))
        return stdfu_error_set(err, stdfu_usb_errno(r), "port %s: DFU_DETACH failed: %s",
                               app->port, libusb_strerror(r));
    if (r >= 0 && !(attributes & DFU_WILL_DETACH)) {
        /* Without bitWillDetach the device waits for a USB reset (DFU 1.1, 5.1). */
        (void) libusb_release_interface(h, iface);
        r = libusb_reset_device(h);
        if (r < 0 && r != LIBUSB_ERROR_NOT_FOUND && r != LIBUSB_ERROR_NO_DEVICE)
            return stdfu_error_set(err, stdfu_usb_errno(r), "port %s: USB reset after "
                                   "DFU_DETACH failed: %s", app->port, libusb_strerror(r));
        return 0;
    }
    (void) libusb_release_interface(h, iface);
    return 0;
}

/* AUTO: which method the device declares. When that is the ST detach report, *ret_fd is the
 * hidraw node it was read from and *ret_rep the report, so that it is sent without opening
 * the node and reading its descriptor a second time; otherwise *ret_fd stays -EBADF. */
static int resolve_auto(const struct stdfu_usb_info *app, stdfu_enter_kind *ret, int *ret_fd,
                        stdfu_hid_report *ret_rep, stdfu_error *err) {
    stdfu_error hid_err = {};

    if (app->has_hid || app->hidraw[0]) {
        _cleanup_close_ int fd = -EBADF;

        if (open_hidraw(app, &fd, &hid_err) >= 0 &&
            find_st_detach(fd, app, ret_rep, &hid_err) >= 0) {
            *ret = STDFU_ENTER_ST_HID_DETACH;
            *ret_fd = TAKE_FD(fd);
            return 0;
        }
    }
    if (app->has_dfu_runtime) {
        *ret = STDFU_ENTER_DETACH;
        return 0;
    }
    /* A node we may not open says more than "declares nothing". */
    if (hid_err.code != 0 && hid_err.code != -ENOENT && hid_err.code != -ENODEV)
        return stdfu_error_set(err, hid_err.code, "%s", hid_err.message);
    return stdfu_error_set(err, -EOPNOTSUPP, "device on port %s (%04x:%04x) declares neither "
                           "a DfuSe HID detach report nor a DFU runtime interface; name the "
                           "enter method (e.g. hid-feature:HEX)", app->port, app->vid,
                           app->pid);
}

int stdfu_enter_bootloader(libusb_context *ctx, const struct stdfu_usb_info *app,
                           const stdfu_enter_method *m, stdfu_enter_kind *ret_used,
                           stdfu_error *err) {
    _cleanup_close_ int fd = -EBADF;
    stdfu_enter_kind kind = m->kind;
    stdfu_hid_report rep;
    int r;

    if (kind == STDFU_ENTER_AUTO) {
        r = resolve_auto(app, &kind, &fd, &rep, err);
        if (r < 0)
            return r;
    }
    if (ret_used)
        *ret_used = kind;

    switch (kind) {
    case STDFU_ENTER_ST_HID_DETACH:
        return fd >= 0 ? send_st_detach(fd, app, &rep, err) : enter_st_hid_detach(app, err);
    case STDFU_ENTER_HID_FEATURE:
    case STDFU_ENTER_HID_OUTPUT:
        return enter_hid_bytes(app, m, err);
    case STDFU_ENTER_DETACH:
        return enter_dfu_detach(ctx, app, err);
    case STDFU_ENTER_NONE:
        return 0;
    default:
        return stdfu_error_set(err, -EINVAL, "invalid enter method %d", (int) kind);
    }
}
