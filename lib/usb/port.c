/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Port paths, USB id classes and matchers: pure logic, no USB access, unit tested as is. */
#include "usb/usb.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "usb/usb-internal.h"
#include "util/parse-util.h"
#include "util/string-table.h"

const char *stdfu_usb_mode_to_string(stdfu_usb_mode m) {
    static const char *const names[] = {
        [STDFU_USB_ABSENT] = "absent",
        [STDFU_USB_APPLICATION] = "application",
        [STDFU_USB_BOOTLOADER] = "bootloader",
    };
    return TABLE_NAME(names, m, "unknown");
}

/* ---- ids ---------------------------------------------------------------------------------- */

void stdfu_usb_ids_init_any(stdfu_usb_ids *ids) {
    *ids = (stdfu_usb_ids) {
        .boot_vid = STDFU_USB_BOOTLOADER_VID,
        .boot_pid = STDFU_USB_BOOTLOADER_PID,
    };
}

void stdfu_usb_ids_init_default(stdfu_usb_ids *ids) {
    stdfu_usb_ids_init_any(ids);
    (void) stdfu_usb_ids_add_app(ids, STDFU_USB_APPLICATION_VID, STDFU_USB_APPLICATION_PID);
}

int stdfu_usb_ids_add_app(stdfu_usb_ids *ids, uint16_t vid, uint16_t pid) {
    for (size_t i = 0; i < ids->n_app_ids; i++)
        if (ids->app_ids[i].vid == vid && ids->app_ids[i].pid == pid)
            return 0;
    if (ids->n_app_ids >= STDFU_USB_MAX_APP_IDS)
        return -E2BIG;
    ids->app_ids[ids->n_app_ids].vid = vid;
    ids->app_ids[ids->n_app_ids].pid = pid;
    ids->n_app_ids++;
    return 0;
}

stdfu_usb_mode stdfu_usb_ids_classify(const stdfu_usb_ids *ids, const stdfu_usb_info *info) {
    /* A DFU-mode interface is what a bootloader is, whatever its ids. */
    if (info->dfu_interface >= 0)
        return STDFU_USB_BOOTLOADER;
    if (info->vid == ids->boot_vid && info->pid == ids->boot_pid)
        return STDFU_USB_BOOTLOADER;
    if (info->has_dfu_runtime)
        return STDFU_USB_APPLICATION;
    if (info->device_class == 0x09) /* a hub is never the device on a port */
        return STDFU_USB_ABSENT;
    if (ids->n_app_ids == 0)
        return STDFU_USB_APPLICATION;
    for (size_t i = 0; i < ids->n_app_ids; i++)
        if (info->vid == ids->app_ids[i].vid && info->pid == ids->app_ids[i].pid)
            return STDFU_USB_APPLICATION;
    return STDFU_USB_ABSENT;
}

/* ---- port paths --------------------------------------------------------------------------- */

/* A decimal number 1..255 without sign, leading zeros or junk; advances *s. */
static int parse_port_number(const char **s, unsigned *ret) {
    const char *p = *s;
    unsigned v = 0;

    if (*p < '1' || *p > '9')
        return -EINVAL;
    while (*p >= '0' && *p <= '9') {
        v = v * 10 + (unsigned) (*p - '0');
        if (v > 255)
            return -EINVAL;
        p++;
    }
    *s = p;
    *ret = v;
    return 0;
}

int stdfu_usb_port_parse(const char *port, unsigned *ret_bus,
                         uint8_t ret_ports[STDFU_USB_PORT_DEPTH], size_t *ret_n) {
    const char *p = port;
    uint8_t ports[STDFU_USB_PORT_DEPTH];
    unsigned bus, v;
    size_t n = 0;

    if (!port || strlen(port) >= STDFU_USB_PORT_MAX)
        return -EINVAL;
    if (parse_port_number(&p, &bus) < 0 || *p != '-')
        return -EINVAL;
    p++;
    for (;;) {
        if (n >= STDFU_USB_PORT_DEPTH || parse_port_number(&p, &v) < 0)
            return -EINVAL;
        ports[n++] = (uint8_t) v;
        if (*p == '\0')
            break;
        if (*p != '.')
            return -EINVAL;
        p++;
    }
    if (ret_bus)
        *ret_bus = bus;
    if (ret_ports)
        memcpy(ret_ports, ports, n);
    if (ret_n)
        *ret_n = n;
    return 0;
}

bool stdfu_usb_port_is_valid(const char *port) {
    return stdfu_usb_port_parse(port, NULL, NULL, NULL) == 0;
}

int stdfu_usb_port_format(unsigned bus, const uint8_t *ports, size_t n, char *buf, size_t size) {
    size_t len;
    int k;

    if (bus < 1 || bus > 255 || n < 1 || n > STDFU_USB_PORT_DEPTH)
        return -EINVAL;
    k = snprintf(buf, size, "%u-", bus);
    if (k < 0 || (size_t) k >= size)
        return -ENOBUFS;
    len = (size_t) k;
    for (size_t i = 0; i < n; i++) {
        if (ports[i] == 0)
            return -EINVAL;
        k = snprintf(buf + len, size - len, i == 0 ? "%u" : ".%u", ports[i]);
        if (k < 0 || (size_t) k >= size - len)
            return -ENOBUFS;
        len += (size_t) k;
    }
    return 0;
}

int stdfu_usb_port_parent(const char *port, char *buf, size_t size) {
    uint8_t ports[STDFU_USB_PORT_DEPTH];
    unsigned bus;
    size_t n;
    int r;

    r = stdfu_usb_port_parse(port, &bus, ports, &n);
    if (r < 0)
        return r;
    if (n == 1) {
        r = snprintf(buf, size, "usb%u", bus);
        return r < 0 || (size_t) r >= size ? -ENOBUFS : 0;
    }
    return stdfu_usb_port_format(bus, ports, n - 1, buf, size);
}

/* ---- matchers ------------------------------------------------------------------------------ */

int stdfu_usb_matcher_parse_port(const char *s, stdfu_usb_matcher *ret, stdfu_error *err) {
    if (!stdfu_usb_port_is_valid(s))
        return stdfu_error_set(err, -EINVAL,
                               "invalid USB port path '%s' "
                               "(expected BUS-PORT[.PORT...], e.g. 1-1.4)",
                               strna(s));
    *ret = (stdfu_usb_matcher) { .kind = STDFU_USB_MATCH_PORT };
    strcpy(ret->port, s);
    return 0;
}

/* "0483": 1-4 hex digits, nothing else. */
static int parse_id_part(const char *s, size_t len, uint16_t *ret) {
    char tmp[5];

    if (len < 1 || len > 4)
        return -EINVAL;
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    return parse_u16_hex(tmp, ret);
}

int stdfu_usb_matcher_parse_id(const char *s, stdfu_usb_matcher *ret, stdfu_error *err) {
    stdfu_usb_matcher m = { .kind = STDFU_USB_MATCH_ID };
    const char *colon, *comma, *pid_end;

    if (!s)
        return stdfu_error_set(err, -EINVAL, "missing USB id");
    colon = strchr(s, ':');
    comma = strchr(s, ',');
    if (!colon || (comma && comma < colon))
        return stdfu_error_set(err, -EINVAL,
                               "invalid USB id '%s' "
                               "(expected VID:PID[,SERIAL] in hex, e.g. 0483:df11)",
                               s);
    pid_end = comma ? comma : s + strlen(s);
    if (parse_id_part(s, (size_t) (colon - s), &m.vid) < 0 ||
        parse_id_part(colon + 1, (size_t) (pid_end - colon - 1), &m.pid) < 0)
        return stdfu_error_set(err, -EINVAL,
                               "invalid USB id '%s' "
                               "(expected VID:PID[,SERIAL] in hex, e.g. 0483:df11)",
                               s);
    if (comma) {
        if (comma[1] == '\0')
            return stdfu_error_set(err, -EINVAL, "invalid USB id '%s': empty serial after ','", s);
        if (strlen(comma + 1) >= sizeof m.serial)
            return stdfu_error_set(err, -EINVAL, "invalid USB id '%s': serial too long", s);
        m.has_serial = true;
        strcpy(m.serial, comma + 1);
    }
    *ret = m;
    return 0;
}

void stdfu_usb_matcher_index(unsigned index, stdfu_usb_matcher *ret) {
    *ret = (stdfu_usb_matcher) { .kind = STDFU_USB_MATCH_INDEX, .index = index };
}

bool stdfu_usb_matcher_match(const stdfu_usb_matcher *m, const stdfu_usb_info *info) {
    switch (m->kind) {
    case STDFU_USB_MATCH_ANY:
    case STDFU_USB_MATCH_INDEX:
        return true;
    case STDFU_USB_MATCH_PORT:
        return streq(m->port, info->port);
    case STDFU_USB_MATCH_ID:
        return info->vid == m->vid && info->pid == m->pid &&
               (!m->has_serial || streq(m->serial, info->serial));
    }
    return false;
}

int stdfu_usb_matcher_describe(const stdfu_usb_matcher *m, char *buf, size_t size) {
    int r = 0;

    switch (m->kind) {
    case STDFU_USB_MATCH_ANY:
        r = snprintf(buf, size, "any device");
        break;
    case STDFU_USB_MATCH_PORT:
        r = snprintf(buf, size, "port %s", m->port);
        break;
    case STDFU_USB_MATCH_ID:
        if (m->has_serial)
            r = snprintf(buf, size, "device %04x:%04x serial %s", m->vid, m->pid, m->serial);
        else
            r = snprintf(buf, size, "device %04x:%04x", m->vid, m->pid);
        break;
    case STDFU_USB_MATCH_INDEX:
        r = snprintf(buf, size, "device #%u", m->index);
        break;
    }
    return r < 0 || (size_t) r >= size ? -ENOBUFS : 0;
}

/* Natural order of port paths: bus, then each port number ("1-1.10" after "1-1.9"). */
static int port_compare(const char *a, const char *b) {
    uint8_t pa[STDFU_USB_PORT_DEPTH], pb[STDFU_USB_PORT_DEPTH];
    unsigned ba, bb;
    size_t na, nb;

    if (stdfu_usb_port_parse(a, &ba, pa, &na) < 0 || stdfu_usb_port_parse(b, &bb, pb, &nb) < 0)
        return strcmp(a, b);
    if (ba != bb)
        return ba < bb ? -1 : 1;
    for (size_t i = 0; i < MIN(na, nb); i++)
        if (pa[i] != pb[i])
            return pa[i] < pb[i] ? -1 : 1;
    return na == nb ? 0 : (na < nb ? -1 : 1);
}

int stdfu_usb_info_compare(const void *a, const void *b) {
    const stdfu_usb_info *x = a, *y = b;
    return port_compare(x->port, y->port);
}

int stdfu_usb_select(const stdfu_usb_info *list, size_t n, const stdfu_usb_matcher *m,
                     stdfu_usb_info *ret, stdfu_error *err) {
    char what[192], ports[256] = "";
    size_t found = 0, first = 0, len = 0;

    (void) stdfu_usb_matcher_describe(m, what, sizeof what);

    if (m->kind == STDFU_USB_MATCH_INDEX) {
        if (m->index >= n)
            return stdfu_error_set(err, -ENODEV, "no %s: %zu device%s found", what, n,
                                   n == 1 ? "" : "s");
        *ret = list[m->index];
        return 0;
    }

    for (size_t i = 0; i < n; i++) {
        if (!stdfu_usb_matcher_match(m, &list[i]))
            continue;
        if (found == 0)
            first = i;
        if (len < sizeof ports) {
            int k = snprintf(ports + len, sizeof ports - len, "%s%s", found ? ", " : "",
                             list[i].port);
            if (k > 0)
                len += (size_t) k;
        }
        found++;
    }
    if (found == 0) {
        if (m->kind == STDFU_USB_MATCH_PORT)
            return stdfu_error_set(err, -ENODEV, "no application or bootloader device on %s",
                                   what);
        return stdfu_error_set(err, -ENODEV, "no %s found", what);
    }
    if (found > 1)
        return stdfu_error_set(err, -ENOTUNIQ,
                               "%s matches %zu devices (on ports %s): choose one with --port",
                               what, found, ports);
    *ret = list[first];
    return 0;
}
