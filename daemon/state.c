/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "state-internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "digest.h"
#include "read-file.h"
#include "util/config.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/time-util.h"

#define RECORD_MAX_SIZE (64u * 1024u)
#define IMAGE_MAX_SIZE (16u * 1024u * 1024u) /* as much as UpdateFile takes */
#define HISTORY_MAX_FILE_SIZE (64u * 1024u * 1024u)

DEFINE_TRIVIAL_CLEANUP_FUNC(DIR *, closedir);

struct stdfu_state {
    char *dir;
    char *jobs_dir;
    char *images_dir;
    char *history_path;
    int lock_fd;
    unsigned history_size;
    stdfu_history_entry *history; /* oldest first */
    size_t n_history;
};

/* ---- records ------------------------------------------------------------------------------- */

static void copy_string(char *dst, size_t size, const char *src) {
    if (!src)
        src = "";
    size_t n = strnlen(src, size - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}
#define COPY(field, src) copy_string((field), sizeof(field), (src))

void stdfu_job_record_init(stdfu_job_record *r, const char *port, const char *rule,
                           const char *sha256, const char *from_version,
                           const char *target_version) {
    *r = (stdfu_job_record) {.phase = JOB_QUEUED, .attempt = 1};
    COPY(r->port, port);
    COPY(r->rule, rule);
    COPY(r->sha256, sha256);
    COPY(r->from_version, from_version);
    COPY(r->target_version, target_version);
}

void stdfu_job_record_set_error(stdfu_job_record *r, const char *error) {
    COPY(r->last_error, error);
}

void stdfu_history_entry_from_record(stdfu_history_entry *e, const stdfu_job_record *r,
                                     JobOutcome outcome, const char *error,
                                     uint64_t finished_usec) {
    *e = (stdfu_history_entry) {
        .outcome = outcome,
        .phase = job_state_of_outcome(outcome),
        .started_usec = r->started_usec,
        .finished_usec = finished_usec,
        .attempts = r->attempt,
    };
    COPY(e->port, r->port);
    COPY(e->rule, r->rule);
    COPY(e->sha256, r->sha256);
    COPY(e->from_version, r->from_version);
    COPY(e->to_version, r->target_version);
    COPY(e->error, error);
}

/* ---- history ------------------------------------------------------------------------------- */

static int history_write(stdfu_state *s) {
    _cleanup_free_ char *text = NULL;
    size_t size;

    int r = state_history_format(s->history, s->n_history, &text, &size);
    if (r == 0)
        r = write_file_atomic(s->history_path, text, size, 0644);
    if (r < 0)
        return log_error_errno(r, "Failed to write %s: %m", s->history_path);
    return 0;
}

/* Keeps the last s->history_size entries. Returns true when some were dropped. */
static bool history_trim(stdfu_state *s) {
    if (s->n_history <= s->history_size)
        return false;
    size_t drop = s->n_history - s->history_size;
    memmove(s->history, s->history + drop, s->history_size * sizeof *s->history);
    s->n_history = s->history_size;
    return true;
}

static void history_append(stdfu_state *s, const stdfu_history_entry *e) {
    if (s->n_history >= s->history_size) {
        /* The array holds at most history_size entries: make room by dropping the oldest. */
        s->n_history = s->history_size - 1;
        memmove(s->history, s->history + 1, s->n_history * sizeof *s->history);
    }
    s->history[s->n_history++] = *e;
}

static void add_loaded_entry(void *userdata, const stdfu_history_entry *e) {
    history_append(userdata, e);
}

/* Reads the history file; entries that cannot be read are logged and skipped, a file of an
 * unknown format version is left out entirely (and replaced at the next write). */
static int history_load(stdfu_state *s) {
    _cleanup_free_ uint8_t *data = NULL;
    const char *reason = NULL;
    size_t size;

    int r = read_regular_file_at(AT_FDCWD, s->history_path, HISTORY_MAX_FILE_SIZE, true, NULL,
                                 &data, &size);
    if (r == -ENOENT)
        return 0;
    if (r < 0)
        return log_warning_errno(r, "Ignoring history %s: %m", s->history_path), 0;
    if (state_history_parse((char *) data, size, s->history_path, add_loaded_entry, s,
                            &reason) < 0)
        log_warning("Ignoring history %s: %s.", s->history_path, reason);
    return 0;
}

const stdfu_history_entry *stdfu_state_history(const stdfu_state *s, size_t *ret_n) {
    *ret_n = s->n_history;
    return s->history;
}

int stdfu_state_add_history(stdfu_state *s, const stdfu_history_entry *e) {
    if (!state_history_entry_is_valid(e))
        return -EINVAL;
    history_append(s, e);
    return history_write(s);
}

int stdfu_state_set_history_size(stdfu_state *s, unsigned history_size) {
    if (history_size == 0)
        history_size = STDFU_DEFAULT_HISTORY_SIZE;
    if (history_size > STDFU_MAX_HISTORY_SIZE)
        return -ERANGE;
    if (history_size > s->history_size) {
        stdfu_history_entry *p = reallocarray(s->history, history_size, sizeof *p);
        if (!p)
            return -ENOMEM;
        s->history = p;
    }
    s->history_size = history_size;
    return history_trim(s) ? history_write(s) : 0;
}

/* ---- the directory ------------------------------------------------------------------------- */

static int mkdir_p(const char *path, mode_t mode) {
    _cleanup_free_ char *copy = strdup(path);
    if (!copy)
        return -ENOMEM;
    for (char *p = copy + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(copy, mode) < 0 && errno != EEXIST)
            return negative_errno();
        *p = '/';
    }
    if (mkdir(copy, mode) < 0 && errno != EEXIST)
        return negative_errno();
    return 0;
}

/* write_file_atomic() names its temporary files "NAME.tmpXXXXXX". */
static bool is_temporary_name(const char *name) {
    const char *t = strstr(name, ".tmp");
    return t && strlen(t) == 10;
}

static void remove_temporary_files(const char *dir) {
    _cleanup_(closedirp) DIR *d = opendir(dir);
    struct dirent *de;

    if (!d)
        return;
    while ((de = readdir(d)))
        if (is_temporary_name(de->d_name)) {
            log_debug("Removing %s/%s, left behind by an interrupted write.", dir, de->d_name);
            (void) unlinkat(dirfd(d), de->d_name, 0);
        }
}

/* An image whose job has no record: a crash between keeping the image and writing the job's
 * first record, or between removing the record and the image. */
static void remove_orphan_images(stdfu_state *s) {
    _cleanup_(closedirp) DIR *d = opendir(s->images_dir);
    struct dirent *de;

    if (!d)
        return;
    while ((de = readdir(d))) {
        _cleanup_free_ char *record = NULL;
        if (de->d_name[0] == '.' || asprintf(&record, "%s/%s", s->jobs_dir, de->d_name) < 0)
            continue;
        if (access(record, F_OK) < 0 && errno == ENOENT) {
            log_debug("Removing %s/%s, the image of a job that is no more.", s->images_dir,
                      de->d_name);
            (void) unlinkat(dirfd(d), de->d_name, 0);
        }
    }
}

static int lock_directory(stdfu_state *s) {
    _cleanup_free_ char *path = NULL;

    if (asprintf(&path, "%s/lock", s->dir) < 0)
        return -ENOMEM;
    s->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY, 0644);
    if (s->lock_fd < 0)
        return log_error_errno(errno, "Failed to open %s: %m", path);
    if (flock(s->lock_fd, LOCK_EX | LOCK_NB) < 0) {
        if (errno == EWOULDBLOCK)
            return log_error_errno(EBUSY, "State directory %s is in use by another process.",
                                   s->dir);
        return log_error_errno(errno, "Failed to lock %s: %m", path);
    }
    return 0;
}

int stdfu_state_open(const char *dir, unsigned history_size, stdfu_state **ret) {
    _cleanup_(stdfu_state_freep) stdfu_state *s = NULL;
    int r;

    s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->lock_fd = -EBADF;
    s->dir = strdup(dir ? dir : STDFU_STATE_DIR);
    if (!s->dir || asprintf(&s->jobs_dir, "%s/jobs", s->dir) < 0 ||
        asprintf(&s->images_dir, "%s/images", s->dir) < 0 ||
        asprintf(&s->history_path, "%s/history", s->dir) < 0)
        return -ENOMEM;
    r = mkdir_p(s->jobs_dir, 0755);
    if (r < 0)
        return log_error_errno(r, "Failed to create %s: %m", s->jobs_dir);
    /* Firmware may be confidential: readable by root only. */
    r = mkdir_p(s->images_dir, 0700);
    if (r < 0)
        return log_error_errno(r, "Failed to create %s: %m", s->images_dir);
    r = lock_directory(s);
    if (r < 0)
        return r;
    r = stdfu_state_set_history_size(s, history_size);
    if (r < 0)
        return r;
    remove_temporary_files(s->dir);
    remove_temporary_files(s->jobs_dir);
    remove_temporary_files(s->images_dir);
    remove_orphan_images(s);
    r = history_load(s);
    if (r < 0)
        return r;
    *ret = TAKE_PTR(s);
    return 0;
}

stdfu_state *stdfu_state_free(stdfu_state *s) {
    if (!s)
        return NULL;
    if (s->lock_fd >= 0)
        close(s->lock_fd);
    free(s->dir);
    free(s->jobs_dir);
    free(s->images_dir);
    free(s->history_path);
    free(s->history);
    free(s);
    return NULL;
}

const char *stdfu_state_dir(const stdfu_state *s) {
    return s->dir;
}

static int port_path(const char *dir, const char *port, char **ret) {
    if (!stdfu_usb_port_is_valid(port))
        return -EINVAL;
    return asprintf(ret, "%s/%s", dir, port) < 0 ? -ENOMEM : 0;
}

static int job_path(const stdfu_state *s, const char *port, char **ret) {
    return port_path(s->jobs_dir, port, ret);
}

int stdfu_state_save_job(stdfu_state *s, stdfu_job_record *r) {
    _cleanup_free_ char *path = NULL, *text = NULL;
    size_t size;
    int k;

    if (!state_job_record_is_valid(r))
        return -EINVAL;
    k = job_path(s, r->port, &path);
    if (k < 0)
        return k;
    r->updated_usec = now_realtime();
    if (r->started_usec == 0)
        r->started_usec = r->updated_usec;
    k = state_job_record_format(r, &text, &size);
    if (k == 0)
        k = write_file_atomic(path, text, size, 0644);
    if (k < 0)
        return log_error_errno(k, "Failed to write %s: %m", path);
    return 0;
}

static int fsync_directory(const char *dir) {
    _cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return negative_errno();
    return fsync(fd) < 0 ? negative_errno() : 0;
}

static int remove_image(stdfu_state *s, const char *port) {
    _cleanup_free_ char *path = NULL;
    int r = port_path(s->images_dir, port, &path);
    if (r < 0)
        return r;
    if (unlink(path) < 0 && errno != ENOENT)
        return log_error_errno(errno, "Failed to remove %s: %m", path);
    return 0;
}

/* jobs/.PORT.damaged: a record that could not be read, set aside. It stands for the job it was
 * (the port is claimed) until a job of that port is over or its application runs. */
static int aside_name(const char *port, char *buf, size_t size) {
    if (!stdfu_usb_port_is_valid(port))
        return -EINVAL;
    snprintf(buf, size, ".%s.damaged", port);
    return 0;
}

static void remove_aside(stdfu_state *s, const char *port) {
    char aside[STDFU_USB_PORT_MAX + 16];
    _cleanup_(closedirp) DIR *d = NULL;

    if (aside_name(port, aside, sizeof aside) < 0 || !(d = opendir(s->jobs_dir)))
        return;
    int r = unlinkat(dirfd(d), aside, 0);
    if (r < 0 && errno == EISDIR)
        r = unlinkat(dirfd(d), aside, AT_REMOVEDIR);
    if (r >= 0)
        (void) fsync_directory(s->jobs_dir);
    else if (errno != ENOENT)
        log_warning_errno(errno, "Failed to remove %s/%s: %m", s->jobs_dir, aside);
}

int stdfu_state_remove_job(stdfu_state *s, const char *port) {
    _cleanup_free_ char *path = NULL;
    int r = job_path(s, port, &path);
    if (r < 0)
        return r;
    /* Before the record: a crash in between leaves the record, which stands for the job. */
    remove_aside(s, port);
    if (unlink(path) < 0) {
        if (errno == ENOENT)
            return remove_image(s, port);
        return log_error_errno(errno, "Failed to remove %s: %m", path);
    }
    /* The removal itself must survive a power loss, or the job would resume. */
    r = fsync_directory(s->jobs_dir);
    if (r < 0)
        return log_error_errno(r, "Failed to sync %s: %m", s->jobs_dir);
    /* The record first: an image left behind is removed at the next start. */
    return remove_image(s, port);
}

int stdfu_state_save_image(stdfu_state *s, const char *port, const void *data, size_t size) {
    _cleanup_free_ char *path = NULL;
    int r = port_path(s->images_dir, port, &path);
    if (r < 0)
        return r;
    r = write_file_atomic(path, data, size, 0600);
    if (r < 0)
        return log_error_errno(r, "Failed to write %s: %m", path);
    return 0;
}

int stdfu_state_load_image(stdfu_state *s, const char *port, const char *sha256, uint8_t **ret,
                           size_t *ret_size) {
    _cleanup_free_ char *path = NULL;
    _cleanup_free_ uint8_t *data = NULL;
    char actual[65];
    size_t size;
    int r = port_path(s->images_dir, port, &path);
    if (r < 0)
        return r;
    r = read_regular_file_at(AT_FDCWD, path, IMAGE_MAX_SIZE, true, NULL, &data, &size);
    if (r < 0)
        return r;
    stdfu_sha256_hex(data, size, actual);
    if (!streq(actual, sha256))
        return -EBADMSG;
    *ret = TAKE_PTR(data);
    *ret_size = size;
    return 0;
}

int stdfu_state_finish_job(stdfu_state *s, const stdfu_history_entry *e) {
    int r = stdfu_state_add_history(s, e);
    if (r < 0)
        return r;
    return stdfu_state_remove_job(s, e->port);
}

/* A record that cannot be used still names its port: ret becomes a damaged record of that port
 * (so that the device gets a fresh job and D-Bus shows why), and the file is set aside as
 * .NAME.damaged, where the next save cannot trip over it (a directory, a symlink). */
static void damaged_job_file(stdfu_state *s, int dir_fd, const char *name, const char *reason,
                             stdfu_job_record *ret) {
    char aside[STDFU_USB_PORT_MAX + 16];
    (void) aside_name(name, aside, sizeof aside);
    bool moved = renameat(dir_fd, name, dir_fd, aside) >= 0;
    log_warning("Job record %s/%s cannot be read (%s)%s; its device gets a fresh job from the "
                "manifest.", s->jobs_dir, name, reason, moved ? ", set aside" : "");
    *ret = (stdfu_job_record) {.damaged = true};
    COPY(ret->port, name);
    snprintf(ret->last_error, sizeof ret->last_error, "The job record %s/%s could not be read "
             "(%s)%s%s; the unfinished update starts again from the manifest.", s->jobs_dir,
             name, reason, moved ? " and was kept as " : "", moved ? aside : "");
}

/* jobs/.PORT.damaged of an earlier start: the port is still claimed (a restart must not forget
 * a device left in its bootloader). false when name is not such a file. */
static bool aside_port(const char *name, char *port, size_t size) {
    size_t n = strlen(name);
    if (name[0] != '.' || n < 10 || !streq(name + n - 8, ".damaged") || n - 9 >= size)
        return false;
    memcpy(port, name + 1, n - 9);
    port[n - 9] = '\0';
    return stdfu_usb_port_is_valid(port);
}

static void aside_job_file(stdfu_state *s, const char *name, const char *port,
                           stdfu_job_record *ret) {
    log_warning("Job record %s/%s could not be read at an earlier start (kept as %s); its "
                "device still gets a fresh job from the manifest.", s->jobs_dir, port, name);
    *ret = (stdfu_job_record) {.damaged = true};
    COPY(ret->port, port);
    snprintf(ret->last_error, sizeof ret->last_error, "The job record %s/%s could not be read "
             "at an earlier start and was kept as %s; the unfinished update starts again from "
             "the manifest.", s->jobs_dir, port, name);
}

/* Reads jobs/NAME; a record that cannot be used comes back damaged. Only a regular file of at
 * most RECORD_MAX_SIZE is read (no symlink, FIFO, directory). */
static void load_job_file(stdfu_state *s, int dir_fd, const char *name, stdfu_job_record *ret) {
    _cleanup_free_ uint8_t *data = NULL;
    const char *reason = NULL;
    size_t size;

    int r = read_regular_file_at(dir_fd, name, RECORD_MAX_SIZE, true, NULL, &data, &size);
    if (r < 0) {
        char why[128];
        snprintf(why, sizeof why, "%s", r == -EFBIG ? "larger than 64 KiB" :
                 r == -EISDIR ? "a directory" : read_regular_strerror(r));
        damaged_job_file(s, dir_fd, name, why, ret);
        return;
    }
    r = state_job_record_parse((char *) data, size, ret, &reason);
    if (r == 0 && !streq(ret->port, name)) {
        reason = "its port differs from its file name";
        r = -EINVAL;
    }
    if (r < 0)
        damaged_job_file(s, dir_fd, name, strna(reason), ret);
}

static int compare_records(const void *a, const void *b) {
    return strcmp(((const stdfu_job_record *) a)->port, ((const stdfu_job_record *) b)->port);
}

static int grow_records(stdfu_job_record **jobs, size_t n, size_t *allocated) {
    if (n < *allocated)
        return 0;
    size_t a = MAX(*allocated * 2, (size_t) 8);
    stdfu_job_record *p = reallocarray(*jobs, a, sizeof *p);
    if (!p)
        return -ENOMEM;
    *jobs = p;
    *allocated = a;
    return 0;
}

static bool has_port(const stdfu_job_record *jobs, size_t n, const char *port) {
    for (size_t i = 0; i < n; i++)
        if (streq(jobs[i].port, port))
            return true;
    return false;
}

int stdfu_state_load_jobs(stdfu_state *s, stdfu_job_record **ret, size_t *ret_n) {
    _cleanup_(closedirp) DIR *d = opendir(s->jobs_dir);
    _cleanup_free_ stdfu_job_record *jobs = NULL;
    size_t n = 0, allocated = 0;
    struct dirent *de;

    if (!d)
        return log_error_errno(errno, "Failed to open %s: %m", s->jobs_dir);
    while ((errno = 0, de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        if (!stdfu_usb_port_is_valid(de->d_name)) {
            /* Not ours: a temporary file of a crashed write, or something an admin left. */
            if (!is_temporary_name(de->d_name))
                log_warning("Ignoring %s/%s: not a port name.", s->jobs_dir, de->d_name);
            continue;
        }
        if (grow_records(&jobs, n, &allocated) < 0)
            return -ENOMEM;
        load_job_file(s, dirfd(d), de->d_name, &jobs[n++]);
    }
    if (errno != 0)
        return log_error_errno(errno, "Failed to read %s: %m", s->jobs_dir);
    /* Then the records set aside at an earlier start, for ports with no record of their own
     * (those set aside just now are among the records already). */
    rewinddir(d);
    while ((errno = 0, de = readdir(d))) {
        char port[STDFU_USB_PORT_MAX + 1];
        if (!aside_port(de->d_name, port, sizeof port) || has_port(jobs, n, port))
            continue;
        if (grow_records(&jobs, n, &allocated) < 0)
            return -ENOMEM;
        aside_job_file(s, de->d_name, port, &jobs[n++]);
    }
    if (n > 0)
        qsort(jobs, n, sizeof *jobs, compare_records);
    *ret = n > 0 ? TAKE_PTR(jobs) : NULL;
    *ret_n = n;
    return 0;
}
