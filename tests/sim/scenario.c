/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "scenario.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "util/macro.h"
#include "util/parse-util.h"

typedef struct loader {
    const char *path;
    yaml_document_t *doc;
    sim_scenario *out;
    char *err;
    size_t err_size;
} loader;

static int fail_at(loader *l, const yaml_node_t *node, const char *format, ...) _printf_(3, 4);
static int fail_at(loader *l, const yaml_node_t *node, const char *format, ...) {
    char msg[400];
    va_list ap;

    va_start(ap, format);
    vsnprintf(msg, sizeof msg, format, ap);
    va_end(ap);
    snprintf(l->err, l->err_size, "%s:%zu:%zu: %s", l->path, node->start_mark.line + 1,
             node->start_mark.column + 1, msg);
    return -EINVAL;
}

static const char *scalar(const yaml_node_t *n) {
    return n && n->type == YAML_SCALAR_NODE ? (const char *) n->data.scalar.value : NULL;
}

static yaml_node_t *node(loader *l, int index) {
    return yaml_document_get_node(l->doc, index);
}

static int load_device(loader *l, yaml_node_t *map) {
    sim_device_spec spec;
    char msg[300];

    if (map->type != YAML_MAPPING_NODE)
        return fail_at(l, map, "a device is a mapping of SPEC keys (port: 1-1.2, ...)");
    sim_spec_init(&spec);
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = node(l, p->key), *v = node(l, p->value);
        if (!scalar(k))
            return fail_at(l, k, "a device key must be a plain word");
        if (!scalar(v))
            return fail_at(l, v, "the value of '%s' must be a plain value", scalar(k));
        if (sim_spec_set(&spec, scalar(k), scalar(v), msg, sizeof msg) < 0)
            return fail_at(l, v, "%s", msg);
    }
    sim_device_spec *d = reallocarray(l->out->devices, l->out->n_devices + 1, sizeof *d);
    if (!d)
        return -ENOMEM;
    l->out->devices = d;
    d[l->out->n_devices++] = spec;
    return 0;
}

static int load_event(loader *l, yaml_node_t *map) {
    const char *cmd = NULL;
    uint32_t at = 0;
    bool has_at = false;

    if (map->type != YAML_MAPPING_NODE)
        return fail_at(l, map, "an event is a mapping: {at: MS, do: COMMAND}");
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = node(l, p->key), *v = node(l, p->value);
        const char *key = scalar(k);
        if (key && streq(key, "at")) {
            if (!scalar(v) || parse_u32(scalar(v), &at) < 0)
                return fail_at(l, v, "'at' is a time in milliseconds");
            has_at = true;
        } else if (key && streq(key, "do")) {
            if (!scalar(v) || !*scalar(v))
                return fail_at(l, v, "'do' is a control command, e.g. \"unplug 1-1.2\"");
            cmd = scalar(v);
        } else
            return fail_at(l, k, "unknown event key '%s': expected 'at' or 'do'", strna(key));
    }
    if (!has_at || !cmd)
        return fail_at(l, map, "an event needs both 'at' and 'do'");

    sim_event *e = reallocarray(l->out->events, l->out->n_events + 1, sizeof *e);
    if (!e)
        return -ENOMEM;
    l->out->events = e;
    e += l->out->n_events++;
    *e = (sim_event) { .at_ms = at, .command = strdup(cmd) };
    if (asprintf(&e->where, "%s:%zu:%zu", l->path, map->start_mark.line + 1,
                 map->start_mark.column + 1) < 0)
        e->where = NULL;
    return e->command && e->where ? 0 : -ENOMEM;
}

static int load_list(loader *l, yaml_node_t *seq, const char *what,
                     int (*item)(loader *, yaml_node_t *)) {
    if (seq->type != YAML_SEQUENCE_NODE)
        return fail_at(l, seq, "'%s' is a list", what);
    for (yaml_node_item_t *i = seq->data.sequence.items.start; i < seq->data.sequence.items.top;
         i++) {
        int r = item(l, node(l, *i));
        if (r < 0)
            return r;
    }
    return 0;
}

/* `hub: KIND` or `hub: [KIND, KIND]`: one hub per item, like --hub. */
static int load_hubs(loader *l, yaml_node_t *v) {
    char err[200];

    if (scalar(v)) {
        if (sim_hub_list_add(&l->out->hubs, scalar(v), err, sizeof err) < 0)
            return fail_at(l, v, "'hub': %s", err);
        return 0;
    }
    if (v->type != YAML_SEQUENCE_NODE)
        return fail_at(l, v, "'hub' is one of ppps, ganged, none, or a list of them");
    for (yaml_node_item_t *i = v->data.sequence.items.start; i < v->data.sequence.items.top;
         i++) {
        yaml_node_t *item = node(l, *i);
        if (!scalar(item))
            return fail_at(l, item, "'hub' items are ppps or ganged");
        if (sim_hub_list_add(&l->out->hubs, scalar(item), err, sizeof err) < 0)
            return fail_at(l, item, "'hub': %s", err);
    }
    return 0;
}

static int load_top(loader *l) {
    yaml_node_t *root = yaml_document_get_root_node(l->doc);

    if (!root)
        return 0; /* an empty file: nothing set */
    if (root->type != YAML_MAPPING_NODE)
        return fail_at(l, root, "expected a mapping with 'hub', 'devices' and 'events'");
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = node(l, p->key), *v = node(l, p->value);
        const char *key = scalar(k);
        int r;
        if (key && streq(key, "hub"))
            r = load_hubs(l, v);
        else if (key && streq(key, "devices"))
            r = load_list(l, v, "devices", load_device);
        else if (key && streq(key, "events"))
            r = load_list(l, v, "events", load_event);
        else
            return fail_at(l, k, "unknown key '%s': expected hub, devices or events",
                           strna(key));
        if (r < 0)
            return r;
    }
    return 0;
}

int sim_scenario_load(const char *path, sim_scenario *ret, char *err, size_t err_size) {
    _cleanup_fclose_ FILE *f = fopen(path, "re");
    yaml_parser_t parser;
    yaml_document_t doc;
    int r;

    *ret = (sim_scenario) {};
    if (!f) {
        int e = errno;
        snprintf(err, err_size, "%s: %s", path, strerror(e));
        return -e;
    }
    if (!yaml_parser_initialize(&parser))
        return -ENOMEM;
    yaml_parser_set_input_file(&parser, f);
    if (!yaml_parser_load(&parser, &doc)) {
        snprintf(err, err_size, "%s:%zu:%zu: %s", path, parser.problem_mark.line + 1,
                 parser.problem_mark.column + 1, parser.problem ? parser.problem : "bad YAML");
        yaml_parser_delete(&parser);
        return -EINVAL;
    }
    loader l = { path, &doc, ret, err, err_size };
    r = load_top(&l);
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    if (r < 0)
        sim_scenario_done(ret);
    return r;
}

void sim_scenario_done(sim_scenario *s) {
    for (size_t i = 0; i < s->n_events; i++) {
        free(s->events[i].command);
        free(s->events[i].where);
    }
    free(s->events);
    free(s->devices);
    *s = (sim_scenario) {};
}
