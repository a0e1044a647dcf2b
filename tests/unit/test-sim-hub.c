/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The hub at 1-1, driven the way uhubctl drives a real one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test-sim-util.h"

#define PORT_POWER 8

static int hub_ctrl(sim_hub *h, uint8_t type, uint8_t req, uint16_t value, uint16_t index,
                    uint8_t *data, uint16_t len) {
    sim_setup s = { type, req, value, index, len };
    sim_usec ready = 0;
    int r = sim_hub_control(h, &s, data, T0, &ready);
    assert_true(ready >= T0 + 1000);
    return r;
}

static uint16_t port_status(sim_hub *h, unsigned port, uint16_t *change) {
    uint8_t b[4];
    assert_int_equal(hub_ctrl(h, 0xa3, 0, 0, (uint16_t) port, b, 4), 4);
    if (change)
        *change = (uint16_t) (b[2] | b[3] << 8);
    return (uint16_t) (b[0] | b[1] << 8);
}

static void test_descriptors(void **state) {
    sim_hub *ppps = NULL, *ganged = NULL;
    uint8_t buf[64];
    size_t len;
    const uint8_t *dev, *cfg;
    (void) state;

    assert_int_equal(sim_hub_new(SIM_HUB_NONE, &ppps), -EINVAL);
    assert_int_equal(sim_hub_new(SIM_HUB_PPPS, &ppps), 0);
    assert_int_equal(sim_hub_new(SIM_HUB_GANGED, &ganged), 0);
    assert_int_equal(sim_hub_get_kind(ppps), SIM_HUB_PPPS);
    dev = sim_hub_device_descriptor(ppps);
    assert_int_equal(dev[1], 1);
    assert_int_equal(dev[4], 9); /* hub class */
    cfg = sim_hub_config_descriptor(ppps, &len);
    assert_int_equal(len, cfg[2]);
    assert_int_equal(cfg[9 + 5], 9);       /* interface class hub */
    assert_int_equal(cfg[18 + 2], 0x81);   /* status change endpoint */
    assert_int_equal(cfg[18 + 3], 0x03);   /* interrupt */
    assert_non_null(sim_hub_string(ppps, dev[15]));
    assert_null(sim_hub_string(ppps, 9));

    /* hub class descriptor: 7 ports, power switching per port or ganged */
    assert_int_equal(hub_ctrl(ppps, 0xa0, 6, 0x2900, 0, buf, sizeof buf), 9);
    assert_int_equal(buf[1], 0x29);
    assert_int_equal(buf[2], 7);
    assert_int_equal(buf[3] & 3, 1);
    assert_int_equal(hub_ctrl(ganged, 0xa0, 6, 0x2900, 0, buf, sizeof buf), 9);
    assert_int_equal(buf[3] & 3, 0);
    /* standard descriptors through control transfers */
    assert_int_equal(hub_ctrl(ppps, 0x80, 6, 0x0100, 0, buf, 64), 18);
    assert_memory_equal(buf, dev, 18);
    assert_int_equal(hub_ctrl(ppps, 0x80, 6, 0x0200, 0, buf, 64), (int) len);
    assert_int_equal(hub_ctrl(ppps, 0x80, 6, 0x0302, 0x409, buf, 64),
                     2 + 2 * (int) strlen(sim_hub_string(ppps, 2)));
    assert_int_equal(buf[1], 3);
    assert_int_equal(hub_ctrl(ppps, 0x80, 6, 0x0309, 0x409, buf, 64), -EPIPE);
    assert_int_equal(hub_ctrl(ppps, 0xa0, 0, 0, 0, buf, 4), 4); /* hub status */
    assert_int_equal(hub_ctrl(ppps, 0x80, 6, 0x0600, 0, buf, 64), 10); /* device qualifier */
    assert_int_equal(buf[4], 9);
    assert_int_equal(hub_ctrl(ppps, 0x80, 0, 0, 0, buf, 2), 2);
    assert_int_equal(buf[0], 1); /* self powered */
    sim_hub_free(ppps);
    sim_hub_free(ganged);
}

static void test_port_status_follows_device(void **state) {
    sim_hub *h = NULL;
    sim_device *d = sim_test_device("port=1-1.3");
    uint16_t change = 0;
    uint8_t detach[2] = { 0x80, 0x55 };
    sim_transition t;
    (void) state;

    assert_int_equal(sim_hub_new(SIM_HUB_PPPS, &h), 0);
    assert_int_equal(port_status(h, 3, &change), 0x0100); /* powered, empty */
    sim_hub_attach(h, 3, d);
    assert_ptr_equal(sim_hub_port_device(h, 3), d);
    assert_int_equal(port_status(h, 3, &change), 0x0103); /* connected, enabled, powered */
    assert_int_equal(change, 0);

    /* the device drops off for its jump: connection change */
    assert_int_equal(sim_device_hid_set_feature(d, detach, 2, T0), 2);
    assert_int_equal(port_status(h, 3, &change), 0x0100);
    assert_int_equal(change & 1, 1);
    assert_int_equal(hub_ctrl(h, 0x23, 1, 16, 3, NULL, 0), 0); /* CLEAR C_PORT_CONNECTION */
    assert_int_equal(port_status(h, 3, &change), 0x0100);
    assert_int_equal(change, 0);
    assert_true(sim_device_take_transition(d, &t));
    sim_device_connected(d, t.mode, t.reconnect_at);
    assert_int_equal(port_status(h, 3, &change), 0x0103);
    assert_int_equal(change & 1, 1);

    /* port reset re-enumerates the device in the same mode */
    assert_int_equal(hub_ctrl(h, 0x23, 3, 4, 3, NULL, 0), 0);
    assert_int_equal(sim_device_counters(d)->resets, 1);
    assert_true(sim_device_take_transition(d, &t));
    assert_int_equal(t.mode, SIM_MODE_BOOTLOADER);
    assert_int_equal(port_status(h, 3, &change) & 1, 0);
    assert_true(change & 0x10);

    /* detaching the cable */
    sim_hub_attach(h, 3, NULL);
    assert_null(sim_hub_port_device(h, 3));
    assert_int_equal(port_status(h, 3, NULL), 0x0100);
    assert_int_equal(hub_ctrl(h, 0xa3, 0, 0, 8, (uint8_t[4]) { 0 }, 4), -EPIPE);
    assert_int_equal(hub_ctrl(h, 0xa3, 0, 0, 0, (uint8_t[4]) { 0 }, 4), -EPIPE);
    sim_hub_free(h);
    sim_device_free(d);
}

static void test_ppps_power_cycle_cold_boots(void **state) {
    sim_hub *h = NULL;
    sim_device *d = sim_test_device("port=1-1.2,leave=vanish");
    sim_usec now = T0;
    sim_transition t;
    (void) state;

    assert_int_equal(sim_hub_new(SIM_HUB_PPPS, &h), 0);
    sim_hub_attach(h, 2, d);
    /* uhubctl -a off -p 2 */
    assert_int_equal(hub_ctrl(h, 0x23, 1, PORT_POWER, 2, NULL, 0), 0);
    assert_false(sim_hub_port_powered(h, 2));
    assert_true(sim_hub_port_powered(h, 1));
    assert_false(sim_device_powered(d));
    assert_int_equal(port_status(h, 2, NULL), 0x0000);
    assert_true(sim_device_take_transition(d, &t));
    assert_int_equal(t.mode, SIM_MODE_OFF);
    assert_int_equal(sim_test_ctrl(d, 0x80, 6, 0x0100, 0, (uint8_t[18]) { 0 }, 18, &now),
                     -ENODEV);
    /* uhubctl -a on -p 2: a cold boot from flash */
    assert_int_equal(hub_ctrl(h, 0x23, 3, PORT_POWER, 2, NULL, 0), 0);
    assert_true(sim_device_powered(d));
    assert_true(sim_device_take_transition(d, &t));
    assert_int_equal(t.mode, SIM_MODE_APPLICATION);
    assert_int_equal(t.reconnect_at, T0 + SIM_BOOT_US);
    sim_device_connected(d, t.mode, t.reconnect_at);
    assert_int_equal(sim_device_counters(d)->power_cycles, 1);
    assert_int_equal(sim_device_counters(d)->boots, 2);
    assert_int_equal(port_status(h, 2, NULL), 0x0103);
    /* switching an already-on port again does nothing */
    assert_int_equal(hub_ctrl(h, 0x23, 3, PORT_POWER, 2, NULL, 0), 0);
    assert_false(sim_device_take_transition(d, &t));
    sim_hub_free(h);
    sim_device_free(d);
}

static void test_ganged_switches_nothing(void **state) {
    sim_hub *h = NULL;
    sim_device *d = sim_test_device("port=1-1.2");
    sim_transition t;
    (void) state;

    assert_int_equal(sim_hub_new(SIM_HUB_GANGED, &h), 0);
    sim_hub_attach(h, 2, d);
    assert_int_equal(hub_ctrl(h, 0x23, 1, PORT_POWER, 2, NULL, 0), 0); /* accepted */
    assert_true(sim_hub_port_powered(h, 2));
    assert_true(sim_device_powered(d));
    assert_false(sim_device_take_transition(d, &t));
    assert_int_equal(port_status(h, 2, NULL), 0x0103);
    sim_hub_free(h);
    sim_device_free(d);
}

static void test_unknown_requests_stall(void **state) {
    sim_hub *h = NULL;
    (void) state;

    assert_int_equal(sim_hub_new(SIM_HUB_PPPS, &h), 0);
    assert_int_equal(hub_ctrl(h, 0x23, 3, 0x55, 2, NULL, 0), -EPIPE);  /* unknown feature */
    assert_int_equal(hub_ctrl(h, 0x23, 3, PORT_POWER, 0, NULL, 0), -EPIPE); /* port 0 */
    assert_int_equal(hub_ctrl(h, 0x23, 3, 16, 2, NULL, 0), -EPIPE);   /* SET a change bit */
    assert_int_equal(hub_ctrl(h, 0x23, 3, 1, 2, NULL, 0), -EPIPE);    /* SET PORT_ENABLE */
    assert_int_equal(hub_ctrl(h, 0x43, 1, 0, 0, NULL, 0), -EPIPE);    /* vendor */
    assert_int_equal(hub_ctrl(h, 0x00, 9, 1, 0, NULL, 0), 0);         /* SET_CONFIGURATION */
    sim_hub_free(h);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_descriptors),
        cmocka_unit_test(test_port_status_follows_device),
        cmocka_unit_test(test_ppps_power_cycle_cold_boots),
        cmocka_unit_test(test_ganged_switches_nothing),
        cmocka_unit_test(test_unknown_requests_stall),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
