/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stdfuctl erase: erase an alt's whole memory, or whole sectors of it. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "access.h"
#include "json-writer.h"
#include "stdfuctl.h"
#include "util/macro.h"
#include "util/parse-util.h"

typedef struct erase_args {
    cli_access_args access;
    bool all;
} erase_args;

static void help(FILE *f) {
    fprintf(f,
            "Usage: stdfuctl erase --port PATH [--alt N] (--all | --address ADDR --size BYTES)\n"
            "                      [--enter METHOD] [--no-leave] [--json]\n"
            "\n"
            "Erase a device's memory: every erasable sector of the alt setting's DfuSe layout\n"
            "(--all), or the sectors of a range that starts and ends on sector boundaries.\n"
            "The device is entered from its application and left as flash does; when the\n"
            "start of the flash was erased there is no application to start, and the device\n"
            "stays in its bootloader.\n"
            "\n"
            "Options:\n" CLI_ACCESS_HELP
            "      --all                every erasable sector of the memory\n"
            "      --address ADDR       first byte to erase (the start of a sector)\n"
            "      --size BYTES         how many bytes (up to the end of a sector)\n"
            "      --json               print one JSON result object, no progress\n"
            "  -h, --help               show this help\n"
            "\n" STDFU_EXIT_CODES_HELP);
}

enum { ARG_ALL = 0x100 };

static int erase_option(int c, void *userdata, bool *handled) {
    erase_args *a = userdata;

    *handled = c == ARG_ALL;
    if (*handled)
        a->all = true;
    return -1;
}

static int erase_check(const cli_access_args *access, void *userdata) {
    erase_args *a = userdata;

    if (a->all == (access->has_address || access->has_size))
        return stdfuctl_usage_error("erase", "give either --all or --address and --size");
    if (!a->all && access->has_address != access->has_size)
        return stdfuctl_usage_error("erase", "give --address and --size together");
    return -1;
}

static int parse_args(int argc, char **argv, const stdfuctl_globals *g, erase_args *a) {
    static const struct option options[] = {
        { "all", no_argument, NULL, ARG_ALL },
        {},
    };
    static const cli_access_command command = {
        .name = "erase",
        .options = options,
        .help = help,
        .option = erase_option,
        .check = erase_check,
    };

    *a = (erase_args) {};
    return cli_access_parse(&command, argc, argv, g->verbosity, &a->access, a);
}

/* Erases every erasable sector of the layout, run by run (read-only ones are left alone). */
static int erase_all(stdfu_dfuse *s, const stdfu_layout *l, size_t *ret_n, stdfu_error *err) {
    int r;

    if (!l)
        return stdfu_error_set(err, -EINVAL, "the alt setting has no DfuSe memory layout");
    *ret_n = 0;
    for (size_t i = 0; i < l->n_runs; i++) {
        size_t n = 0;
        if (!(stdfu_layout_attr_flags(l->runs[i].attr) & STDFU_SECTOR_ERASABLE))
            continue;
        r = stdfu_dfuse_erase_range(s, l->runs[i].address, l->runs[i].count * l->runs[i].size,
                                    &n, err);
        if (r < 0)
            return r;
        *ret_n += n;
    }
    return 0;
}

/* Whether the application's vector table (its initial stack pointer at the start of the
 * flash) was erased: then leaving would only bring the bootloader back. */
static bool application_erased(stdfu_dfuse *s, const stdfu_layout *l) {
    uint8_t sp[4];
    if (!l || l->n_runs == 0 || stdfu_dfuse_read(s, l->runs[0].address, sp, sizeof sp, NULL) < 0)
        return false;
    return sp[0] == 0xff && sp[1] == 0xff && sp[2] == 0xff && sp[3] == 0xff;
}

int cmd_erase(int argc, char **argv, const stdfuctl_globals *g) {
    stdfu_error err = {};
    const stdfu_layout *l;
    stdfu_dfuse *s;
    cli_access c;
    erase_args a;
    size_t n = 0;
    bool stay = false;
    int r, code;

    code = parse_args(argc, argv, g, &a);
    if (code >= 0)
        return code;
    code = cli_access_begin(&c, "erase", &a.access, &s);
    if (code != 0)
        return code;
    l = cli_access_layout(&c);
    r = stdfu_dfuse_recover(s, &err);
    if (r >= 0)
        r = a.all ? erase_all(s, l, &n, &err)
                  : stdfu_dfuse_erase_range(s, a.access.address, a.access.size, &n, &err);
    if (r >= 0 && a.access.alt == 0 && a.access.leave && application_erased(s, l)) {
        stay = true;
        if (!a.access.json && g->verbosity >= 0)
            printf("The start of the flash is erased: no application to start, the device "
                   "stays in its bootloader.\n");
    }
    code = cli_access_end(&c, stay, r, &err);
    if (a.access.json) {
        json_writer w;
        json_init(&w, stdout);
        json_begin_object(&w);
        json_kv_string(&w, "outcome", code == 0 ? "done" : "failed");
        json_kv_uint(&w, "exit_code", (uint64_t) code);
        json_kv_string(&w, "error", code == 0 ? NULL : c.res.error.message);
        json_kv_string(&w, "port", a.access.port);
        json_kv_uint(&w, "alt", a.access.alt);
        json_kv_uint(&w, "sectors_erased", n);
        json_kv_string(&w, "final_mode", stdfu_usb_mode_to_string(c.res.final_mode));
        json_end_object(&w);
        fflush(stdout);
    } else if (code == 0)
        printf("Erased %zu sector%s on port %s.\n", n, n == 1 ? "" : "s", a.access.port);
    return code;
}
