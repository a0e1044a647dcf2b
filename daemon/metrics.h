/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Prometheus metrics in the node_exporter textfile collector format: DIR/stdfu.prom, replaced
 * atomically (a temporary file in DIR renamed over it, so a scrape never reads half a file).
 *
 * Written on change and coalesced: a change schedules one write, at most one a second, and
 * nothing is scheduled while nothing changes (no wake-ups when idle). Counters count since the
 * daemon started (Prometheus handles the reset on a restart). Progress is not a metric: it
 * would rewrite the file every second of an update for nothing a scrape every 15 s can use. */

#include "daemon.h"
#include "jobs.h"

#define STDFU_METRICS_DEFAULT_DIR "/var/lib/prometheus/node-exporter"
#define STDFU_METRICS_FILE "stdfu.prom"

typedef struct Metrics Metrics;

/* dir: where node_exporter's textfile collector looks. Writes the first file soon after. */
int metrics_new(Metrics **ret, Daemon *d, const char *dir);
Metrics *metrics_free(Metrics *m);
/* Writes to dir from now on (the manifest's metrics-directory changed): the file in the old
 * directory is removed, the counters go on. */
int metrics_set_dir(Metrics *m, const char *dir);
const char *metrics_path(const Metrics *m); /* DIR/stdfu.prom */

/* Something a metric shows changed (a device property, the manifest): write soon. A no-op
 * when metrics are off (d->metrics NULL). */
void metrics_changed(Daemon *d);
/* One attempt of port's job ended so: the counters and the port's last update. */
void metrics_job_finished(Daemon *d, const char *port, const JobResult *res);

/* The file's text (for the unit test and the writer): a malloc'ed string, or NULL (ENOMEM). */
char *metrics_format(Daemon *d, Metrics *m);
