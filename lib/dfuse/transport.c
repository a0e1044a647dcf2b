/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The transport wrapper and the standard requests the engine needs on top of it. */
#include "dfuse/transport.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/macro.h"

#define DESCRIPTOR_TIMEOUT_MS 2000

struct stdfu_transport {
    const stdfu_transport_ops *ops;
    void *userdata;
};

int stdfu_transport_new(const stdfu_transport_ops *ops, void *userdata, stdfu_transport **ret) {
    stdfu_transport *t;

    if (!ops || !ops->control)
        return -EINVAL;
    t = calloc(1, sizeof *t);
    if (!t)
        return -ENOMEM;
    t->ops = ops;
    t->userdata = userdata;
    *ret = t;
    return 0;
}

stdfu_transport *stdfu_transport_free(stdfu_transport *t) {
    if (!t)
        return NULL;
    if (t->ops->close)
        t->ops->close(t->userdata);
    free(t);
    return NULL;
}

int stdfu_transport_control(stdfu_transport *t, const stdfu_setup *setup, uint8_t *data,
                            unsigned timeout_ms) {
    return t->ops->control(t->userdata, setup, data, timeout_ms);
}

int stdfu_transport_claim_interface(stdfu_transport *t, uint8_t interface) {
    return t->ops->claim_interface ? t->ops->claim_interface(t->userdata, interface) : 0;
}

int stdfu_transport_set_alt(stdfu_transport *t, uint8_t interface, uint8_t alt) {
    if (t->ops->set_alt)
        return t->ops->set_alt(t->userdata, interface, alt);
    /* Standard SET_INTERFACE request. */
    stdfu_setup s = { .bmRequestType = 0x01, .bRequest = 0x0b, .wValue = alt, .wIndex = interface };
    int r = stdfu_transport_control(t, &s, NULL, DESCRIPTOR_TIMEOUT_MS);
    return r < 0 ? r : 0;
}

int stdfu_transport_reset(stdfu_transport *t) {
    return t->ops->reset ? t->ops->reset(t->userdata) : -EOPNOTSUPP;
}

usec_t stdfu_transport_now(stdfu_transport *t) {
    return t->ops->now ? t->ops->now(t->userdata) : now_monotonic();
}

void stdfu_transport_sleep_until(stdfu_transport *t, usec_t until) {
    if (t->ops->sleep_until)
        t->ops->sleep_until(t->userdata, until);
    else
        sleep_until(until);
}

static int get_descriptor(stdfu_transport *t, uint8_t type, uint8_t index, uint16_t lang,
                          uint8_t *buf, uint16_t len) {
    stdfu_setup s = {
        .bmRequestType = 0x80,
        .bRequest = 0x06, /* GET_DESCRIPTOR */
        .wValue = (uint16_t) (type << 8 | index),
        .wIndex = lang,
        .wLength = len,
    };
    return stdfu_transport_control(t, &s, buf, DESCRIPTOR_TIMEOUT_MS);
}

int stdfu_transport_get_config_descriptor(stdfu_transport *t, uint8_t index, uint8_t **ret,
                                          size_t *ret_len) {
    uint8_t head[9];
    _cleanup_free_ uint8_t *buf = NULL;
    uint16_t total;
    int r;

    r = get_descriptor(t, 0x02, index, 0, head, sizeof head);
    if (r < 0)
        return r;
    if (r < 4 || head[1] != 0x02)
        return -EBADMSG;
    total = (uint16_t) (head[2] | head[3] << 8);
    if (total < 9)
        return -EBADMSG;
    buf = malloc(total);
    if (!buf)
        return -ENOMEM;
    r = get_descriptor(t, 0x02, index, 0, buf, total);
    if (r < 0)
        return r;
    if (r < 9 || buf[1] != 0x02)
        return -EBADMSG;
    *ret_len = (size_t) r;
    *ret = TAKE_PTR(buf);
    return 0;
}

uint16_t stdfu_transport_get_language(stdfu_transport *t) {
    uint8_t buf[4];
    int r = get_descriptor(t, 0x03, 0, 0, buf, sizeof buf);
    if (r >= 4 && buf[1] == 0x03)
        return (uint16_t) (buf[2] | buf[3] << 8);
    return 0x0409;
}

int stdfu_transport_get_string_lang(stdfu_transport *t, uint8_t index, uint16_t lang, char *out,
                                    size_t size) {
    uint8_t buf[255];
    size_t n = 0;
    int r;

    if (size == 0)
        return -ENOBUFS;
    out[0] = '\0';
    if (index == 0)
        return 0;
    r = get_descriptor(t, 0x03, index, lang, buf, sizeof buf);
    if (r < 0)
        return r;
    if (r < 2 || buf[1] != 0x03)
        return -EBADMSG;
    r = MIN(r, buf[0]);
    /* UTF-16LE; the ROMs only use ASCII, anything else becomes '?'. */
    for (int i = 2; i + 1 < r && n + 1 < size; i += 2) {
        uint16_t c = (uint16_t) (buf[i] | buf[i + 1] << 8);
        out[n++] = c >= 0x20 && c < 0x7f ? (char) c : '?';
    }
    out[n] = '\0';
    return (int) n;
}
