/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The daemon's policy: what a USB id is (the manifest's rules), which device gets which job,
 * what an outcome means, and the state journal that makes jobs survive a crash. Runs on the
 * main thread only. */

#include "daemon.h"
#include "devices.h"
#include "jobs.h"
#include "rules.h"
#include "util/error.h"

/* The devices' classifier (a DeviceClassifier); userdata is the Daemon. */
DeviceMode policy_classify(uint16_t vid, uint16_t pid, const char *port, void *userdata);

/* Resumes the unfinished jobs of the state journal (at start). */
int policy_resume_jobs(Daemon *d);
/* Looks at every present device without a job (at start, after a reload). */
void policy_evaluate_all(Daemon *d);

/* The job queue's callbacks; userdata is the Daemon. */
extern const JobQueueCallbacks policy_job_callbacks;

/* Update: queues an update of the device by its rule (force: even when current or a
 * downgrade). UpdateFile: from the caller's image (takes req->data).
 * Return 0, or a negative errno with the reason in err. */
int policy_queue_update(Daemon *d, Device *dev, bool force, stdfu_error *err);
int policy_queue_update_file(Daemon *d, Device *dev, FileRequest *req, stdfu_error *err);
int policy_cancel(Daemon *d, Device *dev, stdfu_error *err);
