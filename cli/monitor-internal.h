/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Shared by the two halves of the monitor: monitor.c keeps the bus state (the device table
 * fed by D-Bus signals, the waits, when to end), monitor-view.c shows it (the terminal view
 * redrawn in place, plain lines, JSON lines). The view never talks to the bus; the bus side
 * never writes to the output. */

#include "monitor.h"

typedef struct mon_device {
    monitor *m;
    device_props p;
    sd_bus_slot *get_slot; /* GetAll in flight */
    bool loaded;           /* GetAll answered */
    bool finishing;        /* its job just ended here: UpdateFinished is on its way */
    /* the view's */
    usec_t phase_start;    /* when we saw the current state begin; 0 if it began earlier */
    int printed_decile;    /* plain output: the last 10% step printed for this state */
    char *printed;         /* plain output: the last line printed */
} mon_device;

typedef struct mon_wait {
    char *port;
    bool finished;
    char *outcome, *error;
} mon_wait;

struct monitor {
    sd_bus *bus;
    sd_event *event;

    mon_device **devices; /* sorted by port */
    size_t n_devices;
    char **show;
    size_t n_show;
    mon_wait *waits;
    size_t n_waits;

    sd_bus_slot *match_slots[4];
    sd_bus_slot *list_slot;
    sd_event_source *sigint_source, *sigterm_source, *finish_timer;
    unsigned pending; /* ListDevices/GetAll calls not answered yet */
    bool started, loaded, ended;

    /* the view's (monitor-view.c) */
    FILE *out;
    bool tty;
    bool json;   /* JSON lines of events instead of text (watch --json) */
    bool colors; /* the terminal view's lines in their state's colour */
    sd_event_source *draw_timer;
    unsigned lines_drawn;
    usec_t last_draw;
    bool cursor_hidden;
};

static inline const char *str_or(const char *s, const char *fallback) {
    return s && *s ? s : fallback;
}

/* monitor.c: whether the user asked to see this device. */
bool monitor_is_shown(const monitor *m, const mon_device *d);

/* monitor-view.c: what the bus side tells the view. */
void monitor_view_init(monitor *m, FILE *out, bool tty);
void monitor_view_done(monitor *m);
/* The first answers are in: everything shown at once. */
void monitor_view_loaded(monitor *m);
/* d's properties changed (a new state when state_changed). */
void monitor_view_device_changed(monitor *m, mon_device *d, bool state_changed);
/* d is about to leave the table; monitor_view_list_changed() once it left. */
void monitor_view_device_removed(monitor *m, mon_device *d);
void monitor_view_list_changed(monitor *m);
/* An UpdateFinished for a device in the table (shown: NULL when it is not). */
void monitor_view_update_finished(monitor *m, mon_device *shown, const char *port,
                                  const char *outcome, const char *error);
/* The end: the final state drawn once more (redraw), the terminal given back. */
void monitor_view_end(monitor *m, bool redraw);
/* Before an error message: the cursor back. */
void monitor_view_restore_terminal(monitor *m);
