/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The update cycle and its recovery ladder after leave against the fake device: every leave
 * behaviour, old versions, refusals, cancel, options. */
#include "update-fake.h"

static void test_ok_from_application(void **state) {
    fixture *x = *state;
    stdfu_update_result res;

    run(x, &res);
    assert_int_equal(res.outcome, STDFU_UPDATE_DONE);
    assert_int_equal(res.failure, STDFU_UPDATE_FAILURE_NONE);
    assert_int_equal(res.entered_with, STDFU_ENTER_ST_HID_DETACH);
    assert_int_equal(res.final_mode, STDFU_USB_APPLICATION);
    assert_int_equal(res.old_bcd, OLD_BCD);
    assert_int_equal(res.running_bcd, NEW_BCD);
    assert_int_equal(res.attempts, 1);
    assert_int_equal(res.leaves, 1);
    assert_int_equal(res.bytes_written, sizeof x->data);
    assert_int_equal(x->f.n_enter, 1);
    assert_int_equal(x->f.n_flash, 1);
    assert_int_equal(x->f.n_power + x->f.n_reset, 0);
    assert_true(x->byte_events >= 2);
    for (int s = 0; s < _STDFU_UPDATE_STEP_MAX; s++)
        assert_int_equal(res.steps[s], 0);
}

static void test_already_in_bootloader_no_leave(void **state) {
    fixture *x = *state;
    stdfu_update_result res;

    x->f.mode = STDFU_USB_BOOTLOADER;
    x->o.leave = false;
    run(x, &res);
    assert_int_equal(res.outcome, STDFU_UPDATE_DONE);
    assert_int_equal(res.entered_with, STDFU_ENTER_NONE);
    assert_int_equal(res.final_mode, STDFU_USB_BOOTLOADER);
    assert_int_equal(res.old_bcd, 0); /* nothing ran before: unknown */
    assert_int_equal(x->f.n_enter, 0);
    assert_int_equal(x->f.n_leave, 0);
    assert_int_equal(x->f.mode, STDFU_USB_BOOTLOADER);
}

static void test_stuck_once_leaves_again(void **state) {
    fixture *x = *state;
    stdfu_update_result res;

    x->f.leave = LEAVE_STUCK;
    x->f.stuck_left = 1;
    run(x, &res);
    assert_int_equal(res.outcome, STDFU_UPDATE_DONE);
    assert_int_equal(res.steps[STDFU_UPDATE_STEP_LEAVE_AGAIN], 1);
    assert_int_equal(x->step_events[STDFU_UPDATE_STEP_LEAVE_AGAIN], 1);
    assert_int_equal(res.steps[STDFU_UPDATE_STEP_PORT_RESET], 0);
    assert_int_equal(res.leaves, 2);
    assert_int_equal(res.attempts, 1);
    assert_int_equal(res.running_bcd, NEW_BCD);
}

static void test_stuck_twice_port_reset(void **state) {
    fixture *x = *state;
    stdfu_update_result res;

    x->f.leave = LEAVE_STUCK;
    x->f.stuck_left = 2;
    x->f.reset_unsticks = true;
    run(x, &res);
    assert_int_equal(res.outcome, STDFU_UPDATE_DONE);
    assert_int_equal(res.steps[STDFU_UPDATE_STEP_LEAVE_AGAIN], 1);
    assert_int_equal(res.steps[STDFU_UPDATE_STEP_PORT_RESET], 1);
    assert_int_equal(res.port_resets, 1);
    assert_int_equal(x->f.n_reset, 1);
    assert_int_equal(res.attempts, 1);
}

static void test_stuck_until_reflash(void **state) {
    fixture *x = *state;
    stdfu_update_result res;

    /* Stuck for leave, leave again and reset: the third rung flashes again; then it works. */
    x->f.leave = LEAVE_STUCK;
    x->f.stuck_left = 2;
    run(x, &res);
    assert_int_equal(res.outcome, STDFU_UPDATE_DONE);
    assert_int_equal(res.steps[STDFU_UPDATE_STEP_REFLASH], 1);
    assert_int_equal(res.attempts, 2);
    assert_int_equal(x->f.n_flash, 2);
    assert_int_equal(x->f.n_enter, 1);
}

static void test_stuck_forever_is_bounded(void **state) {
    fixture *x = *state;
    stdfu_update_result res;

    x->f.leave = LEAVE_STUCK;
    x->f.stuck_left = 1000;
    x->o.max_attempts = 2;
    run(x, &res);
    assert_int_equal(res.outcome, STDFU_UPDATE_FAILED);
    assert_int_equal(res.failure, STDFU_UPDATE_FAILURE_RECOVERY);
    assert_int_equal(res.attempts, 2);
    assert_int_equal(x->f.n_flash, 2);
    assert_non_null(strstr(res.error.message, "2 flash attempts"));
}

static void test_vanish_ppps_power_cycle(void **state) {
    fixture *x = *state;
    stdfu_update_result res;

    x->f.leave = LEAVE_VANISH;
    x->f.ppps = true;
    run(x, &res);
    assert_int_equal(res.outcome, STDFU_UPDATE_DONE);
    assert_int_equal(res.steps[STDFU_UPDATE_STEP_GRACE], 1);
    assert_int_equal(res.steps[STDFU_UPDATE_STEP_POWER_CYCLE], 1);
    assert_int_equal(res.power_cycles, 1);
    assert_int_equal(res.running_bcd, NEW_BCD);
}

static void test_vanish_ganged_needs_power_cycle(void **state) {
    fixture *x = *state;
    stdfu_update_result res;

    x->f.leave = LEAVE_VANISH;
    run(x, &res);
    assert_int_equal(res.outcome, STDFU_UPDATE_NEEDS_POWER_CYCLE);
    assert_int_equal(res.power_cycles, 0);
    assert_int_equal(res.steps[STDFU_UPDATE_STEP_GRACE], 1);
    assert_non_null(strstr(res.error.message, "port " PORT));
    assert_non_null(strstr(res.error.message, "cannot switch"));
    /* the power cycle was offered, not done; nothing runs, nothing is on the port */
    assert_int_equal(res.steps[STDFU_UPDATE_STEP_POWER_CYCLE], 0);
    assert_int_equal(res.final_mode, STDFU_USB_ABSENT);
    assert_int_equal(res.running_bcd, 0);
}

static void test_watchdog_recovered_by_waiting(void **state) {
    fixture *x = *state;
    stdfu_update_result res;

    x->f.leave = LEAVE_WATCHDOG;
    x->f.watchdog_waits = 1; /* the first wait times out, it is back during the grace period */
    x->f.ppps = true;
    run(x, &res);
    assert_int_equal(res.outcome, STDFU_UPDATE_DONE);
    assert_int_equal(res.steps[STDFU_UPDATE_STEP_GRACE], 1);
    assert_int_equal(res.power_cycles, 0);
    assert_int_equal(x->f.n_power, 0);
}

static void test_old_version_retries(void **state) {
    fixture *x = *state;
    stdfu_update_result res;

    x->f.flashes_not_taking = 1;
    run(x, &res);
    assert_int_equal(res.outcome, STDFU_UPDATE_DONE);
    assert_int_equal(res.attempts, 2);
    assert_int_equal(x->f.n_enter, 2);
    assert_int_equal(res.steps[STDFU_UPDATE_STEP_REFLASH], 1);
    assert_int_equal(res.running_bcd, NEW_BCD);
}

static void test_old_version_forever_fails(void **state) {
    fixture *x = *state;
    stdfu_update_result res;

    x->f.flashes_not_taking = 100;
    x->o.max_attempts = 3;
    run(x, &res);
    assert_int_equal(res.outcome, STDFU_UPDATE_FAILED);
    assert_int_equal(res.failure, STDFU_UPDATE_FAILURE_VERSION);
    assert_int_equal(res.attempts, 3);
    assert_non_null(strstr(res.error.message, "1.00"));
}

static void test_image_refused_before_erase(void **state) {
    fixture *x = *state;
    stdfu_update_result res;

    x->element.address = 0x08020000; /* past the 128 KiB of flash */
    run(x, &res);
    assert_int_equal(res.outcome, STDFU_UPDATE_FAILED);
    assert_int_equal(res.failure, STDFU_UPDATE_FAILURE_IMAGE);
    assert_int_equal(x->f.n_flash, 0);
    assert_non_null(strstr(res.error.message, "nothing erased"));
    /* it was entered from the application: it is sent back there, and the result says so */
    assert_int_equal(x->f.mode, STDFU_USB_APPLICATION);
    assert_int_equal(x->f.running_bcd, OLD_BCD);
    assert_int_equal(res.final_mode, STDFU_USB_APPLICATION);
    assert_int_equal(res.running_bcd, OLD_BCD);
}

static void test_ids_mismatch_refused(void **state) {
    fixture *x = *state;
    stdfu_update_result res;

    x->f.mode = STDFU_USB_BOOTLOADER;
    x->img.has_suffix = true;
    x->img.vid = 0x1234;
    x->img.pid = 0x5678;
    run(x, &res);
    assert_int_equal(res.failure, STDFU_UPDATE_FAILURE_IMAGE);
    assert_int_equal(x->f.n_flash, 0);
    assert_int_equal(x->f.n_leave, 0);
}

static void test_no_device(void **state) {
    fixture *x = *state;
    stdfu_update_result res;

    x->f.mode = STDFU_USB_ABSENT;
    run(x, &res);
    assert_int_equal(res.outcome, STDFU_UPDATE_FAILED);
    assert_int_equal(res.failure, STDFU_UPDATE_FAILURE_NO_DEVICE);
    assert_non_null(strstr(res.error.message, PORT));
}

static void test_cancel(void **state) {
    fixture *x = *state;
    stdfu_update_result res;

    x->f.cancel_on_flash = &x->cancel;
    run(x, &res);
    assert_int_equal(res.outcome, STDFU_UPDATE_CANCELLED);
    assert_int_equal(x->f.n_leave, 0);
}

static void test_skip_if_current(void **state) {
    fixture *x = *state;
    stdfu_update_result res;

    x->f.flash_bcd = x->f.running_bcd = NEW_BCD;
    x->o.skip_if_current = true;
    run(x, &res);
    assert_int_equal(res.outcome, STDFU_UPDATE_DONE);
    assert_int_equal(x->f.n_enter + x->f.n_flash, 0);
}

static void test_failed_leave_is_recovered(void **state) {
    fixture *x = *state;
    stdfu_update_result res;

    x->f.leave_error_once = true;
    run(x, &res);
    assert_int_equal(res.outcome, STDFU_UPDATE_DONE);
    assert_int_equal(res.steps[STDFU_UPDATE_STEP_LEAVE_AGAIN], 1);
    assert_int_equal(res.attempts, 1);
    assert_int_equal(x->f.n_leave, 2);
}

static void test_enter_none_on_application(void **state) {
    fixture *x = *state;
    stdfu_update_result res;

    x->o.enter.kind = STDFU_ENTER_NONE;
    run(x, &res);
    assert_int_equal(res.outcome, STDFU_UPDATE_FAILED);
    assert_int_equal(res.failure, STDFU_UPDATE_FAILURE_ENTER);
    assert_int_equal(x->f.n_enter + x->f.n_open, 0);
    assert_non_null(strstr(res.error.message, "enter method is none"));
}

static void test_bad_options(void **state) {
    fixture *x = *state;
    stdfu_update_result res;

    x->o.port = "not-a-port";
    assert_int_equal(stdfu_update_run(&x->o, &res), -EINVAL);
    assert_non_null(strstr(res.error.message, "not-a-port"));
}

static void test_names(void **state) {
    (void) state;
    assert_string_equal(stdfu_update_outcome_to_string(STDFU_UPDATE_NEEDS_POWER_CYCLE),
                        "needs-power-cycle");
    assert_string_equal(stdfu_update_step_to_string(STDFU_UPDATE_STEP_POWER_CYCLE),
                        "power-cycle");
    assert_string_equal(stdfu_update_step_to_string(STDFU_UPDATE_STEP_RETRY), "retry");
    assert_string_equal(stdfu_update_phase_to_string(STDFU_UPDATE_PHASE_VERIFY), "verify");
    assert_string_equal(stdfu_update_failure_to_string(STDFU_UPDATE_FAILURE_IMAGE), "image");
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void) {
    const struct CMUnitTest tests[] = {
        T(test_ok_from_application),
        T(test_already_in_bootloader_no_leave),
        T(test_stuck_once_leaves_again),
        T(test_stuck_twice_port_reset),
        T(test_stuck_until_reflash),
        T(test_stuck_forever_is_bounded),
        T(test_vanish_ppps_power_cycle),
        T(test_vanish_ganged_needs_power_cycle),
        T(test_watchdog_recovered_by_waiting),
        T(test_old_version_retries),
        T(test_old_version_forever_fails),
        T(test_image_refused_before_erase),
        T(test_ids_mismatch_refused),
        T(test_no_device),
        T(test_cancel),
        T(test_skip_if_current),
        T(test_failed_leave_is_recovered),
        T(test_enter_none_on_application),
        T(test_bad_options),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
