/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Option bytes against the fake device: the ROM's reset expected, read back, written last
 * after the main flash of the same file. */
#include "update-fake.h"

static void test_option_bytes_reset_is_expected(void **state) {
    fixture *x = *state;
    stdfu_update_result res;

    use_option_bytes(x);
    run(x, &res);
    assert_int_equal(res.outcome, STDFU_UPDATE_DONE);
    assert_int_equal(res.attempts, 1);
    assert_int_equal(res.retries, 0);
    assert_int_equal(res.bytes_written, 16);
    assert_int_equal(x->f.n_flash, 1);
    /* back as the application: entered again to read them, then left at the flash */
    assert_int_equal(x->f.n_enter, 2);
    assert_int_equal(x->f.n_verify, 1);
    assert_int_equal(x->f.n_leave, 1);
    assert_int_equal(res.final_mode, STDFU_USB_APPLICATION);
}

static void test_option_bytes_without_reset(void **state) {
    fixture *x = *state;
    stdfu_update_result res;

    use_option_bytes(x);
    x->f.ob_no_reset = true;
    run(x, &res);
    assert_int_equal(res.outcome, STDFU_UPDATE_DONE);
    assert_int_equal(x->f.n_enter, 1); /* read back from the same bootloader */
    assert_int_equal(x->f.n_verify, 1);
    assert_int_equal(x->f.n_leave, 1);
}

static void test_option_bytes_not_taken(void **state) {
    fixture *x = *state;
    stdfu_update_result res;

    use_option_bytes(x);
    x->f.ob_mismatch = true;
    run(x, &res);
    assert_int_equal(res.outcome, STDFU_UPDATE_FAILED);
    assert_int_equal(res.failure, STDFU_UPDATE_FAILURE_VERIFY);
    assert_non_null(strstr(res.error.message, "option bytes on port " PORT));
    assert_int_equal(x->f.n_flash, 1);
}

/* A file with the main flash (alt 0) and the option bytes (alt 1, first in the file): the
 * flash is written first, then the option bytes, whose reset ends the session; they are read
 * back once the device is in its bootloader again, and it leaves from the main flash's alt. */
static void flash_and_option_bytes(fixture *x) {
    assert_int_equal(stdfu_layout_parse("@Option Bytes  /0x1FFFC000/01*016 e", &x->f.ob_layout,
                                        NULL), 0);
    x->ob_element = (stdfu_element) { .address = 0x1fffc000, .size = 16, .data = x->data };
    x->targets[0] = (stdfu_target) { .alt = 1, .elements = &x->ob_element, .n_elements = 1 };
    x->targets[1] = x->target;
    x->img.targets = x->targets;
    x->img.n_targets = 2;
    x->img.total_bytes += 16;
}

static void test_flash_then_option_bytes(void **state) {
    fixture *x = *state;
    stdfu_update_result res;

    flash_and_option_bytes(x);
    run(x, &res);
    assert_int_equal(res.outcome, STDFU_UPDATE_DONE);
    assert_int_equal(res.attempts, 1);
    assert_int_equal(res.bytes_written, sizeof x->data + 16);
    assert_int_equal(x->f.n_flash, 2);   /* alt 0, then alt 1 */
    assert_int_equal(x->f.n_verify, 1);  /* the option bytes, after their reset */
    assert_int_equal(x->f.n_enter, 2);
    assert_int_equal(x->f.n_leave, 1);   /* from alt 0 (fake_leave checks) */
    assert_int_equal(res.running_bcd, NEW_BCD);
}

/* The device has no alt 1: the whole file is refused before anything is written. */
static void test_alt_missing_refused_whole(void **state) {
    fixture *x = *state;
    stdfu_update_result res;

    flash_and_option_bytes(x);
    stdfu_layout_done(&x->f.ob_layout);
    run(x, &res);
    assert_int_equal(res.outcome, STDFU_UPDATE_FAILED);
    assert_int_equal(res.failure, STDFU_UPDATE_FAILURE_IMAGE);
    assert_non_null(strstr(res.error.message, "image refused, nothing erased: the file's target "
                                              "for alt 1 (16 bytes): the device has no alt "
                                              "setting 1"));
    assert_int_equal(x->f.n_flash, 0);
    assert_int_equal(res.bytes_written, 0);
    /* sent back to its application */
    assert_int_equal(res.final_mode, STDFU_USB_APPLICATION);
    assert_int_equal(res.running_bcd, OLD_BCD);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void) {
    const struct CMUnitTest tests[] = {
        T(test_option_bytes_reset_is_expected),
        T(test_option_bytes_without_reset),
        T(test_option_bytes_not_taken),
        T(test_flash_then_option_bytes),
        T(test_alt_missing_refused_whole),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
