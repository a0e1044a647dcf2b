/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Motorola S-records (as objcopy -O srec and srec_cat write them).
 *
 * A record is one line "STLL<address><data>CC": T the type, LL the count of the bytes that
 * follow (address, data, checksum), CC the ones' complement of the low byte of the sum of the
 * count, address and data bytes. Types:
 *   S0 header (ignored), S1/S2/S3 data at a 16/24/32-bit address, S5/S6 the number of data
 *   records so far (16/24 bits; checked), S7/S8/S9 the start address (32/24/16 bits; the end).
 * Data goes into chunks as records come (in address order from the tools, so a chunk grows
 * record after record), then sorted: overlaps are refused with both line numbers, contiguous
 * chunks are joined into one element. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/image-internal.h"
#include "util/macro.h"

typedef struct srec_parser {
    image_records records;
    unsigned line;
    unsigned data_records;
    bool ended;
    stdfu_image *img;
    stdfu_error *err;
} srec_parser;

static void srec_parser_done(srec_parser *p) {
    image_records_done(&p->records);
}

static int line_error(srec_parser *p, const char *format, ...) _printf_(2, 3);
static int line_error(srec_parser *p, const char *format, ...) {
    char msg[160];
    va_list ap;

    va_start(ap, format);
    vsnprintf(msg, sizeof msg, format, ap);
    va_end(ap);
    return stdfu_error_set(p->err, -EINVAL, "line %u: %s", p->line, msg);
}

static int hexval(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char) tolower((unsigned char) c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Address bytes of each record type, 0 for none (S4 is reserved). */
static unsigned address_bytes(char type) {
    switch (type) {
    case '0': case '1': case '5': case '9': return 2;
    case '2': case '6': case '8': return 3;
    case '3': case '7': return 4;
    default: return 0;
    }
}

static int add_data(srec_parser *p, uint32_t address, const uint8_t *data, size_t n) {
    return image_records_add(&p->records, address, data, n, p->line);
}

/* One line, without its line end. */
static int handle_line(srec_parser *p, const char *s, size_t len) {
    uint8_t b[256] = {};
    unsigned n, abytes;
    uint32_t address = 0;
    uint8_t sum = 0;

    if (len < 2 || s[0] != 'S')
        return line_error(p, "an S-record must start with 'S'");
    abytes = address_bytes(s[1]);
    if (abytes == 0)
        return line_error(p, "unknown record type 'S%c'", s[1]);
    if (len < 4 || (len - 2) % 2 != 0)
        return line_error(p, "a record needs an even number of hex digits after its type");
    n = (unsigned) (len - 2) / 2;
    if (n < 2)
        return line_error(p, "a record needs a count and a checksum");
    if (n > sizeof b)
        return line_error(p, "a record holds at most 255 bytes after its count");
    for (unsigned i = 0; i < n; i++) {
        int hi = hexval(s[2 + 2 * i]), lo = hexval(s[3 + 2 * i]);
        if (hi < 0 || lo < 0)
            return line_error(p, "not a hex digit: '%c' at column %u",
                              hi < 0 ? s[2 + 2 * i] : s[3 + 2 * i], hi < 0 ? 3 + 2 * i
                                                                            : 4 + 2 * i);
        b[i] = (uint8_t) (hi << 4 | lo);
    }
    if (b[0] != n - 1)
        return line_error(p, "the record's count says %u bytes but it holds %u", b[0], n - 1);
    if (b[0] < abytes + 1)
        return line_error(p, "an S%c record needs at least %u bytes, not %u", s[1], abytes + 1,
                          b[0]);
    for (unsigned i = 0; i < n - 1; i++)
        sum = (uint8_t) (sum + b[i]);
    uint8_t expected = (uint8_t) ~sum;
    if (expected != b[n - 1])
        return line_error(p, "bad checksum: expected 0x%02x, found 0x%02x", expected, b[n - 1]);
    for (unsigned i = 0; i < abytes; i++)
        address = address << 8 | b[1 + i];
    const uint8_t *data = b + 1 + abytes;
    size_t n_data = n - 2 - abytes;

    if (p->ended)
        return line_error(p, "a record after the end (S7/S8/S9) record");
    switch (s[1]) {
    case '0':
        return 0;
    case '1': case '2': case '3':
        if ((uint64_t) address + n_data > UINT64_C(0x100000000))
            return line_error(p, "data at 0x%08x runs past 4 GiB", address);
        p->data_records++;
        if (add_data(p, address, data, n_data) < 0)
            return stdfu_error_set(p->err, -ENOMEM, "Out of memory.");
        return 0;
    case '5': case '6':
        if (n_data != 0)
            return line_error(p, "an S%c count record holds no data", s[1]);
        if (address != p->data_records)
            return line_error(p, "the count record says %u data records, the file has %u",
                              address, p->data_records);
        return 0;
    default: /* 7, 8, 9: start address, the end */
        if (n_data != 0)
            return line_error(p, "an S%c start address record holds no data", s[1]);
        p->img->has_start_address = true;
        p->img->start_address = address;
        p->ended = true;
        return 0;
    }
}

/* The records' data as the one target of the image. */
static int build(srec_parser *p, const stdfu_image_load_options *opts) {
    stdfu_target *t;
    int r;

    if (p->records.n_chunks == 0)
        return stdfu_error_set(p->err, -EINVAL, "no data records (S1, S2 or S3)");
    r = image_add_target(p->img, opts->alt, "", &t, p->err);
    if (r < 0)
        return r;
    return image_records_to_target(&p->records, t, p->err);
}

bool srec_looks_like(const uint8_t *data, size_t size) {
    size_t i = 0;

    while (i < size && (data[i] == ' ' || data[i] == '\t' || data[i] == '\r' || data[i] == '\n'))
        i++;
    return size - i >= 4 && data[i] == 'S' && strchr("0123456789", data[i + 1]) &&
           isxdigit(data[i + 2]) && isxdigit(data[i + 3]);
}

int image_parse_srec(stdfu_image *img, const uint8_t *data, size_t size,
                     const stdfu_image_load_options *opts, stdfu_error *err) {
    srec_parser p = { .img = img, .err = err };
    int r = 0;

    img->format = STDFU_IMAGE_SREC;
    for (size_t off = 0; off < size && r >= 0;) {
        const uint8_t *nl = memchr(data + off, '\n', size - off);
        size_t end = nl ? (size_t) (nl - data) : size, len = end - off;
        p.line++;
        while (len > 0 && (data[off + len - 1] == '\r' || data[off + len - 1] == ' ' ||
                           data[off + len - 1] == '\t'))
            len--;
        if (len > 0)
            r = handle_line(&p, (const char *) data + off, len);
        off = end + 1;
    }
    if (r >= 0)
        r = build(&p, opts);
    srec_parser_done(&p);
    return r;
}
