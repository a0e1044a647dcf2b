/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The policy acting on a device's life (daemon/policy.c) with a fake runner in place of the
 * USB engine: the lifecycle transitions a device shows, what the journal and the history keep,
 * a resume after a power cycle and after a restart, and failures that block or keep a job. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "device.h"
#include "policy.h"
#include "state.h"
#include "util/fileio.h"
#include "util/log.h"

#include "helpers/daemon-test.h"

typedef struct fixture {
    char dir[64];
    Daemon *d;
    /* What the fake runner does. */
    JobOutcome outcome;
    char error[64];
    unsigned runs;
    atomic_bool hold;   /* the runner waits while set, after reporting writing */
    bool then_done;     /* attempts after the first end done */
} fixture;


static void fake_runner(Job *job, const JobSpec *spec, JobResult *result, void *userdata) {
    fixture *f = userdata;
    (void) spec;
    f->runs++;
    job_report_state(job, JOB_ERASING);
    job_report_progress(job, 512, 1024);
    job_report_state(job, JOB_WRITING);
    job_report_progress(job, 1024, 1024);
    while (atomic_load(&f->hold))
        usleep(1000);
    result->outcome = f->then_done && f->runs > 1 ? JOB_OUTCOME_DONE : f->outcome;
    snprintf(result->error, sizeof result->error, "%s", f->error);
}

static void start_daemon(fixture *f) {
    char manifest[128], state[128], *text = NULL, **errors = NULL;
    snprintf(manifest, sizeof manifest, "%s/manifest.yaml", f->dir);
    snprintf(state, sizeof state, "%s/state", f->dir);
    DaemonSettings s = {
        .manifest_path = manifest,
        .manifest_dir = (char *) "/nonexistent/stdfu-test/manifest.d",
        .state_dir = state,
    };
    assert_true(asprintf(&text,
                         "settings: {retry-delay: 0.5, retry-delay-max: 0.8}\n"
                         "rules:\n"
                         "  - name: sensor\n"
                         "    port: \"1-*\"\n"
                         "    application: {id: \"0483:5750\"}\n"
                         "    bootloader: {adopt: true}\n"
                         "    firmware: {file: %s, sha256: " SHA_12 ", version: \"1.2\", "
                         "address: 0x08000000}\n", firmware_12()) > 0);
    assert_int_equal(write_file_atomic(manifest, text, strlen(text), 0644), 0);
    free(text);

    assert_int_equal(daemon_new(&f->d, &s), 0);
    assert_int_equal(stdfu_state_open(state, 0, &f->d->state), 0);
    assert_int_equal(stdfu_manifest_load(manifest, s.manifest_dir, &f->d->manifest, &errors), 0);
    job_queue_set_runner(f->d->jobs, fake_runner, f);
}

static void stop_daemon(fixture *f) {
    f->d = daemon_free(f->d);
}

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/stdfu-policy.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    f->outcome = JOB_OUTCOME_DONE;
    start_daemon(f);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    char cmd[128];
    stop_daemon(f);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    int r = system(cmd);
    free(f);
    return r == 0 ? 0 : -1;
}

/* The device appears on port in a mode, as udev tells it: the USB device first, then (for an
 * application) its hidraw node, which ends the settling. */
static Device *plug(fixture *f, const char *port, DeviceMode mode, uint16_t bcd) {
    Device *dev;
    DeviceFacts facts = {
        .mode = mode,
        .vid = 0x0483,
        .pid = mode == DEVICE_BOOTLOADER ? 0xdf11 : 0x5750,
        .bcd_device = bcd,
        .syspath = mode == DEVICE_BOOTLOADER ? "/sys/fake/boot" : "/sys/fake/app",
    };
    assert_int_equal(device_table_ensure(f->d->devices, port, &dev), 0);
    int r = device_set_facts(dev, &facts);
    assert_true(r >= 0);
    policy_device_changed(f->d, dev, r > 0);
    if (mode == DEVICE_APPLICATION) {
        assert_true(device_settling(dev) || device_job(dev) || device_resume(dev));
        device_set_hidraw(dev, "/dev/hidraw9", "/sys/fake/hidraw9");
        policy_device_changed(f->d, dev, false);
        assert_false(device_settling(dev));
    }
    return dev;
}

static void unplug(fixture *f, Device *dev) {
    device_clear_facts(dev);
    policy_device_changed(f->d, dev, true);
}

/* Runs the loop until the device's job is over (at most a few seconds). */
static void run_until_idle(fixture *f, Device *dev) {
    for (int i = 0; i < 500 && (device_job(dev) || sd_event_get_state(f->d->event) < 0); i++)
        assert_true(sd_event_run(f->d->event, 10 * USEC_PER_MSEC) >= 0);
    assert_null(device_job(dev));
    /* Let the coalesced PropertiesChanged go out. */
    while (sd_event_run(f->d->event, 0) > 0)
        ;
}

static size_t n_records(fixture *f, stdfu_job_record *ret) {
    stdfu_job_record *recs = NULL;
    size_t n = 0;
    assert_int_equal(stdfu_state_load_jobs(f->d->state, &recs, &n), 0);
    if (n > 0 && ret)
        *ret = recs[0];
    free(recs);
    return n;
}

static const stdfu_history_entry *last_history(fixture *f, size_t *ret_n) {
    size_t n = 0;
    const stdfu_history_entry *h = stdfu_state_history(f->d->state, &n);
    *ret_n = n;
    return n > 0 ? &h[n - 1] : NULL;
}

static void test_update_to_done(void **state) {
    fixture *f = *state;
    size_t n;

    Device *dev = plug(f, "1-1", DEVICE_APPLICATION, 0x0101);
    /* Decided on the event: queued, the journal has it, the target is shown. */
    assert_non_null(device_job(dev));
    assert_int_equal(device_state(dev), JOB_QUEUED);
    assert_string_equal(device_running_version(dev), "1.1");
    assert_string_equal(device_target_version(dev), "1.2");
    assert_int_equal(device_attempt(dev), 1);
    stdfu_job_record rec;
    assert_int_equal(n_records(f, &rec), 1);
    assert_int_equal(rec.phase, JOB_QUEUED);
    assert_string_equal(rec.rule, "sensor");
    assert_string_equal(rec.from_version, "1.1");

    run_until_idle(f, dev);
    assert_int_equal(f->runs, 1);
    assert_int_equal(device_state(dev), JOB_DONE);
    assert_int_equal(device_progress(dev), 100);
    assert_true(device_last_update(dev) > 0);
    assert_null(device_last_error(dev));
    assert_int_equal(device_next_attempt(dev), 0);
    assert_int_equal(n_records(f, NULL), 0);
    const stdfu_history_entry *e = last_history(f, &n);
    assert_int_equal(n, 1);
    assert_int_equal(e->outcome, JOB_OUTCOME_DONE);
    assert_string_equal(e->port, "1-1");
    assert_string_equal(e->from_version, "1.1");
    assert_string_equal(e->to_version, "1.2");
    assert_int_equal(e->attempts, 1);

    /* Back with the target version: nothing more. */
    unplug(f, dev);
    assert_null(device_table_find(f->d->devices, "1-1")); /* absent, no job: dropped */
    dev = plug(f, "1-1", DEVICE_APPLICATION, 0x0102);
    assert_null(device_job(dev));
    assert_int_equal(device_state(dev), JOB_IDLE);
    assert_int_equal(f->runs, 1);
}

static void test_current_and_foreign_devices(void **state) {
    fixture *f = *state;
    stdfu_error err = {};

    Device *dev = plug(f, "1-2", DEVICE_APPLICATION, 0x0102);
    assert_null(device_job(dev));
    assert_int_equal(device_state(dev), JOB_IDLE);
    assert_int_equal(policy_queue_update(f->d, dev, false, &err), -EALREADY);
    assert_int_equal(policy_queue_update(f->d, dev, true, &err), 0);
    assert_int_equal(device_state(dev), JOB_QUEUED);
    assert_int_equal(policy_queue_update(f->d, dev, true, &err), -EBUSY);
    run_until_idle(f, dev);
    assert_int_equal(device_state(dev), JOB_DONE);

    /* A bootloader on a port the adopting rule does not cover: shown, left alone. */
    Device *other = plug(f, "2-1", DEVICE_BOOTLOADER, 0);
    assert_null(device_job(other));
    assert_int_equal(device_mode(other), DEVICE_BOOTLOADER);
}

/* Runs the loop until the device shows state (at most a few seconds). */
static void run_until_state(fixture *f, Device *dev, JobState state) {
    for (int i = 0; i < 500 && device_state(dev) != state; i++)
        assert_true(sd_event_run(f->d->event, 10 * USEC_PER_MSEC) >= 0);
    assert_int_equal(device_state(dev), state);
}

static void test_failed_with_application_blocks(void **state) {
    fixture *f = *state;
    stdfu_job_record rec;
    size_t n;

    f->outcome = JOB_OUTCOME_FAILED;
    snprintf(f->error, sizeof f->error, "the flash did not take");
    Device *dev = plug(f, "1-3", DEVICE_APPLICATION, 0x0101);
    /* The old application still runs: the rule's 2 retries, each after a wait. */
    run_until_idle(f, dev);
    assert_int_equal(device_state(dev), JOB_RETRY_WAIT);
    assert_int_equal(device_attempt(dev), 1);
    usec_t next = device_next_attempt(dev);
    assert_true(next > now_realtime() - USEC_PER_SEC && next <= now_realtime() + 500000);
    assert_int_equal(n_records(f, &rec), 1);
    assert_int_equal(rec.phase, JOB_RETRY_WAIT);
    assert_int_equal(rec.next_attempt_usec, next);
    /* Issue 10: every ended attempt is in the history, also one whose job goes on. */
    const stdfu_history_entry *e = last_history(f, &n);
    assert_int_equal(n, 1);
    assert_int_equal(e->outcome, JOB_OUTCOME_FAILED);
    assert_int_equal(e->attempts, 1);
    run_until_state(f, dev, JOB_QUEUED);
    run_until_idle(f, dev);
    assert_int_equal(device_state(dev), JOB_RETRY_WAIT);
    assert_int_equal(device_attempt(dev), 2);
    run_until_state(f, dev, JOB_QUEUED);
    run_until_idle(f, dev);
    /* The retries are spent: failed, nothing automatic any more. */
    assert_int_equal(f->runs, 3);
    assert_int_equal(device_state(dev), JOB_FAILED);
    assert_int_equal(device_next_attempt(dev), 0);
    assert_int_equal(device_attempt(dev), 3);
    assert_string_equal(device_last_error(dev), "the flash did not take");
    assert_int_equal(n_records(f, NULL), 0);
    e = last_history(f, &n);
    assert_int_equal(n, 3);
    assert_int_equal(e->outcome, JOB_OUTCOME_FAILED);
    assert_string_equal(e->error, "the flash did not take");
    assert_int_equal(e->phase, JOB_WRITING); /* where it failed */
    assert_int_equal(e->attempts, 3);

    /* Nothing automatic until something changes: looking again does not retry... */
    policy_evaluate_all(f->d, false);
    assert_null(device_job(dev));
    assert_int_equal(f->runs, 3);
    /* ...a changed manifest does. */
    policy_evaluate_all(f->d, true);
    assert_non_null(device_job(dev));
    assert_int_equal(policy_cancel(f->d, dev, &(stdfu_error) {}), 0);
    run_until_idle(f, dev);
    assert_int_equal(device_state(dev), JOB_CANCELLED);
    /* The device appearing again does. */
    f->outcome = JOB_OUTCOME_DONE;
    unplug(f, dev);
    dev = plug(f, "1-3", DEVICE_APPLICATION, 0x0101);
    assert_non_null(device_job(dev));
    run_until_idle(f, dev);
    assert_int_equal(device_state(dev), JOB_DONE);
    assert_null(device_last_error(dev));
}

static void test_power_cycle_resumes(void **state) {
    fixture *f = *state;
    stdfu_job_record rec;
    size_t n;

    f->outcome = JOB_OUTCOME_NEEDS_POWER_CYCLE;
    snprintf(f->error, sizeof f->error, "vanished");
    Device *dev = plug(f, "1-4", DEVICE_APPLICATION, 0x0101);
    unplug(f, dev); /* gone during the update */
    run_until_idle(f, dev);
    assert_int_equal(device_state(dev), JOB_NEEDS_POWER_CYCLE);
    assert_non_null(device_resume(dev));
    assert_int_equal(n_records(f, &rec), 1);
    assert_int_equal(rec.phase, JOB_NEEDS_POWER_CYCLE);
    assert_string_equal(rec.last_error, "vanished");
    assert_int_equal(rec.attempt, 1);
    /* Not finished, but the attempt ended: in the history (issue 10). */
    const stdfu_history_entry *e = last_history(f, &n);
    assert_int_equal(n, 1);
    assert_int_equal(e->outcome, JOB_OUTCOME_NEEDS_POWER_CYCLE);
    assert_string_equal(e->error, "vanished");
    assert_int_equal(e->attempts, 1);

    /* Absent, but kept: its job resumes when it is back, in the bootloader after the cycle. */
    assert_ptr_equal(device_table_find(f->d->devices, "1-4"), dev);
    assert_string_equal(device_rule(dev), "sensor"); /* still its rule's */
    f->outcome = JOB_OUTCOME_DONE;
    plug(f, "1-4", DEVICE_BOOTLOADER, 0);
    assert_non_null(device_job(dev));
    assert_null(device_resume(dev));
    run_until_idle(f, dev);
    assert_int_equal(f->runs, 2);
    assert_int_equal(device_state(dev), JOB_DONE);
    assert_int_equal(n_records(f, NULL), 0);
    /* The next attempt, counted on: the entry that finishes the job says 2. */
    assert_int_equal(device_attempt(dev), 2);
    e = last_history(f, &n);
    assert_int_equal(n, 2);
    assert_int_equal(e->outcome, JOB_OUTCOME_DONE);
    assert_int_equal(e->phase, JOB_DONE);
    assert_int_equal(e->attempts, 2);
}

static void test_failed_outside_application_is_kept(void **state) {
    fixture *f = *state;
    stdfu_job_record rec;

    f->outcome = JOB_OUTCOME_FAILED;
    snprintf(f->error, sizeof f->error, "stuck in the bootloader");
    Device *dev = plug(f, "1-5", DEVICE_APPLICATION, 0x0101);
    plug(f, "1-5", DEVICE_BOOTLOADER, 0); /* entered, then failed there */
    run_until_idle(f, dev);
    /* Issue 10: never given up while outside its application, whatever the rule's retries:
     * retry-wait with the manifest's backoff. */
    assert_int_equal(device_state(dev), JOB_RETRY_WAIT);
    assert_true(device_next_attempt(dev) > 0);
    assert_non_null(device_resume(dev));
    assert_int_equal(n_records(f, &rec), 1);
    assert_int_equal(rec.phase, JOB_RETRY_WAIT);
    assert_true(rec.next_attempt_usec > 0);

    /* Issue 10: Cancel cannot forget the job of a device in its bootloader... */
    stdfu_error err = {};
    assert_int_equal(policy_cancel(f->d, dev, &err), -EBUSY);
    assert_non_null(strstr(err.message, "without a complete application"));
    assert_int_equal(device_state(dev), JOB_RETRY_WAIT);
    assert_int_equal(n_records(f, NULL), 1);
    /* ...but it may once the device is gone (the admin's choice: it may be thrown away):
     * no record, cancelled, no automatic job any more. */
    unplug(f, dev);
    err = (stdfu_error) {};
    assert_int_equal(policy_cancel(f->d, dev, &err), 0);
    assert_int_equal(device_state(dev), JOB_CANCELLED);
    assert_null(device_resume(dev));
    assert_int_equal(n_records(f, NULL), 0);
    assert_int_equal(policy_cancel(f->d, dev, &err), -ENOENT);
}

/* Issue 10: a Cancel that stops the attempt with the device in its bootloader (flash erased or
 * half written) keeps the job: its next attempt finishes the update. */
static void test_cancel_outside_application_keeps_job(void **state) {
    fixture *f = *state;
    stdfu_job_record rec;
    size_t n;

    f->outcome = JOB_OUTCOME_CANCELLED;
    snprintf(f->error, sizeof f->error, "cancelled during write on port 1-8");
    Device *dev = plug(f, "1-8", DEVICE_APPLICATION, 0x0101);
    plug(f, "1-8", DEVICE_BOOTLOADER, 0);
    run_until_idle(f, dev);
    assert_int_equal(device_state(dev), JOB_RETRY_WAIT);
    assert_non_null(device_resume(dev));
    assert_int_equal(n_records(f, &rec), 1);
    assert_int_equal(rec.phase, JOB_RETRY_WAIT);
    const stdfu_history_entry *e = last_history(f, &n);
    assert_int_equal(n, 1);
    assert_int_equal(e->outcome, JOB_OUTCOME_CANCELLED);
}

/* Issue 10: the bootloader went away during the write and is back already when the attempt
 * fails: the re-appearance that would resume the job is past, so the next attempt starts at
 * once rather than after retry-delay (30 s here). */
static void test_back_already_resumes_at_once(void **state) {
    fixture *f = *state;
    char path[128], *text = NULL, **errors = NULL;

    /* An hour between attempts: only "back already" can start the next one in time. */
    snprintf(path, sizeof path, "%s/manifest.yaml", f->dir);
    assert_int_equal(read_full_file(path, 1 << 20, (uint8_t **) &text, &(size_t) {0}), 0);
    char *slow = NULL;
    assert_true(asprintf(&slow, "settings: {retry-delay: 3600}\n%s",
                         strchr(text, '\n') + 1) > 0);
    assert_int_equal(write_file_atomic(path, slow, strlen(slow), 0644), 0);
    free(text);
    free(slow);
    f->d->manifest = stdfu_manifest_unref(f->d->manifest);
    assert_int_equal(stdfu_manifest_load(path, "/nonexistent/stdfu-test/manifest.d",
                                         &f->d->manifest, &errors), 0);

    f->outcome = JOB_OUTCOME_FAILED;
    f->then_done = true;
    snprintf(f->error, sizeof f->error, "device disconnected during DNLOAD");
    atomic_store(&f->hold, true);
    Device *dev = plug(f, "1-9", DEVICE_APPLICATION, 0x0101);
    run_until_state(f, dev, JOB_WRITING);
    unplug(f, dev);
    plug(f, "1-9", DEVICE_BOOTLOADER, 0);
    atomic_store(&f->hold, false);
    run_until_idle(f, dev);
    run_until_state(f, dev, JOB_DONE);
    assert_int_equal(f->runs, 2);
    assert_int_equal(device_attempt(dev), 2);
}

/* Replaces the manifest with one rule (the settings line is kept) and loads it; extra: more
 * keys of the rule, each line "    key: value\n". */
static void reload_rule(fixture *f, const char *port_glob, bool adopt, const char *extra) {
    char path[128], *text = NULL, **errors = NULL;
    snprintf(path, sizeof path, "%s/manifest.yaml", f->dir);
    assert_true(asprintf(&text,
                         "settings: {retry-delay: 0.5, retry-delay-max: 0.8}\n"
                         "rules:\n"
                         "  - name: sensor\n"
                         "    port: \"%s\"\n"
                         "    application: {id: \"0483:5750\"}\n"
                         "    bootloader: {adopt: %s}\n"
                         "    firmware: {file: %s, sha256: " SHA_12 ", version: \"1.2\", "
                         "address: 0x08000000}\n%s", port_glob, adopt ? "true" : "false",
                         firmware_12(), extra) > 0);
    assert_int_equal(write_file_atomic(path, text, strlen(text), 0644), 0);
    free(text);
    f->d->manifest = stdfu_manifest_unref(f->d->manifest);
    assert_int_equal(stdfu_manifest_load(path, "/nonexistent/stdfu-test/manifest.d",
                                         &f->d->manifest, &errors), 0);
}

/* Rule: the rule the device matches, its job's while the job runs (in the bootloader too, and
 * after a reload that renamed it), the manifest's word again once the job is over. */
static void test_rule_shown(void **state) {
    fixture *f = *state;
    char path[128], *text = NULL, **errors = NULL;

    Device *other = plug(f, "2-1", DEVICE_BOOTLOADER, 0);
    assert_null(device_rule(other)); /* no rule adopts it there */
    atomic_store(&f->hold, true);
    Device *dev = plug(f, "1-1", DEVICE_APPLICATION, 0x0101);
    assert_string_equal(device_rule(dev), "sensor");
    run_until_state(f, dev, JOB_WRITING);
    unplug(f, dev);
    assert_string_equal(device_rule(dev), "sensor");
    plug(f, "1-1", DEVICE_BOOTLOADER, 0);
    assert_string_equal(device_rule(dev), "sensor");

    snprintf(path, sizeof path, "%s/manifest.yaml", f->dir);
    assert_true(asprintf(&text,
                         "rules:\n"
                         "  - name: renamed\n"
                         "    port: \"1-*\"\n"
                         "    application: {id: \"0483:5750\"}\n"
                         "    bootloader: {adopt: true}\n"
                         "    firmware: {file: %s, sha256: " SHA_12 ", version: \"1.2\", "
                         "address: 0x08000000}\n", firmware_12()) > 0);
    assert_int_equal(write_file_atomic(path, text, strlen(text), 0644), 0);
    free(text);
    f->d->manifest = stdfu_manifest_unref(f->d->manifest);
    assert_int_equal(stdfu_manifest_load(path, "/nonexistent/stdfu-test/manifest.d",
                                         &f->d->manifest, &errors), 0);
    policy_evaluate_all(f->d, true);
    assert_string_equal(device_rule(dev), "sensor"); /* the job goes on under its rule */
    assert_null(device_rule(other));

    atomic_store(&f->hold, false);
    run_until_idle(f, dev);
    assert_int_equal(device_state(dev), JOB_DONE);
    assert_string_equal(device_rule(dev), "renamed");
}

/* Issue 10: a job record that cannot be read still names its port, and stdfud was updating the
 * device there: its bootloader gets a fresh job from the rule with that bootloader id and port,
 * even one that does not adopt; with no such rule, State no-rule says so until the manifest
 * changes. A restart does not forget the claim (the record set aside keeps it). */
static void test_damaged_record_claims_port(void **state) {
    fixture *f = *state;
    char path[128];

    reload_rule(f, "1-*", false, "");
    snprintf(path, sizeof path, "%s/state/jobs/1-5", f->dir);
    assert_int_equal(write_file_atomic(path, "stdfu-job 2\nport=1-5\nph", 24, 0644), 0);
    snprintf(path, sizeof path, "%s/state/jobs/2-3", f->dir);
    assert_int_equal(write_file_atomic(path, "", 0, 0644), 0);
    assert_int_equal(policy_resume_jobs(f->d), 0);

    /* A bootloader that nothing claims stays alone: the rule does not adopt. */
    Device *other = plug(f, "1-6", DEVICE_BOOTLOADER, 0);
    assert_null(device_job(other));
    assert_int_equal(device_state(other), JOB_IDLE);

    Device *a = plug(f, "1-5", DEVICE_BOOTLOADER, 0);
    assert_non_null(device_job(a));
    run_until_idle(f, a);
    assert_int_equal(device_state(a), JOB_DONE);
    snprintf(path, sizeof path, "%s/state/jobs/.1-5.damaged", f->dir);
    assert_int_equal(access(path, F_OK), -1); /* the job is over: so is the claim */

    Device *b = plug(f, "2-3", DEVICE_BOOTLOADER, 0);
    assert_null(device_job(b));
    assert_int_equal(device_state(b), JOB_NO_RULE);
    assert_non_null(strstr(device_last_error(b), "jobs/2-3 could not be read"));
    assert_non_null(strstr(device_last_error(b), "no rule of the manifest"));

    /* A restart: the claim is still there, and so is the explanation. */
    stop_daemon(f);
    start_daemon(f);
    reload_rule(f, "1-*", false, "");
    assert_int_equal(policy_resume_jobs(f->d), 0);
    b = plug(f, "2-3", DEVICE_BOOTLOADER, 0);
    assert_int_equal(device_state(b), JOB_NO_RULE);
    assert_non_null(strstr(device_last_error(b), "jobs/2-3 could not be read"));

    /* The manifest changes: now a rule has that port, and the device gets its job. */
    reload_rule(f, "*", false, "");
    policy_evaluate_all(f->d, true);
    assert_non_null(device_job(b));
    run_until_idle(f, b);
    assert_int_equal(device_state(b), JOB_DONE);
    assert_int_equal(n_records(f, NULL), 0);
}

/* A kept job is re-checked against the rule in force when it resumes: the manifest changed
 * (a Mender rollback, say) and its rule now refuses the update of a device that runs its
 * application, so the job goes and the device stays as the rule leaves it. */
static void test_kept_job_rechecked_against_rule(void **state) {
    fixture *f = *state;

    /* bcdDevice 0x01ab is no version: only allow-downgrade lets the rule update it. */
    reload_rule(f, "1-*", true, "    allow-downgrade: true\n");
    f->outcome = JOB_OUTCOME_FAILED;
    snprintf(f->error, sizeof f->error, "enter request ignored");
    Device *dev = plug(f, "1-4", DEVICE_APPLICATION, 0x01ab);
    run_until_idle(f, dev);
    assert_int_equal(device_state(dev), JOB_RETRY_WAIT);
    assert_int_equal(n_records(f, NULL), 1);

    reload_rule(f, "1-*", true, "");
    policy_evaluate_all(f->d, true);
    assert_null(device_job(dev));
    assert_null(device_resume(dev));
    assert_int_equal(device_state(dev), JOB_IDLE);
    assert_int_equal(n_records(f, NULL), 0);
    assert_int_equal(f->runs, 1);

    /* A job the caller forced is the caller's decision: it goes on whatever the rule says. */
    stdfu_error err = {};
    assert_int_equal(policy_queue_update(f->d, dev, true, &err), 0);
    run_until_idle(f, dev);
    assert_int_equal(device_state(dev), JOB_RETRY_WAIT);
    stdfu_job_record rec;
    assert_int_equal(n_records(f, &rec), 1);
    assert_int_equal(rec.forced, 1);
    unsigned runs = f->runs;
    f->outcome = JOB_OUTCOME_DONE;
    policy_evaluate_all(f->d, true);
    run_until_idle(f, dev);
    assert_int_equal(f->runs, runs + 1);
    assert_int_equal(device_state(dev), JOB_DONE);
}

static void test_resume_after_restart(void **state) {
    fixture *f = *state;
    stdfu_job_record rec;
    size_t n;

    /* Two unfinished jobs from before: one device comes back updated, one in the bootloader. */
    stdfu_job_record_init(&rec, "1-6", "sensor", SHA_12, "1.0", "1.2");
    rec.phase = JOB_WAITING;
    rec.attempt = 2;
    assert_int_equal(stdfu_state_save_job(f->d->state, &rec), 0);
    stdfu_job_record_init(&rec, "1-7", "sensor", SHA_12, "1.0", "1.2");
    rec.phase = JOB_WRITING;
    rec.attempt = 3;
    assert_int_equal(stdfu_state_save_job(f->d->state, &rec), 0);
    stop_daemon(f);
    start_daemon(f);

    assert_int_equal(policy_resume_jobs(f->d), 0);
    Device *a = device_table_find(f->d->devices, "1-6");
    Device *b = device_table_find(f->d->devices, "1-7");
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(device_state(a), JOB_WAITING);
    assert_int_equal(device_mode(a), DEVICE_ABSENT);
    assert_non_null(device_resume(b));

    plug(f, "1-6", DEVICE_APPLICATION, 0x0102);
    assert_null(device_job(a));
    assert_int_equal(device_state(a), JOB_DONE);
    assert_int_equal(f->runs, 0);
    const stdfu_history_entry *e = last_history(f, &n);
    assert_string_equal(e->port, "1-6");
    assert_int_equal(e->outcome, JOB_OUTCOME_DONE);
    assert_int_equal(e->attempts, 2);

    plug(f, "1-7", DEVICE_BOOTLOADER, 0);
    assert_non_null(device_job(b));
    assert_int_equal(device_attempt(b), 3);
    run_until_idle(f, b);
    assert_int_equal(f->runs, 1);
    assert_int_equal(device_state(b), JOB_DONE);
    assert_int_equal(n_records(f, NULL), 0);
    e = last_history(f, &n);
    assert_string_equal(e->port, "1-7");
    assert_string_equal(e->from_version, "1.0");
    assert_int_equal(e->attempts, 3); /* the attempt the stop cut short, finished */
}

/* A job in retry-wait across a restart: it waits for its time, unless the device re-appears. */
static void test_retry_wait_after_restart(void **state) {
    fixture *f = *state;
    stdfu_job_record rec;

    stdfu_job_record_init(&rec, "1-8", "sensor", SHA_12, "1.1", "1.2");
    rec.phase = JOB_RETRY_WAIT;
    rec.attempt = 1;
    rec.next_attempt_usec = now_realtime() + 3600 * USEC_PER_SEC;
    assert_int_equal(stdfu_state_save_job(f->d->state, &rec), 0);
    stop_daemon(f);
    start_daemon(f);
    assert_int_equal(policy_resume_jobs(f->d), 0);
    Device *dev = device_table_find(f->d->devices, "1-8");
    assert_int_equal(device_state(dev), JOB_RETRY_WAIT);
    assert_int_equal(device_next_attempt(dev), rec.next_attempt_usec);

    /* Present at start, as it was: its time has not come. */
    plug(f, "1-8", DEVICE_APPLICATION, 0x0101);
    assert_null(device_job(dev));
    assert_int_equal(device_state(dev), JOB_RETRY_WAIT);
    assert_non_null(device_resume(dev));
    /* Replugged: at once, as the next attempt. */
    unplug(f, dev);
    assert_ptr_equal(device_table_find(f->d->devices, "1-8"), dev); /* kept */
    plug(f, "1-8", DEVICE_APPLICATION, 0x0101);
    assert_non_null(device_job(dev));
    assert_int_equal(device_attempt(dev), 2);
    assert_int_equal(device_next_attempt(dev), 0);
    run_until_idle(f, dev);
    assert_int_equal(device_state(dev), JOB_DONE);
}

int main(void) {
    log_set_max_level(getenv("STDFU_TEST_DEBUG") ? LOG_DEBUG : LOG_ERR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_update_to_done, setup, teardown),
        cmocka_unit_test_setup_teardown(test_current_and_foreign_devices, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_with_application_blocks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_power_cycle_resumes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_outside_application_is_kept, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_cancel_outside_application_keeps_job, setup, teardown),
        cmocka_unit_test_setup_teardown(test_back_already_resumes_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rule_shown, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damaged_record_claims_port, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kept_job_rechecked_against_rule, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resume_after_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retry_wait_after_restart, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
