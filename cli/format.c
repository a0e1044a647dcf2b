/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Small formatting helpers shared by the commands. */
#include <stdio.h>

#include "stdfuctl.h"

const char *stdfuctl_format_bcd(unsigned bcd, char *buf) {
    snprintf(buf, 8, "%x.%02x", (bcd >> 8) & 0xff, bcd & 0xff);
    return buf;
}

const char *stdfuctl_format_version(unsigned bcd, char *buf) {
    unsigned n[4] = { (bcd >> 12) & 0xf, (bcd >> 8) & 0xf, (bcd >> 4) & 0xf, bcd & 0xf };
    if (n[0] > 9 || n[1] > 9 || n[2] > 9 || n[3] > 9)
        return stdfuctl_format_bcd(bcd, buf); /* not BCD: as lsusb shows it */
    snprintf(buf, 8, "%u.%u", n[0] * 10 + n[1], n[2] * 10 + n[3]);
    return buf;
}
