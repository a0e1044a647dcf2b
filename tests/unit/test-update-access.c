/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The bootloader for read and erase (stdfu_update_access_*) against the fake device. */
#include "update-fake.h"

/* read and erase: entered and left with the cycle's own steps, nothing flashed. */
static void test_access_enter_and_leave(void **state) {
    fixture *x = *state;
    stdfu_update_access *a = NULL;
    stdfu_update_result res;

    x->o.image = NULL;
    assert_int_equal(stdfu_update_access_begin(&x->o, &res, &a), 0);
    assert_ptr_equal(stdfu_update_access_session(a), &x->f);
    assert_non_null(stdfu_update_access_layout(a));
    assert_int_equal(x->f.n_enter, 1);
    assert_int_equal(x->f.n_open, 1);
    stdfu_update_access_end(a, false, STDFU_UPDATE_FAILURE_NONE);
    assert_int_equal(res.outcome, STDFU_UPDATE_DONE);
    assert_int_equal(res.entered_with, STDFU_ENTER_ST_HID_DETACH);
    assert_int_equal(res.leaves, 1);
    assert_int_equal(res.final_mode, STDFU_USB_APPLICATION);
    assert_int_equal(x->f.n_flash, 0);
}

/* The caller's operation failed: still left, the failure kept. */
static void test_access_failure_kept(void **state) {
    fixture *x = *state;
    stdfu_update_access *a = NULL;
    stdfu_update_result res;

    assert_int_equal(stdfu_update_access_begin(&x->o, &res, &a), 0);
    stdfu_error_set(&res.error, -EACCES, "read-protected");
    stdfu_update_access_end(a, false, STDFU_UPDATE_FAILURE_TRANSFER);
    assert_int_equal(res.outcome, STDFU_UPDATE_FAILED);
    assert_int_equal(res.failure, STDFU_UPDATE_FAILURE_TRANSFER);
    assert_string_equal(res.error.message, "read-protected");
    assert_int_equal(res.leaves, 1);
    assert_int_equal(res.final_mode, STDFU_USB_APPLICATION);
}

/* stay: the device is not left (its flash holds no application). */
static void test_access_stay(void **state) {
    fixture *x = *state;
    stdfu_update_access *a = NULL;
    stdfu_update_result res;

    assert_int_equal(stdfu_update_access_begin(&x->o, &res, &a), 0);
    stdfu_update_access_end(a, true, STDFU_UPDATE_FAILURE_NONE);
    assert_int_equal(res.outcome, STDFU_UPDATE_DONE);
    assert_int_equal(res.leaves, 0);
    assert_int_equal(res.final_mode, STDFU_USB_BOOTLOADER);
}

static void test_access_no_device(void **state) {
    fixture *x = *state;
    stdfu_update_access *a = NULL;
    stdfu_update_result res;

    x->f.mode = STDFU_USB_ABSENT;
    x->o.find_timeout = 0;
    assert_true(stdfu_update_access_begin(&x->o, &res, &a) < 0);
    assert_null(a);
    assert_int_equal(res.outcome, STDFU_UPDATE_FAILED);
    assert_int_equal(res.failure, STDFU_UPDATE_FAILURE_NO_DEVICE);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void) {
    const struct CMUnitTest tests[] = {
        T(test_access_enter_and_leave),
        T(test_access_failure_kept),
        T(test_access_stay),
        T(test_access_no_device),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
