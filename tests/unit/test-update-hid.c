/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "update/hid-descriptor.h"

/* The shape of ST's CustomHID + DfuSe detach descriptor: a vendor collection with input and
 * output reports 1 and 2, and feature report 0x80 whose usage is the detach command 0x55. */
static const uint8_t st_desc[] = {
    0x06, 0x00, 0xff, /* Usage Page (0xFF00) */
    0x09, 0x01,       /* Usage (1) */
    0xa1, 0x01,       /* Collection (Application) */
    0x85, 0x01,       /*   Report ID (1) */
    0x09, 0x01,       /*   Usage (1) */
    0x15, 0x00,       /*   Logical Minimum (0) */
    0x26, 0xff, 0x00, /*   Logical Maximum (255) */
    0x75, 0x08,       /*   Report Size (8) */
    0x95, 0x3f,       /*   Report Count (63) */
    0x81, 0x02,       /*   Input (Data,Var,Abs) */
    0x85, 0x02,       /*   Report ID (2) */
    0x09, 0x02,       /*   Usage (2) */
    0x91, 0x02,       /*   Output (Data,Var,Abs) */
    0x85, 0x80,       /*   Report ID (0x80) */
    0x09, 0x55,       /*   Usage (0x55) */
    0x75, 0x08,       /*   Report Size (8) */
    0x95, 0x01,       /*   Report Count (1) */
    0xb1, 0x82,       /*   Feature (Data,Var,Abs,Vol) */
    0xc0,             /* End Collection */
};

/* A boot keyboard: no report IDs, generic desktop page, 8-byte input, 1-byte output. */
static const uint8_t keyboard_desc[] = {
    0x05, 0x01, 0x09, 0x06, 0xa1, 0x01,
    0x05, 0x07, 0x19, 0xe0, 0x29, 0xe7, 0x15, 0x00, 0x25, 0x01, 0x75, 0x01, 0x95, 0x08,
    0x81, 0x02,                         /* modifiers: 8 x 1 bit */
    0x95, 0x01, 0x75, 0x08, 0x81, 0x01, /* reserved byte (constant) */
    0x95, 0x05, 0x75, 0x01, 0x05, 0x08, 0x19, 0x01, 0x29, 0x05, 0x91, 0x02, /* LEDs */
    0x95, 0x01, 0x75, 0x03, 0x91, 0x01, /* LED padding */
    0x95, 0x06, 0x75, 0x08, 0x15, 0x00, 0x25, 0x65, 0x05, 0x07, 0x19, 0x00, 0x29, 0x65,
    0x81, 0x00,                         /* keys: 6 x 8 bits */
    0xc0,
};

static void test_st_descriptor(void **state) {
    stdfu_hid_descriptor d;
    stdfu_error err = {};
    (void) state;

    assert_int_equal(stdfu_hid_descriptor_parse(st_desc, sizeof st_desc, &d, &err), 0);
    assert_true(d.uses_report_ids);
    assert_int_equal(d.n_reports, 3);

    const stdfu_hid_report *in = stdfu_hid_descriptor_find(&d, STDFU_HID_INPUT, 1);
    assert_non_null(in);
    assert_int_equal(in->bits, 63 * 8);
    assert_int_equal(in->usage_page, 0xff00);
    const stdfu_hid_report *out = stdfu_hid_descriptor_find(&d, STDFU_HID_OUTPUT, 2);
    assert_non_null(out);
    assert_int_equal(stdfu_hid_report_bytes(out), 63);
    assert_null(stdfu_hid_descriptor_find(&d, STDFU_HID_FEATURE, 1));

    const stdfu_hid_report *det = stdfu_hid_find_st_detach(&d);
    assert_non_null(det);
    assert_int_equal(det->id, 0x80);
    assert_int_equal(det->type, STDFU_HID_FEATURE);
    assert_int_equal(det->first_usage, 0x55);

    uint8_t buf[8];
    assert_int_equal(stdfu_hid_st_detach_report(det, buf, sizeof buf), 2);
    assert_int_equal(buf[0], 0x80);
    assert_int_equal(buf[1], 0x55);
}

static void test_detach_report_is_padded(void **state) {
    stdfu_hid_report r = { .type = STDFU_HID_FEATURE, .id = 0x80, .bits = 8 * 8,
                           .usage_page = 0xff00 };
    uint8_t buf[16];
    (void) state;

    memset(buf, 0xaa, sizeof buf);
    assert_int_equal(stdfu_hid_st_detach_report(&r, buf, sizeof buf), 9);
    assert_int_equal(buf[0], 0x80);
    assert_int_equal(buf[1], 0x55);
    for (int i = 2; i < 9; i++)
        assert_int_equal(buf[i], 0);
    assert_int_equal(buf[9], 0xaa);
    assert_int_equal(stdfu_hid_st_detach_report(&r, buf, 4), -ENOBUFS);
}

static void test_keyboard_has_no_detach(void **state) {
    stdfu_hid_descriptor d;
    (void) state;

    assert_int_equal(stdfu_hid_descriptor_parse(keyboard_desc, sizeof keyboard_desc, &d, NULL),
                     0);
    assert_false(d.uses_report_ids);
    assert_int_equal(d.n_reports, 2);
    const stdfu_hid_report *in = stdfu_hid_descriptor_find(&d, STDFU_HID_INPUT, 0);
    assert_non_null(in);
    assert_int_equal(in->bits, 64);     /* 8 + 8 + 48: constant padding counts */
    assert_int_equal(in->usage_page, 0x07);
    const stdfu_hid_report *out = stdfu_hid_descriptor_find(&d, STDFU_HID_OUTPUT, 0);
    assert_non_null(out);
    assert_int_equal(out->bits, 8);     /* 5 LEDs + 3 bits padding */
    assert_int_equal(out->usage_page, 0x08);
    assert_null(stdfu_hid_find_st_detach(&d));
}

static void test_vendor_feature_without_0x55(void **state) {
    /* A vendor feature report that is not 0x55 still qualifies, but 0x55 wins over it. */
    static const uint8_t desc[] = {
        0x06, 0x00, 0xff, 0x09, 0x01, 0xa1, 0x01,
        0x85, 0x05, 0x09, 0x10, 0x75, 0x08, 0x95, 0x04, 0xb1, 0x02,
        0x85, 0x06, 0x09, 0x55, 0x95, 0x02, 0xb1, 0x02,
        0xc0,
    };
    stdfu_hid_descriptor d;
    (void) state;

    assert_int_equal(stdfu_hid_descriptor_parse(desc, sizeof desc, &d, NULL), 0);
    const stdfu_hid_report *r = stdfu_hid_find_st_detach(&d);
    assert_non_null(r);
    assert_int_equal(r->id, 6);
    assert_int_equal(stdfu_hid_report_bytes(r), 2);

    /* Without the 0x55 report, the first vendor feature report is taken. */
    assert_int_equal(stdfu_hid_descriptor_parse(desc, 17, &d, NULL), -EBADMSG); /* unclosed */
    static const uint8_t one[] = {
        0x06, 0x00, 0xff, 0x85, 0x05, 0x09, 0x10, 0x75, 0x08, 0x95, 0x04, 0xb1, 0x02,
    };
    assert_int_equal(stdfu_hid_descriptor_parse(one, sizeof one, &d, NULL), 0);
    r = stdfu_hid_find_st_detach(&d);
    assert_non_null(r);
    assert_int_equal(r->id, 5);
}

static void test_push_pop_and_extended_usage(void **state) {
    static const uint8_t desc[] = {
        0x05, 0x01,                   /* Usage Page (Generic Desktop) */
        0xa4,                         /* Push */
        0x06, 0x00, 0xff,             /* Usage Page (0xFF00) */
        0x85, 0x03, 0x75, 0x08, 0x95, 0x07,
        0x09, 0x55, 0xb1, 0x02,       /* feature 3: 7 bytes, vendor */
        0xb4,                         /* Pop: back to Generic Desktop, report ID 0 */
        0x0b, 0x01, 0x00, 0xff, 0xff, /* Usage (0xFFFF0001): 32-bit usage with its page */
        0x75, 0x08, 0x95, 0x01, 0x81, 0x02,
        0xfe, 0x02, 0x10, 0xaa, 0xbb, /* long item, skipped */
    };
    stdfu_hid_descriptor d;
    stdfu_error err = {};
    (void) state;

    assert_int_equal(stdfu_hid_descriptor_parse(desc, sizeof desc, &d, &err), 0);
    const stdfu_hid_report *f = stdfu_hid_descriptor_find(&d, STDFU_HID_FEATURE, 3);
    assert_non_null(f);
    assert_int_equal(f->usage_page, 0xff00);
    assert_int_equal(f->bits, 56);
    const stdfu_hid_report *in = stdfu_hid_descriptor_find(&d, STDFU_HID_INPUT, 0);
    assert_non_null(in);
    assert_int_equal(in->usage_page, 0xffff);
    assert_int_equal(in->bits, 8);
}

static void test_malformed(void **state) {
    stdfu_hid_descriptor d;
    stdfu_error err = {};
    (void) state;

    static const uint8_t truncated[] = { 0x05, 0x01, 0x06, 0x00 };
    assert_int_equal(stdfu_hid_descriptor_parse(truncated, sizeof truncated, &d, &err), -EBADMSG);
    assert_non_null(strstr(err.message, "offset 2"));

    static const uint8_t end_without_start[] = { 0xc0 };
    assert_int_equal(stdfu_hid_descriptor_parse(end_without_start, 1, &d, &err), -EBADMSG);
    assert_non_null(strstr(err.message, "End Collection"));

    static const uint8_t pop_without_push[] = { 0xb4 };
    assert_int_equal(stdfu_hid_descriptor_parse(pop_without_push, 1, &d, &err), -EBADMSG);

    static const uint8_t report_id_zero[] = { 0x85, 0x00 };
    assert_int_equal(stdfu_hid_descriptor_parse(report_id_zero, 2, &d, &err), -EBADMSG);
    assert_non_null(strstr(err.message, "report ID 0"));

    static const uint8_t huge[] = { 0x75, 0x20, 0x96, 0xff, 0x7f, 0x81, 0x02,
                                    0x81, 0x02, 0x81, 0x02, 0x81, 0x02, 0x81, 0x02 };
    assert_int_equal(stdfu_hid_descriptor_parse(huge, sizeof huge, &d, &err), -EBADMSG);

    static const uint8_t long_truncated[] = { 0xfe, 0x05, 0x10, 0x00 };
    assert_int_equal(stdfu_hid_descriptor_parse(long_truncated, 4, &d, &err), -EBADMSG);

    assert_int_equal(stdfu_hid_descriptor_parse(NULL, 0, &d, &err), -ENODATA);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_st_descriptor),
        cmocka_unit_test(test_detach_report_is_padded),
        cmocka_unit_test(test_keyboard_has_no_detach),
        cmocka_unit_test(test_vendor_feature_without_0x55),
        cmocka_unit_test(test_push_pop_and_extended_usage),
        cmocka_unit_test(test_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
