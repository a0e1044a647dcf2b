/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* One configfs USB gadget with one FunctionFS function: what the device looks like in one of
 * its modes (application or ROM). The device descriptor's fields and strings live here, the
 * interfaces in the FunctionFS instance (function.h). Binding the gadget to a UDC puts it on
 * that dummy_hcd's bus; unbinding takes it off: together, re-enumeration. */

#include <stdbool.h>
#include <stdint.h>

typedef struct ffs_gadget ffs_gadget;

/* Creates <configfs>/<name> with configuration c.1 and function ffs.<instance>, and mounts that
 * FunctionFS instance on <mount_dir> (created). */
int ffs_gadget_new(const char *configfs, const char *name, const char *instance,
                   const char *mount_dir, ffs_gadget **ret);
/* Unbinds, unmounts and removes the configfs tree; NULL-safe. The FunctionFS files must be
 * closed first (the mount is busy otherwise). */
ffs_gadget *ffs_gadget_free(ffs_gadget *g);
const char *ffs_gadget_mount_dir(const ffs_gadget *g);

/* Device descriptor fields (vendor, product, bcdDevice, class) from an 18-byte descriptor and
 * the three strings, and the configuration's bmAttributes and bMaxPower; only while unbound. */
int ffs_gadget_set_identity(ffs_gadget *g, const uint8_t device_descriptor[18],
                            const char *manufacturer, const char *product, const char *serial,
                            uint8_t attributes, uint8_t max_power);

int ffs_gadget_bind(ffs_gadget *g, const char *udc);
int ffs_gadget_unbind(ffs_gadget *g);
bool ffs_gadget_bound(const ffs_gadget *g);
