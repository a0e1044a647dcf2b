/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* --report FILE.json, written when COMMAND has exited (whatever its status) and the devices'
 * transitions under way have been carried out (at most 5 s more):
 *
 *   { "hub": { "kind": "ppps", "port": "1-1", "ports": [ { "port": "1-1.1", "powered": true,
 *              "device": true }, ... ] },            (kind "none" and no ports without a hub)
 *     "devices": [ { "port": "1-1.1", "profile": "f072", "mode": "application", "plugged": true,
 *       "version": "1.0" (running application's, from its image header; null if none),
 *       "bcd_device": 256, "flash_size": 131072,
 *       "flash_sha256": "...",                        (the whole flash)
 *       "image_size": 65536, "image_sha256": "...",   (flash up to the header's length; null)
 *       "dfu_state": "dfuIDLE", "dfu_status": "OK", "read_protected": false,
 *       "counters": { "enumerations": 2, "boots": 2, "leaves": 1, "resets": 0,
 *                     "power_cycles": 0, "bytes_written": 65536, "bytes_read": 0,
 *                     "erases": 32, "erases_per_page": [1, 1, ..., 0] },
 *       "busy_ms": 1234.5, "transfer_ms": 210.3, "floor_ms": 1444.8 } ] } */

#include "umock/umock.h"

int sim_report_write(sim_bus *b, const char *path);
