/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What a loaded rule means for a device: its running version, whether to update it, which rule
 * matches it; and the names of the rule's enumerations. */
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <string.h>

#include "manifest-internal.h"
#include "util/string-table.h"

/* ---- versions ------------------------------------------------------------------------------ */

static int parse_version_part(const char *s, size_t n, uint16_t *ret) {
    unsigned v = 0;
    if (n == 0 || (n > 1 && s[0] == '0'))
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -EINVAL;
        if (i >= 5 || (v = v * 10 + (unsigned) (s[i] - '0')) > UINT16_MAX)
            return -ERANGE;
    }
    *ret = (uint16_t) v;
    return 0;
}

int stdfu_version_parse(const char *s, stdfu_version *ret) {
    stdfu_version v;
    const char *dot;
    int r;

    if (!s || !(dot = strchr(s, '.')))
        return -EINVAL;
    r = parse_version_part(s, (size_t) (dot - s), &v.major);
    if (r < 0)
        return r;
    r = parse_version_part(dot + 1, strlen(dot + 1), &v.minor);
    if (r < 0)
        return r;
    *ret = v;
    return 0;
}

int stdfu_version_compare(const stdfu_version *a, const stdfu_version *b) {
    if (a->major != b->major)
        return a->major < b->major ? -1 : 1;
    if (a->minor != b->minor)
        return a->minor < b->minor ? -1 : 1;
    return 0;
}

char *stdfu_version_format(const stdfu_version *v, char *buf, size_t size) {
    snprintf(buf, size, "%u.%u", v->major, v->minor);
    return buf;
}

static int bcd_byte(uint8_t b, uint16_t *ret) {
    if ((b >> 4) > 9 || (b & 0xf) > 9)
        return -EINVAL;
    *ret = (uint16_t) ((b >> 4) * 10 + (b & 0xf));
    return 0;
}

int stdfu_version_from_bcd(uint16_t bcd, stdfu_version *ret) {
    stdfu_version v;
    if (bcd_byte((uint8_t) (bcd >> 8), &v.major) < 0 || bcd_byte((uint8_t) bcd, &v.minor) < 0)
        return -EINVAL;
    *ret = v;
    return 0;
}

int stdfu_version_to_bcd(const stdfu_version *v, uint16_t *ret) {
    if (v->major > 99 || v->minor > 99)
        return -ERANGE;
    *ret = (uint16_t) ((v->major / 10) << 12 | (v->major % 10) << 8 | (v->minor / 10) << 4 |
                       (v->minor % 10));
    return 0;
}

/* ---- names --------------------------------------------------------------------------------- */

static const char *const version_source_names[_STDFU_VERSION_SOURCE_MAX] = {
    [STDFU_VERSION_SOURCE_BCD_DEVICE] = "bcd-device",
    [STDFU_VERSION_SOURCE_BCD_DEVICE_BINARY] = "bcd-device-binary",
};

/* lib names these enums one way (to_string); the manifest also needs the way back. */
int manifest_enter_kind(const char *s) {
    for (stdfu_enter_kind k = STDFU_ENTER_AUTO; k <= STDFU_ENTER_NONE; k++)
        if (streq_ptr(stdfu_enter_kind_to_string(k), s))
            return (int) k;
    return -EINVAL;
}

int manifest_image_format(const char *s) {
    for (stdfu_image_format f = STDFU_IMAGE_AUTO; f <= STDFU_IMAGE_ELF; f++)
        if (streq_ptr(stdfu_image_format_to_string(f), s))
            return (int) f;
    return -EINVAL;
}

const char *stdfu_version_source_to_string(stdfu_version_source s) {
    return TABLE_NAME(version_source_names, s, NULL);
}

stdfu_version_source stdfu_version_source_from_string(const char *s) {
    int i = TABLE_INDEX(version_source_names, s);
    return i < 0 ? _STDFU_VERSION_SOURCE_INVALID : (stdfu_version_source) i;
}

/* ---- rules: matching and decisions --------------------------------------------------------- */

int stdfu_rule_running_version(const stdfu_rule *r, uint16_t bcd_device, stdfu_version *ret) {
    switch (r->version_source) {
    case STDFU_VERSION_SOURCE_BCD_DEVICE:
        return stdfu_version_from_bcd(bcd_device, ret);
    case STDFU_VERSION_SOURCE_BCD_DEVICE_BINARY:
        *ret = (stdfu_version) {.major = bcd_device >> 8, .minor = bcd_device & 0xff};
        return 0;
    default:
        return -EINVAL;
    }
}

stdfu_update_decision stdfu_rule_decide(const stdfu_rule *r, const stdfu_version *running) {
    if (!running)
        return r->allow_downgrade ? STDFU_UPDATE_NEEDED : STDFU_UPDATE_UNKNOWN_REFUSED;
    int c = stdfu_version_compare(running, &r->firmware.version);
    if (c == 0)
        return STDFU_UPDATE_CURRENT;
    if (c < 0 || r->allow_downgrade)
        return STDFU_UPDATE_NEEDED;
    return STDFU_UPDATE_DOWNGRADE_REFUSED;
}

bool stdfu_rule_needs_update(const stdfu_rule *r, const stdfu_version *running) {
    return stdfu_rule_decide(r, running) == STDFU_UPDATE_NEEDED;
}

char *stdfu_rule_describe_decision(const stdfu_rule *r, const stdfu_version *running,
                                   char *buf, size_t size) {
    char run[STDFU_VERSION_STRING_MAX];
    const char *target = r->firmware.version_string;

    if (running)
        stdfu_version_format(running, run, sizeof run);
    switch (stdfu_rule_decide(r, running)) {
    case STDFU_UPDATE_CURRENT:
        snprintf(buf, size, "runs %s, the target version", run);
        break;
    case STDFU_UPDATE_NEEDED:
        if (!running)
            snprintf(buf, size, "running version unknown, target %s (allow-downgrade is on)",
                     target);
        else if (stdfu_version_compare(running, &r->firmware.version) > 0)
            snprintf(buf, size, "runs %s, downgrade to %s (allow-downgrade is on)", run, target);
        else
            snprintf(buf, size, "runs %s, update to %s", run, target);
        break;
    case STDFU_UPDATE_DOWNGRADE_REFUSED:
        snprintf(buf, size, "runs %s, newer than the target %s, and allow-downgrade is off", run,
                 target);
        break;
    case STDFU_UPDATE_UNKNOWN_REFUSED:
        snprintf(buf, size,
                 "cannot read the running version (%s), target %s, and allow-downgrade is off",
                 stdfu_version_source_to_string(r->version_source), target);
        break;
    }
    return buf;
}

static bool glob_matches(const char *glob, const char *s) {
    return !glob || fnmatch(glob, s ? s : "", 0) == 0;
}

const stdfu_rule *stdfu_manifest_match_application(const stdfu_manifest *m, uint16_t vid,
                                                   uint16_t pid, const char *serial,
                                                   const char *port) {
    for (size_t i = 0; i < m->n_rules; i++) {
        const stdfu_rule *r = m->rules[i];
        if (r->app_vid == vid && r->app_pid == pid && glob_matches(r->serial_glob, serial) &&
            glob_matches(r->port_glob, port))
            return r;
    }
    return NULL;
}

int stdfu_manifest_match_bootloader(const stdfu_manifest *m, uint16_t vid, uint16_t pid,
                                    const char *port, const stdfu_rule **ret) {
    return stdfu_manifest_match_bootloader_any(m, vid, pid, port, false, ret);
}

int stdfu_manifest_match_bootloader_any(const stdfu_manifest *m, uint16_t vid, uint16_t pid,
                                        const char *port, bool claimed,
                                        const stdfu_rule **ret) {
    const stdfu_rule *found = NULL;
    for (size_t i = 0; i < m->n_rules; i++) {
        const stdfu_rule *r = m->rules[i];
        if ((!r->adopt && !claimed) || r->dfu_vid != vid || r->dfu_pid != pid ||
            !glob_matches(r->port_glob, port))
            continue;
        if (found)
            return -ENOTUNIQ;
        found = r;
    }
    if (!found)
        return -ENOENT;
    *ret = found;
    return 0;
}
