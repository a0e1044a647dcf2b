/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Flash of the emulated STM32s: erase granularity, programming rules per family. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "model/model-internal.h"
#include "test-sim-util.h"

#define BASE 0x08000000u

static void check_byte_range(const uint8_t *p, size_t n, uint8_t v) {
    for (size_t i = 0; i < n; i++)
        if (p[i] != v)
            fail_msg("byte %zu is 0x%02x, expected 0x%02x", i, p[i], v);
}

static void test_geometry(void **state) {
    const sim_profile *f0 = sim_profile_find("f072"), *f4 = sim_profile_find("f407"),
                      *l4 = sim_profile_find("l476");
    (void) state;

    assert_int_equal(sim_profile_flash_size(f0), 128 * 1024);
    assert_int_equal(sim_profile_n_pages(f0), 64);
    assert_int_equal(sim_profile_flash_size(f4), 1024 * 1024);
    assert_int_equal(sim_profile_n_pages(f4), 12);
    assert_int_equal(sim_profile_flash_size(l4), 1024 * 1024);
    assert_int_equal(sim_profile_n_pages(l4), 512);

    assert_int_equal(sim_profile_page_of(f4, BASE), 0);
    assert_int_equal(sim_profile_page_of(f4, BASE + 0xffff), 3);
    assert_int_equal(sim_profile_page_of(f4, BASE + 0x10000), 4);
    assert_int_equal(sim_profile_page_of(f4, BASE + 0x1ffff), 4);
    assert_int_equal(sim_profile_page_of(f4, BASE + 0x20000), 5);
    assert_int_equal(sim_profile_page_of(f4, BASE + 0xfffff), 11);
    assert_int_equal(sim_profile_page_of(f4, BASE + 0x100000), -1);
    assert_int_equal(sim_profile_page_of(f4, BASE - 1), -1);
    assert_int_equal(sim_profile_page_start(f4, 5), BASE + 0x20000);
    assert_int_equal(sim_profile_page_size(f4, 5), 128 * 1024);
    assert_int_equal(sim_profile_page_size(f4, 4), 64 * 1024);
    assert_int_equal(sim_profile_page_of(f0, BASE + 2047), 0);
    assert_int_equal(sim_profile_page_of(f0, BASE + 2048), 1);
    assert_int_equal(sim_profile_page_of(f0, BASE + 128 * 1024), -1);
}

static void test_erase_only_addressed_page(void **state) {
    sim_memory m;
    (void) state;

    assert_int_equal(sim_memory_init(&m, sim_profile_find("f072")), 0);
    memset(m.flash, 0x00, m.flash_size);
    sim_memory_erase_page(&m, 1);
    check_byte_range(m.flash, 2048, 0x00);
    check_byte_range(m.flash + 2048, 2048, 0xff);
    check_byte_range(m.flash + 4096, m.flash_size - 4096, 0x00);
    sim_memory_erase_all(&m);
    check_byte_range(m.flash, m.flash_size, 0xff);
    sim_memory_done(&m);
}

static void test_f0_program_rules(void **state) {
    sim_memory m;
    size_t done;
    const uint8_t a[4] = { 0x12, 0x34, 0x56, 0x78 }, zero[2] = { 0, 0 }, same[2] = { 0x12, 0x34 };
    (void) state;

    assert_int_equal(sim_memory_init(&m, sim_profile_find("f072")), 0);
    assert_int_equal(sim_memory_program(&m, 0, BASE, a, 4, &done), SIM_DFU_OK);
    assert_int_equal(done, 4);
    assert_memory_equal(m.flash, a, 4);
    /* PGERR: even the same value cannot be programmed twice (RM0091) */
    assert_int_equal(sim_memory_program(&m, 0, BASE, same, 2, &done), SIM_DFU_ERR_WRITE);
    assert_int_equal(done, 0);
    /* ... except 0x0000 */
    assert_int_equal(sim_memory_program(&m, 0, BASE + 2, zero, 2, &done), SIM_DFU_OK);
    assert_int_equal(m.flash[2], 0);
    assert_int_equal(m.flash[3], 0);
    /* an odd byte is padded with 0xff into its half-word */
    assert_int_equal(sim_memory_program(&m, 0, BASE + 9, a, 1, &done), SIM_DFU_OK);
    assert_int_equal(m.flash[8], 0xff);
    assert_int_equal(m.flash[9], 0x12);
    /* the other byte of that half-word can no longer be programmed */
    assert_int_equal(sim_memory_program(&m, 0, BASE + 8, a, 1, &done), SIM_DFU_ERR_WRITE);
    sim_memory_done(&m);
}

static void test_f4_clears_bits_and_verify_fails(void **state) {
    sim_memory m;
    size_t done;
    const uint8_t first[4] = { 0xf0, 0xff, 0x0f, 0xaa }, second[4] = { 0x0f, 0xff, 0x0f, 0xaa };
    const uint8_t clear[4] = { 0x00, 0xf0, 0x0f, 0x0a };
    (void) state;

    assert_int_equal(sim_memory_init(&m, sim_profile_find("f407")), 0);
    assert_int_equal(sim_memory_program(&m, 0, BASE, first, 4, &done), SIM_DFU_OK);
    /* clearing more bits works without erase */
    assert_int_equal(sim_memory_program(&m, 0, BASE, clear, 4, &done), SIM_DFU_OK);
    assert_memory_equal(m.flash, clear, 4);
    /* setting a bit back is impossible: cells keep the AND, the ROM's verify fails */
    assert_int_equal(sim_memory_program(&m, 0, BASE, second, 4, &done), SIM_DFU_ERR_VERIFY);
    assert_int_equal(m.flash[0], 0x00);
    assert_int_equal(m.flash[1], 0xf0);
    sim_memory_done(&m);
}

static void test_l4_double_word(void **state) {
    sim_memory m;
    size_t done;
    const uint8_t v[8] = { 1, 2, 3, 4, 5, 6, 7, 8 }, z[8] = { 0 };
    (void) state;

    assert_int_equal(sim_memory_init(&m, sim_profile_find("l476")), 0);
    /* 3 bytes program a whole double word, padded with 0xff */
    assert_int_equal(sim_memory_program(&m, 0, BASE, v, 3, &done), SIM_DFU_OK);
    assert_int_equal(done, 3);
    check_byte_range(m.flash + 3, 5, 0xff);
    /* the rest of that double word is gone until erased (ECC) */
    assert_int_equal(sim_memory_program(&m, 0, BASE + 3, v + 3, 5, &done), SIM_DFU_ERR_WRITE);
    /* zeros are accepted over anything */
    assert_int_equal(sim_memory_program(&m, 0, BASE, z, 8, &done), SIM_DFU_OK);
    check_byte_range(m.flash, 8, 0x00);
    assert_int_equal(sim_memory_program(&m, 0, BASE + 8, v, 8, &done), SIM_DFU_OK);
    assert_memory_equal(m.flash + 8, v, 8);
    sim_memory_done(&m);
}

static void test_bounds_and_alt_regions(void **state) {
    sim_memory m;
    size_t done;
    uint32_t base, size;
    uint8_t ob[16], *mem;
    const uint8_t v[2] = { 0x11, 0x22 };
    (void) state;

    assert_int_equal(sim_memory_init(&m, sim_profile_find("f072")), 0);
    assert_true(sim_memory_contains(&m, 0, BASE, 128 * 1024));
    assert_false(sim_memory_contains(&m, 0, BASE, 128 * 1024 + 1));
    assert_false(sim_memory_contains(&m, 0, BASE - 2, 4));
    assert_int_equal(sim_memory_program(&m, 0, BASE + 128 * 1024 - 1, v, 2, &done),
                     SIM_DFU_ERR_TARGET);
    assert_int_equal(done, 0);

    mem = sim_memory_region(&m, 1, &base, &size);
    assert_non_null(mem);
    assert_int_equal(base, 0x1ffff800);
    assert_int_equal(size, 16);
    assert_int_equal(mem[0], 0xaa); /* RDP level 0 */
    assert_int_equal(mem[1], 0x55);
    memcpy(ob, mem, 16);
    assert_int_equal(sim_memory_program(&m, 1, 0x1ffff804, v, 2, &done), SIM_DFU_OK);
    assert_int_equal(mem[4], 0x11);
    assert_memory_equal(mem, ob, 4);
    assert_null(sim_memory_region(&m, 2, &base, &size));
    sim_memory_done(&m);

    /* F4 OTP only clears bits */
    assert_int_equal(sim_memory_init(&m, sim_profile_find("f407")), 0);
    mem = sim_memory_region(&m, 2, &base, &size);
    assert_int_equal(base, 0x1fff7800);
    assert_int_equal(size, 528);
    assert_int_equal(sim_memory_program(&m, 2, base, v, 2, &done), SIM_DFU_OK);
    assert_int_equal(sim_memory_program(&m, 2, base, (const uint8_t[]) { 0xff, 0x0f }, 2, &done),
                     SIM_DFU_OK);
    assert_int_equal(mem[0], 0x11);
    assert_int_equal(mem[1], 0x02);
    sim_memory_done(&m);
}

static void test_flash_through_the_rom(void **state) {
    /* writing over programmed cells through DfuSe fails with the family's status */
    sim_device *d = sim_test_device("port=1-1.1,profile=f072,mode=bootloader");
    sim_device *f4 = sim_test_device("port=1-1.2,profile=f407,mode=bootloader");
    sim_usec now = T0;
    uint8_t buf[64];
    size_t size;
    (void) state;

    memset(buf, 0x5a, sizeof buf);
    sim_test_idle(d, &now);
    assert_int_equal(sim_test_set_address(d, BASE, &now), SIM_DFU_OK);
    /* the preloaded application occupies page 0: not erased */
    assert_int_equal(sim_test_write(d, 2, buf, sizeof buf, &now), SIM_DFU_ERR_WRITE);
    assert_int_equal(sim_device_dfu_state(d), SIM_DFU_ERROR);
    assert_int_equal(sim_test_clrstatus(d, &now), 0);
    assert_int_equal(sim_test_erase(d, BASE, &now), SIM_DFU_OK);
    assert_int_equal(sim_test_set_address(d, BASE, &now), SIM_DFU_OK);
    assert_int_equal(sim_test_write(d, 2, buf, sizeof buf, &now), SIM_DFU_OK);
    assert_memory_equal(sim_device_flash(d, &size), buf, sizeof buf);
    assert_int_equal(sim_device_counters(d)->erases_per_page[0], 1);
    assert_int_equal(sim_device_counters(d)->erases_per_page[1], 0);

    now = T0;
    sim_test_idle(f4, &now);
    assert_int_equal(sim_test_set_address(f4, BASE, &now), SIM_DFU_OK);
    assert_int_equal(sim_test_write(f4, 2, buf, sizeof buf, &now), SIM_DFU_ERR_VERIFY);
    sim_device_free(d);
    sim_device_free(f4);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_geometry),
        cmocka_unit_test(test_erase_only_addressed_page),
        cmocka_unit_test(test_f0_program_rules),
        cmocka_unit_test(test_f4_clears_bits_and_verify_fails),
        cmocka_unit_test(test_l4_double_word),
        cmocka_unit_test(test_bounds_and_alt_regions),
        cmocka_unit_test(test_flash_through_the_rom),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
