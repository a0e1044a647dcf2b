/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Intel hex (Intel, "Hexadecimal Object File Format Specification", rev. A, 1988).
 *
 * A record is one line ":LLAAAATT<data>CC": LL data bytes, AAAA the load offset, TT the type,
 * CC the two's complement of the sum of all other bytes. Types:
 *   00 data, 01 end of file, 02 extended segment address (base = value * 16, the offset wraps
 *   at 64 KiB), 03 start segment address (CS:IP), 04 extended linear address (base = value <<
 *   16, the address wraps at 4 GiB), 05 start linear address (EIP).
 * Data is collected into chunks as records come (objcopy writes them in address order, so a
 * chunk usually grows record after record), then sorted: overlaps are refused with both line
 * numbers, contiguous chunks are merged into one element. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "image/image-internal.h"
#include "util/macro.h"

typedef struct hex_parser {
    image_records records;
    bool linear;          /* last base came from a type 04 record (else 02, or none) */
    uint32_t base;
    unsigned line;
    stdfu_image *img;
    stdfu_error *err;
} hex_parser;

static void hex_parser_done(hex_parser *p) {
    image_records_done(&p->records);
}

static int line_error(hex_parser *p, const char *format, const char *detail) {
    return stdfu_error_set(p->err, -EINVAL, "line %u: %s%s", p->line, format, detail ?: "");
}

static int hexval(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char) tolower((unsigned char) c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Decodes ":LLAAAATT...CC" (already without line end) into bytes; returns their count. */
static int decode_record(const char *s, size_t len, uint8_t out[260], unsigned *bad_column) {
    size_t n = (len - 1) / 2;
    for (size_t i = 0; i < n; i++) {
        int hi = hexval(s[1 + 2 * i]), lo = hexval(s[2 + 2 * i]);
        if (hi < 0 || lo < 0) {
            *bad_column = (unsigned) (hi < 0 ? 2 + 2 * i : 3 + 2 * i);
            return -EINVAL;
        }
        out[i] = (uint8_t) (hi << 4 | lo);
    }
    return (int) n;
}

/* Checks a record's form; fills bytes and n. Messages via p. */
static int read_record(hex_parser *p, const char *s, size_t len, uint8_t bytes[260], int *n) {
    char detail[64];
    unsigned column = 0;

    if (len == 0 || s[0] != ':')
        return line_error(p, "a record must start with ':'", NULL);
    if (len < 11 || len > 1 + 2 * 260 || (len - 1) % 2 != 0)
        return line_error(p, "a record needs an even number of hex digits, at least 10", NULL);
    *n = decode_record(s, len, bytes, &column);
    if (*n < 0) {
        snprintf(detail, sizeof detail, " '%c' at column %u", s[column - 1], column);
        return line_error(p, "not a hex digit:", detail);
    }
    if (bytes[0] != *n - 5) {
        snprintf(detail, sizeof detail, " %u data bytes but the record holds %d", bytes[0],
                 *n - 5);
        return line_error(p, "the record's length byte says", detail);
    }
    uint8_t sum = 0;
    for (int i = 0; i < *n - 1; i++)
        sum = (uint8_t) (sum + bytes[i]);
    uint8_t expected = (uint8_t) -sum;
    if (expected != bytes[*n - 1]) {
        snprintf(detail, sizeof detail, "expected 0x%02x, found 0x%02x", expected,
                 bytes[*n - 1]);
        return line_error(p, "bad checksum: ", detail);
    }
    return 0;
}

static int add_byte(hex_parser *p, uint32_t address, uint8_t byte) {
    return image_records_add(&p->records, address, &byte, 1, p->line);
}

static int data_record(hex_parser *p, uint16_t offset, const uint8_t *data, unsigned n) {
    for (unsigned i = 0; i < n; i++) {
        /* Segment addressing wraps the offset within 64 KiB; linear wraps at 4 GiB. */
        uint32_t address = p->linear ? p->base + offset + i
                                     : p->base + (uint16_t) (offset + i);
        if (add_byte(p, address, data[i]) < 0)
            return stdfu_error_set(p->err, -ENOMEM, "Out of memory.");
    }
    return 0;
}

/* Returns 1 at the end-of-file record. */
static int handle_record(hex_parser *p, const uint8_t *b, int n) {
    unsigned count = b[0], type = b[3];
    uint16_t offset = (uint16_t) (b[1] << 8 | b[2]);
    const uint8_t *data = b + 4;
    static const unsigned needed[] = { [1] = 0, [2] = 2, [3] = 4, [4] = 2, [5] = 4 };
    char detail[64];

    (void) n;
    if (type > 5) {
        snprintf(detail, sizeof detail, " 0x%02x", type);
        return line_error(p, "unknown record type", detail);
    }
    if (type != 0 && count != needed[type]) {
        snprintf(detail, sizeof detail, " 0x%02x must hold %u bytes, not %u", type,
                 needed[type], count);
        return line_error(p, "a record of type", detail);
    }
    switch (type) {
    case 0:
        return data_record(p, offset, data, count);
    case 1:
        return 1;
    case 2:
        p->linear = false;
        p->base = (uint32_t) (data[0] << 8 | data[1]) << 4;
        return 0;
    case 3:
        p->img->has_start_address = true;
        p->img->start_address = ((uint32_t) (data[0] << 8 | data[1]) << 4) +
                                (uint32_t) (data[2] << 8 | data[3]);
        return 0;
    case 4:
        p->linear = true;
        p->base = (uint32_t) (data[0] << 8 | data[1]) << 16;
        return 0;
    case 5:
        p->img->has_start_address = true;
        p->img->start_address = (uint32_t) data[0] << 24 | (uint32_t) data[1] << 16 |
                                (uint32_t) data[2] << 8 | data[3];
        return 0;
    }
    return 0;
}

/* Next line of [*pos, end) without its line end and trailing blanks. */
static bool next_line(const char *text, size_t size, size_t *pos, const char **line,
                      size_t *len) {
    if (*pos >= size)
        return false;
    const char *s = text + *pos, *nl = memchr(s, '\n', size - *pos);
    size_t n = nl ? (size_t) (nl - s) : size - *pos;
    *pos += n + (nl ? 1 : 0);
    while (n > 0 && isspace((unsigned char) s[n - 1]))
        n--;
    *line = s;
    *len = n;
    return true;
}

int image_parse_hex(stdfu_image *img, const uint8_t *data, size_t size,
                    const stdfu_image_load_options *opts, stdfu_error *err) {
    _cleanup_(hex_parser_done) hex_parser p = { .img = img, .err = err };
    const char *text = (const char *) data, *line;
    size_t pos = 0, len;
    unsigned eof_line = 0;
    stdfu_target *t;
    int r;

    img->format = STDFU_IMAGE_HEX;
    while (next_line(text, size, &pos, &line, &len)) {
        uint8_t bytes[260];
        int n;
        p.line++;
        if (len == 0)
            continue;
        if (eof_line) {
            char detail[48];
            snprintf(detail, sizeof detail, " (line %u)", eof_line);
            return line_error(&p, "data after the end-of-file record", detail);
        }
        r = read_record(&p, line, len, bytes, &n);
        if (r < 0)
            return r;
        r = handle_record(&p, bytes, n);
        if (r < 0)
            return r;
        if (r == 1)
            eof_line = p.line;
    }
    if (!eof_line)
        return stdfu_error_set(err, -EINVAL,
                               "no end-of-file record (type 01): the file is truncated after "
                               "line %u",
                               p.line);
    if (p.records.n_chunks == 0)
        return stdfu_error_set(err, -EINVAL, "empty image: the hex file has no data records");
    r = image_add_target(img, opts->alt, "", &t, err);
    if (r < 0)
        return r;
    return image_records_to_target(&p.records, t, err);
}

bool hex_looks_like(const uint8_t *data, size_t size) {
    hex_parser p = {};
    stdfu_error err;
    const char *line;
    size_t pos = 0, len;
    uint8_t bytes[260];
    int n;

    p.err = &err;
    while (next_line((const char *) data, size, &pos, &line, &len))
        if (len > 0)
            return read_record(&p, line, len, bytes, &n) == 0;
    return false;
}
