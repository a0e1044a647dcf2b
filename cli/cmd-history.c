/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stdfuctl history: the updates stdfud has finished, oldest first. */
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "bus.h"
#include "json-device.h"
#include "table.h"
#include "util/log.h"

typedef struct history_entry {
    const char *port, *outcome, *from_version, *to_version, *rule, *sha256, *error;
    uint64_t started, finished;
    uint32_t attempts;
    const char *phase, *recovery;
    uint64_t bytes_written;
} history_entry;

static void help(FILE *f) {
    fprintf(f,
            "Usage: stdfuctl [--bus BUS] history [PORT...] [--json]\n"
            "\n"
            "Show every update attempt stdfud has ended (of every device, or of the PORTs\n"
            "given), oldest first: when, port, outcome (done, failed, needs-power-cycle,\n"
            "cancelled, refused), from and to which version, the attempt's number, manifest\n"
            "rule, the phase it ended in, bytes written, duration, recovery steps and error.\n"
            "\n"
            "Options:\n"
            "      --json     print one JSON object whose \"updates\" has one object per attempt\n"
            STDFUCTL_HELP_BUS_AND_HELP);
}

/* "leave-again=1 port-reset=1" (the daemon's form) as {"leave-again": 1, "port-reset": 1}. */
static void recovery_steps_json(json_writer *w, const char *steps) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", steps);
    for (char *save = NULL, *tok = strtok_r(buf, " ", &save); tok;
         tok = strtok_r(NULL, " ", &save)) {
        char *eq = strchr(tok, '=');
        if (!eq)
            continue;
        *eq = '\0';
        json_kv_uint(w, tok, strtoull(eq + 1, NULL, 10));
    }
}

static void json_entry(json_writer *w, const history_entry *h) {
    char ts[64];

    json_begin_object(w);
    json_kv_string(w, "port", h->port);
    json_kv_string(w, "outcome", h->outcome);
    json_kv_string(w, "from_version", empty_to_null(h->from_version));
    json_kv_string(w, "to_version", empty_to_null(h->to_version));
    json_kv_string(w, "rule", empty_to_null(h->rule));
    json_kv_string(w, "sha256", empty_to_null(h->sha256));
    json_kv_string(w, "error", empty_to_null(h->error));
    json_kv_uint(w, "started_usec", h->started);
    json_kv_uint(w, "finished_usec", h->finished);
    json_kv_string(w, "started", stdfuctl_format_timestamp_utc(h->started, ts, sizeof ts));
    json_kv_string(w, "finished", stdfuctl_format_timestamp_utc(h->finished, ts, sizeof ts));
    json_kv_uint(w, "attempts", h->attempts);
    json_kv_string(w, "phase", h->phase);
    json_kv_uint(w, "bytes_written", h->bytes_written);
    json_kv_uint(w, "duration_usec", h->finished > h->started ? h->finished - h->started : 0);
    json_key(w, "recovery_steps");
    json_begin_object(w);
    recovery_steps_json(w, h->recovery);
    json_end_object(w);
    json_end_object(w);
}

static int table_entry(table *t, const history_entry *h) {
    char when[64], attempts[16], written[32], duration[32];

    stdfuctl_format_timestamp(h->finished, when, sizeof when);
    snprintf(attempts, sizeof attempts, "%u", h->attempts);
    snprintf(written, sizeof written, "%" PRIu64, h->bytes_written);
    snprintf(duration, sizeof duration, "%.1fs",
             h->finished > h->started ? (double) (h->finished - h->started) / 1e6 : 0.0);
    const char *cells[] = { when, h->port, h->outcome, h->from_version, h->to_version, attempts,
                            h->rule, h->phase, written, duration,
                            h->recovery[0] ? h->recovery : "-", h->error };
    return table_add_row(t, cells);
}

static bool wanted(const history_entry *h, char **ports, size_t n_ports) {
    if (n_ports == 0)
        return true;
    for (size_t i = 0; i < n_ports; i++)
        if (streq(h->port, ports[i]))
            return true;
    return false;
}

static int print_history(sd_bus_message *reply, bool json, char **ports, size_t n_ports) {
    static const char *const headers[] = { "FINISHED", "PORT",    "OUTCOME", "FROM",
                                           "TO",       "ATTEMPT", "RULE",    "PHASE",
                                           "WRITTEN",  "TIME",    "RECOVERY", "ERROR" };
    _cleanup_(table_freep) table *t = json ? NULL : table_new(ELEMENTSOF(headers), headers);
    history_entry h;
    json_writer w;
    int r;

    if (!json && !t)
        return log_oom();
    if (json) {
        json_begin_document(&w, stdout, "history");
        json_key(&w, "updates");
        json_begin_array(&w);
    }
    r = sd_bus_message_enter_container(reply, 'a', "(sssssssttusts)");
    while (r >= 0 && (r = sd_bus_message_read(reply, "(sssssssttusts)", &h.port, &h.outcome,
                                              &h.from_version, &h.to_version, &h.rule,
                                              &h.sha256, &h.error, &h.started, &h.finished,
                                              &h.attempts, &h.phase, &h.bytes_written,
                                              &h.recovery)) > 0) {
        if (!wanted(&h, ports, n_ports))
            continue;
        if (json)
            json_entry(&w, &h);
        else if (table_entry(t, &h) < 0)
            return log_oom();
    }
    if (r < 0)
        return log_error_errno(r, "Cannot read stdfud's history: %m");
    if (json) {
        json_end_array(&w);
        json_end_object(&w);
    } else if (table_rows(t) == 0)
        printf("No finished update%s.\n", n_ports > 0 ? " of these devices" : "");
    else
        table_print_stdout(t);
    return 0;
}

int cmd_history(int argc, char **argv, const stdfuctl_globals *g) {
    sd_bus *bus = NULL;
    sd_bus_message *reply = NULL;
    bool json = false;
    int code;
    (void) g;

    code = stdfuctl_parse_options(argc, argv, "history", help, STDFUCTL_OPT_BUS | STDFUCTL_OPT_JSON,
                                  &json);
    if (code >= 0)
        return code;

    code = stdfuctl_bus_open_or_exit(&bus);
    if (code == STDFU_EXIT_OK)
        code = stdfuctl_call_manager_or_exit(bus, "GetHistory", NULL, &reply, NULL);
    if (code == STDFU_EXIT_OK &&
        print_history(reply, json, argv + optind, (size_t) (argc - optind)) < 0)
        code = STDFU_EXIT_FAILURE;
    sd_bus_message_unref(reply);
    sd_bus_flush_close_unref(bus);
    return code;
}
