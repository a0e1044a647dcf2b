/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "state.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "util/fileio.h"
#include "util/log.h"
#include "util/parse-util.h"
#include "util/time-util.h"

#define JOB_HEADER "stdfu-job"
#define HISTORY_HEADER "stdfu-history"
#define FORMAT_VERSION 1
#define RECORD_MAX_SIZE (64u * 1024u)
#define HISTORY_MAX_FILE_SIZE (64u * 1024u * 1024u)

DEFINE_TRIVIAL_CLEANUP_FUNC(DIR *, closedir);

struct stdfu_state {
    char *dir;
    char *jobs_dir;
    char *history_path;
    int lock_fd;
    unsigned history_size;
    stdfu_history_entry *history; /* oldest first */
    size_t n_history;
};

/* ---- names --------------------------------------------------------------------------------- */

static const char *const phase_names[_STDFU_PHASE_MAX] = {
    [STDFU_PHASE_QUEUED] = "queued",
    [STDFU_PHASE_ENTERING] = "entering",
    [STDFU_PHASE_ERASING] = "erasing",
    [STDFU_PHASE_WRITING] = "writing",
    [STDFU_PHASE_VERIFYING] = "verifying",
    [STDFU_PHASE_LEAVING] = "leaving",
    [STDFU_PHASE_WAITING] = "waiting",
    [STDFU_PHASE_RECOVERING] = "recovering",
    [STDFU_PHASE_NEEDS_POWER_CYCLE] = "needs-power-cycle",
};

static const char *const outcome_names[_STDFU_OUTCOME_MAX] = {
    [STDFU_OUTCOME_DONE] = "done",
    [STDFU_OUTCOME_FAILED] = "failed",
    [STDFU_OUTCOME_NEEDS_POWER_CYCLE] = "needs-power-cycle",
    [STDFU_OUTCOME_CANCELLED] = "cancelled",
};

const char *stdfu_job_phase_to_string(stdfu_job_phase p) {
    return p >= 0 && p < _STDFU_PHASE_MAX ? phase_names[p] : NULL;
}

stdfu_job_phase stdfu_job_phase_from_string(const char *s) {
    for (int i = 0; s && i < _STDFU_PHASE_MAX; i++)
        if (streq(s, phase_names[i]))
            return (stdfu_job_phase) i;
    return _STDFU_PHASE_INVALID;
}

const char *stdfu_job_outcome_to_string(stdfu_job_outcome o) {
    return o >= 0 && o < _STDFU_OUTCOME_MAX ? outcome_names[o] : NULL;
}

stdfu_job_outcome stdfu_job_outcome_from_string(const char *s) {
    for (int i = 0; s && i < _STDFU_OUTCOME_MAX; i++)
        if (streq(s, outcome_names[i]))
            return (stdfu_job_outcome) i;
    return _STDFU_OUTCOME_INVALID;
}

/* BUS-PORT[.PORT]...: decimal numbers separated by one '-' then '.'s. Stricter than "digits,
 * dashes and dots" so that no name can be "." or ".." or collide with a temporary file. */
bool stdfu_port_is_valid(const char *port) {
    bool seen_dash = false, need_digit = true;
    size_t n;

    if (!port)
        return false;
    n = strlen(port);
    if (n == 0 || n > STDFU_PORT_MAX)
        return false;
    for (const char *p = port; *p; p++) {
        if (*p >= '0' && *p <= '9') {
            need_digit = false;
            continue;
        }
        if (need_digit)
            return false;
        if (*p == '-' && !seen_dash)
            seen_dash = true;
        else if (*p != '.' || !seen_dash)
            return false;
        need_digit = true;
    }
    return seen_dash && !need_digit;
}

static bool is_sha256_hex(const char *s) {
    size_t n = 0;
    for (; s[n]; n++)
        if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
            return false;
    return n == 64;
}

/* ---- record helpers ------------------------------------------------------------------------ */

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
    *r = (stdfu_job_record) {.phase = STDFU_PHASE_QUEUED, .attempt = 1};
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
                                     stdfu_job_outcome outcome, const char *error,
                                     uint64_t finished_usec) {
    *e = (stdfu_history_entry) {
        .outcome = outcome,
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

/* ---- text format --------------------------------------------------------------------------- */

/* A growing text buffer; on allocation failure it stays "failed" and the caller sees -ENOMEM. */
typedef struct textbuf {
    char *data;
    size_t size, allocated;
    bool failed;
} textbuf;

static void textbuf_reserve(textbuf *b, size_t more) {
    if (b->failed || b->size + more + 1 <= b->allocated)
        return;
    size_t want = MAX(b->allocated * 2, b->size + more + 1);
    want = MAX(want, (size_t) 256);
    char *p = realloc(b->data, want);
    if (!p) {
        b->failed = true;
        return;
    }
    b->data = p;
    b->allocated = want;
}

static void textbuf_putc(textbuf *b, char c) {
    textbuf_reserve(b, 1);
    if (b->failed)
        return;
    b->data[b->size++] = c;
    b->data[b->size] = '\0';
}

static void textbuf_puts(textbuf *b, const char *s) {
    for (; *s; s++)
        textbuf_putc(b, *s);
}

static void textbuf_escaped(textbuf *b, const char *s) {
    for (; *s; s++)
        switch (*s) {
        case '\\': textbuf_puts(b, "\\\\"); break;
        case '\n': textbuf_puts(b, "\\n"); break;
        case '\r': textbuf_puts(b, "\\r"); break;
        case '\t': textbuf_puts(b, "\\t"); break;
        default: textbuf_putc(b, *s);
        }
}

static void put_string(textbuf *b, const char *key, const char *value) {
    textbuf_puts(b, key);
    textbuf_putc(b, '=');
    textbuf_escaped(b, value);
    textbuf_putc(b, '\n');
}

static void put_u64(textbuf *b, const char *key, uint64_t value) {
    char num[24];
    snprintf(num, sizeof num, "%" PRIu64, value);
    put_string(b, key, num);
}

/* Undoes textbuf_escaped() in place. -EINVAL for an unknown or dangling escape. */
static int unescape(char *s) {
    char *w = s;
    for (const char *r = s; *r; r++) {
        if (*r != '\\') {
            *w++ = *r;
            continue;
        }
        switch (*++r) {
        case '\\': *w++ = '\\'; break;
        case 'n': *w++ = '\n'; break;
        case 'r': *w++ = '\r'; break;
        case 't': *w++ = '\t'; break;
        default: return -EINVAL;
        }
    }
    *w = '\0';
    return 0;
}

/* One "key=value" assignment to a record field. Returns 1 when key was known, 0 when not (the
 * caller ignores it: newer writers of the same version may add keys), -EINVAL for a bad value. */
typedef int (*assign_fn)(void *record, const char *key, const char *value);

static int set_string(char *dst, size_t size, const char *value) {
    if (strlen(value) >= size)
        return -EINVAL;
    memcpy(dst, value, strlen(value) + 1);
    return 1;
}
#define SET(field, value) set_string((field), sizeof(field), (value))

static int set_u64(uint64_t *dst, const char *value) {
    return parse_u64(value, dst) < 0 ? -EINVAL : 1;
}

static int set_unsigned(unsigned *dst, const char *value) {
    uint32_t v;
    if (parse_u32(value, &v) < 0)
        return -EINVAL;
    *dst = v;
    return 1;
}

/* Parses "key=value" lines from *cursor up to a blank line or the end. Returns the number of
 * lines parsed (0 at the end of the text), -EINVAL with *reason on a bad line. Keys seen are
 * counted in *seen as bits of their index in keys[]. */
static int parse_block(char **cursor, const char *const *keys, unsigned *seen, void *record,
                       assign_fn assign, const char **reason) {
    int lines = 0;
    char *p = *cursor;

    while (*p && *p != '\n') {
        char *eol = strchrnul(p, '\n');
        char *next = *eol ? eol + 1 : eol;
        *eol = '\0';
        char *eq = strchr(p, '=');
        if (!eq) {
            *reason = "a line without '='";
            return -EINVAL;
        }
        *eq = '\0';
        if (unescape(eq + 1) < 0) {
            *reason = "a bad escape sequence";
            return -EINVAL;
        }
        for (unsigned i = 0; keys[i]; i++)
            if (streq(p, keys[i])) {
                if (*seen & (1u << i)) {
                    *reason = "a key given twice";
                    return -EINVAL;
                }
                *seen |= 1u << i;
            }
        int r = assign(record, p, eq + 1);
        if (r < 0) {
            *reason = "a bad value";
            return r;
        }
        lines++;
        p = next;
    }
    while (*p == '\n')
        p++;
    *cursor = p;
    return lines;
}

/* Checks and strips "NAME VERSION\n". */
static int parse_header(char **cursor, const char *name, const char **reason) {
    char *p = *cursor, *eol = strchrnul(p, '\n');
    size_t n = strlen(name);
    uint32_t version;
    char num[16];

    if (strncmp(p, name, n) != 0 || p[n] != ' ') {
        *reason = "no header";
        return -EINVAL;
    }
    size_t len = (size_t) (eol - (p + n + 1));
    if (len == 0 || len >= sizeof num) {
        *reason = "a bad header";
        return -EINVAL;
    }
    memcpy(num, p + n + 1, len);
    num[len] = '\0';
    if (parse_u32(num, &version) < 0) {
        *reason = "a bad header";
        return -EINVAL;
    }
    if (version != FORMAT_VERSION) {
        *reason = "an unknown format version";
        return -EPROTONOSUPPORT;
    }
    *cursor = *eol ? eol + 1 : eol;
    return 0;
}

/* ---- job records --------------------------------------------------------------------------- */

static const char *const job_keys[] = {
    "port", "rule", "sha256", "from-version", "target-version", "phase", "attempt",
    "last-error", "started", "updated", NULL,
};
/* port, rule, sha256, target-version, phase, attempt: without them a job cannot resume. */
#define JOB_REQUIRED_KEYS (1u << 0 | 1u << 1 | 1u << 2 | 1u << 4 | 1u << 5 | 1u << 6)

static int assign_job(void *record, const char *key, const char *value) {
    stdfu_job_record *r = record;

    if (streq(key, "port"))
        return stdfu_port_is_valid(value) ? SET(r->port, value) : -EINVAL;
    if (streq(key, "rule"))
        return *value ? SET(r->rule, value) : -EINVAL;
    if (streq(key, "sha256"))
        return is_sha256_hex(value) ? SET(r->sha256, value) : -EINVAL;
    if (streq(key, "from-version"))
        return SET(r->from_version, value);
    if (streq(key, "target-version"))
        return SET(r->target_version, value);
    if (streq(key, "phase")) {
        r->phase = stdfu_job_phase_from_string(value);
        return r->phase < 0 ? -EINVAL : 1;
    }
    if (streq(key, "attempt"))
        return set_unsigned(&r->attempt, value);
    if (streq(key, "last-error"))
        return SET(r->last_error, value);
    if (streq(key, "started"))
        return set_u64(&r->started_usec, value);
    if (streq(key, "updated"))
        return set_u64(&r->updated_usec, value);
    return 0;
}

static int job_record_format(const stdfu_job_record *r, textbuf *b) {
    char header[32];
    snprintf(header, sizeof header, "%s %d\n", JOB_HEADER, FORMAT_VERSION);
    textbuf_puts(b, header);
    put_string(b, "port", r->port);
    put_string(b, "rule", r->rule);
    put_string(b, "sha256", r->sha256);
    put_string(b, "from-version", r->from_version);
    put_string(b, "target-version", r->target_version);
    put_string(b, "phase", stdfu_job_phase_to_string(r->phase));
    put_u64(b, "attempt", r->attempt);
    put_string(b, "last-error", r->last_error);
    put_u64(b, "started", r->started_usec);
    put_u64(b, "updated", r->updated_usec);
    return b->failed ? -ENOMEM : 0;
}

/* Parses one job record file's text (modified in place). */
static int job_record_parse(char *text, stdfu_job_record *ret, const char **reason) {
    stdfu_job_record r = {.phase = STDFU_PHASE_QUEUED};
    unsigned seen = 0;
    char *p = text;

    int k = parse_header(&p, JOB_HEADER, reason);
    if (k < 0)
        return k;
    k = parse_block(&p, job_keys, &seen, &r, assign_job, reason);
    if (k < 0)
        return k;
    if (*p) {
        *reason = "text after the record";
        return -EINVAL;
    }
    if ((seen & JOB_REQUIRED_KEYS) != JOB_REQUIRED_KEYS) {
        *reason = "a missing key";
        return -EINVAL;
    }
    *ret = r;
    return 0;
}

static bool job_record_is_valid(const stdfu_job_record *r) {
    return stdfu_port_is_valid(r->port) && r->rule[0] && is_sha256_hex(r->sha256) &&
           stdfu_job_phase_to_string(r->phase);
}

/* ---- history ------------------------------------------------------------------------------- */

static const char *const history_keys[] = {
    "port", "rule", "sha256", "from-version", "to-version", "outcome", "error", "started",
    "finished", "attempts", NULL,
};
#define HISTORY_REQUIRED_KEYS (1u << 0 | 1u << 5 | 1u << 8)

static int assign_history(void *record, const char *key, const char *value) {
    stdfu_history_entry *e = record;

    if (streq(key, "port"))
        return stdfu_port_is_valid(value) ? SET(e->port, value) : -EINVAL;
    if (streq(key, "rule"))
        return SET(e->rule, value);
    if (streq(key, "sha256"))
        return !*value || is_sha256_hex(value) ? SET(e->sha256, value) : -EINVAL;
    if (streq(key, "from-version"))
        return SET(e->from_version, value);
    if (streq(key, "to-version"))
        return SET(e->to_version, value);
    if (streq(key, "outcome")) {
        e->outcome = stdfu_job_outcome_from_string(value);
        return e->outcome < 0 ? -EINVAL : 1;
    }
    if (streq(key, "error"))
        return SET(e->error, value);
    if (streq(key, "started"))
        return set_u64(&e->started_usec, value);
    if (streq(key, "finished"))
        return set_u64(&e->finished_usec, value);
    if (streq(key, "attempts"))
        return set_unsigned(&e->attempts, value);
    return 0;
}

static void history_entry_format(const stdfu_history_entry *e, textbuf *b) {
    textbuf_putc(b, '\n');
    put_string(b, "port", e->port);
    put_string(b, "rule", e->rule);
    put_string(b, "sha256", e->sha256);
    put_string(b, "from-version", e->from_version);
    put_string(b, "to-version", e->to_version);
    put_string(b, "outcome", stdfu_job_outcome_to_string(e->outcome));
    put_string(b, "error", e->error);
    put_u64(b, "started", e->started_usec);
    put_u64(b, "finished", e->finished_usec);
    put_u64(b, "attempts", e->attempts);
}

static int history_write(stdfu_state *s) {
    textbuf b = {0};
    char header[32];
    int r;

    snprintf(header, sizeof header, "%s %d\n", HISTORY_HEADER, FORMAT_VERSION);
    textbuf_puts(&b, header);
    for (size_t i = 0; i < s->n_history; i++)
        history_entry_format(&s->history[i], &b);
    if (b.failed)
        r = -ENOMEM;
    else
        r = write_file_atomic(s->history_path, b.data, b.size, 0644);
    free(b.data);
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

static int history_append(stdfu_state *s, const stdfu_history_entry *e) {
    if (s->n_history >= s->history_size) {
        /* The array holds at most history_size entries: make room by dropping the oldest. */
        s->n_history = s->history_size - 1;
        memmove(s->history, s->history + 1, s->n_history * sizeof *s->history);
    }
    s->history[s->n_history++] = *e;
    return 0;
}

/* Reads the history file; entries that cannot be read are logged and skipped, a file of an
 * unknown format version is left out entirely (and replaced at the next write). */
static int history_load(stdfu_state *s) {
    _cleanup_free_ uint8_t *data = NULL;
    const char *reason = NULL;
    size_t size;
    char *p;

    int r = read_full_file(s->history_path, HISTORY_MAX_FILE_SIZE, &data, &size);
    if (r == -ENOENT)
        return 0;
    if (r < 0)
        return log_warning_errno(r, "Ignoring history %s: %m", s->history_path), 0;
    if (memchr(data, '\0', size)) {
        log_warning("Ignoring history %s: it holds NUL bytes.", s->history_path);
        return 0;
    }
    p = (char *) data;
    if (parse_header(&p, HISTORY_HEADER, &reason) < 0) {
        log_warning("Ignoring history %s: %s.", s->history_path, reason);
        return 0;
    }
    while (*p == '\n')
        p++;
    for (unsigned index = 1; *p; index++) {
        stdfu_history_entry e = {0};
        unsigned seen = 0;
        /* Cut the entry out first, so that a bad one can be skipped whole. */
        char *end = strstr(p, "\n\n"), *next = end ? end + 2 : p + strlen(p), *block = p;
        if (end)
            end[1] = '\0';
        r = parse_block(&block, history_keys, &seen, &e, assign_history, &reason);
        if (r >= 0 && (seen & HISTORY_REQUIRED_KEYS) != HISTORY_REQUIRED_KEYS) {
            reason = "a missing key";
            r = -EINVAL;
        }
        if (r < 0)
            log_warning("Skipping history entry %u of %s: %s.", index, s->history_path, reason);
        else
            history_append(s, &e);
        for (p = next; *p == '\n'; p++)
            ;
    }
    return 0;
}

const stdfu_history_entry *stdfu_state_history(const stdfu_state *s, size_t *ret_n) {
    *ret_n = s->n_history;
    return s->history;
}

static bool history_entry_is_valid(const stdfu_history_entry *e) {
    return stdfu_port_is_valid(e->port) && stdfu_job_outcome_to_string(e->outcome) &&
           (!e->sha256[0] || is_sha256_hex(e->sha256));
}

int stdfu_state_add_history(stdfu_state *s, const stdfu_history_entry *e) {
    if (!history_entry_is_valid(e))
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
    s->dir = strdup(dir ? dir : STDFU_DEFAULT_STATE_DIR);
    if (!s->dir || asprintf(&s->jobs_dir, "%s/jobs", s->dir) < 0 ||
        asprintf(&s->history_path, "%s/history", s->dir) < 0)
        return -ENOMEM;
    r = mkdir_p(s->jobs_dir, 0755);
    if (r < 0)
        return log_error_errno(r, "Failed to create %s: %m", s->jobs_dir);
    r = lock_directory(s);
    if (r < 0)
        return r;
    r = stdfu_state_set_history_size(s, history_size);
    if (r < 0)
        return r;
    remove_temporary_files(s->dir);
    remove_temporary_files(s->jobs_dir);
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
    free(s->history_path);
    free(s->history);
    free(s);
    return NULL;
}

const char *stdfu_state_dir(const stdfu_state *s) {
    return s->dir;
}

static int job_path(const stdfu_state *s, const char *port, char **ret) {
    if (!stdfu_port_is_valid(port))
        return -EINVAL;
    return asprintf(ret, "%s/%s", s->jobs_dir, port) < 0 ? -ENOMEM : 0;
}

int stdfu_state_save_job(stdfu_state *s, stdfu_job_record *r) {
    _cleanup_free_ char *path = NULL;
    textbuf b = {0};
    int k;

    if (!job_record_is_valid(r))
        return -EINVAL;
    k = job_path(s, r->port, &path);
    if (k < 0)
        return k;
    r->updated_usec = now_realtime();
    if (r->started_usec == 0)
        r->started_usec = r->updated_usec;
    k = job_record_format(r, &b);
    if (k == 0)
        k = write_file_atomic(path, b.data, b.size, 0644);
    free(b.data);
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

int stdfu_state_remove_job(stdfu_state *s, const char *port) {
    _cleanup_free_ char *path = NULL;
    int r = job_path(s, port, &path);
    if (r < 0)
        return r;
    if (unlink(path) < 0) {
        if (errno == ENOENT)
            return 0;
        return log_error_errno(errno, "Failed to remove %s: %m", path);
    }
    /* The removal itself must survive a power loss, or the job would resume. */
    r = fsync_directory(s->jobs_dir);
    if (r < 0)
        return log_error_errno(r, "Failed to sync %s: %m", s->jobs_dir);
    return 0;
}

int stdfu_state_finish_job(stdfu_state *s, const stdfu_history_entry *e) {
    int r = stdfu_state_add_history(s, e);
    if (r < 0)
        return r;
    return stdfu_state_remove_job(s, e->port);
}

/* Reads jobs/NAME; logs and returns a negative errno when it cannot be used. */
static int load_job_file(stdfu_state *s, int dir_fd, const char *name, stdfu_job_record *ret) {
    _cleanup_free_ uint8_t *data = NULL;
    const char *reason = NULL;
    size_t size;

    _cleanup_close_ int fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
    if (fd < 0)
        return log_warning_errno(errno, "Ignoring job record %s/%s: %m", s->jobs_dir, name);
    int r = read_full_fd(fd, RECORD_MAX_SIZE, &data, &size);
    if (r < 0)
        return log_warning_errno(r, "Ignoring job record %s/%s: %m", s->jobs_dir, name);
    if (memchr(data, '\0', size)) {
        log_warning("Ignoring job record %s/%s: it holds NUL bytes.", s->jobs_dir, name);
        return -EINVAL;
    }
    r = job_record_parse((char *) data, ret, &reason);
    if (r == 0 && !streq(ret->port, name)) {
        reason = "its port differs from its file name";
        r = -EINVAL;
    }
    if (r < 0) {
        log_warning("Ignoring job record %s/%s: %s.", s->jobs_dir, name, reason);
        return r;
    }
    return 0;
}

static int compare_records(const void *a, const void *b) {
    return strcmp(((const stdfu_job_record *) a)->port, ((const stdfu_job_record *) b)->port);
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
        if (!stdfu_port_is_valid(de->d_name)) {
            /* Not ours: a temporary file of a crashed write, or something an admin left. */
            if (!is_temporary_name(de->d_name))
                log_warning("Ignoring %s/%s: not a port name.", s->jobs_dir, de->d_name);
            continue;
        }
        if (n == allocated) {
            allocated = MAX(allocated * 2, (size_t) 8);
            stdfu_job_record *p = reallocarray(jobs, allocated, sizeof *p);
            if (!p)
                return -ENOMEM;
            jobs = p;
        }
        if (load_job_file(s, dirfd(d), de->d_name, &jobs[n]) == 0)
            n++;
    }
    if (errno != 0)
        return log_error_errno(errno, "Failed to read %s: %m", s->jobs_dir);
    if (n > 0)
        qsort(jobs, n, sizeof *jobs, compare_records);
    *ret = n > 0 ? TAKE_PTR(jobs) : NULL;
    *ret_n = n;
    return 0;
}
