/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "json-writer.h"

#include <inttypes.h>

void json_init(json_writer *w, FILE *f) {
    *w = (json_writer) { .f = f };
}

/* Before any value: a comma after a sibling, nothing after a key. */
static void value_prefix(json_writer *w) {
    if (w->after_key) {
        w->after_key = false;
        return;
    }
    if (w->need_comma[w->depth])
        fputc(',', w->f);
    w->need_comma[w->depth] = true;
}

static void open_container(json_writer *w, char c) {
    value_prefix(w);
    fputc(c, w->f);
    if (w->depth + 1 < JSON_MAX_DEPTH)
        w->depth++;
    w->need_comma[w->depth] = false;
}

static void close_container(json_writer *w, char c) {
    fputc(c, w->f);
    if (w->depth > 0)
        w->depth--;
    if (w->depth == 0)
        fputc('\n', w->f);
}

void json_begin_object(json_writer *w) {
    open_container(w, '{');
}
void json_end_object(json_writer *w) {
    close_container(w, '}');
}
void json_begin_array(json_writer *w) {
    open_container(w, '[');
}
void json_end_array(json_writer *w) {
    close_container(w, ']');
}

static void write_escaped(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
        switch (*p) {
        case '"':
            fputs("\\\"", f);
            break;
        case '\\':
            fputs("\\\\", f);
            break;
        case '\n':
            fputs("\\n", f);
            break;
        case '\t':
            fputs("\\t", f);
            break;
        case '\r':
            fputs("\\r", f);
            break;
        default:
            if (*p < 0x20)
                fprintf(f, "\\u%04x", *p);
            else
                fputc(*p, f);
        }
    }
    fputc('"', f);
}

void json_key(json_writer *w, const char *key) {
    value_prefix(w);
    write_escaped(w->f, key);
    fputc(':', w->f);
    w->after_key = true;
}

void json_string(json_writer *w, const char *s) {
    value_prefix(w);
    if (s)
        write_escaped(w->f, s);
    else
        fputs("null", w->f);
}

void json_uint(json_writer *w, uint64_t v) {
    value_prefix(w);
    fprintf(w->f, "%" PRIu64, v);
}

void json_double(json_writer *w, double v) {
    value_prefix(w);
    fprintf(w->f, "%.6g", v);
}

void json_bool(json_writer *w, bool v) {
    value_prefix(w);
    fputs(v ? "true" : "false", w->f);
}

void json_null(json_writer *w) {
    value_prefix(w);
    fputs("null", w->f);
}

void json_kv_string(json_writer *w, const char *key, const char *s) {
    json_key(w, key);
    json_string(w, s);
}
void json_kv_uint(json_writer *w, const char *key, uint64_t v) {
    json_key(w, key);
    json_uint(w, v);
}
void json_kv_bool(json_writer *w, const char *key, bool v) {
    json_key(w, key);
    json_bool(w, v);
}
void json_kv_double(json_writer *w, const char *key, double v) {
    json_key(w, key);
    json_double(w, v);
}
