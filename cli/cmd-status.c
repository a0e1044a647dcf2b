/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stdfuctl status: what stdfud knows of each device, as a table or a JSON array. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "json-device.h"
#include "stdfuctl.h"
#include "table.h"
#include "util/log.h"

static void help(FILE *f) {
    fprintf(f,
            "Usage: stdfuctl [--bus BUS] status [DEVICE...] [--json]\n"
            "\n"
            "Show what stdfud knows of every device (or of the DEVICEs given, by port path such\n"
            "as 1-1.4 or by object path): port, product, mode, running and target version, state,\n"
            "progress of the current phase and the last error. Manifest errors, and why new\n"
            "updates are refused (stdfud's state directory full or gone), if so, follow the\n"
            "table. Exits 7 when a device waits for a power cycle, else 13 when one failed (or\n"
            "is no-rule), else 14 when the manifest has errors.\n"
            "\n"
            "Options:\n"
            "      --json     print one JSON object: the devices, a summary and the manifest\n"
            "                 errors (stdfuctl(1), JSON OUTPUT)\n"
            STDFUCTL_HELP_BUS_AND_HELP);
}

/* The daemon-wide facts: counts and manifest errors. */
typedef struct manager_summary {
    uint32_t updating, queued;
    char **manifest_errors;
    char *jobs_refused;   /* why stdfud refuses new jobs, "" or NULL when it does not */
} manager_summary;

static void manager_summary_done(manager_summary *m) {
    free(m->jobs_refused);
    for (char **e = m->manifest_errors; e && *e; e++)
        free(*e);
    free(m->manifest_errors);
}

static int manager_summary_get_or_exit(sd_bus *bus, manager_summary *ret) {
    sd_bus_error error = SD_BUS_ERROR_NULL;
    int r;

    *ret = (manager_summary) {};
    r = sd_bus_get_property_trivial(bus, STDFU_BUS_NAME, STDFU_MANAGER_PATH, STDFU_MANAGER_IFACE,
                                    "UpdatingCount", &error, 'u', &ret->updating);
    if (r >= 0)
        r = sd_bus_get_property_trivial(bus, STDFU_BUS_NAME, STDFU_MANAGER_PATH,
                                        STDFU_MANAGER_IFACE, "QueuedCount", &error, 'u',
                                        &ret->queued);
    if (r >= 0)
        r = sd_bus_get_property_strv(bus, STDFU_BUS_NAME, STDFU_MANAGER_PATH,
                                     STDFU_MANAGER_IFACE, "ManifestErrors", &error,
                                     &ret->manifest_errors);
    if (r < 0) {
        r = stdfuctl_bus_error_or_exit(&error, r, "Get", NULL);
        sd_bus_error_free(&error);
        return r;
    }
    (void) sd_bus_get_property_string(bus, STDFU_BUS_NAME, STDFU_MANAGER_PATH,
                                      STDFU_MANAGER_IFACE, "JobsRefused", NULL,
                                      &ret->jobs_refused);
    return STDFU_EXIT_OK;
}

static size_t count_state(const device_props *l, size_t n, const char *state) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += streq_ptr(l[i].state, state);
    return k;
}

/* What needs someone: a device waiting for a power cycle first (only a person can help),
 * then a failed one, then manifest errors (stdfuctl(1), EXIT STATUS). */
static int status_exit_code(const device_props *l, size_t n, const manager_summary *m) {
    if (count_state(l, n, "needs-power-cycle"))
        return STDFU_EXIT_NEEDS_POWER_CYCLE;
    /* no-rule: in its bootloader after a lost job record, and no rule to finish it with */
    if (count_state(l, n, "failed") || count_state(l, n, "no-rule"))
        return STDFU_EXIT_UPDATE_FAILED;
    if (m->manifest_errors && m->manifest_errors[0])
        return STDFU_EXIT_MANIFEST_ERRORS;
    return STDFU_EXIT_OK;
}

static void print_json(const device_props *l, size_t n, const manager_summary *m) {
    json_writer w;

    json_begin_document(&w, stdout, "status");
    json_key(&w, "devices");
    json_begin_array(&w);
    for (size_t i = 0; i < n; i++)
        json_device(&w, &l[i]);
    json_end_array(&w);
    json_key(&w, "summary");
    json_begin_object(&w);
    json_kv_uint(&w, "devices", n);
    json_kv_uint(&w, "updating", m->updating);
    json_kv_uint(&w, "queued", m->queued);
    json_kv_uint(&w, "failed", count_state(l, n, "failed"));
    json_kv_uint(&w, "needs_power_cycle", count_state(l, n, "needs-power-cycle"));
    json_kv_uint(&w, "retry_wait", count_state(l, n, "retry-wait"));
    json_kv_uint(&w, "no_rule", count_state(l, n, "no-rule"));
    json_end_object(&w);
    json_key(&w, "manifest_errors");
    json_begin_array(&w);
    for (char **e = m->manifest_errors; e && *e; e++)
        json_string(&w, *e);
    json_end_array(&w);
    json_kv_string(&w, "jobs_refused",
                   m->jobs_refused && m->jobs_refused[0] ? m->jobs_refused : NULL);
    json_end_object(&w);
}

static int print_table(const device_props *l, size_t n) {
    static const char *const headers[] = { "PORT",   "PRODUCT", "MODE",     "RUNNING",
                                           "TARGET", "STATE",   "PROGRESS", "LAST ERROR" };
    _cleanup_(table_freep) table *t = table_new(ELEMENTSOF(headers), headers);
    if (!t)
        return log_oom();
    table_set_wrap_last(t, true);
    table_set_color(t, 5, stdfuctl_state_color);
    for (size_t i = 0; i < n; i++) {
        const device_props *p = &l[i];
        char progress[16] = "";
        if (device_state_is_active(p->state) && p->bytes_total > 0)
            snprintf(progress, sizeof progress, "%u%%", p->progress);
        const char *cells[] = { p->port,           p->product, p->mode,  p->running_version,
                                p->target_version, p->state,   progress, p->last_error };
        if (table_add_row(t, cells) < 0)
            return log_oom();
    }
    if (n == 0)
        printf("stdfud knows no device.\n");
    else
        table_print_stdout(t);
    return 0;
}

/* The daemon-wide facts under the table: counts and manifest errors. */
static void print_manager_summary(size_t n_devices, const manager_summary *m) {
    if (n_devices > 0)
        printf("\n%zu device%s, %u updating, %u queued.\n", n_devices, n_devices == 1 ? "" : "s",
               m->updating, m->queued);
    if (m->manifest_errors && m->manifest_errors[0]) {
        printf("\nThe manifest has errors; the last good one stays in force:\n");
        for (char **e = m->manifest_errors; *e; e++)
            printf("  %s\n", *e);
    }
    if (m->jobs_refused && m->jobs_refused[0])
        printf("\nNew updates are refused: %s\n", m->jobs_refused);
}

/* Keeps the devices the user named, in the order of the list; each name must match one. */
static int filter_devices(device_props *l, size_t *n, char **names, size_t n_names) {
    size_t kept = 0;

    for (size_t k = 0; k < n_names; k++) {
        bool found = false;
        for (size_t i = 0; i < *n; i++)
            found = found || device_props_match(&l[i], names[k]);
        if (!found) {
            log_error("No device '%s' known to stdfud (give a port path such as 1-1.4; "
                      "'stdfuctl status' lists them).", names[k]);
            return STDFU_EXIT_NO_DEVICE;
        }
    }
    for (size_t i = 0; i < *n; i++) {
        bool wanted = false;
        for (size_t k = 0; k < n_names && !wanted; k++)
            wanted = device_props_match(&l[i], names[k]);
        if (wanted)
            l[kept++] = l[i];
        else
            device_props_done(&l[i]);
    }
    *n = kept;
    return STDFU_EXIT_OK;
}

int cmd_status(int argc, char **argv, const stdfuctl_globals *g) {
    sd_bus *bus = NULL;
    device_props *list = NULL;
    size_t n = 0;
    bool json = false;
    int code;
    (void) g;

    code = stdfuctl_parse_options(argc, argv, "status", help, STDFUCTL_OPT_BUS | STDFUCTL_OPT_JSON,
                                  &json);
    if (code >= 0)
        return code;

    code = stdfuctl_bus_open_or_exit(&bus);
    if (code != STDFU_EXIT_OK)
        return code;
    code = device_props_list_or_exit(bus, &list, &n);
    if (code == STDFU_EXIT_OK && optind < argc)
        code = filter_devices(list, &n, argv + optind, (size_t) (argc - optind));
    manager_summary m = {};
    if (code == STDFU_EXIT_OK)
        code = manager_summary_get_or_exit(bus, &m);
    if (code == STDFU_EXIT_OK) {
        if (json)
            print_json(list, n, &m);
        else if (print_table(list, n) < 0)
            code = STDFU_EXIT_FAILURE;
        else if (optind >= argc)
            print_manager_summary(n, &m);
    }
    if (code == STDFU_EXIT_OK)
        code = status_exit_code(list, n, &m);
    manager_summary_done(&m);
    device_props_list_free(list, n);
    sd_bus_flush_close_unref(bus);
    return code;
}
