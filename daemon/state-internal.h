/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The record text format of the state directory, shared by state.c (the directory, the lock,
 * the job files and the history) and state-format.c (writing and parsing the text). */

#include "state.h"

/* The text of r's job file ("stdfu-job 1" and its keys), malloc'd, NUL-terminated. -ENOMEM. */
int state_job_record_format(const stdfu_job_record *r, char **ret, size_t *ret_size);
/* Parses a job file's text of size bytes (NUL-terminated, modified in place). A negative errno
 * with *reason (a phrase for "Ignoring ...: REASON.") when it cannot be used. */
int state_job_record_parse(char *text, size_t size, stdfu_job_record *ret, const char **reason);
/* What a caller must give to save a record: a valid port, a rule, a SHA-256, a known phase. */
bool state_job_record_is_valid(const stdfu_job_record *r);

/* The text of the history file holding entries[0..n), oldest first. -ENOMEM. */
int state_history_format(const stdfu_history_entry *entries, size_t n, char **ret,
                         size_t *ret_size);
typedef void (*state_history_add_fn)(void *userdata, const stdfu_history_entry *e);
/* Parses the history file's text (as state_job_record_parse), calling add for each readable
 * entry in order; entries that cannot be read are logged (naming path) and skipped. A negative
 * errno with *reason when the whole file is unusable (no header, unknown version, NUL bytes). */
int state_history_parse(char *text, size_t size, const char *path, state_history_add_fn add,
                        void *userdata, const char **reason);
bool state_history_entry_is_valid(const stdfu_history_entry *e);
