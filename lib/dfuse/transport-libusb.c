/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The transport over libusb (synchronous transfers). */
#include <errno.h>
#include <libusb.h>
#include <stdlib.h>

#include "dfuse/transport.h"
#include "usb/usb.h"

typedef struct libusb_transport {
    libusb_context *ctx;
    bool own_ctx;
    libusb_device_handle *handle;
    int claimed; /* interface number, -1 if none */
} libusb_transport;

static int lu_control(void *userdata, const stdfu_setup *s, uint8_t *data, unsigned timeout_ms) {
    libusb_transport *u = userdata;
    int r = libusb_control_transfer(u->handle, s->bmRequestType, s->bRequest, s->wValue,
                                    s->wIndex, data, s->wLength, timeout_ms);
    return r < 0 ? stdfu_usb_errno(r) : r;
}

static int lu_claim_interface(void *userdata, uint8_t interface) {
    libusb_transport *u = userdata;
    int r;

    if (u->claimed == interface)
        return 0;
    /* A kernel driver (none is expected on a DFU interface) would make the claim fail. */
    (void) libusb_set_auto_detach_kernel_driver(u->handle, 1);
    r = libusb_claim_interface(u->handle, interface);
    if (r < 0)
        return stdfu_usb_errno(r);
    u->claimed = interface;
    return 0;
}

static int lu_set_alt(void *userdata, uint8_t interface, uint8_t alt) {
    libusb_transport *u = userdata;
    int r = libusb_set_interface_alt_setting(u->handle, interface, alt);
    return r < 0 ? stdfu_usb_errno(r) : 0;
}

static int lu_reset(void *userdata) {
    libusb_transport *u = userdata;
    int r = libusb_reset_device(u->handle);
    /* NOT_FOUND: the device re-enumerated, this handle is stale. */
    if (r == LIBUSB_ERROR_NOT_FOUND)
        return -ENODEV;
    return r < 0 ? stdfu_usb_errno(r) : 0;
}

static void lu_close(void *userdata) {
    libusb_transport *u = userdata;

    if (u->handle) {
        if (u->claimed >= 0)
            (void) libusb_release_interface(u->handle, u->claimed);
        libusb_close(u->handle);
    }
    if (u->own_ctx && u->ctx)
        libusb_exit(u->ctx);
    free(u);
}

static const stdfu_transport_ops libusb_ops = {
    .control = lu_control,
    .claim_interface = lu_claim_interface,
    .set_alt = lu_set_alt,
    .reset = lu_reset,
    .close = lu_close,
};

int stdfu_transport_new_libusb(libusb_context *ctx, bool own_ctx, libusb_device_handle *handle,
                               stdfu_transport **ret) {
    libusb_transport *u = calloc(1, sizeof *u);
    int r;

    if (!u)
        return -ENOMEM;
    *u = (libusb_transport) { .ctx = ctx, .own_ctx = own_ctx, .handle = handle, .claimed = -1 };
    r = stdfu_transport_new(&libusb_ops, u, ret);
    if (r < 0)
        lu_close(u);
    return r;
}

int stdfu_transport_open_port(const char *port, unsigned devnum, stdfu_transport **ret,
                              stdfu_error *err) {
    libusb_context *ctx = NULL;
    libusb_device_handle *h = NULL;
    int r;

    r = libusb_init(&ctx);
    if (r < 0)
        return stdfu_error_set(err, stdfu_usb_errno(r), "cannot initialise libusb: %s",
                               libusb_strerror(r));
    r = stdfu_usb_open(ctx, port, devnum, &h, err);
    if (r < 0) {
        libusb_exit(ctx);
        return r;
    }
    r = stdfu_transport_new_libusb(ctx, true, h, ret);
    if (r < 0)
        return stdfu_error_set(err, r, "out of memory");
    return 0;
}
