/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The rule schema (man/stdfu-manifest.5): its keys and their defaults, each value checked where
 * it is given (names, USB ids, globs, hex reports, enter methods, versions, timeouts), then the
 * checks that span keys; and the settings. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "manifest-internal.h"
#include "state.h" /* the history size the state directory accepts */
#include "usb/usb.h"
#include "util/parse-util.h"

#define MAX_RETRIES 100u
#define MAX_TIMEOUT_USEC (24 * 3600 * USEC_PER_SEC)

/* ---- values -------------------------------------------------------------------------------- */

/* "VVVV:PPPP", four hex digits each, as lsusb prints it. */
static int get_usb_id(parse_ctx *c, const char *path, yaml_node_t *n, uint16_t *vid,
                      uint16_t *pid) {
    const char *s = scalar(c, path, n, "a USB id \"VVVV:PPPP\"");
    char v[5], p[5];
    if (!s)
        return -EINVAL;
    if (strlen(s) != 9 || s[4] != ':')
        return value_error(c, n, "%s: expected a USB id \"VVVV:PPPP\" (four hex digits each), "
                           "not \"%s\"", path, s);
    memcpy(v, s, 4);
    v[4] = '\0';
    memcpy(p, s + 5, 4);
    p[4] = '\0';
    for (int i = 0; i < 4; i++)
        if (!strchr("0123456789abcdefABCDEF", v[i]) || !strchr("0123456789abcdefABCDEF", p[i]))
            return value_error(c, n, "%s: expected a USB id \"VVVV:PPPP\" (four hex digits "
                               "each), not \"%s\"", path, s);
    if (parse_u16_hex(v, vid) < 0 || parse_u16_hex(p, pid) < 0)
        return value_error(c, n, "%s: bad USB id \"%s\"", path, s);
    return 0;
}

/* Checks the syntax fnmatch() would otherwise take literally or silently: an unclosed '[' and
 * a trailing backslash. */
static const char *glob_problem(const char *g) {
    for (const char *p = g; *p; p++) {
        if (*p == '\\') {
            if (!*++p)
                return "it ends with a lone backslash";
        } else if (*p == '[') {
            const char *q = p + 1;
            if (*q == '!' || *q == '^')
                q++;
            if (*q == ']')
                q++;
            while (*q && *q != ']')
                q++;
            if (!*q)
                return "a '[' is never closed by ']'";
            p = q;
        }
    }
    return NULL;
}

static int get_glob(parse_ctx *c, const char *path, yaml_node_t *n, char **ret) {
    int r = get_string(c, path, n, ret);
    if (r < 0)
        return r;
    const char *problem = glob_problem(*ret);
    if (problem)
        return value_error(c, n, "%s: bad glob \"%s\": %s", path, *ret, problem);
    return 0;
}

/* ---- the rule's keys ----------------------------------------------------------------------- */

static bool rule_name_is_valid(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > STDFU_RULE_NAME_MAX)
        return false;
    if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') ||
          (s[0] >= '0' && s[0] <= '9')))
        return false;
    return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

static int parse_name(parse_ctx *c, const field *f, const char *path, yaml_node_t *n) {
    (void) f;
    int r = get_string(c, path, n, &c->rule->name);
    if (r < 0)
        return r;
    if (!rule_name_is_valid(c->rule->name))
        return value_error(c, n, "%s: \"%s\" is not a valid rule name (1 to %d letters, digits, "
                           "'.', '_' or '-', starting with a letter or digit)", path,
                           c->rule->name, STDFU_RULE_NAME_MAX);
    return 0;
}

static int parse_replace(parse_ctx *c, const field *f, const char *path, yaml_node_t *n) {
    (void) f;
    return get_bool(c, path, n, &c->replace);
}

/* Port paths are digits, '-' and '.': a glob with anything else can never match. */
static int parse_port(parse_ctx *c, const field *f, const char *path, yaml_node_t *n) {
    (void) f;
    int r = get_glob(c, path, n, &c->rule->port_glob);
    if (r < 0)
        return r;
    if (strspn(c->rule->port_glob, "0123456789-.*?[]!^\\") != strlen(c->rule->port_glob))
        return value_error(c, n, "%s: \"%s\" can never match a USB port path (digits, '-' and "
                           "'.', e.g. \"1-1.4\")", path, c->rule->port_glob);
    return 0;
}

static int parse_app_id(parse_ctx *c, const field *f, const char *path, yaml_node_t *n) {
    (void) f;
    return get_usb_id(c, path, n, &c->rule->app_vid, &c->rule->app_pid);
}

static int parse_serial(parse_ctx *c, const field *f, const char *path, yaml_node_t *n) {
    (void) f;
    return get_glob(c, path, n, &c->rule->serial_glob);
}

static int parse_enter_method(parse_ctx *c, const field *f, const char *path, yaml_node_t *n) {
    (void) f;
    const char *s = scalar(c, path, n, "an enter method");
    if (!s)
        return -EINVAL;
    int k = manifest_enter_kind(s);
    if (k < 0)
        return value_error(c, n, "%s: unknown method \"%s\" (expected auto, st-hid-detach, "
                           "hid-feature, hid-output, detach or none)", path, s);
    c->rule->enter.kind = (stdfu_enter_kind) k;
    return 0;
}

static int parse_enter_report(parse_ctx *c, const field *f, const char *path, yaml_node_t *n) {
    stdfu_enter_method *m = &c->rule->enter;
    (void) f;
    const char *s = scalar(c, path, n, "report bytes in hex");
    if (!s)
        return -EINVAL;
    int k = parse_hex_bytes(s, m->bytes, sizeof m->bytes);
    if (k == -E2BIG)
        return value_error(c, n, "%s: more than %d bytes", path, STDFU_ENTER_MAX_BYTES);
    if (k < 0)
        return value_error(c, n, "%s: expected bytes in hex, e.g. \"00 55\" (report ID first), "
                           "not \"%s\"", path, s);
    m->n_bytes = (size_t) k;
    c->rule->has_enter_report = true;
    return 0;
}

static int parse_bl_id(parse_ctx *c, const field *f, const char *path, yaml_node_t *n) {
    (void) f;
    return get_usb_id(c, path, n, &c->rule->dfu_vid, &c->rule->dfu_pid);
}

static int parse_bl_alt(parse_ctx *c, const field *f, const char *path, yaml_node_t *n) {
    uint32_t v;
    (void) f;
    int r = get_uint(c, path, n, 0, 255, &v);
    if (r >= 0)
        c->rule->alt = (uint8_t) v;
    return r;
}

static int parse_bl_layout(parse_ctx *c, const field *f, const char *path, yaml_node_t *n) {
    stdfu_error err = {0};
    (void) f;
    int r = get_string(c, path, n, &c->rule->layout);
    if (r < 0)
        return r;
    r = stdfu_layout_parse(c->rule->layout, &c->layout, &err);
    if (r < 0)
        return value_error(c, n, "%s: %s", path, err.message);
    c->has_layout = true;
    return 0;
}

static int parse_bl_adopt(parse_ctx *c, const field *f, const char *path, yaml_node_t *n) {
    (void) f;
    return get_bool(c, path, n, &c->rule->adopt);
}

static int parse_fw_file(parse_ctx *c, const field *f, const char *path, yaml_node_t *n) {
    (void) f;
    int r = get_string(c, path, n, &c->rule->firmware.path);
    if (r < 0 || c->rule->firmware.path[0] == '/')
        return r;
    /* Relative to the manifest file's directory, not to the daemon's working directory. */
    char *full = NULL;
    if (asprintf(&full, "%s/%s", c->l->base_dir, c->rule->firmware.path) < 0) {
        c->l->oom = true;
        return -ENOMEM;
    }
    free(c->rule->firmware.path);
    c->rule->firmware.path = full;
    return 0;
}

static int parse_fw_sha256(parse_ctx *c, const field *f, const char *path, yaml_node_t *n) {
    (void) f;
    const char *s = scalar(c, path, n, "a SHA-256 in hex");
    if (!s)
        return -EINVAL;
    if (strlen(s) != 64 || strspn(s, "0123456789abcdefABCDEF") != 64)
        return value_error(c, n, "%s: expected 64 hex digits, not \"%s\"", path, s);
    for (int i = 0; i < 64; i++)
        c->rule->firmware.sha256[i] = (char) (s[i] >= 'A' && s[i] <= 'F' ? s[i] - 'A' + 'a' : s[i]);
    c->rule->firmware.sha256[64] = '\0';
    return 0;
}

static int parse_fw_version(parse_ctx *c, const field *f, const char *path, yaml_node_t *n) {
    (void) f;
    const char *s = scalar(c, path, n, "a version \"MAJOR.MINOR\"");
    if (!s)
        return -EINVAL;
    int r = stdfu_version_parse(s, &c->rule->firmware.version);
    if (r < 0)
        return value_error(c, n, "%s: expected a version \"MAJOR.MINOR\" (numbers from 0 to "
                           "65535 without leading zeros, e.g. \"1.10\"), not \"%s\"", path, s);
    stdfu_version_format(&c->rule->firmware.version, c->rule->firmware.version_string,
                         sizeof c->rule->firmware.version_string);
    return 0;
}

static int parse_fw_format(parse_ctx *c, const field *f, const char *path, yaml_node_t *n) {
    (void) f;
    const char *s = scalar(c, path, n, "an image format");
    if (!s)
        return -EINVAL;
    int i = manifest_image_format(s);
    if (i < 0)
        return value_error(c, n, "%s: unknown format \"%s\" (expected auto, dfuse, dfu, bin, "
                           "hex, srec or elf)", path, s);
    c->format = (stdfu_image_format) i;
    return 0;
}

static int parse_fw_address(parse_ctx *c, const field *f, const char *path, yaml_node_t *n) {
    (void) f;
    int r = get_uint(c, path, n, 0, UINT32_MAX, &c->address);
    if (r >= 0)
        c->has_address = true;
    return r;
}

static int parse_version_source(parse_ctx *c, const field *f, const char *path, yaml_node_t *n) {
    (void) f;
    const char *s = scalar(c, path, n, "a version source");
    if (!s)
        return -EINVAL;
    stdfu_version_source v = stdfu_version_source_from_string(s);
    if (v < 0)
        return value_error(c, n, "%s: unknown version source \"%s\" (expected bcd-device or "
                           "bcd-device-binary)", path, s);
    c->rule->version_source = v;
    return 0;
}

static int parse_retries(parse_ctx *c, const field *f, const char *path, yaml_node_t *n) {
    (void) f;
    return get_uint(c, path, n, 0, MAX_RETRIES, &c->rule->retries);
}

static int parse_timeout(parse_ctx *c, const field *f, const char *path, yaml_node_t *n) {
    usec_t *dst = f->id == F_T_ENTER ? &c->rule->enter_timeout
                  : f->id == F_T_LEAVE ? &c->rule->leave_timeout
                                       : &c->rule->grace_timeout;
    bool zero_ok = f->id == F_T_GRACE; /* no grace: recover at once */
    uint64_t v;
    const char *s = plain_scalar(c, path, n, "a number of seconds");
    if (!s)
        return -EINVAL;
    if (parse_seconds(s, &v) < 0 || v > MAX_TIMEOUT_USEC || (v == 0 && !zero_ok))
        return value_error(c, n, "%s: expected a number of seconds %s to 86400 (e.g. 2.5), "
                           "not \"%s\"", path, zero_ok ? "from 0" : "over 0 and up", s);
    *dst = v;
    return 0;
}

static int parse_allow_downgrade(parse_ctx *c, const field *f, const char *path,
                                 yaml_node_t *n) {
    (void) f;
    return get_bool(c, path, n, &c->rule->allow_downgrade);
}

static int parse_differential(parse_ctx *c, const field *f, const char *path, yaml_node_t *n) {
    (void) f;
    return get_bool(c, path, n, &c->rule->differential);
}

static int parse_max_parallel_jobs(parse_ctx *c, const field *f, const char *path,
                                   yaml_node_t *n) {
    (void) f;
    return get_uint(c, path, n, 1, STDFU_MAX_PARALLEL_JOBS, &c->settings->max_parallel_jobs);
}

static int parse_history_size(parse_ctx *c, const field *f, const char *path, yaml_node_t *n) {
    (void) f;
    return get_uint(c, path, n, 1, STDFU_MAX_HISTORY_SIZE, &c->settings->history_size);
}

static int parse_retry_delay(parse_ctx *c, const field *f, const char *path, yaml_node_t *n) {
    usec_t *dst = f->id == F_RETRY_DELAY ? &c->settings->retry_delay
                                         : &c->settings->retry_delay_max;
    uint64_t v;
    const char *s = plain_scalar(c, path, n, "a number of seconds");
    if (!s)
        return -EINVAL;
    if (parse_seconds(s, &v) < 0 || v == 0 || v > MAX_TIMEOUT_USEC)
        return value_error(c, n, "%s: expected a number of seconds over 0 and up to 86400 "
                           "(e.g. 30), not \"%s\"", path, s);
    *dst = v;
    return 0;
}

static int parse_metrics_dir(parse_ctx *c, const field *f, const char *path, yaml_node_t *n) {
    (void) f;
    int r = get_string(c, path, n, &c->settings->metrics_dir);
    if (r < 0)
        return r;
    /* The daemon's working directory is nobody's business, the manifest's own is no place
     * for metrics: only an absolute path says where node_exporter looks. */
    if (c->settings->metrics_dir[0] != '/')
        return value_error(c, n, "%s: expected an absolute path (node_exporter's textfile "
                           "directory, e.g. /var/lib/prometheus/node-exporter), not \"%s\"",
                           path, c->settings->metrics_dir);
    return 0;
}

static const field application_fields[] = {
    {"id", F_APP_ID, parse_app_id, NULL, true},
    {"serial", F_APP_SERIAL, parse_serial, NULL, false},
    {0},
};

static const field enter_fields[] = {
    {"method", F_ENTER_METHOD, parse_enter_method, NULL, false},
    {"report", F_ENTER_REPORT, parse_enter_report, NULL, false},
    {0},
};

static const field bootloader_fields[] = {
    {"id", F_BL_ID, parse_bl_id, NULL, false},
    {"alt", F_BL_ALT, parse_bl_alt, NULL, false},
    {"layout", F_BL_LAYOUT, parse_bl_layout, NULL, false},
    {"adopt", F_BL_ADOPT, parse_bl_adopt, NULL, false},
    {0},
};

static const field firmware_fields[] = {
    {"file", F_FW_FILE, parse_fw_file, NULL, true},
    {"sha256", F_FW_SHA256, parse_fw_sha256, NULL, true},
    {"version", F_FW_VERSION, parse_fw_version, NULL, true},
    {"format", F_FW_FORMAT, parse_fw_format, NULL, false},
    {"address", F_FW_ADDRESS, parse_fw_address, NULL, false},
    {0},
};

static const field timeout_fields[] = {
    {"enter", F_T_ENTER, parse_timeout, NULL, false},
    {"leave", F_T_LEAVE, parse_timeout, NULL, false},
    {"grace", F_T_GRACE, parse_timeout, NULL, false},
    {0},
};

static const field rule_fields[] = {
    {"name", F_NAME, parse_name, NULL, true},
    {"replace", F_REPLACE, parse_replace, NULL, false},
    {"port", F_PORT, parse_port, NULL, false},
    {"application", F_APPLICATION, NULL, application_fields, true},
    {"enter", F_ENTER, NULL, enter_fields, false},
    {"bootloader", F_BOOTLOADER, NULL, bootloader_fields, false},
    {"firmware", F_FIRMWARE, NULL, firmware_fields, true},
    {"version-source", F_VERSION_SOURCE, parse_version_source, NULL, false},
    {"retries", F_RETRIES, parse_retries, NULL, false},
    {"timeouts", F_TIMEOUTS, NULL, timeout_fields, false},
    {"allow-downgrade", F_ALLOW_DOWNGRADE, parse_allow_downgrade, NULL, false},
    {"differential", F_DIFFERENTIAL, parse_differential, NULL, false},
    {0},
};

static const field settings_fields[] = {
    {"max-parallel-jobs", F_MAX_PARALLEL_JOBS, parse_max_parallel_jobs, NULL, false},
    {"history-size", F_HISTORY_SIZE, parse_history_size, NULL, false},
    {"retry-delay", F_RETRY_DELAY, parse_retry_delay, NULL, false},
    {"retry-delay-max", F_RETRY_DELAY_MAX, parse_retry_delay, NULL, false},
    {"metrics-directory", F_METRICS_DIR, parse_metrics_dir, NULL, false},
    {0},
};


/* ---- checks that span keys ----------------------------------------------------------------- */

static void check_enter(parse_ctx *c) {
    stdfu_rule *r = c->rule;
    bool wants_report = r->enter.kind == STDFU_ENTER_HID_FEATURE ||
                        r->enter.kind == STDFU_ENTER_HID_OUTPUT;

    if (c->bad[F_ENTER_METHOD] || c->bad[F_ENTER_REPORT])
        return;
    if (wants_report && !r->has_enter_report)
        value_error(c, c->nodes[F_ENTER], "enter.report: required with method %s",
                    stdfu_enter_kind_to_string(r->enter.kind));
    else if (!wants_report && r->has_enter_report)
        value_error(c, c->nodes[F_ENTER_REPORT], "enter.report: only used with method "
                    "hid-feature or hid-output, not %s",
                    stdfu_enter_kind_to_string(r->enter.kind));
}

static void check_adopt(parse_ctx *c) {
    if (c->rule->adopt && !c->rule->port_glob && !c->bad[F_PORT])
        value_error(c, c->nodes[F_BL_ADOPT], "bootloader.adopt: needs a port glob (key \"port\"): "
                    "bootloaders are told apart only by their port");
}

static void check_version_source(parse_ctx *c) {
    uint16_t bcd;
    stdfu_rule *r = c->rule;
    if (c->bad[F_FW_VERSION] || c->bad[F_VERSION_SOURCE] || !c->nodes[F_FW_VERSION])
        return;
    if (r->version_source == STDFU_VERSION_SOURCE_BCD_DEVICE &&
        stdfu_version_to_bcd(&r->firmware.version, &bcd) < 0)
        value_error(c, c->nodes[F_FW_VERSION], "firmware.version: %s cannot be reported in "
                    "bcdDevice as BCD (at most 99.99); see version-source",
                    r->firmware.version_string);
    else if (r->version_source == STDFU_VERSION_SOURCE_BCD_DEVICE_BINARY &&
             (r->firmware.version.major > 255 || r->firmware.version.minor > 255))
        value_error(c, c->nodes[F_FW_VERSION], "firmware.version: %s cannot be reported in "
                    "bcdDevice as two bytes (at most 255.255)", r->firmware.version_string);
}

void parse_rule_keys(parse_ctx *c, yaml_node_t *node) {
    parse_mapping(c, node, rule_fields, NULL, "the rule");
    if (node->type != YAML_MAPPING_NODE)
        return;
    check_enter(c);
    check_adopt(c);
    check_version_source(c);
}

void parse_settings(loader *l, yaml_node_t *node) {
    parse_ctx c = {.l = l, .settings = &l->m->settings};
    /* A later file's setting overrides an earlier file's, key by key. */
    parse_mapping(&c, node, settings_fields, "settings", "settings");
}

/* ---- the rule object ----------------------------------------------------------------------- */

stdfu_rule *rule_free(stdfu_rule *r) {
    if (!r)
        return NULL;
    free(r->name);
    free(r->origin);
    free(r->serial_glob);
    free(r->port_glob);
    free(r->layout);
    free(r->firmware.path);
    free(r->firmware.data);
    stdfu_image_free(r->firmware.image);
    free(r);
    return NULL;
}

stdfu_rule *rule_new(void) {
    stdfu_rule *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->dfu_vid = STDFU_USB_BOOTLOADER_VID;
    r->dfu_pid = STDFU_USB_BOOTLOADER_PID;
    r->enter = (stdfu_enter_method) { .kind = STDFU_ENTER_AUTO };
    r->version_source = STDFU_VERSION_SOURCE_BCD_DEVICE;
    r->retries = STDFU_DEFAULT_RETRIES;
    r->differential = true;
    r->enter_timeout = STDFU_DEFAULT_ENTER_TIMEOUT;
    r->leave_timeout = STDFU_DEFAULT_LEAVE_TIMEOUT;
    r->grace_timeout = STDFU_DEFAULT_GRACE_TIMEOUT;
    return r;
}
