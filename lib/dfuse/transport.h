/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* How the DfuSe engine talks to a device: control transfers, interface claim and alternate
 * setting, port reset, and (optionally) a clock.
 *
 * The libusb implementation is stdfu_transport_open_port(); tests implement the ops on top of
 * the emulator's device model, with a fake clock, so that the engine runs without USB. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"
#include "util/time-util.h"

struct libusb_context;
struct libusb_device_handle;

typedef struct stdfu_setup {
    uint8_t bmRequestType;
    uint8_t bRequest;
    uint16_t wValue;
    uint16_t wIndex;
    uint16_t wLength;
} stdfu_setup;

typedef struct stdfu_transport_ops {
    /* One control transfer. data holds wLength bytes (OUT: the payload; IN: filled).
     * Returns the data stage length, or -EPIPE (stall), -ENODEV (device gone), -ETIMEDOUT,
     * -EIO, ... */
    int (*control)(void *userdata, const stdfu_setup *setup, uint8_t *data, unsigned timeout_ms);
    int (*claim_interface)(void *userdata, uint8_t interface);
    int (*set_alt)(void *userdata, uint8_t interface, uint8_t alt);
    /* USB port reset. -ENODEV when the device re-enumerated (handle no longer valid). */
    int (*reset)(void *userdata);
    void (*close)(void *userdata);
    /* Optional clock (NULL: CLOCK_MONOTONIC and clock_nanosleep); tests use a fake one. */
    usec_t (*now)(void *userdata);
    void (*sleep_until)(void *userdata, usec_t until);
} stdfu_transport_ops;

typedef struct stdfu_transport stdfu_transport;

/* Wraps ops/userdata; ops->close(userdata) is called by stdfu_transport_free(). */
int stdfu_transport_new(const stdfu_transport_ops *ops, void *userdata, stdfu_transport **ret);
stdfu_transport *stdfu_transport_free(stdfu_transport *t);

/* libusb: opens the device on port (devnum 0: whatever is there now, else exactly that
 * enumeration), with its own libusb context. Errors name the port. */
int stdfu_transport_open_port(const char *port, unsigned devnum, stdfu_transport **ret,
                              stdfu_error *err);
/* libusb: takes ownership of handle (and of ctx if own_ctx). */
int stdfu_transport_new_libusb(struct libusb_context *ctx, bool own_ctx,
                               struct libusb_device_handle *handle, stdfu_transport **ret);

int stdfu_transport_control(stdfu_transport *t, const stdfu_setup *setup, uint8_t *data,
                            unsigned timeout_ms);
int stdfu_transport_claim_interface(stdfu_transport *t, uint8_t interface);
int stdfu_transport_set_alt(stdfu_transport *t, uint8_t interface, uint8_t alt);
int stdfu_transport_reset(stdfu_transport *t);
usec_t stdfu_transport_now(stdfu_transport *t);
void stdfu_transport_sleep_until(stdfu_transport *t, usec_t until);

/* Standard GET_DESCRIPTOR helpers. */
/* Full configuration descriptor (wTotalLength bytes), malloc()ed. */
int stdfu_transport_get_config_descriptor(stdfu_transport *t, uint8_t index, uint8_t **ret,
                                          size_t *ret_len);
/* String descriptor as text (printable ASCII; other code points become '?'), "" for index 0,
 * in language lang (0x0409 US English): one transfer. */
int stdfu_transport_get_string_lang(stdfu_transport *t, uint8_t index, uint16_t lang, char *buf,
                                    size_t size);
/* The first language ID in string descriptor 0; 0x0409 if the device has none. */
uint16_t stdfu_transport_get_language(stdfu_transport *t);

static inline void stdfu_transport_freep(stdfu_transport **t) {
    if (*t)
        stdfu_transport_free(*t);
}
#define _cleanup_transport_ _cleanup_(stdfu_transport_freep)
