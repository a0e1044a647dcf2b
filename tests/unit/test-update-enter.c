/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Enter methods as the CLI and manifests spell them, and the hub descriptor bits that decide
 * whether a port can be power-cycled. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "update/enter.h"
#include "update/hub-power.h"

static void test_enter_parse(void **state) {
    stdfu_enter_method m;
    stdfu_error err = {};
    char buf[200];
    (void) state;

    static const struct {
        const char *in;
        stdfu_enter_kind kind;
    } simple[] = {
        { "auto", STDFU_ENTER_AUTO },
        { "st-hid-detach", STDFU_ENTER_ST_HID_DETACH },
        { "detach", STDFU_ENTER_DETACH },
        { "none", STDFU_ENTER_NONE },
    };
    for (size_t i = 0; i < sizeof simple / sizeof simple[0]; i++) {
        assert_int_equal(stdfu_enter_method_parse(simple[i].in, &m, &err), 0);
        assert_int_equal(m.kind, simple[i].kind);
        assert_int_equal(m.n_bytes, 0);
        assert_int_equal(stdfu_enter_method_format(&m, buf, sizeof buf), 0);
        assert_string_equal(buf, simple[i].in);
    }

    assert_int_equal(stdfu_enter_method_parse("hid-feature:8055", &m, &err), 0);
    assert_int_equal(m.kind, STDFU_ENTER_HID_FEATURE);
    assert_int_equal(m.n_bytes, 2);
    assert_int_equal(m.bytes[0], 0x80);
    assert_int_equal(m.bytes[1], 0x55);
    assert_int_equal(stdfu_enter_method_format(&m, buf, sizeof buf), 0);
    assert_string_equal(buf, "hid-feature:8055");

    assert_int_equal(stdfu_enter_method_parse("hid-output:07:99:aa", &m, &err), 0);
    assert_int_equal(m.kind, STDFU_ENTER_HID_OUTPUT);
    assert_int_equal(m.n_bytes, 3);
    assert_int_equal(stdfu_enter_method_format(&m, buf, sizeof buf), 0);
    assert_string_equal(buf, "hid-output:0799aa");
    assert_int_equal(stdfu_enter_method_format(&m, buf, 12), -ENOBUFS);
}

static void test_enter_parse_errors(void **state) {
    stdfu_enter_method m;
    stdfu_error err = {};
    (void) state;

    assert_int_equal(stdfu_enter_method_parse("bogus", &m, &err), -EINVAL);
    assert_non_null(strstr(err.message, "'bogus'"));
    assert_int_equal(stdfu_enter_method_parse("hid-feature", &m, &err), -EINVAL);
    assert_non_null(strstr(err.message, "hex"));
    assert_int_equal(stdfu_enter_method_parse("hid-feature:", &m, &err), -EINVAL);
    assert_int_equal(stdfu_enter_method_parse("hid-output:zz", &m, &err), -EINVAL);
    assert_non_null(strstr(err.message, "'zz'"));
    assert_int_equal(stdfu_enter_method_parse("autox", &m, &err), -EINVAL);
    assert_int_equal(stdfu_enter_method_parse("detach:01", &m, &err), -EINVAL);

    char big[200] = "hid-feature:";
    for (int i = 0; i < 65; i++)
        strcat(big, "01");
    assert_int_equal(stdfu_enter_method_parse(big, &m, &err), -E2BIG);
}

static void test_hub_descriptor(void **state) {
    stdfu_hub_switching sw;
    unsigned power_on_ms;
    (void) state;

    /* bLength 9, type 0x29, 4 ports, wHubCharacteristics 0x0009 (per-port power, per-port
     * over-current), bPwrOn2PwrGood 50 (100 ms), current 100 mA, removable, power mask. */
    const uint8_t ppps[] = { 9, 0x29, 4, 0x09, 0x00, 50, 100, 0x00, 0xff };
    assert_int_equal(stdfu_hub_descriptor_switching(ppps, sizeof ppps, &sw, &power_on_ms), 0);
    assert_int_equal(sw, STDFU_HUB_SWITCHING_PER_PORT);
    assert_int_equal(power_on_ms, 100);

    const uint8_t ganged[] = { 9, 0x29, 4, 0x00, 0x00, 50, 100, 0x00, 0xff };
    assert_int_equal(stdfu_hub_descriptor_switching(ganged, sizeof ganged, &sw, NULL), 0);
    assert_int_equal(sw, STDFU_HUB_SWITCHING_GANGED);

    const uint8_t none[] = { 9, 0x29, 4, 0x02, 0x00, 50, 100, 0x00, 0xff };
    assert_int_equal(stdfu_hub_descriptor_switching(none, sizeof none, &sw, NULL), 0);
    assert_int_equal(sw, STDFU_HUB_SWITCHING_NONE);
    const uint8_t none3[] = { 9, 0x29, 4, 0x03, 0x00, 50, 100, 0x00, 0xff };
    assert_int_equal(stdfu_hub_descriptor_switching(none3, sizeof none3, &sw, NULL), 0);
    assert_int_equal(sw, STDFU_HUB_SWITCHING_NONE);

    /* USB 3 hub descriptor (0x2A) has the same field. */
    const uint8_t ss[] = { 12, 0x2a, 4, 0x01, 0x00, 10, 0, 0, 0, 0, 0, 0 };
    assert_int_equal(stdfu_hub_descriptor_switching(ss, sizeof ss, &sw, &power_on_ms), 0);
    assert_int_equal(sw, STDFU_HUB_SWITCHING_PER_PORT);
    assert_int_equal(power_on_ms, 20);

    const uint8_t device_desc[] = { 18, 0x01, 0x00, 0x02, 9, 0, 1, 64, 0, 0 };
    assert_int_equal(stdfu_hub_descriptor_switching(device_desc, sizeof device_desc, &sw, NULL),
                     -EBADMSG);
    assert_int_equal(stdfu_hub_descriptor_switching(ppps, 5, &sw, NULL), -EBADMSG);
    assert_string_equal(stdfu_hub_switching_to_string(STDFU_HUB_SWITCHING_GANGED), "ganged");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_enter_parse),
        cmocka_unit_test(test_enter_parse_errors),
        cmocka_unit_test(test_hub_descriptor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
