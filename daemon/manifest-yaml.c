/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Walking libyaml documents for the manifest: syntax errors, typed scalars, mappings checked
 * against a table of keys, and the error list with FILE:LINE:COLUMN for every message. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "manifest-internal.h"
#include "util/parse-util.h"

/* ---- errors -------------------------------------------------------------------------------- */

void add_error_line(loader *l, char *line, bool force) {
    if (!line) {
        l->oom = true;
        return;
    }
    if (l->n_errors >= STDFU_MAX_ERRORS && !force) {
        l->n_dropped++;
        free(line);
        return;
    }
    char **p = reallocarray(l->errors, l->n_errors + 2, sizeof *p);
    if (!p) {
        free(line);
        l->oom = true;
        return;
    }
    l->errors = p;
    l->errors[l->n_errors++] = line;
    l->errors[l->n_errors] = NULL;
}

/* msg with every "quoted" part (values, keys, paths: the file's content) as "...". */
static char *redact_quoted(const char *msg) {
    char *r = malloc(strlen(msg) * 4 + 1), *out = r;
    bool inside = false;
    if (!r)
        return NULL;
    for (const char *p = msg; *p; p++) {
        if (*p == '"') {
            if (!inside)
                out = stpcpy(out, "\"...");
            else
                *out++ = '"';
            inside = !inside;
        } else if (!inside)
            *out++ = *p;
    }
    *out = '\0';
    return r;
}

_printf_(4, 0) static void add_errorv(loader *l, const char *where, bool in_file,
                                      const char *format, va_list ap) {
    char *msg = NULL, *line = NULL;
    if (vasprintf(&msg, format, ap) < 0) {
        l->oom = true;
        return;
    }
    /* ManifestErrors are readable by anyone: of a file that is not, they say where and why,
     * never what it holds (a manifest symlinked to /etc/shadow must not leak its lines). */
    if (in_file && l->private_file) {
        char *hidden = redact_quoted(msg);
        free(msg);
        if (!hidden) {
            l->oom = true;
            return;
        }
        msg = hidden;
    }
    if (asprintf(&line, "%s: %s", where, msg) < 0)
        line = NULL;
    free(msg);
    add_error_line(l, line, false);
}

/* "FILE:LINE:COLUMN", 1-based as editors count (libyaml's marks are 0-based). */
static void format_mark(char *buf, size_t size, const char *file, const yaml_mark_t *mark) {
    snprintf(buf, size, "%s:%zu:%zu", file, mark->line + 1, mark->column + 1);
}

_printf_(3, 0) static void error_atv(loader *l, const yaml_mark_t *mark, const char *format,
                                     va_list ap) {
    char where[PATH_MAX + 64];
    format_mark(where, sizeof where, l->file, mark);
    add_errorv(l, where, true, format, ap);
}

void error_at(loader *l, const yaml_mark_t *mark, const char *format, ...) {
    va_list ap;
    va_start(ap, format);
    error_atv(l, mark, format, ap);
    va_end(ap);
}

void error_in(loader *l, const char *where, const char *format, ...) {
    va_list ap;
    va_start(ap, format);
    add_errorv(l, where, false, format, ap);
    va_end(ap);
}

char *origin_of(loader *l, const yaml_mark_t *mark) {
    char where[PATH_MAX + 64];
    format_mark(where, sizeof where, l->file, mark);
    char *s = strdup(where);
    if (!s)
        l->oom = true;
    return s;
}

int value_error(parse_ctx *c, yaml_node_t *n, const char *format, ...) {
    va_list ap;
    va_start(ap, format);
    error_atv(c->l, &n->start_mark, format, ap);
    va_end(ap);
    c->n_errors++;
    return -EINVAL;
}

/* ---- values -------------------------------------------------------------------------------- */

const char *node_kind_buf(const yaml_node_t *n, char buf[static NODE_KIND_MAX]) {
    switch (n->type) {
    case YAML_MAPPING_NODE: return "a mapping";
    case YAML_SEQUENCE_NODE: return "a list";
    default: break;
    }
    const char *s = (const char *) n->data.scalar.value;
    if (strlen(s) > NODE_KIND_MAX - 8)
        snprintf(buf, NODE_KIND_MAX, "\"%.*s...\"", NODE_KIND_MAX - 8, s);
    else
        snprintf(buf, NODE_KIND_MAX, "\"%s\"", s);
    return buf;
}

bool scalar_is_null(const yaml_node_t *n) {
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    for (size_t i = 0; i < ELEMENTSOF(nulls); i++)
        if (streq((const char *) n->data.scalar.value, nulls[i]))
            return true;
    return false;
}

/* The text of a scalar node, or NULL after reporting why there is none. */
const char *scalar(parse_ctx *c, const char *path, yaml_node_t *n, const char *expected) {
    if (n->type != YAML_SCALAR_NODE) {
        value_error(c, n, "%s: expected %s, not %s", path, expected, node_kind(n));
        return NULL;
    }
    if (scalar_is_null(n)) {
        value_error(c, n, "%s: has no value (expected %s)", path, expected);
        return NULL;
    }
    const char *s = (const char *) n->data.scalar.value;
    if (strlen(s) != n->data.scalar.length) {
        value_error(c, n, "%s: contains a NUL character", path);
        return NULL;
    }
    return s;
}

/* Numbers and booleans are plain scalars: a quoted "3" is a string in YAML. */
const char *plain_scalar(parse_ctx *c, const char *path, yaml_node_t *n, const char *expected) {
    const char *s = scalar(c, path, n, expected);
    if (s && n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) {
        value_error(c, n, "%s: expected %s without quotes, not the string \"%s\"", path,
                    expected, s);
        return NULL;
    }
    return s;
}

int get_bool(parse_ctx *c, const char *path, yaml_node_t *n, bool *ret) {
    const char *s = plain_scalar(c, path, n, "true or false");
    if (!s)
        return -EINVAL;
    if (streq(s, "true") || streq(s, "True") || streq(s, "TRUE"))
        *ret = true;
    else if (streq(s, "false") || streq(s, "False") || streq(s, "FALSE"))
        *ret = false;
    else
        return value_error(c, n, "%s: expected true or false, not \"%s\"", path, s);
    return 0;
}

int get_uint(parse_ctx *c, const char *path, yaml_node_t *n, uint32_t min, uint32_t max,
             uint32_t *ret) {
    char expected[64];
    uint32_t v;
    if (max == UINT32_MAX)
        snprintf(expected, sizeof expected, "an address from 0x%x to 0x%x", min, max);
    else
        snprintf(expected, sizeof expected, "a whole number from %u to %u", min, max);
    const char *s = plain_scalar(c, path, n, expected);
    if (!s)
        return -EINVAL;
    if (parse_u32(s, &v) < 0 || v < min || v > max)
        return value_error(c, n, "%s: expected %s, not \"%s\"", path, expected, s);
    *ret = v;
    return 0;
}

int get_string(parse_ctx *c, const char *path, yaml_node_t *n, char **ret) {
    const char *s = scalar(c, path, n, "a string");
    if (!s)
        return -EINVAL;
    if (!*s)
        return value_error(c, n, "%s: is empty", path);
    char *copy = strdup(s);
    if (!copy) {
        c->l->oom = true;
        return -ENOMEM;
    }
    free(*ret);
    *ret = copy;
    return 0;
}

/* ---- mappings ------------------------------------------------------------------------------ */

static void known_keys(const field *fields, char *buf, size_t size) {
    size_t n = 0;
    buf[0] = '\0';
    for (const field *f = fields; f->key && n < size; f++)
        n += (size_t) snprintf(buf + n, size - n, "%s%s", n ? ", " : "", f->key);
}

static const field *find_field(const field *fields, const char *key) {
    for (const field *f = fields; f->key; f++)
        if (streq(f->key, key))
            return f;
    return NULL;
}

/* "firmware" + "sha256" -> "firmware.sha256"; the top of a rule has no prefix. */
static void key_path(char *buf, size_t size, const char *section, const char *key) {
    if (section)
        snprintf(buf, size, "%s.%s", section, key);
    else
        snprintf(buf, size, "%s", key);
}

yaml_node_t *node_at(loader *l, int index) {
    return yaml_document_get_node(l->doc, index);
}

/* A key earlier in the same mapping with the same text, or NULL. */
yaml_node_t *earlier_key(loader *l, yaml_node_t *map, yaml_node_pair_t *pair) {
    yaml_node_t *key = node_at(l, pair->key);
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < pair; p++) {
        yaml_node_t *k = node_at(l, p->key);
        if (k && k->type == YAML_SCALAR_NODE &&
            streq((const char *) k->data.scalar.value, (const char *) key->data.scalar.value))
            return k;
    }
    return NULL;
}

/* Walks a mapping against its keys: unknown keys, duplicates, wrong types and missing
 * required keys are all reported, and parsing goes on so that every error is found. */
void parse_mapping(parse_ctx *c, yaml_node_t *map, const field *fields,
                   const char *section, const char *what) {
    loader *l = c->l;
    char path[128], known[256];

    if (map->type != YAML_MAPPING_NODE) {
        if (section)
            value_error(c, map, "%s: expected a mapping of keys, not %s", section,
                        node_kind(map));
        else
            value_error(c, map, "expected a rule (a mapping of keys), not %s", node_kind(map));
        return;
    }
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *key = node_at(l, p->key), *value = node_at(l, p->value);
        if (!key || !value)
            continue;
        if (key->type != YAML_SCALAR_NODE) {
            value_error(c, key, "keys must be plain names, not %s", node_kind(key));
            continue;
        }
        const char *name = (const char *) key->data.scalar.value;
        yaml_node_t *first = earlier_key(l, map, p);
        if (first) {
            value_error(c, key, "duplicate key \"%s\" (first given at line %zu)", name,
                        first->start_mark.line + 1);
            continue;
        }
        const field *f = find_field(fields, name);
        if (!f) {
            known_keys(fields, known, sizeof known);
            value_error(c, key, "unknown key \"%s\" in %s (known keys: %s)", name, what, known);
            continue;
        }
        key_path(path, sizeof path, section, f->key);
        c->nodes[f->id] = value;
        unsigned before = c->n_errors;
        if (f->children)
            parse_mapping(c, value, f->children, f->key, f->key);
        else
            f->parse(c, f, path, value);
        c->bad[f->id] = c->n_errors > before;
    }
    for (const field *f = fields; f->key; f++)
        if (f->required && !c->nodes[f->id]) {
            key_path(path, sizeof path, section, f->key);
            value_error(c, map, "missing required key \"%s\"", path);
            c->bad[f->id] = true;
        }
}

/* ---- documents ----------------------------------------------------------------------------- */

/* libyaml reports reader errors (bad UTF-8) by byte offset only. */
static yaml_mark_t mark_of_offset(const uint8_t *data, size_t size, size_t offset) {
    yaml_mark_t m = {0};
    for (size_t i = 0; i < offset && i < size; i++) {
        if (data[i] == '\n') {
            m.line++;
            m.column = 0;
        } else
            m.column++;
    }
    return m;
}

/* Offset of the first byte that does not start a valid UTF-8 sequence, or size. libyaml
 * reports the byte where it noticed, which may be the line's end: point at the culprit. */
static size_t first_bad_utf8(const uint8_t *d, size_t size) {
    for (size_t i = 0; i < size;) {
        size_t n = d[i] < 0x80 ? 1 : (d[i] & 0xe0) == 0xc0 ? 2 : (d[i] & 0xf0) == 0xe0 ? 3
                                                          : (d[i] & 0xf8) == 0xf0 ? 4 : 0;
        if (n == 0 || i + n > size)
            return i;
        for (size_t k = 1; k < n; k++)
            if ((d[i + k] & 0xc0) != 0x80)
                return i;
        i += n;
    }
    return size;
}

static void report_syntax_error(loader *l, const yaml_parser_t *p, const uint8_t *data,
                                size_t size) {
    yaml_mark_t mark = p->problem_mark;
    if (p->error == YAML_READER_ERROR) {
        size_t bad = first_bad_utf8(data, size);
        mark = mark_of_offset(data, size, bad < size ? bad : p->problem_offset);
        if (bad < size && l->private_file) {
            error_at(l, &mark, "invalid YAML: %s: a byte is not valid UTF-8 here",
                     strna(p->problem));
            return;
        }
        if (bad < size) {
            error_at(l, &mark, "invalid YAML: %s: byte 0x%02x is not valid UTF-8 here",
                     strna(p->problem), data[bad]);
            return;
        }
    }
    if (p->context)
        error_at(l, &mark, "invalid YAML: %s (%s that starts at line %zu column %zu)",
                 strna(p->problem), p->context, p->context_mark.line + 1,
                 p->context_mark.column + 1);
    else
        error_at(l, &mark, "invalid YAML: %s", strna(p->problem));
}

/* The offset where flow collections ([ and {) nest deeper than MAX_FLOW_DEPTH, or size. libyaml
 * takes time quadratic in the depth (minutes for 400k levels, on the main loop), and no
 * manifest needs more than a few, so a deeper file is refused before libyaml sees it. Quoted
 * scalars and comments do not count; a bracket inside a plain scalar does, which can only
 * refuse a file that is absurd anyway. */
#define MAX_FLOW_DEPTH 64u
static size_t too_deep_at(const uint8_t *data, size_t size) {
    unsigned depth = 0;
    char quote = 0;
    bool comment = false;
    for (size_t i = 0; i < size; i++) {
        uint8_t c = data[i], prev = i ? data[i - 1] : '\n';
        if (comment) {
            comment = c != '\n';
        } else if (quote) {
            if (quote == '"' && c == '\\')
                i++;
            else if (c == (uint8_t) quote)
                quote = 0;
        } else if (c == '#' && strchr(" \t\n", prev)) {
            comment = true;
        } else if ((c == '"' || c == '\'') && strchr(" \t\n[{,:-", prev)) {
            quote = (char) c;
        } else if (c == '[' || c == '{') {
            if (++depth > MAX_FLOW_DEPTH)
                return i;
        } else if ((c == ']' || c == '}') && depth > 0)
            depth--;
    }
    return size;
}

void parse_yaml(loader *l, const uint8_t *data, size_t size, document_parser parse_document) {
    yaml_parser_t parser;
    yaml_document_t doc;

    size_t deep = too_deep_at(data, size);
    if (deep < size) {
        yaml_mark_t mark = mark_of_offset(data, size, deep);
        error_at(l, &mark, "invalid YAML: lists and mappings nested deeper than %u levels",
                 MAX_FLOW_DEPTH);
        return;
    }

    if (!yaml_parser_initialize(&parser)) {
        l->oom = true;
        return;
    }
    yaml_parser_set_input_string(&parser, data, size);
    if (!yaml_parser_load(&parser, &doc)) {
        report_syntax_error(l, &parser, data, size);
        yaml_parser_delete(&parser);
        return;
    }
    l->doc = &doc;
    parse_document(l, yaml_document_get_root_node(&doc));
    l->doc = NULL;
    yaml_document_delete(&doc);

    /* One document per file: a second one would silently be ignored otherwise. */
    if (!yaml_parser_load(&parser, &doc))
        report_syntax_error(l, &parser, data, size);
    else {
        yaml_node_t *root = yaml_document_get_root_node(&doc);
        if (root)
            error_at(l, &doc.start_mark, "a second YAML document (\"---\"): a manifest file "
                     "holds one");
        yaml_document_delete(&doc);
    }
    yaml_parser_delete(&parser);
}
