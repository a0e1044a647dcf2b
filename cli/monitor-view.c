/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The monitor's view: a terminal redrawn in place, plain lines or JSON lines. What it shows
 * comes from the bus side (monitor.c) through monitor-internal.h. */
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "json-device.h"
#include "monitor-internal.h"
#include "progress.h"
#include "stdfuctl.h"

/* Redrawing the terminal more often than this only costs time on slow terminals; the daemon
 * sends progress at most ~10 times a second per device anyway. */
#define REDRAW_USEC (100 * USEC_PER_MSEC)
#define BAR_WIDTH 20

/* ---- formatting ------------------------------------------------------------------------- */

static bool is_byte_phase(const char *state) {
    return streq_ptr(state, "erasing") || streq_ptr(state, "writing") ||
           streq_ptr(state, "verifying");
}

static void format_idle(const device_props *p, char *buf, size_t size) {
    if (streq_ptr(p->mode, "absent"))
        snprintf(buf, size, "idle, absent");
    else if (streq_ptr(p->mode, "bootloader"))
        snprintf(buf, size, "idle, in the bootloader");
    else if (p->target_version && *p->target_version &&
             !streq_ptr(p->target_version, p->running_version))
        snprintf(buf, size, "idle, runs %s (target %s)", str_or(p->running_version, "?"),
                 p->target_version);
    else
        snprintf(buf, size, "idle, runs %s", str_or(p->running_version, "?"));
}

void monitor_format_detail(const device_props *p, usec_t phase_elapsed, char *buf, size_t size) {
    const char *state = str_or(p->state, "unknown");
    char attempt[32] = "";

    if (p->attempt > 1)
        snprintf(attempt, sizeof attempt, " (attempt %u)", p->attempt);

    if (is_byte_phase(state) && p->bytes_total > 0) {
        char bytes[160];
        if (phase_elapsed > 0)
            progress_format_bytes(bytes, sizeof bytes, state, p->bytes_done, p->bytes_total,
                                  phase_elapsed);
        else
            snprintf(bytes, sizeof bytes, "%-6s %3u%%  %.1f/%.1f KiB", state, p->progress,
                     (double) p->bytes_done / 1024.0, (double) p->bytes_total / 1024.0);
        snprintf(buf, size, "%s%s", bytes, attempt);
    } else if (streq(state, "queued"))
        snprintf(buf, size, "queued, %s -> %s", str_or(p->running_version, "?"),
                 str_or(p->target_version, "?"));
    else if (streq(state, "waiting"))
        snprintf(buf, size, "waiting for the application to come back%s", attempt);
    else if (streq(state, "done"))
        snprintf(buf, size, "done, runs %s", str_or(p->running_version, "?"));
    else if (streq(state, "failed"))
        snprintf(buf, size, "failed: %s", str_or(p->last_error, "no reason given"));
    else if (streq(state, "retry-wait"))
        snprintf(buf, size, "failed, will try again: %s", str_or(p->last_error, "no reason given"));
    else if (streq(state, "no-rule"))
        snprintf(buf, size, "no rule for it in the manifest: %s",
                 str_or(p->last_error, "no reason given"));
    else if (streq(state, "needs-power-cycle"))
        snprintf(buf, size, "needs a power cycle (unplug and replug it)");
    else if (streq(state, "idle"))
        format_idle(p, buf, size);
    else
        snprintf(buf, size, "%s%s", state, attempt);
}

/* The bar shows the whole update, so that it only ever grows: each phase has its stretch
 * (erasing and writing the longest), a byte phase fills its stretch by its Progress. */
static unsigned overall_percent(const device_props *p) {
    static const struct {
        const char *state;
        unsigned from, to;
    } stretches[] = {
        { "queued", 0, 0 },     { "entering", 2, 2 },   { "erasing", 5, 30 },
        { "writing", 30, 75 },  { "verifying", 75, 90 }, { "leaving", 92, 92 },
        { "waiting", 95, 95 },  { "recovering", 95, 95 }, { "done", 100, 100 },
    };
    for (size_t i = 0; i < ELEMENTSOF(stretches); i++)
        if (streq_ptr(p->state, stretches[i].state))
            return stretches[i].from +
                   (stretches[i].to - stretches[i].from) * MIN(p->progress, 100u) / 100;
    return 0;
}

/* The detail's "erasing  25%  1.0/4.0 KiB" without the phase's percentage: next to the bar
 * the one percentage shown is the bar's. */
static void drop_phase_percent(const device_props *p, char *detail) {
    if (!is_byte_phase(p->state) || p->bytes_total == 0)
        return;
    char *pct = strchr(detail, '%');
    if (!pct)
        return;
    char *start = pct;
    while (start > detail && start[-1] != ' ')
        start--; /* the digits */
    while (start > detail && start[-1] == ' ')
        start--; /* the padding after the phase's name */
    char *end = pct + 1;
    memmove(start, end, strlen(end) + 1);
}

void monitor_format_line(const device_props *p, int port_width, int product_width,
                         usec_t phase_elapsed, char *buf, size_t size) {
    char bar[BAR_WIDTH + 1], detail[256];
    unsigned percent = overall_percent(p);
    unsigned filled = percent * BAR_WIDTH / 100;
    memset(bar, '#', filled);
    memset(bar + filled, '.', BAR_WIDTH - filled);
    bar[BAR_WIDTH] = '\0';
    monitor_format_detail(p, phase_elapsed, detail, sizeof detail);
    drop_phase_percent(p, detail);
    if (product_width > 0)
        snprintf(buf, size, "%-*s  %-*.*s  [%s] %3u%%  %s", port_width, str_or(p->port, "?"),
                 product_width, product_width, str_or(p->product, "-"), bar, percent, detail);
    else
        snprintf(buf, size, "%-*s  [%s] %3u%%  %s", port_width, str_or(p->port, "?"), bar,
                 percent, detail);
}

/* ---- drawing ---------------------------------------------------------------------------- */

/* Asked at each redraw: the terminal may have been resized. */
static void terminal_size(FILE *f, unsigned *ret_cols, unsigned *ret_rows) {
    struct winsize ws = {};
    bool ok = ioctl(fileno(f), TIOCGWINSZ, &ws) >= 0;
    *ret_cols = ok && ws.ws_col >= 20 ? ws.ws_col : 80;
    *ret_rows = ok && ws.ws_row >= 3 ? ws.ws_row : 24;
}

static usec_t phase_elapsed(const mon_device *d) {
    return d->phase_start ? now_monotonic() - d->phase_start : 0;
}

/* Rewrites every shown device's line in place: up to the first line, each line cleared and
 * written (cut to the width, so nothing wraps and the count of lines stays right), then
 * whatever is left below from a longer list cleared. The cursor cannot go up past the top of
 * the screen, so a list taller than the terminal ends in a line that counts the rest. */
static void draw_tty(monitor *m) {
    unsigned cols, rows, n = 0, hidden = 0;
    int port_width = 8;

    terminal_size(m->out, &cols, &rows);
    for (size_t i = 0; i < m->n_devices; i++)
        if (m->devices[i]->loaded && monitor_is_shown(m, m->devices[i]))
            port_width = MAX(port_width, (int) strlen(str_or(m->devices[i]->p.port, "?")));
    if (!m->cursor_hidden) {
        fputs("\033[?25l", m->out);
        m->cursor_hidden = true;
    }
    if (m->lines_drawn > 0)
        fprintf(m->out, "\033[%uA", m->lines_drawn);
    for (size_t i = 0; i < m->n_devices; i++) {
        mon_device *d = m->devices[i];
        char line[512];
        if (!d->loaded || !monitor_is_shown(m, d))
            continue;
        if (n + 2 >= rows) {
            hidden++;
            continue;
        }
        /* The product only where it leaves room for the bytes, rate and time left. */
        monitor_format_line(&d->p, port_width, cols >= 110 ? 16 : 0, phase_elapsed(d), line,
                            sizeof line);
        if (strlen(line) >= cols)
            line[cols - 1] = '\0';
        const char *color = m->colors ? stdfuctl_state_color(d->p.state) : NULL;
        fprintf(m->out, "\r\033[K%s%s%s\n", color ? color : "", line, color ? "\033[0m" : "");
        n++;
    }
    if (hidden > 0) {
        fprintf(m->out, "\r\033[K(and %u more; a larger terminal shows them)\n", hidden);
        n++;
    }
    if (n < m->lines_drawn)
        fputs("\033[J", m->out);
    fflush(m->out);
    m->lines_drawn = n;
    m->last_draw = now_monotonic();
}

void monitor_view_restore_terminal(monitor *m) {
    if (m->cursor_hidden) {
        fputs("\033[?25h", m->out);
        fflush(m->out);
        m->cursor_hidden = false;
    }
}

static int on_draw_timer(sd_event_source *s, uint64_t usec, void *userdata) {
    monitor *m = userdata;
    (void) s, (void) usec;
    m->draw_timer = sd_event_source_disable_unref(m->draw_timer);
    draw_tty(m);
    return 0;
}

/* A terminal is redrawn at most every REDRAW_USEC, by a one-shot timer armed on a change. */
static void schedule_draw(monitor *m) {
    if (!m->out || !m->tty || !m->loaded || m->draw_timer)
        return;
    usec_t when = MAX(now_monotonic(), m->last_draw + REDRAW_USEC);
    if (sd_event_add_time(m->event, &m->draw_timer, CLOCK_MONOTONIC, when, USEC_PER_MSEC,
                          on_draw_timer, m) < 0)
        draw_tty(m);
}

/* JSON lines: {"schema":1,"command":"watch","event":"device","device":{...}}. */
static void print_json_device(monitor *m, mon_device *d) {
    json_writer w;
    json_begin_document(&w, m->out, "watch");
    json_kv_string(&w, "event", "device");
    json_key(&w, "device");
    json_device(&w, &d->p);
    json_end_object(&w);
    fflush(m->out);
}

/* Plain output: a line when the state changes, and for every 10% of a phase's bytes. */
static void print_plain(monitor *m, mon_device *d, bool state_changed) {
    char detail[256], line[512];
    int decile = (int) MIN(d->p.progress, 100u) / 10;

    if (!m->out || m->tty || !m->loaded || !monitor_is_shown(m, d))
        return;
    if (!state_changed && (!is_byte_phase(d->p.state) || decile <= d->printed_decile))
        return;
    d->printed_decile = decile;
    if (m->json) {
        print_json_device(m, d);
        return;
    }
    monitor_format_detail(&d->p, 0, detail, sizeof detail);
    snprintf(line, sizeof line, "%s: %s", str_or(d->p.port, "?"), detail);
    if (streq_ptr(line, d->printed))
        return;
    fprintf(m->out, "%s\n", line);
    fflush(m->out);
    free(d->printed);
    d->printed = strdup(line);
}

void monitor_view_device_changed(monitor *m, mon_device *d, bool state_changed) {
    if (m->tty)
        schedule_draw(m);
    else
        print_plain(m, d, state_changed);
}

/* ---- what the bus side tells -------------------------------------------------------------- */

void monitor_view_init(monitor *m, FILE *out, bool tty) {
    m->out = out;
    /* TERM=dumb: a terminal that cannot move the cursor gets the plain lines. */
    m->tty = out && tty && stdfuctl_terminal_is_smart();
    m->colors = m->tty && stdfuctl_use_colors(fileno(out));
}

void monitor_set_json(monitor *m, bool json) {
    m->json = json;
    if (json)
        m->tty = false;
}

void monitor_view_done(monitor *m) {
    if (m->out && m->tty)
        monitor_view_restore_terminal(m);
    m->draw_timer = sd_event_source_disable_unref(m->draw_timer);
}

void monitor_view_loaded(monitor *m) {
    if (m->out && m->tty)
        draw_tty(m);
    else
        for (size_t i = 0; i < m->n_devices; i++)
            print_plain(m, m->devices[i], true);
}

void monitor_view_device_removed(monitor *m, mon_device *d) {
    if (m->out && !m->tty && m->loaded && monitor_is_shown(m, d)) {
        fprintf(m->out, "%s: removed\n", str_or(d->p.port, "?"));
        fflush(m->out);
    }
}

void monitor_view_list_changed(monitor *m) {
    schedule_draw(m);
}

void monitor_view_update_finished(monitor *m, mon_device *shown, const char *port,
                                  const char *outcome, const char *error) {
    json_writer w;

    if (!m->json || !m->out || !m->loaded || !shown || !monitor_is_shown(m, shown))
        return;
    json_begin_document(&w, m->out, "watch");
    json_kv_string(&w, "event", "update-finished");
    json_kv_string(&w, "port", port);
    json_kv_string(&w, "outcome", outcome);
    json_kv_string(&w, "error", *error ? error : NULL);
    json_end_object(&w);
    fflush(m->out);
}

void monitor_view_end(monitor *m, bool redraw) {
    if (redraw && m->out && m->tty && m->loaded) {
        m->draw_timer = sd_event_source_disable_unref(m->draw_timer);
        draw_tty(m);
    }
    if (m->out && m->tty)
        monitor_view_restore_terminal(m);
}
