/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* --scenario FILE.yaml: the command line's options in a file, plus timed events.
 *
 *     hub: ppps                  # ppps | ganged | none, or a list: [ppps, ganged]
 *     devices:                   # each a mapping of SPEC keys
 *       - port: 1-1.2
 *         profile: f072
 *         leave: vanish
 *     events:                    # control commands, MS after COMMAND started
 *       - at: 500
 *         do: unplug 1-1.2
 *
 * Errors name FILE:LINE:COLUMN. */

#include <stdbool.h>
#include <stddef.h>

#include "spec.h"

typedef struct sim_event {
    unsigned at_ms;
    char *command;
    char *where; /* "FILE:LINE:COLUMN" of the event, for messages */
} sim_event;

typedef struct sim_scenario {
    sim_hub_list hubs;
    sim_device_spec *devices;
    size_t n_devices;
    sim_event *events;
    size_t n_events;
} sim_scenario;

int sim_scenario_load(const char *path, sim_scenario *ret, char *err, size_t err_size);
void sim_scenario_done(sim_scenario *s);
