/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "metrics.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "device.h"
#include "lifecycle.h"
#include "util/fileio.h"
#include "util/log.h"

/* node_exporter reads the file on every scrape; more than one write a second buys nothing. */
#define METRICS_MIN_INTERVAL_USEC USEC_PER_SEC

/* What a port's last finished attempt did. Kept after the device record goes (the series
 * stays until the daemon restarts, like a counter). */
typedef struct PortStats {
    struct PortStats *next;
    char *port;
    uint64_t attempts;
    usec_t last_started, last_finished; /* CLOCK_REALTIME, 0: none yet */
} PortStats;

struct Metrics {
    Daemon *daemon;
    char *path;                 /* DIR/stdfu.prom */
    sd_event_source *timer;     /* the pending write; NULL when idle */
    usec_t last_write;          /* CLOCK_MONOTONIC */
    uint64_t updates[_JOB_OUTCOME_MAX];
    uint64_t attempts;
    uint64_t steps[_STDFU_UPDATE_STEP_MAX];
    PortStats *ports;
};

static int on_write(sd_event_source *s, uint64_t usec, void *userdata);

static void schedule(Metrics *m) {
    if (m->timer)
        return; /* the pending write will carry this change too */
    usec_t due = m->last_write ? m->last_write + METRICS_MIN_INTERVAL_USEC : 0;
    /* A time in the past fires on the next iteration: after the change that caused it, so a
     * burst of setters in one iteration makes one write. */
    int r = sd_event_add_time(m->daemon->event, &m->timer, CLOCK_MONOTONIC, MAX(due, 1u), 0,
                              on_write, m);
    if (r < 0)
        log_warning_errno(r, "Cannot schedule the metrics write: %m");
}

int metrics_new(Metrics **ret, Daemon *d, const char *dir) {
    Metrics *m = calloc(1, sizeof *m);
    if (!m)
        return -ENOMEM;
    m->daemon = d;
    if (asprintf(&m->path, "%s/%s", dir, STDFU_METRICS_FILE) < 0) {
        free(m);
        return -ENOMEM;
    }
    schedule(m);
    *ret = m;
    return 0;
}

int metrics_set_dir(Metrics *m, const char *dir) {
    char *path = NULL;
    if (asprintf(&path, "%s/%s", dir, STDFU_METRICS_FILE) < 0)
        return -ENOMEM;
    if (streq(path, m->path)) {
        free(path);
        return 0;
    }
    /* The old file would show frozen values to whoever still scrapes it. */
    if (unlink(m->path) < 0 && errno != ENOENT)
        log_warning_errno(errno, "Cannot remove the old metrics %s: %m", m->path);
    free_and_replace(m->path, path);
    schedule(m);
    return 0;
}

const char *metrics_path(const Metrics *m) {
    return m->path;
}

Metrics *metrics_free(Metrics *m) {
    if (!m)
        return NULL;
    sd_event_source_disable_unref(m->timer);
    while (m->ports) {
        PortStats *p = m->ports;
        m->ports = p->next;
        free(p->port);
        free(p);
    }
    free(m->path);
    return mfree(m);
}

void metrics_changed(Daemon *d) {
    if (d && d->metrics)
        schedule(d->metrics);
}

static PortStats *port_stats(Metrics *m, const char *port) {
    for (PortStats *p = m->ports; p; p = p->next)
        if (streq(p->port, port))
            return p;
    PortStats *p = calloc(1, sizeof *p);
    if (!p || !(p->port = strdup(port))) {
        free(p);
        return NULL;
    }
    p->next = m->ports;
    m->ports = p;
    return p;
}

void metrics_job_finished(Daemon *d, const char *port, const JobResult *res) {
    Metrics *m = d ? d->metrics : NULL;
    if (!m)
        return;
    if (res->outcome >= 0 && res->outcome < _JOB_OUTCOME_MAX)
        m->updates[res->outcome]++;
    m->attempts++;
    for (stdfu_update_step s = STDFU_UPDATE_STEP_NONE + 1; s < _STDFU_UPDATE_STEP_MAX; s++)
        m->steps[s] += res->steps[s];
    PortStats *p = port_stats(m, port);
    if (p) {
        p->attempts++;
        p->last_started = res->started;
        p->last_finished = res->finished;
    } else
        log_oom();
    schedule(m);
}

/* A label value: backslash, double quote and newline escaped, as the text format asks. */
static void put_label(FILE *f, const char *name, const char *value) {
    fprintf(f, "%s=\"", name);
    for (const char *c = value ? value : ""; *c; c++)
        switch (*c) {
        case '\\': fputs("\\\\", f); break;
        case '"':  fputs("\\\"", f); break;
        case '\n': fputs("\\n", f); break;
        default:   fputc(*c, f);
        }
    fputc('"', f);
}

static void header(FILE *f, const char *name, const char *type, const char *help) {
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void format_devices(FILE *f, Daemon *d) {
    header(f, "stdfu_device_info", "gauge",
           "A device stdfud knows, by USB port; always 1, the facts are labels.");
    for (Device *dev = device_table_first(d->devices); dev; dev = device_next(dev)) {
        fputs("stdfu_device_info{", f);
        put_label(f, "port", device_port(dev));
        fputc(',', f);
        put_label(f, "product", device_facts(dev)->product);
        fputc(',', f);
        put_label(f, "mode", device_mode_to_string(device_mode(dev)));
        fputc(',', f);
        put_label(f, "running_version", device_running_version(dev));
        fputc(',', f);
        put_label(f, "target_version", device_target_version(dev));
        fputc(',', f);
        put_label(f, "state", job_state_to_string(device_state(dev)));
        fputs("} 1\n", f);
    }
    /* One series per state, 1 for the device's: alerts need no regular expressions. */
    header(f, "stdfu_device_state", "gauge", "1 for the state the device's update is in.");
    for (Device *dev = device_table_first(d->devices); dev; dev = device_next(dev))
        for (JobState s = 0; s < _JOB_STATE_MAX; s++) {
            fputs("stdfu_device_state{", f);
            put_label(f, "port", device_port(dev));
            fputc(',', f);
            put_label(f, "state", job_state_to_string(s));
            fprintf(f, "} %d\n", device_state(dev) == s);
        }
    header(f, "stdfu_device_attempt", "gauge",
           "The number of the device's current or last attempt of its update (0: none).");
    for (Device *dev = device_table_first(d->devices); dev; dev = device_next(dev)) {
        fputs("stdfu_device_attempt{", f);
        put_label(f, "port", device_port(dev));
        fprintf(f, "} %u\n", device_attempt(dev));
    }
}

static void format_ports(FILE *f, Metrics *m) {
    header(f, "stdfu_device_update_attempts_total", "counter",
           "Update attempts that ended on the port since stdfud started.");
    for (PortStats *p = m->ports; p; p = p->next) {
        fputs("stdfu_device_update_attempts_total{", f);
        put_label(f, "port", p->port);
        fprintf(f, "} %" PRIu64 "\n", p->attempts);
    }
    header(f, "stdfu_device_last_update_duration_seconds", "gauge",
           "How long the port's last update attempt took.");
    for (PortStats *p = m->ports; p; p = p->next) {
        fputs("stdfu_device_last_update_duration_seconds{", f);
        put_label(f, "port", p->port);
        usec_t t = p->last_finished > p->last_started ? p->last_finished - p->last_started : 0;
        fprintf(f, "} %.3f\n", (double) t / USEC_PER_SEC);
    }
    header(f, "stdfu_device_last_update_timestamp_seconds", "gauge",
           "When the port's last update attempt ended (Unix time).");
    for (PortStats *p = m->ports; p; p = p->next) {
        fputs("stdfu_device_last_update_timestamp_seconds{", f);
        put_label(f, "port", p->port);
        fprintf(f, "} %.3f\n", (double) p->last_finished / USEC_PER_SEC);
    }
}

static void format_counters(FILE *f, Daemon *d, Metrics *m) {
    header(f, "stdfu_updates_total", "counter",
           "Update attempts that ended since stdfud started, by outcome.");
    for (JobOutcome o = 0; o < _JOB_OUTCOME_MAX; o++) {
        fputs("stdfu_updates_total{", f);
        put_label(f, "outcome", job_outcome_to_string(o));
        fprintf(f, "} %" PRIu64 "\n", m->updates[o]);
    }
    header(f, "stdfu_update_attempts_total", "counter",
           "Update attempts that ended since stdfud started.");
    fprintf(f, "stdfu_update_attempts_total %" PRIu64 "\n", m->attempts);
    header(f, "stdfu_recovery_steps_total", "counter",
           "Steps of the recovery ladder taken since stdfud started, by step.");
    for (stdfu_update_step s = STDFU_UPDATE_STEP_NONE + 1; s < _STDFU_UPDATE_STEP_MAX; s++) {
        fputs("stdfu_recovery_steps_total{", f);
        put_label(f, "step", stdfu_update_step_to_string(s));
        fprintf(f, "} %" PRIu64 "\n", m->steps[s]);
    }
    size_t n = 0;
    for (char **e = d->manifest_errors; e && *e; e++)
        n++;
    header(f, "stdfu_manifest_errors", "gauge",
           "Errors of the last manifest load (the previous good manifest stays in force).");
    fprintf(f, "stdfu_manifest_errors %zu\n", n);
}

char *metrics_format(Daemon *d, Metrics *m) {
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    if (!f)
        return NULL;
    format_devices(f, d);
    format_ports(f, m);
    format_counters(f, d, m);
    if (fclose(f) != 0)
        return mfree(buf);
    return buf;
}

static int on_write(sd_event_source *s, uint64_t usec, void *userdata) {
    Metrics *m = userdata;
    (void) s, (void) usec;

    m->timer = sd_event_source_disable_unref(m->timer);
    m->last_write = now_monotonic();
    _cleanup_free_ char *text = metrics_format(m->daemon, m);
    if (!text)
        return log_oom();
    /* 0644: node_exporter runs as another user. */
    int r = write_file_atomic(m->path, text, strlen(text), 0644);
    if (r < 0)
        log_warning_errno(r, "Cannot write the metrics %s: %m", m->path);
    return 0;
}
