/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A job's life, in one vocabulary for the daemon, the journal, D-Bus and the history (see
 * docs/architecture.md for the diagram):
 *
 *   idle -> queued -> entering -> erasing -> writing -> verifying -> leaving -> waiting -> done
 *                        any phase fails -> recovering (the ladder) -> back on track
 *   an attempt that failed, a new one scheduled        -> retry-wait (NextAttempt) -> queued
 *   ended, nothing automatic until something changes   -> failed
 *   vanished, no switchable port                        -> needs-power-cycle (resumes on replug)
 *   cancelled by a caller                               -> cancelled
 *   the image refused before the erase (outcome refused) -> failed (no retry: it would be
 *                                                          refused again; nothing was erased)
 *   its job record lost, in the bootloader, no one rule -> no-rule (resumes on a manifest change)
 *
 * JobState is what Device.State says and what a journal record's "phase=" holds; JobOutcome is
 * how one attempt ended, as UpdateFinished and the history say. Each has one string table,
 * and lib/update's events map onto them here and nowhere else. */

#include <errno.h>
#include <stdbool.h>

#include "update/update.h"
#include "util/time-util.h"

typedef enum JobState {
    JOB_IDLE,
    JOB_QUEUED,
    JOB_ENTERING,
    JOB_ERASING,
    JOB_WRITING,
    JOB_VERIFYING,
    JOB_LEAVING,
    JOB_WAITING,
    JOB_RECOVERING,
    JOB_RETRY_WAIT,
    /* ended: */
    JOB_DONE,
    JOB_FAILED,
    JOB_NEEDS_POWER_CYCLE,
    JOB_CANCELLED,
    /* A port whose job record was damaged (stdfud was updating it) has its bootloader and no
     * manifest rule, or several, matching that bootloader id and port: no job can be made.
     * Nothing automatic until the manifest changes or the device appears again. */
    JOB_NO_RULE,
    _JOB_STATE_MAX,
    _JOB_STATE_INVALID = -EINVAL,
} JobState;

typedef enum JobOutcome {
    JOB_OUTCOME_DONE,
    JOB_OUTCOME_FAILED,
    JOB_OUTCOME_NEEDS_POWER_CYCLE,
    JOB_OUTCOME_CANCELLED,
    JOB_OUTCOME_REFUSED,      /* nothing was erased or written: the pre-erase check refused
                               * the image (it does not fit the layout, a read-only or
                               * protected sector, an alt the device lacks). It would be
                               * refused again: the job ends (state failed), no retry. */
    _JOB_OUTCOME_MAX,
    _JOB_OUTCOME_INVALID = -EINVAL,
} JobOutcome;

const char *job_state_to_string(JobState s);       /* NULL when out of range */
JobState job_state_from_string(const char *s);     /* _JOB_STATE_INVALID when unknown */
const char *job_outcome_to_string(JobOutcome o);
JobOutcome job_outcome_from_string(const char *s);

/* done, failed, needs-power-cycle, cancelled, no-rule: the job is over (or was lost). */
static inline bool job_state_is_ended(JobState s) {
    return s >= JOB_DONE && s < _JOB_STATE_MAX;
}
/* queued .. recovering: a worker has it, or will. */
static inline bool job_state_is_active(JobState s) {
    return s >= JOB_QUEUED && s <= JOB_RECOVERING;
}
/* What a journal record may hold: a job that is not over, or one kept to resume. */
bool job_state_is_journaled(JobState s);

/* The number of the attempt that resumes a job whose journal record says phase and attempt:
 * the next one after an attempt that ended (retry-wait, failed, needs-power-cycle), the same
 * one when the daemon stopped in the middle of it. */
unsigned job_next_attempt(JobState phase, unsigned attempt);

/* After an attempt that failed. With the old application still running: retry-wait while the
 * rule's retries last (attempt counts from 1, so retries 2 allows attempts 1 to 3), then
 * failed. With the device left outside its application (bootloader, dfuERROR, absent):
 * retry-wait, with no limit, since such a device is of no use until it runs one again. */
JobState job_state_after_failure(unsigned attempt, unsigned retries, bool in_application);
/* How long retry-wait lasts after attempt failed: delay, doubled for each attempt after the
 * first, at most delay_max (never below delay). */
usec_t job_retry_delay(unsigned attempt, usec_t delay, usec_t delay_max);

/* The state a device shows after an attempt ended so. */
JobState job_state_of_outcome(JobOutcome o);

/* ---- the one mapping from lib/update's events --------------------------------------------- */

/* The engine's phase as a state: find, enter, open and check are all "entering" (getting to
 * the bootloader). STDFU_UPDATE_PHASE_DONE gives _JOB_STATE_INVALID (the outcome says it). */
JobState job_state_of_update_phase(stdfu_update_phase p);
/* The engine's outcome: a failure of kind IMAGE (the image refused before anything was
 * erased) is refused, any other failure failed. */
JobOutcome job_outcome_of_update(stdfu_update_outcome o, stdfu_update_failure f);

/* The runner's filter of the engine's progress events: the state to report (or
 * _JOB_STATE_INVALID for none) given the last one reported. Byte counts (events without a
 * message) move the state forward through the flash phases only: the engine also counts the
 * leave request's download, which must not look like writing again. */
JobState job_state_next(JobState current, stdfu_update_phase p, bool has_message);
