/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The daemon's crash-safe state: one journal record per unfinished job and the history of
 * finished updates, under a state directory (default /var/lib/stdfu):
 *
 *     STATE/lock          flock()ed while a daemon uses the directory
 *     STATE/jobs/PORT     one record per unfinished job, named by its USB port path
 *     STATE/jobs/.PORT.damaged  a record that could not be read, set aside: it still claims
 *                         its port (stdfud was updating that device) until a job of that port
 *                         is over or its application runs (stdfu_state_remove_job())
 *     STATE/images/PORT   the image of an unfinished UpdateFile job: the caller's file is not
 *                         the daemon's to open again after a restart
 *     STATE/history       the last N finished updates, oldest first
 *
 * Every write goes through write_file_atomic() (temporary file, fsync, rename, fsync of the
 * directory): after a crash or power loss a record holds either its old or its new content.
 *
 * Both files are versioned text, "key=value" lines after a header line ("stdfu-job 2",
 * "stdfu-history 2"); history entries are separated by blank lines. Files of version 1 are
 * read as well: job records before retry-wait, failed and next-attempt (their phases are a
 * subset of lifecycle.h's states, which is what "phase=" holds), history entries without
 * phase, bytes and recovery. Values are escaped
 * (backslash, newline, carriage return, tab as \\ \n \r \t) so any error text fits on a line.
 * Records that cannot be read (corrupt, unknown version, not a regular file, too big) are
 * logged and set aside, never fatal, and still name their port (the file name); unknown keys in a record of a known version are ignored, so that a
 * later writer of the same version may add some.
 *
 * A stdfu_state is used by one thread (the daemon's main loop); it keeps no global state. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lifecycle.h"
#include "usb/usb.h"
#include "util/macro.h"

#define STDFU_DEFAULT_HISTORY_SIZE 100u
#define STDFU_MAX_HISTORY_SIZE 100000u

#define STDFU_STATE_NAME_MAX 64    /* rule names (the manifest refuses longer ones) */
#define STDFU_STATE_VERSION_MAX 16 /* "65535.65535" */
#define STDFU_STATE_ERROR_MAX 512
#define STDFU_STATE_RECOVERY_MAX 128

/* An unfinished job. Versions are "MAJOR.MINOR" strings as the manifest writes them; "" when
 * unknown (from_version of a device first met in the bootloader). */
typedef struct stdfu_job_record {
    char port[STDFU_USB_PORT_MAX + 1];
    char rule[STDFU_STATE_NAME_MAX + 1];
    char sha256[65];                 /* lowercase hex of the firmware being written */
    char from_version[STDFU_STATE_VERSION_MAX + 1];
    char target_version[STDFU_STATE_VERSION_MAX + 1];
    JobState phase;                  /* job_state_is_journaled(): where the job is */
    unsigned attempt;                /* 1 for the first attempt */
    char last_error[STDFU_STATE_ERROR_MAX];
    uint64_t started_usec;           /* CLOCK_REALTIME, when the job was queued */
    uint64_t updated_usec;           /* CLOCK_REALTIME, last phase change */
    unsigned kept_image;             /* 1: an UpdateFile job, its image in STATE/images/PORT */
    char image_address[16];          /* UpdateFile: "0x08000000" given for a raw image, or "" */
    char image_format[8];            /* UpdateFile: its "format" option; "" in a record from
                                      * before (its data then read as it was: see rules.h) */
    uint64_t next_attempt_usec;      /* CLOCK_REALTIME of the next attempt (retry-wait), or 0 */
    unsigned forced;                 /* 1: the caller forced the update (not re-checked against
                                      * the rule when it resumes) */
    bool damaged;                    /* loaded: the file could not be read; only port (its file
                                      * name) and last_error (why) are set */
} stdfu_job_record;

/* A finished job, by the attempt that finished it, as GetHistory returns it. */
typedef struct stdfu_history_entry {
    char port[STDFU_USB_PORT_MAX + 1];
    char rule[STDFU_STATE_NAME_MAX + 1];
    char sha256[65];                 /* "" when unknown */
    char from_version[STDFU_STATE_VERSION_MAX + 1];
    char to_version[STDFU_STATE_VERSION_MAX + 1];
    JobOutcome outcome;
    char error[STDFU_STATE_ERROR_MAX]; /* "" when done */
    uint64_t started_usec;           /* CLOCK_REALTIME: the job's start, in version 1 entries;
                                      * the last attempt's since version 2 */
    uint64_t finished_usec;          /* CLOCK_REALTIME */
    unsigned attempts;               /* the number of the last attempt (1 for the first) */
    JobState phase;                  /* where it ended: done, or the state a failure hit */
    uint64_t bytes_written;
    char recovery[STDFU_STATE_RECOVERY_MAX]; /* steps of the ladder, "leave-again=1 ..." */
} stdfu_history_entry;

/* Fills a record's strings from C strings, truncating safely (error texts can be long).
 * NULL leaves the field empty. */
void stdfu_job_record_init(stdfu_job_record *r, const char *port, const char *rule,
                           const char *sha256, const char *from_version,
                           const char *target_version);
void stdfu_job_record_set_error(stdfu_job_record *r, const char *error);
/* The history entry that closes a job record (outcome, error and end time filled in). */
void stdfu_history_entry_from_record(stdfu_history_entry *e, const stdfu_job_record *r,
                                     JobOutcome outcome, const char *error,
                                     uint64_t finished_usec);

typedef struct stdfu_state stdfu_state;

/* Opens (creating it and jobs/ if needed) the state directory: dir NULL means STDFU_STATE_DIR.
 * Takes an exclusive lock on STATE/lock (-EBUSY when another process holds it), loads the
 * history and removes temporary files a crash may have left behind. history_size 0 means
 * the default; the history keeps the last history_size entries. */
int stdfu_state_open(const char *dir, unsigned history_size, stdfu_state **ret);
stdfu_state *stdfu_state_free(stdfu_state *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(stdfu_state *, stdfu_state_free);

const char *stdfu_state_dir(const stdfu_state *s);
/* Changes the bound; the history is trimmed (and rewritten) when it holds more. */
int stdfu_state_set_history_size(stdfu_state *s, unsigned history_size);

/* Every unfinished job record, sorted by port, one per port. One that cannot be read is set
 * aside and comes back damaged, as does one set aside at an earlier start when its port has no
 * record of its own. *ret is malloc'd (NULL when there are none). */
int stdfu_state_load_jobs(stdfu_state *s, stdfu_job_record **ret, size_t *ret_n);
/* Writes (atomically replaces) the record of r->port. Sets r->updated_usec to now, and
 * r->started_usec too when it is 0. -EINVAL for an invalid port, rule or phase. */
int stdfu_state_save_job(stdfu_state *s, stdfu_job_record *r);
/* Removes the record of port, its kept image and a record set aside (damaged) of that port; 0
 * also when there was none. */
int stdfu_state_remove_job(stdfu_state *s, const char *port);

/* Keeps the image of port's UpdateFile job (atomically replaced), before its first record. */
int stdfu_state_save_image(stdfu_state *s, const char *port, const void *data, size_t size);
/* Reads it back: -ENOENT when there is none, -EBADMSG when it does not have the SHA-256 sha256
 * (lowercase hex). *ret is malloc'd. */
int stdfu_state_load_image(stdfu_state *s, const char *port, const char *sha256, uint8_t **ret,
                           size_t *ret_size);

/* Appends e to the history (dropping the oldest past the bound) and rewrites it atomically,
 * then removes the job record of e->port. The history is written first: a crash in between
 * leaves a job that resumes and finds the device current, never a lost entry. */
int stdfu_state_finish_job(stdfu_state *s, const stdfu_history_entry *e);
/* Appends to the history only. */
int stdfu_state_add_history(stdfu_state *s, const stdfu_history_entry *e);

/* The history in memory, oldest first; valid until the next change of the history. */
const stdfu_history_entry *stdfu_state_history(const stdfu_state *s, size_t *ret_n);
