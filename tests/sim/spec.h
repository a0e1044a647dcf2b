/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* --device SPEC ("key=value,key=value"), --hub KIND (once per hub) and port assignment. The keys themselves
 * belong to the model (sim_device_config_set); this file knows only the syntax and `port`. */

#include <stdbool.h>
#include <stddef.h>

#include "model/model.h"
#include "umock/umock.h"

typedef struct sim_device_spec {
    sim_device_config config;
    bool has_port; /* port= given; otherwise the next free port is taken */
} sim_device_spec;

void sim_spec_init(sim_device_spec *s);
/* One key=value (also from a scenario file). err gets a sentence for the user. */
int sim_spec_set(sim_device_spec *s, const char *key, const char *value, char *err,
                 size_t err_size);
/* A whole SPEC; an empty one is the default device. */
int sim_spec_parse(sim_device_spec *s, const char *spec, char *err, size_t err_size);

int sim_hub_kind_from_string(const char *s, sim_hub_kind *ret);
const char *sim_hub_kind_to_string(sim_hub_kind k);

/* The hubs, one per --hub KIND (or scenario `hub:` item), at 1-1, 1-2, ... in that order.
 * "none" means no hub at all and cannot be combined with another. */
typedef struct sim_hub_list {
    sim_hub_kind kinds[SIM_BUS_MAX_HUBS];
    size_t n;
    bool given; /* at least one KIND, "none" included */
} sim_hub_list;

int sim_hub_list_add(sim_hub_list *l, const char *kind, char *err, size_t err_size);

/* Gives every spec without port= the first port no other spec names: the hubs' ports first
 * (1-1.1 .. 1-1.7, then 1-2.1 .. 1-2.7), then the root ports after the hubs (1-(H+1) ..
 * 1-15). */
int sim_spec_assign_ports(sim_device_spec *specs, size_t n, size_t n_hubs, char *err,
                          size_t err_size);
