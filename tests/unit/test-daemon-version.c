/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Versions (MAJOR.MINOR, bcdDevice) and a rule's decision whether a device needs its update. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>

#include "manifest.h"
#include "util/macro.h"

static void test_version_parse(void **state) {
    stdfu_version v, w;
    char buf[STDFU_VERSION_STRING_MAX];
    (void) state;

    assert_int_equal(stdfu_version_parse("1.10", &v), 0);
    assert_int_equal(v.major, 1);
    assert_int_equal(v.minor, 10);
    assert_int_equal(stdfu_version_parse("1.9", &w), 0);
    assert_true(stdfu_version_compare(&v, &w) > 0);
    assert_true(stdfu_version_compare(&w, &v) < 0);
    assert_int_equal(stdfu_version_compare(&v, &v), 0);
    assert_int_equal(stdfu_version_parse("2.0", &w), 0);
    assert_true(stdfu_version_compare(&v, &w) < 0);
    assert_int_equal(stdfu_version_parse("0.0", &v), 0);
    assert_int_equal(stdfu_version_parse("65535.65535", &v), 0);
    assert_string_equal(stdfu_version_format(&v, buf, sizeof buf), "65535.65535");

    static const char *const bad[] = {"", "1", "1.", ".1", "1.2.3", "01.2", "1.02", "a.b",
                                      "-1.2", "+1.2", " 1.2", "1.2 ", "1,2", "0x1.2"};
    for (size_t i = 0; i < ELEMENTSOF(bad); i++)
        assert_int_equal(stdfu_version_parse(bad[i], &v), -EINVAL);
    assert_int_equal(stdfu_version_parse(NULL, &v), -EINVAL);
    assert_int_equal(stdfu_version_parse("65536.0", &v), -ERANGE);
    assert_int_equal(stdfu_version_parse("1.100000", &v), -ERANGE);
}

static void test_version_bcd(void **state) {
    stdfu_version v;
    uint16_t bcd;
    char buf[STDFU_VERSION_STRING_MAX];
    (void) state;

    assert_int_equal(stdfu_version_from_bcd(0x0102, &v), 0);
    assert_string_equal(stdfu_version_format(&v, buf, sizeof buf), "1.2");
    assert_int_equal(stdfu_version_from_bcd(0x0110, &v), 0);
    assert_string_equal(stdfu_version_format(&v, buf, sizeof buf), "1.10");
    assert_int_equal(stdfu_version_from_bcd(0x9999, &v), 0);
    assert_string_equal(stdfu_version_format(&v, buf, sizeof buf), "99.99");
    assert_int_equal(stdfu_version_from_bcd(0x010a, &v), -EINVAL);
    assert_int_equal(stdfu_version_from_bcd(0xa001, &v), -EINVAL);

    assert_int_equal(stdfu_version_parse("12.34", &v), 0);
    assert_int_equal(stdfu_version_to_bcd(&v, &bcd), 0);
    assert_int_equal(bcd, 0x1234);
    assert_int_equal(stdfu_version_parse("1.10", &v), 0);
    assert_int_equal(stdfu_version_to_bcd(&v, &bcd), 0);
    assert_int_equal(bcd, 0x0110);
    assert_int_equal(stdfu_version_parse("100.0", &v), 0);
    assert_int_equal(stdfu_version_to_bcd(&v, &bcd), -ERANGE);

    /* Round trip over every valid BCD value. */
    for (unsigned major = 0; major < 100; major++)
        for (unsigned minor = 0; minor < 100; minor++) {
            stdfu_version x = {(uint16_t) major, (uint16_t) minor}, y;
            assert_int_equal(stdfu_version_to_bcd(&x, &bcd), 0);
            assert_int_equal(stdfu_version_from_bcd(bcd, &y), 0);
            assert_int_equal(stdfu_version_compare(&x, &y), 0);
        }
}

static void test_enum_names(void **state) {
    (void) state;
    assert_null(stdfu_version_source_to_string(_STDFU_VERSION_SOURCE_MAX));
    for (int i = 0; i < _STDFU_VERSION_SOURCE_MAX; i++)
        assert_int_equal(stdfu_version_source_from_string(stdfu_version_source_to_string(i)), i);
    assert_int_equal(stdfu_version_source_from_string(NULL), _STDFU_VERSION_SOURCE_INVALID);
}

static void test_running_version(void **state) {
    stdfu_rule r = {.version_source = STDFU_VERSION_SOURCE_BCD_DEVICE};
    stdfu_version v;
    (void) state;

    assert_int_equal(stdfu_rule_running_version(&r, 0x0110, &v), 0);
    assert_int_equal(v.major, 1);
    assert_int_equal(v.minor, 10);
    assert_int_equal(stdfu_rule_running_version(&r, 0x010a, &v), -EINVAL);
    r.version_source = STDFU_VERSION_SOURCE_BCD_DEVICE_BINARY;
    assert_int_equal(stdfu_rule_running_version(&r, 0x010a, &v), 0);
    assert_int_equal(v.major, 1);
    assert_int_equal(v.minor, 10);
}

static void test_decide(void **state) {
    stdfu_rule r = {0};
    stdfu_version older = {1, 0}, same = {1, 2}, newer = {1, 10};
    char buf[256];
    (void) state;

    assert_int_equal(stdfu_version_parse("1.2", &r.firmware.version), 0);
    snprintf(r.firmware.version_string, sizeof r.firmware.version_string, "1.2");

    assert_int_equal(stdfu_rule_decide(&r, &older), STDFU_UPDATE_NEEDED);
    assert_int_equal(stdfu_rule_decide(&r, &same), STDFU_UPDATE_CURRENT);
    assert_int_equal(stdfu_rule_decide(&r, &newer), STDFU_UPDATE_DOWNGRADE_REFUSED);
    assert_int_equal(stdfu_rule_decide(&r, NULL), STDFU_UPDATE_UNKNOWN_REFUSED);
    assert_true(stdfu_rule_needs_update(&r, &older));
    assert_false(stdfu_rule_needs_update(&r, &same));
    assert_false(stdfu_rule_needs_update(&r, &newer));
    assert_false(stdfu_rule_needs_update(&r, NULL));
    assert_string_equal(stdfu_rule_describe_decision(&r, &older, buf, sizeof buf),
                        "runs 1.0, update to 1.2");
    assert_string_equal(stdfu_rule_describe_decision(&r, &same, buf, sizeof buf),
                        "runs 1.2, the target version");
    assert_string_equal(stdfu_rule_describe_decision(&r, &newer, buf, sizeof buf),
                        "runs 1.10, newer than the target 1.2, and allow-downgrade is off");
    assert_string_equal(stdfu_rule_describe_decision(&r, NULL, buf, sizeof buf),
                        "cannot read the running version (bcd-device), target 1.2, and "
                        "allow-downgrade is off");

    r.allow_downgrade = true;
    assert_int_equal(stdfu_rule_decide(&r, &older), STDFU_UPDATE_NEEDED);
    assert_int_equal(stdfu_rule_decide(&r, &same), STDFU_UPDATE_CURRENT);
    assert_int_equal(stdfu_rule_decide(&r, &newer), STDFU_UPDATE_NEEDED);
    assert_int_equal(stdfu_rule_decide(&r, NULL), STDFU_UPDATE_NEEDED);
    assert_string_equal(stdfu_rule_describe_decision(&r, &newer, buf, sizeof buf),
                        "runs 1.10, downgrade to 1.2 (allow-downgrade is on)");
    assert_string_equal(stdfu_rule_describe_decision(&r, NULL, buf, sizeof buf),
                        "running version unknown, target 1.2 (allow-downgrade is on)");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version_parse),
        cmocka_unit_test(test_version_bcd),
        cmocka_unit_test(test_enum_names),
        cmocka_unit_test(test_running_version),
        cmocka_unit_test(test_decide),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
