/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "util/parse-util.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

int parse_u64(const char *s, uint64_t *ret) {
    char *end;
    unsigned long long v;

    if (!s || !*s || isspace((unsigned char) *s) || *s == '-' || *s == '+')
        return -EINVAL;
    errno = 0;
    v = strtoull(s, &end, (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) ? 16 : 10);
    if (errno == ERANGE)
        return -ERANGE;
    if (errno != 0 || *end != '\0' || end == s)
        return -EINVAL;
    *ret = v;
    return 0;
}

int parse_u32(const char *s, uint32_t *ret) {
    uint64_t v;
    int r = parse_u64(s, &v);
    if (r < 0)
        return r;
    if (v > UINT32_MAX)
        return -ERANGE;
    *ret = (uint32_t) v;
    return 0;
}

int parse_u16_hex(const char *s, uint16_t *ret) {
    char *end;
    unsigned long v;

    if (!s || !*s || !isxdigit((unsigned char) *s))
        return -EINVAL;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
        s += 2;
    if (strlen(s) > 4 || !*s)
        return -EINVAL;
    errno = 0;
    v = strtoul(s, &end, 16);
    if (errno != 0 || *end != '\0')
        return -EINVAL;
    *ret = (uint16_t) v;
    return 0;
}

int parse_seconds(const char *s, uint64_t *ret_usec) {
    char *end;
    double v;

    if (!s || !*s || isspace((unsigned char) *s) || *s == '-')
        return -EINVAL;
    errno = 0;
    v = strtod(s, &end);
    if (errno != 0 || *end != '\0' || end == s || v < 0 || v > 1e9)
        return -EINVAL;
    *ret_usec = (uint64_t) (v * 1e6 + 0.5);
    return 0;
}

static int hex_digit(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int parse_hex_bytes(const char *s, uint8_t *buf, size_t size) {
    size_t n = 0;

    if (!s)
        return -EINVAL;
    while (*s) {
        if (*s == ':' || *s == ' ') {
            s++;
            continue;
        }
        int hi = hex_digit(s[0]), lo = hi >= 0 ? hex_digit(s[1]) : -1;
        if (hi < 0 || lo < 0)
            return -EINVAL;
        if (n >= size)
            return -E2BIG;
        buf[n++] = (uint8_t) (hi << 4 | lo);
        s += 2;
    }
    return n == 0 ? -EINVAL : (int) n;
}
