/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The DfuSe state machine of the emulated ROM bootloader. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test-sim-util.h"

#define BASE 0x08000000u

static void test_download_and_leave(void **state) {
    sim_device *d = sim_test_device("port=1-1.2,profile=f072,mode=bootloader,blank=1");
    sim_usec now = T0;
    size_t size = 6000;
    uint8_t *img = malloc(size), back[2048];
    unsigned major = 0, minor = 0;
    (void) state;

    assert_int_equal(sim_device_mode(d), SIM_MODE_BOOTLOADER);
    assert_int_equal(sim_fw_make(img, size, 2, 5, 42), 0);
    sim_test_idle(d, &now);
    for (uint32_t a = BASE; a < BASE + size; a += 2048)
        assert_int_equal(sim_test_erase(d, a, &now), SIM_DFU_OK);
    /* as dfu-util does: Set Address before every chunk, then block 2 */
    for (size_t off = 0; off < size; off += 2048) {
        uint16_t n = (uint16_t) (size - off < 2048 ? size - off : 2048);
        assert_int_equal(sim_test_set_address(d, BASE + (uint32_t) off, &now), SIM_DFU_OK);
        assert_int_equal(sim_test_write(d, 2, img + off, n, &now), SIM_DFU_OK);
    }
    assert_int_equal(sim_device_dfu_state(d), SIM_DFU_DNLOAD_IDLE);

    /* read back, as dfu-util -U does after an abort */
    assert_int_equal(sim_test_set_address(d, BASE, &now), SIM_DFU_OK);
    assert_int_equal(sim_test_ctrl(d, 0x21, 6, 0, 0, NULL, 0, &now), 0);
    assert_int_equal(sim_test_upload(d, 2, back, 2048, &now), 2048);
    assert_memory_equal(back, img, 2048);
    assert_int_equal(sim_test_upload(d, 4, back, 2048, &now), 2048);
    assert_memory_equal(back, img + 4096, size - 4096);
    assert_int_equal(sim_device_counters(d)->bytes_read, 4096);
    assert_int_equal(sim_test_ctrl(d, 0x21, 6, 0, 0, NULL, 0, &now), 0);

    sim_test_leave(d, BASE, &now);
    assert_int_equal(sim_device_counters(d)->leaves, 1);
    sim_transition t = sim_test_follow(d);
    assert_int_equal(t.mode, SIM_MODE_APPLICATION);
    assert_int_equal(t.at, now);
    assert_int_equal(t.reconnect_at, now + SIM_REENUM_US);
    assert_int_equal(sim_device_mode(d), SIM_MODE_APPLICATION);
    assert_true(sim_device_app_version(d, &major, &minor));
    assert_int_equal(major, 2);
    assert_int_equal(minor, 5);
    assert_int_equal(sim_device_app_bcd(d), 0x0205);
    assert_int_equal(sim_device_counters(d)->bytes_written, size);
    assert_int_equal(sim_device_counters(d)->boots, 1);
    assert_int_equal(sim_device_counters(d)->enumerations, 2);
    free(img);
    sim_device_free(d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_download_and_leave),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
