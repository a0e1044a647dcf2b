/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Firmware images (SFW1 header, vector table) and --device SPEC parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <zlib.h>

#include "test-sim-util.h"

static uint32_t le32(const uint8_t *p) {
    return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 |
           (uint32_t) p[3] << 24;
}

static void test_header_layout(void **state) {
    uint8_t img[4096], copy[4096];
    const uint8_t *h = img + SIM_FW_HEADER_OFFSET;
    unsigned major = 0, minor = 0;
    uLong crc;
    (void) state;

    assert_int_equal(sim_fw_make(img, sizeof img, 1, 7, 3), 0);
    assert_memory_equal(h, "SFW1", 4);
    assert_int_equal(h[4], 1);
    assert_int_equal(h[5], 7);
    assert_int_equal(h[6] | h[7] << 8, 1);
    assert_int_equal(le32(h + 8), sizeof img);
    /* CRC-32 computed independently: the image with the crc field zeroed */
    memcpy(copy, img, sizeof img);
    memset(copy + SIM_FW_HEADER_OFFSET + 12, 0, 4);
    crc = crc32(crc32(0L, Z_NULL, 0), copy, sizeof copy);
    assert_int_equal(le32(h + 12), (uint32_t) crc);

    assert_true(sim_fw_check(img, sizeof img, &major, &minor));
    assert_int_equal(major, 1);
    assert_int_equal(minor, 7);
    /* a flash larger than the image: trailing bytes do not matter */
    assert_true(sim_fw_check(img, sizeof img, NULL, NULL));
}

static void test_vector_table(void **state) {
    uint8_t img[1024];
    (void) state;

    assert_int_equal(sim_fw_make(img, sizeof img, 1, 0, 1), 0);
    assert_int_equal(le32(img), 0x20004000);           /* SP in SRAM */
    assert_int_equal(le32(img + 4), 0x08000211);       /* reset: after the header, thumb */
    for (unsigned off = 8; off < SIM_FW_HEADER_OFFSET; off += 4) {
        uint32_t v = le32(img + off);
        assert_true(v & 1);
        assert_true(v >= 0x08000000 && v < 0x08000000 + sizeof img);
    }
    assert_int_equal(sim_fw_make_at(img, sizeof img, 1, 0, 1, 0x08004000), 0);
    assert_int_equal(le32(img + 4), 0x08004211);
    assert_true(sim_fw_check(img, sizeof img, NULL, NULL));
}

static void test_seed_and_reproducibility(void **state) {
    uint8_t a[2048], b[2048];
    (void) state;

    assert_int_equal(sim_fw_make(a, sizeof a, 2, 0, 5), 0);
    assert_int_equal(sim_fw_make(b, sizeof b, 2, 0, 5), 0);
    assert_memory_equal(a, b, sizeof a);
    assert_int_equal(sim_fw_make(b, sizeof b, 2, 0, 6), 0);
    assert_memory_not_equal(a + 0x300, b + 0x300, 256);
    assert_int_equal(sim_fw_make(b, sizeof b, 2, 0, 0), 0); /* seed 0 still makes code */
    assert_memory_not_equal(b + 0x300, (uint8_t[256]) { 0 }, 256);
}

static void test_rejects_bad_images(void **state) {
    uint8_t img[2048];
    (void) state;

    assert_int_equal(sim_fw_make(img, SIM_FW_HEADER_OFFSET + 4, 1, 0, 1), -EINVAL);
    assert_int_equal(sim_fw_make(img, sizeof img, 100, 0, 1), -ERANGE);
    assert_int_equal(sim_fw_make(img, sizeof img, 1, 100, 1), -ERANGE);

    assert_int_equal(sim_fw_make(img, sizeof img, 1, 0, 1), 0);
    img[1500] ^= 1; /* one bit of code */
    assert_false(sim_fw_check(img, sizeof img, NULL, NULL));
    img[1500] ^= 1;
    img[SIM_FW_HEADER_OFFSET] = 'X';
    assert_false(sim_fw_check(img, sizeof img, NULL, NULL));
    img[SIM_FW_HEADER_OFFSET] = 'S';
    assert_true(sim_fw_check(img, sizeof img, NULL, NULL));
    /* length beyond the flash */
    assert_false(sim_fw_check(img, sizeof img - 1, NULL, NULL));
    memset(img, 0xff, sizeof img);
    assert_false(sim_fw_check(img, sizeof img, NULL, NULL));
    assert_false(sim_fw_check(img, 16, NULL, NULL));
}

static void test_bcd(void **state) {
    (void) state;
    assert_int_equal(sim_fw_bcd(1, 2), 0x0102);
    assert_int_equal(sim_fw_bcd(10, 25), 0x1025);
    assert_int_equal(sim_fw_bcd(99, 99), 0x9999);
    assert_int_equal(sim_fw_bcd(0, 0), 0);
}

/* ---- configuration ---- */

static void test_config_defaults(void **state) {
    sim_device_config c;
    (void) state;

    sim_device_config_init(&c);
    assert_string_equal(c.port, "");
    assert_ptr_equal(c.profile, sim_profile_find("f072"));
    assert_int_equal(c.initial_mode, SIM_MODE_APPLICATION);
    assert_int_equal(c.version_major, 1);
    assert_int_equal(c.version_minor, 0);
    assert_false(c.blank);
    assert_int_equal(c.app_vid, 0x0483);
    assert_int_equal(c.app_pid, 0x5750);
    assert_int_equal(c.enter, SIM_ENTER_ST_HID_DETACH);
    assert_int_equal(c.leave, SIM_LEAVE_OK);
    assert_int_equal(c.stuck_count, 1);
    assert_true(c.slow_erase == 1.0);
    assert_false(c.rdp);
}

static void test_config_parse_everything(void **state) {
    sim_device_config c;
    char err[256] = "";
    (void) state;

    sim_device_config_init(&c);
    assert_int_equal(sim_device_config_parse(&c,
                         "port=2-1.4.3,profile=l476,mode=bootloader,version=3.14,blank=1,"
                         "vid=1209,pid=0xbeef,serial=SN-1,enter=hid-output:07:01:02,"
                         "leave=watchdog:250,unplug-at=4096,write-error-at=5,stall-status=2,"
                         "slow-erase=2.5,rdp=1",
                         err, sizeof err),
                     0);
    assert_string_equal(c.port, "2-1.4.3");
    assert_ptr_equal(c.profile, sim_profile_find("l476"));
    assert_int_equal(c.initial_mode, SIM_MODE_BOOTLOADER);
    assert_int_equal(c.version_major, 3);
    assert_int_equal(c.version_minor, 14);
    assert_true(c.blank);
    assert_int_equal(c.app_vid, 0x1209);
    assert_int_equal(c.app_pid, 0xbeef);
    assert_string_equal(c.app_serial, "SN-1");
    assert_int_equal(c.enter, SIM_ENTER_HID_OUTPUT);
    assert_int_equal(c.enter_len, 3);
    assert_memory_equal(c.enter_bytes, ((uint8_t[]) { 7, 1, 2 }), 3);
    assert_int_equal(c.leave, SIM_LEAVE_WATCHDOG);
    assert_int_equal(c.watchdog_ms, 250);
    assert_int_equal(c.unplug_at, 4096);
    assert_int_equal(c.write_error_at, 5);
    assert_int_equal(c.stall_status, 2);
    assert_true(c.slow_erase == 2.5);
    assert_true(c.rdp);

    assert_int_equal(sim_device_config_set(&c, "leave", "stuck:3", err, sizeof err), 0);
    assert_int_equal(c.leave, SIM_LEAVE_STUCK);
    assert_int_equal(c.stuck_count, 3);
    assert_int_equal(sim_device_config_set(&c, "leave", "stuck", err, sizeof err), 0);
    assert_int_equal(c.stuck_count, 1);
    assert_int_equal(sim_device_config_set(&c, "leave", "vanish", err, sizeof err), 0);
    assert_int_equal(c.leave, SIM_LEAVE_VANISH);
    assert_int_equal(sim_device_config_set(&c, "enter", "detach", err, sizeof err), 0);
    assert_int_equal(c.enter, SIM_ENTER_DFU_RUNTIME);
    assert_int_equal(sim_device_config_set(&c, "enter", "hid-feature:8055", err, sizeof err), 0);
    assert_int_equal(c.enter, SIM_ENTER_HID_FEATURE);
    assert_int_equal(c.enter_len, 2);
    assert_int_equal(sim_device_config_set(&c, "mode", "application", err, sizeof err), 0);
    assert_int_equal(c.initial_mode, SIM_MODE_APPLICATION);
    assert_int_equal(sim_device_config_set(&c, "app-vid", "0483", err, sizeof err), 0);
    assert_int_equal(c.app_vid, 0x0483);
}

static void expect_error(const char *key, const char *value, const char *needle) {
    sim_device_config c;
    char err[256] = "";

    sim_device_config_init(&c);
    assert_int_equal(sim_device_config_set(&c, key, value, err, sizeof err), -EINVAL);
    if (!strstr(err, needle))
        fail_msg("error for %s=%s is '%s', expected it to mention '%s'", key, value, err, needle);
    /* every message names the key and the value */
    assert_non_null(strstr(err, key));
    assert_non_null(strstr(err, value));
}

static void test_config_errors(void **state) {
    sim_device_config c;
    char err[256] = "";
    (void) state;

    expect_error("profile", "f999", "unknown profile");
    expect_error("port", "1-", "port");
    expect_error("port", "abc", "port");
    expect_error("port", "1-1..2", "port");
    expect_error("mode", "dfuse", "application or bootloader");
    expect_error("version", "1", "MAJOR.MINOR");
    expect_error("version", "1.100", "MAJOR.MINOR");
    expect_error("version", "1.2.3", "MAJOR.MINOR");
    expect_error("blank", "maybe", "0 or 1");
    expect_error("vid", "12345", "hex");
    expect_error("pid", "xyz", "hex");
    expect_error("serial", "", "serial");
    expect_error("product", "", "characters");
    expect_error("product", "a\tb", "printable");
    expect_error("enter", "magic", "st-hid-detach");
    expect_error("enter", "hid-feature:zz", "hex");
    expect_error("enter", "hid-feature:00:55", "report ID");
    expect_error("enter", "hid-output:80", "report ID");
    expect_error("leave", "sometimes", "ok, stuck");
    expect_error("leave", "stuck:0", "stuck:N");
    expect_error("leave-delay", "60001", "0..60000");
    expect_error("leave", "watchdog:", "watchdog:MS");
    expect_error("unplug-at", "0", "number");
    expect_error("unplug-at", "-5", "number");
    expect_error("write-error-at", "1", ">= 2");
    expect_error("write-error-at", "70000", "65535");
    expect_error("stall-status", "lots", "number");
    expect_error("slow-erase", "0", "factor");
    expect_error("slow-erase", "nan", "factor");
    expect_error("rdp", "2", "0 or 1");
    expect_error("colour", "blue", "unknown key");

    sim_device_config_init(&c);
    assert_int_equal(sim_device_config_parse(&c, "port=1-1.2,bogus", err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "bogus"));
    assert_int_equal(sim_device_config_parse(&c, "port=1-1.2,profile=x", err, sizeof err),
                     -EINVAL);
    assert_non_null(strstr(err, "'x'"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_layout),
        cmocka_unit_test(test_vector_table),
        cmocka_unit_test(test_seed_and_reproducibility),
        cmocka_unit_test(test_rejects_bad_images),
        cmocka_unit_test(test_bcd),
        cmocka_unit_test(test_config_defaults),
        cmocka_unit_test(test_config_parse_everything),
        cmocka_unit_test(test_config_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
