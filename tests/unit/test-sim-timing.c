/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Modelled time: transfer cost, datasheet erase/program times, early GETSTATUS, the floor.
 * These are arithmetic checks with explicit times, not measurements. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "model/model-internal.h"
#include "test-sim-util.h"
#include "util/macro.h"

#define BASE 0x08000000u

static int raw(sim_device *d, uint8_t type, uint8_t req, uint16_t value, uint8_t *data,
               uint16_t len, sim_usec now, sim_usec *ready) {
    sim_setup s = { type, req, value, 0, len };
    return sim_device_control(d, &s, data, now, ready);
}

static void test_transfer_cost(void **state) {
    sim_device *d = sim_test_device("port=1-1.2,mode=bootloader");
    uint8_t buf[2048] = { 0 };
    sim_usec ready = 0;
    (void) state;

    assert_int_equal(sim_device_counters(d)->transfer_us, 0);
    assert_int_equal(raw(d, 0x80, 6, 0x0100, buf, 64, T0, &ready), 18);
    assert_int_equal(ready, T0 + 1000 + 18);
    /* a request sent before the previous one completed waits for it (EP0 is serial) */
    assert_int_equal(raw(d, 0xa1, 5, 0, buf, 1, T0 + 500, &ready), 1);
    assert_int_equal(ready, T0 + 1018 + 1001);
    /* zero-length data stage: 1 ms */
    assert_int_equal(raw(d, 0x21, 6, 0, NULL, 0, T0 + 10000, &ready), 0);
    assert_int_equal(ready, T0 + 11000);
    /* a stall costs its setup too */
    assert_int_equal(raw(d, 0xa1, 2, 1, buf, 64, T0 + 20000, &ready), -EPIPE);
    assert_int_equal(ready, T0 + 21000);
    assert_int_equal(sim_device_counters(d)->transfer_us, 1018 + 1001 + 1000 + 1000);
    assert_int_equal(sim_device_counters(d)->busy_us, 0);
    sim_device_free(d);
}

/* DNLOAD 2048 bytes at t, then GETSTATUS: returns the reply's completion time. */
static sim_usec write_block(sim_device *d, sim_usec t, unsigned *poll) {
    uint8_t buf[2048], st[6];
    sim_usec ready = 0;

    memset(buf, 0, sizeof buf);
    assert_int_equal(raw(d, 0x21, 1, 2, buf, 2048, t, &ready), 2048);
    assert_int_equal(ready, t + 1000 + 2048);
    assert_int_equal(raw(d, 0xa1, 3, 0, st, 6, ready, &ready), 6);
    assert_int_equal(st[4], SIM_DFU_DNBUSY);
    *poll = st[1] | st[2] << 8 | (unsigned) st[3] << 16;
    return ready;
}

static void test_program_times(void **state) {
    struct {
        const char *spec;
        sim_usec us;
    } cases[] = {
        { "port=1-1.1,profile=f072,blank=1", 54784 },  /* 1024 half-words x 53.5 us */
        { "port=1-1.1,profile=f407,blank=1", 8192 },   /* 512 words x 16 us */
        { "port=1-1.1,profile=l476,blank=1", 20913 },  /* 256 double words x 81.69 us */
    };
    (void) state;

    for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
        sim_device *d = sim_test_device(cases[i].spec);
        sim_usec t = T0, ready, busy_before;
        unsigned poll = 0;
        uint8_t st[6];

        sim_test_idle(d, &t);
        busy_before = sim_device_counters(d)->busy_us;
        ready = write_block(d, t, &poll);
        assert_int_equal(sim_device_busy_until(d), ready + cases[i].us);
        assert_int_equal(poll, DIV_ROUND_UP(cases[i].us, 1000));
        assert_int_equal(sim_device_counters(d)->busy_us - busy_before, cases[i].us);
        /* a GETSTATUS 1 ms later completes only when programming ends */
        assert_int_equal(raw(d, 0xa1, 3, 0, st, 6, ready + 1000, &ready), 6);
        assert_int_equal(ready, sim_device_busy_until(d));
        assert_int_equal(st[4], SIM_DFU_DNLOAD_IDLE);
        sim_device_free(d);
    }
}

static void test_erase_times_and_slow_erase(void **state) {
    struct {
        const char *spec;
        uint32_t addr;
        sim_usec us;
    } cases[] = {
        { "port=1-1.1,profile=f072,mode=bootloader", BASE + 0x800, 20000 },
        { "port=1-1.1,profile=f407,mode=bootloader", BASE + 0x4000, 250000 },
        { "port=1-1.1,profile=f407,mode=bootloader", BASE + 0x10000, 550000 },
        { "port=1-1.1,profile=f407,mode=bootloader", BASE + 0xe0000, 1000000 },
        { "port=1-1.1,profile=l476,mode=bootloader", BASE + 0x800, 22020 },
        { "port=1-1.1,profile=f407,mode=bootloader,slow-erase=2.5", BASE + 0xe0000, 2500000 },
        { "port=1-1.1,profile=f072,mode=bootloader,slow-erase=3", BASE, 60000 },
    };
    (void) state;

    for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
        sim_device *d = sim_test_device(cases[i].spec);
        sim_usec t = T0, ready = 0;
        uint8_t cmd[5] = { 0x41 }, st[6];

        sim_test_idle(d, &t);
        sim_put_le32(cmd + 1, cases[i].addr);
        assert_int_equal(raw(d, 0x21, 1, 0, cmd, 5, t, &ready), 5);
        assert_int_equal(raw(d, 0xa1, 3, 0, st, 6, ready, &ready), 6);
        assert_int_equal(st[4], SIM_DFU_DNBUSY);
        assert_int_equal(sim_device_busy_until(d), ready + cases[i].us);
        assert_int_equal(sim_device_counters(d)->busy_us, cases[i].us);
        /* even a GET_DESCRIPTOR waits for the flash */
        assert_int_equal(raw(d, 0x80, 6, 0x0100, st, 6, ready, &ready), 6);
        assert_int_equal(ready, sim_device_busy_until(d) - 0);
        sim_device_free(d);
    }
}

static void test_floor(void **state) {
    sim_device *d = sim_test_device("port=1-1.2,mode=bootloader,blank=1");
    sim_usec now = T0;
    uint8_t img[4096];
    const sim_counters *c = sim_device_counters(d);
    (void) state;

    memset(img, 0x3c, sizeof img);
    assert_int_equal(sim_test_erase(d, BASE, &now), SIM_DFU_OK);
    assert_int_equal(sim_test_erase(d, BASE + 2048, &now), SIM_DFU_OK);
    assert_int_equal(sim_test_set_address(d, BASE, &now), SIM_DFU_OK);
    assert_int_equal(sim_test_write(d, 2, img, 2048, &now), SIM_DFU_OK);
    assert_int_equal(sim_test_write(d, 3, img, 2048, &now), SIM_DFU_OK);
    assert_int_equal(c->busy_us, 2 * 20000 + 2 * 54784);
    /* 3 commands x (DNLOAD 5 + 2 GETSTATUS) and 2 writes x (DNLOAD 2048 + 2 GETSTATUS) */
    assert_int_equal(c->transfer_us, 3 * (1005 + 2 * 1006) + 2 * (3048 + 2 * 1006));
    assert_int_equal(sim_device_floor_us(d), c->busy_us + c->transfer_us);
    /* the host following bwPollTimeout is never faster than the floor */
    assert_true(now - T0 >= sim_device_floor_us(d));
    sim_device_free(d);
}

/* leave-delay: the GETSTATUS that makes the ROM leave answers late, and the jump follows it. */
static void test_leave_delay(void **state) {
    sim_device *d = sim_test_device("port=1-1.2,mode=bootloader,leave-delay=1500");
    sim_usec now = T0, sent, ready = 0;
    uint8_t st[6];
    sim_transition t;
    (void) state;

    sim_test_idle(d, &now);
    assert_int_equal(sim_test_set_address(d, BASE, &now), SIM_DFU_OK);
    assert_int_equal(sim_test_dnload(d, 0, NULL, 0, &now), 0);
    sent = now;
    assert_int_equal(raw(d, 0xa1, 3, 0, st, 6, sent, &ready), 6);
    assert_int_equal(st[4], SIM_DFU_MANIFEST);
    assert_int_equal(ready, sent + 1006 + 1500000);
    t = sim_test_follow(d);
    assert_int_equal(t.at, ready);
    assert_int_equal(t.mode, SIM_MODE_APPLICATION);
    sim_device_free(d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_transfer_cost),
        cmocka_unit_test(test_program_times),
        cmocka_unit_test(test_erase_times_and_slow_erase),
        cmocka_unit_test(test_floor),
        cmocka_unit_test(test_leave_delay),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
