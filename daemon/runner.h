/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The job runner of the daemon: runs one update (lib/update's cycle and recovery ladder) in a
 * worker thread. The engine's re-enumeration waits are fed from the udev events the main loop
 * forwards to the job (job_wait_event), never from a second udev monitor; phases (through
 * lifecycle.h's mapping), attempts and progress go back through the job. The JobSpec is
 * self-contained: the worker reads nothing else of the daemon. */

#include "jobs.h"

/* A JobRunner. */
void runner_run(Job *job, const JobSpec *spec, JobResult *result, void *userdata);
