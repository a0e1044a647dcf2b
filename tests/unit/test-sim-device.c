/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Leave behaviours, port power, USB resets and the transitions a front-end carries out. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test-sim-util.h"

#define BASE 0x08000000u

/* Application with version 1.0, jumped into the ROM, flashed with 2.0, leaving. */
static sim_device *flash_and_leave(const char *spec, sim_usec *now) {
    sim_device *d = sim_test_device(spec);
    uint8_t img[2048], detach[2] = { 0x80, 0x55 };

    assert_int_equal(sim_fw_make(img, sizeof img, 2, 0, 9), 0);
    assert_int_equal(sim_device_hid_set_feature(d, detach, 2, *now), 2);
    *now = sim_test_follow(d).reconnect_at;
    assert_int_equal(sim_device_mode(d), SIM_MODE_BOOTLOADER);
    sim_test_idle(d, now);
    assert_int_equal(sim_test_erase(d, BASE, now), SIM_DFU_OK);
    assert_int_equal(sim_test_set_address(d, BASE, now), SIM_DFU_OK);
    assert_int_equal(sim_test_write(d, 2, img, sizeof img, now), SIM_DFU_OK);
    sim_test_leave(d, BASE, now);
    return d;
}

static void test_leave_ok(void **state) {
    sim_usec now = T0;
    sim_device *d = flash_and_leave("port=1-1.2", &now);
    sim_transition t = sim_test_follow(d);
    (void) state;

    assert_int_equal(t.mode, SIM_MODE_APPLICATION);
    assert_int_equal(t.at, now);
    assert_int_equal(sim_device_app_bcd(d), 0x0200);
    assert_int_equal(sim_device_device_descriptor(d)[12], 0x00);
    assert_int_equal(sim_device_device_descriptor(d)[13], 0x02);
    assert_int_equal(sim_device_counters(d)->leaves, 1);
    assert_int_equal(sim_device_counters(d)->boots, 2);
    assert_int_equal(sim_device_counters(d)->enumerations, 3);
    sim_device_free(d);
}

static void test_leave_stuck_n_times(void **state) {
    sim_usec now = T0;
    sim_device *d = flash_and_leave("port=1-1.2,leave=stuck:2", &now);
    sim_transition t = sim_test_follow(d);
    (void) state;

    assert_int_equal(t.mode, SIM_MODE_BOOTLOADER);
    assert_int_equal(t.reconnect_at, t.at + SIM_REENUM_US);
    now = t.reconnect_at;
    sim_test_leave(d, BASE, &now);
    t = sim_test_follow(d);
    assert_int_equal(t.mode, SIM_MODE_BOOTLOADER);
    now = t.reconnect_at;
    sim_test_leave(d, BASE, &now);
    t = sim_test_follow(d);
    assert_int_equal(t.mode, SIM_MODE_APPLICATION); /* third time lucky */
    assert_int_equal(sim_device_counters(d)->leaves, 3);
    assert_int_equal(sim_device_counters(d)->boots, 2);
    sim_device_free(d);
}

static void test_leave_vanish_until_power_cycle(void **state) {
    sim_usec now = T0;
    sim_device *d = flash_and_leave("port=1-1.2,leave=vanish", &now);
    sim_transition t = sim_test_follow(d);
    (void) state;

    assert_int_equal(t.mode, SIM_MODE_OFF);
    assert_int_equal(sim_device_mode(d), SIM_MODE_OFF);
    assert_false(sim_device_take_transition(d, &t));
    /* a reset cannot bring it back, nor a stray connected() */
    sim_device_usb_reset(d, now);
    assert_false(sim_device_take_transition(d, &t));
    sim_device_connected(d, SIM_MODE_APPLICATION, now);
    assert_int_equal(sim_device_mode(d), SIM_MODE_OFF);
    /* power on while powered is no cycle */
    sim_device_set_power(d, true, now);
    assert_false(sim_device_take_transition(d, &t));

    sim_device_set_power(d, false, now + 1000);
    t = sim_test_follow(d);
    assert_int_equal(t.mode, SIM_MODE_OFF);
    sim_device_set_power(d, true, now + 500000);
    t = sim_test_follow(d);
    assert_int_equal(t.mode, SIM_MODE_APPLICATION);
    assert_int_equal(t.at, now + 500000);
    assert_int_equal(t.reconnect_at, now + 500000 + SIM_BOOT_US);
    assert_int_equal(sim_device_app_bcd(d), 0x0200);
    assert_int_equal(sim_device_counters(d)->power_cycles, 1);
    sim_device_free(d);
}

static void test_leave_watchdog(void **state) {
    sim_usec now = T0;
    sim_device *d = flash_and_leave("port=1-1.2,leave=watchdog:1500", &now);
    sim_transition t = sim_test_follow(d);
    (void) state;

    assert_int_equal(t.mode, SIM_MODE_APPLICATION);
    assert_int_equal(t.at, now);
    assert_int_equal(t.reconnect_at, now + 1500000);
    assert_int_equal(sim_device_counters(d)->boots, 2);
    sim_device_free(d);
}

static void test_leave_with_bad_image_comes_back_as_rom(void **state) {
    sim_device *d = sim_test_device("port=1-1.2,mode=bootloader");
    sim_usec now = T0;
    sim_transition t;
    (void) state;

    /* erase page 0: the header is gone */
    assert_int_equal(sim_test_erase(d, BASE, &now), SIM_DFU_OK);
    sim_test_leave(d, BASE, &now);
    t = sim_test_follow(d);
    assert_int_equal(t.mode, SIM_MODE_BOOTLOADER);
    assert_int_equal(sim_device_counters(d)->boots, 0);
    sim_device_free(d);
}

static void test_usb_reset_same_mode_idle(void **state) {
    sim_device *d = sim_test_device("port=1-1.2,profile=f407,mode=bootloader");
    sim_usec now = T0;
    sim_transition t;
    (void) state;

    sim_test_idle(d, &now);
    assert_int_equal(sim_test_set_address(d, BASE + 0x4000, &now), SIM_DFU_OK);
    assert_int_equal(sim_test_ctrl(d, 0x01, 11, 1, 0, NULL, 0, &now), 0);
    sim_device_usb_reset(d, now);
    t = sim_test_follow(d);
    assert_int_equal(t.mode, SIM_MODE_BOOTLOADER);
    assert_int_equal(t.reconnect_at, now + SIM_REENUM_US);
    /* a USB reset is not a ROM start: dfuIDLE, not errFIRMWARE */
    assert_int_equal(sim_device_dfu_state(d), SIM_DFU_IDLE);
    assert_int_equal(sim_device_dfu_status(d), SIM_DFU_OK);
    assert_int_equal(sim_device_alt_setting(d), 0);
    assert_int_equal(sim_device_counters(d)->resets, 1);
    assert_int_equal(sim_device_counters(d)->enumerations, 2);

    sim_device_free(d);
    d = sim_test_device("port=1-1.2");
    sim_device_usb_reset(d, T0);
    t = sim_test_follow(d);
    assert_int_equal(t.mode, SIM_MODE_APPLICATION);
    assert_int_equal(sim_device_counters(d)->boots, 1); /* the application kept running */
    sim_device_free(d);
}

static void test_power_cycle_forgets_dfu_state(void **state) {
    sim_device *d = sim_test_device("port=1-1.2,blank=1");
    sim_usec now = T0;
    sim_transition t;
    (void) state;

    assert_int_equal(sim_device_mode(d), SIM_MODE_BOOTLOADER);
    assert_int_equal(sim_test_set_address(d, BASE + 2048, &now), SIM_DFU_OK);
    sim_device_set_power(d, false, now);
    assert_false(sim_device_powered(d));
    sim_device_set_power(d, false, now); /* twice is once */
    t = sim_test_follow(d);
    assert_int_equal(t.mode, SIM_MODE_OFF);
    sim_device_set_power(d, true, now + 10);
    t = sim_test_follow(d);
    assert_int_equal(t.mode, SIM_MODE_BOOTLOADER); /* still blank */
    assert_int_equal(sim_device_dfu_address(d), BASE);
    assert_int_equal(sim_device_dfu_state(d), SIM_DFU_IDLE);
    assert_int_equal(sim_device_counters(d)->power_cycles, 1);
    sim_device_free(d);
}

static void test_rom_detach_reenumerates(void **state) {
    sim_device *d = sim_test_device("port=1-1.2,mode=bootloader");
    sim_usec now = T0;
    sim_transition t;
    (void) state;

    assert_int_equal(sim_test_ctrl(d, 0x21, 0, 1000, 0, NULL, 0, &now), 0);
    t = sim_test_follow(d);
    assert_int_equal(t.mode, SIM_MODE_BOOTLOADER);
    assert_int_equal(sim_device_counters(d)->enumerations, 2);
    sim_device_free(d);
}

static void test_runtime_set(void **state) {
    sim_device *d = sim_test_device("port=1-1.2");
    char err[256] = "";
    size_t len;
    (void) state;

    assert_int_equal(sim_device_set(d, "profile", "f407", T0, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "profile"));
    assert_int_equal(sim_device_set(d, "leave", "nope", T0, err, sizeof err), -EINVAL);
    assert_int_equal(sim_device_set(d, "leave", "vanish", T0, err, sizeof err), 0);
    assert_int_equal(sim_device_get_config(d)->leave, SIM_LEAVE_VANISH);
    assert_int_equal(sim_device_set(d, "rdp", "1", T0, err, sizeof err), 0);
    assert_true(sim_device_read_protected(d));
    assert_int_equal(sim_device_set(d, "serial", "NEW-1", T0, err, sizeof err), 0);
    assert_string_equal(sim_device_serial(d), "NEW-1");
    /* enter and ids show from the next enumeration on */
    assert_int_equal(sim_device_set(d, "enter", "detach", T0, err, sizeof err), 0);
    assert_int_equal(sim_device_set(d, "pid", "5751", T0, err, sizeof err), 0);
    assert_int_equal(sim_device_config_descriptor(d, &len)[4], 1);
    sim_device_usb_reset(d, T0);
    sim_test_follow(d);
    assert_int_equal(sim_device_config_descriptor(d, &len)[4], 2);
    assert_int_equal(sim_device_device_descriptor(d)[10], 0x51);
    sim_device_free(d);
}

static void test_names(void **state) {
    (void) state;
    assert_string_equal(sim_dfu_state_name(SIM_DFU_DNBUSY), "dfuDNBUSY");
    assert_string_equal(sim_dfu_state_name(SIM_DFU_ERROR), "dfuERROR");
    assert_string_equal(sim_dfu_state_name((sim_dfu_state) 42), "unknown");
    assert_string_equal(sim_dfu_status_name(SIM_DFU_ERR_TARGET), "errTARGET");
    assert_string_equal(sim_dfu_status_name(SIM_DFU_ERR_STALLEDPKT), "errSTALLEDPKT");
    assert_string_equal(sim_dfu_status_name((sim_dfu_status) 99), "unknown");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_leave_ok),
        cmocka_unit_test(test_leave_stuck_n_times),
        cmocka_unit_test(test_leave_vanish_until_power_cycle),
        cmocka_unit_test(test_leave_watchdog),
        cmocka_unit_test(test_leave_with_bad_image_comes_back_as_rom),
        cmocka_unit_test(test_usb_reset_same_mode_idle),
        cmocka_unit_test(test_power_cycle_forgets_dfu_state),
        cmocka_unit_test(test_rom_detach_reenumerates),
        cmocka_unit_test(test_runtime_set),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
