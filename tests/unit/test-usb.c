/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lib/usb without USB: port paths, id classes, matchers, selection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "usb/usb.h"

static void test_port_parse(void **state) {
    uint8_t ports[STDFU_USB_PORT_DEPTH];
    unsigned bus = 0;
    size_t n = 0;
    (void) state;

    assert_int_equal(stdfu_usb_port_parse("1-1.4", &bus, ports, &n), 0);
    assert_int_equal(bus, 1);
    assert_int_equal(n, 2);
    assert_int_equal(ports[0], 1);
    assert_int_equal(ports[1], 4);

    assert_int_equal(stdfu_usb_port_parse("12-3", &bus, ports, &n), 0);
    assert_int_equal(bus, 12);
    assert_int_equal(n, 1);
    assert_int_equal(ports[0], 3);

    assert_int_equal(stdfu_usb_port_parse("255-1.2.3.4.5.6.255", &bus, ports, &n), 0);
    assert_int_equal(n, 7);
    assert_int_equal(ports[6], 255);

    static const char *const bad[] = {
        "", "1", "1-", "-1", "1-1.", "1-.1", "0-1", "1-0", "1-01", "01-1", "256-1", "1-256",
        "1-1.2.3.4.5.6.7.8", "usb1", "1-1:1.0", "1-1 ", " 1-1", "1-1.4x", "a-1", "1--1",
        "1-1..2", "1-+1",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(stdfu_usb_port_parse(bad[i], &bus, ports, &n), -EINVAL);
        assert_false(stdfu_usb_port_is_valid(bad[i]));
    }
    assert_false(stdfu_usb_port_is_valid(NULL));
}

static void test_port_format_parent(void **state) {
    uint8_t ports[] = { 1, 4, 10 };
    char buf[32];
    (void) state;

    assert_int_equal(stdfu_usb_port_format(3, ports, 3, buf, sizeof buf), 0);
    assert_string_equal(buf, "3-1.4.10");
    assert_int_equal(stdfu_usb_port_format(3, ports, 3, buf, 5), -ENOBUFS);
    assert_int_equal(stdfu_usb_port_format(0, ports, 3, buf, sizeof buf), -EINVAL);
    assert_int_equal(stdfu_usb_port_format(1, ports, 0, buf, sizeof buf), -EINVAL);

    assert_int_equal(stdfu_usb_port_parent("1-1.4", buf, sizeof buf), 0);
    assert_string_equal(buf, "1-1");
    assert_int_equal(stdfu_usb_port_parent("2-3.1.7", buf, sizeof buf), 0);
    assert_string_equal(buf, "2-3.1");
    assert_int_equal(stdfu_usb_port_parent("1-4", buf, sizeof buf), 0);
    assert_string_equal(buf, "usb1");
    assert_int_equal(stdfu_usb_port_parent("junk", buf, sizeof buf), -EINVAL);
}

static stdfu_usb_info info_of(const char *port, uint16_t vid, uint16_t pid, const char *serial) {
    stdfu_usb_info i = { .dfu_interface = -1, .dfu_runtime_interface = -1, .vid = vid,
                         .pid = pid };
    strcpy(i.port, port);
    strcpy(i.serial, serial);
    return i;
}

static void test_classify(void **state) {
    stdfu_usb_ids ids;
    stdfu_usb_info i;
    (void) state;

    stdfu_usb_ids_init_default(&ids);
    i = info_of("1-1", 0x0483, 0xdf11, "FFFFFFFEFFFF");
    assert_int_equal(stdfu_usb_ids_classify(&ids, &i), STDFU_USB_BOOTLOADER);
    i = info_of("1-1", 0x0483, 0x5750, "A1");
    assert_int_equal(stdfu_usb_ids_classify(&ids, &i), STDFU_USB_APPLICATION);
    /* unknown ids are not ours... */
    i = info_of("1-1", 0x1234, 0x5678, "");
    assert_int_equal(stdfu_usb_ids_classify(&ids, &i), STDFU_USB_ABSENT);
    /* ...unless they have a DFU interface */
    i.dfu_interface = 0;
    assert_int_equal(stdfu_usb_ids_classify(&ids, &i), STDFU_USB_BOOTLOADER);
    i.dfu_interface = -1;
    i.has_dfu_runtime = true;
    assert_int_equal(stdfu_usb_ids_classify(&ids, &i), STDFU_USB_APPLICATION);

    /* "any": every non-hub device on the port is the application */
    stdfu_usb_ids_init_any(&ids);
    i = info_of("1-1", 0x1234, 0x5678, "");
    assert_int_equal(stdfu_usb_ids_classify(&ids, &i), STDFU_USB_APPLICATION);
    i.device_class = 0x09;
    assert_int_equal(stdfu_usb_ids_classify(&ids, &i), STDFU_USB_ABSENT);

    assert_int_equal(stdfu_usb_ids_add_app(&ids, 0x1234, 0x5678), 0);
    assert_int_equal(stdfu_usb_ids_add_app(&ids, 0x1234, 0x5678), 0);
    assert_int_equal(ids.n_app_ids, 1);
    for (unsigned k = 1; k < STDFU_USB_MAX_APP_IDS; k++)
        assert_int_equal(stdfu_usb_ids_add_app(&ids, 0x1000, (uint16_t) k), 0);
    assert_int_equal(stdfu_usb_ids_add_app(&ids, 0x2000, 1), -E2BIG);

    assert_string_equal(stdfu_usb_mode_to_string(STDFU_USB_BOOTLOADER), "bootloader");
    assert_string_equal(stdfu_usb_mode_to_string(STDFU_USB_APPLICATION), "application");
    assert_string_equal(stdfu_usb_mode_to_string(STDFU_USB_ABSENT), "absent");
}

static void test_matcher_parse(void **state) {
    stdfu_usb_matcher m;
    stdfu_error err = {};
    char buf[128];
    (void) state;

    assert_int_equal(stdfu_usb_matcher_parse_port("1-1.4", &m, &err), 0);
    assert_int_equal(m.kind, STDFU_USB_MATCH_PORT);
    assert_string_equal(m.port, "1-1.4");
    assert_int_equal(stdfu_usb_matcher_parse_port("1-1.4:1.0", &m, &err), -EINVAL);
    assert_non_null(strstr(err.message, "1-1.4:1.0"));

    assert_int_equal(stdfu_usb_matcher_parse_id("0483:df11", &m, &err), 0);
    assert_int_equal(m.kind, STDFU_USB_MATCH_ID);
    assert_int_equal(m.vid, 0x0483);
    assert_int_equal(m.pid, 0xdf11);
    assert_false(m.has_serial);
    assert_int_equal(stdfu_usb_matcher_describe(&m, buf, sizeof buf), 0);
    assert_string_equal(buf, "device 0483:df11");

    assert_int_equal(stdfu_usb_matcher_parse_id("483:DF11,FFFFFFFEFFFF", &m, &err), 0);
    assert_int_equal(m.vid, 0x0483);
    assert_true(m.has_serial);
    assert_string_equal(m.serial, "FFFFFFFEFFFF");
    /* a serial may hold ':' and ',' */
    assert_int_equal(stdfu_usb_matcher_parse_id("0483:5750,a:b,c", &m, &err), 0);
    assert_string_equal(m.serial, "a:b,c");

    static const char *const bad[] = {
        "", "0483", "0483:", ":df11", "0483:df11,", "04833:df11", "0483:dfx1", "g483:df11",
        "0483,x:df11", "0483:df11:1",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        stdfu_error_clear(&err);
        assert_int_equal(stdfu_usb_matcher_parse_id(bad[i], &m, &err), -EINVAL);
        assert_true(err.message[0] != '\0');
    }

    stdfu_usb_matcher_index(2, &m);
    assert_int_equal(stdfu_usb_matcher_describe(&m, buf, sizeof buf), 0);
    assert_string_equal(buf, "device #2");
}

static void test_select(void **state) {
    /* in port order, as stdfu_usb_enumerate() returns them: "1-1.10" after "1-1.9" */
    stdfu_usb_info list[] = {
        info_of("1-1.2", 0x0483, 0xdf11, "FFFFFFFEFFFF"),
        info_of("1-1.9", 0x0483, 0x5750, "B"),
        info_of("1-1.10", 0x0483, 0xdf11, "FFFFFFFEFFFF"),
    };
    stdfu_usb_matcher m;
    stdfu_usb_info got;
    stdfu_error err = {};
    (void) state;

    assert_int_equal(stdfu_usb_matcher_parse_port("1-1.9", &m, &err), 0);
    assert_int_equal(stdfu_usb_select(list, 3, &m, &got, &err), 0);
    assert_string_equal(got.serial, "B");

    assert_int_equal(stdfu_usb_matcher_parse_port("1-1.1", &m, &err), 0);
    assert_int_equal(stdfu_usb_select(list, 3, &m, &got, &err), -ENODEV);
    assert_non_null(strstr(err.message, "port 1-1.1"));

    /* every F0 ROM has the same serial: two matches, the message names both ports */
    assert_int_equal(stdfu_usb_matcher_parse_id("0483:df11,FFFFFFFEFFFF", &m, &err), 0);
    assert_int_equal(stdfu_usb_select(list, 3, &m, &got, &err), -ENOTUNIQ);
    assert_non_null(strstr(err.message, "1-1.2, 1-1.10"));
    assert_non_null(strstr(err.message, "--port"));

    assert_int_equal(stdfu_usb_matcher_parse_id("0483:5750", &m, &err), 0);
    assert_int_equal(stdfu_usb_select(list, 3, &m, &got, &err), 0);
    assert_string_equal(got.port, "1-1.9");
    assert_int_equal(stdfu_usb_matcher_parse_id("0483:5750,C", &m, &err), 0);
    assert_int_equal(stdfu_usb_select(list, 3, &m, &got, &err), -ENODEV);

    stdfu_usb_matcher_index(2, &m);
    assert_int_equal(stdfu_usb_select(list, 3, &m, &got, &err), 0);
    assert_string_equal(got.port, "1-1.10");
    stdfu_usb_matcher_index(3, &m);
    assert_int_equal(stdfu_usb_select(list, 3, &m, &got, &err), -ENODEV);
    assert_non_null(strstr(err.message, "3 devices"));

    m.kind = STDFU_USB_MATCH_ANY;
    assert_int_equal(stdfu_usb_select(list, 3, &m, &got, &err), -ENOTUNIQ);
    assert_int_equal(stdfu_usb_select(list, 1, &m, &got, &err), 0);
    assert_int_equal(stdfu_usb_select(NULL, 0, &m, &got, &err), -ENODEV);
}

/* A watch behind ops: the wrapper checks its arguments and hands them on. */
typedef struct fake_watch {
    unsigned waits;
    bool freed;
    char port[32];
    unsigned modes, exclude;
} fake_watch;

static int fw_wait(void *userdata, const char *port, unsigned modes, unsigned exclude,
                   usec_t timeout, const atomic_bool *cancel, stdfu_usb_info *ret) {
    fake_watch *f = userdata;
    (void) timeout, (void) cancel;
    f->waits++;
    strcpy(f->port, port);
    f->modes = modes;
    f->exclude = exclude;
    *ret = info_of(port, 0x0483, 0xdf11, "");
    ret->mode = STDFU_USB_BOOTLOADER;
    ret->devnum = exclude + 1;
    return 0;
}

static void fw_free(void *userdata) {
    fake_watch *f = userdata;
    f->freed = true;
}

static const stdfu_usb_watch_ops fake_ops = {
    .wait = fw_wait,
    .free = fw_free,
};

static void test_watch_ops(void **state) {
    fake_watch f = {};
    stdfu_usb_watch *w = NULL;
    stdfu_usb_info info;
    (void) state;

    assert_int_equal(stdfu_usb_watch_new_with_ops(&fake_ops, &f, &w), 0);
    assert_int_equal(stdfu_usb_watch_wait(w, "1-1.2", STDFU_USB_WANT_BOOTLOADER, 5,
                                          USEC_PER_SEC, NULL, &info), 0);
    assert_int_equal(f.waits, 1);
    assert_string_equal(f.port, "1-1.2");
    assert_int_equal(f.modes, STDFU_USB_WANT_BOOTLOADER);
    assert_int_equal(f.exclude, 5);
    assert_int_equal(info.devnum, 6);
    /* bad arguments never reach the implementation */
    assert_int_equal(stdfu_usb_watch_wait(w, "bogus", STDFU_USB_WANT_ANY, 0, 0, NULL, &info),
                     -EINVAL);
    assert_int_equal(stdfu_usb_watch_wait(w, "1-1.2", 0, 0, 0, NULL, &info), -EINVAL);
    assert_int_equal(f.waits, 1);
    stdfu_usb_watch_free(w);
    assert_true(f.freed);
    assert_int_equal(stdfu_usb_watch_new_with_ops(NULL, &f, &w), -EINVAL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_port_parse),
        cmocka_unit_test(test_port_format_parent),
        cmocka_unit_test(test_classify),
        cmocka_unit_test(test_matcher_parse),
        cmocka_unit_test(test_select),
        cmocka_unit_test(test_watch_ops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
