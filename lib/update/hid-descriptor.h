/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A small HID report descriptor parser (HID 1.11, section 6.2.2): enough to learn which
 * reports a device declares, of which type, with which report ID, how long they are and in
 * which usage page their data lives. That is what "enter the bootloader" needs to find ST's
 * DfuSe HID detach report (a feature report in the vendor page 0xFF00) and to size the buffer
 * the way DfuSeDemo does. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

typedef enum stdfu_hid_report_type {
    STDFU_HID_INPUT,
    STDFU_HID_OUTPUT,
    STDFU_HID_FEATURE,
    _STDFU_HID_REPORT_TYPE_MAX,
} stdfu_hid_report_type;

typedef struct stdfu_hid_report {
    stdfu_hid_report_type type;
    uint8_t id;           /* 0 when the descriptor uses no report IDs */
    uint32_t bits;        /* sum of report size * report count of its main items */
    uint16_t usage_page;  /* usage page of its first main item */
    uint32_t first_usage; /* first usage declared for it (16 bits, or 32 with its page), or 0 */
} stdfu_hid_report;

#define STDFU_HID_MAX_REPORTS 64

typedef struct stdfu_hid_descriptor {
    stdfu_hid_report reports[STDFU_HID_MAX_REPORTS];
    size_t n_reports;
    bool uses_report_ids;
} stdfu_hid_descriptor;

#define STDFU_HID_USAGE_PAGE_VENDOR 0xFF00u
#define STDFU_ST_DETACH_COMMAND 0x55u

/* Parses a report descriptor. Refuses truncated items, unbalanced collections and push/pop,
 * report sizes over 32 bits and reports that grow past 64 KiB, naming the offset. */
int stdfu_hid_descriptor_parse(const uint8_t *data, size_t size, stdfu_hid_descriptor *ret,
                               stdfu_error *err);

const stdfu_hid_report *stdfu_hid_descriptor_find(const stdfu_hid_descriptor *d,
                                                  stdfu_hid_report_type type, uint8_t id);

/* Bytes of the report on the wire, without the report ID byte. */
static inline size_t stdfu_hid_report_bytes(const stdfu_hid_report *r) {
    return (r->bits + 7) / 8;
}

/* ST's DfuSe detach report: a feature report in the vendor usage page 0xFF00. When several
 * qualify, the one whose first usage is 0x55 (the detach command) wins. NULL if none. */
const stdfu_hid_report *stdfu_hid_find_st_detach(const stdfu_hid_descriptor *d);

/* The buffer DfuSeDemo sends through HIDIOCSFEATURE: [report ID, 0x55, zeros up to the
 * report's size]. Returns its length, or -ENOBUFS if size is too small. */
int stdfu_hid_st_detach_report(const stdfu_hid_report *r, uint8_t *buf, size_t size);

const char *stdfu_hid_report_type_to_string(stdfu_hid_report_type t);
