/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "sim-transport.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/macro.h"

static void count(sim_link *l, const stdfu_setup *s, const uint8_t *data) {
    sim_link_stats *st = &l->stats;

    st->control++;
    if ((s->bmRequestType & 0x60) == 0) {
        st->standard++;
        return;
    }
    switch (s->bRequest) {
    case 1: /* DNLOAD */
        if (s->wLength == 0)
            st->dnload_zero++;
        else if (s->wValue == 0) {
            st->dnload_cmd++;
            if (data[0] == 0x21)
                st->set_address++;
            else if (data[0] == 0x41 && s->wLength == 5)
                st->erase_cmd++;
            else if (data[0] == 0x41)
                st->mass_erase++;
        } else {
            st->dnload_data++;
            st->max_dnload_len = MAX(st->max_dnload_len, s->wLength);
            if (st->min_data_len == 0 || s->wLength < st->min_data_len)
                st->min_data_len = s->wLength;
        }
        break;
    case 2:
        st->upload++;
        break;
    case 3:
        st->getstatus++;
        break;
    case 4:
        st->clrstatus++;
        break;
    case 6:
        st->abort_req++;
        break;
    default:
        break;
    }
}

static int link_control(void *userdata, const stdfu_setup *s, uint8_t *data, unsigned timeout_ms) {
    sim_link *l = userdata;
    sim_setup ss = { s->bmRequestType, s->bRequest, s->wValue, s->wIndex, s->wLength };
    uint8_t buf[4096] = {};
    sim_usec ready = 0;
    int r;

    if (s->wLength > sizeof buf)
        return -EINVAL;
    count(l, s, data);
    if (!(s->bmRequestType & 0x80) && s->wLength)
        memcpy(buf, data, s->wLength);
    r = sim_device_control(l->dev, &ss, buf, l->clock, &ready);
    if (r == -ENODEV)
        return r;
    /* A device busy for longer than the timeout: the host gives up (libusb TIMEOUT). */
    if (ready > l->clock + (usec_t) timeout_ms * USEC_PER_MSEC) {
        l->stats.timeouts++;
        l->clock += (usec_t) timeout_ms * USEC_PER_MSEC;
        return -ETIMEDOUT;
    }
    l->clock = MAX(l->clock, ready);
    if (r > 0 && (s->bmRequestType & 0x80))
        memcpy(data, buf, (size_t) r);
    if (r >= 0 && l->cancel && l->cancel_after_blocks && s->bRequest == 1 && s->wValue >= 2 &&
        (s->bmRequestType & 0x60) == 0x20 && l->stats.dnload_data >= l->cancel_after_blocks)
        atomic_store(l->cancel, true);
    return r;
}

static int link_reset(void *userdata) {
    sim_link *l = userdata;
    l->stats.resets++;
    if (sim_device_mode(l->dev) == SIM_MODE_OFF)
        return -ENODEV;
    sim_device_usb_reset(l->dev, l->clock);
    return 0;
}

static void link_close(void *userdata) {
    sim_link *l = userdata;
    l->closed = true;
}

static usec_t link_now(void *userdata) {
    sim_link *l = userdata;
    return l->clock;
}

static void link_sleep_until(void *userdata, usec_t until) {
    sim_link *l = userdata;
    if (until <= l->clock)
        return;
    l->stats.sleeps++;
    l->stats.slept_us += until - l->clock;
    l->stats.max_sleep_us = MAX(l->stats.max_sleep_us, until - l->clock);
    l->clock = until;
}

static const stdfu_transport_ops link_ops = {
    .control = link_control,
    /* claim: nothing to do; alt: the standard SET_INTERFACE request, as usbfs passes it */
    .reset = link_reset,
    .close = link_close,
    .now = link_now,
    .sleep_until = link_sleep_until,
};

int sim_link_transport(sim_link *link, stdfu_transport **ret) {
    return stdfu_transport_new(&link_ops, link, ret);
}

sim_device *sim_link_device(const char *spec, usec_t now) {
    sim_device_config c;
    char err[256] = "";
    sim_device *d = NULL;

    sim_device_config_init(&c);
    if (sim_device_config_parse(&c, spec, err, sizeof err) < 0) {
        fprintf(stderr, "bad device spec '%s': %s\n", spec, err);
        abort();
    }
    if (sim_device_new(&c, now, &d) < 0)
        abort();
    return d;
}

sim_mode sim_link_follow(sim_link *link) {
    sim_transition t;

    if (!sim_device_take_transition(link->dev, &t))
        return sim_device_mode(link->dev);
    link->clock = MAX(link->clock, t.at);
    if (t.mode == SIM_MODE_OFF)
        return SIM_MODE_OFF;
    link->clock = MAX(link->clock, t.reconnect_at);
    sim_device_connected(link->dev, t.mode, link->clock);
    return t.mode;
}
