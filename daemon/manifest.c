/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "manifest-internal.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "image/layout.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/parse-util.h"

#define MANIFEST_MAX_FILE_SIZE (1024u * 1024u)
#define ENTER_REPORT_MAX 4096
#define MAX_RETRIES 100u
#define MAX_TIMEOUT_USEC (24 * 3600 * USEC_PER_SEC)
#define MAX_HISTORY_SIZE 100000u

static const char *const image_format_names[] = {
    [STDFU_IMAGE_AUTO] = "auto", [STDFU_IMAGE_DFUSE] = "dfuse", [STDFU_IMAGE_DFU] = "dfu",
    [STDFU_IMAGE_BIN] = "bin",   [STDFU_IMAGE_HEX] = "hex",
};


/* ---- the manifest object ------------------------------------------------------------------- */

static stdfu_rule *rule_free(stdfu_rule *r) {
    if (!r)
        return NULL;
    free(r->name);
    free(r->origin);
    free(r->serial_glob);
    free(r->port_glob);
    free(r->enter_report);
    free(r->layout);
    free(r->firmware.path);
    free(r->firmware.data);
    stdfu_image_free(r->firmware.image);
    free(r);
    return NULL;
}

static void strv_free(char **l, size_t n) {
    for (size_t i = 0; l && i < n; i++)
        free(l[i]);
    free(l);
}

void stdfu_manifest_errors_free(char **errors) {
    for (char **e = errors; e && *e; e++)
        free(*e);
    free(errors);
}

static stdfu_manifest *manifest_free(stdfu_manifest *m) {
    for (size_t i = 0; i < m->n_rules; i++)
        rule_free(m->rules[i]);
    free(m->rules);
    strv_free(m->files, m->n_files);
    free(m);
    return NULL;
}

stdfu_manifest *stdfu_manifest_ref(stdfu_manifest *m) {
    if (m)
        __atomic_add_fetch(&m->n_ref, 1, __ATOMIC_RELAXED);
    return m;
}

stdfu_manifest *stdfu_manifest_unref(stdfu_manifest *m) {
    if (m && __atomic_sub_fetch(&m->n_ref, 1, __ATOMIC_ACQ_REL) == 0)
        manifest_free(m);
    return NULL;
}

size_t stdfu_manifest_n_rules(const stdfu_manifest *m) {
    return m->n_rules;
}

const stdfu_rule *stdfu_manifest_rule(const stdfu_manifest *m, size_t i) {
    return i < m->n_rules ? m->rules[i] : NULL;
}

const stdfu_rule *stdfu_manifest_find_rule(const stdfu_manifest *m, const char *name) {
    for (size_t i = 0; name && i < m->n_rules; i++)
        if (streq(m->rules[i]->name, name))
            return m->rules[i];
    return NULL;
}

const stdfu_manifest_settings *stdfu_manifest_get_settings(const stdfu_manifest *m) {
    return &m->settings;
}

char *const *stdfu_manifest_files(const stdfu_manifest *m) {
    static char *const none[] = {NULL};
    return m->files ?: none;
}


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

/* ---- loading: the rule's keys -------------------------------------------------------------- */

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
    stdfu_enter_method m = stdfu_enter_method_from_string(s);
    if (m < 0)
        return value_error(c, n, "%s: unknown method \"%s\" (expected auto, st-hid-detach, "
                           "hid-feature, hid-output, detach or none)", path, s);
    c->rule->enter_method = m;
    return 0;
}

static int parse_enter_report(parse_ctx *c, const field *f, const char *path, yaml_node_t *n) {
    uint8_t buf[ENTER_REPORT_MAX];
    (void) f;
    const char *s = scalar(c, path, n, "report bytes in hex");
    if (!s)
        return -EINVAL;
    int k = parse_hex_bytes(s, buf, sizeof buf);
    if (k == -E2BIG)
        return value_error(c, n, "%s: more than %d bytes", path, ENTER_REPORT_MAX);
    if (k < 0)
        return value_error(c, n, "%s: expected bytes in hex, e.g. \"00 55\" (report ID first), "
                           "not \"%s\"", path, s);
    c->rule->enter_report = malloc((size_t) k);
    if (!c->rule->enter_report) {
        c->l->oom = true;
        return -ENOMEM;
    }
    memcpy(c->rule->enter_report, buf, (size_t) k);
    c->rule->enter_report_size = (size_t) k;
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
    int i = manifest_lookup_name(image_format_names, (int) ELEMENTSOF(image_format_names), s);
    if (i < 0)
        return value_error(c, n, "%s: unknown format \"%s\" (expected auto, dfuse, dfu, bin or "
                           "hex)", path, s);
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

static int parse_max_parallel_jobs(parse_ctx *c, const field *f, const char *path,
                                   yaml_node_t *n) {
    (void) f;
    return get_uint(c, path, n, 1, STDFU_MAX_PARALLEL_JOBS, &c->settings->max_parallel_jobs);
}

static int parse_history_size(parse_ctx *c, const field *f, const char *path, yaml_node_t *n) {
    (void) f;
    return get_uint(c, path, n, 1, MAX_HISTORY_SIZE, &c->settings->history_size);
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
    {0},
};

static const field settings_fields[] = {
    {"max-parallel-jobs", F_MAX_PARALLEL_JOBS, parse_max_parallel_jobs, NULL, false},
    {"history-size", F_HISTORY_SIZE, parse_history_size, NULL, false},
    {0},
};


/* ---- loading: checks that span keys -------------------------------------------------------- */

static void check_enter(parse_ctx *c) {
    stdfu_rule *r = c->rule;
    bool wants_report = r->enter_method == STDFU_ENTER_HID_FEATURE ||
                        r->enter_method == STDFU_ENTER_HID_OUTPUT;

    if (c->bad[F_ENTER_METHOD] || c->bad[F_ENTER_REPORT])
        return;
    if (wants_report && !r->enter_report)
        value_error(c, c->nodes[F_ENTER], "enter.report: required with method %s",
                    stdfu_enter_method_to_string(r->enter_method));
    else if (!wants_report && r->enter_report)
        value_error(c, c->nodes[F_ENTER_REPORT], "enter.report: only used with method "
                    "hid-feature or hid-output, not %s",
                    stdfu_enter_method_to_string(r->enter_method));
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


/* ---- loading: rules across files ----------------------------------------------------------- */

static ssize_t find_rule_index(loader *l, const char *name) {
    for (size_t i = 0; i < l->m->n_rules; i++)
        if (streq(l->m->rules[i]->name, name))
            return (ssize_t) i;
    return -1;
}

static int append_rule(loader *l, stdfu_rule *r, bool broken, char *name_origin) {
    stdfu_rule **rules = reallocarray(l->m->rules, l->m->n_rules + 1, sizeof *rules);
    if (!rules)
        return -ENOMEM;
    l->m->rules = rules;
    rule_meta *meta = reallocarray(l->meta, l->m->n_rules + 1, sizeof *meta);
    if (!meta)
        return -ENOMEM;
    l->meta = meta;
    l->meta[l->m->n_rules] = (rule_meta) {l->file_index, broken, name_origin};
    l->m->rules[l->m->n_rules++] = r;
    l->n_meta = l->m->n_rules;
    return 0;
}

/* Adds a parsed rule under its name: a name may be used once per file; a later file may
 * replace an earlier file's rule only by saying so (replace: true). Takes r. */
static void register_rule(parse_ctx *c, stdfu_rule *r) {
    loader *l = c->l;
    yaml_node_t *name_node = c->nodes[F_NAME];
    ssize_t i = find_rule_index(l, r->name);
    char *name_origin = origin_of(l, &name_node->start_mark);

    if (!name_origin) {
        rule_free(r);
        return;
    }
    if (i >= 0 && (!c->replace || l->meta[i].file_index == l->file_index)) {
        value_error(c, name_node, "duplicate rule name \"%s\" (also at %s)%s", r->name,
                    l->meta[i].name_origin,
                    l->meta[i].file_index == l->file_index ? ""
                                                           : "; add \"replace: true\" to "
                                                             "replace it");
        free(name_origin);
        rule_free(r);
        return;
    }
    if (i < 0 && c->replace) {
        value_error(c, c->nodes[F_REPLACE], "replace: no earlier file has a rule named \"%s\"",
                    r->name);
        free(name_origin);
        rule_free(r);
        return;
    }
    if (i >= 0) {
        /* The replacement takes the replaced rule's place in the matching order. */
        rule_free(l->m->rules[i]);
        free(l->meta[i].name_origin);
        l->m->rules[i] = r;
        l->meta[i] = (rule_meta) {l->file_index, c->n_errors > 0, name_origin};
        return;
    }
    if (append_rule(l, r, c->n_errors > 0, name_origin) < 0) {
        l->oom = true;
        free(name_origin);
        rule_free(r);
    }
}

static stdfu_rule *rule_new(void) {
    stdfu_rule *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->dfu_vid = STDFU_DEFAULT_DFU_VID;
    r->dfu_pid = STDFU_DEFAULT_DFU_PID;
    r->enter_method = STDFU_ENTER_AUTO;
    r->version_source = STDFU_VERSION_SOURCE_BCD_DEVICE;
    r->retries = STDFU_DEFAULT_RETRIES;
    r->enter_timeout = STDFU_DEFAULT_ENTER_TIMEOUT;
    r->leave_timeout = STDFU_DEFAULT_LEAVE_TIMEOUT;
    r->grace_timeout = STDFU_DEFAULT_GRACE_TIMEOUT;
    return r;
}

static void parse_rule(loader *l, yaml_node_t *node) {
    parse_ctx c = {.l = l, .format = STDFU_IMAGE_AUTO};
    stdfu_rule *r = rule_new();

    if (!r) {
        l->oom = true;
        return;
    }
    c.rule = r;
    parse_mapping(&c, node, rule_fields, NULL, "the rule");
    if (node->type == YAML_MAPPING_NODE) {
        check_enter(&c);
        check_adopt(&c);
        check_version_source(&c);
        if (firmware_keys_ok(&c))
            load_firmware(&c);
    }
    if (c.has_layout)
        stdfu_layout_done(&c.layout);
    r->origin = origin_of(l, &node->start_mark);
    if (!c.nodes[F_NAME] || c.bad[F_NAME] || !r->origin) {
        rule_free(r);
        return;
    }
    register_rule(&c, r);
}

static void parse_settings(loader *l, yaml_node_t *node) {
    parse_ctx c = {.l = l, .settings = &l->m->settings};
    /* A later file's setting overrides an earlier file's, key by key. */
    parse_mapping(&c, node, settings_fields, "settings", "settings");
}

static void parse_rules(loader *l, yaml_node_t *node) {
    if (scalar_is_null(node))
        return;
    if (node->type != YAML_SEQUENCE_NODE) {
        error_at(l, &node->start_mark, "rules: expected a list of rules (lines starting with "
                 "\"- \"), not %s", node_kind(node));
        return;
    }
    for (yaml_node_item_t *i = node->data.sequence.items.start; i < node->data.sequence.items.top;
         i++) {
        yaml_node_t *item = node_at(l, *i);
        if (item)
            parse_rule(l, item);
    }
}

static void parse_document(loader *l, yaml_node_t *root) {
    if (!root || scalar_is_null(root))
        return; /* an empty file: nothing to do */
    if (root->type != YAML_MAPPING_NODE) {
        error_at(l, &root->start_mark, "expected a mapping with the keys \"settings\" and "
                 "\"rules\" at the top, not %s", node_kind(root));
        return;
    }
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
         p++) {
        yaml_node_t *key = node_at(l, p->key), *value = node_at(l, p->value);
        if (!key || !value)
            continue;
        const char *name = key->type == YAML_SCALAR_NODE ? (const char *) key->data.scalar.value
                                                         : "";
        yaml_node_t *first = key->type == YAML_SCALAR_NODE ? earlier_key(l, root, p) : NULL;
        if (first)
            error_at(l, &key->start_mark, "duplicate key \"%s\" (first given at line %zu)", name,
                     first->start_mark.line + 1);
        else if (streq(name, "rules"))
            parse_rules(l, value);
        else if (streq(name, "settings")) {
            if (!scalar_is_null(value))
                parse_settings(l, value);
        } else if (key->type != YAML_SCALAR_NODE)
            error_at(l, &key->start_mark, "keys must be plain names, not %s", node_kind(key));
        else
            error_at(l, &key->start_mark, "unknown top-level key \"%s\" (known keys: settings, "
                     "rules)", name);
    }
}


/* ---- loading: files ------------------------------------------------------------------------ */

static char *dir_of(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash)
        return strdup(".");
    if (slash == path)
        return strdup("/");
    return strndup(path, (size_t) (slash - path));
}

/* Returns 0 when read (or when missing and optional), <0 on allocation failure. */
static int load_file(loader *l, const char *path, bool missing_ok) {
    _cleanup_free_ uint8_t *data = NULL;
    size_t size;

    int r = read_full_file(path, MANIFEST_MAX_FILE_SIZE, &data, &size);
    if (r == -ENOENT && missing_ok) {
        log_debug("Manifest %s does not exist, skipping.", path);
        return 0;
    }
    if (r == -EFBIG) {
        error_in(l, path, "larger than %u KiB", MANIFEST_MAX_FILE_SIZE / 1024);
        return 0;
    }
    if (r < 0) {
        error_in(l, path, "cannot read: %s", strerror(-r));
        return 0;
    }
    char **files = reallocarray(l->m->files, l->m->n_files + 2, sizeof *files);
    if (!files)
        return -ENOMEM;
    l->m->files = files;
    if (!(files[l->m->n_files] = strdup(path)))
        return -ENOMEM;
    files[++l->m->n_files] = NULL;

    l->file = path;
    l->file_index = (unsigned) l->m->n_files;
    free(l->base_dir);
    if (!(l->base_dir = dir_of(path)))
        return -ENOMEM;
    parse_yaml(l, data, size, parse_document);
    l->file = NULL;
    return 0;
}

static int yaml_name_filter(const struct dirent *de) {
    size_t n = strlen(de->d_name);
    return de->d_name[0] != '.' && n > 5 && streq(de->d_name + n - 5, ".yaml");
}

static int compare_names(const struct dirent **a, const struct dirent **b) {
    return strcmp((*a)->d_name, (*b)->d_name);
}

static int load_directory(loader *l, const char *dir) {
    struct dirent **list = NULL;
    int r = 0;

    int n = scandir(dir, &list, yaml_name_filter, compare_names);
    if (n < 0) {
        if (errno == ENOENT) {
            log_debug("Manifest directory %s does not exist, skipping.", dir);
            return 0;
        }
        error_in(l, dir, "cannot read directory: %s", strerror(errno));
        return 0;
    }
    for (int i = 0; i < n; i++) {
        char *path = NULL;
        struct stat st;
        if (r == 0 && asprintf(&path, "%s/%s", dir, list[i]->d_name) < 0)
            r = -ENOMEM;
        /* Directories named *.yaml and other oddities are not manifests; skip them quietly. */
        if (r == 0 && stat(path, &st) == 0 && !S_ISREG(st.st_mode))
            log_debug("Skipping %s: not a regular file.", path);
        else if (r == 0)
            r = load_file(l, path, false);
        free(path);
        free(list[i]);
    }
    free(list);
    return r;
}

/* A rule that comes after another with the same application id and the same globs can never
 * be chosen; two adoptable rules with the same bootloader id and port glob always collide. */
static void check_shadowed_rules(loader *l) {
    stdfu_rule **rules = l->m->rules;
    for (size_t j = 0; j < l->m->n_rules; j++)
        for (size_t i = 0; i < j && !l->meta[j].broken; i++) {
            if (l->meta[i].broken)
                continue;
            if (rules[i]->app_vid == rules[j]->app_vid && rules[i]->app_pid == rules[j]->app_pid &&
                streq_ptr(rules[i]->serial_glob, rules[j]->serial_glob) &&
                streq_ptr(rules[i]->port_glob, rules[j]->port_glob)) {
                error_in(l, rules[j]->origin, "rule \"%s\" can never match: rule \"%s\" (%s) "
                         "matches the same devices first", rules[j]->name, rules[i]->name,
                         rules[i]->origin);
                break;
            }
            if (rules[i]->adopt && rules[j]->adopt && rules[i]->dfu_vid == rules[j]->dfu_vid &&
                rules[i]->dfu_pid == rules[j]->dfu_pid &&
                streq_ptr(rules[i]->port_glob, rules[j]->port_glob)) {
                error_in(l, rules[j]->origin, "rules \"%s\" and \"%s\" (%s) both adopt "
                         "bootloaders on the same ports", rules[j]->name, rules[i]->name,
                         rules[i]->origin);
                break;
            }
        }
}

static void loader_done(loader *l) {
    for (size_t i = 0; i < l->n_meta; i++)
        free(l->meta[i].name_origin);
    free(l->meta);
    free(l->base_dir);
    if (l->m)
        manifest_free(l->m);
    stdfu_manifest_errors_free(l->errors);
}

int stdfu_manifest_load(const char *path, const char *dir, stdfu_manifest **ret,
                        char ***ret_errors) {
    loader l = {0};
    int r;

    if (ret_errors)
        *ret_errors = NULL;
    l.m = calloc(1, sizeof *l.m);
    if (!l.m)
        return -ENOMEM;
    l.m->n_ref = 1;

    r = load_file(&l, path ?: STDFU_DEFAULT_MANIFEST_PATH, true);
    if (r == 0)
        r = load_directory(&l, dir ?: STDFU_DEFAULT_MANIFEST_DIR);
    if (r == 0 && !l.oom)
        check_shadowed_rules(&l);
    if (r == 0 && l.oom)
        r = -ENOMEM;
    if (r == 0 && l.n_errors > 0) {
        if (l.n_dropped > 0) {
            char *line = NULL;
            if (asprintf(&line, "... and %zu more errors", l.n_dropped) < 0)
                line = NULL;
            add_error_line(&l, line, true);
        }
        if (ret_errors)
            *ret_errors = TAKE_PTR(l.errors);
        r = -EINVAL;
    }
    if (r == 0)
        *ret = TAKE_PTR(l.m);
    loader_done(&l);
    return r;
}
