/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The job runner of the daemon: runs one update (lib/update's cycle and recovery ladder) in a
 * worker thread, feeding the engine's re-enumeration waits from the events the main loop
 * forwards (job_wait_event) and reporting phases and progress through the job. */

#include "jobs.h"

void runner_run(Job *job, const JobSpec *spec, JobResult *result, void *userdata);
