/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A tiny streaming JSON writer for --json output: keeps track of commas, escapes strings. */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define JSON_MAX_DEPTH 16

typedef struct json_writer {
    FILE *f;
    unsigned depth;
    bool need_comma[JSON_MAX_DEPTH];
    bool after_key;
} json_writer;

void json_init(json_writer *w, FILE *f);
void json_begin_object(json_writer *w);
void json_end_object(json_writer *w);
void json_begin_array(json_writer *w);
void json_end_array(json_writer *w);
void json_key(json_writer *w, const char *key);
void json_string(json_writer *w, const char *s); /* NULL -> null */
void json_uint(json_writer *w, uint64_t v);
void json_double(json_writer *w, double v);
void json_bool(json_writer *w, bool v);
void json_null(json_writer *w);
/* key + value shorthands */
void json_kv_string(json_writer *w, const char *key, const char *s);
void json_kv_uint(json_writer *w, const char *key, uint64_t v);
void json_kv_bool(json_writer *w, const char *key, bool v);
void json_kv_double(json_writer *w, const char *key, double v);
