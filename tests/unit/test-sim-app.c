/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The HID application and its ways into the ROM bootloader. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test-sim-util.h"

static void expect_jump(sim_device *d, sim_usec after) {
    sim_transition t;
    size_t len;
    const uint8_t *dev;

    assert_true(sim_device_take_transition(d, &t));
    assert_int_equal(t.mode, SIM_MODE_BOOTLOADER);
    assert_true(t.at >= after + 1000); /* after the report's own transfer */
    assert_int_equal(t.reconnect_at, t.at + SIM_REENUM_US);
    assert_int_equal(sim_device_mode(d), SIM_MODE_OFF);
    sim_device_connected(d, t.mode, t.reconnect_at);
    assert_int_equal(sim_device_mode(d), SIM_MODE_BOOTLOADER);
    dev = sim_device_device_descriptor(d);
    assert_int_equal(dev[10] | dev[11] << 8, 0xdf11);
    assert_null(sim_device_hid_report_descriptor(d, &len));
    assert_int_equal(sim_device_counters(d)->enumerations, 2);
    assert_int_equal(sim_device_dfu_state(d), SIM_DFU_IDLE);
}

static void test_st_hid_detach(void **state) {
    sim_device *d = sim_test_device("port=1-1.2");
    uint8_t wrong[8] = { 0x80, 0x54 }, right[8] = { 0x80, 0x55 }, get[8] = { 0x80 };
    uint8_t other[2] = { 0x42, 0x55 };
    sim_transition t;
    (void) state;

    assert_int_equal(sim_device_mode(d), SIM_MODE_APPLICATION);
    assert_int_equal(sim_device_counters(d)->boots, 1);
    /* the report exists, but only 0x55 jumps */
    assert_int_equal(sim_device_hid_set_feature(d, wrong, sizeof wrong, T0), 8);
    assert_false(sim_device_take_transition(d, &t));
    assert_int_equal(sim_device_hid_get_feature(d, get, sizeof get, T0), 2);
    assert_int_equal(get[0], 0x80);
    assert_int_equal(get[1], 0);
    /* an unknown report is stalled */
    assert_int_equal(sim_device_hid_set_feature(d, other, sizeof other, T0), -EPIPE);
    assert_int_equal(sim_device_hid_get_feature(d, other, sizeof other, T0), -EPIPE);
    assert_false(sim_device_take_transition(d, &t));

    assert_int_equal(sim_device_hid_set_feature(d, right, sizeof right, T0 + 5000), 8);
    expect_jump(d, T0 + 5000);
    /* HID calls go nowhere in the bootloader */
    assert_int_equal(sim_device_hid_set_feature(d, right, sizeof right, T0), -ENODEV);
    assert_int_equal(sim_device_hid_output(d, right, 2, T0), -ENODEV);
    sim_device_free(d);
}

static void test_detach_through_set_report(void **state) {
    sim_device *d = sim_test_device("port=1-1.2,profile=l476");
    sim_usec now = T0;
    uint8_t buf[256] = { 0x80, 0x55 };
    size_t rlen;
    const uint8_t *rd = sim_device_hid_report_descriptor(d, &rlen);
    (void) state;

    /* the report descriptor, as the kernel's usbhid reads it */
    assert_int_equal(sim_test_ctrl(d, 0x81, 6, 0x2200, 0, buf + 8, 255, &now), (int) rlen);
    assert_memory_equal(buf + 8, rd, rlen);
    assert_int_equal(sim_test_ctrl(d, 0x81, 6, 0x2100, 0, buf + 8, 9, &now), 9);
    assert_int_equal(buf[9], 0x21);
    assert_int_equal(sim_test_ctrl(d, 0x21, 0x0a, 0, 0, NULL, 0, &now), 0); /* SET_IDLE */
    /* SET_REPORT(feature 0x80) */
    assert_int_equal(sim_test_ctrl(d, 0x21, 0x09, 0x0380, 0, buf, 2, &now), 2);
    expect_jump(d, now - 1002);
    sim_device_free(d);
}

static void test_f407_rom_start_after_jump(void **state) {
    sim_device *d = sim_test_device("port=1-1.2,profile=f407");
    uint8_t right[2] = { 0x80, 0x55 };
    sim_transition t;
    (void) state;

    assert_int_equal(sim_device_hid_set_feature(d, right, 2, T0), 2);
    t = sim_test_follow(d);
    assert_int_equal(t.mode, SIM_MODE_BOOTLOADER);
    assert_int_equal(sim_device_dfu_state(d), SIM_DFU_ERROR);
    assert_int_equal(sim_device_dfu_status(d), SIM_DFU_ERR_FIRMWARE);
    sim_device_free(d);
}

static void test_custom_feature_report(void **state) {
    sim_device *d = sim_test_device("port=1-1.3,enter=hid-feature:05:de:ad");
    uint8_t st[2] = { 0x80, 0x55 }, partial[3] = { 0x05, 0xde, 0x00 };
    uint8_t padded[8] = { 0x05, 0xde, 0xad }, get[8] = { 0x05, 1, 2, 3 };
    sim_transition t;
    size_t rlen;
    const uint8_t *rd = sim_device_hid_report_descriptor(d, &rlen);
    (void) state;

    assert_non_null(memmem(rd, rlen, ((const uint8_t[]) { 0x85, 0x05, 0x95, 0x02 }), 4));
    assert_null(memmem(rd, rlen, ((const uint8_t[]) { 0x85, 0x80 }), 2));
    /* ST's report is not there */
    assert_int_equal(sim_device_hid_set_feature(d, st, 2, T0), -EPIPE);
    assert_int_equal(sim_device_hid_set_feature(d, partial, 3, T0), 3);
    assert_false(sim_device_take_transition(d, &t));
    assert_int_equal(sim_device_hid_get_feature(d, get, sizeof get, T0), 3);
    assert_int_equal(get[1], 0);
    /* zero padding after the configured bytes is fine */
    assert_int_equal(sim_device_hid_set_feature(d, padded, sizeof padded, T0), 8);
    expect_jump(d, T0);
    sim_device_free(d);
}

static void test_custom_output_report(void **state) {
    sim_device *d = sim_test_device("port=1-1.3,enter=hid-output:02:b0:07");
    uint8_t nope[3] = { 0x02, 0xb0, 0x08 }, yes[3] = { 0x02, 0xb0, 0x07 }, st[2] = { 0x80, 0x55 };
    sim_transition t;
    (void) state;

    assert_int_equal(sim_device_hid_set_feature(d, st, 2, T0), -EPIPE);
    assert_int_equal(sim_device_hid_output(d, nope, 3, T0), 3);
    assert_false(sim_device_take_transition(d, &t));
    assert_int_equal(sim_device_hid_output(d, yes, 3, T0), 3);
    expect_jump(d, T0);
    sim_device_free(d);
}

static void test_input_output_reports(void **state) {
    sim_device *d = sim_test_device("port=1-1.3");
    uint8_t out[64], in[64];
    sim_usec now = T0;
    (void) state;

    assert_false(sim_device_hid_input_pending(d));
    assert_int_equal(sim_device_hid_read(d, in, sizeof in), 0);
    memset(out, 0, sizeof out);
    out[0] = 0x01;
    memcpy(out + 1, "ping", 4);
    assert_int_equal(sim_device_hid_output(d, out, 64, T0), 64);
    assert_true(sim_device_hid_input_pending(d));
    assert_int_equal(sim_device_hid_read(d, in, 10), -ENOBUFS);
    assert_int_equal(sim_device_hid_read(d, in, sizeof in), 64);
    assert_memory_equal(in, out, 64);
    assert_false(sim_device_hid_input_pending(d));
    /* unknown output report */
    out[0] = 0x33;
    assert_int_equal(sim_device_hid_output(d, out, 64, T0), -EINVAL);
    /* the queue keeps the newest reports when nobody reads */
    for (unsigned i = 0; i < 20; i++) {
        out[0] = 0x01;
        out[1] = (uint8_t) i;
        assert_int_equal(sim_device_hid_output(d, out, 64, T0), 64);
    }
    assert_int_equal(sim_device_hid_read(d, in, sizeof in), 64);
    assert_int_equal(in[1], 20 - 8);
    /* GET_REPORT(input 1) and the protocol requests over control */
    assert_int_equal(sim_test_ctrl(d, 0xa1, 0x01, 0x0101, 0, in, 64, &now), 64);
    assert_int_equal(in[0], 1);
    assert_int_equal(sim_test_ctrl(d, 0xa1, 0x03, 0, 0, in, 1, &now), 1);
    assert_int_equal(in[0], 1);
    assert_int_equal(sim_test_ctrl(d, 0xa1, 0x01, 0x0107, 0, in, 64, &now), -EPIPE);
    sim_device_free(d);
}

static void test_dfu_runtime_detach(void **state) {
    sim_device *d = sim_test_device("port=1-1.2,enter=detach");
    sim_usec now = T0;
    uint8_t buf[8], st[2] = { 0x80, 0x55 };
    (void) state;

    /* no HID detach report here */
    assert_int_equal(sim_device_hid_set_feature(d, st, 2, T0), -EPIPE);
    assert_int_equal(sim_test_ctrl(d, 0x01, 11, 0, 1, NULL, 0, &now), 0);
    assert_int_equal(sim_test_ctrl(d, 0xa1, 3, 0, 1, buf, 6, &now), 6);
    assert_int_equal(buf[4], SIM_DFU_APP_IDLE);
    assert_int_equal(sim_test_ctrl(d, 0xa1, 5, 0, 1, buf, 1, &now), 1);
    assert_int_equal(buf[0], SIM_DFU_APP_IDLE);
    assert_int_equal(sim_test_ctrl(d, 0x21, 0, 1000, 1, NULL, 0, &now), 0);
    expect_jump(d, now - 1000);
    sim_device_free(d);
}

static void test_no_runtime_interface_by_default(void **state) {
    sim_device *d = sim_test_device("port=1-1.2");
    sim_usec now = T0;
    sim_transition t;
    (void) state;

    assert_int_equal(sim_test_ctrl(d, 0x21, 0, 1000, 1, NULL, 0, &now), -EPIPE);
    assert_int_equal(sim_test_ctrl(d, 0x01, 11, 0, 1, NULL, 0, &now), -EPIPE);
    assert_false(sim_device_take_transition(d, &t));
    sim_device_free(d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_st_hid_detach),
        cmocka_unit_test(test_detach_through_set_report),
        cmocka_unit_test(test_f407_rom_start_after_jump),
        cmocka_unit_test(test_custom_feature_report),
        cmocka_unit_test(test_custom_output_report),
        cmocka_unit_test(test_input_output_reports),
        cmocka_unit_test(test_dfu_runtime_detach),
        cmocka_unit_test(test_no_runtime_interface_by_default),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
