/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "digest.h"
#include "state.h"
#include "util/fileio.h"
#include "util/log.h"

#define SHA_A "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
#define SHA_B "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752"

typedef struct fixture {
    char dir[64];
    char path[256];
} fixture;

static int rm_rf(const char *path) {
    struct stat st;
    if (lstat(path, &st) < 0)
        return 0;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *de;
        char sub[512];
        while (d && (de = readdir(d))) {
            if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                continue;
            snprintf(sub, sizeof sub, "%s/%s", path, de->d_name);
            rm_rf(sub);
        }
        if (d)
            closedir(d);
        return rmdir(path);
    }
    return unlink(path);
}

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    strcpy(f->dir, "/tmp/stdfu-test-state.XXXXXX");
    if (!f || !mkdtemp(f->dir))
        return -1;
    /* Corrupt records are logged as warnings: keep the test output readable. */
    log_set_max_level(LOG_CRIT);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    rm_rf(f->dir);
    free(f);
    return 0;
}

static const char *path_in(fixture *f, const char *rel) {
    snprintf(f->path, sizeof f->path, "%s/%s", f->dir, rel);
    return f->path;
}

static void write_text(fixture *f, const char *rel, const char *text) {
    assert_int_equal(write_file_atomic(path_in(f, rel), text, strlen(text), 0644), 0);
}

static char *read_text(fixture *f, const char *rel) {
    uint8_t *data = NULL;
    size_t size;
    if (read_full_file(path_in(f, rel), 1 << 20, &data, &size) < 0)
        return NULL;
    return (char *) data;
}

static void test_port_names(void **state) {
    (void) state;
    assert_true(stdfu_usb_port_is_valid("1-1"));
    assert_true(stdfu_usb_port_is_valid("1-1.4"));
    assert_true(stdfu_usb_port_is_valid("12-3.4.1.2"));
    assert_false(stdfu_usb_port_is_valid(NULL));
    assert_false(stdfu_usb_port_is_valid(""));
    assert_false(stdfu_usb_port_is_valid("."));
    assert_false(stdfu_usb_port_is_valid(".."));
    assert_false(stdfu_usb_port_is_valid("1"));
    assert_false(stdfu_usb_port_is_valid("1-"));
    assert_false(stdfu_usb_port_is_valid("-1"));
    assert_false(stdfu_usb_port_is_valid("1-1..2"));
    assert_false(stdfu_usb_port_is_valid("1.1-2"));
    assert_false(stdfu_usb_port_is_valid("1-1-2"));
    assert_false(stdfu_usb_port_is_valid("1-1.4/../x"));
    assert_false(stdfu_usb_port_is_valid("1-1.4.tmpAbC123"));
    assert_false(stdfu_usb_port_is_valid("usb1"));
    assert_false(stdfu_usb_port_is_valid("1-1.2.3.4.5.6.7.8.9.10.11.12.13.14"));
}

static void test_phase_and_outcome_names(void **state) {
    (void) state;
    for (int i = 0; i < _JOB_STATE_MAX; i++)
        assert_int_equal(job_state_from_string(job_state_to_string(i)), i);
    assert_string_equal(job_state_to_string(JOB_NEEDS_POWER_CYCLE), "needs-power-cycle");
    assert_int_equal(job_state_from_string("flashing"), _JOB_STATE_INVALID);
    assert_null(job_state_to_string(_JOB_STATE_MAX));
    for (int i = 0; i < _JOB_OUTCOME_MAX; i++)
        assert_int_equal(job_outcome_from_string(job_outcome_to_string(i)), i);
    assert_int_equal(job_outcome_from_string("ok"), _JOB_OUTCOME_INVALID);
}

static void test_job_round_trip(void **state) {
    fixture *f = *state;
    stdfu_state *s = NULL;
    stdfu_job_record r, *jobs = NULL;
    size_t n = 0;

    assert_int_equal(stdfu_state_open(f->dir, 0, &s), 0);
    assert_string_equal(stdfu_state_dir(s), f->dir);

    stdfu_job_record_init(&r, "1-1.4", "sensor", SHA_A, "1.0", "1.2");
    r.phase = JOB_WRITING;
    r.attempt = 2;
    /* Error texts may hold anything: they must come back byte for byte. */
    stdfu_job_record_set_error(&r, "stuck in bootloader\nline two\\ tab\there=x\r");
    assert_int_equal(stdfu_state_save_job(s, &r), 0);
    assert_true(r.started_usec > 0);
    assert_true(r.updated_usec >= r.started_usec);

    stdfu_job_record r2;
    stdfu_job_record_init(&r2, "1-1.2", "other", SHA_B, "", "2.10");
    assert_int_equal(stdfu_state_save_job(s, &r2), 0);

    /* A phase change replaces the record. */
    r.phase = JOB_VERIFYING;
    assert_int_equal(stdfu_state_save_job(s, &r), 0);

    stdfu_state_free(s);
    assert_int_equal(stdfu_state_open(f->dir, 0, &s), 0);
    assert_int_equal(stdfu_state_load_jobs(s, &jobs, &n), 0);
    assert_int_equal(n, 2);
    /* Sorted by port. */
    assert_string_equal(jobs[0].port, "1-1.2");
    assert_string_equal(jobs[0].rule, "other");
    assert_string_equal(jobs[0].from_version, "");
    assert_string_equal(jobs[0].target_version, "2.10");
    assert_int_equal(jobs[0].phase, JOB_QUEUED);
    assert_int_equal(jobs[0].attempt, 1);
    assert_string_equal(jobs[1].port, "1-1.4");
    assert_string_equal(jobs[1].rule, "sensor");
    assert_string_equal(jobs[1].sha256, SHA_A);
    assert_string_equal(jobs[1].from_version, "1.0");
    assert_string_equal(jobs[1].target_version, "1.2");
    assert_int_equal(jobs[1].phase, JOB_VERIFYING);
    assert_int_equal(jobs[1].attempt, 2);
    assert_string_equal(jobs[1].last_error, "stuck in bootloader\nline two\\ tab\there=x\r");
    assert_int_equal(jobs[1].started_usec, r.started_usec);
    assert_int_equal(jobs[1].updated_usec, r.updated_usec);
    free(jobs);

    /* The record is plain, versioned text. */
    char *text = read_text(f, "jobs/1-1.4");
    assert_non_null(text);
    assert_memory_equal(text, "stdfu-job 2\n", 12);
    assert_non_null(strstr(text, "\nphase=verifying\n"));
    assert_non_null(
        strstr(text, "\nlast-error=stuck in bootloader\\nline two\\\\ tab\\there=x\\r\n"));
    free(text);

    /* Removing: the record is gone, removing again is fine. */
    assert_int_equal(stdfu_state_remove_job(s, "1-1.2"), 0);
    assert_int_equal(stdfu_state_remove_job(s, "1-1.2"), 0);
    assert_int_equal(stdfu_state_load_jobs(s, &jobs, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(jobs[0].port, "1-1.4");
    free(jobs);
    stdfu_state_free(s);
}

static void test_bad_records_refused_on_save(void **state) {
    fixture *f = *state;
    stdfu_state *s = NULL;
    stdfu_job_record r;

    assert_int_equal(stdfu_state_open(f->dir, 0, &s), 0);
    stdfu_job_record_init(&r, "../etc", "x", SHA_A, "1.0", "1.1");
    assert_int_equal(stdfu_state_save_job(s, &r), -EINVAL);
    stdfu_job_record_init(&r, "1-1", "", SHA_A, "1.0", "1.1");
    assert_int_equal(stdfu_state_save_job(s, &r), -EINVAL);
    stdfu_job_record_init(&r, "1-1", "x", "1234", "1.0", "1.1");
    assert_int_equal(stdfu_state_save_job(s, &r), -EINVAL);
    stdfu_job_record_init(&r, "1-1", "x", SHA_A, "1.0", "1.1");
    r.phase = _JOB_STATE_MAX;
    assert_int_equal(stdfu_state_save_job(s, &r), -EINVAL);
    assert_int_equal(stdfu_state_remove_job(s, "a/b"), -EINVAL);
    assert_null(read_text(f, "jobs/1-1"));
    stdfu_state_free(s);
}

/* A crash during write_file_atomic() leaves "NAME.tmpXXXXXX" behind, holding any prefix of
 * the new record. It is never read as a record; the old record stays in force. */
static void test_leftover_temporary_file(void **state) {
    fixture *f = *state;
    stdfu_state *s = NULL;
    stdfu_job_record r, *jobs = NULL;
    size_t n;

    assert_int_equal(stdfu_state_open(f->dir, 0, &s), 0);
    stdfu_job_record_init(&r, "2-1", "sensor", SHA_A, "1.0", "1.2");
    r.phase = JOB_ERASING;
    assert_int_equal(stdfu_state_save_job(s, &r), 0);
    stdfu_state_free(s);

    write_text(f, "jobs/2-1.tmpAb12Cd", "stdfu-job 1\nport=2-1\nrule=sensor\nphase=wri");
    write_text(f, "jobs/3-1.tmpXyZ987", "stdfu-job 1\nport=3-1\n");
    write_text(f, "history.tmpQwErTy", "stdfu-history 1\n\nport=");

    assert_int_equal(stdfu_state_open(f->dir, 0, &s), 0);
    assert_int_equal(stdfu_state_load_jobs(s, &jobs, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(jobs[0].port, "2-1");
    assert_int_equal(jobs[0].phase, JOB_ERASING);
    free(jobs);
    /* Opening cleans them up. */
    assert_null(read_text(f, "jobs/2-1.tmpAb12Cd"));
    assert_null(read_text(f, "jobs/3-1.tmpXyZ987"));
    assert_null(read_text(f, "history.tmpQwErTy"));
    stdfu_state_free(s);
}

static void test_corrupt_records_skipped(void **state) {
    fixture *f = *state;
    stdfu_state *s = NULL;
    stdfu_job_record r, *jobs = NULL;
    size_t n;
    static const char good_tail[] =
        "rule=sensor\nsha256=" SHA_A "\ntarget-version=1.2\nphase=writing\nattempt=1\n";
    char buf[1024];

    assert_int_equal(stdfu_state_open(f->dir, 0, &s), 0);
    stdfu_job_record_init(&r, "1-2", "sensor", SHA_A, "1.0", "1.2");
    assert_int_equal(stdfu_state_save_job(s, &r), 0);

    /* Good records written by hand, with unknown keys (ignored) and no optional ones. */
    snprintf(buf, sizeof buf, "stdfu-job 1\nport=1-3\n%sfuture-key=whatever\n", good_tail);
    write_text(f, "jobs/1-3", buf);

    write_text(f, "jobs/1-4", "");                                   /* empty */
    write_text(f, "jobs/1-5", "stdfu-job 2\nport=1-5\n");            /* unknown version */
    snprintf(buf, sizeof buf, "stdfu-job 1\nport=1-6\n%s", good_tail); /* wrong port */
    write_text(f, "jobs/1-7", buf);
    write_text(f, "jobs/1-8", "stdfu-job 1\nport=1-8\nrule=sensor\n"); /* missing keys */
    snprintf(buf, sizeof buf, "stdfu-job 1\nport=1-9\n%s", good_tail);
    *strstr(buf, "writing") = 'W';                                    /* unknown phase */
    write_text(f, "jobs/1-9", buf);
    snprintf(buf, sizeof buf, "stdfu-job 1\nport=1-10\n%sattempt=2\n", good_tail); /* twice */
    write_text(f, "jobs/1-10", buf);
    snprintf(buf, sizeof buf, "stdfu-job 1\nport=1-11\n%slast-error=a\\qb\n", good_tail);
    write_text(f, "jobs/1-11", buf);                                 /* bad escape */
    snprintf(buf, sizeof buf, "stdfu-job 1\nport=1-12\n%sgarbage\n", good_tail);
    write_text(f, "jobs/1-12", buf);                                 /* no '=' */
    write_text(f, "jobs/1-13", "\x7f" "ELF\x01\x01\x01\0\0\0");        /* binary */
    snprintf(buf, sizeof buf, "stdfu-job 1\nport=1-14\n%s\nport=1-14\n", good_tail);
    write_text(f, "jobs/1-14", buf);                                 /* two blocks */
    snprintf(buf, sizeof buf, "stdfu-job 1\nport=1-15\n%sattempt=x\n", good_tail);
    write_text(f, "jobs/1-15", buf);
    write_text(f, "jobs/not-a-port", "stdfu-job 1\n");
    assert_int_equal(mkdir(path_in(f, "jobs/1-16"), 0755), 0);       /* a directory */
    assert_int_equal(symlink("1-3", path_in(f, "jobs/1-17")), 0);    /* a symlink */
    assert_int_equal(mkfifo(path_in(f, "jobs/1-18"), 0644), 0);      /* a FIFO: never blocks */
    char *big = malloc(70 * 1024);                                   /* over 64 KiB */
    assert_non_null(big);
    snprintf(big, 70 * 1024, "stdfu-job 1\nport=1-19\n%s", good_tail);
    memset(big + strlen(big), '#', 70 * 1024 - strlen(big) - 1);
    big[70 * 1024 - 1] = '\0';
    write_text(f, "jobs/1-19", big);
    free(big);

    /* Issue 10: a record that cannot be read still names its port (its file name), so that
     * its device gets a fresh job; it says why and is set aside. */
    static const char *const damaged[] = {"1-4", "1-5", "1-7", "1-8", "1-9", "1-10", "1-11",
                                          "1-12", "1-13", "1-14", "1-15", "1-16", "1-17",
                                          "1-18", "1-19"};
    assert_int_equal(stdfu_state_load_jobs(s, &jobs, &n), 0);
    assert_int_equal(n, 2 + ELEMENTSOF(damaged));
    for (size_t i = 0; i < n; i++) {
        bool bad = false;
        for (size_t k = 0; k < ELEMENTSOF(damaged); k++)
            bad = bad || streq(jobs[i].port, damaged[k]);
        assert_int_equal(jobs[i].damaged, bad);
        if (bad) {
            char aside[64];
            assert_non_null(strstr(jobs[i].last_error, "could not be read"));
            snprintf(aside, sizeof aside, "jobs/.%s.damaged", jobs[i].port);
            assert_int_equal(access(path_in(f, aside), F_OK), 0);
        } else if (streq(jobs[i].port, "1-3")) {
            assert_string_equal(jobs[i].rule, "sensor");
            assert_int_equal(jobs[i].phase, JOB_WRITING);
            assert_string_equal(jobs[i].from_version, "");
            assert_int_equal(jobs[i].started_usec, 0);
        } else
            assert_string_equal(jobs[i].port, "1-2");
    }
    free(jobs);
    /* Set aside, they still claim their ports at the next start (a restart must not forget a
     * device left in its bootloader), and a new record of that port can be written. */
    assert_int_equal(stdfu_state_load_jobs(s, &jobs, &n), 0);
    assert_int_equal(n, 2 + ELEMENTSOF(damaged));
    for (size_t i = 0; i < n; i++)
        if (jobs[i].damaged)
            assert_non_null(strstr(jobs[i].last_error, "at an earlier start"));
    free(jobs);
    stdfu_job_record_init(&r, "1-16", "sensor", SHA_A, "1.0", "1.2");
    assert_int_equal(stdfu_state_save_job(s, &r), 0);
    /* The port's own record wins over the one set aside... */
    assert_int_equal(stdfu_state_load_jobs(s, &jobs, &n), 0);
    assert_int_equal(n, 2 + ELEMENTSOF(damaged));
    for (size_t i = 0; i < n; i++)
        if (streq(jobs[i].port, "1-16"))
            assert_false(jobs[i].damaged);
    free(jobs);
    /* ...and when its job is over, both go (the aside was a directory: removed too). */
    assert_int_equal(stdfu_state_remove_job(s, "1-16"), 0);
    assert_int_equal(stdfu_state_remove_job(s, "1-4"), 0);
    assert_int_equal(access(path_in(f, "jobs/.1-16.damaged"), F_OK), -1);
    assert_int_equal(access(path_in(f, "jobs/.1-4.damaged"), F_OK), -1);
    assert_int_equal(stdfu_state_load_jobs(s, &jobs, &n), 0);
    assert_int_equal(n, ELEMENTSOF(damaged));
    free(jobs);
    stdfu_state_free(s);
}

static void make_entry(stdfu_history_entry *e, unsigned i) {
    stdfu_job_record r;
    char port[16], err[32];
    snprintf(port, sizeof port, "1-%u", i);
    snprintf(err, sizeof err, "error %u", i);
    stdfu_job_record_init(&r, port, "sensor", SHA_A, "1.0", "1.2");
    r.started_usec = 1000 + i;
    r.attempt = i % 3 + 1;
    stdfu_history_entry_from_record(e, &r, i % 2 ? JOB_OUTCOME_FAILED : JOB_OUTCOME_DONE,
                                    i % 2 ? err : NULL, 2000 + i);
}

static void test_history_bounded(void **state) {
    fixture *f = *state;
    stdfu_state *s = NULL;
    const stdfu_history_entry *h;
    stdfu_history_entry e;
    size_t n;

    assert_int_equal(stdfu_state_open(f->dir, 5, &s), 0);
    h = stdfu_state_history(s, &n);
    assert_int_equal(n, 0);
    for (unsigned i = 1; i <= 12; i++) {
        make_entry(&e, i);
        assert_int_equal(stdfu_state_add_history(s, &e), 0);
    }
    h = stdfu_state_history(s, &n);
    assert_int_equal(n, 5);
    assert_string_equal(h[0].port, "1-8");
    assert_string_equal(h[4].port, "1-12");
    stdfu_state_free(s);

    /* Read back from disk, with all fields. */
    assert_int_equal(stdfu_state_open(f->dir, 5, &s), 0);
    h = stdfu_state_history(s, &n);
    assert_int_equal(n, 5);
    for (unsigned i = 0; i < 5; i++) {
        make_entry(&e, 8 + i);
        assert_string_equal(h[i].port, e.port);
        assert_string_equal(h[i].rule, "sensor");
        assert_string_equal(h[i].sha256, SHA_A);
        assert_string_equal(h[i].from_version, "1.0");
        assert_string_equal(h[i].to_version, "1.2");
        assert_int_equal(h[i].outcome, e.outcome);
        assert_string_equal(h[i].error, e.error);
        assert_int_equal(h[i].started_usec, e.started_usec);
        assert_int_equal(h[i].finished_usec, e.finished_usec);
        assert_int_equal(h[i].attempts, e.attempts);
    }
    /* Shrinking the bound trims and rewrites. */
    assert_int_equal(stdfu_state_set_history_size(s, 2), 0);
    h = stdfu_state_history(s, &n);
    assert_int_equal(n, 2);
    assert_string_equal(h[0].port, "1-11");
    stdfu_state_free(s);

    /* A larger bound keeps what is there, and the file holds only 2. */
    assert_int_equal(stdfu_state_open(f->dir, 100, &s), 0);
    h = stdfu_state_history(s, &n);
    assert_int_equal(n, 2);
    assert_string_equal(h[1].port, "1-12");
    /* A file longer than the bound (written by a daemon with a larger one) is cut on load. */
    for (unsigned i = 20; i < 30; i++) {
        make_entry(&e, i);
        assert_int_equal(stdfu_state_add_history(s, &e), 0);
    }
    stdfu_state_free(s);
    assert_int_equal(stdfu_state_open(f->dir, 3, &s), 0);
    h = stdfu_state_history(s, &n);
    assert_int_equal(n, 3);
    assert_string_equal(h[0].port, "1-27");
    assert_string_equal(h[2].port, "1-29");
    assert_int_equal(stdfu_state_set_history_size(s, STDFU_MAX_HISTORY_SIZE + 1), -ERANGE);
    stdfu_state_free(s);
}

static void test_history_corrupt_entries(void **state) {
    fixture *f = *state;
    stdfu_state *s = NULL;
    const stdfu_history_entry *h;
    size_t n;

    write_text(f, "history",
               "stdfu-history 1\n"
               "\n"
               "port=1-1\noutcome=done\nfinished=5\nattempts=1\n"
               "\n"
               "port=1-2\noutcome=exploded\nfinished=6\n" /* unknown outcome */
               "\n"
               "port=1-3\nfinished=7\n"                     /* no outcome */
               "\n"
               "port=1-4\noutcome=failed\nerror=a\\nb\nfinished=8\n"
               "\n"
               "port=..\noutcome=failed\nfinished=9\n"      /* bad port */
               "\n\n\n"
               "port=1-5\noutcome=cancelled\nfinished=10");  /* no final newline */
    assert_int_equal(stdfu_state_open(f->dir, 0, &s), 0);
    h = stdfu_state_history(s, &n);
    assert_int_equal(n, 3);
    assert_string_equal(h[0].port, "1-1");
    assert_int_equal(h[0].outcome, JOB_OUTCOME_DONE);
    assert_string_equal(h[1].port, "1-4");
    assert_string_equal(h[1].error, "a\nb");
    assert_int_equal(h[1].finished_usec, 8);
    assert_string_equal(h[2].port, "1-5");
    assert_int_equal(h[2].outcome, JOB_OUTCOME_CANCELLED);
    /* Version 1 has no phase: the outcome says where it ended. */
    assert_int_equal(h[0].phase, JOB_DONE);
    assert_int_equal(h[1].phase, JOB_FAILED);
    assert_int_equal(h[0].bytes_written, 0);
    assert_string_equal(h[0].recovery, "");
    stdfu_state_free(s);

    /* An unknown format version is left alone until the next write. */
    write_text(f, "history", "stdfu-history 7\n\nport=1-1\noutcome=done\nfinished=5\n");
    assert_int_equal(stdfu_state_open(f->dir, 0, &s), 0);
    stdfu_state_history(s, &n);
    assert_int_equal(n, 0);
    stdfu_state_free(s);
    write_text(f, "history", "garbage");
    assert_int_equal(stdfu_state_open(f->dir, 0, &s), 0);
    stdfu_state_history(s, &n);
    assert_int_equal(n, 0);
    stdfu_state_free(s);
}

static void test_finish_job(void **state) {
    fixture *f = *state;
    stdfu_state *s = NULL;
    stdfu_job_record r, *jobs = NULL;
    stdfu_history_entry e;
    const stdfu_history_entry *h;
    size_t n;

    assert_int_equal(stdfu_state_open(f->dir, 0, &s), 0);
    stdfu_job_record_init(&r, "1-1.3", "sensor", SHA_B, "1.1", "1.2");
    r.attempt = 3;
    assert_int_equal(stdfu_state_save_job(s, &r), 0);
    stdfu_history_entry_from_record(&e, &r, JOB_OUTCOME_DONE, NULL, r.updated_usec + 5);
    assert_int_equal(stdfu_state_finish_job(s, &e), 0);
    assert_int_equal(stdfu_state_load_jobs(s, &jobs, &n), 0);
    assert_int_equal(n, 0);
    assert_null(jobs);
    h = stdfu_state_history(s, &n);
    assert_int_equal(n, 1);
    assert_string_equal(h[0].port, "1-1.3");
    assert_string_equal(h[0].from_version, "1.1");
    assert_string_equal(h[0].to_version, "1.2");
    assert_int_equal(h[0].attempts, 3);
    assert_int_equal(h[0].started_usec, r.started_usec);
    assert_string_equal(h[0].error, "");

    e.outcome = _JOB_OUTCOME_MAX;
    assert_int_equal(stdfu_state_add_history(s, &e), -EINVAL);
    stdfu_state_free(s);
}

/* An UpdateFile job's image is kept with its record, read back only with its SHA-256, removed
 * with the record, and dropped at the next start when its record is gone. */
static void test_kept_image(void **state) {
    fixture *f = *state;
    stdfu_state *s = NULL;
    stdfu_job_record r, *jobs = NULL;
    static const char image[] = "not really firmware";
    uint8_t *data = NULL;
    char sha[65];
    size_t n, size = 0;

    stdfu_sha256_hex(image, sizeof image, sha);
    assert_int_equal(stdfu_state_open(f->dir, 0, &s), 0);
    assert_int_equal(stdfu_state_save_image(s, "1-1.2", image, sizeof image), 0);
    stdfu_job_record_init(&r, "1-1.2", "file", sha, "1.0", "1.5");
    r.attempt = 1;
    r.kept_image = 1;
    strcpy(r.image_address, "0x08000000");
    strcpy(r.image_format, "bin");
    assert_int_equal(stdfu_state_save_job(s, &r), 0);

    assert_int_equal(stdfu_state_load_jobs(s, &jobs, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(jobs[0].kept_image, 1);
    assert_string_equal(jobs[0].image_address, "0x08000000");
    assert_string_equal(jobs[0].image_format, "bin");
    free(jobs);
    assert_int_equal(stdfu_state_load_image(s, "1-1.2", sha, &data, &size), 0);
    assert_int_equal(size, sizeof image);
    assert_memory_equal(data, image, sizeof image);
    free(data);
    assert_int_equal(stdfu_state_load_image(s, "1-1.2", SHA_B, &data, &size), -EBADMSG);
    assert_int_equal(stdfu_state_load_image(s, "1-1.3", sha, &data, &size), -ENOENT);
    assert_int_equal(stdfu_state_save_image(s, "../1-1.2", image, sizeof image), -EINVAL);

    assert_int_equal(stdfu_state_remove_job(s, "1-1.2"), 0);
    assert_int_equal(access(path_in(f, "images/1-1.2"), F_OK), -1);

    assert_int_equal(stdfu_state_save_image(s, "1-1.4", image, sizeof image), 0);
    stdfu_state_free(s);
    assert_int_equal(stdfu_state_open(f->dir, 0, &s), 0);
    assert_int_equal(access(path_in(f, "images/1-1.4"), F_OK), -1);
    stdfu_state_free(s);
}

/* Version 2 entries: where the attempt ended, what it wrote and the ladder's steps; they
 * survive a restart. */
static void test_history_attempts(void **state) {
    fixture *f = *state;
    stdfu_state *s = NULL;
    stdfu_job_record r;
    stdfu_history_entry e;
    const stdfu_history_entry *h;
    size_t n;

    assert_int_equal(stdfu_state_open(f->dir, 0, &s), 0);
    stdfu_job_record_init(&r, "1-1.4", "sensor", SHA_A, "1.0", "1.2");
    r.attempt = 1;
    stdfu_history_entry_from_record(&e, &r, JOB_OUTCOME_NEEDS_POWER_CYCLE, "vanished", 2000);
    assert_int_equal(e.phase, JOB_NEEDS_POWER_CYCLE);
    e.phase = JOB_WAITING;
    e.started_usec = 1000;
    e.bytes_written = 65536;
    snprintf(e.recovery, sizeof e.recovery, "grace=1 power-cycle=1");
    assert_int_equal(stdfu_state_add_history(s, &e), 0);
    r.attempt = 2;
    stdfu_history_entry_from_record(&e, &r, JOB_OUTCOME_DONE, NULL, 5000);
    e.started_usec = 3000;
    assert_int_equal(stdfu_state_finish_job(s, &e), 0);
    stdfu_state_free(s);

    char *text = read_text(f, "history");
    assert_non_null(text);
    assert_memory_equal(text, "stdfu-history 2\n", 16);
    assert_non_null(strstr(text, "\nphase=waiting\nbytes=65536\nrecovery=grace=1 power-cycle=1\n"));
    free(text);

    assert_int_equal(stdfu_state_open(f->dir, 0, &s), 0);
    h = stdfu_state_history(s, &n);
    assert_int_equal(n, 2);
    assert_int_equal(h[0].outcome, JOB_OUTCOME_NEEDS_POWER_CYCLE);
    assert_int_equal(h[0].phase, JOB_WAITING);
    assert_int_equal(h[0].attempts, 1);
    assert_int_equal(h[0].started_usec, 1000);
    assert_int_equal(h[0].finished_usec, 2000);
    assert_int_equal(h[0].bytes_written, 65536);
    assert_string_equal(h[0].recovery, "grace=1 power-cycle=1");
    assert_string_equal(h[0].error, "vanished");
    assert_int_equal(h[1].outcome, JOB_OUTCOME_DONE);
    assert_int_equal(h[1].phase, JOB_DONE);
    assert_int_equal(h[1].attempts, 2);
    stdfu_state_free(s);
}

/* Records written by the previous format (version 1, before retry-wait, failed and
 * next-attempt) are read as they were meant: their phases are states of today's vocabulary. */
static void test_reads_version_1_records(void **state) {
    fixture *f = *state;
    stdfu_state *s = NULL;
    stdfu_job_record *jobs = NULL;
    size_t n = 0;

    assert_int_equal(stdfu_state_open(f->dir, 0, &s), 0); /* makes jobs/ */
    s = stdfu_state_free(s);
    /* Byte for byte what the version-1 writer produced. */
    write_text(f, "jobs/1-1.4",
               "stdfu-job 1\nport=1-1.4\nrule=sensor\nsha256=" SHA_A "\nfrom-version=1.0\n"
               "target-version=1.2\nphase=needs-power-cycle\nattempt=3\n"
               "last-error=vanished after leave\nstarted=1700000000000000\n"
               "updated=1700000005000000\nkept-image=0\nimage-address=\n");
    write_text(f, "jobs/1-1.5",
               "stdfu-job 1\nport=1-1.5\nrule=file\nsha256=" SHA_B "\nfrom-version=\n"
               "target-version=\nphase=writing\nattempt=1\nlast-error=\nstarted=5\n"
               "updated=6\nkept-image=1\nimage-address=0x08000000\n");
    /* A version from the future is not guessed at. */
    write_text(f, "jobs/1-1.6",
               "stdfu-job 3\nport=1-1.6\nrule=x\nsha256=" SHA_A "\ntarget-version=1.2\n"
               "phase=writing\nattempt=1\n");

    assert_int_equal(stdfu_state_open(f->dir, 0, &s), 0);
    assert_int_equal(stdfu_state_load_jobs(s, &jobs, &n), 0);
    /* The one of the future comes back damaged, named by its port (issue 10). */
    assert_int_equal(n, 3);
    assert_true(jobs[2].damaged);
    assert_string_equal(jobs[2].port, "1-1.6");
    assert_string_equal(jobs[0].port, "1-1.4");
    assert_string_equal(jobs[0].rule, "sensor");
    assert_string_equal(jobs[0].from_version, "1.0");
    assert_string_equal(jobs[0].target_version, "1.2");
    assert_int_equal(jobs[0].phase, JOB_NEEDS_POWER_CYCLE);
    assert_int_equal(jobs[0].attempt, 3);
    assert_string_equal(jobs[0].last_error, "vanished after leave");
    assert_int_equal(jobs[0].started_usec, 1700000000000000ULL);
    assert_int_equal(jobs[0].next_attempt_usec, 0);
    assert_string_equal(jobs[1].port, "1-1.5");
    assert_int_equal(jobs[1].phase, JOB_WRITING);
    assert_int_equal(jobs[1].kept_image, 1);
    assert_string_equal(jobs[1].image_address, "0x08000000");

    /* Saved again, a record is of today's version and keeps what it said. */
    jobs[0].phase = JOB_RETRY_WAIT;
    jobs[0].next_attempt_usec = 1700000035000000ULL;
    assert_int_equal(stdfu_state_save_job(s, &jobs[0]), 0);
    free(jobs);
    char *text = read_text(f, "jobs/1-1.4");
    assert_non_null(text);
    assert_memory_equal(text, "stdfu-job 2\n", 12);
    assert_non_null(strstr(text, "\nphase=retry-wait\n"));
    assert_non_null(strstr(text, "\nnext-attempt=1700000035000000\n"));
    free(text);
    stdfu_state_free(s);

    assert_int_equal(stdfu_state_open(f->dir, 0, &s), 0);
    assert_int_equal(stdfu_state_load_jobs(s, &jobs, &n), 0);
    assert_int_equal(n, 3); /* the one of the future, set aside, still claims its port */
    assert_true(jobs[2].damaged);
    assert_int_equal(jobs[0].phase, JOB_RETRY_WAIT);
    assert_int_equal(jobs[0].next_attempt_usec, 1700000035000000ULL);
    assert_int_equal(jobs[0].attempt, 3);
    free(jobs);
    stdfu_state_free(s);
}

/* Only states of a job that is not over belong in a record. */
static void test_record_phases(void **state) {
    fixture *f = *state;
    stdfu_state *s = NULL;
    stdfu_job_record r;

    assert_int_equal(stdfu_state_open(f->dir, 0, &s), 0);
    stdfu_job_record_init(&r, "1-1", "x", SHA_A, "1.0", "1.1");
    for (JobState st = 0; st < _JOB_STATE_MAX; st++) {
        r.phase = st;
        bool keep = st != JOB_IDLE && st != JOB_DONE && st != JOB_CANCELLED &&
                    st != JOB_NO_RULE;
        assert_int_equal(stdfu_state_save_job(s, &r), keep ? 0 : -EINVAL);
    }
    stdfu_state_free(s);
}

/* Only one process may use a state directory; the lock goes with the process. */
static void test_lock(void **state) {
    fixture *f = *state;
    stdfu_state *s = NULL, *s2 = NULL;
    int status;

    assert_int_equal(stdfu_state_open(f->dir, 0, &s), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(stdfu_state_open(f->dir, 0, &s2) == -EBUSY ? 0 : 1);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    stdfu_state_free(s);
    assert_int_equal(stdfu_state_open(f->dir, 0, &s2), 0);
    stdfu_state_free(s2);
}

static void test_nested_directory_created(void **state) {
    fixture *f = *state;
    stdfu_state *s = NULL;
    assert_int_equal(stdfu_state_open(path_in(f, "a/b/c"), 0, &s), 0);
    struct stat st;
    assert_int_equal(stat(path_in(f, "a/b/c/jobs"), &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    stdfu_state_free(s);
    write_text(f, "file", "x");
    assert_int_equal(stdfu_state_open(path_in(f, "file"), 0, &s), -ENOTDIR);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_port_names),
        cmocka_unit_test(test_phase_and_outcome_names),
        cmocka_unit_test_setup_teardown(test_job_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_records_refused_on_save, setup, teardown),
        cmocka_unit_test_setup_teardown(test_leftover_temporary_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_records_skipped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_history_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_history_corrupt_entries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_finish_job, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kept_image, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reads_version_1_records, setup, teardown),
        cmocka_unit_test_setup_teardown(test_history_attempts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_record_phases, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nested_directory_created, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
