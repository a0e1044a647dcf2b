/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Shared by the test-sim-*.c unit tests: a host that talks DfuSe to a sim_device with
 * explicit times, the way dfu-util does. Include after cmocka.h. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"

#define T0 1000000u /* devices are created at 1 s */

static inline sim_device *sim_test_device(const char *spec) {
    sim_device_config c;
    char err[256] = "";
    sim_device *d = NULL;

    sim_device_config_init(&c);
    if (sim_device_config_parse(&c, spec, err, sizeof err) < 0)
        fail_msg("bad spec '%s': %s", spec, err);
    assert_int_equal(sim_device_new(&c, T0, &d), 0);
    return d;
}

/* One control transfer; *now advances to its completion. */
static inline int sim_test_ctrl(sim_device *d, uint8_t type, uint8_t req, uint16_t value,
                                uint16_t index, uint8_t *data, uint16_t len, sim_usec *now) {
    sim_setup s = { type, req, value, index, len };
    sim_usec ready = 0;
    int r = sim_device_control(d, &s, data, *now, &ready);
    if (r != -ENODEV) {
        assert_true(ready >= *now + 1000);
        *now = ready;
    }
    return r;
}

static inline int sim_test_dnload(sim_device *d, uint16_t block, const void *buf, uint16_t len,
                                  sim_usec *now) {
    uint8_t tmp[2048];
    if (len)
        memcpy(tmp, buf, len);
    return sim_test_ctrl(d, 0x21, 1, block, 0, tmp, len, now);
}

static inline int sim_test_upload(sim_device *d, uint16_t block, uint8_t *buf, uint16_t len,
                                  sim_usec *now) {
    return sim_test_ctrl(d, 0xa1, 2, block, 0, buf, len, now);
}

/* GETSTATUS: returns the state (or a negative errno), fills status and poll timeout. */
static inline int sim_test_getstatus(sim_device *d, sim_usec *now, uint8_t *status,
                                     unsigned *poll_ms) {
    uint8_t b[6];
    int r = sim_test_ctrl(d, 0xa1, 3, 0, 0, b, 6, now);
    if (r < 0)
        return r;
    assert_int_equal(r, 6);
    if (status)
        *status = b[0];
    if (poll_ms)
        *poll_ms = b[1] | b[2] << 8 | (unsigned) b[3] << 16;
    return b[4];
}

static inline int sim_test_clrstatus(sim_device *d, sim_usec *now) {
    return sim_test_ctrl(d, 0x21, 4, 0, 0, NULL, 0, now);
}

/* A DfuSe block-0 command as dfu-util sends it: DNLOAD, GETSTATUS (dfuDNBUSY), wait the poll
 * timeout, GETSTATUS. Returns the final status byte. */
static inline int sim_test_command(sim_device *d, const uint8_t *cmd, uint16_t len,
                                   sim_usec *now) {
    uint8_t status = 0xff;
    unsigned poll = 0;
    int st;

    assert_int_equal(sim_test_dnload(d, 0, cmd, len, now), len);
    st = sim_test_getstatus(d, now, &status, &poll);
    assert_int_equal(st, SIM_DFU_DNBUSY);
    *now += poll * 1000u;
    st = sim_test_getstatus(d, now, &status, NULL);
    if (status == SIM_DFU_OK)
        assert_int_equal(st, SIM_DFU_DNLOAD_IDLE);
    else
        assert_int_equal(st, SIM_DFU_ERROR);
    return status;
}

static inline int sim_test_set_address(sim_device *d, uint32_t addr, sim_usec *now) {
    uint8_t cmd[5] = { 0x21, (uint8_t) addr, (uint8_t) (addr >> 8), (uint8_t) (addr >> 16),
                       (uint8_t) (addr >> 24) };
    return sim_test_command(d, cmd, 5, now);
}

static inline int sim_test_erase(sim_device *d, uint32_t addr, sim_usec *now) {
    uint8_t cmd[5] = { 0x41, (uint8_t) addr, (uint8_t) (addr >> 8), (uint8_t) (addr >> 16),
                       (uint8_t) (addr >> 24) };
    return sim_test_command(d, cmd, 5, now);
}

static inline int sim_test_write(sim_device *d, uint16_t block, const uint8_t *buf,
                                 uint16_t len, sim_usec *now) {
    uint8_t status = 0xff;
    unsigned poll = 0;
    int st;

    assert_int_equal(sim_test_dnload(d, block, buf, len, now), len);
    st = sim_test_getstatus(d, now, &status, &poll);
    assert_int_equal(st, SIM_DFU_DNBUSY);
    *now += poll * 1000u;
    st = sim_test_getstatus(d, now, &status, NULL);
    return status;
}

/* The DfuSe leave: set address, zero-length DNLOAD, GETSTATUS answers dfuMANIFEST. */
static inline void sim_test_leave(sim_device *d, uint32_t addr, sim_usec *now) {
    uint8_t status = 0xff;
    assert_int_equal(sim_test_set_address(d, addr, now), SIM_DFU_OK);
    assert_int_equal(sim_test_dnload(d, 0, NULL, 0, now), 0);
    assert_int_equal(sim_test_getstatus(d, now, &status, NULL), SIM_DFU_MANIFEST);
    assert_int_equal(status, SIM_DFU_OK);
}

/* Takes the pending transition and carries it out the way a front-end does. */
static inline sim_transition sim_test_follow(sim_device *d) {
    sim_transition t;
    assert_true(sim_device_take_transition(d, &t));
    assert_int_equal(sim_device_mode(d), SIM_MODE_OFF);
    if (t.mode != SIM_MODE_OFF)
        sim_device_connected(d, t.mode, t.reconnect_at);
    return t;
}

/* Brings a device into dfuIDLE on the ROM (clears the F4's initial errFIRMWARE). */
static inline void sim_test_idle(sim_device *d, sim_usec *now) {
    if (sim_test_getstatus(d, now, NULL, NULL) == SIM_DFU_ERROR)
        assert_int_equal(sim_test_clrstatus(d, now), 0);
    assert_int_equal(sim_test_getstatus(d, now, NULL, NULL), SIM_DFU_IDLE);
}
