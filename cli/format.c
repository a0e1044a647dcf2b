/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Small formatting helpers shared by the commands. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

bool stdfuctl_terminal_is_smart(void) {
    const char *term = getenv("TERM");
    return term && *term && strcmp(term, "dumb") != 0;
}

bool stdfuctl_use_colors(int fd) {
    const char *no = getenv("NO_COLOR");
    if (no && *no)
        return false; /* https://no-color.org */
    return isatty(fd) && stdfuctl_terminal_is_smart();
}

const char *stdfuctl_state_color(const char *state) {
    if (!state)
        return NULL;
    if (strcmp(state, "done") == 0)
        return "\033[32m"; /* green */
    if (strcmp(state, "failed") == 0 || strcmp(state, "no-rule") == 0)
        return "\033[1;31m"; /* bold red: someone must act */
    if (strcmp(state, "needs-power-cycle") == 0 || strcmp(state, "retry-wait") == 0 ||
        strcmp(state, "cancelled") == 0)
        return "\033[33m"; /* yellow */
    if (strcmp(state, "idle") == 0)
        return NULL;
    return "\033[36m"; /* cyan: queued, running, recovering */
}

const char *stdfuctl_ellipsis(void) {
    static int utf8 = -1;
    if (utf8 < 0) {
        const char *v = getenv("LC_ALL");
        if (!v || !*v)
            v = getenv("LC_CTYPE");
        if (!v || !*v)
            v = getenv("LANG");
        utf8 = v && (strcasestr(v, "utf-8") || strcasestr(v, "utf8"));
    }
    return utf8 ? "\xe2\x80\xa6" : "~";
}
