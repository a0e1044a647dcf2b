/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The policy acts on what the manifest decides (rules.h): it queues jobs, forwards udev events
 * to running ones, takes their outcomes, keeps the state journal (state.h) so that jobs
 * survive a crash, and resumes them. Runs on the main thread only. */

#include "daemon.h"
#include "device.h"
#include "jobs.h"
#include "rules.h"
#include "util/error.h"

/* Resumes the unfinished jobs of the state journal (at start, before the first enumeration). */
int policy_resume_jobs(Daemon *d);
/* Looks at every present device without a job: at start, and after a reload that changed the
 * manifest (manifest_changed: failed devices get another try, waiting jobs go on now). */
void policy_evaluate_all(Daemon *d, bool manifest_changed);

/* udev.c: dev's facts (or only its hidraw node, incarnation false) changed. */
void policy_device_changed(Daemon *d, Device *dev, bool incarnation);

/* The job queue's callbacks; userdata is the Daemon. */
extern const JobQueueCallbacks policy_job_callbacks;

/* Update: queues an update of the device by its rule (force: even when current or a
 * downgrade). UpdateFile: from the caller's image (takes req->data).
 * Return 0, or a negative errno with the reason in err. */
int policy_queue_update(Daemon *d, Device *dev, bool force, stdfu_error *err);
int policy_queue_update_file(Daemon *d, Device *dev, FileRequest *req, stdfu_error *err);
int policy_cancel(Daemon *d, Device *dev, stdfu_error *err);
