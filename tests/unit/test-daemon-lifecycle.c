/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A job's life in one vocabulary (daemon/lifecycle.c): the names, which states are ended or
 * kept in the journal, and the one mapping from lib/update's events, driven the way the
 * engine reports a whole update. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "lifecycle.h"
#include "util/macro.h"

static void test_names(void **state) {
    (void) state;
    static const char *const states[] = {
        "idle", "queued", "entering", "erasing", "writing", "verifying", "leaving", "waiting",
        "recovering", "retry-wait", "done", "failed", "needs-power-cycle", "cancelled",
        "no-rule",
    };
    assert_int_equal(ELEMENTSOF(states), _JOB_STATE_MAX);
    for (JobState s = 0; s < _JOB_STATE_MAX; s++) {
        assert_string_equal(job_state_to_string(s), states[s]);
        assert_int_equal(job_state_from_string(states[s]), s);
    }
    static const char *const outcomes[] = {
        "done", "failed", "needs-power-cycle", "cancelled", "refused",
    };
    assert_int_equal(ELEMENTSOF(outcomes), _JOB_OUTCOME_MAX);
    for (JobOutcome o = 0; o < _JOB_OUTCOME_MAX; o++) {
        assert_string_equal(job_outcome_to_string(o), outcomes[o]);
        assert_int_equal(job_outcome_from_string(outcomes[o]), o);
    }
    assert_null(job_state_to_string(_JOB_STATE_MAX));
    assert_null(job_state_to_string(-1));
    assert_int_equal(job_state_from_string("flashing"), _JOB_STATE_INVALID);
    assert_int_equal(job_state_from_string(NULL), _JOB_STATE_INVALID);
    assert_int_equal(job_outcome_from_string("ok"), _JOB_OUTCOME_INVALID);
}

static void test_classes(void **state) {
    (void) state;
    for (JobState s = 0; s < _JOB_STATE_MAX; s++) {
        bool active = s >= JOB_QUEUED && s <= JOB_RECOVERING;
        bool ended = s == JOB_DONE || s == JOB_FAILED || s == JOB_NEEDS_POWER_CYCLE ||
                     s == JOB_CANCELLED || s == JOB_NO_RULE;
        assert_int_equal(job_state_is_active(s), active);
        assert_int_equal(job_state_is_ended(s), ended);
        /* A record is kept for every job that may still go on. */
        assert_int_equal(job_state_is_journaled(s),
                         s != JOB_IDLE && s != JOB_DONE && s != JOB_CANCELLED &&
                             s != JOB_NO_RULE);
    }
    assert_false(job_state_is_active(JOB_RETRY_WAIT));
    assert_false(job_state_is_ended(JOB_RETRY_WAIT));
}

static void test_next_attempt(void **state) {
    (void) state;
    /* After an ended attempt the next one; after a stop in the middle, the same one again. */
    assert_int_equal(job_next_attempt(JOB_NEEDS_POWER_CYCLE, 1), 2);
    assert_int_equal(job_next_attempt(JOB_FAILED, 2), 3);
    assert_int_equal(job_next_attempt(JOB_RETRY_WAIT, 4), 5);
    assert_int_equal(job_next_attempt(JOB_WRITING, 3), 3);
    assert_int_equal(job_next_attempt(JOB_WAITING, 1), 1);
    assert_int_equal(job_next_attempt(JOB_QUEUED, 0), 1);
}

static void test_retries_and_backoff(void **state) {
    (void) state;
    /* retries 2: attempts 1 and 2 wait for another, the third is the last. */
    assert_int_equal(job_state_after_failure(1, 2, true), JOB_RETRY_WAIT);
    assert_int_equal(job_state_after_failure(2, 2, true), JOB_RETRY_WAIT);
    assert_int_equal(job_state_after_failure(3, 2, true), JOB_FAILED);
    assert_int_equal(job_state_after_failure(1, 0, true), JOB_FAILED);
    /* Left outside its application: no limit, whatever the rule's retries. */
    assert_int_equal(job_state_after_failure(1, 0, false), JOB_RETRY_WAIT);
    assert_int_equal(job_state_after_failure(3, 2, false), JOB_RETRY_WAIT);
    assert_int_equal(job_state_after_failure(100000, 0, false), JOB_RETRY_WAIT);
    /* 30 s doubling up to an hour, and there it stays. */
    usec_t d = 30 * USEC_PER_SEC, max = 3600 * USEC_PER_SEC;
    assert_int_equal(job_retry_delay(1, d, max), 30 * USEC_PER_SEC);
    assert_int_equal(job_retry_delay(2, d, max), 60 * USEC_PER_SEC);
    assert_int_equal(job_retry_delay(3, d, max), 120 * USEC_PER_SEC);
    assert_int_equal(job_retry_delay(7, d, max), 1920 * USEC_PER_SEC);
    assert_int_equal(job_retry_delay(8, d, max), max);
    assert_int_equal(job_retry_delay(1000000, d, max), max);
    /* A maximum below the first delay does not shorten it. */
    assert_int_equal(job_retry_delay(5, d, USEC_PER_SEC), d);
}

static void test_outcome_mapping(void **state) {
    (void) state;
    assert_int_equal(job_outcome_of_update(STDFU_UPDATE_DONE, STDFU_UPDATE_FAILURE_NONE),
                     JOB_OUTCOME_DONE);
    assert_int_equal(job_outcome_of_update(STDFU_UPDATE_FAILED, STDFU_UPDATE_FAILURE_TRANSFER),
                     JOB_OUTCOME_FAILED);
    assert_int_equal(job_outcome_of_update(STDFU_UPDATE_FAILED, STDFU_UPDATE_FAILURE_VERIFY),
                     JOB_OUTCOME_FAILED);
    /* The pre-erase check refused the image: nothing was erased, it would be refused again. */
    assert_int_equal(job_outcome_of_update(STDFU_UPDATE_FAILED, STDFU_UPDATE_FAILURE_IMAGE),
                     JOB_OUTCOME_REFUSED);
    assert_int_equal(job_outcome_of_update(STDFU_UPDATE_NEEDS_POWER_CYCLE,
                                           STDFU_UPDATE_FAILURE_NONE),
                     JOB_OUTCOME_NEEDS_POWER_CYCLE);
    assert_int_equal(job_outcome_of_update(STDFU_UPDATE_CANCELLED, STDFU_UPDATE_FAILURE_NONE),
                     JOB_OUTCOME_CANCELLED);

    assert_int_equal(job_state_of_outcome(JOB_OUTCOME_DONE), JOB_DONE);
    assert_int_equal(job_state_of_outcome(JOB_OUTCOME_FAILED), JOB_FAILED);
    assert_int_equal(job_state_of_outcome(JOB_OUTCOME_NEEDS_POWER_CYCLE), JOB_NEEDS_POWER_CYCLE);
    assert_int_equal(job_state_of_outcome(JOB_OUTCOME_CANCELLED), JOB_CANCELLED);
    assert_int_equal(job_state_of_outcome(JOB_OUTCOME_REFUSED), JOB_FAILED);
    for (JobOutcome o = 0; o < _JOB_OUTCOME_MAX; o++)
        assert_true(job_state_is_ended(job_state_of_outcome(o)));
}

static void test_phase_mapping(void **state) {
    (void) state;
    /* Getting to the bootloader is one state, whatever the engine does on the way. */
    assert_int_equal(job_state_of_update_phase(STDFU_UPDATE_PHASE_FIND), JOB_ENTERING);
    assert_int_equal(job_state_of_update_phase(STDFU_UPDATE_PHASE_ENTER), JOB_ENTERING);
    assert_int_equal(job_state_of_update_phase(STDFU_UPDATE_PHASE_OPEN), JOB_ENTERING);
    assert_int_equal(job_state_of_update_phase(STDFU_UPDATE_PHASE_CHECK), JOB_ENTERING);
    assert_int_equal(job_state_of_update_phase(STDFU_UPDATE_PHASE_ERASE), JOB_ERASING);
    assert_int_equal(job_state_of_update_phase(STDFU_UPDATE_PHASE_WRITE), JOB_WRITING);
    assert_int_equal(job_state_of_update_phase(STDFU_UPDATE_PHASE_VERIFY), JOB_VERIFYING);
    assert_int_equal(job_state_of_update_phase(STDFU_UPDATE_PHASE_LEAVE), JOB_LEAVING);
    assert_int_equal(job_state_of_update_phase(STDFU_UPDATE_PHASE_WAIT_APPLICATION),
                     JOB_WAITING);
    assert_int_equal(job_state_of_update_phase(STDFU_UPDATE_PHASE_RECOVER), JOB_RECOVERING);
    assert_int_equal(job_state_of_update_phase(STDFU_UPDATE_PHASE_DONE), _JOB_STATE_INVALID);
}

typedef struct event {
    stdfu_update_phase phase;
    bool message;
} event;

/* Feeds events the way the runner does and returns the states it would report, joined. */
static void run(const event *events, size_t n, char *buf, size_t size) {
    JobState current = JOB_QUEUED;
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        JobState s = job_state_next(current, events[i].phase, events[i].message);
        if (s < 0)
            continue;
        current = s;
        strncat(buf, buf[0] ? " " : "", size - strlen(buf) - 1);
        strncat(buf, job_state_to_string(s), size - strlen(buf) - 1);
    }
}

static void test_transitions_of_one_update(void **state) {
    char states[256];
    (void) state;

    /* A whole update as the engine reports it: messages at phase starts, byte counts during
     * the flash phases and during the leave request's download. */
    static const event update[] = {
        { STDFU_UPDATE_PHASE_FIND, true },   { STDFU_UPDATE_PHASE_ENTER, true },
        { STDFU_UPDATE_PHASE_OPEN, true },   { STDFU_UPDATE_PHASE_CHECK, true },
        { STDFU_UPDATE_PHASE_ERASE, true },  { STDFU_UPDATE_PHASE_ERASE, false },
        { STDFU_UPDATE_PHASE_WRITE, false }, { STDFU_UPDATE_PHASE_WRITE, false },
        { STDFU_UPDATE_PHASE_ERASE, false }, /* a late erase count: never backwards */
        { STDFU_UPDATE_PHASE_VERIFY, false }, { STDFU_UPDATE_PHASE_LEAVE, true },
        { STDFU_UPDATE_PHASE_WRITE, false }, /* the leave request's download */
        { STDFU_UPDATE_PHASE_WAIT_APPLICATION, true }, { STDFU_UPDATE_PHASE_DONE, true },
    };
    run(update, ELEMENTSOF(update), states, sizeof states);
    assert_string_equal(states, "entering erasing writing verifying leaving waiting");

    /* The ladder: recovering, then flashing again from the start of the flash phases. */
    static const event ladder[] = {
        { STDFU_UPDATE_PHASE_ENTER, true },   { STDFU_UPDATE_PHASE_ERASE, true },
        { STDFU_UPDATE_PHASE_WRITE, false },  { STDFU_UPDATE_PHASE_LEAVE, true },
        { STDFU_UPDATE_PHASE_WAIT_APPLICATION, true }, { STDFU_UPDATE_PHASE_RECOVER, true },
        { STDFU_UPDATE_PHASE_ERASE, true },   { STDFU_UPDATE_PHASE_WRITE, false },
        { STDFU_UPDATE_PHASE_VERIFY, false }, { STDFU_UPDATE_PHASE_LEAVE, true },
    };
    run(ladder, ELEMENTSOF(ladder), states, sizeof states);
    assert_string_equal(states, "entering erasing writing leaving waiting recovering erasing "
                                "writing verifying leaving");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_classes),
        cmocka_unit_test(test_outcome_mapping),
        cmocka_unit_test(test_next_attempt),
        cmocka_unit_test(test_retries_and_backoff),
        cmocka_unit_test(test_phase_mapping),
        cmocka_unit_test(test_transitions_of_one_update),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
