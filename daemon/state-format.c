/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The text of the state directory's files: versioned "key=value" lines with escaped values
 * (state.h describes the format). Each record type is one table of its keys, which drives both
 * writing and parsing, so that a key is added in one place. */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state-internal.h"
#include "util/log.h"
#include "util/parse-util.h"

#define JOB_HEADER "stdfu-job"
#define HISTORY_HEADER "stdfu-history"
/* Version 2 of job records adds the states retry-wait and failed and the key next-attempt;
 * version 2 of the history the keys phase, bytes and recovery. Version 1 of both is still
 * read: it has a subset of the states and keys. */
#define FORMAT_VERSION 2
#define FORMAT_OLDEST 1

static bool is_sha256_hex(const char *s) {
    size_t n = 0;
    for (; s[n]; n++)
        if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
            return false;
    return n == 64;
}

/* ---- records ------------------------------------------------------------------------------- */

bool state_job_record_is_valid(const stdfu_job_record *r) {
    return stdfu_usb_port_is_valid(r->port) && r->rule[0] && is_sha256_hex(r->sha256) &&
           job_state_is_journaled(r->phase);
}

bool state_history_entry_is_valid(const stdfu_history_entry *e) {
    return stdfu_usb_port_is_valid(e->port) && job_outcome_to_string(e->outcome) &&
           job_state_to_string(e->phase) &&
           (!e->sha256[0] || is_sha256_hex(e->sha256));
}

/* ---- the keys of each record --------------------------------------------------------------- */

typedef enum value_type {
    V_STRING,          /* any text that fits */
    V_NONEMPTY,        /* text, not empty */
    V_PORT,            /* stdfu_usb_port_is_valid() */
    V_SHA256,          /* 64 lowercase hex digits */
    V_SHA256_OR_EMPTY, /* the same, or "" (unknown) */
    V_PHASE,           /* a JobState by name, job_state_is_journaled() */
    V_STATE,           /* any JobState by name */
    V_OUTCOME,         /* a JobOutcome by name */
    V_UNSIGNED,
    V_U64,
} value_type;

typedef struct record_key {
    const char *key;
    value_type type;
    size_t offset, size; /* of the field in the record */
    bool required;       /* without it the record cannot be used */
} record_key;

#define KEY(name, type, record, field, required) \
    {name, type, offsetof(record, field), sizeof(((record *) NULL)->field), required}

/* Written in this order. Without port, rule, sha256, target-version, phase and attempt a job
 * cannot resume. */
static const record_key job_keys[] = {
    KEY("port", V_PORT, stdfu_job_record, port, true),
    KEY("rule", V_NONEMPTY, stdfu_job_record, rule, true),
    KEY("sha256", V_SHA256, stdfu_job_record, sha256, true),
    KEY("from-version", V_STRING, stdfu_job_record, from_version, false),
    KEY("target-version", V_STRING, stdfu_job_record, target_version, true),
    KEY("phase", V_PHASE, stdfu_job_record, phase, true),
    KEY("attempt", V_UNSIGNED, stdfu_job_record, attempt, true),
    KEY("last-error", V_STRING, stdfu_job_record, last_error, false),
    KEY("started", V_U64, stdfu_job_record, started_usec, false),
    KEY("updated", V_U64, stdfu_job_record, updated_usec, false),
    KEY("kept-image", V_UNSIGNED, stdfu_job_record, kept_image, false),
    KEY("image-address", V_STRING, stdfu_job_record, image_address, false),
    KEY("image-format", V_STRING, stdfu_job_record, image_format, false),
    KEY("next-attempt", V_U64, stdfu_job_record, next_attempt_usec, false),
    KEY("forced", V_UNSIGNED, stdfu_job_record, forced, false),
    {0},
};

static const record_key history_keys[] = {
    KEY("port", V_PORT, stdfu_history_entry, port, true),
    KEY("rule", V_STRING, stdfu_history_entry, rule, false),
    KEY("sha256", V_SHA256_OR_EMPTY, stdfu_history_entry, sha256, false),
    KEY("from-version", V_STRING, stdfu_history_entry, from_version, false),
    KEY("to-version", V_STRING, stdfu_history_entry, to_version, false),
    KEY("outcome", V_OUTCOME, stdfu_history_entry, outcome, true),
    KEY("error", V_STRING, stdfu_history_entry, error, false),
    KEY("started", V_U64, stdfu_history_entry, started_usec, false),
    KEY("finished", V_U64, stdfu_history_entry, finished_usec, true),
    KEY("attempts", V_UNSIGNED, stdfu_history_entry, attempts, false),
    KEY("phase", V_STATE, stdfu_history_entry, phase, false),
    KEY("bytes", V_U64, stdfu_history_entry, bytes_written, false),
    KEY("recovery", V_STRING, stdfu_history_entry, recovery, false),
    {0},
};

/* ---- writing ------------------------------------------------------------------------------- */

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

/* Hands the text out, or frees it and returns -ENOMEM. */
static int textbuf_take(textbuf *b, char **ret, size_t *ret_size) {
    if (b->failed) {
        free(b->data);
        return -ENOMEM;
    }
    *ret = b->data;
    *ret_size = b->size;
    return 0;
}

static void put_header(textbuf *b, const char *name, unsigned version) {
    char header[32];
    snprintf(header, sizeof header, "%s %u\n", name, version);
    textbuf_puts(b, header);
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

static void put_record(textbuf *b, const record_key *keys, const void *record) {
    for (const record_key *k = keys; k->key; k++) {
        const void *field = (const char *) record + k->offset;
        switch (k->type) {
        case V_PHASE:
        case V_STATE:
            put_string(b, k->key, job_state_to_string(*(const JobState *) field));
            break;
        case V_OUTCOME:
            put_string(b, k->key, job_outcome_to_string(*(const JobOutcome *) field));
            break;
        case V_UNSIGNED:
            put_u64(b, k->key, *(const unsigned *) field);
            break;
        case V_U64:
            put_u64(b, k->key, *(const uint64_t *) field);
            break;
        default:
            put_string(b, k->key, field);
        }
    }
}

int state_job_record_format(const stdfu_job_record *r, char **ret, size_t *ret_size) {
    textbuf b = {0};
    put_header(&b, JOB_HEADER, FORMAT_VERSION);
    put_record(&b, job_keys, r);
    return textbuf_take(&b, ret, ret_size);
}

/* History entries are separated by blank lines. */
int state_history_format(const stdfu_history_entry *entries, size_t n, char **ret,
                         size_t *ret_size) {
    textbuf b = {0};
    put_header(&b, HISTORY_HEADER, FORMAT_VERSION);
    for (size_t i = 0; i < n; i++) {
        textbuf_putc(&b, '\n');
        put_record(&b, history_keys, &entries[i]);
    }
    return textbuf_take(&b, ret, ret_size);
}

/* ---- parsing ------------------------------------------------------------------------------- */

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

static int set_string(char *dst, size_t size, const char *value) {
    if (strlen(value) >= size)
        return -EINVAL;
    memcpy(dst, value, strlen(value) + 1);
    return 0;
}

/* One "key=value" assignment to a record field. -EINVAL for a bad value. */
static int assign(const record_key *k, void *record, const char *value) {
    void *field = (char *) record + k->offset;
    uint32_t u32;
    int i;

    switch (k->type) {
    case V_STRING:
        return set_string(field, k->size, value);
    case V_NONEMPTY:
        return *value ? set_string(field, k->size, value) : -EINVAL;
    case V_PORT:
        return stdfu_usb_port_is_valid(value) ? set_string(field, k->size, value) : -EINVAL;
    case V_SHA256:
        return is_sha256_hex(value) ? set_string(field, k->size, value) : -EINVAL;
    case V_SHA256_OR_EMPTY:
        return !*value || is_sha256_hex(value) ? set_string(field, k->size, value) : -EINVAL;
    case V_PHASE:
        i = job_state_from_string(value);
        *(JobState *) field = (JobState) i;
        return job_state_is_journaled(i) ? 0 : -EINVAL;
    case V_STATE:
        i = job_state_from_string(value);
        *(JobState *) field = (JobState) i;
        return i < 0 ? -EINVAL : 0;
    case V_OUTCOME:
        i = job_outcome_from_string(value);
        *(JobOutcome *) field = (JobOutcome) i;
        return i < 0 ? -EINVAL : 0;
    case V_UNSIGNED:
        if (parse_u32(value, &u32) < 0)
            return -EINVAL;
        *(unsigned *) field = u32;
        return 0;
    case V_U64:
        return parse_u64(value, field) < 0 ? -EINVAL : 0;
    }
    return -EINVAL;
}

/* Parses "key=value" lines from *cursor up to a blank line or the end into record. Keys not in
 * keys[] are ignored: a later writer of the same version may add some. -EINVAL with *reason on
 * a bad line or a key given twice. Keys seen are counted in *seen as bits of their index. */
static int parse_block(char **cursor, const record_key *keys, void *record, unsigned *seen,
                       const char **reason) {
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
        for (unsigned i = 0; keys[i].key; i++) {
            if (!streq(p, keys[i].key))
                continue;
            if (*seen & (1u << i)) {
                *reason = "a key given twice";
                return -EINVAL;
            }
            *seen |= 1u << i;
            if (assign(&keys[i], record, eq + 1) < 0) {
                *reason = "a bad value";
                return -EINVAL;
            }
        }
        p = next;
    }
    while (*p == '\n')
        p++;
    *cursor = p;
    return 0;
}

static int check_required(const record_key *keys, unsigned seen, const char **reason) {
    for (unsigned i = 0; keys[i].key; i++)
        if (keys[i].required && !(seen & (1u << i))) {
            *reason = "a missing key";
            return -EINVAL;
        }
    return 0;
}

/* Checks and strips "NAME VERSION\n", after refusing a text with NUL bytes (it is read as a C
 * string). */
static int parse_header(char **cursor, size_t size, const char *name, unsigned oldest,
                        unsigned newest, const char **reason) {
    char *p = *cursor, *eol = strchrnul(p, '\n');
    size_t n = strlen(name);
    uint32_t version;
    char num[16];

    if (memchr(p, '\0', size)) {
        *reason = "it holds NUL bytes";
        return -EINVAL;
    }
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
    if (version < oldest || version > newest) {
        *reason = "an unknown format version";
        return -EPROTONOSUPPORT;
    }
    *cursor = *eol ? eol + 1 : eol;
    return 0;
}

int state_job_record_parse(char *text, size_t size, stdfu_job_record *ret, const char **reason) {
    stdfu_job_record r = {.phase = JOB_QUEUED};
    unsigned seen = 0;
    char *p = text;

    int k = parse_header(&p, size, JOB_HEADER, FORMAT_OLDEST, FORMAT_VERSION, reason);
    if (k < 0)
        return k;
    k = parse_block(&p, job_keys, &r, &seen, reason);
    if (k < 0)
        return k;
    if (*p) {
        *reason = "text after the record";
        return -EINVAL;
    }
    k = check_required(job_keys, seen, reason);
    if (k < 0)
        return k;
    *ret = r;
    return 0;
}

int state_history_parse(char *text, size_t size, const char *path, state_history_add_fn add,
                        void *userdata, const char **reason) {
    char *p = text;

    int r = parse_header(&p, size, HISTORY_HEADER, FORMAT_OLDEST, FORMAT_VERSION, reason);
    if (r < 0)
        return r;
    while (*p == '\n')
        p++;
    for (unsigned index = 1; *p; index++) {
        stdfu_history_entry e = { .phase = _JOB_STATE_INVALID };
        const char *why = NULL;
        unsigned seen = 0;
        /* Cut the entry out first, so that a bad one can be skipped whole. */
        char *end = strstr(p, "\n\n"), *next = end ? end + 2 : p + strlen(p), *block = p;
        if (end)
            end[1] = '\0';
        if (parse_block(&block, history_keys, &e, &seen, &why) < 0 ||
            check_required(history_keys, seen, &why) < 0)
            log_warning("Skipping history entry %u of %s: %s.", index, path, why);
        else {
            if (e.phase < 0) /* version 1: the outcome says where it ended */
                e.phase = job_state_of_outcome(e.outcome);
            add(userdata, &e);
        }
        for (p = next; *p == '\n'; p++)
            ;
    }
    return 0;
}
