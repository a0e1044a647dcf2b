/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The USB 2.0 hub at 1-1 with 7 downstream ports (USB 2.0 spec chapter 11). uhubctl and
 * stdfu switch port power with hub class requests on its usbfs node:
 *   CLEAR_FEATURE / SET_FEATURE (PORT_POWER = 8), bmRequestType 0x23, wIndex = port
 *   GET_STATUS (0xA3) for wPortStatus/wPortChange, GET_DESCRIPTOR (0xA0, type 0x29)
 * wHubCharacteristics says whether power switching is per port (ppps) or ganged. A ganged hub
 * accepts PORT_POWER requests but switches nothing, as real ganged hubs do. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "model/model-internal.h"
#include "util/macro.h"

enum {
    PORT_CONNECTION = 0,
    PORT_ENABLE = 1,
    PORT_SUSPEND = 2,
    PORT_OVER_CURRENT = 3,
    PORT_RESET = 4,
    PORT_POWER = 8,
    PORT_LOW_SPEED = 9,
    C_PORT_CONNECTION = 16,
    C_PORT_ENABLE = 17,
    C_PORT_SUSPEND = 18,
    C_PORT_OVER_CURRENT = 19,
    C_PORT_RESET = 20,
    PORT_TEST = 21,
    PORT_INDICATOR = 22,
};

#define STATUS_CONNECTION 0x0001u
#define STATUS_ENABLE 0x0002u
#define STATUS_SUSPEND 0x0004u
#define STATUS_POWER 0x0100u
#define CHANGE_CONNECTION 0x0001u
#define CHANGE_ENABLE 0x0002u
#define CHANGE_RESET 0x0010u

typedef struct hub_port {
    sim_device *device;
    bool powered;
    bool suspended;
    bool disabled;          /* cleared PORT_ENABLE until the next connect */
    bool last_connected;    /* as last reported, to raise C_PORT_CONNECTION */
    uint16_t change;
} hub_port;

struct sim_hub {
    sim_hub_kind kind;
    uint8_t configuration;
    uint8_t device[18];
    uint8_t config[25];
    hub_port ports[SIM_HUB_PORTS + 1]; /* [0] unused */
};

int sim_hub_new(sim_hub_kind kind, sim_hub **ret) {
    /* Device: class 9 (hub), protocol 1 (single TT), high speed hub. ppps: SMSC/Microchip
     * USB2517 ids; ganged: Terminus FE 2.1, a 7-port hub known for ganged power. */
    static const uint8_t dev[18] = { 18, 0x01, 0x00, 0x02, 0x09, 0x00, 0x01, 64, 0, 0, 0, 0,
                                     0x00, 0x01, 1, 2, 0, 1 };
    /* Config: one interface (class 9) with the status change interrupt endpoint: 1 byte of
     * bitmap for 7 ports, bInterval 12 (2^11 microframes, 256 ms). Self powered. */
    static const uint8_t cfg[25] = { 9, 0x02, 25, 0, 1, 1, 0, 0xe0, 0,
                                     9, 0x04, 0, 0, 1, 0x09, 0x00, 0x00, 0,
                                     7, 0x05, 0x81, 0x03, 0x01, 0x00, 12 };
    sim_hub *h;

    if (kind != SIM_HUB_PPPS && kind != SIM_HUB_GANGED)
        return -EINVAL;
    h = calloc(1, sizeof *h);
    if (!h)
        return -ENOMEM;
    h->kind = kind;
    memcpy(h->device, dev, sizeof dev);
    sim_put_le16(h->device + 8, kind == SIM_HUB_PPPS ? 0x0424 : 0x1a40);
    sim_put_le16(h->device + 10, kind == SIM_HUB_PPPS ? 0x2517 : 0x0201);
    memcpy(h->config, cfg, sizeof cfg);
    for (unsigned p = 1; p <= SIM_HUB_PORTS; p++)
        h->ports[p].powered = true;
    *ret = h;
    return 0;
}

sim_hub *sim_hub_free(sim_hub *h) {
    free(h);
    return NULL;
}

sim_hub_kind sim_hub_get_kind(const sim_hub *h) {
    return h->kind;
}

const uint8_t *sim_hub_device_descriptor(const sim_hub *h) {
    return h->device;
}

const uint8_t *sim_hub_config_descriptor(const sim_hub *h, size_t *len) {
    *len = sizeof h->config;
    return h->config;
}

const char *sim_hub_string(const sim_hub *h, unsigned index) {
    switch (index) {
    case 1: return h->kind == SIM_HUB_PPPS ? "Microchip Tech" : "Terminus Technology Inc.";
    case 2: return h->kind == SIM_HUB_PPPS ? "USB2517 Hub (per-port power)" : "USB 2.0 Hub [MTT]";
    default: return NULL;
    }
}

void sim_hub_attach(sim_hub *h, unsigned port, sim_device *d) {
    if (port < 1 || port > SIM_HUB_PORTS)
        return;
    h->ports[port].device = d;
    h->ports[port].last_connected = d && sim_device_mode(d) != SIM_MODE_OFF;
}

sim_device *sim_hub_port_device(const sim_hub *h, unsigned port) {
    return port >= 1 && port <= SIM_HUB_PORTS ? h->ports[port].device : NULL;
}

bool sim_hub_port_powered(const sim_hub *h, unsigned port) {
    return port >= 1 && port <= SIM_HUB_PORTS && h->ports[port].powered;
}

static void hub_descriptor(const sim_hub *h, uint8_t *d) {
    /* wHubCharacteristics: bits 1:0 power switching (01 per port, 00 ganged), bits 4:3
     * over-current protection (01 per port, 00 global). */
    uint16_t characteristics = h->kind == SIM_HUB_PPPS ? 0x0009 : 0x0000;
    const uint8_t desc[9] = { 9, 0x29, SIM_HUB_PORTS, (uint8_t) characteristics,
                              (uint8_t) (characteristics >> 8),
                              50,   /* bPwrOn2PwrGood: 100 ms */
                              100,  /* bHubContrCurrent mA */
                              0x00, /* DeviceRemovable: all */
                              0xff /* PortPwrCtrlMask (USB 1.1 legacy) */ };
    memcpy(d, desc, sizeof desc);
}

static bool port_connected(const hub_port *p) {
    return p->powered && p->device && sim_device_mode(p->device) != SIM_MODE_OFF;
}

static void port_status(hub_port *p, uint8_t *out) {
    bool connected = port_connected(p);
    uint16_t status = 0;

    if (connected != p->last_connected) {
        p->change |= CHANGE_CONNECTION;
        p->last_connected = connected;
        if (connected)
            p->disabled = false;
    }
    if (connected)
        status |= STATUS_CONNECTION;
    if (connected && !p->disabled)
        status |= STATUS_ENABLE; /* full speed: neither low- nor high-speed bit */
    if (connected && p->suspended)
        status |= STATUS_SUSPEND;
    if (p->powered)
        status |= STATUS_POWER;
    sim_put_le16(out, status);
    sim_put_le16(out + 2, p->change);
}

static int set_port_power(sim_hub *h, hub_port *p, bool on, sim_usec now) {
    if (h->kind == SIM_HUB_GANGED)
        return 0; /* accepted, switches nothing */
    if (p->powered == on)
        return 0;
    p->powered = on;
    p->suspended = false;
    if (p->device)
        sim_device_set_power(p->device, on, now);
    return 0;
}

static int port_feature(sim_hub *h, const sim_setup *s, bool set, sim_usec now) {
    hub_port *p;

    if (s->wIndex < 1 || s->wIndex > SIM_HUB_PORTS)
        return -EPIPE;
    p = &h->ports[s->wIndex];
    switch (s->wValue) {
    case PORT_POWER:
        return set_port_power(h, p, set, now);
    case PORT_RESET:
        if (!set)
            return -EPIPE;
        if (p->device && port_connected(p))
            sim_device_usb_reset(p->device, now);
        p->disabled = false;
        p->change |= CHANGE_RESET;
        return 0;
    case PORT_ENABLE:
        if (set)
            return -EPIPE; /* only the hub enables ports, after a reset */
        p->disabled = true;
        return 0;
    case PORT_SUSPEND:
        p->suspended = set;
        return 0;
    case C_PORT_CONNECTION:
    case C_PORT_ENABLE:
    case C_PORT_SUSPEND:
    case C_PORT_OVER_CURRENT:
    case C_PORT_RESET:
        if (set)
            return -EPIPE;
        p->change &= (uint16_t) ~(1u << (s->wValue - C_PORT_CONNECTION));
        return 0;
    case PORT_TEST:
    case PORT_INDICATOR:
        return 0;
    default:
        return -EPIPE;
    }
}

static int copy_out(uint8_t *out, const uint8_t *src, size_t len, uint16_t wlength) {
    len = MIN(len, (size_t) wlength);
    memcpy(out, src, len);
    return (int) len;
}

static int standard_request(sim_hub *h, const sim_setup *s, uint8_t *out) {
    uint8_t type = (uint8_t) (s->wValue >> 8);

    switch (s->bRequest) {
    case 0: /* GET_STATUS: self powered */
        if (s->wLength < 2)
            return -EPIPE;
        out[0] = (s->bmRequestType & 0x1f) == 0 ? 1 : 0;
        out[1] = 0;
        return 2;
    case 1:
    case 3:
    case 5:
        return 0;
    case 6:
        if (type == 1)
            return copy_out(out, h->device, sizeof h->device, s->wLength);
        if (type == 2)
            return copy_out(out, h->config, sizeof h->config, s->wLength);
        if (type == 3)
            return sim_string_descriptor((uint8_t) s->wValue,
                                         sim_hub_string(h, (uint8_t) s->wValue), out,
                                         s->wLength);
        if (type == 6) {
            /* a high-speed hub has a device qualifier (full-speed: protocol 0, no TT) */
            static const uint8_t qualifier[10] = { 10, 0x06, 0x00, 0x02, 0x09, 0x00, 0x00,
                                                   64, 1, 0 };
            return copy_out(out, qualifier, sizeof qualifier, s->wLength);
        }
        return -EPIPE;
    case 8:
        if (s->wLength < 1)
            return -EPIPE;
        out[0] = h->configuration;
        return 1;
    case 9:
        if (s->wValue > 1)
            return -EPIPE;
        h->configuration = (uint8_t) s->wValue;
        return 0;
    case 10:
        if (s->wLength < 1)
            return -EPIPE;
        out[0] = 0;
        return 1;
    case 11:
        return s->wValue == 0 && s->wIndex == 0 ? 0 : -EPIPE;
    default:
        return -EPIPE;
    }
}

static int class_request(sim_hub *h, const sim_setup *s, uint8_t *out, sim_usec now) {
    uint8_t desc[9];

    switch (s->bmRequestType) {
    case 0xa0: /* to the hub */
        if (s->bRequest == 6 && (s->wValue >> 8) == 0x29) {
            hub_descriptor(h, desc);
            return copy_out(out, desc, sizeof desc, s->wLength);
        }
        if (s->bRequest == 0 && s->wLength >= 4) { /* GET_STATUS: no local power loss */
            memset(out, 0, 4);
            return 4;
        }
        return -EPIPE;
    case 0x20: /* CLEAR/SET_FEATURE hub: C_HUB_LOCAL_POWER, C_HUB_OVER_CURRENT */
        return s->bRequest == 1 || s->bRequest == 3 ? 0 : -EPIPE;
    case 0xa3: /* GET_STATUS port */
        if (s->bRequest != 0 || s->wLength < 4 || s->wIndex < 1 || s->wIndex > SIM_HUB_PORTS)
            return -EPIPE;
        port_status(&h->ports[s->wIndex], out);
        return 4;
    case 0x23:
        if (s->bRequest == 1 || s->bRequest == 3)
            return port_feature(h, s, s->bRequest == 3, now);
        return -EPIPE;
    default:
        return -EPIPE;
    }
}

int sim_hub_control(sim_hub *h, const sim_setup *setup, uint8_t *data, sim_usec now,
                    sim_usec *ready_at) {
    int r;

    if ((setup->bmRequestType & 0x60) == 0)
        r = standard_request(h, setup, data);
    else
        r = class_request(h, setup, data, now);
    *ready_at = now + sim_transfer_cost(r > 0 ? (size_t) r : 0);
    return r;
}
