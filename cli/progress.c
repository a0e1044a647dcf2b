/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "progress.h"

#include <string.h>

#include "util/macro.h"

/* Redrawing more often than this only costs time on slow terminals. */
#define REDRAW_USEC (100 * USEC_PER_MSEC)

void progress_init(progress *p, FILE *f, bool tty, bool quiet) {
    *p = (progress) { .f = f, .tty = tty, .quiet = quiet };
}

static double kib(uint64_t bytes) {
    return (double) bytes / 1024.0;
}

void progress_format_bytes(char *buf, size_t size, const char *phase, uint64_t done,
                           uint64_t total, usec_t elapsed) {
    double secs = (double) elapsed / USEC_PER_SEC;
    double rate = secs > 0 ? (double) done / secs : 0;
    unsigned pct = total ? (unsigned) (done * 100 / total) : 0;
    char left[32] = "";

    if (rate > 0 && total >= done) {
        unsigned s = (unsigned) ((double) (total - done) / rate + 0.5);
        snprintf(left, sizeof left, "  %u:%02u left", s / 60, s % 60);
    }
    snprintf(buf, size, "%-6s %3u%%  %.1f/%.1f KiB  %.1f KiB/s%s", phase, pct, kib(done),
             kib(total), rate / 1024.0, left);
}

void progress_format_summary(char *buf, size_t size, const char *phase, uint64_t bytes,
                             usec_t elapsed) {
    double secs = (double) elapsed / USEC_PER_SEC;
    snprintf(buf, size, "%s: %llu bytes in %.2f s (%.1f KiB/s)", phase,
             (unsigned long long) bytes, secs, secs > 0 ? kib(bytes) / secs : 0.0);
}

static void clear_line(progress *p) {
    if (p->tty && p->line_drawn) {
        fputs("\r\033[K", p->f);
        p->line_drawn = false;
    }
}

static void end_byte_phase(progress *p) {
    char line[160];

    if (!p->in_bytes)
        return;
    p->in_bytes = false;
    clear_line(p);
    progress_format_summary(line, sizeof line, stdfu_update_phase_to_string(p->phase), p->done,
                            now_monotonic() - p->phase_start);
    fprintf(p->f, "%s\n", line);
    fflush(p->f);
}

static void byte_event(progress *p, const stdfu_update_event *ev) {
    usec_t now = now_monotonic();

    if (!p->in_bytes || ev->phase != p->phase) {
        end_byte_phase(p);
        p->in_bytes = true;
        p->phase = ev->phase;
        p->phase_start = now;
        p->last_draw = 0;
    }
    p->done = ev->done;
    p->total = ev->total;
    if (!p->tty || (now - p->last_draw < REDRAW_USEC && ev->done < ev->total))
        return;
    char line[160];
    progress_format_bytes(line, sizeof line, stdfu_update_phase_to_string(ev->phase), ev->done,
                          ev->total, now - p->phase_start);
    fprintf(p->f, "\r\033[K%s", line);
    fflush(p->f);
    p->line_drawn = true;
    p->last_draw = now;
}

void progress_event(const stdfu_update_event *ev, void *userdata) {
    progress *p = userdata;

    if (p->quiet)
        return;
    if (!ev->message) {
        byte_event(p, ev);
        return;
    }
    end_byte_phase(p);
    clear_line(p);
    if (ev->step != STDFU_UPDATE_STEP_NONE)
        fprintf(p->f, "recover (%s): %s\n", stdfu_update_step_to_string(ev->step),
                ev->message);
    else
        fprintf(p->f, "%s: %s\n", stdfu_update_phase_to_string(ev->phase), ev->message);
    fflush(p->f);
}

void progress_finish(progress *p) {
    if (p->quiet)
        return;
    end_byte_phase(p);
    clear_line(p);
}
