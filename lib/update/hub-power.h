/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Port power of the hub a device hangs off, the last rung of the recovery ladder for a device
 * that vanished after leave (the STM32F0 case): hub class CLEAR_FEATURE(PORT_POWER), a pause,
 * SET_FEATURE(PORT_POWER) on the parent hub's usbfs node, as uhubctl does.
 *
 * Only hubs that switch power per port can do this: wHubCharacteristics bits 1:0 == 01 in the
 * hub descriptor (USB 2.0, table 11-13). Ganged hubs would cut every port, and hubs without
 * switching accept the request and do nothing, so both are reported as unable. */

#include <stdint.h>

#include "util/error.h"
#include "util/time-util.h"

struct libusb_context;

typedef enum stdfu_hub_switching {
    STDFU_HUB_SWITCHING_GANGED,   /* 00: all ports at once */
    STDFU_HUB_SWITCHING_PER_PORT, /* 01: individual port power switching */
    STDFU_HUB_SWITCHING_NONE,     /* 1x: no power switching (USB 1.x/2.0 hubs only) */
} stdfu_hub_switching;

const char *stdfu_hub_switching_to_string(stdfu_hub_switching s);

/* wHubCharacteristics bits 1:0 of a hub descriptor (type 0x29 or 0x2A). -EBADMSG if it is
 * too short or not a hub descriptor. */
int stdfu_hub_descriptor_switching(const uint8_t *desc, size_t len, stdfu_hub_switching *ret,
                                   unsigned *ret_power_on_ms);

/* Cuts the power of port for off_usec, then restores it: the parent hub of port ("1-1.4" ->
 * hub 1-1, port 4; "1-4" -> root hub of bus 1, port 4). -EOPNOTSUPP (with a message naming
 * the hub) unless that hub switches power per port. */
int stdfu_hub_port_power_cycle(struct libusb_context *ctx, const char *port, usec_t off_usec,
                               stdfu_error *err);
