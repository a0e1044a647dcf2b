/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Faults inside an attempt against the fake device: retried (status cleared, or the
 * bootloader opened again after it re-enumerated, its port power-cycled when it went away
 * for good), persistent ones ending the attempt, what the ROM took counted. */
#include "update-fake.h"

static void test_verify_failure(void **state) {
    fixture *x = *state;
    stdfu_update_result res;

    x->f.flash_error = -EBADMSG;
    x->f.flash_error_in_verify = true;
    x->o.retries = 0;
    run(x, &res);
    assert_int_equal(res.outcome, STDFU_UPDATE_FAILED);
    assert_int_equal(res.failure, STDFU_UPDATE_FAILURE_VERIFY);
    assert_int_equal(x->f.n_leave, 0);
}

static void test_transfer_failure(void **state) {
    fixture *x = *state;
    stdfu_update_result res;

    x->f.flash_error = -EIO;
    x->o.retries = 0;
    run(x, &res);
    assert_int_equal(res.outcome, STDFU_UPDATE_FAILED);
    assert_int_equal(res.failure, STDFU_UPDATE_FAILURE_TRANSFER);
    assert_string_equal(res.error.message, "scripted failure");
}

static void test_write_error_retried(void **state) {
    fixture *x = *state;
    stdfu_update_result res;

    x->f.flash_error = -EIO; /* errWRITE once */
    run(x, &res);
    assert_int_equal(res.outcome, STDFU_UPDATE_DONE);
    assert_int_equal(res.attempts, 1);
    assert_int_equal(res.retries, 1);
    assert_int_equal(res.steps[STDFU_UPDATE_STEP_RETRY], 1);
    assert_int_equal(x->f.n_flash, 2);
    assert_int_equal(x->f.n_again, 1); /* the retry writes only what differs */
    /* The pages as they ended: the first pass (full) read none; the retry found the page
     * holding the image, so an earlier pass wrote it: written once, not again. */
    assert_int_equal(res.pages_read, 0);
    assert_int_equal(res.pages_skipped, 0);
    assert_int_equal(res.pages_written, 1);
    assert_int_equal(res.pages_written_again, 0);
    assert_int_equal(x->f.n_open, 1);
    assert_int_equal(x->retry_events, 1);
    assert_int_equal(res.final_mode, STDFU_USB_APPLICATION);
    assert_int_equal(res.running_bcd, NEW_BCD);
}

/* Differential: the first flash already compares; the pages count up. */
static void test_differential(void **state) {
    fixture *x = *state;
    stdfu_update_result res;

    x->o.differential = true;
    run(x, &res);
    assert_int_equal(res.outcome, STDFU_UPDATE_DONE);
    assert_int_equal(x->f.n_again, 1);
    assert_int_equal(res.pages_read, 1);
    assert_int_equal(res.pages_skipped, 0);
    assert_int_equal(res.pages_written, 1);
}

static void test_verify_error_retried(void **state) {
    fixture *x = *state;
    stdfu_update_result res;

    x->f.flash_error = -EBADMSG;
    x->f.flash_error_in_verify = true;
    x->f.flash_error_times = 2;
    run(x, &res);
    assert_int_equal(res.outcome, STDFU_UPDATE_DONE);
    assert_int_equal(res.retries, 2);
    assert_int_equal(x->f.n_flash, 3);
}

static void test_persistent_fault_ends_attempt(void **state) {
    fixture *x = *state;
    stdfu_update_result res;

    x->f.mode = STDFU_USB_BOOTLOADER;
    x->f.flash_error = -EPIPE;
    x->f.flash_error_times = 100;
    x->f.bytes_before_error = 1024;
    x->o.retries = 3;
    run(x, &res);
    assert_int_equal(res.outcome, STDFU_UPDATE_FAILED);
    assert_int_equal(res.failure, STDFU_UPDATE_FAILURE_TRANSFER);
    assert_int_equal(res.retries, 3);
    assert_int_equal(x->f.n_flash, 4);
    /* what the ROM took before each failure, not 0 */
    assert_int_equal(res.bytes_written, 4 * 1024);
    assert_int_equal(x->f.n_leave, 0);
    /* in its bootloader: no application runs */
    assert_int_equal(res.final_mode, STDFU_USB_BOOTLOADER);
    assert_int_equal(res.running_bcd, 0);
}

static void test_reenumeration_during_write_reopened(void **state) {
    fixture *x = *state;
    stdfu_update_result res;

    x->f.flash_error = -ENODEV;
    x->f.flash_error_mode = STDFU_USB_BOOTLOADER; /* back at once, a new enumeration */
    run(x, &res);
    assert_int_equal(res.outcome, STDFU_UPDATE_DONE);
    assert_int_equal(res.retries, 1);
    assert_int_equal(res.attempts, 1);
    assert_int_equal(x->f.n_open, 2);
    assert_int_equal(x->f.n_flash, 2);
    assert_int_equal(res.running_bcd, NEW_BCD);
}

static void test_reenumeration_into_application_enters_again(void **state) {
    fixture *x = *state;
    stdfu_update_result res;

    x->f.flash_error = -ENODEV;
    x->f.flash_error_mode = STDFU_USB_APPLICATION; /* its application was still whole */
    run(x, &res);
    assert_int_equal(res.outcome, STDFU_UPDATE_DONE);
    assert_int_equal(res.retries, 1);
    assert_int_equal(res.attempts, 2);
    assert_int_equal(x->f.n_enter, 2);
}

/* Gone in the middle of the write behind a hub that cannot switch power: the device needs a
 * hand, and says so; the power cycle was offered, not counted. */
static void test_disconnect_not_back_needs_power_cycle(void **state) {
    fixture *x = *state;
    stdfu_update_result res;

    x->f.flash_error = -ENODEV;
    x->f.flash_error_mode = STDFU_USB_ABSENT;
    run(x, &res);
    assert_int_equal(res.outcome, STDFU_UPDATE_NEEDS_POWER_CYCLE);
    assert_non_null(strstr(res.error.message, "scripted failure"));
    assert_non_null(strstr(res.error.message, "went away while flashing"));
    assert_non_null(strstr(res.error.message, "cannot switch"));
    assert_int_equal(res.power_cycles, 0);
    assert_int_equal(res.steps[STDFU_UPDATE_STEP_POWER_CYCLE], 0);
    assert_int_equal(x->step_events[STDFU_UPDATE_STEP_POWER_CYCLE], 1); /* offered */
    assert_int_equal(res.final_mode, STDFU_USB_ABSENT);
    assert_int_equal(res.running_bcd, 0);
}

/* The same behind a hub that switches power per port: power-cycled once, back in its
 * bootloader (the flash half written), opened again and written to the end. */
static void test_disconnect_power_cycled_and_rewritten(void **state) {
    fixture *x = *state;
    stdfu_update_result res;

    x->f.flash_error = -ENODEV;
    x->f.flash_error_mode = STDFU_USB_ABSENT;
    x->f.ppps = true;
    x->f.boots_bootloader = true;
    run(x, &res);
    assert_int_equal(res.outcome, STDFU_UPDATE_DONE);
    assert_int_equal(res.power_cycles, 1);
    assert_int_equal(res.steps[STDFU_UPDATE_STEP_POWER_CYCLE], 1);
    assert_int_equal(res.retries, 1);
    assert_int_equal(res.attempts, 1);
    assert_int_equal(x->f.n_power, 1);
    assert_int_equal(x->f.n_open, 2);
    assert_int_equal(x->f.n_flash, 2);
    assert_int_equal(res.running_bcd, NEW_BCD);
}

static void test_cancel_is_not_retried(void **state) {
    fixture *x = *state;
    stdfu_update_result res;

    x->f.flash_error = -ECANCELED;
    run(x, &res);
    assert_int_equal(res.outcome, STDFU_UPDATE_CANCELLED);
    assert_int_equal(res.retries, 0);
    assert_int_equal(x->f.n_flash, 1);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void) {
    const struct CMUnitTest tests[] = {
        T(test_verify_failure),
        T(test_transfer_failure),
        T(test_write_error_retried),
        T(test_differential),
        T(test_verify_error_retried),
        T(test_persistent_fault_ends_attempt),
        T(test_reenumeration_during_write_reopened),
        T(test_reenumeration_into_application_enters_again),
        T(test_disconnect_not_back_needs_power_cycle),
        T(test_disconnect_power_cycled_and_rewritten),
        T(test_cancel_is_not_retried),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
