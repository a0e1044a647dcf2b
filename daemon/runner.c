/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "runner.h"

#include <errno.h>
#include <libudev.h>
#include <stdio.h>
#include <string.h>

#include "journal-events.h"
#include "update/update.h"
#include "usb/usb.h"
#include "util/log.h"

/* ---- re-enumeration waits, fed by the main loop ------------------------------------------ */

/* The worker checks sysfs (its own udev context: libudev objects are per thread) and sleeps
 * on the job's channel until the main loop forwards the next event of the port. Checking the
 * state first and sleeping on events second loses nothing: an event that arrives between the
 * two stays queued and wakes the next sleep. */
typedef struct RunnerWatch {
    Job *job;
    struct udev *udev;
    stdfu_usb_ids ids;
} RunnerWatch;

static int watch_sleep(RunnerWatch *w, usec_t deadline, const atomic_bool *cancel) {
    JobDeviceEvent ev;
    if (cancel && atomic_load(cancel))
        return -ECANCELED;
    usec_t now = now_monotonic();
    if (deadline != USEC_INFINITY && now >= deadline)
        return -ETIMEDOUT;
    int r = job_wait_event(w->job, deadline == USEC_INFINITY ? USEC_INFINITY : deadline - now, &ev);
    if (r < 0)
        return r;
    return 0; /* an event or a timeout: the caller looks at sysfs again */
}

static usec_t deadline_of(usec_t timeout) {
    return timeout == USEC_INFINITY ? USEC_INFINITY : now_monotonic() + timeout;
}

static int watch_wait(void *userdata, const char *port, unsigned modes_mask, unsigned exclude_devnum,
                      usec_t timeout_usec, const atomic_bool *cancel, stdfu_usb_info *ret) {
    RunnerWatch *w = userdata;
    usec_t deadline = deadline_of(timeout_usec);

    for (;;) {
        stdfu_usb_info info;
        if (stdfu_usb_lookup_port(w->udev, &w->ids, port, &info) >= 0 &&
            (modes_mask & STDFU_USB_MODE_BIT(info.mode)) && info.mode != STDFU_USB_ABSENT &&
            (exclude_devnum == 0 || info.devnum != exclude_devnum)) {
            *ret = info;
            return 0;
        }
        int r = watch_sleep(w, deadline, cancel);
        if (r < 0)
            return r;
    }
}

static void watch_free(void *userdata) {
    (void) userdata; /* lives on the runner's stack */
}

static const stdfu_usb_watch_ops runner_watch_ops = {
    .wait = watch_wait,
    .free = watch_free,
};

/* ---- progress ---------------------------------------------------------------------------- */

typedef struct RunnerProgress {
    Job *job;
    const JobSpec *spec;
    JobState state;
    bool started;
} RunnerProgress;

/* The job's attempt (a resumed job goes on counting), as jobs.c counts it: one run of the
 * engine is one attempt, with one history entry. The engine's own flash cycles within it (the
 * cycle again after the application came back with the old version, or stuck) are its
 * reflash steps, counted in the entry's recovery steps, not attempts: numbering them would
 * give the entry a number with no entries before it. */
static unsigned job_attempt_of(const RunnerProgress *p) {
    return MAX(p->spec->first_attempt, 1u);
}

static void log_attempt_started(const RunnerProgress *p) {
    char attempt[16], message[256];
    snprintf(attempt, sizeof attempt, "%u", job_attempt_of(p));
    snprintf(message, sizeof message, "attempt %s of the update to %s started.", attempt,
             strna(p->spec->target_version));
    journal_event(LOG_INFO, STDFU_MESSAGE_ATTEMPT_STARTED, p->spec->port, message,
                  "STDFU_ATTEMPT", attempt, "STDFU_RULE", p->spec->rule_name,
                  "STDFU_FROM_VERSION", p->spec->from_version,
                  "STDFU_TO_VERSION", p->spec->target_version, NULL);
}

/* A rung of the ladder is news for whoever looks after the device: info at least. */
static void log_recovery_step(const RunnerProgress *p, const stdfu_update_event *ev) {
    char attempt[16];
    snprintf(attempt, sizeof attempt, "%u", job_attempt_of(p));
    journal_event(MIN(ev->level, LOG_INFO), STDFU_MESSAGE_RECOVERY_STEP, p->spec->port,
                  ev->message, "STDFU_STEP", stdfu_update_step_to_string(ev->step),
                  "STDFU_ATTEMPT", attempt, "STDFU_RULE", p->spec->rule_name,
                  "STDFU_TO_VERSION", p->spec->target_version, NULL);
}

static void on_progress(const stdfu_update_event *ev, void *userdata) {
    RunnerProgress *p = userdata;

    if (ev->phase == STDFU_UPDATE_PHASE_DONE)
        return;
    if (ev->attempt && !p->started) {
        p->started = true;
        log_attempt_started(p);
    }
    /* The engine tells what a differential flash skipped as a check-phase note once it has
     * flashed: news for the log, not a step back to entering. */
    bool flash_note = ev->phase == STDFU_UPDATE_PHASE_CHECK && p->state > JOB_ENTERING &&
                      p->state <= JOB_VERIFYING;
    JobState s = flash_note ? _JOB_STATE_INVALID
                            : job_state_next(p->state, ev->phase, ev->message);
    if (s >= 0) {
        p->state = s;
        job_report_state(p->job, s);
    }
    if (ev->total && p->state <= JOB_VERIFYING)
        job_report_progress(p->job, ev->done, ev->total);
    if (ev->message && ev->phase == STDFU_UPDATE_PHASE_RECOVER)
        log_recovery_step(p, ev);
    else if (ev->message)
        log_full(ev->level, "%s: %s", job_port(p->job), ev->message);
}

/* ---- the run ----------------------------------------------------------------------------- */

static void set_options(stdfu_update_options *o, const JobSpec *spec) {
    stdfu_update_options_init(o);
    o->port = spec->port;
    o->image = spec->image;
    o->alt = spec->alt;
    o->enter = spec->enter;
    o->has_target_bcd = spec->has_target_bcd;
    o->target_bcd = spec->target_bcd;
    /* Pages that already hold the image are read, not erased and written again: a resumed
     * job does not rewrite what the interrupted run wrote. */
    o->differential = spec->differential;
    if (spec->max_attempts) {
        o->max_attempts = spec->max_attempts;
        o->retries = spec->max_attempts - 1; /* the rule's retries, also within an attempt */
    }
    if (spec->enter_timeout)
        o->enter_timeout = spec->enter_timeout;
    if (spec->leave_timeout)
        o->leave_timeout = MAX(o->leave_timeout, spec->leave_timeout);
}

void runner_run(Job *job, const JobSpec *spec, JobResult *result, void *userdata) {
    RunnerWatch w = { .job = job };
    RunnerProgress progress = { .job = job, .spec = spec, .state = JOB_QUEUED };
    stdfu_usb_watch *watch = NULL;
    stdfu_update_options o;
    stdfu_update_result res = {};
    (void) userdata;

    result->outcome = JOB_OUTCOME_FAILED;
    result->started = now_realtime();
    if (!spec->image) {
        snprintf(result->error, sizeof result->error, "the job has no firmware image");
        return;
    }
    w.udev = udev_new();
    if (spec->app_vid || spec->app_pid) {
        stdfu_usb_ids_init_default(&w.ids);
        w.ids.n_app_ids = 0;
        (void) stdfu_usb_ids_add_app(&w.ids, spec->app_vid, spec->app_pid);
    } else
        stdfu_usb_ids_init_any(&w.ids);
    w.ids.boot_vid = spec->dfu_vid;
    w.ids.boot_pid = spec->dfu_pid;
    if (!w.udev || stdfu_usb_watch_new_with_ops(&runner_watch_ops, &w, &watch) < 0) {
        snprintf(result->error, sizeof result->error, "out of memory starting the update");
        udev_unref(w.udev);
        return;
    }

    set_options(&o, spec);
    /* Queued because the version differed; if it is current by the time the job runs (a
     * resumed needs-power-cycle job), there is nothing to write. force means write anyway. */
    o.skip_if_current = !spec->force && spec->has_target_bcd;
    o.watch = watch;
    o.progress = on_progress;
    o.userdata = &progress;
    o.cancel = job_cancel_flag(job);

    int r = stdfu_update_run(&o, &res);
    if (r < 0)
        snprintf(result->error, sizeof result->error, "cannot run the update: %.400s",
                 res.error.message[0] ? res.error.message : strerror(-r));
    else {
        result->outcome = job_outcome_of_update(res.outcome, res.failure);
        if (res.outcome != STDFU_UPDATE_DONE)
            snprintf(result->error, sizeof result->error, "%s", res.error.message);
    }
    result->phase = progress.state;
    result->finished = now_realtime();
    result->bytes_written = res.bytes_written;
    memcpy(result->steps, res.steps, sizeof result->steps);
    stdfu_usb_watch_free(watch);
    udev_unref(w.udev);
}
