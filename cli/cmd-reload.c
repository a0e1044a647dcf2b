/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stdfuctl reload: make stdfud read its manifests again. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "bus.h"
#include "util/log.h"

static void help(FILE *f) {
    fprintf(f,
            "Usage: stdfuctl [--bus BUS] reload\n"
            "\n"
            "Make stdfud read its manifests again (as SIGHUP does). When the new manifest has\n"
            "errors they are printed, the previous manifest stays in force, and the exit status\n"
            "is 1. Needs root or group stdfu.\n"
            "\n"
            "Options:\n"
            STDFUCTL_HELP_BUS_AND_HELP);
}

/* Reload's error names the first problem; the property has them all. Returns how many. */
static size_t print_manifest_errors(sd_bus *bus) {
    char **errors = NULL;
    size_t n = 0;

    if (sd_bus_get_property_strv(bus, STDFU_BUS_NAME, STDFU_MANAGER_PATH, STDFU_MANAGER_IFACE,
                                 "ManifestErrors", NULL, &errors) < 0)
        return 0;
    for (char **e = errors; e && *e; e++, n++) {
        if (n == 0)
            log_error("The new manifest has errors; stdfud keeps the previous one:");
        fprintf(stderr, "  %s\n", *e);
        free(*e);
    }
    free(errors);
    return n;
}

static int reload(sd_bus *bus) {
    sd_bus_error error = SD_BUS_ERROR_NULL;
    int r;

    r = sd_bus_call_method(bus, STDFU_BUS_NAME, STDFU_MANAGER_PATH, STDFU_MANAGER_IFACE,
                           "Reload", &error, NULL, NULL);
    if (r >= 0)
        return STDFU_EXIT_OK;
    int code = stdfuctl_bus_error_to_exit(&error, r, "Reload");
    if (code != STDFU_EXIT_FAILURE || print_manifest_errors(bus) == 0)
        code = stdfuctl_bus_error_or_exit(&error, r, "Reload", NULL);
    sd_bus_error_free(&error);
    return code;
}

int cmd_reload(int argc, char **argv, const stdfuctl_globals *g) {
    sd_bus *bus = NULL;
    int code;
    (void) g;

    code = stdfuctl_parse_options(argc, argv, "reload", help, STDFUCTL_OPT_BUS, NULL);
    if (code >= 0)
        return code;
    if (optind < argc)
        return stdfuctl_usage_error("reload", "unexpected argument '%s'.", argv[optind]);

    code = stdfuctl_bus_open_or_exit(&bus);
    if (code == STDFU_EXIT_OK) {
        code = reload(bus);
    }
    sd_bus_flush_close_unref(bus);
    return code;
}
