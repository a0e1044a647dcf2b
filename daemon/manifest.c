/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "manifest-internal.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "read-file.h"
#include "util/config.h"
#include "util/fileio.h"
#include "util/log.h"

#define MANIFEST_MAX_FILE_SIZE (1024u * 1024u)

/* ---- the manifest object ------------------------------------------------------------------- */

static void strv_free(char **l, size_t n) {
    for (size_t i = 0; l && i < n; i++)
        free(l[i]);
    free(l);
}

void stdfu_manifest_errors_free(char **errors) {
    for (char **e = errors; e && *e; e++)
        free(*e);
    free(errors);
}

static stdfu_manifest *manifest_free(stdfu_manifest *m) {
    for (size_t i = 0; i < m->n_rules; i++)
        rule_free(m->rules[i]);
    free(m->rules);
    strv_free(m->files, m->n_files);
    free(m->settings.metrics_dir);
    free(m);
    return NULL;
}

stdfu_manifest *stdfu_manifest_ref(stdfu_manifest *m) {
    if (m)
        __atomic_add_fetch(&m->n_ref, 1, __ATOMIC_RELAXED);
    return m;
}

stdfu_manifest *stdfu_manifest_unref(stdfu_manifest *m) {
    if (m && __atomic_sub_fetch(&m->n_ref, 1, __ATOMIC_ACQ_REL) == 0)
        manifest_free(m);
    return NULL;
}

size_t stdfu_manifest_n_rules(const stdfu_manifest *m) {
    return m->n_rules;
}

const stdfu_rule *stdfu_manifest_rule(const stdfu_manifest *m, size_t i) {
    return i < m->n_rules ? m->rules[i] : NULL;
}

const stdfu_rule *stdfu_manifest_find_rule(const stdfu_manifest *m, const char *name) {
    for (size_t i = 0; name && i < m->n_rules; i++)
        if (streq(m->rules[i]->name, name))
            return m->rules[i];
    return NULL;
}

const stdfu_manifest_settings *stdfu_manifest_get_settings(const stdfu_manifest *m) {
    return &m->settings;
}

char *const *stdfu_manifest_files(const stdfu_manifest *m) {
    static char *const none[] = {NULL};
    return m->files ?: none;
}


/* ---- loading: rules across files ----------------------------------------------------------- */

static ssize_t find_rule_index(loader *l, const char *name) {
    for (size_t i = 0; i < l->m->n_rules; i++)
        if (streq(l->m->rules[i]->name, name))
            return (ssize_t) i;
    return -1;
}

static int append_rule(loader *l, stdfu_rule *r, bool broken, char *name_origin) {
    stdfu_rule **rules = reallocarray(l->m->rules, l->m->n_rules + 1, sizeof *rules);
    if (!rules)
        return -ENOMEM;
    l->m->rules = rules;
    rule_meta *meta = reallocarray(l->meta, l->m->n_rules + 1, sizeof *meta);
    if (!meta)
        return -ENOMEM;
    l->meta = meta;
    l->meta[l->m->n_rules] = (rule_meta) {l->file_index, broken, name_origin};
    l->m->rules[l->m->n_rules++] = r;
    l->n_meta = l->m->n_rules;
    return 0;
}

/* Adds a parsed rule under its name: a name may be used once per file; a later file may
 * replace an earlier file's rule only by saying so (replace: true). Takes r. */
static void register_rule(parse_ctx *c, stdfu_rule *r) {
    loader *l = c->l;
    yaml_node_t *name_node = c->nodes[F_NAME];
    ssize_t i = find_rule_index(l, r->name);
    char *name_origin = origin_of(l, &name_node->start_mark);

    if (!name_origin) {
        rule_free(r);
        return;
    }
    if (i >= 0 && (!c->replace || l->meta[i].file_index == l->file_index))
        value_error(c, name_node, "duplicate rule name \"%s\" (also at %s)%s", r->name,
                    l->meta[i].name_origin,
                    l->meta[i].file_index == l->file_index ? ""
                                                           : "; add \"replace: true\" to "
                                                             "replace it");
    else if (i < 0 && c->replace)
        value_error(c, c->nodes[F_REPLACE], "replace: no earlier file has a rule named \"%s\"",
                    r->name);
    else if (i >= 0) {
        /* The replacement takes the replaced rule's place in the matching order. */
        rule_free(l->m->rules[i]);
        free(l->meta[i].name_origin);
        l->m->rules[i] = r;
        l->meta[i] = (rule_meta) {l->file_index, c->n_errors > 0, name_origin};
        return;
    } else if (append_rule(l, r, c->n_errors > 0, name_origin) == 0)
        return;
    else
        l->oom = true;
    /* Refused (or out of memory): the rule is dropped. */
    free(name_origin);
    rule_free(r);
}


static void parse_rule(loader *l, yaml_node_t *node) {
    parse_ctx c = {.l = l, .format = STDFU_IMAGE_AUTO};
    stdfu_rule *r = rule_new();

    if (!r) {
        l->oom = true;
        return;
    }
    c.rule = r;
    parse_rule_keys(&c, node);
    if (node->type == YAML_MAPPING_NODE && firmware_keys_ok(&c))
        load_firmware(&c);
    if (c.has_layout)
        stdfu_layout_done(&c.layout);
    r->origin = origin_of(l, &node->start_mark);
    if (!c.nodes[F_NAME] || c.bad[F_NAME] || !r->origin) {
        rule_free(r);
        return;
    }
    register_rule(&c, r);
}

static void parse_rules(loader *l, yaml_node_t *node) {
    if (scalar_is_null(node))
        return;
    if (node->type != YAML_SEQUENCE_NODE) {
        error_at(l, &node->start_mark, "rules: expected a list of rules (lines starting with "
                 "\"- \"), not %s", node_kind(node));
        return;
    }
    for (yaml_node_item_t *i = node->data.sequence.items.start; i < node->data.sequence.items.top;
         i++) {
        yaml_node_t *item = node_at(l, *i);
        if (item)
            parse_rule(l, item);
    }
}

static void parse_document(loader *l, yaml_node_t *root) {
    if (!root || scalar_is_null(root))
        return; /* an empty file: nothing to do */
    if (root->type != YAML_MAPPING_NODE) {
        error_at(l, &root->start_mark, "expected a mapping with the keys \"settings\" and "
                 "\"rules\" at the top, not %s", node_kind(root));
        return;
    }
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
         p++) {
        yaml_node_t *key = node_at(l, p->key), *value = node_at(l, p->value);
        if (!key || !value)
            continue;
        const char *name = key->type == YAML_SCALAR_NODE ? (const char *) key->data.scalar.value
                                                         : "";
        yaml_node_t *first = key->type == YAML_SCALAR_NODE ? earlier_key(l, root, p) : NULL;
        if (first)
            error_at(l, &key->start_mark, "duplicate key \"%s\" (first given at line %zu)", name,
                     first->start_mark.line + 1);
        else if (streq(name, "rules"))
            parse_rules(l, value);
        else if (streq(name, "settings")) {
            if (!scalar_is_null(value))
                parse_settings(l, value);
        } else if (key->type != YAML_SCALAR_NODE)
            error_at(l, &key->start_mark, "keys must be plain names, not %s", node_kind(key));
        else
            error_at(l, &key->start_mark, "unknown top-level key \"%s\" (known keys: settings, "
                     "rules)", name);
    }
}


/* ---- loading: files ------------------------------------------------------------------------ */

static char *dir_of(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash)
        return strdup(".");
    if (slash == path)
        return strdup("/");
    return strndup(path, (size_t) (slash - path));
}

/* Returns 0 when read (or when missing and optional), <0 on allocation failure. */
static int load_file(loader *l, const char *path, bool missing_ok) {
    _cleanup_free_ uint8_t *data = NULL;
    size_t size;

    unsigned mode = 0;
    int r = read_regular_file_at(AT_FDCWD, path, MANIFEST_MAX_FILE_SIZE, false, &mode, &data,
                                 &size);
    if (r == -ENOENT && missing_ok) {
        log_debug("Manifest %s does not exist, skipping.", path);
        return 0;
    }
    if (r == -EFBIG) {
        error_in(l, path, "larger than %u KiB", MANIFEST_MAX_FILE_SIZE / 1024);
        return 0;
    }
    if (r < 0) {
        error_in(l, path, "cannot read: %s", read_regular_strerror(r));
        return 0;
    }
    char **files = reallocarray(l->m->files, l->m->n_files + 2, sizeof *files);
    if (!files)
        return -ENOMEM;
    l->m->files = files;
    if (!(files[l->m->n_files] = strdup(path)))
        return -ENOMEM;
    files[++l->m->n_files] = NULL;

    l->file = path;
    /* ManifestErrors are readable by anyone: a file that is not must not be quoted there. */
    l->private_file = !(mode & S_IROTH);
    l->file_index = (unsigned) l->m->n_files;
    free(l->base_dir);
    if (!(l->base_dir = dir_of(path)))
        return -ENOMEM;
    parse_yaml(l, data, size, parse_document);
    l->file = NULL;
    l->private_file = false;
    return 0;
}

static int yaml_name_filter(const struct dirent *de) {
    size_t n = strlen(de->d_name);
    return de->d_name[0] != '.' && n > 5 && streq(de->d_name + n - 5, ".yaml");
}

static int compare_names(const struct dirent **a, const struct dirent **b) {
    return strcmp((*a)->d_name, (*b)->d_name);
}

static int load_directory(loader *l, const char *dir) {
    struct dirent **list = NULL;
    int r = 0;

    int n = scandir(dir, &list, yaml_name_filter, compare_names);
    if (n < 0) {
        if (errno == ENOENT) {
            log_debug("Manifest directory %s does not exist, skipping.", dir);
            return 0;
        }
        error_in(l, dir, "cannot read directory: %s", strerror(errno));
        return 0;
    }
    for (int i = 0; i < n; i++) {
        char *path = NULL;
        struct stat st;
        if (r == 0 && asprintf(&path, "%s/%s", dir, list[i]->d_name) < 0)
            r = -ENOMEM;
        /* Directories named *.yaml and other oddities are not manifests; skip them quietly. */
        if (r == 0 && stat(path, &st) == 0 && !S_ISREG(st.st_mode))
            log_debug("Skipping %s: not a regular file.", path);
        else if (r == 0)
            r = load_file(l, path, false);
        free(path);
        free(list[i]);
    }
    free(list);
    return r;
}

/* A rule that comes after another with the same application id and the same globs can never
 * be chosen; two adoptable rules with the same bootloader id and port glob always collide. */
static void check_shadowed_rules(loader *l) {
    stdfu_rule **rules = l->m->rules;
    for (size_t j = 0; j < l->m->n_rules; j++)
        for (size_t i = 0; i < j && !l->meta[j].broken; i++) {
            if (l->meta[i].broken)
                continue;
            if (rules[i]->app_vid == rules[j]->app_vid && rules[i]->app_pid == rules[j]->app_pid &&
                streq_ptr(rules[i]->serial_glob, rules[j]->serial_glob) &&
                streq_ptr(rules[i]->port_glob, rules[j]->port_glob)) {
                error_in(l, rules[j]->origin, "rule \"%s\" can never match: rule \"%s\" (%s) "
                         "matches the same devices first", rules[j]->name, rules[i]->name,
                         rules[i]->origin);
                break;
            }
            if (rules[i]->adopt && rules[j]->adopt && rules[i]->dfu_vid == rules[j]->dfu_vid &&
                rules[i]->dfu_pid == rules[j]->dfu_pid &&
                streq_ptr(rules[i]->port_glob, rules[j]->port_glob)) {
                error_in(l, rules[j]->origin, "rules \"%s\" and \"%s\" (%s) both adopt "
                         "bootloaders on the same ports", rules[j]->name, rules[i]->name,
                         rules[i]->origin);
                break;
            }
        }
}

static void loader_done(loader *l) {
    for (size_t i = 0; i < l->n_meta; i++)
        free(l->meta[i].name_origin);
    free(l->meta);
    free(l->base_dir);
    if (l->m)
        manifest_free(l->m);
    stdfu_manifest_errors_free(l->errors);
}

int stdfu_manifest_load(const char *path, const char *dir, stdfu_manifest **ret,
                        char ***ret_errors) {
    loader l = {0};
    int r;

    if (ret_errors)
        *ret_errors = NULL;
    l.m = calloc(1, sizeof *l.m);
    if (!l.m)
        return -ENOMEM;
    l.m->n_ref = 1;

    r = load_file(&l, path ?: STDFU_MANIFEST_PATH, true);
    if (r == 0)
        r = load_directory(&l, dir ?: STDFU_MANIFEST_DIR);
    if (r == 0 && !l.oom)
        check_shadowed_rules(&l);
    if (r == 0 && l.oom)
        r = -ENOMEM;
    if (r == 0 && l.n_errors > 0) {
        if (l.n_dropped > 0) {
            char *line = NULL;
            if (asprintf(&line, "... and %zu more errors", l.n_dropped) < 0)
                line = NULL;
            add_error_line(&l, line, true);
        }
        if (ret_errors)
            *ret_errors = TAKE_PTR(l.errors);
        r = -EINVAL;
    }
    if (r == 0)
        *ret = TAKE_PTR(l.m);
    loader_done(&l);
    return r;
}
