/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The options every command shares (-h/--help, --bus, --json) and the usage error. */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>

#include "bus.h"
#include "stdfuctl.h"
#include "util/parse-util.h"

int stdfuctl_usage_error(const char *command, const char *format, ...) {
    va_list ap;

    fprintf(stderr, "stdfuctl %s: ", command);
    va_start(ap, format);
    vfprintf(stderr, format, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'stdfuctl %s --help'.\n", command);
    return STDFU_EXIT_USAGE;
}

int stdfuctl_common_option(int c, const char *command, stdfuctl_help_fn help, bool *ret_json) {
    switch (c) {
    case 'h':
        help(stdout);
        return STDFU_EXIT_OK;
    case STDFUCTL_ARG_JSON:
        *ret_json = true;
        return -1;
    case STDFUCTL_ARG_BUS:
        if (stdfuctl_bus_set(optarg) < 0)
            return stdfuctl_usage_error(command, "--bus needs system, session or an address.");
        return -1;
    default: /* getopt_long() said what is wrong */
        fprintf(stderr, "Try 'stdfuctl %s --help'.\n", command);
        return STDFU_EXIT_USAGE;
    }
}

int stdfuctl_parse_address(const char *command, const char *arg, uint32_t *ret) {
    if (parse_u32(arg, ret) < 0)
        return stdfuctl_usage_error(command, "--address: '%s' is not an address (e.g. "
                                    "0x08000000).", arg);
    return -1;
}

int stdfuctl_parse_options(int argc, char **argv, const char *command, stdfuctl_help_fn help,
                           unsigned which, bool *ret_json) {
    struct option options[4] = { STDFUCTL_OPTION_HELP };
    size_t n = 1;
    int c, code;

    if (which & STDFUCTL_OPT_BUS)
        options[n++] = (struct option) STDFUCTL_OPTION_BUS;
    if (which & STDFUCTL_OPT_JSON)
        options[n++] = (struct option) STDFUCTL_OPTION_JSON;
    while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
        code = stdfuctl_common_option(c, command, help, ret_json);
        if (code >= 0)
            return code;
    }
    return -1;
}
