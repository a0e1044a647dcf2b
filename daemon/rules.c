/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "rules.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "lib/usb/usb.h"
#include "util/log.h"
#include "util/parse-util.h"

/* Until daemon/manifest.h exists the daemon knows no rules: it tracks ST's default
 * application and bootloader ids, and UpdateFile works. */

int rules_load_manifest(Daemon *d) {
    (void) d;
    return 0;
}

void rules_free_manifest(Daemon *d) {
    d->manifest = NULL;
}

DeviceMode rules_classify(Daemon *d, uint16_t vid, uint16_t pid, const char *port) {
    (void) d, (void) port;
    if (vid == STDFU_USB_BOOTLOADER_VID && pid == STDFU_USB_BOOTLOADER_PID)
        return DEVICE_BOOTLOADER;
    if (vid == STDFU_USB_APPLICATION_VID && pid == STDFU_USB_APPLICATION_PID)
        return DEVICE_APPLICATION;
    return DEVICE_ABSENT;
}

char *version_from_bcd(uint16_t bcd) {
    unsigned digits[4] = { bcd >> 12, (bcd >> 8) & 0xf, (bcd >> 4) & 0xf, bcd & 0xf };
    char *s = NULL;
    for (size_t i = 0; i < 4; i++)
        if (digits[i] > 9)
            return NULL;
    if (asprintf(&s, "%u.%u", digits[0] * 10 + digits[1], digits[2] * 10 + digits[3]) < 0)
        return NULL;
    return s;
}

static int version_parse(const char *s, uint32_t *major, uint32_t *minor) {
    char buf[32];
    if (!s || strlen(s) >= sizeof buf)
        return -EINVAL;
    snprintf(buf, sizeof buf, "%s", s);
    char *dot = strchr(buf, '.');
    if (!dot)
        return -EINVAL;
    *dot = '\0';
    if (parse_u32(buf, major) < 0 || parse_u32(dot + 1, minor) < 0)
        return -EINVAL;
    return 0;
}

int version_compare(const char *a, const char *b) {
    uint32_t amaj, amin, bmaj, bmin;
    bool av = version_parse(a, &amaj, &amin) >= 0, bv = version_parse(b, &bmaj, &bmin) >= 0;
    if (!av || !bv)
        return (int) av - (int) bv;
    if (amaj != bmaj)
        return amaj < bmaj ? -1 : 1;
    return amin < bmin ? -1 : amin > bmin;
}

void rules_update_device(Daemon *d, Device *dev) {
    (void) d;
    dev->rule = NULL;
    if (dev->mode == DEVICE_APPLICATION) {
        free(dev->running_version);
        dev->running_version = version_from_bcd(dev->bcd_device);
    }
}

bool rules_wants_update(Daemon *d, Device *dev) {
    (void) d;
    return dev->rule != NULL;
}

int rules_make_spec(Daemon *d, Device *dev, bool force, JobSpec *ret, stdfu_error *err) {
    (void) d, (void) force, (void) ret;
    return stdfu_error_set(err, -ENOENT, "No manifest rule matches device %s.", dev->port);
}

static void sha256_hex(const void *data, size_t size, char out[65]) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    if (EVP_Digest(data, size, md, &n, EVP_sha256(), NULL) != 1)
        n = 0;
    for (unsigned i = 0; i < n && i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    out[2 * MIN(n, 32u)] = '\0';
}

int rules_make_spec_data(Daemon *d, Device *dev, void *data, size_t size, bool force,
                         const char *version, JobSpec *ret, stdfu_error *err) {
    (void) d;
    if (version && !force && dev->running_version && version_compare(version, dev->running_version) == 0) {
        free(data);
        return stdfu_error_set(err, -EALREADY, "Device %s already runs version %s.", dev->port,
                               version);
    }
    *ret = (JobSpec) {
        .port = strdup(dev->port),
        .rule_name = strdup("file"),
        .firmware_data = data,
        .firmware_size = size,
        .target_version = version ? strdup(version) : NULL,
        .from_version = dev->running_version ? strdup(dev->running_version) : NULL,
        .force = force,
    };
    sha256_hex(data, size, ret->sha256);
    if (!ret->port || !ret->rule_name || (version && !ret->target_version)) {
        job_spec_done(ret);
        return stdfu_error_set(err, -ENOMEM, "Out of memory.");
    }
    return 0;
}

int rules_make_resume_spec(Daemon *d, Device *dev, JobSpec *ret, stdfu_error *err) {
    (void) d, (void) ret;
    return stdfu_error_set(err, -ENOENT, "No manifest rule to resume the job of %s with.",
                           dev->port);
}

void rules_remember_resume(Daemon *d, Device *dev, const stdfu_job_record *rec) {
    (void) d;
    free(dev->resume);
    dev->resume = malloc(sizeof *rec);
    if (dev->resume)
        *dev->resume = *rec;
}

void rules_remember_resume_spec(Daemon *d, Device *dev, const JobSpec *spec) {
    stdfu_job_record rec;
    stdfu_job_record_init(&rec, dev->port, rules_name(spec), rules_sha256(spec),
                          spec->from_version, spec->target_version);
    rec.phase = STDFU_PHASE_NEEDS_POWER_CYCLE;
    rec.attempt = MAX(dev->attempt, 1u);
    rules_remember_resume(d, dev, &rec);
}

const char *rules_name(const JobSpec *spec) {
    return spec->rule_name ? spec->rule_name : "file";
}

const char *rules_sha256(const JobSpec *spec) {
    return spec->sha256;
}
