/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "image/layout.h"

static void assert_run(const stdfu_sector_run *r, uint32_t address, uint32_t count, uint32_t size,
                       char attr) {
    assert_int_equal(r->address, address);
    assert_int_equal(r->count, count);
    assert_int_equal(r->size, size);
    assert_int_equal(r->attr, attr);
}

static void test_f4_internal_flash(void **state) {
    _cleanup_layout_ stdfu_layout l = {};
    stdfu_error err = {};
    (void) state;
    assert_int_equal(
        stdfu_layout_parse("@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg", &l, &err),
        0);
    assert_string_equal(l.name, "Internal Flash");
    assert_int_equal(l.n_runs, 3);
    assert_run(&l.runs[0], 0x08000000, 4, 16 * 1024, 'g');
    assert_run(&l.runs[1], 0x08010000, 1, 64 * 1024, 'g');
    assert_run(&l.runs[2], 0x08020000, 7, 128 * 1024, 'g');
    assert_int_equal(stdfu_layout_total_size(&l), 1024 * 1024);
}

static void test_option_bytes_space_unit(void **state) {
    _cleanup_layout_ stdfu_layout l = {};
    unsigned flags;
    uint32_t start, size;
    (void) state;
    assert_int_equal(stdfu_layout_parse("@Option Bytes  /0x1FFFF800/01*016 e", &l, NULL), 0);
    assert_string_equal(l.name, "Option Bytes");
    assert_int_equal(l.n_runs, 1);
    assert_run(&l.runs[0], 0x1FFFF800, 1, 16, 'e');
    assert_int_equal(stdfu_layout_sector(&l, 0x1FFFF80F, &start, &size, &flags), 0);
    assert_int_equal(start, 0x1FFFF800);
    assert_int_equal(size, 16);
    /* 'e' = readable + writable, not erasable: option bytes are written without an erase */
    assert_int_equal(flags, STDFU_SECTOR_READABLE | STDFU_SECTOR_WRITABLE);
    assert_int_equal(stdfu_layout_sector(&l, 0x1FFFF810, &start, &size, &flags), -ERANGE);
}

static void test_units_and_attributes(void **state) {
    _cleanup_layout_ stdfu_layout l = {};
    (void) state;
    /* B, M, no unit at all, and every attribute letter */
    assert_int_equal(stdfu_layout_parse("@X/0x0/1*512Ba,1*1Mb,2*8c,1*1Kd,1*1Ke,1*1Kf,1*1Kg  ", &l,
                                        NULL),
                     0);
    assert_int_equal(l.n_runs, 7);
    assert_run(&l.runs[0], 0, 1, 512, 'a');
    assert_run(&l.runs[1], 512, 1, 1024 * 1024, 'b');
    assert_run(&l.runs[2], 512 + 1024 * 1024, 2, 8, 'c');
    for (char c = 'a'; c <= 'g'; c++)
        assert_int_equal(stdfu_layout_attr_flags(c), (unsigned) (c - 'a' + 1));
    assert_int_equal(stdfu_layout_attr_flags('h'), 0);
    assert_int_equal(stdfu_layout_attr_flags('A'), 0);
    assert_int_equal(stdfu_layout_attr_flags('a'), STDFU_SECTOR_READABLE);
    assert_int_equal(stdfu_layout_attr_flags('b'), STDFU_SECTOR_ERASABLE);
    assert_int_equal(stdfu_layout_attr_flags('d'), STDFU_SECTOR_WRITABLE);
}

static void test_multi_segment(void **state) {
    _cleanup_layout_ stdfu_layout l = {};
    (void) state;
    assert_int_equal(stdfu_layout_parse("@Internal Flash  /0x08000000/512*0002Kg/0x1FFF0000/"
                                        "30*001Ka,2*1Kg/0x1FFFC000/01*016 e",
                                        &l, NULL),
                     0);
    assert_int_equal(l.n_runs, 4);
    assert_run(&l.runs[0], 0x08000000, 512, 2048, 'g');
    assert_run(&l.runs[1], 0x1FFF0000, 30, 1024, 'a');
    assert_run(&l.runs[2], 0x1FFF0000 + 30 * 1024, 2, 1024, 'g');
    assert_run(&l.runs[3], 0x1FFFC000, 1, 16, 'e');
    assert_ptr_equal(stdfu_layout_find(&l, 0x1FFF7800), &l.runs[2]);
    assert_ptr_equal(stdfu_layout_find(&l, 0x1FFF77FF), &l.runs[1]);
    assert_null(stdfu_layout_find(&l, 0x08100000));
    assert_null(stdfu_layout_find(&l, 0x07FFFFFF));
    assert_int_equal(stdfu_layout_total_size(&l), 1024 * 1024 + 32 * 1024 + 16);
}

static void test_real_rom_strings(void **state) {
    static const char *const ok[] = {
        "@Internal Flash  /0x08000000/064*0002Kg",
        "@Internal Flash   /0x08000000/512*02Kg",
        "@OTP Memory /0x1FFF7800/01*512 e,01*016 e",
        "@Device Feature/0xFFFF0000/01*004 e",
        "@Option Bytes  /0x1FFFC000/01*016 e",
        "@Internal Flash  /0x08000000/16*002Ka,112*002Kg",
        "@Last/0xFFFFFF00/01*256 e",
    };
    (void) state;
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        _cleanup_layout_ stdfu_layout l = {};
        stdfu_error err = {};
        int r = stdfu_layout_parse(ok[i], &l, &err);
        if (r < 0)
            fail_msg("%s: %s", ok[i], err.message);
        assert_true(l.n_runs >= 1);
    }
}

static void expect_error(const char *s, const char *token) {
    _cleanup_layout_ stdfu_layout l = {};
    stdfu_error err = {};
    int r = stdfu_layout_parse(s, &l, &err);
    if (r != -EINVAL)
        fail_msg("\"%s\" gave %d, not -EINVAL", s, r);
    assert_int_equal(err.code, -EINVAL);
    if (!strstr(err.message, token))
        fail_msg("error for \"%s\" does not name \"%s\": %s", s, token, err.message);
    assert_int_equal(l.n_runs, 0);
    assert_null(l.runs);
}

static void test_errors_name_the_token(void **state) {
    (void) state;
    expect_error("Internal Flash  /0x08000000/04*016Kg", "does not start with '@'");
    expect_error("@Internal Flash", "no \"/ADDRESS/SECTORS\"");
    expect_error("@F/08000000/04*016Kg", "\"08000000\"");
    expect_error("@F/0x0800000G/04*016Kg", "\"0x0800000G\"");
    expect_error("@F/0x108000000/04*016Kg", "more than 32 bits");
    expect_error("@F/0x08000000/04x016Kg", "\"04x016Kg\"");
    expect_error("@F/0x08000000/04*016Kg,01*064Qg", "\"01*064Qg\"");
    expect_error("@F/0x08000000/04*016Kh", "\"04*016Kh\"");
    expect_error("@F/0x08000000/04*016K", "no attribute letter");
    expect_error("@F/0x08000000/04*016Kgg", "\"04*016Kgg\"");
    expect_error("@F/0x08000000/00*016Kg", "zero sectors");
    expect_error("@F/0x08000000/04*000Kg", "zero sectors");
    expect_error("@F/0x08000000/04*016Kg,,01*064Kg", "empty run");
    expect_error("@F/0x08000000/", "missing after the address");
    expect_error("@F/0x08000000", "/ADDRESS/SECTORS");
    expect_error("@F/0xFFFF0000/02*064Kg", "past the 32-bit address space");
    expect_error("@F/0x08000000/99999999999*1Kg", "\"99999999999*1Kg\"");
    expect_error("@F/0x08000000/4*4096Mg", "over 4 GiB");
    expect_error("@F/0x08000000/04*016Kg/0x0800F000/01*1Kg", "overlap");
    expect_error("@F/0x08000000/04*016Kg junk", "\"04*016Kg junk\"");
    expect_error(NULL, "no memory layout");
}

static int count_sector(const stdfu_sector *s, void *userdata) {
    stdfu_sector *seen = userdata;
    size_t i = 0;
    while (seen[i].size)
        i++;
    seen[i] = *s;
    return 0;
}

static int stop_at_second(const stdfu_sector *s, void *userdata) {
    unsigned *n = userdata;
    (void) s;
    return ++*n == 2 ? 42 : 0;
}

static void test_sectors_of_a_range(void **state) {
    _cleanup_layout_ stdfu_layout l = {};
    stdfu_sector seen[16] = {}, *a = NULL;
    size_t n = 0;
    unsigned calls = 0;
    (void) state;
    assert_int_equal(
        stdfu_layout_parse("@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg", &l, NULL),
        0);
    /* 0x0800C000..0x08010fff: last 16 KiB sector and the 64 KiB one */
    assert_int_equal(stdfu_layout_for_each_sector(&l, 0x0800C000, 0x5000, count_sector, seen), 0);
    assert_int_equal(seen[0].address, 0x0800C000);
    assert_int_equal(seen[0].size, 0x4000);
    assert_int_equal(seen[0].flags, 7);
    assert_int_equal(seen[1].address, 0x08010000);
    assert_int_equal(seen[1].size, 0x10000);
    assert_int_equal(seen[2].size, 0);

    assert_int_equal(stdfu_layout_sectors(&l, 0x08000001, 1, &a, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(a[0].address, 0x08000000);
    free(a);
    assert_int_equal(stdfu_layout_sectors(&l, 0x08000000, 1024 * 1024, &a, &n), 0);
    assert_int_equal(n, 12);
    assert_int_equal(a[11].address, 0x080E0000);
    free(a);
    assert_int_equal(stdfu_layout_sectors(&l, 0x08000000, 0, &a, &n), 0);
    assert_int_equal(n, 0);
    free(a);

    /* one byte past flash: nothing is reported at all */
    memset(seen, 0, sizeof seen);
    assert_int_equal(stdfu_layout_for_each_sector(&l, 0x080FFFF0, 0x11, count_sector, seen),
                     -ERANGE);
    assert_int_equal(seen[0].size, 0);
    assert_int_equal(stdfu_layout_sectors(&l, 0x07FFFFFF, 2, &a, &n), -ERANGE);

    assert_int_equal(stdfu_layout_for_each_sector(&l, 0x08000000, 0x10000, stop_at_second,
                                                  &calls),
                     42);
    assert_int_equal(calls, 2);
}

static void test_format(void **state) {
    _cleanup_layout_ stdfu_layout l = {};
    char buf[512], small[10];
    (void) state;
    assert_int_equal(stdfu_layout_parse("@Internal Flash  /0x08000000/04*016Kg,01*001Ma/0x1FFFC000/"
                                        "01*016 e",
                                        &l, NULL),
                     0);
    static const char expected[] = "0x08000000  4 x 16 KiB (readable, erasable, writable)\n"
                                   "0x08010000  1 x 1 MiB (readable)\n"
                                   "0x1fffc000  1 x 16 bytes (readable, writable)\n";
    assert_int_equal(stdfu_layout_format(&l, buf, sizeof buf), (int) strlen(expected));
    assert_string_equal(buf, expected);
    assert_int_equal(stdfu_layout_format(&l, small, sizeof small), (int) strlen(expected));
    assert_string_equal(small, "0x0800000");
    assert_int_equal(stdfu_layout_format(&l, NULL, 0), (int) strlen(expected));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_f4_internal_flash),
        cmocka_unit_test(test_option_bytes_space_unit),
        cmocka_unit_test(test_units_and_attributes),
        cmocka_unit_test(test_multi_segment),
        cmocka_unit_test(test_real_rom_strings),
        cmocka_unit_test(test_errors_name_the_token),
        cmocka_unit_test(test_sectors_of_a_range),
        cmocka_unit_test(test_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
