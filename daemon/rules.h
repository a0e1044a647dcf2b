/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The manifest decides: what a USB id on a port is, which rule a device falls under, whether it
 * wants an update, and the JobSpec of its job. Pure functions of a `const stdfu_manifest *`
 * (NULL: no rules) and the device's facts; no I/O, no daemon state, no logging, so that
 * tests/unit/test-daemon-rules.c can try each decision. policy.c acts on them, once per event. */

#include <stdbool.h>
#include <stddef.h>

#include "device.h"
#include "jobs.h"
#include "manifest.h"
#include "state.h"
#include "util/error.h"

/* The bootloader for ST's ROM id (always worth showing, adopted or not) or a rule's bootloader
 * id, the application for a rule's application id, DEVICE_ABSENT for "not ours". Port globs
 * apply. */
DeviceMode rules_classify(const stdfu_manifest *m, uint16_t vid, uint16_t pid, const char *port);

/* What the manifest says about a device, decided once per event. */
typedef struct RulesVerdict {
    const stdfu_rule *rule;     /* NULL: no rule (the pointer lives as long as the manifest) */
    bool ambiguous;             /* a bootloader that several adopting (or, claimed, any) rules
                                 * match: none taken */
    bool has_running;           /* the application's version could be read */
    stdfu_version running;
    char running_version[STDFU_VERSION_STRING_MAX]; /* "" when unknown */
    stdfu_update_decision decision; /* an application with a rule */
    bool wants_update;          /* a job should start on its own */
} RulesVerdict;

/* resume_rule: the rule of the device's unfinished job (it wins for a bootloader), or NULL.
 * An application falls under the first rule matching its id, serial and port; a bootloader
 * under its resumed job's rule, else the one adopting rule matching its id and port. It wants
 * an update when its rule says NEEDED, or when it sits in the bootloader with a rule. */
void rules_evaluate(const stdfu_manifest *m, const DeviceFacts *f, const char *resume_rule,
                    RulesVerdict *ret);
/* The same for a port stdfud was updating when its job record was lost (damaged: the rule is
 * unknown): claimed, a bootloader falls under the one rule, adopting or not, whose bootloader
 * id and port glob match (ambiguous when several do). */
void rules_evaluate_claimed(const stdfu_manifest *m, const DeviceFacts *f,
                            const char *resume_rule, bool claimed, RulesVerdict *ret);
/* The name of the rule that governs a device without a job (its Rule property): v's rule; for
 * an absent device, the rule of its unfinished job (resume_rule, a needs-power-cycle or
 * retry-wait device) while the manifest still has one of that name; NULL for none. A device
 * with a job shows the job's rule instead (policy.c). */
const char *rules_governing(const stdfu_manifest *m, const DeviceFacts *f, const RulesVerdict *v,
                            const char *resume_rule);
/* One sentence for logs, e.g. "runs 1.3, newer than the target 1.2, and allow-downgrade is
 * off". Returns buf. */
char *rules_describe(const RulesVerdict *v, char *buf, size_t size);

/* An Update job by v's rule: -ENOENT when there is none, -EALREADY when the device runs the
 * target (unless force), -EPERM for a downgrade or an unreadable version the rule forbids
 * (unless force). The spec holds a reference to m (its image lives there). */
int rules_job_spec(const stdfu_manifest *m, const DeviceFacts *f, const RulesVerdict *v,
                   bool force, JobSpec *ret, stdfu_error *err);

/* UpdateFile: the caller's image and options. */
typedef struct FileRequest {
    void *data;               /* malloc'd; taken by whoever consumes the request */
    size_t size;
    bool force;
    const char *version;      /* "MAJOR.MINOR" the image carries, NULL if not given */
    bool has_address;         /* for raw binaries */
    uint32_t address;
    /* The "format" option. The data has no file name: with AUTO it is never taken as a raw
     * binary (text sent with an address must not be written over the application); only BIN
     * says it is one. */
    stdfu_image_format format;
    bool raw_unnamed;         /* a job recorded before its format was: AUTO as it was then,
                               * unrecognised data raw (it was accepted so) */
} FileRequest;

/* A job with the caller's image, parsed here so that a bad image is refused at once (-EINVAL).
 * The device's rule, when v has one, still says how to enter and which ids to expect.
 * -EALREADY when the version given is the running one (unless force). Takes req->data. */
int rules_job_spec_file(const DeviceFacts *f, const RulesVerdict *v, FileRequest *req,
                        JobSpec *ret, stdfu_error *err);

/* Whether the unfinished job of rec is done already: the device is back in its application
 * running the target (its rule's firmware version; an UpdateFile job's version as given). */
bool rules_resume_is_done(const stdfu_manifest *m, const DeviceFacts *f, const RulesVerdict *v,
                          const stdfu_job_record *rec);
/* Whether the rule in force now refuses the unfinished job of rec (the manifest changed since
 * it was queued): the device runs its application and v's rule refuses a downgrade or an
 * unreadable version. Never for a job the caller forced, an UpdateFile job or a device outside
 * its application (it must get an application again). */
bool rules_resume_refused(const DeviceFacts *f, const RulesVerdict *v,
                          const stdfu_job_record *rec);
/* The job of a journal record, to resume (forced: the job was accepted, only its outcome is
 * open): a manifest job takes its rule's firmware (-ENOENT when the rule is gone), an
 * UpdateFile job (rec->kept_image) the image read back from the state directory, given as
 * image (taken). The spec keeps the record's start time and from-version. */
int rules_resume_spec(const stdfu_manifest *m, const DeviceFacts *f, const RulesVerdict *v,
                      const stdfu_job_record *rec, uint8_t *image, size_t image_size,
                      JobSpec *ret, stdfu_error *err);

/* The journal record of a spec's job (phase queued, attempt 1; the caller sets them). */
void rules_job_record(const JobSpec *spec, stdfu_job_record *ret);
