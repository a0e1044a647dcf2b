/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The job runner of the daemon: runs one update (lib/update's cycle and recovery ladder) in a
 * worker thread. The engine's re-enumeration waits are fed from the udev events the main loop
 * forwards to the job (job_wait_event), never from a second udev monitor; phases, attempts and
 * progress go back through the job.
 *
 * What to run is a RunnerPlan, made on the main thread (rules.c) from a manifest rule or an
 * UpdateFile image. It is self-contained: the worker reads nothing else of the daemon. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "image/image.h"
#include "jobs.h"
#include "update/enter.h"
#include "util/time-util.h"

typedef struct RunnerPlan {
    stdfu_enter_method enter;     /* zero: auto */
    uint16_t app_vid, app_pid;    /* 0:0 = whatever application is on the port */
    uint16_t dfu_vid, dfu_pid;
    uint8_t alt;
    const stdfu_image *image;     /* owned by own_image or kept alive by keepalive */
    stdfu_image *own_image;
    bool has_target_bcd;
    uint16_t target_bcd;
    unsigned max_attempts;        /* 0: the engine's default */
    usec_t enter_timeout, leave_timeout; /* 0: the engine's default */
    void *keepalive;              /* e.g. a manifest reference, released with keepalive_free */
    void (*keepalive_free)(void *p);
} RunnerPlan;

RunnerPlan *runner_plan_new(void);
void runner_plan_free(void *plan);

/* A JobRunner: spec->runner_data is a RunnerPlan. */
void runner_run(Job *job, const JobSpec *spec, JobResult *result, void *userdata);
