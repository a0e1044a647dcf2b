/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "runner.h"

#include <stdio.h>

#include "util/macro.h"

/* Until lib/update's cycle is linked in, every job fails with a reason that says so. */
void runner_run(Job *job, const JobSpec *spec, JobResult *result, void *userdata) {
    (void) job, (void) spec, (void) userdata;
    result->outcome = JOB_FAILED;
    snprintf(result->error, sizeof result->error,
             "this build of stdfud has no update engine (lib/update)");
}
