/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "lifecycle.h"

#include "util/macro.h"
#include "util/string-table.h"

static const char *const job_state_table[_JOB_STATE_MAX] = {
    [JOB_IDLE] = "idle",
    [JOB_QUEUED] = "queued",
    [JOB_ENTERING] = "entering",
    [JOB_ERASING] = "erasing",
    [JOB_WRITING] = "writing",
    [JOB_VERIFYING] = "verifying",
    [JOB_LEAVING] = "leaving",
    [JOB_WAITING] = "waiting",
    [JOB_RECOVERING] = "recovering",
    [JOB_RETRY_WAIT] = "retry-wait",
    [JOB_DONE] = "done",
    [JOB_FAILED] = "failed",
    [JOB_NEEDS_POWER_CYCLE] = "needs-power-cycle",
    [JOB_CANCELLED] = "cancelled",
    [JOB_NO_RULE] = "no-rule",
};

static const char *const job_outcome_table[_JOB_OUTCOME_MAX] = {
    [JOB_OUTCOME_DONE] = "done",
    [JOB_OUTCOME_FAILED] = "failed",
    [JOB_OUTCOME_NEEDS_POWER_CYCLE] = "needs-power-cycle",
    [JOB_OUTCOME_CANCELLED] = "cancelled",
    [JOB_OUTCOME_REFUSED] = "refused",
};

const char *job_state_to_string(JobState s) {
    return TABLE_NAME(job_state_table, s, NULL);
}

JobState job_state_from_string(const char *s) {
    int i = TABLE_INDEX(job_state_table, s);
    return i < 0 ? _JOB_STATE_INVALID : (JobState) i;
}

const char *job_outcome_to_string(JobOutcome o) {
    return TABLE_NAME(job_outcome_table, o, NULL);
}

JobOutcome job_outcome_from_string(const char *s) {
    int i = TABLE_INDEX(job_outcome_table, s);
    return i < 0 ? _JOB_OUTCOME_INVALID : (JobOutcome) i;
}

bool job_state_is_journaled(JobState s) {
    /* A record is removed when its job is done or cancelled; idle and no-rule have no job at
     * all (no-rule: the lost record's file is kept aside, see state.h). A failed
     * job keeps its record only while the device is left outside its application. */
    return s > JOB_IDLE && s < _JOB_STATE_MAX && s != JOB_DONE && s != JOB_CANCELLED &&
           s != JOB_NO_RULE;
}

unsigned job_next_attempt(JobState phase, unsigned attempt) {
    attempt = MAX(attempt, 1u);
    return phase == JOB_RETRY_WAIT || job_state_is_ended(phase) ? attempt + 1 : attempt;
}

JobState job_state_after_failure(unsigned attempt, unsigned retries, bool in_application) {
    if (!in_application)
        return JOB_RETRY_WAIT;
    return MAX(attempt, 1u) <= retries ? JOB_RETRY_WAIT : JOB_FAILED;
}

usec_t job_retry_delay(unsigned attempt, usec_t delay, usec_t delay_max) {
    usec_t d = delay;
    delay_max = MAX(delay_max, delay);
    for (unsigned i = 1; i < attempt && d < delay_max; i++)
        d = d > delay_max / 2 ? delay_max : d * 2;
    return MIN(d, delay_max);
}

JobState job_state_of_outcome(JobOutcome o) {
    switch (o) {
    case JOB_OUTCOME_DONE: return JOB_DONE;
    case JOB_OUTCOME_NEEDS_POWER_CYCLE: return JOB_NEEDS_POWER_CYCLE;
    case JOB_OUTCOME_CANCELLED: return JOB_CANCELLED;
    default: return JOB_FAILED;
    }
}

JobState job_state_of_update_phase(stdfu_update_phase p) {
    switch (p) {
    case STDFU_UPDATE_PHASE_FIND:
    case STDFU_UPDATE_PHASE_ENTER:
    case STDFU_UPDATE_PHASE_OPEN:
    case STDFU_UPDATE_PHASE_CHECK: return JOB_ENTERING;
    case STDFU_UPDATE_PHASE_ERASE: return JOB_ERASING;
    case STDFU_UPDATE_PHASE_WRITE: return JOB_WRITING;
    case STDFU_UPDATE_PHASE_VERIFY: return JOB_VERIFYING;
    case STDFU_UPDATE_PHASE_LEAVE: return JOB_LEAVING;
    case STDFU_UPDATE_PHASE_WAIT_APPLICATION: return JOB_WAITING;
    case STDFU_UPDATE_PHASE_RECOVER: return JOB_RECOVERING;
    default: return _JOB_STATE_INVALID;
    }
}

JobOutcome job_outcome_of_update(stdfu_update_outcome o, stdfu_update_failure f) {
    switch (o) {
    case STDFU_UPDATE_DONE: return JOB_OUTCOME_DONE;
    case STDFU_UPDATE_NEEDS_POWER_CYCLE: return JOB_OUTCOME_NEEDS_POWER_CYCLE;
    case STDFU_UPDATE_CANCELLED: return JOB_OUTCOME_CANCELLED;
    default: return f == STDFU_UPDATE_FAILURE_IMAGE ? JOB_OUTCOME_REFUSED : JOB_OUTCOME_FAILED;
    }
}

JobState job_state_next(JobState current, stdfu_update_phase p, bool has_message) {
    JobState s = job_state_of_update_phase(p);
    if (s < 0 || s == current)
        return _JOB_STATE_INVALID;
    bool flashing = current <= JOB_VERIFYING;
    if (has_message || (flashing && s > current))
        return s;
    return _JOB_STATE_INVALID;
}
