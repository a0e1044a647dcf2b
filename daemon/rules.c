/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "rules.h"

#include <errno.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "digest.h"
#include "usb/usb.h"
#include "util/parse-util.h"

static bool port_matches(const stdfu_rule *rule, const char *port) {
    return !rule->port_glob || fnmatch(rule->port_glob, port, 0) == 0;
}

DeviceMode rules_classify(const stdfu_manifest *m, uint16_t vid, uint16_t pid, const char *port) {
    size_t n = m ? stdfu_manifest_n_rules(m) : 0;

    if (vid == STDFU_USB_BOOTLOADER_VID && pid == STDFU_USB_BOOTLOADER_PID)
        return DEVICE_BOOTLOADER;
    for (size_t i = 0; i < n; i++) {
        const stdfu_rule *rule = stdfu_manifest_rule(m, i);
        if (!port_matches(rule, port))
            continue;
        if (rule->dfu_vid == vid && rule->dfu_pid == pid)
            return DEVICE_BOOTLOADER;
        if (rule->app_vid == vid && rule->app_pid == pid)
            return DEVICE_APPLICATION;
    }
    return DEVICE_ABSENT;
}

static const stdfu_rule *match_rule(const stdfu_manifest *m, const DeviceFacts *f,
                                    const char *resume_rule, bool claimed, bool *ambiguous) {
    const stdfu_rule *rule = NULL;

    if (!m)
        return NULL;
    if (f->mode == DEVICE_APPLICATION)
        return stdfu_manifest_match_application(m, f->vid, f->pid, f->serial, f->port);
    if (f->mode != DEVICE_BOOTLOADER)
        return NULL;
    if (resume_rule && (rule = stdfu_manifest_find_rule(m, resume_rule)))
        return rule;
    int r = stdfu_manifest_match_bootloader_any(m, f->vid, f->pid, f->port, claimed, &rule);
    *ambiguous = r == -ENOTUNIQ;
    return r >= 0 ? rule : NULL;
}

void rules_evaluate(const stdfu_manifest *m, const DeviceFacts *f, const char *resume_rule,
                    RulesVerdict *ret) {
    rules_evaluate_claimed(m, f, resume_rule, false, ret);
}

void rules_evaluate_claimed(const stdfu_manifest *m, const DeviceFacts *f,
                            const char *resume_rule, bool claimed, RulesVerdict *ret) {
    RulesVerdict v = {};

    v.rule = match_rule(m, f, resume_rule, claimed, &v.ambiguous);
    if (f->mode == DEVICE_APPLICATION) {
        v.has_running = v.rule ? stdfu_rule_running_version(v.rule, f->bcd_device, &v.running) >= 0
                               : stdfu_version_from_bcd(f->bcd_device, &v.running) >= 0;
        if (v.has_running)
            stdfu_version_format(&v.running, v.running_version, sizeof v.running_version);
    }
    if (v.rule && f->mode == DEVICE_APPLICATION) {
        v.decision = stdfu_rule_decide(v.rule, v.has_running ? &v.running : NULL);
        v.wants_update = v.decision == STDFU_UPDATE_NEEDED;
    } else if (v.rule && f->mode == DEVICE_BOOTLOADER) {
        v.decision = STDFU_UPDATE_NEEDED; /* only adopting, resuming or claimed ones get here */
        v.wants_update = true;
    }
    *ret = v;
}

const char *rules_governing(const stdfu_manifest *m, const DeviceFacts *f, const RulesVerdict *v,
                            const char *resume_rule) {
    const stdfu_rule *rule;

    if (v->rule)
        return v->rule->name;
    /* Absent, nothing matches by USB id; its kept job still says whose device it is. */
    if (f->mode != DEVICE_ABSENT || !m || !resume_rule)
        return NULL;
    rule = stdfu_manifest_find_rule(m, resume_rule);
    return rule ? rule->name : NULL;
}

char *rules_describe(const RulesVerdict *v, char *buf, size_t size) {
    if (!v->rule) {
        snprintf(buf, size, "no manifest rule matches");
        return buf;
    }
    return stdfu_rule_describe_decision(v->rule, v->has_running ? &v->running : NULL, buf, size);
}

/* The bcdDevice the application shows once it runs v, read the way the rule reads it. */
static bool bcd_of(const stdfu_rule *rule, const stdfu_version *v, uint16_t *ret) {
    if (rule && rule->version_source == STDFU_VERSION_SOURCE_BCD_DEVICE_BINARY) {
        if (v->major > 255 || v->minor > 255)
            return false;
        *ret = (uint16_t) (v->major << 8 | v->minor);
        return true;
    }
    return stdfu_version_to_bcd(v, ret) >= 0;
}

/* How to enter and what to expect, as the rule says. */
static void spec_enter_from_rule(JobSpec *spec, const stdfu_rule *rule) {
    spec->enter = rule->enter;
    spec->app_vid = rule->app_vid;
    spec->app_pid = rule->app_pid;
    spec->dfu_vid = rule->dfu_vid;
    spec->dfu_pid = rule->dfu_pid;
    spec->alt = rule->alt;
    spec->max_attempts = rule->retries + 1;
    spec->retries = rule->retries;
    spec->differential = rule->differential;
    spec->enter_timeout = rule->enter_timeout;
    spec->leave_timeout = rule->leave_timeout + rule->grace_timeout;
}

static int spec_from_rule(const stdfu_manifest *m, const DeviceFacts *f, const stdfu_rule *rule,
                          const char *from_version, bool force, JobSpec *ret, stdfu_error *err) {
    JobSpec spec = {
        .port = strdup(f->port),
        .rule_name = strdup(rule->name),
        .target_version = strdup(rule->firmware.version_string),
        .from_version = from_version && *from_version ? strdup(from_version) : NULL,
        .force = force,
        .forced = force,
        .image = rule->firmware.image,
        /* The manifest is immutable and its count atomic: a reference keeps the image alive
         * for the worker while the main loop loads another one. */
        .manifest = stdfu_manifest_ref((stdfu_manifest *) m),
    };
    spec_enter_from_rule(&spec, rule);
    spec.has_target_bcd = bcd_of(rule, &rule->firmware.version, &spec.target_bcd);
    snprintf(spec.sha256, sizeof spec.sha256, "%s", rule->firmware.sha256);
    if (!spec.port || !spec.rule_name || !spec.target_version ||
        (from_version && *from_version && !spec.from_version)) {
        job_spec_done(&spec);
        return stdfu_error_set(err, -ENOMEM, "Out of memory.");
    }
    *ret = spec;
    return 0;
}

int rules_job_spec(const stdfu_manifest *m, const DeviceFacts *f, const RulesVerdict *v,
                   bool force, JobSpec *ret, stdfu_error *err) {
    const stdfu_rule *rule = v->rule;
    char why[256];

    if (!rule)
        return stdfu_error_set(err, -ENOENT, "No manifest rule matches device %s%s.", f->port,
                               f->mode == DEVICE_ABSENT ? " (it is absent)" : "");
    if (f->mode == DEVICE_APPLICATION && !force)
        switch (v->decision) {
        case STDFU_UPDATE_NEEDED:
            break;
        case STDFU_UPDATE_CURRENT:
            return stdfu_error_set(err, -EALREADY, "Device %s already runs %s, the target of rule "
                                   "%s (use force to flash it again).", f->port,
                                   rule->firmware.version_string, rule->name);
        default:
            return stdfu_error_set(err, -EPERM, "Device %s: %s (use force to update anyway).",
                                   f->port, rules_describe(v, why, sizeof why));
        }
    return spec_from_rule(m, f, rule, v->running_version, force, ret, err);
}

int rules_job_spec_file(const DeviceFacts *f, const RulesVerdict *v, FileRequest *req,
                        JobSpec *ret, stdfu_error *err) {
    stdfu_image_load_options opts = { .format = req->format, .has_address = req->has_address,
                                      .address = req->address, .raw_unnamed = req->raw_unnamed };
    _cleanup_free_ uint8_t *data = TAKE_PTR(req->data);
    JobSpec spec = { .force = req->force, .forced = req->force };
    stdfu_version version;
    int r;

    if (v->rule)
        spec_enter_from_rule(&spec, v->rule);
    else {
        spec.dfu_vid = STDFU_USB_BOOTLOADER_VID;
        spec.dfu_pid = STDFU_USB_BOOTLOADER_PID;
        spec.retries = STDFU_DEFAULT_RETRIES;
        spec.differential = true;
    }
    if (req->version) {
        if (stdfu_version_parse(req->version, &version) < 0)
            return stdfu_error_set(err, -EINVAL, "Option \"version\": \"%.32s\" is not "
                                   "MAJOR.MINOR.", req->version);
        spec.has_target_bcd = bcd_of(v->rule, &version, &spec.target_bcd);
    }
    stdfu_error image_err = {};
    r = stdfu_image_load_data(data, req->size, "firmware", &opts, &spec.own_image, &image_err);
    /* Not recognised: the data has no name, so say how a caller marks raw data. */
    if (r == -EMEDIUMTYPE && req->format == STDFU_IMAGE_AUTO && !req->raw_unnamed)
        return stdfu_error_set(err, -EINVAL, "%.400s (the data of UpdateFile has no file name: "
                               "option format \"bin\" says it is a raw binary)",
                               image_err.message);
    if (r < 0)
        return stdfu_error_set(err, -EINVAL, "%s", image_err.message[0] ? image_err.message
                                                                         : strerror(-r));
    if (req->version && !req->force && streq(v->running_version, req->version)) {
        job_spec_done(&spec);
        return stdfu_error_set(err, -EALREADY, "Device %s already runs version %s (use force).",
                               f->port, req->version);
    }
    spec.image = spec.own_image;
    spec.port = strdup(f->port);
    spec.rule_name = strdup("file");
    spec.target_version = req->version ? strdup(req->version) : NULL;
    spec.from_version = v->running_version[0] ? strdup(v->running_version) : NULL;
    stdfu_sha256_hex(data, req->size, spec.sha256);
    spec.file_size = req->size;
    spec.file_data = TAKE_PTR(data);
    if (req->has_address)
        snprintf(spec.image_address, sizeof spec.image_address, "0x%08" PRIx32, req->address);
    /* Kept with the job: a resumed job reads its image as it was read now. */
    if (!req->raw_unnamed)
        snprintf(spec.image_format, sizeof spec.image_format, "%s",
                 strna(stdfu_image_format_to_string(req->format)));
    if (!spec.port || !spec.rule_name || (req->version && !spec.target_version) ||
        (v->running_version[0] && !spec.from_version)) {
        job_spec_done(&spec);
        return stdfu_error_set(err, -ENOMEM, "Out of memory.");
    }
    *ret = spec;
    return 0;
}

bool rules_resume_is_done(const stdfu_manifest *m, const DeviceFacts *f, const RulesVerdict *v,
                          const stdfu_job_record *rec) {
    const stdfu_rule *rule = NULL;
    stdfu_version running;

    if (f->mode != DEVICE_APPLICATION)
        return false;
    if (rec->kept_image)
        return rec->target_version[0] && streq(v->running_version, rec->target_version);
    if (m)
        rule = stdfu_manifest_find_rule(m, rec->rule);
    if (!rule)
        rule = v->rule;
    /* The running version read as the job's rule reads it. */
    return rule && stdfu_rule_running_version(rule, f->bcd_device, &running) >= 0 &&
           stdfu_version_compare(&running, &rule->firmware.version) == 0;
}

bool rules_resume_refused(const DeviceFacts *f, const RulesVerdict *v,
                          const stdfu_job_record *rec) {
    return f->mode == DEVICE_APPLICATION && !rec->kept_image && !rec->forced && v->rule &&
           (v->decision == STDFU_UPDATE_DOWNGRADE_REFUSED ||
            v->decision == STDFU_UPDATE_UNKNOWN_REFUSED);
}

/* What the journal knows and a device in the bootloader does not. */
static int spec_from_record(JobSpec *spec, const stdfu_job_record *rec) {
    spec->started = rec->started_usec;
    spec->forced = rec->forced;
    if (rec->from_version[0] && free_and_strdup(&spec->from_version, rec->from_version) < 0)
        return -ENOMEM;
    return 0;
}

static int resume_spec_file(const DeviceFacts *f, const RulesVerdict *v,
                            const stdfu_job_record *rec, uint8_t *image, size_t image_size,
                            JobSpec *ret, stdfu_error *err) {
    FileRequest req = {
        .data = image,
        .size = image_size,
        .force = true, /* the job was accepted; only its outcome is open */
        .version = rec->target_version[0] ? rec->target_version : NULL,
    };

    if (rec->image_address[0]) {
        if (parse_u32(rec->image_address, &req.address) < 0) {
            free(image);
            return stdfu_error_set(err, -EINVAL, "The unfinished job of %s has a bad image "
                                   "address \"%s\".", f->port, rec->image_address);
        }
        req.has_address = true;
    }
    if (!rec->image_format[0])
        req.raw_unnamed = true; /* recorded before formats were: read as it was then */
    else if (stdfu_image_format_from_string(rec->image_format, &req.format) < 0) {
        free(image);
        return stdfu_error_set(err, -EINVAL, "The unfinished job of %s has a bad image "
                               "format \"%s\".", f->port, rec->image_format);
    }
    int r = rules_job_spec_file(f, v, &req, ret, err); /* takes image */
    if (r < 0)
        return r;
    ret->kept_image = true;
    return 0;
}

int rules_resume_spec(const stdfu_manifest *m, const DeviceFacts *f, const RulesVerdict *v,
                      const stdfu_job_record *rec, uint8_t *image, size_t image_size,
                      JobSpec *ret, stdfu_error *err) {
    const stdfu_rule *rule = NULL;
    JobSpec spec = {};
    int r;

    if (rec->kept_image) {
        if (!image)
            return stdfu_error_set(err, -ENOENT, "The image of the unfinished job of %s is "
                                   "missing.", f->port);
        r = resume_spec_file(f, v, rec, image, image_size, &spec, err);
    } else {
        free(image);
        if (m)
            rule = stdfu_manifest_find_rule(m, rec->rule);
        if (!rule)
            rule = v->rule;
        if (!rule)
            return stdfu_error_set(err, -ENOENT, "Rule \"%s\" of the unfinished job of %s is not "
                                   "in the manifest any more.", rec->rule, f->port);
        r = spec_from_rule(m, f, rule, v->running_version, true, &spec, err);
    }
    if (r < 0)
        return r;
    if (spec_from_record(&spec, rec) < 0) {
        job_spec_done(&spec);
        return stdfu_error_set(err, -ENOMEM, "Out of memory.");
    }
    *ret = spec;
    return 0;
}

void rules_job_record(const JobSpec *spec, stdfu_job_record *ret) {
    stdfu_job_record_init(ret, spec->port, spec->rule_name ? spec->rule_name : "file",
                          spec->sha256, spec->from_version, spec->target_version);
    ret->started_usec = spec->started;
    ret->kept_image = spec->kept_image;
    ret->forced = spec->forced;
    snprintf(ret->image_address, sizeof ret->image_address, "%s", spec->image_address);
    snprintf(ret->image_format, sizeof ret->image_format, "%s", spec->image_format);
}
