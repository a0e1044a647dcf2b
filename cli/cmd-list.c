/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stdfuctl list: every application or bootloader device, with the flash layout of
 * bootloaders (read from their alt settings' interface strings). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dfuse/dfuse.h"
#include "dfuse/transport.h"
#include "json-device.h"
#include "stdfuctl.h"
#include "usb/usb.h"
#include "util/log.h"
#include "util/macro.h"

static void help(FILE *f) {
    fprintf(f,
            "Usage: stdfuctl list [--json]\n"
            "\n"
            "Show every STM32 application or DfuSe bootloader device: USB port, mode, ids,\n"
            "serial, version (bcdDevice) and, for bootloaders, the memory layout of every\n"
            "alt setting.\n"
            "\n"
            "Options:\n"
            "      --json     print one JSON object whose \"devices\" has one object per device\n"
            "  -h, --help     show this help\n"
            "\n" STDFU_EXIT_CODES_HELP);
}

/* A bootloader's session, opened only to read its alt settings. NULL when it cannot be. */
static stdfu_dfuse *open_bootloader(const stdfu_usb_info *d) {
    stdfu_transport *t = NULL;
    stdfu_dfuse *s = NULL;
    stdfu_dfuse_options opts = {};
    stdfu_error err = {};

    if (d->mode != STDFU_USB_BOOTLOADER)
        return NULL;
    if (stdfu_transport_open_port(d->port, d->devnum, &t, &err) < 0 ||
        stdfu_dfuse_open(t, &opts, &s, &err) < 0) {
        log_warning("Cannot read the memory layout of port %s: %s", d->port, err.message);
        return NULL;
    }
    return s;
}

static void print_layout_human(const stdfu_dfuse *s) {
    for (size_t i = 0; i < stdfu_dfuse_n_alts(s); i++) {
        const stdfu_dfuse_alt *alt = stdfu_dfuse_get_alt(s, i);
        char buf[2048];

        if (!alt->has_layout || stdfu_layout_format(&alt->layout, buf, sizeof buf) < 0) {
            printf("    alt %u: %s\n", alt->alt, alt->name);
            continue;
        }
        printf("    alt %u: %s\n", alt->alt, alt->layout.name);
        for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n"))
            printf("      %s\n", line);
    }
}

static void print_human(const stdfu_usb_info *list, size_t n) {
    char bcd[8];

    if (n == 0) {
        printf("No STM32 application or bootloader found.\n");
        return;
    }
    printf("%-14s %-12s %-10s %-16s %-8s %s\n", "PORT", "MODE", "ID", "SERIAL", "VERSION",
           "PRODUCT");
    for (size_t i = 0; i < n; i++) {
        const stdfu_usb_info *d = &list[i];
        char id[16];

        snprintf(id, sizeof id, "%04x:%04x", d->vid, d->pid);
        printf("%-14s %-12s %-10s %-16s %-8s %s\n", d->port, stdfu_usb_mode_to_string(d->mode),
               id, d->serial[0] ? d->serial : "-", stdfuctl_format_bcd(d->bcd_device, bcd),
               d->product[0] ? d->product : "-");
        stdfu_dfuse *s = open_bootloader(d);
        if (s) {
            print_layout_human(s);
            stdfu_dfuse_free(s);
        }
    }
}

static void json_layout(json_writer *w, const stdfu_dfuse *s) {
    json_begin_array(w);
    for (size_t i = 0; i < stdfu_dfuse_n_alts(s); i++) {
        const stdfu_dfuse_alt *alt = stdfu_dfuse_get_alt(s, i);
        char addr[16];

        json_begin_object(w);
        json_kv_uint(w, "alt", alt->alt);
        json_kv_string(w, "name", alt->name);
        if (alt->has_layout) {
            json_kv_string(w, "memory", alt->layout.name);
            json_kv_uint(w, "size", stdfu_layout_total_size(&alt->layout));
            json_key(w, "sectors");
            json_begin_array(w);
            for (size_t k = 0; k < alt->layout.n_runs; k++) {
                const stdfu_sector_run *run = &alt->layout.runs[k];
                char attr[2] = { run->attr, 0 };
                json_begin_object(w);
                snprintf(addr, sizeof addr, "0x%08x", run->address);
                json_kv_string(w, "address", addr);
                json_kv_uint(w, "count", run->count);
                json_kv_uint(w, "size", run->size);
                json_kv_string(w, "attributes", attr);
                json_end_object(w);
            }
            json_end_array(w);
        }
        json_end_object(w);
    }
    json_end_array(w);
}

static void print_json(const stdfu_usb_info *list, size_t n) {
    json_writer w;
    char buf[16];

    json_begin_document(&w, stdout, "list");
    json_key(&w, "devices");
    json_begin_array(&w);
    for (size_t i = 0; i < n; i++) {
        const stdfu_usb_info *d = &list[i];

        /* The device object of every command (json-device.h); what only USB tells after. */
        json_begin_object(&w);
        json_kv_string(&w, "port", d->port);
        json_kv_string(&w, "mode", stdfu_usb_mode_to_string(d->mode));
        json_kv_string(&w, "usb_id", stdfuctl_format_usb_id(d->vid, d->pid, buf));
        json_kv_string(&w, "product", empty_to_null(d->product));
        json_kv_string(&w, "serial", empty_to_null(d->serial));
        /* An application's bcdDevice is its version; the bootloader's is the ROM's. */
        json_kv_string(&w, "running_version", d->mode == STDFU_USB_APPLICATION
                                                  ? stdfuctl_format_version(d->bcd_device, buf)
                                                  : NULL);
        json_kv_uint(&w, "bcd_device", d->bcd_device);
        json_kv_string(&w, "manufacturer", empty_to_null(d->manufacturer));
        json_kv_string(&w, "hidraw", empty_to_null(d->hidraw));
        json_kv_bool(&w, "dfu_runtime", d->has_dfu_runtime);
        json_key(&w, "layout");
        stdfu_dfuse *s = open_bootloader(d);
        if (s) {
            json_layout(&w, s);
            stdfu_dfuse_free(s);
        } else
            json_null(&w);
        json_end_object(&w);
    }
    json_end_array(&w);
    json_end_object(&w);
}

int cmd_list(int argc, char **argv, const stdfuctl_globals *g) {
    _cleanup_free_ stdfu_usb_info *list = NULL;
    stdfu_usb_ids ids;
    stdfu_error err = {};
    bool json = false;
    size_t n = 0;
    int code;
    (void) g;

    code = stdfuctl_parse_options(argc, argv, "list", help, STDFUCTL_OPT_JSON, &json);
    if (code >= 0)
        return code;
    if (optind < argc)
        return stdfuctl_usage_error("list", "unexpected argument '%s'.", argv[optind]);

    stdfu_usb_ids_init_default(&ids);
    if (stdfu_usb_enumerate(NULL, &ids, &list, &n, &err) < 0) {
        fprintf(stderr, "stdfuctl list: %s\n", err.message);
        return STDFU_EXIT_FAILURE;
    }
    if (json)
        print_json(list, n);
    else
        print_human(list, n);
    return STDFU_EXIT_OK;
}
