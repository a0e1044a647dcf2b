/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stdfuctl status: what stdfud knows of each device, as a table or a JSON array. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "bus.h"
#include "json-writer.h"
#include "table.h"
#include "util/log.h"

static void help(FILE *f) {
    fprintf(f,
            "Usage: stdfuctl [--bus BUS] status [DEVICE...] [--json]\n"
            "\n"
            "Show what stdfud knows of every device (or of the DEVICEs given, by port path such\n"
            "as 1-1.4 or by object path): port, product, mode, running and target version, state,\n"
            "progress of the current phase and the last error. Manifest errors, if any, follow\n"
            "the table.\n"
            "\n"
            "Options:\n"
            "      --json     print a JSON array with one object per device\n"
            STDFUCTL_HELP_BUS_AND_HELP);
}

static void print_json(const device_props *l, size_t n) {
    json_writer w;
    char ts[64];

    json_init(&w, stdout);
    json_begin_array(&w);
    for (size_t i = 0; i < n; i++) {
        const device_props *p = &l[i];
        json_begin_object(&w);
        json_kv_string(&w, "port", p->port);
        json_kv_string(&w, "object_path", p->object_path);
        json_kv_string(&w, "product", empty_to_null(p->product));
        json_kv_string(&w, "usb_id", empty_to_null(p->usb_id));
        json_kv_string(&w, "mode", p->mode);
        json_kv_string(&w, "serial", empty_to_null(p->serial));
        json_kv_string(&w, "running_version", empty_to_null(p->running_version));
        json_kv_string(&w, "target_version", empty_to_null(p->target_version));
        json_kv_string(&w, "state", p->state);
        json_kv_uint(&w, "progress", p->progress);
        json_kv_uint(&w, "bytes_done", p->bytes_done);
        json_kv_uint(&w, "bytes_total", p->bytes_total);
        json_kv_uint(&w, "attempt", p->attempt);
        json_kv_string(&w, "last_error", empty_to_null(p->last_error));
        json_key(&w, "last_update_usec");
        if (p->last_update)
            json_uint(&w, p->last_update);
        else
            json_null(&w);
        json_kv_string(&w, "last_update",
                       stdfuctl_format_timestamp_utc(p->last_update, ts, sizeof ts));
        json_end_object(&w);
    }
    json_end_array(&w);
}

static int print_table(const device_props *l, size_t n) {
    static const char *const headers[] = { "PORT",   "PRODUCT", "MODE",     "RUNNING",
                                           "TARGET", "STATE",   "PROGRESS", "LAST ERROR" };
    _cleanup_(table_freep) table *t = table_new(ELEMENTSOF(headers), headers);
    if (!t)
        return log_oom();
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
static int print_manager_summary(sd_bus *bus, size_t n_devices) {
    sd_bus_error error = SD_BUS_ERROR_NULL;
    char **errors = NULL;
    uint32_t running = 0, queued = 0;
    int r;

    r = sd_bus_get_property_trivial(bus, STDFU_BUS_NAME, STDFU_MANAGER_PATH, STDFU_MANAGER_IFACE,
                                    "UpdatingCount", &error, 'u', &running);
    if (r >= 0)
        r = sd_bus_get_property_trivial(bus, STDFU_BUS_NAME, STDFU_MANAGER_PATH,
                                        STDFU_MANAGER_IFACE, "QueuedCount", &error, 'u', &queued);
    if (r >= 0)
        r = sd_bus_get_property_strv(bus, STDFU_BUS_NAME, STDFU_MANAGER_PATH,
                                     STDFU_MANAGER_IFACE, "ManifestErrors", &error, &errors);
    if (r < 0) {
        r = stdfuctl_bus_error_or_exit(&error, r, "Get", NULL);
        sd_bus_error_free(&error);
        return r;
    }
    if (n_devices > 0)
        printf("\n%zu device%s, %u updating, %u queued.\n", n_devices, n_devices == 1 ? "" : "s",
               running, queued);
    if (errors && errors[0]) {
        printf("\nThe manifest has errors; the last good one stays in force:\n");
        for (char **e = errors; *e; e++)
            printf("  %s\n", *e);
    }
    for (char **e = errors; e && *e; e++)
        free(*e);
    free(errors);
    return STDFU_EXIT_OK;
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
    if (code == STDFU_EXIT_OK) {
        if (json)
            print_json(list, n);
        else if (print_table(list, n) < 0)
            code = STDFU_EXIT_FAILURE;
        else if (optind >= argc)
            code = print_manager_summary(bus, n);
    }
    device_props_list_free(list, n);
    sd_bus_flush_close_unref(bus);
    return code;
}
