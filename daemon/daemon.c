/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "daemon.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <systemd/sd-daemon.h>

#include "dbus-util.h"
#include "device.h"
#include "jobs.h"
#include "metrics.h"
#include "policy.h"
#include "runner.h"
#include "state.h"
#include "udev.h"
#include "util/config.h"
#include "util/log.h"

/* A burst of editor writes (temporary file, rename, chmod) becomes one reload. */
#define RELOAD_DELAY_USEC (200 * USEC_PER_MSEC)

void settings_done(DaemonSettings *s) {
    free(s->bus);
    free(s->manifest_path);
    free(s->manifest_dir);
    free(s->state_dir);
    free(s->metrics_dir);
    *s = (DaemonSettings) {};
}

static int strdup_or_default(const char *s, const char *def, char **ret) {
    *ret = strdup(s ? s : def);
    return *ret ? 0 : -ENOMEM;
}

int daemon_new(Daemon **ret, const DaemonSettings *settings) {
    _cleanup_(daemon_freep) Daemon *d = calloc(1, sizeof *d);
    int r;

    if (!d)
        return -ENOMEM;
    d->inotify_fd = -EBADF;
    d->wd_manifest_parent = d->wd_manifest_dir = d->wd_manifest_dir_parent = -1;
    if ((settings->bus && !(d->settings.bus = strdup(settings->bus))) ||
        strdup_or_default(settings->manifest_path, STDFU_MANIFEST_PATH,
                          &d->settings.manifest_path) < 0 ||
        strdup_or_default(settings->manifest_dir, STDFU_MANIFEST_DIR,
                          &d->settings.manifest_dir) < 0 ||
        strdup_or_default(settings->state_dir, STDFU_STATE_DIR, &d->settings.state_dir) < 0)
        return -ENOMEM;
    d->settings.parallel = settings->parallel ? settings->parallel : DEFAULT_PARALLEL;
    if (settings->metrics_dir && !(d->settings.metrics_dir = strdup(settings->metrics_dir)))
        return -ENOMEM;

    r = sd_event_default(&d->event);
    if (r < 0)
        return r;
    r = device_table_new(&d->devices, d);
    if (r < 0)
        return r;
    r = device_monitor_new(&d->monitor, d);
    if (r < 0)
        return r;
    r = job_queue_new(&d->jobs, d->event, d->settings.parallel, runner_run, d,
                      &policy_job_callbacks, d);
    if (r < 0)
        return r;
    *ret = TAKE_PTR(d);
    return 0;
}

Daemon *daemon_free(Daemon *d) {
    if (!d)
        return NULL;
    /* Workers first: they stop without reporting, so the journal keeps their jobs. */
    d->jobs = job_queue_free(d->jobs);
    d->monitor = device_monitor_free(d->monitor);
    d->devices = device_table_free(d->devices);
    d->metrics = metrics_free(d->metrics);
    d->manifest = stdfu_manifest_unref(d->manifest);
    stdfu_manifest_errors_free(d->manifest_errors);
    stdfu_state_free(d->state);
    sd_event_source_disable_unref(d->inotify_source);
    sd_event_source_disable_unref(d->reload_timer);
    sd_event_source_disable_unref(d->refused_timer);
    free(d->jobs_refused);
    if (d->inotify_fd >= 0)
        close(d->inotify_fd);
    free(d->manifest_basename);
    free(d->manifest_dir_basename);
    sd_bus_slot_unref(d->device_slot);
    sd_bus_flush_close_unref(d->bus);
    sd_event_unref(d->event);
    free(d->last_status);
    settings_done(&d->settings);
    free(d);
    return NULL;
}

void daemon_update_status(Daemon *d) {
    char status[160], queued[32] = "";
    unsigned n_devices = device_table_count(d->devices);
    unsigned n_updating = job_queue_running(d->jobs);
    unsigned n_queued = job_queue_pending(d->jobs);

    if (n_queued)
        snprintf(queued, sizeof queued, ", %u queued", n_queued);
    snprintf(status, sizeof status, "%u device%s, %u updating%s%s", n_devices,
             n_devices == 1 ? "" : "s", n_updating, queued,
             d->manifest_errors && d->manifest_errors[0] ? ", manifest has errors" : "");
    metrics_changed(d); /* the manifest's errors, the devices' states */
    if (streq_ptr(status, d->last_status))
        return;
    free(d->last_status);
    d->last_status = strdup(status);
    if (d->ready)
        (void) sd_notifyf(false, "STATUS=%s", status);
    bus_manager_emit_changed(d, "Devices", "UpdatingCount", "QueuedCount", NULL);
}

static void set_manifest_errors(Daemon *d, char **errors) {
    stdfu_manifest_errors_free(d->manifest_errors);
    d->manifest_errors = errors;
}

static char **single_error(const char *format, ...) _printf_(1, 2);
static char **single_error(const char *format, ...) {
    char **l = calloc(2, sizeof *l);
    va_list ap;
    va_start(ap, format);
    if (l && vasprintf(&l[0], format, ap) < 0)
        l[0] = NULL;
    va_end(ap);
    return l;
}

/* Loads manifest file + directory; on success replaces d->manifest, on errors keeps the old
 * one. Either way d->manifest_errors says what is wrong (empty when nothing). */
/* Metrics go to --metrics[=DIR] when given (the command line wins: it is what the admin typed
 * for this run), else to the manifest's metrics-directory, else nowhere. Called after every
 * manifest load: the directory may come, change or go with it. */
static void apply_metrics_dir(Daemon *d) {
    const char *dir = d->settings.metrics_dir;
    if (!dir && d->manifest)
        dir = stdfu_manifest_get_settings(d->manifest)->metrics_dir;
    if (!dir) {
        if (d->metrics) {
            log_info("Metrics are off (no metrics-directory in the manifest any more).");
            if (unlink(metrics_path(d->metrics)) < 0 && errno != ENOENT)
                log_warning_errno(errno, "Cannot remove %s: %m", metrics_path(d->metrics));
            d->metrics = metrics_free(d->metrics);
        }
        return;
    }
    int r = d->metrics ? metrics_set_dir(d->metrics, dir) : metrics_new(&d->metrics, d, dir);
    if (r < 0)
        log_warning_errno(r, "Cannot write metrics to %s: %m", dir);
}

static int load_manifest(Daemon *d) {
    stdfu_manifest *m = NULL;
    char **errors = NULL;

    int r = stdfu_manifest_load(d->settings.manifest_path, d->settings.manifest_dir, &m, &errors);
    if (r < 0) {
        if (!errors)
            errors = single_error("%s: cannot load the manifest: %s", d->settings.manifest_path,
                                  strerror(-r));
        for (char **e = errors; e && *e; e++)
            log_error("%s", *e);
        log_warning("The manifest was refused; %s.",
                    d->manifest ? "the previous one stays in force" : "no rules are in force");
        set_manifest_errors(d, errors);
        return r;
    }
    stdfu_manifest_errors_free(errors);
    set_manifest_errors(d, NULL);
    /* Running jobs hold their own reference (JobSpec.manifest); devices hold no rule. */
    stdfu_manifest_unref(d->manifest);
    d->manifest = m;

    const stdfu_manifest_settings *s = stdfu_manifest_get_settings(m);
    apply_metrics_dir(d);
    if (s->max_parallel_jobs)
        job_queue_set_parallel(d->jobs, s->max_parallel_jobs);
    if (s->history_size && d->state)
        (void) stdfu_state_set_history_size(d->state, s->history_size);
    log_info("Manifest loaded: %zu rule%s.", stdfu_manifest_n_rules(m),
             stdfu_manifest_n_rules(m) == 1 ? "" : "s");
    return 0;
}

int daemon_reload(Daemon *d) {
    log_info("Reloading the manifest.");
    int r = load_manifest(d);
    bus_manager_emit_changed(d, "ManifestErrors", "Rules", NULL);
    if (r >= 0) {
        /* What is ours may have changed: look at everything again. */
        (void) device_monitor_rescan(d->monitor);
        policy_evaluate_all(d, true);
    }
    daemon_update_status(d);
    return r;
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
    Daemon *d = userdata;

    if (si->ssi_signo == SIGHUP) {
        (void) sd_notify(false, "RELOADING=1");
        (void) daemon_reload(d);
        (void) sd_notify(false, "READY=1");
        return 0;
    }
    log_info("Received %s, stopping.", strsignal((int) si->ssi_signo));
    d->stopping = true;
    (void) sd_notify(false, "STOPPING=1");
    bus_manager_emit_changed(d, "State", NULL);
    return sd_event_exit(sd_event_source_get_event(s), 0);
}

static int on_reload_timer(sd_event_source *s, uint64_t usec, void *userdata) {
    Daemon *d = userdata;
    (void) s, (void) usec;
    d->reload_timer = sd_event_source_disable_unref(d->reload_timer);
    (void) daemon_reload(d);
    return 0;
}

#define INOTIFY_MASK                                                                       \
    (IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE | IN_ATTRIB |      \
     IN_ONLYDIR)

/* The manifest directory may not exist yet (or be removed and made again): its parent is
 * watched too, and the directory gets its watch once it appears. True when it did. */
static bool watch_manifest_dir(Daemon *d) {
    if (d->wd_manifest_dir >= 0)
        return false;
    d->wd_manifest_dir = inotify_add_watch(d->inotify_fd, d->settings.manifest_dir,
                                           INOTIFY_MASK);
    if (d->wd_manifest_dir < 0) {
        log_debug_errno(errno, "Not watching %s yet: %m", d->settings.manifest_dir);
        return false;
    }
    log_debug("Watching %s.", d->settings.manifest_dir);
    return true;
}

static bool inotify_event_matters(Daemon *d, const struct inotify_event *e) {
    bool matters = false;

    if (e->mask & IN_Q_OVERFLOW) {
        (void) watch_manifest_dir(d);
        return true;
    }
    if (e->wd == d->wd_manifest_dir && (e->mask & IN_IGNORED)) {
        d->wd_manifest_dir = -1; /* the directory is gone: wait for it in its parent */
        return true;
    }
    if (e->len == 0)
        return false;
    /* The main file's and the directory's parents are often one directory (one wd). */
    if (e->wd == d->wd_manifest_parent && streq(e->name, d->manifest_basename))
        matters = true;
    if (e->wd == d->wd_manifest_dir_parent && streq(e->name, d->manifest_dir_basename) &&
        (e->mask & (IN_CREATE | IN_MOVED_TO)) && watch_manifest_dir(d))
        matters = true; /* files may be in it already (moved in, or written before the watch) */
    if (e->wd == d->wd_manifest_dir) {
        size_t n = strlen(e->name);
        matters = matters || (n > 5 && streq(e->name + n - 5, ".yaml") && e->name[0] != '.');
    }
    return matters;
}

static int on_inotify(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
    Daemon *d = userdata;
    _Alignas(struct inotify_event) char buf[4096];
    bool reload = false;
    (void) s, (void) revents;

    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        for (char *p = buf; p < buf + n;) {
            const struct inotify_event *e = (const struct inotify_event *) p;
            if (inotify_event_matters(d, e))
                reload = true;
            p += sizeof *e + e->len;
        }
    }
    if (reload && !d->reload_timer) {
        int r = sd_event_add_time_relative(d->event, &d->reload_timer, CLOCK_MONOTONIC,
                                           RELOAD_DELAY_USEC, 0, on_reload_timer, d);
        if (r < 0)
            log_warning_errno(r, "Cannot schedule a manifest reload: %m");
    }
    return 0;
}

/* Watches the parent of path (for the entry named *ret_basename); -1 when it cannot. */
static int watch_parent(Daemon *d, const char *path, char **ret_basename) {
    char parent[PATH_MAX], base[PATH_MAX];

    snprintf(parent, sizeof parent, "%s", path);
    snprintf(base, sizeof base, "%s", path);
    *ret_basename = strdup(basename(base));
    if (!*ret_basename)
        return log_oom();
    int wd = inotify_add_watch(d->inotify_fd, dirname(parent), INOTIFY_MASK);
    if (wd < 0)
        log_debug_errno(errno, "Not watching %s: %m", parent);
    return wd;
}

static int setup_inotify(Daemon *d) {
    int r;

    d->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (d->inotify_fd < 0)
        return log_error_errno(errno, "Failed to create inotify instance: %m");

    /* Missing directories are not an error: the daemon then runs on what it loaded. */
    d->wd_manifest_parent = watch_parent(d, d->settings.manifest_path, &d->manifest_basename);
    if (!d->manifest_basename)
        return -ENOMEM;
    d->wd_manifest_dir_parent = watch_parent(d, d->settings.manifest_dir,
                                             &d->manifest_dir_basename);
    if (!d->manifest_dir_basename)
        return -ENOMEM;
    (void) watch_manifest_dir(d);

    r = sd_event_add_io(d->event, &d->inotify_source, d->inotify_fd, EPOLLIN, on_inotify, d);
    if (r < 0)
        return log_error_errno(r, "Failed to watch the manifest: %m");
    return 0;
}

static int connect_bus(Daemon *d) {
    const char *bus = d->settings.bus;
    int r;

    if (!bus || streq(bus, "system"))
        r = sd_bus_open_system(&d->bus);
    else if (streq(bus, "session"))
        r = sd_bus_open_user(&d->bus);
    else {
        r = sd_bus_new(&d->bus);
        if (r >= 0)
            r = sd_bus_set_address(d->bus, bus);
        if (r >= 0)
            r = sd_bus_set_bus_client(d->bus, true);
        if (r >= 0)
            r = sd_bus_start(d->bus);
    }
    if (r < 0)
        return log_error_errno(r, "Failed to connect to the %s bus: %m", bus ? bus : "system");

    /* Losing the bus means nobody can reach us any more: stop, systemd restarts us. */
    (void) sd_bus_set_exit_on_disconnect(d->bus, true);
    r = sd_bus_attach_event(d->bus, d->event, SD_EVENT_PRIORITY_NORMAL);
    if (r < 0)
        return log_error_errno(r, "Failed to attach the bus to the event loop: %m");
    return 0;
}

static int setup_signals(Daemon *d) {
    static const int signals[] = { SIGTERM, SIGINT, SIGHUP };
    sigset_t mask;

    sigemptyset(&mask);
    for (size_t i = 0; i < ELEMENTSOF(signals); i++)
        sigaddset(&mask, signals[i]);
    if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
        return -errno;
    for (size_t i = 0; i < ELEMENTSOF(signals); i++) {
        int r = sd_event_add_signal(d->event, NULL, signals[i], on_signal, d);
        if (r < 0)
            return log_error_errno(r, "Failed to handle signal %d: %m", signals[i]);
    }
    return 0;
}

int daemon_start(Daemon *d) {
    int r;

    r = setup_signals(d);
    if (r < 0)
        return r;
    /* Only pings while WATCHDOG_USEC is set; no wake-ups otherwise. */
    r = sd_event_set_watchdog(d->event, true);
    if (r < 0)
        log_warning_errno(r, "Failed to enable the watchdog: %m");

    r = stdfu_state_open(d->settings.state_dir, 0, &d->state);
    if (r < 0)
        return log_error_errno(r, "Failed to open the state directory %s: %m",
                               d->settings.state_dir);

    (void) load_manifest(d); /* errors are shown on D-Bus, the daemon runs on */
    apply_metrics_dir(d); /* also with no manifest: --metrics alone */
    r = setup_inotify(d);
    if (r < 0)
        return r;

    r = connect_bus(d);
    if (r < 0)
        return r;
    r = bus_manager_register(d);
    if (r < 0)
        return r;
    r = bus_device_register(d);
    if (r < 0)
        return r;

    /* The journal first: devices found by the enumeration then resume their jobs instead of
     * getting new ones (whose records would look like unfinished ones). */
    r = policy_resume_jobs(d);
    if (r < 0)
        return r;
    r = device_monitor_start(d->monitor);
    if (r < 0)
        return r;
    policy_evaluate_all(d, false);

    /* The name last: a client that sees it finds the devices already there. */
    r = sd_bus_request_name(d->bus, STDFU_BUS_NAME, 0);
    if (r < 0)
        return log_error_errno(r, "Failed to acquire the bus name %s: %m", STDFU_BUS_NAME);

    d->ready = true;
    free(d->last_status);
    d->last_status = NULL;
    daemon_update_status(d);
    (void) sd_notifyf(false, "READY=1\nSTATUS=%s", strna(d->last_status));
    log_info("stdfud ready on %s: %s.", d->settings.bus ? d->settings.bus : "system bus",
             strna(d->last_status));
    return 0;
}

int daemon_run(Daemon *d) {
    int r = sd_event_loop(d->event);
    if (r < 0)
        return log_error_errno(r, "Event loop failed: %m");
    /* A non-zero exit code is the bus going away (sd_bus_set_exit_on_disconnect): exit with a
     * failure so that Restart=on-failure brings us back once the bus is there again. */
    if (r > 0)
        return log_error_errno(ENOTCONN, "Lost the connection to the bus, exiting.");
    return 0;
}
