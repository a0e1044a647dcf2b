/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A stdfu_transport that calls the emulator's device model directly, on a fake clock: the
 * engine runs against the model without USB, umockdev or sleeping. The link counts what the
 * engine did (requests by kind, time slept) so that tests can assert on the protocol. */

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "dfuse/transport.h"
#include "model/model.h"

typedef struct sim_link_stats {
    unsigned control;       /* every control transfer */
    unsigned getstatus;
    unsigned dnload_data;   /* DNLOAD with wBlockNum >= 2 and data */
    unsigned dnload_cmd;    /* DNLOAD with wBlockNum 0 */
    unsigned dnload_zero;   /* zero-length DNLOAD (leave) */
    unsigned set_address;
    unsigned erase_cmd;
    unsigned mass_erase;
    unsigned upload;
    unsigned abort_req;
    unsigned clrstatus;
    unsigned standard;      /* GET_DESCRIPTOR, SET_INTERFACE */
    unsigned resets;
    unsigned sleeps;
    usec_t slept_us;        /* total time slept */
    usec_t max_sleep_us;    /* longest single sleep */
    unsigned max_dnload_len;
    unsigned min_data_len;  /* smallest DNLOAD data block */
    unsigned timeouts;      /* transfers that hit their timeout */
} sim_link_stats;

typedef struct sim_link {
    sim_device *dev;        /* owned by the test */
    usec_t clock;           /* fake CLOCK_MONOTONIC */
    sim_link_stats stats;
    /* Cancel: set *cancel once this many data DNLOADs were sent (0: never). */
    atomic_bool *cancel;
    unsigned cancel_after_blocks;
    bool closed;
} sim_link;

/* A link for d at time now; *ret does not own link (the test keeps it on its stack). */
int sim_link_transport(sim_link *link, stdfu_transport **ret);

/* Device from a --device SPEC at time T0; fails the test on a bad spec. */
sim_device *sim_link_device(const char *spec, usec_t now);

/* Carries out the device's pending transition (leave, reset) as a front-end would, advancing
 * the clock; returns the mode it ended in (SIM_MODE_OFF when it stays away). */
sim_mode sim_link_follow(sim_link *link);
