/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The daemon's view of the manifest (daemon/manifest.h): loading it with "keep the last good
 * one", what a USB id on a port is, which rule a device falls under, its running and target
 * versions, and the JobSpec a job needs. policy.c decides when; this file knows how. */

#include <stdbool.h>
#include <stddef.h>

#include "daemon.h"
#include "devices.h"
#include "jobs.h"
#include "state.h"
#include "util/error.h"

/* Loads manifest file + directory; on success replaces d->manifest, on errors keeps the old
 * one. Either way d->manifest_errors says what is wrong (empty when nothing). */
int rules_load_manifest(Daemon *d);
void rules_free_manifest(Daemon *d);

/* The names of the rules in force, in matching order. */
size_t rules_count(Daemon *d);
const char *rules_name_at(Daemon *d, size_t i);

DeviceMode rules_classify(Daemon *d, uint16_t vid, uint16_t pid, const char *port);

/* Sets dev->rule, dev->running_version (application only) and dev->target_version. */
void rules_update_device(Daemon *d, Device *dev);
/* A rule matches, the running version differs from its target, and it is no downgrade (or
 * downgrades are allowed); or the device sits in the bootloader and its rule adopts it. */
bool rules_wants_update(Daemon *d, Device *dev);

/* A job by the device's rule: -ENOENT when no rule matches, -EALREADY when current (unless
 * force), -EPERM for a downgrade the rule forbids (unless force). */
int rules_make_spec(Daemon *d, Device *dev, bool force, JobSpec *ret, stdfu_error *err);
/* UpdateFile: the caller's image and options. */
typedef struct FileRequest {
    void *data;               /* malloc'd; taken by whoever consumes the request */
    size_t size;
    bool force;
    const char *version;      /* "MAJOR.MINOR" the image carries, NULL if not given */
    bool has_address;         /* for raw binaries */
    uint32_t address;
} FileRequest;

/* A job with the caller's image: parsed here, so a bad image is refused at once (-EINVAL).
 * Takes req->data. */
int rules_make_spec_file(Daemon *d, Device *dev, FileRequest *req, JobSpec *ret,
                         stdfu_error *err);
/* Resuming dev->resume: 1 with a spec, 0 when the device already runs the target (the caller
 * closes the record as done), <0 when it cannot be resumed. An UpdateFile job resumes with the
 * image kept in the state directory, a manifest job with its rule's firmware. */
int rules_make_resume_spec(Daemon *d, Device *dev, JobSpec *ret, stdfu_error *err);
/* Keeps what is needed to resume later: from the journal at start, or from a job that ended
 * as needs-power-cycle. */
void rules_remember_resume(Daemon *d, Device *dev, const stdfu_job_record *rec);
void rules_remember_resume_spec(Daemon *d, Device *dev, const JobSpec *spec);

/* The journal record of spec's job on port (phase, attempt and error left for the caller). */
void rules_record_init(stdfu_job_record *rec, const char *port, const JobSpec *spec);

/* For the journal and history: the rule's name ("file" for UpdateFile) and the image's
 * SHA-256 in lowercase hex. */
const char *rules_name(const JobSpec *spec);
const char *rules_sha256(const JobSpec *spec);
