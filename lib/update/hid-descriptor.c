/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "update/hid-descriptor.h"

#include <errno.h>
#include <string.h>

#include "util/macro.h"
#include "util/string-table.h"

/* Item prefixes, HID 1.11 section 6.2.2.2: bSize in bits 1:0 (0, 1, 2 or 4 bytes), bType in
 * bits 3:2, bTag in bits 7:4. 0xFE starts a long item. */
enum { ITEM_MAIN = 0, ITEM_GLOBAL = 1, ITEM_LOCAL = 2 };
enum { MAIN_INPUT = 0x8, MAIN_OUTPUT = 0x9, MAIN_COLLECTION = 0xA, MAIN_FEATURE = 0xB,
       MAIN_END_COLLECTION = 0xC };
enum { GLOBAL_USAGE_PAGE = 0x0, GLOBAL_REPORT_SIZE = 0x7, GLOBAL_REPORT_ID = 0x8,
       GLOBAL_REPORT_COUNT = 0x9, GLOBAL_PUSH = 0xA, GLOBAL_POP = 0xB };
enum { LOCAL_USAGE = 0x0, LOCAL_USAGE_MINIMUM = 0x1 };

#define LONG_ITEM_PREFIX 0xFE
#define MAX_PUSH_DEPTH 8
#define MAX_COLLECTION_DEPTH 32
/* Linux refuses larger reports too (HID_MAX_BUFFER_SIZE, 16 KiB). */
#define MAX_REPORT_BITS (16384u * 8u)
#define MAX_REPORT_SIZE 256u

typedef struct globals {
    uint16_t usage_page;
    uint32_t report_size;
    uint32_t report_count;
    uint8_t report_id;
} globals;

typedef struct parser {
    globals g;
    globals stack[MAX_PUSH_DEPTH];
    unsigned depth;
    unsigned collections;
    uint32_t first_usage; /* of the current local state, 0 when none yet */
    bool have_usage;
} parser;

const char *stdfu_hid_report_type_to_string(stdfu_hid_report_type t) {
    static const char *const names[] = {
        [STDFU_HID_INPUT] = "input",
        [STDFU_HID_OUTPUT] = "output",
        [STDFU_HID_FEATURE] = "feature",
    };
    return TABLE_NAME(names, t, "unknown");
}

const stdfu_hid_report *stdfu_hid_descriptor_find(const stdfu_hid_descriptor *d,
                                                  stdfu_hid_report_type type, uint8_t id) {
    for (size_t i = 0; i < d->n_reports; i++)
        if (d->reports[i].type == type && d->reports[i].id == id)
            return &d->reports[i];
    return NULL;
}

static uint32_t item_value(const uint8_t *p, unsigned size) {
    uint32_t v = 0;
    for (unsigned i = 0; i < size; i++)
        v |= (uint32_t) p[i] << (8 * i);
    return v;
}

static int add_main_item(parser *p, stdfu_hid_descriptor *d, stdfu_hid_report_type type,
                         size_t offset, stdfu_error *err) {
    stdfu_hid_report *r = (stdfu_hid_report *) stdfu_hid_descriptor_find(d, type, p->g.report_id);

    if (!r) {
        if (d->n_reports >= STDFU_HID_MAX_REPORTS)
            return stdfu_error_set(err, -E2BIG,
                                   "HID report descriptor declares more than %d reports",
                                   STDFU_HID_MAX_REPORTS);
        r = &d->reports[d->n_reports++];
        *r = (stdfu_hid_report) {
            .type = type,
            .id = p->g.report_id,
            /* A 32-bit usage carries its own page in the high half. */
            .usage_page = p->have_usage && p->first_usage > 0xffff
                                  ? (uint16_t) (p->first_usage >> 16)
                                  : p->g.usage_page,
            .first_usage = p->first_usage,
        };
    }
    uint64_t bits = (uint64_t) p->g.report_size * p->g.report_count;
    if (r->bits + bits > MAX_REPORT_BITS)
        return stdfu_error_set(err, -EBADMSG,
                               "HID report descriptor: %s report %u grows past %u bytes at "
                               "offset %zu", stdfu_hid_report_type_to_string(type), r->id,
                               MAX_REPORT_BITS / 8, offset);
    r->bits += (uint32_t) bits;
    return 0;
}

static int handle_main(parser *p, stdfu_hid_descriptor *d, unsigned tag, size_t offset,
                       stdfu_error *err) {
    int r = 0;

    switch (tag) {
    case MAIN_INPUT:
        r = add_main_item(p, d, STDFU_HID_INPUT, offset, err);
        break;
    case MAIN_OUTPUT:
        r = add_main_item(p, d, STDFU_HID_OUTPUT, offset, err);
        break;
    case MAIN_FEATURE:
        r = add_main_item(p, d, STDFU_HID_FEATURE, offset, err);
        break;
    case MAIN_COLLECTION:
        if (++p->collections > MAX_COLLECTION_DEPTH)
            return stdfu_error_set(err, -EBADMSG,
                                   "HID report descriptor nests collections too deep at "
                                   "offset %zu", offset);
        break;
    case MAIN_END_COLLECTION:
        if (p->collections == 0)
            return stdfu_error_set(err, -EBADMSG,
                                   "HID report descriptor: End Collection without a "
                                   "collection at offset %zu", offset);
        p->collections--;
        break;
    default:
        break; /* reserved main tags carry nothing we need */
    }
    /* Local items apply to the next main item only (HID 1.11, 6.2.2.8). */
    p->first_usage = 0;
    p->have_usage = false;
    return r;
}

static int handle_global(parser *p, stdfu_hid_descriptor *d, unsigned tag, uint32_t v,
                         size_t offset, stdfu_error *err) {
    switch (tag) {
    case GLOBAL_USAGE_PAGE:
        p->g.usage_page = (uint16_t) v;
        break;
    case GLOBAL_REPORT_SIZE:
        if (v > MAX_REPORT_SIZE)
            return stdfu_error_set(err, -EBADMSG,
                                   "HID report descriptor: report size %u bits is too large at "
                                   "offset %zu", v, offset);
        p->g.report_size = v;
        break;
    case GLOBAL_REPORT_COUNT:
        if (v > MAX_REPORT_BITS)
            return stdfu_error_set(err, -EBADMSG,
                                   "HID report descriptor: report count %u is too large at "
                                   "offset %zu", v, offset);
        p->g.report_count = v;
        break;
    case GLOBAL_REPORT_ID:
        if (v == 0 || v > 0xff)
            return stdfu_error_set(err, -EBADMSG,
                                   "HID report descriptor: invalid report ID %u at offset %zu",
                                   v, offset);
        p->g.report_id = (uint8_t) v;
        d->uses_report_ids = true;
        break;
    case GLOBAL_PUSH:
        if (p->depth >= MAX_PUSH_DEPTH)
            return stdfu_error_set(err, -EBADMSG,
                                   "HID report descriptor: Push nested too deep at offset %zu",
                                   offset);
        p->stack[p->depth++] = p->g;
        break;
    case GLOBAL_POP:
        if (p->depth == 0)
            return stdfu_error_set(err, -EBADMSG,
                                   "HID report descriptor: Pop without Push at offset %zu",
                                   offset);
        p->g = p->stack[--p->depth];
        break;
    default:
        break; /* logical/physical ranges, units: not needed */
    }
    return 0;
}

static void handle_local(parser *p, unsigned tag, uint32_t v) {
    if ((tag == LOCAL_USAGE || tag == LOCAL_USAGE_MINIMUM) && !p->have_usage) {
        p->first_usage = v;
        p->have_usage = true;
    }
}

int stdfu_hid_descriptor_parse(const uint8_t *data, size_t size, stdfu_hid_descriptor *ret,
                               stdfu_error *err) {
    parser p = {};
    stdfu_hid_descriptor d = {};
    size_t i = 0;
    int r;

    if (!data || size == 0)
        return stdfu_error_set(err, -ENODATA, "HID report descriptor is empty");

    while (i < size) {
        uint8_t prefix = data[i];

        if (prefix == LONG_ITEM_PREFIX) {
            /* Long items (6.2.2.3) are reserved for vendors; skip them whole. */
            if (i + 3 > size || i + 3 + data[i + 1] > size)
                return stdfu_error_set(err, -EBADMSG,
                                       "HID report descriptor: truncated long item at offset %zu",
                                       i);
            i += 3 + data[i + 1];
            continue;
        }

        unsigned n = prefix & 0x3, type = (prefix >> 2) & 0x3, tag = prefix >> 4;
        if (n == 3)
            n = 4;
        if (i + 1 + n > size)
            return stdfu_error_set(err, -EBADMSG,
                                   "HID report descriptor: truncated item 0x%02x at offset %zu",
                                   prefix, i);
        uint32_t v = item_value(data + i + 1, n);

        switch (type) {
        case ITEM_MAIN:
            r = handle_main(&p, &d, tag, i, err);
            break;
        case ITEM_GLOBAL:
            r = handle_global(&p, &d, tag, v, i, err);
            break;
        case ITEM_LOCAL:
            handle_local(&p, tag, v);
            r = 0;
            break;
        default:
            r = stdfu_error_set(err, -EBADMSG,
                                "HID report descriptor: reserved item type at offset %zu", i);
        }
        if (r < 0)
            return r;
        i += 1 + n;
    }

    if (p.collections != 0)
        return stdfu_error_set(err, -EBADMSG,
                               "HID report descriptor ends with %u unclosed collection(s)",
                               p.collections);
    *ret = d;
    return 0;
}

const stdfu_hid_report *stdfu_hid_find_st_detach(const stdfu_hid_descriptor *d) {
    const stdfu_hid_report *found = NULL;

    for (size_t i = 0; i < d->n_reports; i++) {
        const stdfu_hid_report *r = &d->reports[i];

        if (r->type != STDFU_HID_FEATURE || r->usage_page != STDFU_HID_USAGE_PAGE_VENDOR ||
            r->bits < 8)
            continue;
        if ((r->first_usage & 0xffff) == STDFU_ST_DETACH_COMMAND)
            return r;
        if (!found)
            found = r;
    }
    return found;
}

int stdfu_hid_st_detach_report(const stdfu_hid_report *r, uint8_t *buf, size_t size) {
    size_t len = 1 + stdfu_hid_report_bytes(r);

    if (len < 2 || len > size)
        return -ENOBUFS;
    memset(buf, 0, len);
    buf[0] = r->id;
    buf[1] = STDFU_ST_DETACH_COMMAND;
    return (int) len;
}
