/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The plan of a run: every target of the image on its own alt, checked against that alt's
 * layout before anything is erased; main flash first, option bytes last; a file naming an alt
 * the device lacks, or a target its alt cannot take, refused as a whole, naming the alt. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "update/plan.h"

/* An F407's alts as its ROM reports them. */
typedef struct device {
    stdfu_layout alts[3];
    unsigned n_alts;
    unsigned asked;
} device;

static int layout_of(void *userdata, uint8_t alt, const stdfu_layout **ret, stdfu_error *err) {
    device *d = userdata;
    d->asked++;
    if (alt >= d->n_alts)
        return stdfu_error_set(err, -ENOENT, "the device has no alt setting %u", alt);
    *ret = &d->alts[alt];
    return 0;
}

static int setup(void **state) {
    static const char *const strings[] = {
        "@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg",
        "@Option Bytes  /0x1FFFC000/01*016 e",
        "@OTP Memory /0x1FFF7800/01*512 e,01*016 e",
    };
    device *d = calloc(1, sizeof *d);
    assert_non_null(d);
    for (unsigned i = 0; i < 3; i++)
        assert_int_equal(stdfu_layout_parse(strings[i], &d->alts[i], NULL), 0);
    d->n_alts = 3;
    *state = d;
    return 0;
}

static int teardown(void **state) {
    device *d = *state;
    for (unsigned i = 0; i < 3; i++)
        stdfu_layout_done(&d->alts[i]);
    free(d);
    return 0;
}

static uint8_t flash_data[6] = { 1, 2, 3, 4, 5, 6 };
static uint8_t ob_data[16] = { 0xe7, 0xaa };

/* The option bytes' target first in the file: it is still written last. */
static void two_targets(stdfu_image *img, stdfu_target t[2], stdfu_element e[2]) {
    e[0] = (stdfu_element) { 0x1fffc000, sizeof ob_data, ob_data };
    e[1] = (stdfu_element) { 0x08000000, sizeof flash_data, flash_data };
    t[0] = (stdfu_target) { .alt = 1, .elements = &e[0], .n_elements = 1 };
    t[1] = (stdfu_target) { .alt = 0, .elements = &e[1], .n_elements = 1 };
    *img = (stdfu_image) { .name = (char *) "fw.dfu", .targets = t, .n_targets = 2,
                           .total_bytes = sizeof ob_data + sizeof flash_data };
}

static void test_flash_then_option_bytes(void **state) {
    device *d = *state;
    stdfu_element e[2];
    stdfu_target t[2];
    stdfu_image img;
    stdfu_update_plan p;
    stdfu_error err = {};

    two_targets(&img, t, e);
    assert_int_equal(stdfu_update_plan_make(&img, layout_of, d, &p, &err), 0);
    assert_int_equal(p.n_parts, 2);
    assert_int_equal(p.parts[0].alt, 0);
    assert_false(p.parts[0].option_bytes);
    /* flash: whole programming units, padded with 0xff */
    assert_int_equal(p.parts[0].target->elements[0].address, 0x08000000);
    assert_int_equal(p.unit, 4); /* an F4: at most a word */
    assert_int_equal(p.parts[0].target->elements[0].size, 8);
    assert_int_equal(p.parts[0].target->elements[0].data[6], 0xff);
    /* option bytes: last, as given */
    assert_int_equal(p.parts[1].alt, 1);
    assert_true(p.parts[1].option_bytes);
    assert_int_equal(p.parts[1].target->elements[0].size, 16);
    assert_ptr_equal(stdfu_update_plan_find(&p, 1), &p.parts[1]);
    assert_null(stdfu_update_plan_find(&p, 2));
    stdfu_update_plan_done(&p);
    assert_int_equal(p.n_parts, 0);
}

/* Without the option bytes' alt the family is not known: the largest unit. */
static void test_unknown_family_largest_unit(void **state) {
    device *d = *state;
    stdfu_element e = { 0x08000000, sizeof flash_data, flash_data };
    stdfu_target t = { .alt = 0, .elements = &e, .n_elements = 1 };
    stdfu_image img = { .targets = &t, .n_targets = 1, .total_bytes = sizeof flash_data };
    stdfu_update_plan p;

    d->n_alts = 1;
    assert_int_equal(stdfu_update_plan_make(&img, layout_of, d, &p, NULL), 0);
    assert_int_equal(p.unit, STDFU_FLASH_PROGRAM_UNIT);
    assert_int_equal(p.n_parts, 1);
    assert_int_equal(p.parts[0].target->elements[0].size, STDFU_FLASH_PROGRAM_UNIT);
    stdfu_update_plan_done(&p);
}

static void test_alt_missing_refused(void **state) {
    device *d = *state;
    stdfu_element e[2];
    stdfu_target t[2];
    stdfu_image img;
    stdfu_update_plan p = {};
    stdfu_error err = {};

    two_targets(&img, t, e);
    d->n_alts = 1; /* a device with main flash only */
    assert_int_equal(stdfu_update_plan_make(&img, layout_of, d, &p, &err), -ENOENT);
    assert_string_equal(err.message, "the file's target for alt 1 (16 bytes): the device has "
                                     "no alt setting 1");
    assert_int_equal(p.n_parts, 0);
}

static void test_target_outside_its_alt_refused(void **state) {
    device *d = *state;
    stdfu_element e[2];
    stdfu_target t[2];
    stdfu_image img;
    stdfu_update_plan p = {};
    stdfu_error err = {};

    two_targets(&img, t, e);
    t[0].alt = 2; /* option bytes' address given to the OTP alt */
    assert_int_equal(stdfu_update_plan_make(&img, layout_of, d, &p, &err), -EINVAL);
    assert_non_null(strstr(err.message, "alt 2 (OTP Memory): fw.dfu"));
    assert_non_null(strstr(err.message, "0x1fffc000"));
}

static void test_read_only_sector_refused(void **state) {
    device *d = *state;
    stdfu_element e[2];
    stdfu_target t[2];
    stdfu_image img;
    stdfu_update_plan p = {};
    stdfu_error err = {};

    stdfu_layout_done(&d->alts[0]);
    assert_int_equal(stdfu_layout_parse("@Internal Flash  /0x08000000/04*016Ka,01*064Kg",
                                        &d->alts[0], NULL), 0);
    two_targets(&img, t, e);
    assert_int_equal(stdfu_update_plan_make(&img, layout_of, d, &p, &err), -EPERM);
    assert_non_null(strstr(err.message, "alt 0 (Internal Flash)"));
    assert_non_null(strstr(err.message, "0x08000000"));
}

static void test_two_option_bytes_refused(void **state) {
    device *d = *state;
    stdfu_element e[2];
    stdfu_target t[2];
    stdfu_image img;
    stdfu_update_plan p = {};
    stdfu_error err = {};

    stdfu_layout_done(&d->alts[0]);
    assert_int_equal(stdfu_layout_parse("@Option Bytes  /0x08000000/01*016 e", &d->alts[0],
                                        NULL), 0);
    two_targets(&img, t, e);
    assert_int_equal(stdfu_update_plan_make(&img, layout_of, d, &p, &err), -EINVAL);
    assert_non_null(strstr(err.message, "option bytes for alt 0 and alt 1"));
}

static void test_option_bytes_name(void **state) {
    device *d = *state;
    assert_false(stdfu_layout_is_option_bytes(&d->alts[0]));
    assert_true(stdfu_layout_is_option_bytes(&d->alts[1]));
    assert_false(stdfu_layout_is_option_bytes(NULL));
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void) {
    const struct CMUnitTest tests[] = {
        T(test_flash_then_option_bytes),
        T(test_unknown_family_largest_unit),
        T(test_alt_missing_refused),
        T(test_target_outside_its_alt_refused),
        T(test_read_only_sector_refused),
        T(test_two_option_bytes_refused),
        T(test_option_bytes_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
