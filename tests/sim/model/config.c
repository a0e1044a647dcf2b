/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* --device SPEC parsing: "port=1-1.2,profile=f072,mode=application,version=1.0,...".
 * Every error names the key and the value. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model-internal.h"
#include "util/macro.h"
#include "util/parse-util.h"

void sim_device_config_init(sim_device_config *c) {
    *c = (sim_device_config) {
        .profile = sim_profile_find("f072"),
        .initial_mode = SIM_MODE_APPLICATION,
        .version_major = 1,
        .version_minor = 0,
        .app_vid = 0x0483,
        .app_pid = 0x5750,
        .enter = SIM_ENTER_ST_HID_DETACH,
        .leave = SIM_LEAVE_OK,
        .stuck_count = 1,
        .slow_erase = 1.0,
        .fault_times = 1,
    };
}

_printf_(5, 6) static int fail(char *err, size_t err_size, const char *key, const char *value,
                               const char *why, ...) {
    char reason[160];
    va_list ap;

    va_start(ap, why);
    vsnprintf(reason, sizeof reason, why, ap);
    va_end(ap);
    if (err && err_size > 0)
        snprintf(err, err_size, "invalid value '%s' for '%s': %s", value, key, reason);
    return -EINVAL;
}

static bool valid_port(const char *s) {
    /* bus-port[.port...], as the kernel names USB devices */
    const char *dash = strchr(s, '-');
    if (!dash || dash == s || !dash[1] || strlen(s) >= sizeof((sim_device_config) { 0 }).port)
        return false;
    for (const char *p = s; *p; p++) {
        if (p == dash)
            continue;
        if (*p == '.' ? (p[-1] == '.' || p[-1] == '-' || !p[1]) : !isdigit((unsigned char) *p))
            return false;
    }
    return true;
}

static int parse_version(const char *v, unsigned *major, unsigned *minor) {
    unsigned a, b;
    int n = 0;

    if (sscanf(v, "%3u.%3u%n", &a, &b, &n) != 2 || v[n] != '\0' || !isdigit((unsigned char) v[0]))
        return -EINVAL;
    if (a > 99 || b > 99)
        return -ERANGE;
    *major = a;
    *minor = b;
    return 0;
}

static int parse_bool01(const char *v, bool *ret) {
    if (streq(v, "1") || streq(v, "yes") || streq(v, "true"))
        *ret = true;
    else if (streq(v, "0") || streq(v, "no") || streq(v, "false"))
        *ret = false;
    else
        return -EINVAL;
    return 0;
}

static int set_enter(sim_device_config *c, const char *key, const char *v, char *err,
                     size_t es) {
    const char *hex = NULL;
    sim_enter e;
    int n;

    if (streq(v, "st-hid-detach")) {
        c->enter = SIM_ENTER_ST_HID_DETACH;
        c->enter_len = 0;
        return 0;
    }
    if (streq(v, "detach")) {
        c->enter = SIM_ENTER_DFU_RUNTIME;
        c->enter_len = 0;
        return 0;
    }
    if (strncmp(v, "hid-feature:", 12) == 0) {
        e = SIM_ENTER_HID_FEATURE;
        hex = v + 12;
    } else if (strncmp(v, "hid-output:", 11) == 0) {
        e = SIM_ENTER_HID_OUTPUT;
        hex = v + 11;
    } else
        return fail(err, es, key, v,
                    "expected st-hid-detach, hid-feature:HEX, hid-output:HEX or detach");

    n = parse_hex_bytes(hex, c->enter_bytes, sizeof c->enter_bytes);
    if (n == -E2BIG)
        return fail(err, es, key, v, "more than %zu report bytes", sizeof c->enter_bytes);
    if (n < 2)
        return fail(err, es, key, v, "expected hex bytes: a report ID (1..255) and data");
    if (c->enter_bytes[0] == 0)
        return fail(err, es, key, v, "the first byte is the report ID and must be 1..255");
    c->enter = e;
    c->enter_len = (size_t) n;
    return 0;
}

static int set_leave(sim_device_config *c, const char *key, const char *v, char *err,
                     size_t es) {
    uint32_t n;

    if (streq(v, "ok")) {
        c->leave = SIM_LEAVE_OK;
    } else if (streq(v, "vanish")) {
        c->leave = SIM_LEAVE_VANISH;
    } else if (streq(v, "stuck")) {
        c->leave = SIM_LEAVE_STUCK;
        c->stuck_count = 1;
    } else if (strncmp(v, "stuck:", 6) == 0) {
        if (parse_u32(v + 6, &n) < 0 || n == 0 || n > 1000)
            return fail(err, es, key, v, "stuck:N needs a count of 1..1000 leaves");
        c->leave = SIM_LEAVE_STUCK;
        c->stuck_count = n;
    } else if (strncmp(v, "watchdog:", 9) == 0) {
        if (parse_u32(v + 9, &n) < 0 || n == 0 || n > 3600000)
            return fail(err, es, key, v, "watchdog:MS needs 1..3600000 milliseconds");
        c->leave = SIM_LEAVE_WATCHDOG;
        c->watchdog_ms = n;
    } else
        return fail(err, es, key, v, "expected ok, stuck, stuck:N, vanish or watchdog:MS");
    return 0;
}

/* USB strings here are printable ASCII (the descriptors are built as UTF-16 of ASCII). */
static int set_string(char *dst, size_t size, const char *key, const char *v, char *err,
                      size_t es) {
    if (!*v || strlen(v) >= size)
        return fail(err, es, key, v, "expected 1..%zu characters", size - 1);
    for (const char *p = v; *p; p++)
        if (!isprint((unsigned char) *p) || *p == ',')
            return fail(err, es, key, v, "only printable ASCII without ','");
    strcpy(dst, v);
    return 0;
}


static int set_id(uint16_t *dst, const char *key, const char *v, char *err, size_t es) {
    if (parse_u16_hex(v, dst) < 0)
        return fail(err, es, key, v, "expected a 16-bit hex USB id, e.g. 0483");
    return 0;
}

static int set_fault_number(uint64_t *dst, uint64_t min, const char *key, const char *v,
                            char *err, size_t es) {
    uint64_t n;
    if (parse_u64(v, &n) < 0 || n < min)
        return fail(err, es, key, v, "expected a number >= %llu", (unsigned long long) min);
    *dst = n;
    return 0;
}

static int set_slow_erase(sim_device_config *c, const char *key, const char *v, char *err,
                          size_t es) {
    char *end;
    double f;

    errno = 0;
    f = strtod(v, &end);
    if (!*v || *end || errno != 0 || !isfinite(f) || f <= 0 || f > 1000)
        return fail(err, es, key, v, "expected a factor > 0 and <= 1000, e.g. 2.5");
    c->slow_erase = f;
    return 0;
}

int sim_device_config_set(sim_device_config *c, const char *key, const char *value, char *err,
                          size_t err_size) {
    uint64_t n = 0;
    bool b;
    int r;

    if (!key || !value)
        return fail(err, err_size, key ? key : "(null)", "(null)", "missing");

    if (streq(key, "port")) {
        if (!valid_port(value))
            return fail(err, err_size, key, value, "expected a USB port path like 1-1.2");
        strcpy(c->port, value);
    } else if (streq(key, "profile")) {
        const sim_profile *p = sim_profile_find(value);
        if (!p)
            return fail(err, err_size, key, value, "unknown profile (known: f072, f407, l476)");
        c->profile = p;
    } else if (streq(key, "mode")) {
        if (streq(value, "application") || streq(value, "app"))
            c->initial_mode = SIM_MODE_APPLICATION;
        else if (streq(value, "bootloader") || streq(value, "dfu"))
            c->initial_mode = SIM_MODE_BOOTLOADER;
        else
            return fail(err, err_size, key, value, "expected application or bootloader");
    } else if (streq(key, "version")) {
        r = parse_version(value, &c->version_major, &c->version_minor);
        if (r < 0)
            return fail(err, err_size, key, value, "expected MAJOR.MINOR, each 0..99");
    } else if (streq(key, "flash")) {
        /* Checked now, so that a bad file is the spec's error; placed at device creation,
         * once the profile (the flash's size) is known. */
        if (strlen(value) >= sizeof c->flash_file)
            return fail(err, err_size, key, value, "path too long");
        r = sim_flash_file_load(value, NULL, UINT32_MAX - 0x08000000u, 0x08000000u, err,
                                err_size);
        if (r < 0)
            return r;
        strcpy(c->flash_file, value);
    } else if (streq(key, "blank")) {
        if (parse_bool01(value, &c->blank) < 0)
            return fail(err, err_size, key, value, "expected 0 or 1");
    } else if (streq(key, "vid") || streq(key, "app-vid")) {
        return set_id(&c->app_vid, key, value, err, err_size);
    } else if (streq(key, "pid") || streq(key, "app-pid")) {
        return set_id(&c->app_pid, key, value, err, err_size);
    } else if (streq(key, "serial") || streq(key, "app-serial")) {
        return set_string(c->app_serial, sizeof c->app_serial, key, value, err, err_size);
    } else if (streq(key, "product")) {
        return set_string(c->app_product, sizeof c->app_product, key, value, err, err_size);
    } else if (streq(key, "enter")) {
        return set_enter(c, key, value, err, err_size);
    } else if (streq(key, "leave")) {
        return set_leave(c, key, value, err, err_size);
    } else if (streq(key, "leave-delay")) {
        r = set_fault_number(&n, 0, key, value, err, err_size);
        if (r == 0 && n > 60000)
            return fail(err, err_size, key, value, "expected 0..60000 milliseconds");
        if (r == 0)
            c->leave_delay_ms = (unsigned) n;
        return r;
    } else if (streq(key, "unplug-at")) {
        return set_fault_number(&c->unplug_at, 1, key, value, err, err_size);
    } else if (streq(key, "write-error-at")) {
        r = set_fault_number(&n, 2, key, value, err, err_size);
        if (r == 0 && n > UINT16_MAX)
            return fail(err, err_size, key, value, "DNLOAD block numbers end at 65535");
        if (r == 0)
            c->write_error_at = (unsigned) n;
        return r;
    } else if (streq(key, "stall-status")) {
        r = set_fault_number(&n, 0, key, value, err, err_size);
        if (r == 0 && n > 1000000)
            return fail(err, err_size, key, value, "at most 1000000 stalls");
        if (r == 0)
            c->stall_status = (unsigned) n;
        return r;
    } else if (streq(key, "slow-erase")) {
        return set_slow_erase(c, key, value, err, err_size);
    } else if (streq(key, "erase-error-at")) {
        r = set_fault_number(&n, 1, key, value, err, err_size);
        if (r == 0 && n > UINT32_MAX)
            return fail(err, err_size, key, value, "at most 4294967295");
        if (r == 0)
            c->erase_error_at = (unsigned) n;
        return r;
    } else if (streq(key, "power-loss-at-erase")) {
        r = set_fault_number(&n, 1, key, value, err, err_size);
        if (r == 0 && n > UINT32_MAX)
            return fail(err, err_size, key, value, "at most 4294967295");
        if (r == 0)
            c->power_loss_at_erase = (unsigned) n;
        return r;
    } else if (streq(key, "stuck-bit-at")) {
        r = set_fault_number(&n, 0, key, value, err, err_size);
        if (r == 0 && n > UINT32_MAX)
            return fail(err, err_size, key, value, "expected a 32-bit flash address");
        if (r == 0) {
            c->stuck_bit_at = (uint32_t) n;
            c->has_stuck_bit = true;
        }
        return r;
    } else if (streq(key, "timeout-status")) {
        r = set_fault_number(&n, 0, key, value, err, err_size);
        if (r == 0 && n > 1000000)
            return fail(err, err_size, key, value, "at most 1000000 timeouts");
        if (r == 0)
            c->timeout_status = (unsigned) n;
        return r;
    } else if (streq(key, "start-error")) {
        if (parse_bool01(value, &c->start_error) < 0)
            return fail(err, err_size, key, value, "expected 0 or 1");
    } else if (streq(key, "protect")) {
        r = set_fault_number(&n, 0, key, value, err, err_size);
        if (r == 0 && n > 4096)
            return fail(err, err_size, key, value, "expected a number of flash pages");
        if (r == 0)
            c->protect_pages = (unsigned) n;
        return r;
    } else if (streq(key, "fault-times")) {
        if (streq(value, "always")) {
            c->fault_times = 0;
            return 0;
        }
        r = set_fault_number(&n, 1, key, value, err, err_size);
        if (r == 0 && n > 1000000)
            return fail(err, err_size, key, value, "expected 1..1000000 or always");
        if (r == 0)
            c->fault_times = (unsigned) n;
        return r;
    } else if (streq(key, "rdp")) {
        if (parse_bool01(value, &b) < 0)
            return fail(err, err_size, key, value, "expected 0 or 1 (read protection level)");
        c->rdp = b;
    } else {
        if (err && err_size > 0)
            snprintf(err, err_size, "unknown key '%s' (value '%s')", key, value);
        return -EINVAL;
    }
    return 0;
}

int sim_device_config_parse(sim_device_config *c, const char *spec, char *err,
                            size_t err_size) {
    _cleanup_free_ char *copy = NULL;
    char *saveptr = NULL;

    if (!spec)
        return -EINVAL;
    copy = strdup(spec);
    if (!copy)
        return -ENOMEM;
    for (char *item = strtok_r(copy, ",", &saveptr); item; item = strtok_r(NULL, ",", &saveptr)) {
        char *eq = strchr(item, '=');
        int r;

        if (!eq) {
            if (err && err_size > 0)
                snprintf(err, err_size, "'%s' in device spec is not key=value", item);
            return -EINVAL;
        }
        *eq = '\0';
        r = sim_device_config_set(c, item, eq + 1, err, err_size);
        if (r < 0)
            return r;
    }
    return 0;
}
