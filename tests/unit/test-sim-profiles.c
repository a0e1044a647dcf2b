/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Profiles and the descriptors of both modes, as lsusb and dfu-util read them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test-sim-util.h"

static uint16_t le16(const uint8_t *p) {
    return (uint16_t) (p[0] | p[1] << 8);
}

/* Finds the n-th descriptor of a type in a configuration descriptor. */
static const uint8_t *find_desc(const uint8_t *cfg, size_t len, uint8_t type, unsigned n) {
    for (size_t at = 0; at + 2 <= len && cfg[at] >= 2; at += cfg[at])
        if (cfg[at + 1] == type && n-- == 0)
            return cfg + at;
    return NULL;
}

static void test_profile_table(void **state) {
    const char *const *names = sim_profile_names();
    (void) state;

    assert_string_equal(names[0], "f072");
    assert_string_equal(names[1], "f407");
    assert_string_equal(names[2], "l476");
    assert_null(names[3]);
    for (unsigned i = 0; names[i]; i++) {
        const sim_profile *p = sim_profile_find(names[i]);
        assert_non_null(p);
        assert_string_equal(sim_profile_name(p), names[i]);
        assert_int_equal(sim_profile_flash_base(p), 0x08000000);
    }
    assert_null(sim_profile_find("f999"));
    assert_null(sim_profile_find(NULL));
}

static void check_rom(const char *spec, const char *layout0, const char *layout1,
                      unsigned n_alts) {
    sim_device *d = sim_test_device(spec);
    const uint8_t *dev = sim_device_device_descriptor(d), *fd;
    size_t len;
    const uint8_t *cfg = sim_device_config_descriptor(d, &len);

    assert_int_equal(sim_device_mode(d), SIM_MODE_BOOTLOADER);
    assert_int_equal(dev[0], 18);
    assert_int_equal(dev[1], 1);
    assert_int_equal(le16(dev + 2), 0x0200);
    assert_int_equal(dev[7], 64);
    assert_int_equal(le16(dev + 8), 0x0483);
    assert_int_equal(le16(dev + 10), 0xdf11);
    assert_int_equal(le16(dev + 12), 0x2200);
    assert_int_equal(dev[17], 1);

    assert_int_equal(le16(cfg + 2), len);
    assert_int_equal(len, 9 + 9 * n_alts + 9);
    assert_int_equal(cfg[4], 1); /* one interface ... */
    for (unsigned alt = 0; alt < n_alts; alt++) {
        const uint8_t *itf = find_desc(cfg, len, 4, alt);
        assert_non_null(itf);
        assert_int_equal(itf[2], 0);   /* ... with alt settings */
        assert_int_equal(itf[3], alt);
        assert_int_equal(itf[5], 0xfe);
        assert_int_equal(itf[6], 0x01);
        assert_int_equal(itf[7], 0x02); /* DFU mode */
        assert_non_null(sim_device_string(d, itf[8]));
    }
    assert_null(find_desc(cfg, len, 4, n_alts));
    fd = find_desc(cfg, len, 0x21, 0);
    assert_non_null(fd);
    assert_int_equal(fd[2], 0x0b);
    assert_int_equal(le16(fd + 3), 255);
    assert_int_equal(le16(fd + 5), 2048);
    assert_int_equal(le16(fd + 7), 0x011a);

    assert_string_equal(sim_device_string(d, dev[14]), "STMicroelectronics");
    assert_string_equal(sim_device_string(d, dev[15]), "STM32  BOOTLOADER");
    assert_string_equal(sim_device_string(d, dev[16]), sim_device_serial(d));
    assert_string_equal(sim_device_string(d, find_desc(cfg, len, 4, 0)[8]), layout0);
    assert_string_equal(sim_device_string(d, find_desc(cfg, len, 4, 1)[8]), layout1);
    assert_null(sim_device_hid_report_descriptor(d, &len));
    sim_device_free(d);
}

static void test_rom_descriptors(void **state) {
    (void) state;
    check_rom("port=1-1.1,profile=f072,mode=bootloader",
              "@Internal Flash  /0x08000000/064*0002Kg", "@Option Bytes  /0x1FFFF800/01*016 e", 2);
    check_rom("port=1-1.1,profile=f407,mode=bootloader",
              "@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg",
              "@Option Bytes  /0x1FFFC000/01*016 e", 4);
    check_rom("port=1-1.1,profile=l476,blank=1",
              "@Internal Flash  /0x08000000/512*0002Kg", "@Option Bytes  /0x1FFF7800/01*040 e", 4);
}

static void test_serials(void **state) {
    sim_device *a = sim_test_device("port=1-1.1,mode=bootloader");
    sim_device *b = sim_test_device("port=1-1.2,mode=bootloader");
    sim_device *c = sim_test_device("port=1-1.1,profile=f407,mode=bootloader");
    sim_device *e = sim_test_device("port=1-1.2,profile=f407,mode=bootloader");
    sim_device *app = sim_test_device("port=1-1.2");
    sim_device *named = sim_test_device("port=1-1.2,serial=KIOSK-7,product=Sensor board");
    (void) state;

    /* every F0 ROM says the same */
    assert_string_equal(sim_device_serial(a), "FFFFFFFEFFFF");
    assert_string_equal(sim_device_serial(b), "FFFFFFFEFFFF");
    /* F4: from the unique ID: 12 hex digits, different per unit */
    assert_int_equal(strlen(sim_device_serial(c)), 12);
    assert_string_not_equal(sim_device_serial(c), sim_device_serial(e));
    assert_int_equal(strspn(sim_device_serial(c), "0123456789ABCDEF"), 12);
    /* the application's serial differs from the ROM's */
    assert_string_not_equal(sim_device_serial(app), "FFFFFFFEFFFF");
    assert_string_equal(sim_device_serial(named), "KIOSK-7");
    assert_string_equal(sim_device_string(named, 2), "Sensor board");
    assert_string_equal(sim_device_string(app, 2), "STM32 Custom Human interface");
    sim_device_free(a);
    sim_device_free(b);
    sim_device_free(c);
    sim_device_free(e);
    sim_device_free(app);
    sim_device_free(named);
}

static void test_string_descriptor_requests(void **state) {
    sim_device *d = sim_test_device("port=1-1.1,mode=bootloader");
    sim_usec now = T0;
    uint8_t buf[256];
    const char *s = "STM32  BOOTLOADER";
    (void) state;

    assert_int_equal(sim_test_ctrl(d, 0x80, 6, 0x0300, 0, buf, 255, &now), 4);
    assert_int_equal(buf[1], 3);
    assert_int_equal(le16(buf + 2), 0x0409);
    assert_int_equal(sim_test_ctrl(d, 0x80, 6, 0x0302, 0x0409, buf, 255, &now),
                     2 + 2 * (int) strlen(s));
    assert_int_equal(buf[0], 2 + 2 * strlen(s));
    for (size_t i = 0; i < strlen(s); i++) {
        assert_int_equal(buf[2 + 2 * i], s[i]);
        assert_int_equal(buf[3 + 2 * i], 0);
    }
    /* the length-first read a host does */
    assert_int_equal(sim_test_ctrl(d, 0x80, 6, 0x0302, 0x0409, buf, 2, &now), 2);
    assert_int_equal(sim_test_ctrl(d, 0x80, 6, 0x0399, 0x0409, buf, 255, &now), -EPIPE);
    /* device and configuration descriptors through control transfers */
    assert_int_equal(sim_test_ctrl(d, 0x80, 6, 0x0100, 0, buf, 255, &now), 18);
    assert_memory_equal(buf, sim_device_device_descriptor(d), 18);
    assert_int_equal(sim_test_ctrl(d, 0x80, 6, 0x0200, 0, buf, 9, &now), 9);
    assert_int_equal(le16(buf + 2), 36);
    assert_int_equal(sim_test_ctrl(d, 0x80, 6, 0x0600, 0, buf, 10, &now), -EPIPE); /* FS only */
    assert_int_equal(sim_test_ctrl(d, 0x00, 9, 1, 0, NULL, 0, &now), 0);
    assert_int_equal(sim_test_ctrl(d, 0x80, 8, 0, 0, buf, 1, &now), 1);
    assert_int_equal(buf[0], 1);
    assert_int_equal(sim_test_ctrl(d, 0x80, 0, 0, 0, buf, 2, &now), 2);
    assert_int_equal(buf[0], 1); /* self powered */
    sim_device_free(d);
}

static void test_app_descriptors(void **state) {
    sim_device *d = sim_test_device("port=1-1.4,version=1.2");
    sim_device *v = sim_test_device("port=1-1.5,version=12.34,vid=1209,pid=0x0001");
    sim_device *rt = sim_test_device("port=1-1.6,enter=detach");
    const uint8_t *dev = sim_device_device_descriptor(d), *hid, *itf, *fd;
    size_t len, rlen;
    const uint8_t *cfg = sim_device_config_descriptor(d, &len);
    const uint8_t *rd = sim_device_hid_report_descriptor(d, &rlen);
    (void) state;

    assert_int_equal(sim_device_mode(d), SIM_MODE_APPLICATION);
    assert_int_equal(le16(dev + 8), 0x0483);
    assert_int_equal(le16(dev + 10), 0x5750);
    assert_int_equal(le16(dev + 12), 0x0102);
    assert_int_equal(le16(cfg + 2), len);
    itf = find_desc(cfg, len, 4, 0);
    assert_int_equal(itf[4], 2); /* interrupt IN and OUT */
    assert_int_equal(itf[5], 3); /* HID */
    hid = find_desc(cfg, len, 0x21, 0);
    assert_int_equal(hid[6], 0x22);
    assert_int_equal(le16(hid + 7), rlen);
    assert_int_equal(find_desc(cfg, len, 5, 0)[2], 0x81);
    assert_int_equal(le16(find_desc(cfg, len, 5, 0) + 4), 64);
    assert_int_equal(find_desc(cfg, len, 5, 1)[2], 0x01);
    /* vendor usage page 0xFF00 and DfuSe's HID detach report 0x80 */
    assert_memory_equal(rd, ((const uint8_t[]) { 0x06, 0x00, 0xff }), 3);
    assert_non_null(memmem(rd, rlen, ((const uint8_t[]) { 0x85, 0x80 }), 2));
    assert_non_null(memmem(rd, rlen, ((const uint8_t[]) { 0x09, 0x55, 0xb1 }), 3));
    assert_int_equal(rd[rlen - 1], 0xc0);

    dev = sim_device_device_descriptor(v);
    assert_int_equal(le16(dev + 8), 0x1209);
    assert_int_equal(le16(dev + 10), 0x0001);
    assert_int_equal(le16(dev + 12), 0x1234);

    /* DFU runtime interface instead of the HID detach report */
    cfg = sim_device_config_descriptor(rt, &len);
    assert_int_equal(cfg[4], 2);
    itf = find_desc(cfg, len, 4, 1);
    assert_int_equal(itf[2], 1);
    assert_int_equal(itf[5], 0xfe);
    assert_int_equal(itf[6], 0x01);
    assert_int_equal(itf[7], 0x01); /* runtime protocol */
    fd = find_desc(cfg, len, 0x21, 1);
    assert_int_equal(fd[2], 0x0b);
    rd = sim_device_hid_report_descriptor(rt, &rlen);
    assert_null(memmem(rd, rlen, ((const uint8_t[]) { 0x85, 0x80 }), 2));
    sim_device_free(d);
    sim_device_free(v);
    sim_device_free(rt);
}

static void test_blank_and_forced_modes(void **state) {
    sim_device *blank = sim_test_device("port=1-1.1,blank=1");
    sim_device *forced = sim_test_device("port=1-1.1,mode=bootloader,version=3.1");
    unsigned major = 0, minor = 0;
    (void) state;

    /* an erased flash does not start: the ROM comes up */
    assert_int_equal(sim_device_mode(blank), SIM_MODE_BOOTLOADER);
    assert_int_equal(sim_device_app_bcd(blank), 0);
    assert_false(sim_device_app_version(blank, &major, &minor));
    assert_int_equal(sim_device_counters(blank)->boots, 0);
    assert_int_equal(sim_device_counters(blank)->enumerations, 1);
    /* mode=bootloader keeps the image; the version is still known */
    assert_int_equal(sim_device_mode(forced), SIM_MODE_BOOTLOADER);
    assert_int_equal(sim_device_app_bcd(forced), 0x0301);
    sim_device_free(blank);
    sim_device_free(forced);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_profile_table),
        cmocka_unit_test(test_rom_descriptors),
        cmocka_unit_test(test_serials),
        cmocka_unit_test(test_string_descriptor_requests),
        cmocka_unit_test(test_app_descriptors),
        cmocka_unit_test(test_blank_and_forced_modes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
