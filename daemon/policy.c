/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "policy.h"

#include <errno.h>
#include <string.h>
#include <systemd/sd-journal.h>

#include "dbus-util.h"
#include "rules.h"
#include "state.h"
#include "util/log.h"

/* MESSAGE_ID of the journal entry for each finished update (stable: catalogs key on it). */
#define STDFU_MESSAGE_UPDATE_FINISHED "8d6a3f2e5b1c4e0f9a7d3c2b1e0f4a5d"

DeviceMode policy_classify(uint16_t vid, uint16_t pid, const char *port, void *userdata) {
    Daemon *d = userdata;
    return rules_classify(d, vid, pid, port);
}

static void set_string(char **dst, const char *value) {
    if (streq_ptr(*dst, value))
        return;
    free(*dst);
    *dst = value ? strdup(value) : NULL;
}

static stdfu_job_phase phase_of_state(JobState s) {
    switch (s) {
    case JOB_ENTERING: return STDFU_PHASE_ENTERING;
    case JOB_ERASING: return STDFU_PHASE_ERASING;
    case JOB_WRITING: return STDFU_PHASE_WRITING;
    case JOB_VERIFYING: return STDFU_PHASE_VERIFYING;
    case JOB_LEAVING: return STDFU_PHASE_LEAVING;
    case JOB_WAITING: return STDFU_PHASE_WAITING;
    case JOB_RECOVERING: return STDFU_PHASE_RECOVERING;
    case JOB_NEEDS_POWER_CYCLE: return STDFU_PHASE_NEEDS_POWER_CYCLE;
    default: return STDFU_PHASE_QUEUED;
    }
}

static stdfu_job_outcome outcome_of_state(JobState s) {
    switch (s) {
    case JOB_DONE: return STDFU_OUTCOME_DONE;
    case JOB_NEEDS_POWER_CYCLE: return STDFU_OUTCOME_NEEDS_POWER_CYCLE;
    case JOB_CANCELLED: return STDFU_OUTCOME_CANCELLED;
    default: return STDFU_OUTCOME_FAILED;
    }
}

/* ---- the state journal ------------------------------------------------------------------- */

static void journal_save(Daemon *d, Device *dev, const JobSpec *spec, JobState state,
                         unsigned attempt, const char *error) {
    stdfu_job_record rec;
    rules_record_init(&rec, dev->port, spec);
    rec.phase = phase_of_state(state);
    rec.attempt = MAX(attempt, 1u);
    stdfu_job_record_set_error(&rec, error);
    int r = stdfu_state_save_job(d->state, &rec);
    if (r < 0)
        log_warning_errno(r, "%s: cannot write the job journal: %m", dev->port);
}

static void journal_finish(Daemon *d, Device *dev, const JobSpec *spec, const JobResult *res,
                           unsigned attempts) {
    stdfu_history_entry e;
    stdfu_job_record rec;
    rules_record_init(&rec, dev->port, spec);
    rec.attempt = MAX(attempts, 1u);
    stdfu_history_entry_from_record(&e, &rec, outcome_of_state(res->outcome),
                                    res->outcome == JOB_DONE ? NULL : res->error, now_realtime());
    int r = stdfu_state_finish_job(d->state, &e);
    if (r < 0)
        log_warning_errno(r, "%s: cannot record the update in the history: %m", dev->port);
}

/* ---- queueing ---------------------------------------------------------------------------- */

static int queue_job(Daemon *d, Device *dev, JobSpec *spec, unsigned attempt, stdfu_error *err) {
    Job *job;
    int r;

    if (dev->job) {
        job_spec_done(spec);
        return stdfu_error_set(err, -EBUSY, "Device %s already has a job (%s).", dev->port,
                               job_state_to_string(job_state(dev->job)));
    }
    set_string(&dev->target_version, spec->target_version);
    if (!spec->started)
        spec->started = now_realtime();
    r = job_queue_add(d->jobs, spec, dev, &job);
    if (r < 0) {
        job_spec_done(spec);
        return stdfu_error_set(err, r, "Cannot queue a job for %s: %s", dev->port, strerror(-r));
    }
    dev->job = job;
    dev->resume_when_present = false;
    dev->progress = 0;
    dev->bytes_done = dev->bytes_total = 0;
    dev->attempt = MAX(attempt, 1u);
    /* The job may already have started (a free slot): take its state. */
    dev->state = job_state(job);
    journal_save(d, dev, job_spec(job), JOB_QUEUED, attempt, NULL);
    log_info("%s: update to %s queued.", dev->port, strna(dev->target_version));
    bus_device_emit_changed(dev, "State", "TargetVersion", "Progress", "BytesDone", "BytesTotal",
                            "Attempt", NULL);
    daemon_update_status(d);
    return 0;
}

static int check_no_job(Device *dev, stdfu_error *err) {
    if (!dev->job)
        return 0;
    return stdfu_error_set(err, -EBUSY, "Device %s already has a job (%s).", dev->port,
                           job_state_to_string(job_state(dev->job)));
}

int policy_queue_update(Daemon *d, Device *dev, bool force, stdfu_error *err) {
    JobSpec spec = {};
    int r = check_no_job(dev, err);
    if (r < 0)
        return r;
    r = rules_make_spec(d, dev, force, &spec, err);
    if (r < 0)
        return r;
    return queue_job(d, dev, &spec, 1, err);
}

int policy_queue_update_file(Daemon *d, Device *dev, FileRequest *req, stdfu_error *err) {
    JobSpec spec = {};
    int r = check_no_job(dev, err);
    if (r < 0) {
        req->data = mfree(req->data);
        return r;
    }
    r = rules_make_spec_file(d, dev, req, &spec, err);
    if (r < 0)
        return r;
    /* Kept before the job's first record: a restart resumes it with this very image. */
    r = stdfu_state_save_image(d->state, dev->port, spec.firmware_data, spec.firmware_size);
    if (r < 0) {
        job_spec_done(&spec);
        return stdfu_error_set(err, r, "Cannot keep the image in the state directory (%s), "
                               "so the update could not resume after a restart.", strerror(-r));
    }
    spec.kept_image = true;
    return queue_job(d, dev, &spec, 1, err);
}

int policy_cancel(Daemon *d, Device *dev, stdfu_error *err) {
    (void) d;
    if (dev->resume_when_present && !dev->job) {
        /* Waiting for a power cycle: stop waiting. */
        dev->resume_when_present = false;
        dev->auto_blocked = true;
        if (dev->resume_spec)
            job_spec_done(dev->resume_spec);
        dev->resume_spec = mfree(dev->resume_spec);
        int r = stdfu_state_remove_job(d->state, dev->port);
        if (r < 0)
            log_warning_errno(r, "%s: cannot remove the job record: %m", dev->port);
        dev->state = JOB_CANCELLED;
        bus_device_emit_changed(dev, "State", NULL);
        return 0;
    }
    if (!dev->job)
        return stdfu_error_set(err, -ENOENT, "Device %s has no job to cancel.", dev->port);
    log_info("%s: cancelling the update.", dev->port);
    return job_cancel(dev->job); /* a queued job finishes (cancelled) right here */
}

/* A device with an unfinished job (journal, needs-power-cycle) is back. */
static void resume_device(Daemon *d, Device *dev) {
    stdfu_error err = {};
    JobSpec spec = {};

    log_info("%s: is back, resuming its update.", dev->port);
    int r;
    if (dev->resume_spec) {
        /* The job of this run that ended as needs-power-cycle, image and all. */
        rules_update_device(d, dev);
        if (dev->mode == DEVICE_APPLICATION && dev->resume_spec->target_version &&
            streq_ptr(dev->running_version, dev->resume_spec->target_version)) {
            job_spec_done(dev->resume_spec);
            r = 0;
        } else {
            spec = *dev->resume_spec;
            r = 1;
        }
        dev->resume_spec = mfree(dev->resume_spec);
    } else
        r = rules_make_resume_spec(d, dev, &spec, &err);
    if (r > 0) {
        (void) queue_job(d, dev, &spec, dev->resume ? dev->resume->attempt : 1, &err);
        return;
    }
    if (r < 0) {
        log_warning("%s: cannot resume: %s", dev->port, err.message);
        return;
    }
    /* Already on the target: close the job as done. */
    stdfu_history_entry e;
    stdfu_history_entry_from_record(&e, dev->resume, STDFU_OUTCOME_DONE, NULL, now_realtime());
    r = stdfu_state_finish_job(d->state, &e);
    if (r < 0)
        log_warning_errno(r, "%s: cannot record the update in the history: %m", dev->port);
    log_info("%s: runs the target version %s, the unfinished update is done.", dev->port,
             dev->resume->target_version);
    dev->resume = mfree(dev->resume);
    dev->resume_when_present = false;
    dev->state = JOB_DONE;
    dev->last_update = now_realtime();
    set_string(&dev->last_error, NULL);
    bus_device_emit_changed(dev, "State", "LastError", "LastUpdate", NULL);
    bus_manager_emit_update_finished(d, dev->port, "done", "");
}

/* Whether a device that just appeared (or after a reload) should get a job. */
static void evaluate_device(Daemon *d, Device *dev) {
    stdfu_error err = {};

    if (dev->job || dev->mode == DEVICE_ABSENT || dev->settling)
        return;
    rules_update_device(d, dev);   /* rule, running and target version */
    if (dev->resume_when_present) {
        resume_device(d, dev);
        return;
    }
    if (dev->auto_blocked)
        return;
    if (!rules_wants_update(d, dev))
        return;
    if (policy_queue_update(d, dev, false, &err) < 0)
        log_warning("%s: %s", dev->port, err.message);
}

void policy_evaluate_all(Daemon *d) {
    for (Device *dev = device_table_first(d->devices); dev;) {
        Device *next = dev->next; /* queueing can finish a job at once, never drop dev */
        evaluate_device(d, dev);
        dev = next;
    }
}

int policy_resume_jobs(Daemon *d) {
    stdfu_job_record *recs = NULL;
    size_t n = 0;
    int r = stdfu_state_load_jobs(d->state, &recs, &n);
    if (r < 0)
        return log_error_errno(r, "Cannot read the job journal: %m");

    for (size_t i = 0; i < n; i++) {
        Device *dev;
        if (device_table_ensure(d->devices, recs[i].port, &dev) < 0)
            continue;
        log_info("%s: unfinished job from before (%s, attempt %u), resuming when it is present.",
                 recs[i].port, stdfu_job_phase_to_string(recs[i].phase), recs[i].attempt);
        rules_remember_resume(d, dev, &recs[i]);
        dev->resume_when_present = true;
        dev->state = recs[i].phase == STDFU_PHASE_NEEDS_POWER_CYCLE ? JOB_NEEDS_POWER_CYCLE
                                                                     : JOB_WAITING;
        bus_device_emit_changed(dev, "State", NULL);
    }
    free(recs);
    return 0;
}

/* ---- device events ----------------------------------------------------------------------- */

void daemon_on_device_added(Daemon *d, Device *dev) {
    bus_manager_emit_device_added(d, dev);
    daemon_update_status(d);
}

void daemon_on_device_dropped(Daemon *d, Device *dev) {
    bus_manager_emit_device_removed(d, dev);
}

static void forward_to_job(Device *dev) {
    JobDeviceEvent ev = {
        .type = dev->mode == DEVICE_ABSENT ? JOB_DEVICE_REMOVED : JOB_DEVICE_ADDED,
        .vid = dev->vid, .pid = dev->pid, .bcd_device = dev->bcd_device,
        .busnum = dev->busnum, .devnum = dev->devnum,
    };
    snprintf(ev.syspath, sizeof ev.syspath, "%s", dev->syspath ? dev->syspath : "");
    job_forward_event(dev->job, &ev);
}

/* How long an application may take to show its hidraw node after its USB device. */
#define SETTLE_USEC (2 * USEC_PER_SEC)

static void settle_done(Daemon *d, Device *dev) {
    dev->settling = false;
    dev->settle_timer = sd_event_source_disable_unref(dev->settle_timer);
    evaluate_device(d, dev);
}

static int on_settle_timer(sd_event_source *s, uint64_t usec, void *userdata) {
    Device *dev = userdata;
    (void) s, (void) usec;
    settle_done(device_table_daemon(dev->table), dev);
    return 0;
}

/* udev announces a USB device before its interfaces' hidraw nodes: a job started at once would
 * find no way to enter the bootloader. Wait for the node (or a little while). */
static bool settle_first(Daemon *d, Device *dev) {
    if (dev->mode != DEVICE_APPLICATION || dev->hidraw_node || dev->job)
        return false;
    dev->settling = true;
    if (!dev->settle_timer &&
        sd_event_add_time_relative(d->event, &dev->settle_timer, CLOCK_MONOTONIC, SETTLE_USEC, 0,
                                   on_settle_timer, dev) < 0)
        return dev->settling = false;
    return true;
}

void daemon_on_device_changed(Daemon *d, Device *dev, bool mode_changed) {
    if (dev->job)
        forward_to_job(dev);
    if (!mode_changed) {
        bus_device_emit_changed(dev, "Product", "Serial", NULL);
        if (dev->settling && dev->hidraw_node)
            settle_done(d, dev);
        return;
    }
    if (dev->settling && dev->mode != DEVICE_APPLICATION) {
        dev->settling = false;
        dev->settle_timer = sd_event_source_disable_unref(dev->settle_timer);
    }
    rules_update_device(d, dev);
    bus_device_emit_changed(dev, "Mode", "Product", "Serial", "RunningVersion", "TargetVersion",
                            NULL);
    if (dev->mode == DEVICE_ABSENT) {
        if (!dev->job && !dev->resume_when_present)
            device_table_drop(d->devices, dev);
        daemon_update_status(d);
        return;
    }
    if (!dev->job)
        dev->auto_blocked = false; /* a new appearance: worth another try */
    if (!settle_first(d, dev))
        evaluate_device(d, dev);
}

/* ---- job events -------------------------------------------------------------------------- */

static void on_job_changed(Job *job, void *userdata) {
    Daemon *d = userdata;
    Device *dev = job_get_userdata(job);
    JobState state = job_state(job);
    uint64_t done, total;

    job_progress(job, &done, &total);
    bool progress = done != dev->bytes_done || total != dev->bytes_total;
    dev->bytes_done = done;
    dev->bytes_total = total;
    dev->progress = total ? (unsigned) MIN(done * 100 / total, 100u) : 0;

    if (state != dev->state || job_attempt(job) != dev->attempt) {
        dev->state = state;
        dev->attempt = job_attempt(job);
        journal_save(d, dev, job_spec(job), state, dev->attempt, NULL);
        log_info("%s: %s (attempt %u).", dev->port, job_state_to_string(state), dev->attempt);
        bus_device_emit_changed(dev, "State", "Attempt", "Progress", "BytesDone", "BytesTotal",
                                NULL);
        daemon_update_status(d);
    } else if (progress)
        bus_device_emit_progress(dev);
}

static void log_finished(Device *dev, const JobSpec *spec, const JobResult *res) {
    const char *outcome = job_state_to_string(res->outcome);
    int prio = res->outcome == JOB_DONE ? LOG_INFO : LOG_WARNING;

    if (res->outcome == JOB_DONE)
        log_info("%s: updated to %s.", dev->port, strna(spec->target_version));
    else
        log_full(prio, "%s: update %s: %s", dev->port, outcome, res->error);
    /* The structured entry, for journalctl STDFU_PORT=1-1.4 and catalogs. Without journald
     * (tests, containers) this fails quietly. */
    (void) sd_journal_send("MESSAGE=%s: update to %s %s%s%s", dev->port,
                           strna(spec->target_version), outcome, res->error[0] ? ": " : "",
                           res->error,
                           "MESSAGE_ID=" STDFU_MESSAGE_UPDATE_FINISHED,
                           "PRIORITY=%d", prio,
                           "STDFU_PORT=%s", dev->port,
                           "STDFU_OUTCOME=%s", outcome,
                           "STDFU_FROM_VERSION=%s", spec->from_version ? spec->from_version : "",
                           "STDFU_TO_VERSION=%s", spec->target_version ? spec->target_version : "",
                           "STDFU_RULE=%s", rules_name(spec),
                           "STDFU_ATTEMPTS=%u", dev->attempt,
                           "STDFU_ERROR=%s", res->error,
                           NULL);
}

static void on_job_finished(Job *job, void *userdata) {
    Daemon *d = userdata;
    Device *dev = job_get_userdata(job);
    const JobSpec *spec = job_spec(job);
    const JobResult *res = job_result(job);

    dev->job = NULL;
    dev->state = res->outcome;
    set_string(&dev->last_error, res->outcome == JOB_DONE ? NULL : res->error);
    if (res->outcome == JOB_DONE) {
        dev->last_update = now_realtime();
        dev->progress = 100;
    }
    /* Not finished: the record stays, and the job resumes when the device is back. That is
     * needs-power-cycle, and also a failure that left the device without its application
     * (unplugged mid-write, stuck in the bootloader): no device is left there unwatched. */
    bool resumable = res->outcome == JOB_NEEDS_POWER_CYCLE ||
                     (res->outcome == JOB_FAILED && dev->mode != DEVICE_APPLICATION);
    if (resumable) {
        dev->resume_when_present = true;
        rules_remember_resume_spec(d, dev, spec);
        journal_save(d, dev, spec, res->outcome == JOB_FAILED ? JOB_WAITING : res->outcome,
                     dev->attempt, res->error);
    } else {
        dev->resume = mfree(dev->resume);
        dev->auto_blocked = res->outcome != JOB_DONE;
        journal_finish(d, dev, spec, res, dev->attempt);
    }
    log_finished(dev, spec, res);
    /* Properties first: a client that stops at UpdateFinished has the final ones. */
    bus_device_emit_changed(dev, "State", "LastError", "LastUpdate", "Progress", "BytesDone",
                            "BytesTotal", NULL);
    bus_manager_emit_update_finished(d, dev->port, job_state_to_string(res->outcome), res->error);
    if (resumable) {
        JobSpec *again = calloc(1, sizeof *again);
        if (again) {
            job_take_spec(job, again); /* spec is empty from here on */
            dev->resume_spec = again;
        }
    }
    job_release(job);
    daemon_update_status(d);
}

const JobQueueCallbacks policy_job_callbacks = {
    .changed = on_job_changed,
    .finished = on_job_finished,
};
