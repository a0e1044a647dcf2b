/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Declarations shared by the manifest's source files, not part of its API (manifest.h):
 *
 *     manifest.c           the set: main file + manifest.d, rules across files, the object
 *     manifest-match.c     versions, decisions, which rule matches a device, enum names
 *     manifest-firmware.c  the firmware a rule names: read, SHA-256, image, suffix, layout
 *     manifest-rule.c      the rule schema: keys, defaults, values, checks across keys; settings
 *     manifest-yaml.c      libyaml documents: typed values, mappings of keys, errors with marks
 *
 * The short names below are global symbols of libstdfud.a; every other daemon module prefixes
 * its own (job_, device_, bus_...), so a clash would be a loud "multiple definition". */

#include <yaml.h>

#include "image/layout.h"
#include "manifest.h"

struct stdfu_manifest {
    unsigned n_ref;
    stdfu_rule **rules;
    size_t n_rules;
    stdfu_manifest_settings settings;
    char **files;
    size_t n_files;
};

/* The reverse of lib's stdfu_enter_kind_to_string() and stdfu_image_format_to_string():
 * the value named s, or -EINVAL. */
int manifest_enter_kind(const char *s);
int manifest_image_format(const char *s);

/* ---- loading ------------------------------------------------------------------------------- */

/* Where each rule came from, while loading. */
typedef struct rule_meta {
    unsigned file_index;
    bool broken;       /* it has errors of its own: no point comparing it with others */
    char *name_origin; /* "FILE:LINE:COLUMN" of its name */
} rule_meta;

typedef struct loader {
    stdfu_manifest *m;
    rule_meta *meta;          /* parallel to m->rules */
    size_t n_meta;
    char **errors;
    size_t n_errors;
    size_t n_dropped;         /* past STDFU_MAX_ERRORS */
    bool oom;

    const char *file;         /* the file being read */
    bool private_file;        /* not readable by everyone: its content is never quoted */
    char *base_dir;           /* its directory: firmware paths are relative to it */
    unsigned file_index;
    yaml_document_t *doc;
} loader;

/* Parsing state of one mapping tree (a rule, or the settings): which keys were given and
 * where their values are. */
typedef enum field_id {
    F_NAME, F_REPLACE, F_PORT, F_APPLICATION, F_APP_ID, F_APP_SERIAL,
    F_ENTER, F_ENTER_METHOD, F_ENTER_REPORT,
    F_BOOTLOADER, F_BL_ID, F_BL_ALT, F_BL_LAYOUT, F_BL_ADOPT,
    F_FIRMWARE, F_FW_FILE, F_FW_SHA256, F_FW_VERSION, F_FW_FORMAT, F_FW_ADDRESS,
    F_VERSION_SOURCE, F_RETRIES, F_TIMEOUTS, F_T_ENTER, F_T_LEAVE, F_T_GRACE,
    F_ALLOW_DOWNGRADE, F_DIFFERENTIAL,
    F_MAX_PARALLEL_JOBS, F_HISTORY_SIZE, F_RETRY_DELAY, F_RETRY_DELAY_MAX, F_METRICS_DIR,
    _F_MAX,
} field_id;

typedef struct parse_ctx {
    loader *l;
    stdfu_rule *rule;                    /* NULL for the settings */
    stdfu_manifest_settings *settings;
    yaml_node_t *nodes[_F_MAX];          /* value node of each key given */
    bool bad[_F_MAX];                    /* that value was refused */
    bool replace;
    bool has_address;
    uint32_t address;
    stdfu_image_format format;
    stdfu_layout layout;
    bool has_layout;
    unsigned n_errors;                   /* errors reported in this tree */
} parse_ctx;

typedef struct field field;
typedef int (*value_parser)(parse_ctx *c, const field *f, const char *path, yaml_node_t *n);

struct field {
    const char *key;
    field_id id;
    value_parser parse;       /* NULL for a section */
    const field *children;    /* a section's keys, NULL-key terminated */
    bool required;
};

/* ---- errors (manifest-yaml.c) -------------------------------------------------------------- */

/* Appends a line to l->errors (taking it; NULL means allocation failed). Past STDFU_MAX_ERRORS
 * only counted, unless force (the final "... and N more" line). */
void add_error_line(loader *l, char *line, bool force);
/* An error at a place in the current file. */
_printf_(3, 4) void error_at(loader *l, const yaml_mark_t *mark, const char *format, ...);
/* An error about a whole file, or at an origin string "FILE:LINE:COLUMN". */
_printf_(3, 4) void error_in(loader *l, const char *where, const char *format, ...);
/* "FILE:LINE:COLUMN" of mark in the current file, malloc'd; NULL (and l->oom) on failure. */
char *origin_of(loader *l, const yaml_mark_t *mark);
/* An error at a node of the tree c parses (counted in c->n_errors). Returns -EINVAL. */
_printf_(3, 4) int value_error(parse_ctx *c, yaml_node_t *n, const char *format, ...);

/* "a mapping", "a list", or the scalar itself in quotes (shortened), for "..., not X". */
#define NODE_KIND_MAX 64
const char *node_kind_buf(const yaml_node_t *n, char buf[static NODE_KIND_MAX]);
#define node_kind(n) node_kind_buf((n), (char[NODE_KIND_MAX]) {0})

/* ---- values (manifest-yaml.c) -------------------------------------------------------------- */

/* Each reports its own error (naming path, the key's dotted name) and returns NULL / <0. */
bool scalar_is_null(const yaml_node_t *n);
const char *scalar(parse_ctx *c, const char *path, yaml_node_t *n, const char *expected);
const char *plain_scalar(parse_ctx *c, const char *path, yaml_node_t *n, const char *expected);
int get_bool(parse_ctx *c, const char *path, yaml_node_t *n, bool *ret);
/* max UINT32_MAX asks for an address (the message says so). */
int get_uint(parse_ctx *c, const char *path, yaml_node_t *n, uint32_t min, uint32_t max,
             uint32_t *ret);
/* A non-empty string, replacing *ret. */
int get_string(parse_ctx *c, const char *path, yaml_node_t *n, char **ret);

/* ---- documents (manifest-yaml.c) ----------------------------------------------------------- */

yaml_node_t *node_at(loader *l, int index);
/* A key earlier in the same mapping with the same text, or NULL. */
yaml_node_t *earlier_key(loader *l, yaml_node_t *map, yaml_node_pair_t *pair);
/* Walks map against fields (section: the key path prefix, NULL at the top of a rule; what:
 * its name in messages), setting c->nodes[] and c->bad[] and calling each field's parser. */
void parse_mapping(parse_ctx *c, yaml_node_t *map, const field *fields,
                   const char *section, const char *what);

typedef void (*document_parser)(loader *l, yaml_node_t *root);
/* Parses one file's text (l->file) and hands its document to parse_document; syntax errors
 * and a second document are reported as errors of l. */
void parse_yaml(loader *l, const uint8_t *data, size_t size, document_parser parse_document);

/* ---- firmware (manifest-firmware.c) -------------------------------------------------------- */

/* Whether every key the firmware check depends on was given and accepted. */
bool firmware_keys_ok(const parse_ctx *c);
/* Reads c->rule's firmware file once and checks it (SHA-256, image, alt, suffix, layout),
 * reporting each problem at the key that causes it. */
void load_firmware(parse_ctx *c);

/* ---- rules and settings (manifest-rule.c) -------------------------------------------------- */

/* A rule with every default set (calloc'd), or NULL. */
stdfu_rule *rule_new(void);
stdfu_rule *rule_free(stdfu_rule *r); /* returns NULL */
/* Fills c->rule from a rule's mapping, then runs the checks that span keys (enter report,
 * adopt without port, version vs version-source). Every problem is reported. */
void parse_rule_keys(parse_ctx *c, yaml_node_t *node);
/* The "settings" mapping into l->m->settings: a later file overrides an earlier one per key. */
void parse_settings(loader *l, yaml_node_t *node);
