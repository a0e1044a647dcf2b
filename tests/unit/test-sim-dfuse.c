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

static void test_commands_run_on_following_getstatus(void **state) {
    sim_device *d = sim_test_device("port=1-1.2,profile=f072,mode=bootloader");
    sim_usec now = T0;
    uint8_t status = 0xff, cmd[5] = { 0x41, 0x00, 0x08, 0x00, 0x08 }; /* erase 0x08000800 */
    unsigned poll = 0;
    size_t size;
    const uint8_t *flash = sim_device_flash(d, &size);
    (void) state;

    sim_test_idle(d, &now);
    assert_int_equal(sim_test_dnload(d, 0, cmd, 5, &now), 5);
    /* latched only: nothing erased yet */
    assert_int_equal(sim_device_dfu_state(d), SIM_DFU_DNLOAD_SYNC);
    assert_int_equal(sim_device_counters(d)->erases_per_page[1], 0);
    assert_int_equal(sim_test_getstatus(d, &now, &status, &poll), SIM_DFU_DNBUSY);
    assert_int_equal(status, SIM_DFU_OK);
    assert_int_equal(poll, 20); /* DS9826 page erase */
    assert_int_equal(sim_device_counters(d)->erases_per_page[1], 1);
    assert_int_equal(flash[2048], 0xff);
    assert_int_equal(sim_test_getstatus(d, &now, &status, &poll), SIM_DFU_DNLOAD_IDLE);
    assert_int_equal(sim_test_getstatus(d, &now, &status, &poll), SIM_DFU_DNLOAD_IDLE);
    /* GETSTATE does not advance anything */
    assert_int_equal(sim_test_ctrl(d, 0xa1, 5, 0, 0, &status, 1, &now), 1);
    assert_int_equal(status, SIM_DFU_DNLOAD_IDLE);
    sim_device_free(d);
}

static void test_upload_command_list(void **state) {
    sim_device *d = sim_test_device("port=1-1.2,profile=f072,mode=bootloader");
    sim_usec now = T0;
    uint8_t buf[16];
    (void) state;

    assert_int_equal(sim_test_upload(d, 0, buf, sizeof buf, &now), 4);
    assert_int_equal(buf[0], 0x00);
    assert_int_equal(buf[1], 0x21);
    assert_int_equal(buf[2], 0x41);
    assert_int_equal(buf[3], 0x92);
    assert_int_equal(sim_device_dfu_state(d), SIM_DFU_IDLE);
    /* block 1 does not exist */
    assert_int_equal(sim_test_upload(d, 1, buf, sizeof buf, &now), -EPIPE);
    assert_int_equal(sim_device_dfu_state(d), SIM_DFU_ERROR);
    assert_int_equal(sim_device_dfu_status(d), SIM_DFU_ERR_STALLEDPKT);
    sim_device_free(d);
}

static void test_blocks_relative_to_pointer_by_transfer_size(void **state) {
    sim_device *d = sim_test_device("port=1-1.2,profile=f072,mode=bootloader,blank=1");
    sim_usec now = T0;
    uint8_t a[2048], b[2048], c[100], back[2048];
    size_t size;
    const uint8_t *flash = sim_device_flash(d, &size);
    (void) state;

    memset(a, 0x11, sizeof a);
    memset(b, 0x22, sizeof b);
    memset(c, 0x33, sizeof c);
    sim_test_idle(d, &now);
    assert_int_equal(sim_test_set_address(d, BASE + 0x1000, &now), SIM_DFU_OK);
    assert_int_equal(sim_test_write(d, 2, a, 2048, &now), SIM_DFU_OK);
    assert_int_equal(sim_test_write(d, 3, b, 2048, &now), SIM_DFU_OK);
    /* a short last block lands right behind the full ones: block n at (n - 2) * 2048 */
    assert_int_equal(sim_test_write(d, 4, c, 100, &now), SIM_DFU_OK);
    assert_memory_equal(flash + 0x1000, a, 2048);
    assert_memory_equal(flash + 0x1800, b, 2048);
    assert_memory_equal(flash + 0x2000, c, 100);
    assert_int_equal(flash[0x2000 + 100], 0xff);
    assert_int_equal(sim_device_dfu_address(d), BASE + 0x1000); /* the pointer stays */

    /* the same for uploads, whatever wLength each request asks for */
    assert_int_equal(sim_test_ctrl(d, 0x21, 6, 0, 0, NULL, 0, &now), 0);
    assert_int_equal(sim_test_upload(d, 3, back, 2048, &now), 2048);
    assert_memory_equal(back, b, 2048);
    assert_int_equal(sim_test_upload(d, 4, back, 100, &now), 100);
    assert_memory_equal(back, c, 100);
    assert_int_equal(sim_test_upload(d, 3, back, 512, &now), 512);
    assert_memory_equal(back, b, 512);
    assert_int_equal(sim_device_dfu_state(d), SIM_DFU_UPLOAD_IDLE);
    sim_device_free(d);
}

static void test_err_target_outside_layout(void **state) {
    sim_device *d = sim_test_device("port=1-1.2,profile=f072,mode=bootloader");
    sim_usec now = T0;
    uint8_t buf[2048] = { 0 };
    (void) state;

    sim_test_idle(d, &now);
    assert_int_equal(sim_test_set_address(d, 0x20000000, &now), SIM_DFU_ERR_TARGET);
    assert_int_equal(sim_device_dfu_address(d), BASE);
    assert_int_equal(sim_test_clrstatus(d, &now), 0);
    assert_int_equal(sim_test_erase(d, BASE + 128 * 1024, &now), SIM_DFU_ERR_TARGET);
    assert_int_equal(sim_test_clrstatus(d, &now), 0);
    /* a write that would run past the end of flash */
    assert_int_equal(sim_test_set_address(d, BASE + 127 * 1024, &now), SIM_DFU_OK);
    assert_int_equal(sim_test_write(d, 2, buf, 2048, &now), SIM_DFU_ERR_TARGET);
    assert_int_equal(sim_test_clrstatus(d, &now), 0);
    /* upload past the end: short frame at the end, then a stall with errTARGET */
    assert_int_equal(sim_test_upload(d, 2, buf, 2048, &now), 1024);
    assert_int_equal(sim_device_dfu_state(d), SIM_DFU_IDLE);
    assert_int_equal(sim_test_upload(d, 3, buf, 2048, &now), -EPIPE);
    assert_int_equal(sim_device_dfu_state(d), SIM_DFU_ERROR);
    assert_int_equal(sim_device_dfu_status(d), SIM_DFU_ERR_TARGET);
    /* unknown command byte */
    assert_int_equal(sim_test_clrstatus(d, &now), 0);
    assert_int_equal(sim_test_command(d, (const uint8_t[]) { 0x77 }, 1, &now),
                     SIM_DFU_ERR_UNKNOWN);
    sim_device_free(d);
}

static void test_stalls_in_wrong_state(void **state) {
    sim_device *d = sim_test_device("port=1-1.2,profile=f072,mode=bootloader");
    sim_usec now = T0;
    uint8_t buf[2049] = { 0 };
    (void) state;

    assert_int_equal(sim_test_set_address(d, BASE, &now), SIM_DFU_OK);
    assert_int_equal(sim_device_dfu_state(d), SIM_DFU_DNLOAD_IDLE);
    /* UPLOAD in dfuDNLOAD-IDLE */
    assert_int_equal(sim_test_upload(d, 2, buf, 64, &now), -EPIPE);
    assert_int_equal(sim_device_dfu_state(d), SIM_DFU_ERROR);
    assert_int_equal(sim_device_dfu_status(d), SIM_DFU_ERR_STALLEDPKT);
    /* DNLOAD in dfuERROR */
    assert_int_equal(sim_test_dnload(d, 2, buf, 64, &now), -EPIPE);
    /* ABORT is ignored in dfuERROR; GETSTATUS still answers */
    assert_int_equal(sim_test_ctrl(d, 0x21, 6, 0, 0, NULL, 0, &now), 0);
    assert_int_equal(sim_test_getstatus(d, &now, NULL, NULL), SIM_DFU_ERROR);
    assert_int_equal(sim_test_clrstatus(d, &now), 0);
    assert_int_equal(sim_test_getstatus(d, &now, NULL, NULL), SIM_DFU_IDLE);
    /* CLRSTATUS outside dfuERROR is an error itself */
    assert_int_equal(sim_test_clrstatus(d, &now), 0);
    assert_int_equal(sim_device_dfu_status(d), SIM_DFU_ERR_UNKNOWN);
    assert_int_equal(sim_test_clrstatus(d, &now), 0);
    /* more than wTransferSize */
    assert_int_equal(sim_test_ctrl(d, 0x21, 1, 2, 0, buf, 2049, &now), -EPIPE);
    assert_int_equal(sim_test_clrstatus(d, &now), 0);
    /* wrong interface, wrong direction, unknown request */
    assert_int_equal(sim_test_ctrl(d, 0xa1, 3, 0, 1, buf, 6, &now), -EPIPE);
    assert_int_equal(sim_test_clrstatus(d, &now), 0);
    assert_int_equal(sim_test_ctrl(d, 0x21, 3, 0, 0, buf, 6, &now), -EPIPE);
    assert_int_equal(sim_test_clrstatus(d, &now), 0);
    assert_int_equal(sim_test_ctrl(d, 0xa1, 9, 0, 0, buf, 6, &now), -EPIPE);
    assert_int_equal(sim_test_clrstatus(d, &now), 0);
    assert_int_equal(sim_test_getstatus(d, &now, NULL, NULL), SIM_DFU_IDLE);
    sim_device_free(d);
}

static void test_abort_returns_to_idle(void **state) {
    sim_device *d = sim_test_device("port=1-1.2,profile=f072,mode=bootloader,blank=1");
    sim_usec now = T0;
    uint8_t buf[64];
    size_t size;
    const uint8_t *flash = sim_device_flash(d, &size);
    (void) state;

    memset(buf, 0, sizeof buf);
    assert_int_equal(sim_test_dnload(d, 2, buf, 64, &now), 64);
    assert_int_equal(sim_device_dfu_state(d), SIM_DFU_DNLOAD_SYNC);
    /* aborting a latched block drops it */
    assert_int_equal(sim_test_ctrl(d, 0x21, 6, 0, 0, NULL, 0, &now), 0);
    assert_int_equal(sim_test_getstatus(d, &now, NULL, NULL), SIM_DFU_IDLE);
    assert_int_equal(flash[0], 0xff);
    assert_int_equal(sim_device_counters(d)->bytes_written, 0);
    assert_int_equal(sim_test_upload(d, 2, buf, 64, &now), 64);
    assert_int_equal(sim_device_dfu_state(d), SIM_DFU_UPLOAD_IDLE);
    assert_int_equal(sim_test_ctrl(d, 0x21, 6, 0, 0, NULL, 0, &now), 0);
    assert_int_equal(sim_device_dfu_state(d), SIM_DFU_IDLE);
    sim_device_free(d);
}

static void test_mass_erase(void **state) {
    sim_device *d = sim_test_device("port=1-1.2,profile=f072,mode=bootloader");
    sim_usec now = T0;
    size_t size;
    const uint8_t *flash = sim_device_flash(d, &size);
    (void) state;

    assert_int_equal(flash[0], 0x00); /* the preloaded image's SP 0x20004000 */
    assert_int_equal(sim_test_command(d, (const uint8_t[]) { 0x41 }, 1, &now), SIM_DFU_OK);
    for (size_t i = 0; i < size; i++)
        if (flash[i] != 0xff)
            fail_msg("byte %zu not erased", i);
    for (unsigned p = 0; p < 64; p++)
        assert_int_equal(sim_device_counters(d)->erases_per_page[p], 1);
    sim_device_free(d);
}

static void test_f407_rom_quirks(void **state) {
    sim_device *d = sim_test_device("port=1-1.3,profile=f407,mode=bootloader");
    sim_usec now = T0;
    uint8_t status = 0, cmd[5] = { 0x21, 0x00, 0x00, 0x00, 0x08 };
    unsigned poll = 0;
    (void) state;

    /* the F4 ROM comes up in dfuERROR/errFIRMWARE; DNLOAD stalls until CLRSTATUS */
    assert_int_equal(sim_test_getstatus(d, &now, &status, NULL), SIM_DFU_ERROR);
    assert_int_equal(status, SIM_DFU_ERR_FIRMWARE);
    assert_int_equal(sim_test_dnload(d, 0, cmd, 5, &now), -EPIPE);
    assert_int_equal(sim_test_clrstatus(d, &now), 0);
    assert_int_equal(sim_test_getstatus(d, &now, &status, NULL), SIM_DFU_IDLE);

    /* bwPollTimeout 104 ms after Set Address, although it takes no time */
    assert_int_equal(sim_test_dnload(d, 0, cmd, 5, &now), 5);
    assert_int_equal(sim_test_getstatus(d, &now, &status, &poll), SIM_DFU_DNBUSY);
    assert_int_equal(poll, 104);
    assert_int_equal(sim_device_busy_until(d), now);
    assert_int_equal(sim_test_getstatus(d, &now, &status, &poll), SIM_DFU_DNLOAD_IDLE);

    /* mass erase: 100 ms reported, 8 s taken (DS8626 tME x32) */
    assert_int_equal(sim_test_dnload(d, 0, (const uint8_t[]) { 0x41 }, 1, &now), 1);
    assert_int_equal(sim_test_getstatus(d, &now, &status, &poll), SIM_DFU_DNBUSY);
    assert_int_equal(poll, 100);
    assert_int_equal(sim_device_busy_until(d), now + 8000000);
    sim_device_free(d);
}

static void test_option_bytes_alt(void **state) {
    sim_device *d = sim_test_device("port=1-1.2,profile=f072,mode=bootloader");
    sim_usec now = T0;
    uint8_t buf[16], alt = 0xff;
    (void) state;

    assert_int_equal(sim_test_ctrl(d, 0x01, 11, 1, 0, NULL, 0, &now), 0); /* SET_INTERFACE */
    assert_int_equal(sim_device_alt_setting(d), 1);
    assert_int_equal(sim_test_ctrl(d, 0x81, 10, 0, 0, &alt, 1, &now), 1);
    assert_int_equal(alt, 1);
    /* the flash is not in this alt setting's layout */
    assert_int_equal(sim_test_set_address(d, BASE, &now), SIM_DFU_ERR_TARGET);
    assert_int_equal(sim_test_clrstatus(d, &now), 0);
    assert_int_equal(sim_test_set_address(d, 0x1ffff800, &now), SIM_DFU_OK);
    assert_int_equal(sim_test_ctrl(d, 0x21, 6, 0, 0, NULL, 0, &now), 0);
    assert_int_equal(sim_test_upload(d, 2, buf, 16, &now), 16);
    assert_int_equal(buf[0], 0xaa);
    assert_int_equal(buf[1], 0x55);
    /* DNLOAD is refused in dfuUPLOAD-IDLE */
    assert_int_equal(sim_test_dnload(d, 0, (const uint8_t[]) { 0x41 }, 1, &now), -EPIPE);
    assert_int_equal(sim_test_clrstatus(d, &now), 0);
    /* 'e': readable and writable, not erasable */
    assert_int_equal(sim_test_erase(d, 0x1ffff800, &now), SIM_DFU_ERR_TARGET);
    assert_int_equal(sim_test_ctrl(d, 0x01, 11, 2, 0, NULL, 0, &now), -EPIPE);
    sim_device_free(d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_download_and_leave),
        cmocka_unit_test(test_commands_run_on_following_getstatus),
        cmocka_unit_test(test_upload_command_list),
        cmocka_unit_test(test_blocks_relative_to_pointer_by_transfer_size),
        cmocka_unit_test(test_err_target_outside_layout),
        cmocka_unit_test(test_stalls_in_wrong_state),
        cmocka_unit_test(test_abort_returns_to_idle),
        cmocka_unit_test(test_mass_erase),
        cmocka_unit_test(test_f407_rom_quirks),
        cmocka_unit_test(test_option_bytes_alt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
