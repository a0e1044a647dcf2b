/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The FunctionFS side of one mode: its interfaces, taken from the model's configuration
 * descriptor, and ep0, where the guest kernel's requests to those interfaces arrive.
 *
 * FunctionFS facts this relies on (Linux 6.12):
 * - descriptors (v2 format) and strings are written to ep0 once per open; the endpoint files
 *   ep1.. appear after that, numbered in descriptor order;
 * - requests to the function's interfaces arrive as FUNCTIONFS_SETUP events, wIndex already
 *   the function's own interface number; the data stage is read(ep0) for OUT (length 0
 *   acknowledges) and write(ep0) for IN; I/O in the wrong direction stalls;
 * - a write() to an IN endpoint file waits until the function is enabled, then until the host
 *   takes the data (usbhid polls its interrupt IN endpoint only while the hidraw node is open);
 *   an unbind or bus reset ends it with an error;
 * - an OUT data stage cannot be stalled after it was read: the status stage is the UDC's;
 * - a bus reset or SET_CONFIGURATION(0) shows as DISABLE, a configuration as ENABLE. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/model.h"

typedef struct ffs_function {
    int ep0;
    int ep_in;       /* the HID interrupt IN endpoint's file, -EBADF when there is none */
    int ep_out;      /* the HID interrupt OUT endpoint's file, -EBADF when there is none */
    bool enabled;    /* between ENABLE and DISABLE */
    bool unbinding;  /* our own unbind: its DISABLE is not a bus reset */
} ffs_function;

/* Opens <mount_dir>/ep0 and writes the interfaces of d's current mode (every descriptor of its
 * configuration after the configuration header) and their strings. */
int ffs_function_open(const char *mount_dir, const sim_device *d, ffs_function **ret);
ffs_function *ffs_function_free(ffs_function *f);

/* Builds the FunctionFS v2 descriptor blob and the strings blob for a configuration
 * descriptor; string(index) gives the text of an iInterface. Exposed for unit tests. */
typedef const char *(*ffs_string_fn)(const void *userdata, unsigned index);
int ffs_build_descriptors(const uint8_t *config, size_t config_len, ffs_string_fn string,
                          const void *userdata, uint8_t **ret_descs, size_t *ret_descs_len,
                          uint8_t **ret_strings, size_t *ret_strings_len, int *ret_in_ep,
                          int *ret_out_ep);
