/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "spec.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "umock/umock.h"
#include "util/macro.h"

void sim_spec_init(sim_device_spec *s) {
    *s = (sim_device_spec) {};
    sim_device_config_init(&s->config);
}

int sim_spec_set(sim_device_spec *s, const char *key, const char *value, char *err,
                 size_t err_size) {
    int r = sim_device_config_set(&s->config, key, value, err, err_size);
    if (r < 0)
        return r;
    if (streq(key, "port"))
        s->has_port = true;
    return 0;
}

int sim_spec_parse(sim_device_spec *s, const char *spec, char *err, size_t err_size) {
    char *copy = strdup(spec), *saveptr = NULL;
    int r = 0;

    if (!copy)
        return -ENOMEM;
    for (char *item = strtok_r(copy, ",", &saveptr); item && r == 0;
         item = strtok_r(NULL, ",", &saveptr)) {
        char *eq = strchr(item, '=');
        if (!eq || eq == item) {
            snprintf(err, err_size, "expected key=value, got '%s'", item);
            r = -EINVAL;
            break;
        }
        *eq = '\0';
        r = sim_spec_set(s, item, eq + 1, err, err_size);
    }
    free(copy);
    return r;
}

static const char *const hub_kinds[] = {
    [SIM_HUB_NONE] = "none",
    [SIM_HUB_PPPS] = "ppps",
    [SIM_HUB_GANGED] = "ganged",
};

int sim_hub_kind_from_string(const char *s, sim_hub_kind *ret) {
    for (size_t i = 0; i < ELEMENTSOF(hub_kinds); i++)
        if (streq(s, hub_kinds[i])) {
            *ret = (sim_hub_kind) i;
            return 0;
        }
    return -EINVAL;
}

const char *sim_hub_kind_to_string(sim_hub_kind k) {
    return (size_t) k < ELEMENTSOF(hub_kinds) ? hub_kinds[k] : "?";
}

int sim_hub_list_add(sim_hub_list *l, const char *kind, char *err, size_t err_size) {
    sim_hub_kind k;

    if (sim_hub_kind_from_string(kind, &k) < 0) {
        snprintf(err, err_size, "unknown hub kind '%s': expected ppps, ganged or none", kind);
        return -EINVAL;
    }
    if (l->given && (k == SIM_HUB_NONE || l->n == 0)) {
        snprintf(err, err_size, "'none' (no hub) cannot be combined with another hub");
        return -EINVAL;
    }
    l->given = true;
    if (k == SIM_HUB_NONE)
        return 0;
    if (l->n >= SIM_BUS_MAX_HUBS) {
        snprintf(err, err_size, "at most %u hubs (root ports 1-1 .. 1-%u): %u devices fit on "
                 "their ports and the root ports", SIM_BUS_MAX_HUBS, SIM_BUS_MAX_HUBS,
                 SIM_BUS_MAX_DEVICES);
        return -E2BIG;
    }
    l->kinds[l->n++] = k;
    return 0;
}

static bool port_taken(const sim_device_spec *specs, size_t n, const char *port) {
    for (size_t i = 0; i < n; i++)
        if ((specs[i].has_port || specs[i].config.port[0]) && streq(specs[i].config.port, port))
            return true;
    return false;
}

static int next_port(const sim_device_spec *specs, size_t n, size_t n_hubs, char *buf,
                     size_t size) {
    for (size_t h = 1; h <= n_hubs; h++)
        for (unsigned i = 1; i <= SIM_HUB_PORTS; i++) {
            snprintf(buf, size, "1-%zu.%u", h, i);
            if (!port_taken(specs, n, buf))
                return 0;
        }
    for (size_t i = n_hubs + 1; i <= SIM_BUS_ROOT_PORTS; i++) {
        snprintf(buf, size, "1-%zu", i);
        if (!port_taken(specs, n, buf))
            return 0;
    }
    return -ENOSPC;
}

int sim_spec_assign_ports(sim_device_spec *specs, size_t n, size_t n_hubs, char *err,
                          size_t err_size) {
    /* Ports of specs without port= are the model's default: forget them first. */
    for (size_t i = 0; i < n; i++)
        if (!specs[i].has_port)
            specs[i].config.port[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (specs[i].has_port)
            continue;
        char port[sizeof specs[i].config.port];
        if (next_port(specs, n, n_hubs, port, sizeof port) < 0) {
            snprintf(err, err_size, "no free port left for device %zu (%zu hub ports and root "
                     "ports 1-%zu .. 1-%u)%s", i + 1, n_hubs * SIM_HUB_PORTS, n_hubs + 1,
                     SIM_BUS_ROOT_PORTS, n_hubs < SIM_BUS_MAX_HUBS ? ": add a hub (--hub)" : "");
            return -ENOSPC;
        }
        memcpy(specs[i].config.port, port, sizeof port);
        specs[i].has_port = true;
    }
    return 0;
}
