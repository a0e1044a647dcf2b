/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The daemon's job queue with fake runners: parallel limit, one job per port, messages from
 * workers (state, progress, attempt) and to them (forwarded device events), cancel, stop. */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "jobs.h"

typedef struct Fixture {
    sd_event *event;
    JobQueue *queue;
    unsigned finished;
    unsigned want_finished;
    JobOutcome outcomes[16];
    char errors[16][512];
    JobState seen_states[32];
    unsigned n_seen;
    uint64_t last_done, last_total;
    unsigned last_attempt;
    bool forward_on_waiting;
    bool release_on_finish;
} Fixture;

static atomic_int running_now, running_max;

static void on_changed(Job *job, void *userdata) {
    Fixture *f = userdata;
    JobState s = job_state(job);
    if (f->n_seen == 0 || f->seen_states[f->n_seen - 1] != s)
        if (f->n_seen < ELEMENTSOF(f->seen_states))
            f->seen_states[f->n_seen++] = s;
    job_progress(job, &f->last_done, &f->last_total);
    f->last_attempt = job_attempt(job);
    if (f->forward_on_waiting && s == JOB_WAITING) {
        JobDeviceEvent ev = { .type = JOB_DEVICE_ADDED, .vid = 0x0483, .pid = 0x5750, .devnum = 9 };
        snprintf(ev.syspath, sizeof ev.syspath, "/sys/devices/fake/1-1.2");
        job_forward_event(job, &ev);
        f->forward_on_waiting = false;
    }
}

static void on_finished(Job *job, void *userdata) {
    Fixture *f = userdata;
    unsigned i = f->finished++;
    if (i < ELEMENTSOF(f->outcomes)) {
        f->outcomes[i] = job_result(job)->outcome;
        snprintf(f->errors[i], sizeof f->errors[i], "%s", job_result(job)->error);
    }
    if (f->finished >= f->want_finished)
        sd_event_exit(f->event, 0);
    job_release(job);
}

static const JobQueueCallbacks callbacks = { .changed = on_changed, .finished = on_finished };

static int on_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
    (void) s, (void) usec, (void) userdata;
    fail_msg("the event loop did not finish in time");
    return 0;
}

static void run_until_finished(Fixture *f, unsigned n) {
    sd_event_source *timeout = NULL;
    f->want_finished = n;
    assert_int_equal(sd_event_add_time_relative(f->event, &timeout, CLOCK_MONOTONIC,
                                                10 * USEC_PER_SEC, 0, on_timeout, NULL), 0);
    assert_true(sd_event_loop(f->event) >= 0);
    sd_event_source_disable_unref(timeout);
    assert_int_equal(f->finished, n);
}

static int setup(void **state) {
    Fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_int_equal(sd_event_new(&f->event), 0);
    f->want_finished = UINT32_MAX; /* set by run_until_finished() */
    *state = f;
    return 0;
}

static int teardown(void **state) {
    Fixture *f = *state;
    job_queue_free(f->queue);
    sd_event_unref(f->event);
    free(f);
    return 0;
}

static void add_job(Fixture *f, const char *port) {
    JobSpec spec = { .port = strdup(port), .target_version = strdup("1.2") };
    assert_int_equal(job_queue_add(f->queue, &spec, f, NULL), 0);
    assert_null(spec.port); /* taken */
}

/* ---- runners ----------------------------------------------------------------------------- */

static void runner_slow(Job *job, const JobSpec *spec, JobResult *r, void *userdata) {
    (void) spec, (void) userdata;
    int now = atomic_fetch_add(&running_now, 1) + 1;
    int max = atomic_load(&running_max);
    while (now > max && !atomic_compare_exchange_weak(&running_max, &max, now))
        ;
    JobDeviceEvent ev;
    (void) job_wait_event(job, 50 * USEC_PER_MSEC, &ev); /* overlap with the others */
    atomic_fetch_sub(&running_now, 1);
    r->outcome = JOB_OUTCOME_DONE;
}

static void runner_reporting(Job *job, const JobSpec *spec, JobResult *r, void *userdata) {
    (void) userdata;
    job_report_state(job, JOB_ERASING);
    job_report_progress(job, 2048, 4096);
    job_report_state(job, JOB_WRITING);
    job_report_attempt(job, 2);
    job_report_progress(job, 4096, 4096);
    r->outcome = JOB_OUTCOME_FAILED;
    snprintf(r->error, sizeof r->error, "%s: write error at block 3", spec->port);
}

static void runner_waiting(Job *job, const JobSpec *spec, JobResult *r, void *userdata) {
    JobDeviceEvent ev;
    (void) spec, (void) userdata;
    job_report_state(job, JOB_WAITING);
    int k = job_wait_event(job, 5 * USEC_PER_SEC, &ev);
    r->outcome = k == 1 && ev.type == JOB_DEVICE_ADDED ? JOB_OUTCOME_DONE : JOB_OUTCOME_FAILED;
    snprintf(r->error, sizeof r->error, "%d %04x:%04x devnum %u %s", k, ev.vid, ev.pid, ev.devnum,
             ev.syspath);
}

static void runner_until_cancelled(Job *job, const JobSpec *spec, JobResult *r, void *userdata) {
    JobDeviceEvent ev;
    (void) spec, (void) userdata;
    job_report_state(job, JOB_WRITING);
    int k;
    while ((k = job_wait_event(job, USEC_INFINITY, &ev)) >= 0)
        ;
    r->outcome = k == -ECANCELED ? JOB_OUTCOME_CANCELLED : JOB_OUTCOME_FAILED;
}

static void runner_timeout(Job *job, const JobSpec *spec, JobResult *r, void *userdata) {
    JobDeviceEvent ev;
    (void) spec, (void) userdata;
    usec_t start = now_monotonic();
    int k = job_wait_event(job, 30 * USEC_PER_MSEC, &ev);
    r->outcome = k == 0 && now_monotonic() - start >= 30 * USEC_PER_MSEC ? JOB_OUTCOME_DONE : JOB_OUTCOME_FAILED;
}

/* ---- tests ------------------------------------------------------------------------------- */

static void test_parallel_limit(void **state) {
    Fixture *f = *state;
    atomic_store(&running_now, 0);
    atomic_store(&running_max, 0);
    assert_int_equal(job_queue_new(&f->queue, f->event, 2, runner_slow, NULL, &callbacks, f), 0);
    const char *ports[] = { "1-1.1", "1-1.2", "1-1.3", "1-1.4", "1-1.5" };
    for (size_t i = 0; i < ELEMENTSOF(ports); i++)
        add_job(f, ports[i]);
    assert_int_equal(job_queue_pending(f->queue), 5); /* nothing starts before the loop runs */
    run_until_finished(f, 5);
    assert_int_equal(atomic_load(&running_max), 2);
    for (unsigned i = 0; i < 5; i++)
        assert_int_equal(f->outcomes[i], JOB_OUTCOME_DONE);
    assert_int_equal(job_queue_running(f->queue), 0);
}

static void test_one_job_per_port(void **state) {
    Fixture *f = *state;
    assert_int_equal(job_queue_new(&f->queue, f->event, 1, runner_slow, NULL, &callbacks, f), 0);
    add_job(f, "1-1.1");
    JobSpec again = { .port = strdup("1-1.1") };
    assert_int_equal(job_queue_add(f->queue, &again, f, NULL), -EBUSY);
    job_spec_done(&again);
    assert_non_null(job_queue_find(f->queue, "1-1.1"));
    assert_null(job_queue_find(f->queue, "1-1.2"));
    run_until_finished(f, 1);
}

static void test_worker_messages(void **state) {
    Fixture *f = *state;
    assert_int_equal(job_queue_new(&f->queue, f->event, 4, runner_reporting, NULL, &callbacks, f), 0);
    add_job(f, "2-3");
    run_until_finished(f, 1);
    assert_int_equal(f->outcomes[0], JOB_OUTCOME_FAILED);
    assert_string_equal(f->errors[0], "2-3: write error at block 3");
    /* entering (start) -> erasing -> writing, in order */
    assert_true(f->n_seen >= 3);
    assert_int_equal(f->seen_states[0], JOB_ENTERING);
    assert_int_equal(f->seen_states[1], JOB_ERASING);
    assert_int_equal(f->seen_states[2], JOB_WRITING);
    assert_int_equal(f->last_attempt, 2);
    assert_int_equal(f->last_done, 4096);
    assert_int_equal(f->last_total, 4096);
}

static void test_forwarded_event(void **state) {
    Fixture *f = *state;
    f->forward_on_waiting = true;
    assert_int_equal(job_queue_new(&f->queue, f->event, 1, runner_waiting, NULL, &callbacks, f), 0);
    add_job(f, "1-1.2");
    run_until_finished(f, 1);
    assert_int_equal(f->outcomes[0], JOB_OUTCOME_DONE);
    assert_string_equal(f->errors[0], "1 0483:5750 devnum 9 /sys/devices/fake/1-1.2");
}

static void test_wait_timeout(void **state) {
    Fixture *f = *state;
    assert_int_equal(job_queue_new(&f->queue, f->event, 1, runner_timeout, NULL, &callbacks, f), 0);
    add_job(f, "1-4");
    run_until_finished(f, 1);
    assert_int_equal(f->outcomes[0], JOB_OUTCOME_DONE);
}

static int cancel_running(sd_event_source *s, uint64_t usec, void *userdata) {
    Fixture *f = userdata;
    (void) s, (void) usec;
    Job *j = job_queue_find(f->queue, "1-1.1");
    assert_non_null(j);
    assert_int_equal(job_state(j), JOB_WRITING);
    assert_int_equal(job_cancel(j), 0);
    return 0;
}

static void test_cancel(void **state) {
    Fixture *f = *state;
    assert_int_equal(job_queue_new(&f->queue, f->event, 1, runner_until_cancelled, NULL,
                                   &callbacks, f), 0);
    add_job(f, "1-1.1");
    add_job(f, "1-1.2");
    /* The second one waits for the slot: cancelling it ends it at once. */
    assert_int_equal(job_cancel(job_queue_find(f->queue, "1-1.2")), 0);
    assert_int_equal(f->finished, 1);
    assert_int_equal(f->outcomes[0], JOB_OUTCOME_CANCELLED);
    /* The first one runs until it is cancelled from the loop. */
    assert_int_equal(sd_event_add_time_relative(f->event, NULL, CLOCK_MONOTONIC,
                                                100 * USEC_PER_MSEC, 0, cancel_running, f), 0);
    run_until_finished(f, 2);
    assert_int_equal(f->outcomes[1], JOB_OUTCOME_CANCELLED);
}

static int free_queue(sd_event_source *s, uint64_t usec, void *userdata) {
    Fixture *f = userdata;
    (void) s, (void) usec;
    assert_int_equal(job_queue_running(f->queue), 1);
    f->queue = job_queue_free(f->queue);
    return sd_event_exit(f->event, 0);
}

static void test_stop_without_outcome(void **state) {
    Fixture *f = *state;
    assert_int_equal(job_queue_new(&f->queue, f->event, 1, runner_until_cancelled, NULL,
                                   &callbacks, f), 0);
    add_job(f, "1-1.1");
    assert_int_equal(sd_event_add_time_relative(f->event, NULL, CLOCK_MONOTONIC,
                                                50 * USEC_PER_MSEC, 0, free_queue, f), 0);
    assert_true(sd_event_loop(f->event) >= 0);
    /* Stopping the daemon is no outcome: the journal keeps the job for the next start. */
    assert_int_equal(f->finished, 0);
}

static void test_state_names(void **state) {
    (void) state;
    assert_string_equal(job_state_to_string(JOB_NEEDS_POWER_CYCLE), "needs-power-cycle");
    assert_int_equal(job_state_from_string("recovering"), JOB_RECOVERING);
    assert_int_equal(job_state_from_string("bogus"), _JOB_STATE_INVALID);
    assert_true(job_state_is_ended(JOB_CANCELLED));
    assert_false(job_state_is_ended(JOB_WAITING));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_parallel_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_one_job_per_port, setup, teardown),
        cmocka_unit_test_setup_teardown(test_worker_messages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forwarded_event, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wait_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_without_outcome, setup, teardown),
        cmocka_unit_test(test_state_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
