/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Small formatting helpers shared by the commands. */
#include <stdio.h>

#include "stdfuctl.h"

const char *stdfuctl_format_bcd(unsigned bcd, char *buf) {
    snprintf(buf, 8, "%x.%02x", (bcd >> 8) & 0xff, bcd & 0xff);
    return buf;
}
