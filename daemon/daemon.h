/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The daemon's context. The main thread owns everything here and runs one sd-event loop:
 * D-Bus, the single udev monitor (udev.c), timers, signals and the manifest inotify watch.
 * Worker threads (jobs.c) touch none of it; they talk to the main loop through messages. */

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "manifest.h"
#include "util/error.h"
#include "util/macro.h"
#include "util/time-util.h"

typedef struct Daemon Daemon;
typedef struct Device Device;
typedef struct DeviceTable DeviceTable;
typedef struct DeviceMonitor DeviceMonitor;
typedef struct JobQueue JobQueue;
typedef struct Job Job;
typedef struct Metrics Metrics;

#define STDFU_BUS_NAME "io.stdfu1"
#define STDFU_MANAGER_PATH "/io/stdfu1"
#define STDFU_DEVICE_PREFIX "/io/stdfu1/device"
#define STDFU_MANAGER_IFACE "io.stdfu1.Manager"
#define STDFU_DEVICE_IFACE "io.stdfu1.Device"

#define DEFAULT_PARALLEL 4
#define MAX_PARALLEL 64

typedef struct DaemonSettings {
    char *bus;           /* NULL or "system", "session", or a D-Bus address */
    char *manifest_path; /* NULL: STDFU_MANIFEST_PATH (lib/util/config.h) */
    char *manifest_dir;  /* NULL: STDFU_MANIFEST_DIR */
    char *state_dir;     /* NULL: STDFU_STATE_DIR */
    unsigned parallel;   /* how many updates run at once */
    char *metrics_dir;   /* NULL: no metrics (metrics.h) */
} DaemonSettings;

struct Daemon {
    DaemonSettings settings;
    sd_event *event;
    sd_bus *bus;
    DeviceTable *devices;       /* device.c */
    DeviceMonitor *monitor;     /* udev.c */
    JobQueue *jobs;             /* jobs.c */
    Metrics *metrics;           /* metrics.c, NULL when off */

    /* Manifest: the last good one stays in force when a reload fails. */
    stdfu_manifest *manifest;   /* NULL: none loaded yet (no rules) */
    char **manifest_errors;     /* NULL-terminated, shown on D-Bus */
    int inotify_fd;
    int wd_manifest_parent, wd_manifest_dir; /* inotify watches, -1 when none */
    int wd_manifest_dir_parent; /* sees the directory created (may equal wd_manifest_parent) */
    char *manifest_basename, *manifest_dir_basename;
    sd_event_source *inotify_source;
    sd_event_source *reload_timer; /* coalesces bursts of inotify events */

    struct stdfu_state *state;  /* job journal and history (state.h) */
    /* Why new jobs are refused (Manager.JobsRefused): the last job record could not be
     * written (a full or missing state directory). NULL while records can be written; while
     * set, refused_timer tries the devices again now and then (policy.c). */
    char *jobs_refused;
    sd_event_source *refused_timer;
    sd_bus_slot *device_slot;

    bool ready;                 /* READY=1 sent */
    bool stopping;
    char *last_status;          /* last STATUS= sent, to send only changes */
};

int daemon_new(Daemon **ret, const DaemonSettings *settings);
Daemon *daemon_free(Daemon *d);
DEFINE_TRIVIAL_CLEANUP_FUNC(Daemon *, daemon_free);

/* Connects to the bus, enumerates devices, resumes unfinished jobs, sends READY=1. */
int daemon_start(Daemon *d);
int daemon_run(Daemon *d);

/* Reloads the manifest; on failure keeps the old one and records the errors. Returns 0 when
 * the new manifest was taken, a negative errno otherwise. */
int daemon_reload(Daemon *d);

/* Sends STATUS= when it changed ("3 devices, 1 updating"). */
void daemon_update_status(Daemon *d);

void settings_done(DaemonSettings *s);
