/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "policy.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "dbus-util.h"
#include "journal-events.h"
#include "metrics.h"
#include "state.h"
#include "util/log.h"

/* How long an application may take to show its hidraw node after its USB device. */
#define SETTLE_USEC (2 * USEC_PER_SEC)

static const char *resume_rule(Device *dev) {
    DeviceResume *r = device_resume(dev);
    return r ? r->record.rule : NULL;
}

/* The manifest's verdict on dev, and the versions it shows from it. */
static void evaluate(Daemon *d, Device *dev, RulesVerdict *ret) {
    rules_evaluate_claimed(d->manifest, device_facts(dev), resume_rule(dev), !!device_claim(dev),
                           ret);
    if (ret->ambiguous)
        log_warning("%s: several %srules match this bootloader; taking none.",
                    device_port(dev), device_claim(dev) ? "" : "adoptable ");
    device_set_running_version(dev, ret->running_version[0] ? ret->running_version : NULL);
    if (ret->rule && !device_job(dev))
        device_set_target_version(dev, ret->rule->firmware.version_string);
    if (!device_job(dev))
        device_set_rule(dev, rules_governing(d->manifest, device_facts(dev), ret,
                                             resume_rule(dev)));
}

/* Rule once a job is over: the job showed its own rule, which a reload meanwhile may have
 * renamed or removed; now it is the manifest's word again (the kept job's rule for an absent
 * device, so a device that needs a power cycle stays its rule's). */
static void refresh_rule(Daemon *d, Device *dev) {
    RulesVerdict v;

    if (device_job(dev))
        return;
    rules_evaluate_claimed(d->manifest, device_facts(dev), resume_rule(dev), !!device_claim(dev),
                           &v);
    device_set_rule(dev, rules_governing(d->manifest, device_facts(dev), &v, resume_rule(dev)));
}

/* ---- the state journal ------------------------------------------------------------------- */

/* While job records cannot be written, how often the devices are tried again: the state
 * directory may have room again, and a device waiting in its bootloader must not wait for a
 * manifest change. */
#define REFUSED_RETRY_USEC (30 * USEC_PER_SEC)

static int on_refused_timer(sd_event_source *s, uint64_t usec, void *userdata);

static void arm_refused_timer(Daemon *d) {
    if (!d->jobs_refused) {
        d->refused_timer = sd_event_source_disable_unref(d->refused_timer);
        return;
    }
    if (!d->refused_timer &&
        sd_event_add_time_relative(d->event, &d->refused_timer, CLOCK_MONOTONIC,
                                   REFUSED_RETRY_USEC, 0, on_refused_timer, d) < 0)
        log_warning("Cannot schedule another try of the refused jobs.");
}

static int on_refused_timer(sd_event_source *s, uint64_t usec, void *userdata) {
    Daemon *d = userdata;
    (void) s, (void) usec;
    d->refused_timer = sd_event_source_disable_unref(d->refused_timer);
    policy_evaluate_all(d, false);
    arm_refused_timer(d); /* still refused: again later */
    return 0;
}

/* Manager.JobsRefused: why (NULL: records can be written again). */
static void set_jobs_refused(Daemon *d, const char *why) {
    if (!streq_ptr(d->jobs_refused, why)) {
        if (!why)
            d->jobs_refused = mfree(d->jobs_refused);
        else if (free_and_strdup(&d->jobs_refused, why) < 0)
            log_oom();
        bus_manager_emit_changed(d, "JobsRefused", NULL);
    }
    arm_refused_timer(d);
}

static int journal_save(Daemon *d, const JobSpec *spec, JobState state, unsigned attempt,
                        const char *error, usec_t next_attempt, stdfu_job_record *ret) {
    stdfu_job_record rec;
    rules_job_record(spec, &rec);
    rec.phase = state;
    rec.attempt = MAX(attempt, 1u);
    rec.next_attempt_usec = next_attempt;
    stdfu_job_record_set_error(&rec, error);
    int r = stdfu_state_save_job(d->state, &rec);
    if (r < 0)
        log_warning_errno(r, "%s: cannot write the job journal: %m", spec->port);
    else
        set_jobs_refused(d, NULL);
    if (ret)
        *ret = rec;
    return r;
}

static void journal_finish(Daemon *d, const stdfu_job_record *rec, JobOutcome outcome,
                           const char *error) {
    stdfu_history_entry e;
    stdfu_history_entry_from_record(&e, rec, outcome, error, now_realtime());
    int r = stdfu_state_finish_job(d->state, &e);
    if (r < 0)
        log_warning_errno(r, "%s: cannot record the update in the history: %m", rec->port);
}

/* "leave-again=1 port-reset=1": the ladder's steps an attempt took. */
static void format_recovery(const unsigned *steps, char *buf, size_t size) {
    size_t n = 0;
    buf[0] = '\0';
    for (stdfu_update_step s = STDFU_UPDATE_STEP_NONE + 1; s < _STDFU_UPDATE_STEP_MAX; s++)
        if (steps[s] && n < size)
            n += (size_t) snprintf(buf + n, size - n, "%s%s=%u", n ? " " : "",
                                   stdfu_update_step_to_string(s), steps[s]);
}

/* The history entry of the attempt that ended the job. */
static void attempt_entry(const JobSpec *spec, const JobResult *res, unsigned attempt,
                          stdfu_history_entry *ret) {
    stdfu_job_record rec;
    rules_job_record(spec, &rec);
    rec.attempt = MAX(attempt, 1u);
    stdfu_history_entry_from_record(ret, &rec, res->outcome,
                                    res->outcome == JOB_OUTCOME_DONE ? NULL : res->error,
                                    res->finished);
    ret->started_usec = res->started;
    ret->phase = res->outcome == JOB_OUTCOME_DONE ? JOB_DONE : res->phase;
    ret->bytes_written = res->bytes_written;
    format_recovery(res->steps, ret->recovery, sizeof ret->recovery);
}

/* The manifest's backoff (settings retry-delay, retry-delay-max) for the wait after attempt. */
static usec_t retry_delay(Daemon *d, unsigned attempt) {
    const stdfu_manifest_settings *s = d->manifest ? stdfu_manifest_get_settings(d->manifest)
                                                   : NULL;
    usec_t delay = s && s->retry_delay ? s->retry_delay : STDFU_DEFAULT_RETRY_DELAY;
    usec_t delay_max = s && s->retry_delay_max ? s->retry_delay_max
                                               : STDFU_DEFAULT_RETRY_DELAY_MAX;
    return job_retry_delay(attempt, delay, delay_max);
}


/* ---- queueing ---------------------------------------------------------------------------- */

static int check_no_job(Device *dev, stdfu_error *err) {
    if (!device_job(dev))
        return 0;
    return stdfu_error_set(err, -EBUSY, "Device %s already has a job (%s).", device_port(dev),
                           job_state_to_string(job_state(device_job(dev))));
}

static int queue_job(Daemon *d, Device *dev, JobSpec *spec, unsigned attempt, stdfu_error *err) {
    Job *job;
    int r = check_no_job(dev, err);
    if (r < 0) {
        job_spec_done(spec);
        return r;
    }
    device_set_target_version(dev, spec->target_version);
    /* An UpdateFile job ("file") has no rule of its own: the device's rule, from the verdict
     * its spec was made with, still says how to enter; that one stays. */
    if (!spec->own_image)
        device_set_rule(dev, spec->rule_name);
    if (!spec->started)
        spec->started = now_realtime();
    spec->first_attempt = MAX(attempt, 1u);
    /* No erase starts without its record on disk: a crash in the middle would leave the device
     * in its bootloader with nothing to resume it. A full or missing state directory refuses
     * the job, and the device's LastError says why. */
    r = journal_save(d, spec, JOB_QUEUED, attempt, NULL, 0, NULL);
    if (r < 0) {
        stdfu_error local = {};
        if (!err)
            err = &local;
        stdfu_error_set(err, r, "Cannot write the job record of %s in %s/jobs (%s); no update "
                        "starts without it, since a crash during the erase would leave the "
                        "device with nothing to resume it.", device_port(dev),
                        stdfu_state_dir(d->state), strerror(-r));
        device_set_error(dev, err->message);
        char why[256];
        snprintf(why, sizeof why, "Job records cannot be written in %s/jobs (%s); no update "
                 "starts without its record.", stdfu_state_dir(d->state), strerror(-r));
        set_jobs_refused(d, why);
        job_spec_done(spec);
        return r;
    }
    r = job_queue_add(d->jobs, spec, dev, &job);
    if (r < 0) {
        job_spec_done(spec);
        return stdfu_error_set(err, r, "Cannot queue a job for %s: %s", device_port(dev),
                               strerror(-r));
    }
    device_set_job(dev, job);
    device_set_resume(dev, NULL);
    device_set_claim(dev, NULL); /* its own record claims the port from here on */
    device_set_vanished_flashing(dev, false);
    device_set_progress(dev, 0, 0, 0);
    device_set_attempt(dev, MAX(attempt, 1u));
    device_set_next_attempt(dev, 0);
    /* The job may already have started (a free slot): take its state. */
    device_set_state(dev, job_state(job));
    log_info("%s: update to %s queued.", device_port(dev), strna(device_target_version(dev)));
    daemon_update_status(d);
    return 0;
}

static int queue_update(Daemon *d, Device *dev, const RulesVerdict *v, bool force,
                        stdfu_error *err) {
    JobSpec spec = {};
    int r = rules_job_spec(d->manifest, device_facts(dev), v, force, &spec, err);
    if (r < 0)
        return r;
    return queue_job(d, dev, &spec, 1, err);
}

int policy_queue_update(Daemon *d, Device *dev, bool force, stdfu_error *err) {
    RulesVerdict v;
    int r = check_no_job(dev, err);
    if (r < 0)
        return r;
    evaluate(d, dev, &v);
    return queue_update(d, dev, &v, force, err);
}

int policy_queue_update_file(Daemon *d, Device *dev, FileRequest *req, stdfu_error *err) {
    JobSpec spec = {};
    RulesVerdict v;
    int r = check_no_job(dev, err);
    if (r < 0) {
        req->data = mfree(req->data);
        return r;
    }
    evaluate(d, dev, &v);
    r = rules_job_spec_file(device_facts(dev), &v, req, &spec, err);
    if (r < 0)
        return r;
    /* Kept before the job's first record: a restart resumes it with this very image. */
    r = stdfu_state_save_image(d->state, spec.port, spec.file_data, spec.file_size);
    if (r < 0) {
        job_spec_done(&spec);
        return stdfu_error_set(err, r, "Cannot keep the image in the state directory (%s), "
                               "so the update could not resume after a restart.", strerror(-r));
    }
    spec.kept_image = true;
    return queue_job(d, dev, &spec, 1, err);
}

int policy_cancel(Daemon *d, Device *dev, stdfu_error *err) {
    if (device_resume(dev) && !device_job(dev) && device_mode(dev) == DEVICE_BOOTLOADER)
        /* Forgetting this job would leave the device without an application for good. */
        return stdfu_error_set(err, -EBUSY, "Device %s is in its bootloader without a complete "
                               "application; its job is kept until it runs one again (unplug "
                               "it to stop, stdfuctl update to try now).", device_port(dev));
    if (device_resume(dev) && !device_job(dev)) {
        /* Waiting for the device to come back: stop waiting. */
        device_set_resume(dev, NULL);
        device_set_blocked(dev, true);
        int r = stdfu_state_remove_job(d->state, device_port(dev));
        if (r < 0)
            log_warning_errno(r, "%s: cannot remove the job record: %m", device_port(dev));
        device_set_next_attempt(dev, 0);
        device_set_state(dev, JOB_CANCELLED);
        return 0;
    }
    if (!device_job(dev))
        return stdfu_error_set(err, -ENOENT, "Device %s has no job to cancel.", device_port(dev));
    log_info("%s: cancelling the update.", device_port(dev));
    return job_cancel(device_job(dev)); /* a queued job finishes (cancelled) right here */
}

/* ---- resuming ---------------------------------------------------------------------------- */

static void resume_done(Daemon *d, Device *dev, const stdfu_job_record *rec) {
    journal_finish(d, rec, JOB_OUTCOME_DONE, NULL);
    log_info("%s: runs the target version %s, the unfinished update is done.", device_port(dev),
             rec->target_version);
    device_set_state(dev, JOB_DONE);
    device_set_last_update(dev, now_realtime());
    device_set_error(dev, NULL);
    device_set_next_attempt(dev, 0);
    device_flush_changes(dev); /* properties first: UpdateFinished closes the update */
    bus_manager_emit_update_finished(d, device_port(dev), "done", "");
}

/* The job of a resume: the spec kept in this run, or one rebuilt from the journal record. */
static int resume_spec(Daemon *d, Device *dev, const RulesVerdict *v, DeviceResume *res,
                       JobSpec *ret, stdfu_error *err) {
    const stdfu_job_record *rec = &res->record;
    uint8_t *image = NULL;
    size_t size = 0;

    if (res->spec.port) {
        *ret = res->spec;
        res->spec = (JobSpec) {};
        return 0;
    }
    if (rec->kept_image) {
        int r = stdfu_state_load_image(d->state, rec->port, rec->sha256, &image, &size);
        if (r < 0)
            return stdfu_error_set(err, r, "The image of the unfinished job of %s cannot be "
                                   "read back from the state directory: %s", rec->port,
                                   r == -EBADMSG ? "its SHA-256 does not match" : strerror(-r));
    }
    return rules_resume_spec(d->manifest, device_facts(dev), v, rec, image, size, ret, err);
}

/* The job cannot go on (its kept image fails its SHA-256, its rule is gone): it ends failed
 * with the reason rather than waiting forever, and the manifest's rule, if one wants the
 * device, gives it a fresh job. */
static void resume_impossible(Daemon *d, Device *dev, const stdfu_error *why) {
    stdfu_job_record rec = device_resume(dev)->record;
    stdfu_error err = {};
    RulesVerdict v;

    log_warning("%s: cannot resume: %s", device_port(dev), why->message);
    device_set_resume(dev, NULL);
    journal_finish(d, &rec, JOB_OUTCOME_FAILED, why->message);
    device_set_state(dev, JOB_FAILED);
    device_set_error(dev, why->message);
    device_set_next_attempt(dev, 0);
    device_flush_changes(dev);
    bus_manager_emit_update_finished(d, device_port(dev), "failed", why->message);
    evaluate(d, dev, &v);
    if (v.wants_update && queue_update(d, dev, &v, false, &err) < 0)
        log_warning("%s: %s", device_port(dev), err.message);
    if (!device_job(dev))
        device_set_error(dev, why->message);
}

/* A kept job of a device that runs its application, whose rule now refuses the update (the
 * manifest changed: no downgrade, an unreadable version): the job goes, as if it had never
 * been queued; its attempts are in the history already. The device is left as the rule
 * leaves any such device (idle), rather than flashed by a decision the manifest took back. */
static void resume_dropped(Daemon *d, Device *dev, const RulesVerdict *v) {
    char why[256];

    log_notice("%s: its kept job is dropped: rule %s now says it %s.", device_port(dev),
               v->rule->name, rules_describe(v, why, sizeof why));
    device_set_resume(dev, NULL);
    int r = stdfu_state_remove_job(d->state, device_port(dev));
    if (r < 0)
        log_warning_errno(r, "%s: cannot remove the job record: %m", device_port(dev));
    device_set_state(dev, JOB_IDLE);
    device_set_error(dev, NULL);
    device_set_next_attempt(dev, 0);
}

/* A device with an unfinished job (journal, needs-power-cycle, failed outside its
 * application) is back. */
static void resume_device(Daemon *d, Device *dev, const RulesVerdict *v) {
    DeviceResume *res = device_resume(dev);
    stdfu_error err = {};
    JobSpec spec = {};

    log_info("%s: resuming its update (%s before).", device_port(dev),
             job_state_to_string(res->record.phase));
    if (rules_resume_is_done(d->manifest, device_facts(dev), v, &res->record)) {
        stdfu_job_record rec = res->record;
        device_set_resume(dev, NULL);
        resume_done(d, dev, &rec);
        return;
    }
    /* Re-checked against the rule in force: the manifest may have changed since the job was
     * queued (a Mender rollback, a new target). A device in its bootloader has no version to
     * decide on, and an UpdateFile job no rule: those go on. */
    if (rules_resume_refused(device_facts(dev), v, &res->record)) {
        resume_dropped(d, dev, v);
        return;
    }
    if (resume_spec(d, dev, v, res, &spec, &err) < 0) {
        resume_impossible(d, dev, &err);
        return;
    }
    (void) queue_job(d, dev, &spec, job_next_attempt(res->record.phase, res->record.attempt),
                     &err); /* frees res */
}

static void evaluate_device(Daemon *d, Device *dev, const RulesVerdict *v);

static int on_retry_timer(sd_event_source *s, uint64_t usec, void *userdata) {
    Device *dev = userdata;
    Daemon *d = device_daemon(dev);
    DeviceResume *res = device_resume(dev);
    RulesVerdict v;
    (void) s, (void) usec;

    res->due = true;
    res->timer = sd_event_source_disable_unref(res->timer);
    if (device_mode(dev) == DEVICE_ABSENT)
        return 0; /* it resumes when it is back */
    evaluate(d, dev, &v);
    evaluate_device(d, dev, &v);
    return 0;
}

/* A job in retry-wait: its next attempt at record.next_attempt_usec. */
static void arm_retry(Daemon *d, Device *dev, DeviceResume *res) {
    if (res->timer || res->due)
        return;
    int r = sd_event_add_time(d->event, &res->timer, CLOCK_REALTIME,
                              res->record.next_attempt_usec, 0, on_retry_timer, dev);
    if (r < 0) {
        log_warning_errno(r, "%s: cannot schedule the next attempt, trying at once: %m",
                          device_port(dev));
        res->due = true;
    }
}

int policy_resume_jobs(Daemon *d) {
    stdfu_job_record *recs = NULL;
    size_t n = 0;
    int r = stdfu_state_load_jobs(d->state, &recs, &n);
    if (r < 0)
        return log_error_errno(r, "Cannot read the job journal: %m");

    for (size_t i = 0; i < n; i++) {
        DeviceResume *res;
        Device *dev;
        if (device_table_ensure(d->devices, recs[i].port, &dev) < 0)
            continue;
        if (recs[i].damaged) {
            /* Its port is known, the rest is not: stdfud was updating that device, so it gets
             * a fresh job from the manifest when it is present, even in a bootloader no rule
             * adopts; LastError says what happened. */
            if (device_set_claim(dev, recs[i].last_error) < 0)
                log_oom();
            device_set_error(dev, recs[i].last_error);
            continue;
        }
        res = calloc(1, sizeof *res);
        if (!res) {
            log_oom();
            continue;
        }
        res->record = recs[i];
        log_info("%s: unfinished job from before (%s, attempt %u), resuming when it is present.",
                 recs[i].port, job_state_to_string(recs[i].phase), recs[i].attempt);
        device_set_resume(dev, res);
        /* Kept to resume: what it waits for; cut short by the stop: waiting for the device. */
        if (recs[i].phase == JOB_RETRY_WAIT) {
            device_set_state(dev, JOB_RETRY_WAIT);
            device_set_next_attempt(dev, recs[i].next_attempt_usec);
            arm_retry(d, dev, res);
        } else
            device_set_state(dev, job_state_is_ended(recs[i].phase) ? recs[i].phase
                                                                    : JOB_WAITING);
    }
    free(recs);
    return 0;
}

/* ---- deciding ---------------------------------------------------------------------------- */

/* A claimed port (its job record lost) runs an application again: nothing is stranded there,
 * the claim and the record set aside go; the manifest treats it as any application. */
static void drop_claim(Daemon *d, Device *dev) {
    int r = stdfu_state_remove_job(d->state, device_port(dev));
    if (r < 0)
        log_warning_errno(r, "%s: cannot remove the damaged job record: %m", device_port(dev));
    device_set_claim(dev, NULL);
    if (device_state(dev) == JOB_NO_RULE)
        device_set_state(dev, JOB_IDLE);
}

/* A claimed bootloader without its one rule: said in State and LastError, until the manifest
 * changes or the device appears again. */
static void no_rule(Device *dev, const RulesVerdict *v) {
    const DeviceFacts *f = device_facts(dev);
    char *msg = NULL;

    if (asprintf(&msg, "%s But %s of the manifest has the bootloader id %04x:%04x and a port "
                 "glob matching %s, so no job can be made: the device waits in its bootloader "
                 "for a manifest change.", device_claim(dev),
                 v->ambiguous ? "more than one rule" : "no rule", f->vid, f->pid,
                 device_port(dev)) < 0) {
        log_oom();
        msg = NULL;
    }
    log_warning("%s: %s", device_port(dev), msg ? msg : device_claim(dev));
    device_set_state(dev, JOB_NO_RULE);
    device_set_error(dev, msg ? msg : device_claim(dev));
    free(msg);
}

/* Whether a device that just appeared (or after a reload) should get a job. */
static void evaluate_device(Daemon *d, Device *dev, const RulesVerdict *v) {
    stdfu_error err = {};
    char why[256];

    if (device_job(dev) || device_mode(dev) == DEVICE_ABSENT || device_settling(dev))
        return;
    if (device_resume(dev)) {
        DeviceResume *res = device_resume(dev);
        if (res->record.phase == JOB_RETRY_WAIT && !res->due)
            arm_retry(d, dev, res); /* nothing changed: at its time */
        else
            resume_device(d, dev, v);
        return;
    }
    if (device_claim(dev) && device_mode(dev) == DEVICE_APPLICATION)
        drop_claim(d, dev);
    if (device_blocked(dev))
        return;
    if (!v->wants_update && device_claim(dev) && device_mode(dev) == DEVICE_BOOTLOADER) {
        no_rule(dev, v);
        return;
    }
    if (!v->wants_update) {
        if (v->rule && v->decision != STDFU_UPDATE_CURRENT)
            log_notice("%s: not updated by rule %s: %s.", device_port(dev), v->rule->name,
                       rules_describe(v, why, sizeof why));
        return;
    }
    if (queue_update(d, dev, v, false, &err) < 0)
        log_warning("%s: %s", device_port(dev), err.message);
}

void policy_evaluate_all(Daemon *d, bool manifest_changed) {
    for (Device *dev = device_table_first(d->devices); dev;) {
        Device *next = device_next(dev); /* queueing can finish a job at once, never drop dev */
        RulesVerdict v;
        if (manifest_changed) {
            /* Something changed: a failed device is worth another try, a waiting one now. */
            device_set_blocked(dev, false);
            if (device_resume(dev))
                device_resume(dev)->due = true;
        }
        if (!device_job(dev)) {
            evaluate(d, dev, &v);
            evaluate_device(d, dev, &v);
        }
        dev = next;
    }
}

static void forward_to_job(Device *dev) {
    const DeviceFacts *f = device_facts(dev);
    JobDeviceEvent ev = {
        .type = f->mode == DEVICE_ABSENT ? JOB_DEVICE_REMOVED : JOB_DEVICE_ADDED,
        .vid = f->vid, .pid = f->pid, .bcd_device = f->bcd_device,
        .busnum = f->busnum, .devnum = f->devnum,
    };
    snprintf(ev.syspath, sizeof ev.syspath, "%s", f->syspath ? f->syspath : "");
    job_forward_event(device_job(dev), &ev);
}

static void on_settled(Device *dev) {
    Daemon *d = device_daemon(dev);
    RulesVerdict v;
    evaluate(d, dev, &v);
    evaluate_device(d, dev, &v);
}

/* udev announces a USB device before its interfaces' hidraw nodes: a job started at once would
 * find no way to enter the bootloader. Wait for the node (or a little while). */
static bool settle_first(Device *dev) {
    if (device_mode(dev) != DEVICE_APPLICATION || device_hidraw_node(dev) || device_job(dev))
        return false;
    return device_settle(dev, SETTLE_USEC, on_settled) >= 0;
}

void policy_device_changed(Daemon *d, Device *dev, bool incarnation) {
    RulesVerdict v;

    if (device_job(dev)) {
        forward_to_job(dev);
        JobState js = job_state(device_job(dev));
        if (device_mode(dev) == DEVICE_ABSENT && js >= JOB_ERASING && js <= JOB_VERIFYING)
            device_set_vanished_flashing(dev, true);
    }
    if (!incarnation) {
        if (device_settling(dev) && device_hidraw_node(dev)) {
            device_settle_stop(dev);
            on_settled(dev);
        }
        return;
    }
    if (device_settling(dev) && device_mode(dev) != DEVICE_APPLICATION)
        device_settle_stop(dev);
    DeviceResume *res = device_resume(dev);
    if (res && device_mode(dev) != DEVICE_ABSENT) {
        /* Re-appeared (not its first appearance after a restart): its job goes on now. */
        if (res->seen)
            res->due = true;
        res->seen = true;
    }
    evaluate(d, dev, &v);
    if (device_mode(dev) == DEVICE_ABSENT) {
        if (!device_job(dev) && !device_resume(dev) && !device_claim(dev))
            device_table_remove(d->devices, dev);
        daemon_update_status(d);
        return;
    }
    if (!device_job(dev))
        device_set_blocked(dev, false); /* a new appearance: worth another try */
    if (!settle_first(dev))
        evaluate_device(d, dev, &v);
}

/* ---- job events -------------------------------------------------------------------------- */

static void on_job_changed(Job *job, void *userdata) {
    Daemon *d = userdata;
    Device *dev = job_get_userdata(job);
    JobState state = job_state(job);
    uint64_t done, total;

    job_progress(job, &done, &total);
    device_set_progress(dev, total ? (unsigned) MIN(done * 100 / total, 100u) : 0, done, total);
    if (state != device_state(dev) || job_attempt(job) != device_attempt(dev)) {
        device_set_state(dev, state);
        device_set_attempt(dev, job_attempt(job));
        journal_save(d, job_spec(job), state, job_attempt(job), NULL, 0, NULL);
        log_info("%s: %s (attempt %u).", device_port(dev), job_state_to_string(state),
                 job_attempt(job));
        daemon_update_status(d);
    }
}

/* Once: natively with its fields under journald, else one line (journal-events.h). */
static void log_finished(Device *dev, const JobSpec *spec, const JobResult *res) {
    const char *outcome = job_outcome_to_string(res->outcome);
    char attempt[16], bytes[24], message[700];

    snprintf(attempt, sizeof attempt, "%u", device_attempt(dev));
    snprintf(bytes, sizeof bytes, "%" PRIu64, res->bytes_written);
    if (res->outcome == JOB_OUTCOME_DONE)
        snprintf(message, sizeof message, "updated to %s.", strna(spec->target_version));
    else
        snprintf(message, sizeof message, "update %s: %s", outcome, res->error);
    journal_event(res->outcome == JOB_OUTCOME_DONE ? LOG_INFO : LOG_WARNING,
                  STDFU_MESSAGE_UPDATE_FINISHED, device_port(dev), message,
                  "STDFU_OUTCOME", outcome, "STDFU_FROM_VERSION", spec->from_version,
                  "STDFU_TO_VERSION", spec->target_version,
                  "STDFU_RULE", spec->rule_name ? spec->rule_name : "file",
                  "STDFU_ATTEMPTS", attempt, "STDFU_ATTEMPT", attempt, "STDFU_ERROR", res->error,
                  "STDFU_PHASE", job_state_to_string(res->phase),
                  "STDFU_BYTES_WRITTEN", bytes, NULL);
}

static void log_retry(Device *dev, const JobSpec *spec, JobOutcome outcome, bool in_application,
                      usec_t next_attempt) {
    char attempt[16], delay[32], at[24], message[200];
    snprintf(attempt, sizeof attempt, "%u", device_attempt(dev));
    snprintf(delay, sizeof delay, "%.1f",
             (double) (next_attempt - MIN(next_attempt, now_realtime())) / USEC_PER_SEC);
    snprintf(at, sizeof at, "%" PRIu64, (uint64_t) next_attempt);
    snprintf(message, sizeof message, "attempt %s %s with %s; the next in %s s.", attempt,
             outcome == JOB_OUTCOME_CANCELLED ? "was cancelled" : "failed",
             in_application ? "the application running" :
             device_mode(dev) == DEVICE_ABSENT ? "the device gone (sooner when it is back)" :
             "the device left in its bootloader", delay);
    journal_event(LOG_INFO, STDFU_MESSAGE_RETRY_SCHEDULED, device_port(dev), message,
                  "STDFU_ATTEMPT", attempt, "STDFU_RULE", spec->rule_name,
                  "STDFU_TO_VERSION", spec->target_version, "STDFU_RETRY_DELAY_SEC", delay,
                  "STDFU_NEXT_ATTEMPT_USEC", at, NULL);
}

static void on_job_finished(Job *job, void *userdata) {
    Daemon *d = userdata;
    Device *dev = job_get_userdata(job);
    const JobSpec *spec = job_spec(job);
    const JobResult *res = job_result(job);
    stdfu_history_entry entry;
    stdfu_job_record rec;
    int r;

    bool in_application = device_mode(dev) == DEVICE_APPLICATION;
    JobState next = job_state_of_outcome(res->outcome);
    usec_t next_attempt = 0;
    /* A failure: the next attempt after a longer wait; the rule's retries limit it while the
     * old application runs, nothing does while the device is left outside it. A Cancel that
     * stopped the attempt with the device outside its application (its flash erased or half
     * written) keeps the job the same way: its next attempt finishes the update. An image
     * refused by the pre-erase check (outcome refused) would be refused again and nothing was
     * erased: the job ends failed, with no retry, until something changes. */
    if (res->outcome == JOB_OUTCOME_FAILED ||
        (res->outcome == JOB_OUTCOME_CANCELLED && !in_application)) {
        next = job_state_after_failure(device_attempt(dev), spec->retries, in_application);
        if (next == JOB_RETRY_WAIT)
            next_attempt = now_realtime() + retry_delay(d, device_attempt(dev));
    }
    /* It went away while flashing and is back already: the re-appearance that would resume
     * it is past, so the next attempt starts now. */
    bool back_already = next == JOB_RETRY_WAIT && !in_application &&
                        device_mode(dev) != DEVICE_ABSENT && device_vanished_flashing(dev);
    if (back_already)
        next_attempt = now_realtime();

    device_set_job(dev, NULL);
    device_set_state(dev, next);
    device_set_next_attempt(dev, next_attempt);
    device_set_error(dev, res->outcome == JOB_OUTCOME_DONE ? NULL : res->error);
    if (res->outcome == JOB_OUTCOME_DONE) {
        device_set_last_update(dev, now_realtime());
        device_set_progress(dev, 100, device_bytes_done(dev), device_bytes_total(dev));
    }
    /* Not finished: the record stays, and the job resumes when the device is back. That is
     * needs-power-cycle, and also a failure that left the device without its application
     * (unplugged mid-write, stuck in the bootloader): no device is left there unwatched. */
    bool resumable = res->outcome == JOB_OUTCOME_NEEDS_POWER_CYCLE || next == JOB_RETRY_WAIT;
    /* The history has every attempt that ended, also one whose job goes on (issue 10): the
     * record stays for a job kept to resume, goes with the last attempt of one that ended. */
    attempt_entry(spec, res, device_attempt(dev), &entry);
    if (resumable) {
        journal_save(d, spec, next, device_attempt(dev), res->error, next_attempt, &rec);
        r = stdfu_state_add_history(d->state, &entry);
    } else {
        device_set_blocked(dev, res->outcome != JOB_OUTCOME_DONE);
        r = stdfu_state_finish_job(d->state, &entry);
    }
    if (r < 0)
        log_warning_errno(r, "%s: cannot record the attempt in the history: %m",
                          device_port(dev));
    log_finished(dev, spec, res);
    metrics_job_finished(d, device_port(dev), res);
    if (next == JOB_RETRY_WAIT)
        log_retry(dev, spec, res->outcome, in_application, next_attempt);
    /* Properties first: a client that stops at UpdateFinished has the final ones. */
    device_flush_changes(dev);
    bus_manager_emit_update_finished(d, device_port(dev), job_outcome_to_string(res->outcome),
                                     res->error);
    if (resumable) {
        DeviceResume *again = calloc(1, sizeof *again);
        if (again) {
            again->record = rec;
            again->seen = true; /* in this run: any re-appearance is news */
            job_take_spec(job, &again->spec); /* spec is empty from here on */
            device_set_resume(dev, again);
            if (next == JOB_RETRY_WAIT)
                arm_retry(d, dev, again);
        } else
            log_oom();
    }
    refresh_rule(d, dev);
    job_release(job);
    daemon_update_status(d);
}

const JobQueueCallbacks policy_job_callbacks = {
    .changed = on_job_changed,
    .finished = on_job_finished,
};
