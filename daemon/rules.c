/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "rules.h"

#include <errno.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "digest.h"
#include "manifest.h"
#include "runner.h"
#include "util/log.h"
#include "util/parse-util.h"

/* ST's ROM bootloader id: a device that shows it is always worth showing, adopted or not. */
#define ST_DFU_VID 0x0483
#define ST_DFU_PID 0xdf11

static stdfu_manifest *manifest_of(Daemon *d) {
    return d->manifest;
}

static void set_errors(Daemon *d, char **errors) {
    stdfu_manifest_errors_free(d->manifest_errors);
    d->manifest_errors = errors;
}

void rules_free_manifest(Daemon *d) {
    d->manifest = stdfu_manifest_unref(manifest_of(d));
    set_errors(d, NULL);
}

static char **single_error(const char *format, ...) _printf_(1, 2);
static char **single_error(const char *format, ...) {
    char **l = calloc(2, sizeof *l);
    va_list ap;
    va_start(ap, format);
    if (l && vasprintf(&l[0], format, ap) < 0)
        l[0] = NULL;
    va_end(ap);
    return l;
}

int rules_load_manifest(Daemon *d) {
    stdfu_manifest *m = NULL;
    char **errors = NULL;

    int r = stdfu_manifest_load(d->settings.manifest_path, d->settings.manifest_dir, &m, &errors);
    if (r < 0) {
        if (!errors)
            errors = single_error("%s: cannot load the manifest: %s", d->settings.manifest_path,
                                  strerror(-r));
        for (char **e = errors; e && *e; e++)
            log_error("%s", *e);
        log_warning("The manifest was refused; %s.",
                    d->manifest ? "the previous one stays in force" : "no rules are in force");
        set_errors(d, errors);
        return r;
    }
    stdfu_manifest_errors_free(errors);
    set_errors(d, NULL);
    stdfu_manifest_unref(manifest_of(d));
    d->manifest = m;
    /* Rules are pointers into the manifest: forget the old ones (running jobs hold their own
     * reference through their plan). */
    for (Device *dev = device_table_first(d->devices); dev; dev = dev->next)
        dev->rule = NULL;

    const stdfu_manifest_settings *s = stdfu_manifest_get_settings(m);
    if (s->max_parallel_jobs)
        job_queue_set_parallel(d->jobs, s->max_parallel_jobs);
    if (s->history_size && d->state)
        (void) stdfu_state_set_history_size(d->state, s->history_size);
    log_info("Manifest loaded: %zu rule%s.", stdfu_manifest_n_rules(m),
             stdfu_manifest_n_rules(m) == 1 ? "" : "s");
    return 0;
}

size_t rules_count(Daemon *d) {
    return manifest_of(d) ? stdfu_manifest_n_rules(manifest_of(d)) : 0;
}

const char *rules_name_at(Daemon *d, size_t i) {
    return stdfu_manifest_rule(manifest_of(d), i)->name;
}

static bool port_matches(const stdfu_rule *rule, const char *port) {
    return !rule->port_glob || fnmatch(rule->port_glob, port, 0) == 0;
}

DeviceMode rules_classify(Daemon *d, uint16_t vid, uint16_t pid, const char *port) {
    stdfu_manifest *m = manifest_of(d);
    size_t n = m ? stdfu_manifest_n_rules(m) : 0;

    if (vid == ST_DFU_VID && pid == ST_DFU_PID)
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

static const stdfu_rule *find_rule(Daemon *d, Device *dev) {
    stdfu_manifest *m = manifest_of(d);
    const stdfu_rule *rule = NULL;

    if (!m)
        return NULL;
    if (dev->mode == DEVICE_APPLICATION)
        return stdfu_manifest_match_application(m, dev->vid, dev->pid, dev->serial, dev->port);
    if (dev->mode != DEVICE_BOOTLOADER)
        return NULL;
    if (dev->resume && (rule = stdfu_manifest_find_rule(m, dev->resume->rule)))
        return rule;
    int r = stdfu_manifest_match_bootloader(m, dev->vid, dev->pid, dev->port, &rule);
    if (r == -ENOTUNIQ)
        log_warning("%s: several adoptable rules match this bootloader; adopting none.", dev->port);
    return r >= 0 ? rule : NULL;
}

static bool running_version(const stdfu_rule *rule, Device *dev, stdfu_version *ret) {
    if (dev->mode != DEVICE_APPLICATION)
        return false;
    if (rule)
        return stdfu_rule_running_version(rule, dev->bcd_device, ret) >= 0;
    return stdfu_version_from_bcd(dev->bcd_device, ret) >= 0;
}

void rules_update_device(Daemon *d, Device *dev) {
    const stdfu_rule *rule = find_rule(d, dev);
    stdfu_version v;
    char buf[STDFU_VERSION_STRING_MAX];

    dev->rule = rule;
    free(dev->running_version);
    dev->running_version = running_version(rule, dev, &v)
                                   ? strdup(stdfu_version_format(&v, buf, sizeof buf)) : NULL;
    if (rule && !dev->job) {
        free(dev->target_version);
        dev->target_version = strdup(rule->firmware.version_string);
    }
}

bool rules_wants_update(Daemon *d, Device *dev) {
    const stdfu_rule *rule = dev->rule;
    stdfu_version v;
    char why[256];
    (void) d;

    if (!rule)
        return false;
    if (dev->mode == DEVICE_BOOTLOADER)
        return true; /* find_rule only gives adopting or resuming rules here */
    bool known = running_version(rule, dev, &v);
    stdfu_update_decision decision = stdfu_rule_decide(rule, known ? &v : NULL);
    if (decision == STDFU_UPDATE_NEEDED)
        return true;
    if (decision != STDFU_UPDATE_CURRENT)
        log_notice("%s: not updated by rule %s: %s.", dev->port, rule->name,
                   stdfu_rule_describe_decision(rule, known ? &v : NULL, why, sizeof why));
    return false;
}

static void manifest_unref_void(void *p) {
    stdfu_manifest_unref(p);
}

static void plan_from_rule(RunnerPlan *plan, const stdfu_rule *rule) {
    plan->enter = rule->enter;
    plan->app_vid = rule->app_vid;
    plan->app_pid = rule->app_pid;
    plan->dfu_vid = rule->dfu_vid;
    plan->dfu_pid = rule->dfu_pid;
    plan->alt = rule->alt;
    plan->max_attempts = rule->retries + 1;
    plan->enter_timeout = rule->enter_timeout;
    plan->leave_timeout = rule->leave_timeout + rule->grace_timeout;
}

static bool bcd_of(const stdfu_rule *rule, const stdfu_version *v, uint16_t *ret) {
    if (rule && rule->version_source == STDFU_VERSION_SOURCE_BCD_DEVICE_BINARY) {
        if (v->major > 255 || v->minor > 255)
            return false;
        *ret = (uint16_t) (v->major << 8 | v->minor);
        return true;
    }
    return stdfu_version_to_bcd(v, ret) >= 0;
}

static int spec_from_rule(Daemon *d, Device *dev, const stdfu_rule *rule, bool force,
                          JobSpec *ret, stdfu_error *err) {
    RunnerPlan *plan = runner_plan_new();
    if (!plan)
        return stdfu_error_set(err, -ENOMEM, "Out of memory.");
    plan_from_rule(plan, rule);
    plan->image = rule->firmware.image;
    plan->has_target_bcd = bcd_of(rule, &rule->firmware.version, &plan->target_bcd);
    plan->keepalive = stdfu_manifest_ref(manifest_of(d));
    plan->keepalive_free = manifest_unref_void;

    *ret = (JobSpec) {
        .port = strdup(dev->port),
        .rule_name = strdup(rule->name),
        .firmware_path = strdup(rule->firmware.path),
        .target_version = strdup(rule->firmware.version_string),
        .from_version = dev->running_version ? strdup(dev->running_version) : NULL,
        .force = force,
        .runner_data = plan,
        .runner_data_free = runner_plan_free,
    };
    snprintf(ret->sha256, sizeof ret->sha256, "%s", rule->firmware.sha256);
    if (!ret->port || !ret->rule_name || !ret->firmware_path || !ret->target_version) {
        job_spec_done(ret);
        return stdfu_error_set(err, -ENOMEM, "Out of memory.");
    }
    return 0;
}

int rules_make_spec(Daemon *d, Device *dev, bool force, JobSpec *ret, stdfu_error *err) {
    char why[256];
    stdfu_version v;

    if (!dev->job)
        rules_update_device(d, dev);
    const stdfu_rule *rule = dev->rule;
    if (!rule)
        return stdfu_error_set(err, -ENOENT, "No manifest rule matches device %s%s.", dev->port,
                               dev->mode == DEVICE_ABSENT ? " (it is absent)" : "");
    if (dev->mode == DEVICE_APPLICATION && !force) {
        bool known = running_version(rule, dev, &v);
        switch (stdfu_rule_decide(rule, known ? &v : NULL)) {
        case STDFU_UPDATE_NEEDED:
            break;
        case STDFU_UPDATE_CURRENT:
            return stdfu_error_set(err, -EALREADY, "Device %s already runs %s, the target of rule "
                                   "%s (use force to flash it again).", dev->port,
                                   rule->firmware.version_string, rule->name);
        default:
            return stdfu_error_set(err, -EPERM, "Device %s: %s (use force to update anyway).",
                                   dev->port, stdfu_rule_describe_decision(rule, known ? &v : NULL,
                                                                           why, sizeof why));
        }
    }
    return spec_from_rule(d, dev, rule, force, ret, err);
}

static int plan_from_file(Daemon *d, Device *dev, FileRequest *req, RunnerPlan *plan,
                          stdfu_error *err) {
    stdfu_image_load_options opts = { .has_address = req->has_address, .address = req->address,
                                      .raw_unnamed = true };
    stdfu_version v;

    /* The device's rule, when it has one, still says how to enter and which ids to expect. */
    if (!dev->job)
        rules_update_device(d, dev);
    if (dev->rule)
        plan_from_rule(plan, dev->rule);
    if (req->version) {
        if (stdfu_version_parse(req->version, &v) < 0)
            return stdfu_error_set(err, -EINVAL, "Option \"version\": \"%.32s\" is not MAJOR.MINOR.",
                                   req->version);
        plan->has_target_bcd = bcd_of(dev->rule, &v, &plan->target_bcd);
    }
    stdfu_error image_err = {};
    int r = stdfu_image_load_data(req->data, req->size, "firmware", &opts, &plan->own_image,
                                  &image_err);
    if (r < 0)
        return stdfu_error_set(err, -EINVAL, "%s", image_err.message[0] ? image_err.message
                                                                         : strerror(-r));
    plan->image = plan->own_image;
    return 0;
}

int rules_make_spec_file(Daemon *d, Device *dev, FileRequest *req, JobSpec *ret,
                         stdfu_error *err) {
    void *data = TAKE_PTR(req->data);
    RunnerPlan *plan = runner_plan_new();
    int r;

    if (!plan) {
        free(data);
        return stdfu_error_set(err, -ENOMEM, "Out of memory.");
    }
    req->data = data;
    r = plan_from_file(d, dev, req, plan, err);
    req->data = NULL;
    if (r >= 0 && req->version && !req->force && streq_ptr(dev->running_version, req->version))
        r = stdfu_error_set(err, -EALREADY, "Device %s already runs version %s (use force).",
                            dev->port, req->version);
    if (r < 0) {
        runner_plan_free(plan);
        free(data);
        return r;
    }
    *ret = (JobSpec) {
        .port = strdup(dev->port),
        .rule_name = strdup("file"),
        .firmware_data = data,
        .firmware_size = req->size,
        .target_version = req->version ? strdup(req->version) : NULL,
        .from_version = dev->running_version ? strdup(dev->running_version) : NULL,
        .force = req->force,
        .runner_data = plan,
        .runner_data_free = runner_plan_free,
    };
    stdfu_sha256_hex(data, req->size, ret->sha256);
    if (req->has_address)
        snprintf(ret->image_address, sizeof ret->image_address, "0x%08" PRIx32, req->address);
    if (!ret->port || !ret->rule_name || (req->version && !ret->target_version)) {
        job_spec_done(ret);
        return stdfu_error_set(err, -ENOMEM, "Out of memory.");
    }
    return 0;
}

/* What the journal knows and a device in the bootloader does not. */
static void resume_from_record(JobSpec *spec, const stdfu_job_record *rec) {
    spec->started = rec->started_usec;
    if (rec->from_version[0]) {
        free(spec->from_version);
        spec->from_version = strdup(rec->from_version);
    }
}

/* An UpdateFile job: the caller's image, kept in the state directory, with its options. */
static int resume_spec_file(Daemon *d, Device *dev, JobSpec *ret, stdfu_error *err) {
    const stdfu_job_record *rec = dev->resume;
    FileRequest req = {
        .force = true, /* the job was accepted; only its outcome is open */
        .version = rec->target_version[0] ? rec->target_version : NULL,
    };
    uint8_t *data = NULL;

    rules_update_device(d, dev);
    if (dev->mode == DEVICE_APPLICATION && req.version &&
        streq_ptr(dev->running_version, req.version))
        return 0;
    if (rec->image_address[0]) {
        if (parse_u32(rec->image_address, &req.address) < 0)
            return stdfu_error_set(err, -EINVAL, "The unfinished job of %s has a bad image "
                                   "address \"%s\".", dev->port, rec->image_address);
        req.has_address = true;
    }
    int r = stdfu_state_load_image(d->state, dev->port, rec->sha256, &data, &req.size);
    if (r < 0)
        return stdfu_error_set(err, r, "The image of the unfinished job of %s cannot be read "
                               "back from the state directory: %s", dev->port,
                               r == -EBADMSG ? "its SHA-256 does not match" : strerror(-r));
    req.data = data;
    r = rules_make_spec_file(d, dev, &req, ret, err); /* takes data */
    if (r < 0)
        return r;
    ret->kept_image = true;
    resume_from_record(ret, rec);
    return 1;
}

int rules_make_resume_spec(Daemon *d, Device *dev, JobSpec *ret, stdfu_error *err) {
    const stdfu_rule *rule = NULL;
    stdfu_version v;

    if (!dev->resume)
        return stdfu_error_set(err, -ENOENT, "Device %s has nothing to resume.", dev->port);
    if (dev->resume->kept_image)
        return resume_spec_file(d, dev, ret, err);
    rules_update_device(d, dev);
    if (manifest_of(d))
        rule = stdfu_manifest_find_rule(manifest_of(d), dev->resume->rule);
    if (!rule)
        rule = dev->rule;
    if (!rule)
        return stdfu_error_set(err, -ENOENT, "Rule \"%s\" of the unfinished job of %s is not in "
                               "the manifest any more.", dev->resume->rule, dev->port);
    /* Back in the application with the target version: the job is done. */
    if (dev->mode == DEVICE_APPLICATION && running_version(rule, dev, &v) &&
        stdfu_version_compare(&v, &rule->firmware.version) == 0)
        return 0;
    int r = spec_from_rule(d, dev, rule, true, ret, err);
    if (r < 0)
        return r;
    resume_from_record(ret, dev->resume);
    return 1;
}

void rules_remember_resume(Daemon *d, Device *dev, const stdfu_job_record *rec) {
    (void) d;
    free(dev->resume);
    dev->resume = malloc(sizeof *rec);
    if (dev->resume)
        *dev->resume = *rec;
}

void rules_record_init(stdfu_job_record *rec, const char *port, const JobSpec *spec) {
    stdfu_job_record_init(rec, port, rules_name(spec), rules_sha256(spec), spec->from_version,
                          spec->target_version);
    rec->started_usec = spec->started;
    rec->kept_image = spec->kept_image;
    snprintf(rec->image_address, sizeof rec->image_address, "%s", spec->image_address);
}

void rules_remember_resume_spec(Daemon *d, Device *dev, const JobSpec *spec) {
    stdfu_job_record rec;
    rules_record_init(&rec, dev->port, spec);
    rec.phase = dev->state == JOB_NEEDS_POWER_CYCLE ? STDFU_PHASE_NEEDS_POWER_CYCLE
                                                     : STDFU_PHASE_WAITING;
    rec.attempt = MAX(dev->attempt, 1u);
    rules_remember_resume(d, dev, &rec);
}

const char *rules_name(const JobSpec *spec) {
    return spec->rule_name ? spec->rule_name : "file";
}

const char *rules_sha256(const JobSpec *spec) {
    return spec->sha256;
}
