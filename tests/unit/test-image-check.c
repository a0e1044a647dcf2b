/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lib/image against a device: memory layouts, the sectors to erase. Images are raw binaries
 * or small Intel hex texts, so each test says exactly which addresses it writes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "image/image.h"

#define F4_FLASH "@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg"
#define F0_FLASH "@Internal Flash  /0x08000000/064*0002Kg"
#define F0_OPTION_BYTES "@Option Bytes  /0x1FFFF800/01*016 e"

static uint8_t zeros[2 * 1024 * 1024];

static stdfu_image *bin_at(uint32_t address, size_t size) {
    const stdfu_image_load_options opts = { .has_address = true, .address = address };
    stdfu_image *img = NULL;
    stdfu_error err = {};
    if (stdfu_image_load_data(zeros, size, "fw.bin", &opts, &img, &err) < 0)
        fail_msg("%s", err.message);
    return img;
}

static stdfu_image *hex(const char *text) {
    stdfu_image *img = NULL;
    stdfu_error err = {};
    if (stdfu_image_load_data((const uint8_t *) text, strlen(text), "fw.hex", NULL, &img, &err) <
        0)
        fail_msg("%s", err.message);
    return img;
}

static void parse_layout(const char *s, stdfu_layout *l) {
    stdfu_error err = {};
    if (stdfu_layout_parse(s, l, &err) < 0)
        fail_msg("%s", err.message);
}

static void expect_layout_check(const stdfu_image *img, const char *layout_string, int code,
                         const char *message) {
    _cleanup_layout_ stdfu_layout l = {};
    stdfu_error err = {};
    parse_layout(layout_string, &l);
    int r = stdfu_image_check_layout(img, &img->targets[0], &l, &err);
    if (r != code)
        fail_msg("expected %d, got %d: %s", code, r, err.message);
    if (message)
        assert_string_equal(err.message, message);
}

static void test_fits(void **state) {
    (void) state;
    _cleanup_image_ stdfu_image *whole = bin_at(0x08000000, 1024 * 1024);
    expect_layout_check(whole, F4_FLASH, 0, NULL);
    _cleanup_image_ stdfu_image *last = bin_at(0x080FFFFF, 1);
    expect_layout_check(last, F4_FLASH, 0, NULL);
    _cleanup_image_ stdfu_image *ob = bin_at(0x1FFFF800, 16);
    expect_layout_check(ob, F0_OPTION_BYTES, 0, NULL);
}

static void test_outside(void **state) {
    (void) state;
    _cleanup_image_ stdfu_image *below = bin_at(0x07FFFF00, 0x200);
    expect_layout_check(below, F4_FLASH, -EINVAL,
                 "fw.bin: element at 0x07ffff00..0x080000ff: 0x07ffff00 is outside \"Internal "
                 "Flash\" (0x08000000..0x080fffff)");
    _cleanup_image_ stdfu_image *sram = bin_at(0x20000000, 4);
    expect_layout_check(sram, F0_FLASH, -EINVAL,
                 "fw.bin: element at 0x20000000..0x20000003: 0x20000000 is outside \"Internal "
                 "Flash\" (0x08000000..0x0801ffff)");
}

static void test_past_the_end(void **state) {
    (void) state;
    /* 64 KiB + 1 byte at the start of a 128 KiB F0 flash... fits; at 0x08010000 it does not */
    _cleanup_image_ stdfu_image *img = bin_at(0x08010000, 64 * 1024 + 1);
    expect_layout_check(img, F0_FLASH, -EINVAL,
                 "fw.bin: element at 0x08010000..0x08020000 (65537 bytes) does not fit in "
                 "\"Internal Flash\": 0x08020000 is past its end (0x08000000..0x0801ffff)");
}

static void test_over_flash_size(void **state) {
    (void) state;
    _cleanup_image_ stdfu_image *img = bin_at(0x08000000, 128 * 1024 + 2048);
    expect_layout_check(img, F0_FLASH, -EINVAL,
                 "fw.bin: the image has 133120 bytes (0x08000000..0x080207ff), more than the "
                 "131072 bytes of \"Internal Flash\"");
}

static void test_read_only(void **state) {
    (void) state;
    /* the first two 2 KiB pages are 'a' (readable only), e.g. a protected bootloader area */
    _cleanup_image_ stdfu_image *img = bin_at(0x08000400, 0x1000);
    expect_layout_check(img, "@Internal Flash  /0x08000000/02*002Ka,62*002Kg", -EPERM,
                 "fw.bin: element at 0x08000400..0x080013ff: 0x08000400 is in a read-only sector "
                 "(0x08000000, 2048 bytes, attribute 'a') of \"Internal Flash\"");
    /* starting in writable sectors and running into a read-only segment */
    _cleanup_image_ stdfu_image *into = bin_at(0x08000000, 0x1000);
    expect_layout_check(into, "@Flash/0x08000000/01*002Kg,01*002Kb", -EPERM,
                 "fw.bin: element at 0x08000000..0x08000fff: 0x08000800 is in a read-only sector "
                 "(0x08000800, 2048 bytes, attribute 'b') of \"Flash\"");
}

static void test_gap_between_segments(void **state) {
    (void) state;
    /* two segments with a hole between them: an element spanning the hole is refused at the
     * first address of the hole */
    _cleanup_image_ stdfu_image *img = bin_at(0x08000000, 0x1800);
    expect_layout_check(img, "@Flash/0x08000000/01*004Kg/0x08002000/01*004Kg", -EINVAL,
                 "fw.bin: element at 0x08000000..0x080017ff (6144 bytes) does not fit in "
                 "\"Flash\": 0x08001000 is past its end (0x08000000..0x08002fff)");
}

static void test_several_elements(void **state) {
    /* hex with one element in flash and one far outside: the second is named */
    static const char text[] = ":020000040800F2\n"
                               ":0400000001020304F2\n"
                               ":020000040801F1\n"
                               ":04000000AABBCCDDEE\n"
                               ":00000001FF\n";
    (void) state;
    _cleanup_image_ stdfu_image *img = hex(text);
    assert_int_equal(img->targets[0].n_elements, 2);
    expect_layout_check(img, "@Internal Flash  /0x08000000/032*0002Kg", -EINVAL,
                 "fw.hex: element at 0x08010000..0x08010003: 0x08010000 is outside \"Internal "
                 "Flash\" (0x08000000..0x0800ffff)");
    expect_layout_check(img, F0_FLASH, 0, NULL);
}

static void test_sectors(void **state) {
    _cleanup_layout_ stdfu_layout l = {};
    stdfu_sector *s = NULL;
    stdfu_error err = {};
    size_t n = 0;
    /* three elements: two share the first 16 KiB sector, the third spans two sectors */
    static const char text[] = ":020000040800F2\n"
                               ":0400000001020304F2\n"
                               ":0410000001020304E2\n"
                               ":020000040800F2\n"
                               ":04FFFE0001020304F5\n" /* 0x0800FFFE..0x08010001 */
                               ":00000001FF\n";
    (void) state;
    _cleanup_image_ stdfu_image *img = hex(text);
    parse_layout(F4_FLASH, &l);
    assert_int_equal(stdfu_image_target_sectors(img, &img->targets[0], &l, &s, &n, &err), 0);
    assert_int_equal(n, 3);
    assert_int_equal(s[0].address, 0x08000000);
    assert_int_equal(s[0].size, 16 * 1024);
    assert_int_equal(s[1].address, 0x0800C000);
    assert_int_equal(s[2].address, 0x08010000);
    assert_int_equal(s[2].size, 64 * 1024);
    assert_true(s[2].flags & STDFU_SECTOR_ERASABLE);
    free(s);

    /* F0: 2 KiB pages; 5000 bytes from 0x08000800 touch pages 1, 2 and 3 */
    _cleanup_layout_ stdfu_layout f0 = {};
    parse_layout(F0_FLASH, &f0);
    _cleanup_image_ stdfu_image *bin = bin_at(0x08000800, 5000);
    assert_int_equal(stdfu_image_target_sectors(bin, &bin->targets[0], &f0, &s, &n, &err), 0);
    assert_int_equal(n, 3);
    assert_int_equal(s[0].address, 0x08000800);
    assert_int_equal(s[2].address, 0x08001800);
    free(s);

    /* option bytes: one sector, not erasable */
    _cleanup_layout_ stdfu_layout ob = {};
    parse_layout(F0_OPTION_BYTES, &ob);
    _cleanup_image_ stdfu_image *obi = bin_at(0x1FFFF800, 16);
    assert_int_equal(stdfu_image_target_sectors(obi, &obi->targets[0], &ob, &s, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_false(s[0].flags & STDFU_SECTOR_ERASABLE);
    assert_true(s[0].flags & STDFU_SECTOR_WRITABLE);
    free(s);

    /* outside: refused with the address, nothing returned */
    s = NULL;
    assert_int_equal(stdfu_image_target_sectors(obi, &obi->targets[0], &f0, &s, &n, &err),
                     -EINVAL);
    assert_null(s);
    assert_non_null(strstr(err.message, "0x1ffff800 is outside"));
}

static void test_ids_without_suffix(void **state) {
    (void) state;
    _cleanup_image_ stdfu_image *img = bin_at(0x08000000, 4);
    assert_false(img->has_suffix);
    assert_int_equal(stdfu_image_check_ids(img, 0x0483, 0xdf11, NULL), 0);
}


static const stdfu_target *aligned_of(const stdfu_image *img, const char *layout_string,
                                      stdfu_target **ret) {
    _cleanup_layout_ stdfu_layout l = {};
    stdfu_error err = {};
    parse_layout(layout_string, &l);
    if (stdfu_image_align_target(img, &img->targets[0], &l, STDFU_FLASH_PROGRAM_UNIT, ret,
                                 &err) < 0)
        fail_msg("%s", err.message);
    return *ret;
}

/* An element that starts or ends inside a programming unit is padded with 0xff: each transfer
 * then programs whole units, and none is programmed twice. */
static void test_align_pads(void **state) {
    (void) state;
    stdfu_target *t = NULL;
    _cleanup_image_ stdfu_image *odd = bin_at(0x08000001, 4097);
    aligned_of(odd, F0_FLASH, &t);
    assert_int_equal(t->n_elements, 1);
    assert_int_equal(t->elements[0].address, 0x08000000);
    assert_int_equal(t->elements[0].size, 4104);
    assert_int_equal(t->elements[0].data[0], 0xff);
    assert_int_equal(t->elements[0].data[1], 0x00);
    assert_int_equal(t->elements[0].data[4097], 0x00);
    assert_int_equal(t->elements[0].data[4098], 0xff);
    assert_int_equal(t->elements[0].data[4103], 0xff);
    assert_int_equal(stdfu_target_total_bytes(t), 4104);
    t = stdfu_target_free(t);

    /* already aligned: the same elements */
    _cleanup_image_ stdfu_image *even = bin_at(0x08000800, 2048);
    aligned_of(even, F4_FLASH, &t);
    assert_int_equal(t->n_elements, 1);
    assert_int_equal(t->elements[0].address, 0x08000800);
    assert_int_equal(t->elements[0].size, 2048);
    stdfu_target_free(t);
}

/* Two elements in one unit are joined, 0xff between them: padding never covers data. */
static void test_align_joins(void **state) {
    (void) state;
    _cleanup_image_ stdfu_image *img = hex(":020000040800F2\n"
                                           ":03000100AABBCCCB\n"
                                           ":02000500DDEE2E\n"
                                           ":020010001122BB\n"
                                           ":00000001FF\n");
    stdfu_target *t = NULL;
    aligned_of(img, F0_FLASH, &t);
    assert_int_equal(t->n_elements, 2);
    assert_int_equal(t->elements[0].address, 0x08000000);
    assert_int_equal(t->elements[0].size, 8);
    static const uint8_t joined[8] = { 0xff, 0xaa, 0xbb, 0xcc, 0xff, 0xdd, 0xee, 0xff };
    assert_memory_equal(t->elements[0].data, joined, 8);
    assert_int_equal(t->elements[1].address, 0x08000010);
    assert_int_equal(t->elements[1].size, 8);
    assert_int_equal(t->elements[1].data[0], 0x11);
    assert_int_equal(t->elements[1].data[2], 0xff);
    stdfu_target_free(t);
}

/* Option bytes are not programmed in flash units: written as given. Padding that would reach
 * a sector that is not erasable flash is refused, naming the element and the unit. */
static void test_align_not_erasable(void **state) {
    (void) state;
    _cleanup_image_ stdfu_image *ob = bin_at(0x1FFFF802, 6);
    stdfu_target *t = NULL;
    aligned_of(ob, F0_OPTION_BYTES, &t);
    assert_int_equal(t->elements[0].address, 0x1FFFF802);
    assert_int_equal(t->elements[0].size, 6);
    stdfu_target_free(t);

    _cleanup_layout_ stdfu_layout l = {};
    stdfu_error err = {};
    parse_layout("@Odd  /0x08000000/01*004 g,01*004 e", &l);
    _cleanup_image_ stdfu_image *img = bin_at(0x08000001, 2);
    t = NULL;
    assert_int_equal(stdfu_image_align_target(img, &img->targets[0], &l, 8, &t, &err), -EINVAL);
    assert_null(t);
    assert_string_equal(err.message,
                        "fw.bin: element at 0x08000001..0x08000002 does not fill whole 8-byte "
                        "programming units, and padding it with 0xff to 0x08000000..0x08000007 "
                        "would reach 0x08000004, which is not erasable flash");
}

/* The unit of each family the emulator models, from the layouts its ROM reports; the largest
 * when the family is not known. */
static void test_program_unit(void **state) {
    (void) state;
    static const struct {
        const char *flash, *ob;
        unsigned unit;
    } cases[] = {
        /* F072: half-word */
        { "@Internal Flash  /0x08000000/064*0002Kg", "@Option Bytes  /0x1FFFF800/01*016 e", 2 },
        /* F103 (1 KiB pages): half-word */
        { "@Internal Flash  /0x08000000/128*001Kg", "@Option Bytes  /0x1FFFF800/01*016 e", 2 },
        /* F407: at most a word */
        { "@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg",
          "@Option Bytes  /0x1FFFC000/01*016 e", 4 },
        /* L476: double word */
        { "@Internal Flash  /0x08000000/512*0002Kg", "@Option Bytes  /0x1FFF7800/01*040 e", 8 },
        /* 2 KiB pages, as on F0, but the option bytes of an L4 */
        { "@Internal Flash  /0x08000000/064*0002Kg", "@Option Bytes  /0x1FFF7800/01*040 e", 8 },
        /* F0's option bytes with F4 sectors: not a family known */
        { "@Internal Flash  /0x08000000/04*016Kg,01*064Kg", "@Option Bytes  /0x1FFFF800/01*016 e",
          STDFU_FLASH_PROGRAM_UNIT },
        /* an F7 (32 KiB sectors, option bytes at 0x1FFF0000): not known */
        { "@Internal Flash  /0x08000000/04*032Kg,01*128Kg,03*256Kg",
          "@Option Bytes  /0x1FFF0000/01*032 e", STDFU_FLASH_PROGRAM_UNIT },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        _cleanup_layout_ stdfu_layout flash = {}, ob = {};
        parse_layout(cases[i].flash, &flash);
        parse_layout(cases[i].ob, &ob);
        assert_int_equal(stdfu_image_program_unit(&flash, &ob), cases[i].unit);
        /* without the option bytes' alt the family is not known */
        assert_int_equal(stdfu_image_program_unit(&flash, NULL), STDFU_FLASH_PROGRAM_UNIT);
    }
    assert_int_equal(stdfu_image_program_unit(NULL, NULL), STDFU_FLASH_PROGRAM_UNIT);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fits),
        cmocka_unit_test(test_outside),
        cmocka_unit_test(test_past_the_end),
        cmocka_unit_test(test_over_flash_size),
        cmocka_unit_test(test_read_only),
        cmocka_unit_test(test_gap_between_segments),
        cmocka_unit_test(test_several_elements),
        cmocka_unit_test(test_sectors),
        cmocka_unit_test(test_ids_without_suffix),
        cmocka_unit_test(test_align_pads),
        cmocka_unit_test(test_align_joins),
        cmocka_unit_test(test_align_not_erasable),
        cmocka_unit_test(test_program_unit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
