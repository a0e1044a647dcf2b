/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Scripted faults: unplug-at, write-error-at, stall-status, rdp, erase-error-at, stuck-bit-at,
 * timeout-status, start-error, power-loss-at-erase, fault-times (slow-erase: test-sim-timing). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test-sim-util.h"

#define BASE 0x08000000u

static void test_unplug_at(void **state) {
    sim_device *d = sim_test_device("port=1-1.2,mode=bootloader,blank=1,unplug-at=3000");
    sim_usec now = T0;
    uint8_t a[2048], b[2048];
    sim_transition t;
    size_t size;
    const uint8_t *flash = sim_device_flash(d, &size);
    (void) state;

    memset(a, 0x11, sizeof a);
    memset(b, 0x22, sizeof b);
    assert_int_equal(sim_test_set_address(d, BASE, &now), SIM_DFU_OK);
    assert_int_equal(sim_test_write(d, 2, a, 2048, &now), SIM_DFU_OK);
    assert_false(sim_device_take_transition(d, &t));
    assert_int_equal(sim_test_dnload(d, 3, b, 2048, &now), 2048);
    assert_int_equal(sim_test_getstatus(d, &now, NULL, NULL), SIM_DFU_DNBUSY);
    /* the cable goes once byte 3000 reached the flash: 952 bytes of this block */
    assert_true(sim_device_take_transition(d, &t));
    assert_int_equal(t.mode, SIM_MODE_OFF);
    assert_int_equal(t.at, now + 476 * 53500 / 1000);
    assert_int_equal(sim_device_counters(d)->bytes_written, 3000);
    assert_int_equal(flash[2048 + 951], 0x22);
    assert_int_equal(flash[2048 + 952], 0xff);
    assert_false(sim_device_powered(d));
    assert_int_equal(sim_test_getstatus(d, &now, NULL, NULL), -ENODEV);
    assert_int_equal(sim_device_hid_output(d, a, 2, now), -ENODEV);

    /* plugged back: a cold boot; the fault fired once */
    sim_device_set_power(d, true, now + 1000000);
    t = sim_test_follow(d);
    assert_int_equal(t.mode, SIM_MODE_BOOTLOADER);
    now = t.reconnect_at;
    assert_int_equal(sim_test_set_address(d, BASE + 0x1000, &now), SIM_DFU_OK);
    assert_int_equal(sim_test_write(d, 2, b, 2048, &now), SIM_DFU_OK);
    assert_false(sim_device_take_transition(d, &t));
    sim_device_free(d);
}

static void test_write_error_at(void **state) {
    sim_device *d = sim_test_device("port=1-1.2,mode=bootloader,blank=1,write-error-at=3");
    sim_usec now = T0;
    uint8_t a[1024];
    size_t size;
    const uint8_t *flash = sim_device_flash(d, &size);
    (void) state;

    memset(a, 0x44, sizeof a);
    assert_int_equal(sim_test_set_address(d, BASE, &now), SIM_DFU_OK);
    assert_int_equal(sim_test_write(d, 2, a, 1024, &now), SIM_DFU_OK);
    assert_int_equal(sim_test_write(d, 3, a, 1024, &now), SIM_DFU_ERR_WRITE);
    assert_int_equal(sim_device_dfu_state(d), SIM_DFU_ERROR);
    assert_int_equal(flash[2048], 0xff); /* block 3: pointer + 2048 */
    assert_int_equal(sim_device_counters(d)->bytes_written, 1024);
    /* DNLOAD stalls in dfuERROR until cleared; then the same block works */
    assert_int_equal(sim_test_dnload(d, 3, a, 1024, &now), -EPIPE);
    assert_int_equal(sim_test_clrstatus(d, &now), 0);
    assert_int_equal(sim_test_write(d, 3, a, 1024, &now), SIM_DFU_OK);
    assert_int_equal(flash[2048], 0x44);
    assert_int_equal(flash[1024], 0xff);
    sim_device_free(d);
}

/* dfu-util numbers every chunk block 2 after its own Set Address: the fault counts chunks. */
static void test_write_error_at_counts_data_blocks(void **state) {
    sim_device *d = sim_test_device("port=1-1.2,mode=bootloader,blank=1,write-error-at=4");
    sim_usec now = T0;
    uint8_t a[2048];
    (void) state;

    memset(a, 0x77, sizeof a);
    for (unsigned chunk = 0; chunk < 4; chunk++) {
        assert_int_equal(sim_test_set_address(d, BASE + chunk * 2048u, &now), SIM_DFU_OK);
        assert_int_equal(sim_test_write(d, 2, a, 2048, &now),
                         chunk == 2 ? SIM_DFU_ERR_WRITE : SIM_DFU_OK);
        if (chunk == 2)
            assert_int_equal(sim_test_clrstatus(d, &now), 0);
    }
    assert_int_equal(sim_device_counters(d)->bytes_written, 3 * 2048);
    sim_device_free(d);
}

static void test_stall_status(void **state) {
    sim_device *d = sim_test_device("port=1-1.2,mode=bootloader,blank=1,stall-status=2");
    sim_usec now = T0;
    uint8_t cmd[5] = { 0x41, 0x00, 0x00, 0x00, 0x08 }, status = 0xff;
    (void) state;

    assert_int_equal(sim_test_dnload(d, 0, cmd, 5, &now), 5);
    assert_int_equal(sim_test_getstatus(d, &now, NULL, NULL), -EPIPE);
    /* the latched command did not run */
    assert_int_equal(sim_device_counters(d)->erases_per_page[0], 0);
    assert_int_equal(sim_device_dfu_state(d), SIM_DFU_ERROR);
    assert_int_equal(sim_device_dfu_status(d), SIM_DFU_ERR_STALLEDPKT);
    assert_int_equal(sim_test_getstatus(d, &now, NULL, NULL), -EPIPE);
    assert_int_equal(sim_test_getstatus(d, &now, &status, NULL), SIM_DFU_ERROR);
    assert_int_equal(status, SIM_DFU_ERR_STALLEDPKT);
    assert_int_equal(sim_test_clrstatus(d, &now), 0);
    assert_int_equal(sim_test_erase(d, BASE, &now), SIM_DFU_OK);
    sim_device_free(d);
}

static void test_rdp(void **state) {
    sim_device *d = sim_test_device("port=1-1.2,rdp=1");
    sim_usec now = T0;
    uint8_t buf[64] = { 0 }, detach[2] = { 0x80, 0x55 }, status = 0;
    unsigned poll = 0;
    sim_transition t;
    size_t size;
    const uint8_t *flash = sim_device_flash(d, &size);
    (void) state;

    /* read protection does not stop the application from running */
    assert_int_equal(sim_device_mode(d), SIM_MODE_APPLICATION);
    assert_true(sim_device_read_protected(d));
    assert_int_equal(sim_device_hid_set_feature(d, detach, 2, now), 2);
    now = sim_test_follow(d).reconnect_at;

    /* upload, write and erase fail with errVENDOR */
    assert_int_equal(sim_test_set_address(d, BASE, &now), SIM_DFU_OK);
    assert_int_equal(sim_test_ctrl(d, 0x21, 6, 0, 0, NULL, 0, &now), 0);
    assert_int_equal(sim_test_upload(d, 2, buf, 64, &now), -EPIPE);
    assert_int_equal(sim_device_dfu_status(d), SIM_DFU_ERR_VENDOR);
    assert_int_equal(sim_device_counters(d)->bytes_read, 0);
    assert_int_equal(sim_test_clrstatus(d, &now), 0);
    assert_int_equal(sim_test_write(d, 2, buf, 64, &now), SIM_DFU_ERR_VENDOR);
    assert_int_equal(sim_test_clrstatus(d, &now), 0);
    assert_int_equal(sim_test_erase(d, BASE, &now), SIM_DFU_ERR_VENDOR);
    assert_int_equal(sim_test_clrstatus(d, &now), 0);
    assert_int_equal(flash[0], 0x00); /* the image is still there */

    /* read unprotect: DNBUSY, mass erase, then the ROM resets */
    assert_int_equal(sim_test_dnload(d, 0, (const uint8_t[]) { 0x92 }, 1, &now), 1);
    assert_int_equal(sim_test_getstatus(d, &now, &status, &poll), SIM_DFU_DNBUSY);
    assert_int_equal(poll, 20);
    assert_true(sim_device_take_transition(d, &t));
    assert_int_equal(t.at, now + 20000);
    assert_int_equal(t.mode, SIM_MODE_BOOTLOADER); /* blank now */
    sim_device_connected(d, t.mode, t.reconnect_at);
    assert_false(sim_device_read_protected(d));
    for (size_t i = 0; i < size; i++)
        if (flash[i] != 0xff)
            fail_msg("byte %zu survived the read unprotect", i);
    assert_int_equal(sim_device_counters(d)->erases_per_page[63], 1);
    now = t.reconnect_at;
    assert_int_equal(sim_test_set_address(d, BASE, &now), SIM_DFU_OK);
    assert_int_equal(sim_test_ctrl(d, 0x21, 6, 0, 0, NULL, 0, &now), 0);
    assert_int_equal(sim_test_upload(d, 2, buf, 64, &now), 64);
    assert_int_equal(buf[0], 0xff);
    assert_int_equal(sim_test_ctrl(d, 0x21, 6, 0, 0, NULL, 0, &now), 0);
    /* option bytes back to level 0 */
    assert_int_equal(sim_test_ctrl(d, 0x01, 11, 1, 0, NULL, 0, &now), 0);
    assert_int_equal(sim_test_set_address(d, 0x1ffff800, &now), SIM_DFU_OK);
    assert_int_equal(sim_test_ctrl(d, 0x21, 6, 0, 0, NULL, 0, &now), 0);
    assert_int_equal(sim_test_upload(d, 2, buf, 16, &now), 16);
    assert_int_equal(buf[0], 0xaa);
    sim_device_free(d);
}

static void test_rdp_option_bytes(void **state) {
    sim_device *d = sim_test_device("port=1-1.2,rdp=1,mode=bootloader");
    sim_usec now = T0;
    uint8_t buf[16];
    (void) state;

    /* option bytes stay readable under RDP level 1; they show the level */
    assert_int_equal(sim_test_ctrl(d, 0x01, 11, 1, 0, NULL, 0, &now), 0);
    assert_int_equal(sim_test_set_address(d, 0x1ffff800, &now), SIM_DFU_OK);
    assert_int_equal(sim_test_ctrl(d, 0x21, 6, 0, 0, NULL, 0, &now), 0);
    assert_int_equal(sim_test_upload(d, 2, buf, 16, &now), 16);
    assert_int_not_equal(buf[0], 0xaa);
    assert_int_not_equal(buf[0], 0xcc);
    assert_int_equal(buf[0] ^ buf[1], 0xff);
    assert_true(sim_device_read_protected(d));
    sim_device_free(d);
}

/* Writing the option bytes reloads them, which resets the chip; RDP follows the new bytes. */
static void test_option_bytes_write_resets(void **state) {
    sim_device *d = sim_test_device("port=1-1.2,mode=bootloader");
    sim_usec now = T0;
    uint8_t ob[16], buf[16];
    sim_transition t;
    size_t size;
    const uint8_t *flash = sim_device_flash(d, &size);
    (void) state;

    assert_int_equal(sim_test_ctrl(d, 0x01, 11, 1, 0, NULL, 0, &now), 0);
    assert_int_equal(sim_test_set_address(d, 0x1ffff800, &now), SIM_DFU_OK);
    assert_int_equal(sim_test_ctrl(d, 0x21, 6, 0, 0, NULL, 0, &now), 0);
    assert_int_equal(sim_test_upload(d, 2, ob, 16, &now), 16);
    assert_int_equal(sim_test_ctrl(d, 0x21, 6, 0, 0, NULL, 0, &now), 0);
    ob[0] = 0xbb; /* RDP level 1 */
    ob[1] = 0x44;
    assert_int_equal(sim_test_dnload(d, 2, ob, 16, &now), 16);
    assert_int_equal(sim_test_getstatus(d, &now, NULL, NULL), SIM_DFU_DNBUSY);
    t = sim_test_follow(d);
    assert_int_equal(t.mode, SIM_MODE_APPLICATION); /* the image is intact and boots */
    assert_true(sim_device_read_protected(d));
    assert_int_equal(flash[0], 0x00);
    assert_int_equal(sim_device_counters(d)->boots, 1);

    /* back to level 0 through the option bytes: the flash is mass-erased */
    sim_device_free(d);
    d = sim_test_device("port=1-1.2,mode=bootloader,rdp=1");
    flash = sim_device_flash(d, &size);
    now = T0;
    assert_int_equal(sim_test_ctrl(d, 0x01, 11, 1, 0, NULL, 0, &now), 0);
    assert_int_equal(sim_test_set_address(d, 0x1ffff800, &now), SIM_DFU_OK);
    memcpy(buf, ob, sizeof buf);
    buf[0] = 0xaa;
    buf[1] = 0x55;
    assert_int_equal(sim_test_dnload(d, 2, buf, 16, &now), 16);
    assert_int_equal(sim_test_getstatus(d, &now, NULL, NULL), SIM_DFU_DNBUSY);
    assert_true(sim_device_busy_until(d) >= now + 20000);
    t = sim_test_follow(d);
    assert_int_equal(t.mode, SIM_MODE_BOOTLOADER);
    assert_false(sim_device_read_protected(d));
    assert_int_equal(flash[0], 0xff);
    sim_device_free(d);
}

static void test_faults_armed_at_run_time(void **state) {
    sim_device *d = sim_test_device("port=1-1.2,mode=bootloader,blank=1");
    sim_usec now = T0;
    uint8_t a[1024];
    char err[128];
    sim_transition t;
    (void) state;

    memset(a, 0x66, sizeof a);
    assert_int_equal(sim_test_set_address(d, BASE, &now), SIM_DFU_OK);
    assert_int_equal(sim_test_write(d, 2, a, 1024, &now), SIM_DFU_OK);
    /* armed now: 100 more bytes, counted from here */
    assert_int_equal(sim_device_set(d, "unplug-at", "100", now, err, sizeof err), 0);
    /* counted from here too: 2 is the next data block */
    assert_int_equal(sim_device_set(d, "write-error-at", "2", now, err, sizeof err), 0);
    assert_int_equal(sim_test_write(d, 3, a, 1024, &now), SIM_DFU_ERR_WRITE);
    assert_int_equal(sim_test_clrstatus(d, &now), 0);
    assert_int_equal(sim_test_dnload(d, 3, a, 1024, &now), 1024);
    assert_int_equal(sim_test_getstatus(d, &now, NULL, NULL), SIM_DFU_DNBUSY);
    assert_true(sim_device_take_transition(d, &t));
    assert_int_equal(t.mode, SIM_MODE_OFF);
    assert_int_equal(sim_device_counters(d)->bytes_written, 1124);
    /* stall-status armed at run time */
    sim_device_set_power(d, true, now);
    sim_test_follow(d);
    assert_int_equal(sim_device_set(d, "stall-status", "1", now, err, sizeof err), 0);
    assert_int_equal(sim_test_getstatus(d, &now, NULL, NULL), -EPIPE);
    assert_int_equal(sim_test_getstatus(d, &now, NULL, NULL), SIM_DFU_ERROR);
    sim_device_free(d);
}


/* errERASE on the Nth page erase; the page keeps what it held; once (transient) by default. */
static void test_erase_error_at(void **state) {
    sim_device *d = sim_test_device("port=1-1.2,mode=bootloader,erase-error-at=2");
    sim_usec now = T0;
    size_t size;
    const uint8_t *flash = sim_device_flash(d, &size);
    uint8_t before = flash[2048];
    (void) state;

    assert_int_not_equal(before, 0xff); /* the preloaded application */
    assert_int_equal(sim_test_erase(d, BASE, &now), SIM_DFU_OK);
    assert_int_equal(sim_test_erase(d, BASE + 2048, &now), SIM_DFU_ERR_ERASE);
    assert_int_equal(sim_device_dfu_state(d), SIM_DFU_ERROR);
    assert_int_equal(flash[2048], before);
    assert_int_equal(sim_device_counters(d)->erases_per_page[1], 0);
    assert_int_equal(sim_test_clrstatus(d, &now), 0);
    assert_int_equal(sim_test_erase(d, BASE + 2048, &now), SIM_DFU_OK);
    assert_int_equal(flash[2048], 0xff);
    sim_device_free(d);
}

/* fault-times: the same page fails N times, or always; other pages are not affected. */
static void test_fault_times(void **state) {
    sim_device *d = sim_test_device("port=1-1.2,mode=bootloader,erase-error-at=1,fault-times=3");
    sim_device *p = sim_test_device("port=1-1.3,mode=bootloader,erase-error-at=1,"
                                    "fault-times=always");
    sim_usec now = T0;
    (void) state;

    for (int i = 0; i < 3; i++) {
        assert_int_equal(sim_test_erase(d, BASE, &now), SIM_DFU_ERR_ERASE);
        assert_int_equal(sim_test_clrstatus(d, &now), 0);
    }
    assert_int_equal(sim_test_erase(d, BASE + 2048, &now), SIM_DFU_OK);
    assert_int_equal(sim_test_erase(d, BASE, &now), SIM_DFU_OK);

    for (int i = 0; i < 20; i++) {
        assert_int_equal(sim_test_erase(p, BASE, &now), SIM_DFU_ERR_ERASE);
        assert_int_equal(sim_test_clrstatus(p, &now), 0);
    }
    assert_int_equal(sim_test_erase(p, BASE + 2048, &now), SIM_DFU_OK);

    /* write-error-at with fault-times: the same block address fails again */
    sim_device *w = sim_test_device("port=1-1.4,mode=bootloader,blank=1,write-error-at=2,"
                                    "fault-times=2");
    uint8_t a[1024];
    memset(a, 0x5a, sizeof a);
    assert_int_equal(sim_test_set_address(w, BASE, &now), SIM_DFU_OK);
    assert_int_equal(sim_test_write(w, 2, a, 1024, &now), SIM_DFU_ERR_WRITE);
    assert_int_equal(sim_test_clrstatus(w, &now), 0);
    assert_int_equal(sim_test_set_address(w, BASE, &now), SIM_DFU_OK);
    assert_int_equal(sim_test_write(w, 2, a, 1024, &now), SIM_DFU_ERR_WRITE);
    assert_int_equal(sim_test_clrstatus(w, &now), 0);
    assert_int_equal(sim_test_set_address(w, BASE, &now), SIM_DFU_OK);
    assert_int_equal(sim_test_write(w, 2, a, 1024, &now), SIM_DFU_OK);
    sim_device_free(w);
    sim_device_free(p);
    sim_device_free(d);
}

/* A bit that does not program: F0 says nothing (the host's verify must find it), the F4 ROM
 * reads back and reports errVERIFY. */
static void test_stuck_bit_at(void **state) {
    sim_device *f0 = sim_test_device("port=1-1.2,mode=bootloader,blank=1,stuck-bit-at=0x08000005");
    sim_device *f4 = sim_test_device("port=1-1.3,profile=f407,mode=bootloader,blank=1,"
                                     "stuck-bit-at=0x08000005");
    sim_usec now = T0;
    uint8_t a[64];
    size_t size;
    const uint8_t *flash = sim_device_flash(f0, &size);
    (void) state;

    memset(a, 0x00, sizeof a);
    assert_int_equal(sim_test_set_address(f0, BASE, &now), SIM_DFU_OK);
    assert_int_equal(sim_test_write(f0, 2, a, sizeof a, &now), SIM_DFU_OK);
    assert_int_equal(flash[5], 0x01);
    assert_int_equal(flash[4], 0x00);

    assert_int_equal(sim_test_clrstatus(f4, &now), 0); /* the F4 ROM starts in errFIRMWARE */
    assert_int_equal(sim_test_set_address(f4, BASE, &now), SIM_DFU_OK);
    assert_int_equal(sim_test_write(f4, 2, a, sizeof a, &now), SIM_DFU_ERR_VERIFY);
    sim_device_free(f4);
    sim_device_free(f0);
}

/* A GETSTATUS that never answers (the front-end keeps the transfer in flight until the host
 * gives up); the latched command runs on the next one that does. */
static void test_timeout_status(void **state) {
    sim_device *d = sim_test_device("port=1-1.2,mode=bootloader,timeout-status=2");
    sim_usec now = T0;
    uint8_t cmd[5] = { 0x41, 0x00, 0x00, 0x00, 0x08 };
    (void) state;

    assert_int_equal(sim_test_dnload(d, 0, cmd, 5, &now), 5);
    assert_int_equal(sim_test_getstatus(d, &now, NULL, NULL), -ENODEV);
    assert_int_equal(sim_test_getstatus(d, &now, NULL, NULL), -ENODEV);
    assert_int_equal(sim_device_counters(d)->erases_per_page[0], 0);
    assert_true(sim_device_powered(d));
    assert_int_equal(sim_test_getstatus(d, &now, NULL, NULL), SIM_DFU_DNBUSY);
    assert_int_equal(sim_device_counters(d)->erases_per_page[0], 1);
    sim_device_free(d);
}

/* The ROM starts in dfuERROR/errFIRMWARE until CLRSTATUS, on any profile. */
static void test_start_error(void **state) {
    sim_device *d = sim_test_device("port=1-1.2,mode=bootloader,start-error=1");
    sim_usec now = T0;
    uint8_t status = 0;
    uint8_t cmd[5] = { 0x41, 0x00, 0x00, 0x00, 0x08 };
    (void) state;

    assert_int_equal(sim_device_dfu_state(d), SIM_DFU_ERROR);
    assert_int_equal(sim_test_getstatus(d, &now, &status, NULL), SIM_DFU_ERROR);
    assert_int_equal(status, SIM_DFU_ERR_FIRMWARE);
    assert_int_equal(sim_test_dnload(d, 0, cmd, 5, &now), -EPIPE);
    assert_int_equal(sim_test_clrstatus(d, &now), 0);
    assert_int_equal(sim_test_erase(d, BASE, &now), SIM_DFU_OK);
    sim_device_free(d);
}

/* Power lost during an erase: half the page erased, the device off; powered again it boots
 * cold, into the ROM when the application header is gone. */
static void test_power_loss_at_erase(void **state) {
    sim_device *d = sim_test_device("port=1-1.2,mode=bootloader,power-loss-at-erase=1");
    sim_usec now = T0;
    uint8_t cmd[5] = { 0x41, 0x00, 0x00, 0x00, 0x08 };
    sim_transition t;
    size_t size;
    const uint8_t *flash = sim_device_flash(d, &size);
    uint8_t tail = flash[2047];
    (void) state;

    assert_int_not_equal(flash[0x200], 0xff);
    assert_int_equal(sim_test_dnload(d, 0, cmd, 5, &now), 5);
    assert_int_equal(sim_test_getstatus(d, &now, NULL, NULL), SIM_DFU_DNBUSY);
    assert_true(sim_device_take_transition(d, &t));
    assert_int_equal(t.mode, SIM_MODE_OFF);
    assert_false(sim_device_powered(d));
    assert_int_equal(flash[0], 0xff);
    assert_int_equal(flash[1023], 0xff);
    assert_int_equal(flash[2047], tail);
    assert_int_equal(flash[0x200], 0xff); /* the application header */

    sim_device_set_power(d, true, now + 1000000);
    t = sim_test_follow(d);
    assert_int_equal(t.mode, SIM_MODE_BOOTLOADER);
    assert_int_equal(sim_device_app_bcd(d), 0);
    sim_device_free(d);
}

/* Bad values are refused naming the key. */
static void test_new_fault_keys_refused(void **state) {
    sim_device_config c;
    char err[256];
    (void) state;

    sim_device_config_init(&c);
    assert_int_equal(sim_device_config_set(&c, "erase-error-at", "0", err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "erase-error-at"));
    assert_int_equal(sim_device_config_set(&c, "fault-times", "never", err, sizeof err), -EINVAL);
    assert_int_equal(sim_device_config_set(&c, "fault-times", "always", err, sizeof err), 0);
    assert_int_equal(c.fault_times, 0);
    assert_int_equal(sim_device_config_set(&c, "stuck-bit-at", "0x100000000", err, sizeof err),
                     -EINVAL);
    assert_int_equal(sim_device_config_set(&c, "start-error", "2", err, sizeof err), -EINVAL);
}

/* protect=N: the layout marks the first N pages read-only, and the ROM refuses them. */
static void test_protect(void **state) {
    sim_device *d = sim_test_device("port=1-1.2,mode=bootloader,protect=2");
    sim_device *f4 = sim_test_device("port=1-1.3,profile=f407,mode=bootloader,protect=5");
    sim_usec now = T0;
    uint8_t a[16];
    (void) state;

    assert_string_equal(sim_device_string(d, 4),
                        "@Internal Flash  /0x08000000/02*002Ka,62*002Kg");
    assert_string_equal(sim_device_string(f4, 4),
                        "@Internal Flash  /0x08000000/04*016Ka,01*064Ka,07*128Kg");
    assert_int_equal(sim_test_erase(d, BASE + 2048, &now), SIM_DFU_ERR_TARGET);
    assert_int_equal(sim_test_clrstatus(d, &now), 0);
    assert_int_equal(sim_test_erase(d, BASE + 4096, &now), SIM_DFU_OK);
    memset(a, 0, sizeof a);
    assert_int_equal(sim_test_set_address(d, BASE + 4096 - 8, &now), SIM_DFU_OK);
    assert_int_equal(sim_test_write(d, 2, a, sizeof a, &now), SIM_DFU_ERR_TARGET);
    assert_int_equal(sim_test_clrstatus(d, &now), 0);
    assert_int_equal(sim_test_set_address(d, BASE + 4096, &now), SIM_DFU_OK);
    assert_int_equal(sim_test_write(d, 2, a, sizeof a, &now), SIM_DFU_OK);
    sim_device_free(f4);
    sim_device_free(d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unplug_at),
        cmocka_unit_test(test_write_error_at),
        cmocka_unit_test(test_write_error_at_counts_data_blocks),
        cmocka_unit_test(test_stall_status),
        cmocka_unit_test(test_rdp),
        cmocka_unit_test(test_rdp_option_bytes),
        cmocka_unit_test(test_option_bytes_write_resets),
        cmocka_unit_test(test_faults_armed_at_run_time),
        cmocka_unit_test(test_erase_error_at),
        cmocka_unit_test(test_fault_times),
        cmocka_unit_test(test_stuck_bit_at),
        cmocka_unit_test(test_timeout_status),
        cmocka_unit_test(test_start_error),
        cmocka_unit_test(test_power_loss_at_erase),
        cmocka_unit_test(test_new_fault_keys_refused),
        cmocka_unit_test(test_protect),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
