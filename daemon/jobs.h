/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The job queue: at most one job per device port, at most `parallel` running at once, each
 * running job one worker thread that executes a runner (the lib/update cycle in the daemon, a
 * fake in unit tests).
 *
 * A worker never touches the main thread's state. It talks through a SOCK_SEQPACKET socket
 * pair: upwards it sends phase, progress, attempt and the final result; downwards the main loop
 * forwards the udev add/remove events of the job's port (the main loop owns the only udev
 * monitor), and a wake-up on cancel. Cancel itself is an atomic flag the runner checks between
 * transfers. */

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "image/image.h"
#include "lifecycle.h"
#include "manifest.h"
#include "update/enter.h"
#include "util/macro.h"
#include "util/time-util.h"

typedef struct JobQueue JobQueue;
typedef struct Job Job;

/* What the job should do, made on the main thread (rules.c) from a manifest rule or an
 * UpdateFile image and self-contained: the worker reads nothing else of the daemon. Owned by
 * the job once queued. */
typedef struct JobSpec {
    char *port;
    char *rule_name;          /* for the journal: the manifest rule, "file" for UpdateFile */
    char sha256[65];          /* of the image, lowercase hex */
    char *target_version;     /* may be NULL (UpdateFile without a version) */
    char *from_version;
    bool force;               /* write even when the device runs the target already */
    bool forced;              /* the caller asked for it (Update's force), whatever the rule
                               * says: kept in the journal, a resume does not re-check it */
    usec_t started;           /* CLOCK_REALTIME when first queued (kept across resumes) */
    unsigned first_attempt;   /* the number of this run's first attempt (0 counts as 1): a
                               * resumed job goes on counting */

    /* How to enter and what to expect on the port (lib/update's options). */
    stdfu_enter_method enter;     /* zero: auto */
    uint16_t app_vid, app_pid;    /* 0:0 = whatever application is on the port */
    uint16_t dfu_vid, dfu_pid;
    uint8_t alt;
    bool has_target_bcd;
    uint16_t target_bcd;
    unsigned max_attempts;        /* 0: the engine's default */
    unsigned retries;             /* attempts after a failure with the application running */
    usec_t enter_timeout, leave_timeout; /* 0: the engine's default */
    bool differential;            /* erase and write only the pages that differ */

    /* What to write: a rule's image, kept alive by the reference to its manifest, or the
     * caller's (UpdateFile), parsed into own_image from file_data. */
    const stdfu_image *image;
    stdfu_manifest *manifest;
    stdfu_image *own_image;
    uint8_t *file_data;
    size_t file_size;
    bool kept_image;          /* UpdateFile: the image is kept in the state directory */
    char image_address[16];   /* UpdateFile: "0x08000000" given for a raw image, or "" */
    char image_format[8];     /* UpdateFile: its "format" option ("auto", "bin", ...), or "" */
} JobSpec;

void job_spec_done(JobSpec *s);

/* A udev event of the job's port, forwarded by the main loop to the worker. */
typedef enum JobDeviceEventType {
    JOB_DEVICE_ADDED,
    JOB_DEVICE_REMOVED,
} JobDeviceEventType;

typedef struct JobDeviceEvent {
    JobDeviceEventType type;
    uint16_t vid, pid, bcd_device;
    uint8_t busnum, devnum;
    char syspath[256];
} JobDeviceEvent;

/* The result a runner returns: an outcome and, unless done, a sentence; and for the history
 * what the attempt did. */
typedef struct JobResult {
    JobOutcome outcome;
    char error[512];
    JobState phase;           /* the state it ended in (where a failure happened) */
    usec_t started, finished; /* CLOCK_REALTIME */
    uint64_t bytes_written;
    unsigned steps[_STDFU_UPDATE_STEP_MAX]; /* recovery steps taken (lib/update's ladder) */
} JobResult;

/* Runs in the worker thread; returns when the job has an outcome. */
typedef void (*JobRunner)(Job *job, const JobSpec *spec, JobResult *result, void *userdata);

/* Called on the main thread. */
typedef struct JobQueueCallbacks {
    void (*changed)(Job *job, void *userdata);  /* state, progress or attempt changed */
    void (*finished)(Job *job, void *userdata); /* the job has an outcome (job_result()) */
} JobQueueCallbacks;

int job_queue_new(JobQueue **ret, sd_event *event, unsigned parallel, JobRunner runner,
                  void *runner_userdata, const JobQueueCallbacks *cb, void *userdata);
/* Stops every worker (cancel flag, join) without reporting outcomes, frees all jobs. */
JobQueue *job_queue_free(JobQueue *q);
DEFINE_TRIVIAL_CLEANUP_FUNC(JobQueue *, job_queue_free);

void job_queue_set_parallel(JobQueue *q, unsigned parallel);
void job_queue_set_runner(JobQueue *q, JobRunner runner, void *userdata);
unsigned job_queue_running(JobQueue *q);
unsigned job_queue_pending(JobQueue *q);
Job *job_queue_find(JobQueue *q, const char *port);

/* Queues a job for spec->port; takes the spec's contents (zeroes *spec). It starts from the
 * event loop when a slot is free. -EBUSY when the port already has a job. */
int job_queue_add(JobQueue *q, JobSpec *spec, void *userdata, Job **ret);
/* Requests cancellation: a queued job ends at once (cancelled), a running one at its next
 * check. */
int job_cancel(Job *job);
/* Forwards a udev event of the job's port to its worker, if it runs. */
void job_forward_event(Job *job, const JobDeviceEvent *ev);
/* Moves the spec out of a job with an outcome (to run it again later). */
void job_take_spec(Job *job, JobSpec *ret);
/* Frees a job with an outcome (after the finished callback). Running jobs are refused. */
void job_release(Job *job);

/* Main-thread view of a job. */
const char *job_port(Job *job);
JobState job_state(Job *job);
const JobSpec *job_spec(Job *job);
void job_progress(Job *job, uint64_t *done, uint64_t *total);
/* The attempt running: spec->first_attempt (the engine's flash cycles within the attempt are
 * its reflash steps, not attempts: runner.c reports none). */
unsigned job_attempt(Job *job);
const JobResult *job_result(Job *job);
void *job_get_userdata(Job *job);
void job_set_userdata(Job *job, void *userdata);

/* Worker-side API, for the runner. Thread-safe with respect to the main loop. */
void job_report_state(Job *job, JobState state);
void job_report_progress(Job *job, uint64_t done, uint64_t total);
void job_report_attempt(Job *job, unsigned attempt);
bool job_is_cancelled(Job *job);
/* The flag itself, for engines that take an atomic_bool (lib/update). */
const atomic_bool *job_cancel_flag(Job *job);
/* Waits for the next udev event of this port. 1 with *ret filled, 0 on timeout, -ECANCELED
 * when the job is cancelled or the daemon stops. */
int job_wait_event(Job *job, usec_t timeout, JobDeviceEvent *ret);
