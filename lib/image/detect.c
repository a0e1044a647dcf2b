/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What a file that no parser takes looks like, so that the refusal can name it (and say what
 * to do about it): the mistakes people make (a hex file saved by an editor with a byte order
 * mark, an archive, a text file) are written as raw bytes by tools that guess, and the device
 * then has no application. */
#include <string.h>
#include <strings.h>

#include "image/image-internal.h"

/* Valid UTF-8 without control characters but blanks: what an editor saves. A firmware image
 * always has NUL bytes (its vector table holds addresses). */
static bool looks_like_text(const uint8_t *data, size_t size) {
    for (size_t i = 0; i < size;) {
        uint8_t c = data[i];
        size_t more;
        if (c < 0x80) {
            if ((c < 0x20 && (c == 0 || !strchr("\t\n\v\f\r", c))) || c == 0x7f)
                return false;
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf)
            more = 1;
        else if (c >= 0xe0 && c <= 0xef)
            more = 2;
        else if (c >= 0xf0 && c <= 0xf4)
            more = 3;
        else
            return false;
        if (size - i <= more)
            return false;
        for (size_t k = 1; k <= more; k++)
            if ((data[i + k] & 0xc0) != 0x80)
                return false;
        i += more + 1;
    }
    return true;
}

const char *image_sniff(const uint8_t *data, size_t size, bool *ret_strong,
                        const char **ret_advice) {
    static const uint8_t bom[3] = { 0xef, 0xbb, 0xbf };

    /* ELF files and S-records have their parsers: they never get here. */
    *ret_strong = true;
    *ret_advice = "unpack it and give the firmware file inside";
    if (size >= 3 && memcmp(data, bom, 3) == 0 && hex_looks_like(data + 3, size - 3)) {
        *ret_advice = "remove the mark (the first three bytes) and flash it again";
        return "an Intel hex file that starts with a UTF-8 byte order mark (EF BB BF)";
    }
    if (size >= 2 && data[0] == 0x1f && data[1] == 0x8b)
        return "a gzip archive";
    if (size >= 4 && memcmp(data, "PK\x03\x04", 4) == 0)
        return "a zip archive";
    *ret_strong = false;
    *ret_advice = NULL;
    if (looks_like_text(data, size))
        return "text";
    return NULL;
}

bool image_name_has_suffix(const char *name, const char *suffix) {
    size_t n, s = strlen(suffix);
    if (!name)
        return false;
    n = strlen(name);
    return n >= s && strcasecmp(name + n - s, suffix) == 0;
}
