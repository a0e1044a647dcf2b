/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Shows an update's progress. On a terminal: one status line redrawn in place (phase, bytes,
 * rate, time left) and the steps above it; otherwise one line per phase or step, so that logs
 * stay readable. */

#include <stdbool.h>
#include <stdio.h>

#include "update/update.h"
#include "util/time-util.h"

typedef struct progress {
    FILE *f;
    bool tty;
    bool quiet;
    stdfu_update_phase phase;      /* of the byte counts below */
    bool in_bytes;                 /* a byte phase is running */
    uint64_t done, total;
    usec_t phase_start, last_draw;
    bool line_drawn;               /* the in-place line is on screen (tty) */
} progress;

void progress_init(progress *p, FILE *f, bool tty, bool quiet);
/* Usable as stdfu_update_progress_fn with userdata = progress. */
void progress_event(const stdfu_update_event *ev, void *userdata);
/* Ends a byte phase still open (prints its summary) and clears the status line. */
void progress_finish(progress *p);

/* "45% 29.0/64.0 KiB 120.3 KiB/s 0:03 left" for done of total in elapsed. Exposed for tests. */
void progress_format_bytes(char *buf, size_t size, const char *phase, uint64_t done,
                           uint64_t total, usec_t elapsed);
/* "write: 65536 bytes in 0.52 s (123.1 KiB/s)". */
void progress_format_summary(char *buf, size_t size, const char *phase, uint64_t bytes,
                             usec_t elapsed);
