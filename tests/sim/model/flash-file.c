/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* flash=FILE: a device that starts with given flash contents. Read here, independently of
 * lib/image (like the emulator's writers in fwfile.c), so that the emulator stays a second
 * opinion on the formats: raw .bin at the start of flash, DfuSe .dfu (UM0391: every element of
 * every target for alt 0), Intel .hex (types 00, 01, 02, 04; 03 and 05 ignored). */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model-internal.h"

static int fail(char *err, size_t es, const char *path, const char *format, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t es, const char *path, const char *format, ...) {
    char why[160];
    va_list ap;

    va_start(ap, format);
    vsnprintf(why, sizeof why, format, ap);
    va_end(ap);
    snprintf(err, es, "flash=%s: %s", path, why);
    return -EINVAL;
}

static bool has_suffix(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

/* Copies [address, address + n) into flash (base, size), refusing what lies outside it. */
static int put(const char *path, uint8_t *flash, size_t size, uint32_t base, uint32_t address,
               const uint8_t *data, size_t n, char *err, size_t es) {
    if (address < base || (uint64_t) address - base + n > size)
        return fail(err, es, path, "%zu bytes at 0x%08x lie outside the flash (0x%08x, %zu "
                    "bytes)", n, address, base, size);
    if (flash)
        memcpy(flash + (address - base), data, n);
    return 0;
}

static uint32_t le32(const uint8_t *p) {
    return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

static int load_dfuse(const char *path, const uint8_t *d, size_t n, uint8_t *flash, size_t size,
                      uint32_t base, char *err, size_t es) {
    size_t off = 11;
    int r;

    if (n < 11 + 16 || memcmp(d, "DfuSe", 5) != 0)
        return fail(err, es, path, "not a DfuSe file (no \"DfuSe\" prefix)");
    for (unsigned t = 0; t < d[10]; t++) {
        if (off + 274 > n || memcmp(d + off, "Target", 6) != 0)
            return fail(err, es, path, "target %u: no \"Target\" prefix at offset %zu", t, off);
        uint8_t alt = d[off + 6];
        uint32_t elements = le32(d + off + 270);
        off += 274;
        for (uint32_t e = 0; e < elements; e++) {
            if (off + 8 > n)
                return fail(err, es, path, "element %u of target %u is truncated", e, t);
            uint32_t address = le32(d + off), esize = le32(d + off + 4);
            off += 8;
            if (esize > n - off)
                return fail(err, es, path, "element %u of target %u is truncated", e, t);
            if (alt == 0) {
                r = put(path, flash, size, base, address, d + off, esize, err, es);
                if (r < 0)
                    return r;
            }
            off += esize;
        }
    }
    return 0;
}

static int hexbyte(const char *s) {
    int hi = isxdigit((unsigned char) s[0]) ? (isdigit((unsigned char) s[0]) ? s[0] - '0'
                                               : (tolower((unsigned char) s[0]) - 'a' + 10)) : -1;
    int lo = isxdigit((unsigned char) s[1]) ? (isdigit((unsigned char) s[1]) ? s[1] - '0'
                                               : (tolower((unsigned char) s[1]) - 'a' + 10)) : -1;
    return hi < 0 || lo < 0 ? -1 : hi << 4 | lo;
}

static int load_ihex(const char *path, const uint8_t *d, size_t n, uint8_t *flash, size_t size,
                     uint32_t base, char *err, size_t es) {
    uint32_t upper = 0;
    unsigned line = 0;
    int r;

    for (size_t off = 0; off < n;) {
        const uint8_t *nl = memchr(d + off, '\n', n - off);
        size_t end = nl ? (size_t) (nl - d) : n, len = end - off;
        const char *s = (const char *) d + off;
        uint8_t b[260];
        unsigned nb;

        line++;
        off = end + 1;
        while (len > 0 && isspace((unsigned char) s[len - 1]))
            len--;
        if (len == 0)
            continue;
        if (s[0] != ':' || len < 11 || (len - 1) % 2 != 0 || (len - 1) / 2 > sizeof b)
            return fail(err, es, path, "line %u is not an Intel hex record", line);
        nb = (unsigned) (len - 1) / 2;
        uint8_t sum = 0;
        for (unsigned i = 0; i < nb; i++) {
            int v = hexbyte(s + 1 + 2 * i);
            if (v < 0)
                return fail(err, es, path, "line %u: not a hex digit", line);
            b[i] = (uint8_t) v;
            sum = (uint8_t) (sum + v);
        }
        if (sum != 0 || b[0] != nb - 5)
            return fail(err, es, path, "line %u: bad length or checksum", line);
        uint16_t addr16 = (uint16_t) (b[1] << 8 | b[2]);
        switch (b[3]) {
        case 0:
            r = put(path, flash, size, base, upper + addr16, b + 4, b[0], err, es);
            if (r < 0)
                return r;
            break;
        case 1:
            return 0;
        case 2:
            upper = (uint32_t) (b[4] << 8 | b[5]) << 4;
            break;
        case 4:
            upper = (uint32_t) (b[4] << 8 | b[5]) << 16;
            break;
        default:
            break;
        }
    }
    return 0;
}

int sim_flash_file_load(const char *path, uint8_t *flash, size_t size, uint32_t base,
                        char *err, size_t es) {
    uint8_t *d = NULL;
    size_t n = 0;
    int r;
    FILE *f = fopen(path, "re");

    if (!f)
        return fail(err, es, path, "cannot open: %s", strerror(errno));
    /* No flash is bigger than 2 MiB in the profiles; a file much larger is not a flash image. */
    d = malloc(size * 3 + 4096);
    if (!d) {
        fclose(f);
        return -ENOMEM;
    }
    n = fread(d, 1, size * 3 + 4096, f);
    fclose(f);
    if (has_suffix(path, ".bin"))
        r = put(path, flash, size, base, base, d, n, err, es);
    else if (has_suffix(path, ".dfu"))
        r = load_dfuse(path, d, n, flash, size, base, err, es);
    else if (has_suffix(path, ".hex"))
        r = load_ihex(path, d, n, flash, size, base, err, es);
    else
        r = fail(err, es, path, "expected a file named .bin, .hex or .dfu");
    free(d);
    return r;
}
