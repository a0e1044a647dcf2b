/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Live view of stdfud's devices, driven by D-Bus signals on an sd-event loop: the bus state
 * (the device table, the waits, when to end). Showing it is monitor-view.c's. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "monitor-internal.h"
#include "stdfuctl.h"
#include "util/log.h"

bool monitor_is_shown(const monitor *m, const mon_device *d) {
    if (m->n_show == 0 && m->n_waits == 0)
        return true;
    for (size_t i = 0; i < m->n_show; i++)
        if (device_props_match(&d->p, m->show[i]))
            return true;
    for (size_t i = 0; i < m->n_waits; i++)
        if (streq_ptr(d->p.port, m->waits[i].port))
            return true;
    return false;
}

/* ---- ending ----------------------------------------------------------------------------- */

/* redraw: show the final state once more (not after an error message: it would scroll away). */
static void end_full(monitor *m, int code, bool redraw) {
    if (m->ended)
        return;
    m->ended = true;
    monitor_view_end(m, redraw);
    (void) sd_event_exit(m->event, code);
}

static void end(monitor *m, int code) {
    end_full(m, code, true);
}

static void end_with_error(monitor *m, int code) {
    end_full(m, code, false);
}

static void end_with_bus_error(monitor *m, const sd_bus_error *e, int r, const char *method,
                               const char *device) {
    monitor_view_restore_terminal(m);
    end_with_error(m, stdfuctl_bus_error_or_exit(e, r, method, device));
}

static void check_end(monitor *m);

/* stdfud sets a device's last state, records the attempt on disk (fsync), then sends
 * UpdateFinished: a watch that ended on the state alone would miss the last device's
 * update-finished event. It waits for it, but not forever: a state that leaves the active ones
 * without a finished job (a queued job dropped with its device) sends none. */
#define FINISH_WAIT_USEC (10 * USEC_PER_SEC)

static int on_finish_timer(sd_event_source *s, uint64_t usec, void *userdata) {
    monitor *m = userdata;
    (void) s, (void) usec;

    m->finish_timer = sd_event_source_disable_unref(m->finish_timer);
    for (size_t i = 0; i < m->n_devices; i++)
        m->devices[i]->finishing = false;
    check_end(m);
    return 0;
}

static void arm_finish_timer(monitor *m) {
    if (m->finish_timer)
        return;
    if (sd_event_add_time_relative(m->event, &m->finish_timer, CLOCK_MONOTONIC, FINISH_WAIT_USEC,
                                   0, on_finish_timer, m) < 0)
        for (size_t i = 0; i < m->n_devices; i++)
            m->devices[i]->finishing = false; /* no timer: do not wait at all */
}

/* The ends that depend on the devices, checked after every change once everything is known. */
static void check_end(monitor *m) {
    if (!m->loaded || m->pending > 0 || m->ended)
        return;
    if (m->n_waits > 0) {
        int code = STDFU_EXIT_OK;
        for (size_t i = 0; i < m->n_waits; i++) {
            if (!m->waits[i].finished)
                return;
            if (code == STDFU_EXIT_OK)
                code = stdfuctl_outcome_to_exit(m->waits[i].outcome);
        }
        end(m, code);
        return;
    }
    for (size_t i = 0; i < m->n_devices; i++)
        if (monitor_is_shown(m, m->devices[i]) &&
            (device_state_is_active(m->devices[i]->p.state) || m->devices[i]->finishing)) {
            if (m->devices[i]->finishing)
                arm_finish_timer(m);
            return;
        }
    end(m, STDFU_EXIT_OK);
}

/* Once the first answers are in: every DEVICE the user named must exist. */
static void finish_loading(monitor *m) {
    if (m->loaded || m->pending > 0 || !m->started)
        return;
    m->loaded = true;
    for (size_t i = 0; i < m->n_show; i++) {
        bool found = false;
        for (size_t k = 0; k < m->n_devices && !found; k++)
            found = device_props_match(&m->devices[k]->p, m->show[i]);
        if (!found) {
            log_error("No device '%s' known to stdfud (see stdfuctl status).", m->show[i]);
            end_with_error(m, STDFU_EXIT_NO_DEVICE);
            return;
        }
    }
    monitor_view_loaded(m);
    check_end(m);
}

/* ---- the device table ------------------------------------------------------------------- */

static mon_device *mon_device_free(mon_device *d) {
    if (!d)
        return NULL;
    sd_bus_slot_unref(d->get_slot);
    device_props_done(&d->p);
    free(d->printed);
    free(d);
    return NULL;
}

static mon_device *find_device_by_path(monitor *m, const char *path) {
    for (size_t i = 0; i < m->n_devices; i++)
        if (streq_ptr(m->devices[i]->p.object_path, path))
            return m->devices[i];
    return NULL;
}

static int on_get_all(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
    mon_device *d = userdata;
    monitor *m = d->m;
    (void) ret_error;

    d->get_slot = sd_bus_slot_unref(d->get_slot);
    m->pending--;
    const sd_bus_error *e = sd_bus_message_get_error(reply);
    if (e) {
        /* Gone between ListDevices/DeviceAdded and GetAll: its DeviceRemoved follows. */
        if (!sd_bus_error_has_names(e, SD_BUS_ERROR_UNKNOWN_OBJECT, SD_BUS_ERROR_UNKNOWN_INTERFACE))
            end_with_bus_error(m, e, -EIO, "GetAll", d->p.port);
    } else if (device_props_read(reply, &d->p) < 0) {
        log_error("stdfud sent unexpected properties for %s.", str_or(d->p.port, "?"));
        end(m, STDFU_EXIT_FAILURE);
    } else {
        d->loaded = true;
        d->printed_decile = -1;
        if (m->loaded)
            monitor_view_device_changed(m, d, true);
    }
    finish_loading(m);
    check_end(m);
    return 0;
}

static int insert_device(monitor *m, mon_device *d) {
    mon_device **l = realloc(m->devices, (m->n_devices + 1) * sizeof *l);
    size_t i;
    if (!l)
        return -ENOMEM;
    m->devices = l;
    /* Natural order of port paths: 1-1.2 before 1-1.10. */
    for (i = m->n_devices; i > 0 && strverscmp(l[i - 1]->p.port, d->p.port) > 0; i--)
        l[i] = l[i - 1];
    l[i] = d;
    m->n_devices++;
    return 0;
}

/* A device from ListDevices or DeviceAdded: known once, its properties fetched. */
static int add_device(monitor *m, const char *port, const char *path) {
    if (find_device_by_path(m, path))
        return 0;
    mon_device *d = calloc(1, sizeof *d);
    if (!d)
        return -ENOMEM;
    d->m = m;
    d->p.port = strdup(port);
    d->p.object_path = strdup(path);
    if (!d->p.port || !d->p.object_path || insert_device(m, d) < 0) {
        mon_device_free(d);
        return -ENOMEM;
    }
    int r = sd_bus_call_method_async(m->bus, &d->get_slot, STDFU_BUS_NAME, path,
                                     "org.freedesktop.DBus.Properties", "GetAll", on_get_all, d,
                                     "s", STDFU_DEVICE_IFACE);
    if (r < 0)
        return r;
    m->pending++;
    return 0;
}

static void remove_device(monitor *m, const char *path) {
    for (size_t i = 0; i < m->n_devices; i++) {
        mon_device *d = m->devices[i];
        if (!streq_ptr(d->p.object_path, path))
            continue;
        if (d->get_slot)
            m->pending--;
        monitor_view_device_removed(m, d);
        memmove(m->devices + i, m->devices + i + 1, (m->n_devices - i - 1) * sizeof *m->devices);
        m->n_devices--;
        mon_device_free(d);
        monitor_view_list_changed(m);
        return;
    }
}

/* ---- signals ---------------------------------------------------------------------------- */

static int on_properties_changed(sd_bus_message *msg, void *userdata, sd_bus_error *ret_error) {
    monitor *m = userdata;
    const char *iface;
    (void) ret_error;

    mon_device *d = find_device_by_path(m, sd_bus_message_get_path(msg));
    if (!d || !d->loaded)
        return 0; /* not known yet: its GetAll answer comes after this signal */
    if (sd_bus_message_read(msg, "s", &iface) < 0 || !streq(iface, STDFU_DEVICE_IFACE))
        return 0;
    bool was_active = device_state_is_active(d->p.state);
    int changed = device_props_read(msg, &d->p);
    if (changed < 0) {
        log_debug_errno(changed, "Ignoring a malformed PropertiesChanged of %s: %m",
                        str_or(d->p.port, "?"));
        return 0;
    }
    if (changed & DEVICE_PROP_STATE) {
        d->phase_start = now_monotonic(); /* for the rate; a state seen from its start */
        d->printed_decile = -1;
        d->finishing = was_active && !device_state_is_active(d->p.state);
    }
    if (changed)
        monitor_view_device_changed(m, d, changed & DEVICE_PROP_STATE);
    check_end(m);
    return 0;
}

static mon_device *find_device_by_port(monitor *m, const char *port) {
    for (size_t i = 0; i < m->n_devices; i++)
        if (streq_ptr(m->devices[i]->p.port, port))
            return m->devices[i];
    return NULL;
}

/* The view shows the outcome UpdateFinished names at once, as the loop may end right here
 * (stdfud sends it after the device's last PropertiesChanged, which may already say so). */
static int apply_outcome(monitor *m, const char *port, const char *outcome, const char *error) {
    mon_device *d = find_device_by_port(m, port);
    if (!d || !d->loaded || streq_ptr(d->p.state, outcome))
        return 0;
    if (free_and_strdup(&d->p.state, outcome) < 0 ||
        free_and_strdup(&d->p.last_error, error) < 0)
        return -ENOMEM;
    if (streq(outcome, "done"))
        d->p.progress = 100;
    d->printed_decile = -1;
    monitor_view_device_changed(m, d, true);
    return 0;
}

static void on_update_finished(monitor *m, sd_bus_message *msg) {
    const char *port, *outcome, *error;

    if (sd_bus_message_read(msg, "sss", &port, &outcome, &error) < 0)
        return;
    mon_device *shown = find_device_by_port(m, port);
    if (shown)
        shown->finishing = false;
    monitor_view_update_finished(m, shown, port, outcome, error);
    if (apply_outcome(m, port, outcome, error) < 0) {
        log_oom();
        end(m, STDFU_EXIT_FAILURE);
        return;
    }
    for (size_t i = 0; i < m->n_waits; i++) {
        mon_wait *w = &m->waits[i];
        if (!streq(w->port, port) || w->finished)
            continue;
        char *o = strdup(outcome), *e = strdup(error);
        if (!o || !e) {
            free(o), free(e);
            log_oom();
            end(m, STDFU_EXIT_FAILURE);
            return;
        }
        w->finished = true;
        w->outcome = o;
        w->error = e;
    }
    check_end(m);
}

static int on_manager_signal(sd_bus_message *msg, void *userdata, sd_bus_error *ret_error) {
    monitor *m = userdata;
    const char *port, *path;
    (void) ret_error;

    if (sd_bus_message_is_signal(msg, STDFU_MANAGER_IFACE, "UpdateFinished")) {
        on_update_finished(m, msg);
        return 0;
    }
    bool added = sd_bus_message_is_signal(msg, STDFU_MANAGER_IFACE, "DeviceAdded");
    bool removed = sd_bus_message_is_signal(msg, STDFU_MANAGER_IFACE, "DeviceRemoved");
    if ((!added && !removed) || sd_bus_message_read(msg, "so", &port, &path) < 0)
        return 0;
    if (removed) {
        remove_device(m, path);
        check_end(m);
    } else if (m->started && add_device(m, port, path) < 0) {
        log_oom();
        end(m, STDFU_EXIT_FAILURE);
    }
    return 0;
}

static int on_name_owner_changed(sd_bus_message *msg, void *userdata, sd_bus_error *ret_error) {
    monitor *m = userdata;
    const char *name, *old_owner, *new_owner;
    (void) ret_error;

    if (sd_bus_message_read(msg, "sss", &name, &old_owner, &new_owner) < 0 ||
        !streq(name, STDFU_BUS_NAME) || *new_owner)
        return 0;
    monitor_view_restore_terminal(m);
    log_error("stdfud stopped (%s left %s).", STDFU_BUS_NAME, stdfuctl_bus_describe());
    end_with_error(m, STDFU_EXIT_NO_DAEMON);
    return 0;
}

static int on_disconnected(sd_bus_message *msg, void *userdata, sd_bus_error *ret_error) {
    monitor *m = userdata;
    (void) msg, (void) ret_error;
    monitor_view_restore_terminal(m);
    log_error("Lost the connection to %s.", stdfuctl_bus_describe());
    end_with_error(m, STDFU_EXIT_NO_DAEMON);
    return 0;
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
    monitor *m = userdata;
    (void) s, (void) si;
    end(m, STDFU_EXIT_CANCELLED);
    return 0;
}

/* ---- setup ------------------------------------------------------------------------------ */

int monitor_new(sd_bus *bus, sd_event *event, FILE *out, bool tty, monitor **ret) {
    monitor *m = calloc(1, sizeof *m);
    if (!m)
        return -ENOMEM;
    m->bus = sd_bus_ref(bus);
    m->event = sd_event_ref(event);
    monitor_view_init(m, out, tty);
    int r = sd_bus_attach_event(bus, event, SD_EVENT_PRIORITY_NORMAL);
    if (r < 0 && r != -EBUSY) {
        monitor_free(m);
        return r;
    }
    *ret = m;
    return 0;
}

monitor *monitor_free(monitor *m) {
    if (!m)
        return NULL;
    monitor_view_done(m);
    for (size_t i = 0; i < m->n_devices; i++)
        mon_device_free(m->devices[i]);
    free(m->devices);
    for (size_t i = 0; i < m->n_show; i++)
        free(m->show[i]);
    free(m->show);
    for (size_t i = 0; i < m->n_waits; i++) {
        free(m->waits[i].port);
        free(m->waits[i].outcome);
        free(m->waits[i].error);
    }
    free(m->waits);
    for (size_t i = 0; i < ELEMENTSOF(m->match_slots); i++)
        sd_bus_slot_unref(m->match_slots[i]);
    sd_bus_slot_unref(m->list_slot);
    sd_event_source_disable_unref(m->finish_timer);
    sd_event_source_disable_unref(m->sigint_source);
    sd_event_source_disable_unref(m->sigterm_source);
    sd_event_unref(m->event);
    sd_bus_unref(m->bus);
    free(m);
    return NULL;
}

int monitor_show(monitor *m, const char *device) {
    char **l = realloc(m->show, (m->n_show + 1) * sizeof *l);
    if (!l)
        return -ENOMEM;
    m->show = l;
    if (!(l[m->n_show] = strdup(device)))
        return -ENOMEM;
    m->n_show++;
    return 0;
}

int monitor_wait_for(monitor *m, const char *port) {
    for (size_t i = 0; i < m->n_waits; i++)
        if (streq(m->waits[i].port, port))
            return 0;
    mon_wait *l = realloc(m->waits, (m->n_waits + 1) * sizeof *l);
    if (!l)
        return -ENOMEM;
    m->waits = l;
    l[m->n_waits] = (mon_wait) { .port = strdup(port) };
    if (!l[m->n_waits].port)
        return -ENOMEM;
    m->n_waits++;
    return 0;
}

const char *monitor_outcome(monitor *m, const char *port, const char **ret_error) {
    for (size_t i = 0; i < m->n_waits; i++)
        if (streq(m->waits[i].port, port) && m->waits[i].finished) {
            if (ret_error)
                *ret_error = m->waits[i].error;
            return m->waits[i].outcome;
        }
    if (ret_error)
        *ret_error = NULL;
    return NULL;
}

int monitor_subscribe_or_exit(monitor *m) {
    /* path_namespace: every device object, whatever port it stands for. */
    static const char properties_match[] =
        "type='signal',sender='" STDFU_BUS_NAME "',"
        "interface='org.freedesktop.DBus.Properties',member='PropertiesChanged',"
        "path_namespace='" STDFU_DEVICE_PREFIX "'";
    static const char owner_match[] =
        "type='signal',sender='org.freedesktop.DBus',interface='org.freedesktop.DBus',"
        "member='NameOwnerChanged',arg0='" STDFU_BUS_NAME "'";
    int r;

    r = sd_bus_add_match(m->bus, &m->match_slots[0], properties_match, on_properties_changed, m);
    if (r >= 0)
        r = sd_bus_match_signal(m->bus, &m->match_slots[1], STDFU_BUS_NAME, STDFU_MANAGER_PATH,
                                STDFU_MANAGER_IFACE, NULL, on_manager_signal, m);
    if (r >= 0)
        r = sd_bus_add_match(m->bus, &m->match_slots[2], owner_match, on_name_owner_changed, m);
    if (r >= 0)
        r = sd_bus_match_signal(m->bus, &m->match_slots[3], "org.freedesktop.DBus.Local",
                                "/org/freedesktop/DBus/Local", "org.freedesktop.DBus.Local",
                                "Disconnected", on_disconnected, m);
    if (r < 0) {
        log_error("Cannot subscribe to stdfud's signals on %s: %s", stdfuctl_bus_describe(),
                  strerror(-r));
        return STDFU_EXIT_FAILURE;
    }
    return STDFU_EXIT_OK;
}

static int on_list_devices(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
    monitor *m = userdata;
    const char *port, *path;
    int r;
    (void) ret_error;

    m->list_slot = sd_bus_slot_unref(m->list_slot);
    m->pending--;
    const sd_bus_error *e = sd_bus_message_get_error(reply);
    if (e) {
        end_with_bus_error(m, e, -EIO, "ListDevices", NULL);
        return 0;
    }
    r = sd_bus_message_enter_container(reply, 'a', "(so)");
    while (r >= 0 && (r = sd_bus_message_read(reply, "(so)", &port, &path)) > 0)
        r = add_device(m, port, path);
    if (r < 0) {
        log_error("Cannot read stdfud's device list: %s", strerror(-r));
        end(m, STDFU_EXIT_FAILURE);
        return 0;
    }
    finish_loading(m);
    return 0;
}

int monitor_start_or_exit(monitor *m) {
    sigset_t mask;
    int r;

    /* sd-event takes signals through a signalfd: they must be blocked first. */
    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    r = sigprocmask(SIG_BLOCK, &mask, NULL) < 0 ? -errno : 0;
    if (r >= 0)
        r = sd_event_add_signal(m->event, &m->sigint_source, SIGINT, on_signal, m);
    if (r >= 0)
        r = sd_event_add_signal(m->event, &m->sigterm_source, SIGTERM, on_signal, m);
    if (r >= 0)
        r = sd_bus_call_method_async(m->bus, &m->list_slot, STDFU_BUS_NAME, STDFU_MANAGER_PATH,
                                     STDFU_MANAGER_IFACE, "ListDevices", on_list_devices, m, NULL);
    if (r < 0) {
        log_error("Cannot ask stdfud for its devices: %s", strerror(-r));
        return STDFU_EXIT_FAILURE;
    }
    m->pending++;
    m->started = true;
    return STDFU_EXIT_OK;
}
