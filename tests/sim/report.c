/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "report.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/macro.h"

static void json_string(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

static void json_sha256(FILE *f, const uint8_t *data, size_t size) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned len = 0;

    if (!EVP_Digest(data, size, md, &len, EVP_sha256(), NULL)) {
        fputs("null", f);
        return;
    }
    fputc('"', f);
    for (unsigned i = 0; i < len; i++)
        fprintf(f, "%02x", md[i]);
    fputc('"', f);
}

static const char *mode_name(sim_mode m) {
    return m == SIM_MODE_APPLICATION ? "application" : m == SIM_MODE_BOOTLOADER ? "bootloader"
                                                                               : "off";
}

/* The image length the application header declares, when the header is valid. */
static size_t image_length(const uint8_t *flash, size_t size) {
    unsigned major, minor;

    if (!sim_fw_check(flash, size, &major, &minor))
        return 0;
    const uint8_t *h = flash + SIM_FW_HEADER_OFFSET + 8;
    size_t len = h[0] | (size_t) h[1] << 8 | (size_t) h[2] << 16 | (size_t) h[3] << 24;
    return len <= size ? len : 0;
}

static void report_counters(FILE *f, const sim_counters *c) {
    unsigned total = 0;

    for (unsigned i = 0; i < c->n_pages; i++)
        total += c->erases_per_page[i];
    fprintf(f, "      \"counters\": { \"enumerations\": %u, \"boots\": %u, \"leaves\": %u, "
            "\"resets\": %u, \"power_cycles\": %u, \"bytes_written\": %llu, "
            "\"bytes_read\": %llu, \"erases\": %u, \"erases_per_page\": [",
            c->enumerations, c->boots, c->leaves, c->resets, c->power_cycles,
            (unsigned long long) c->bytes_written, (unsigned long long) c->bytes_read, total);
    for (unsigned i = 0; i < c->n_pages; i++)
        fprintf(f, "%s%u", i ? ", " : "", c->erases_per_page[i]);
    fputs("] },\n", f);
}

static void report_device(FILE *f, sim_device *d, const char *port, bool plugged) {
    const sim_device_config *cfg = sim_device_get_config(d);
    const sim_counters *c = sim_device_counters(d);
    size_t flash_size = 0;
    const uint8_t *flash = sim_device_flash(d, &flash_size);
    size_t image = flash ? image_length(flash, flash_size) : 0;
    unsigned major, minor;

    fputs("    {\n      \"port\": ", f);
    json_string(f, port);
    fputs(", \"profile\": ", f);
    json_string(f, sim_profile_name(cfg->profile));
    fprintf(f, ", \"mode\": \"%s\", \"plugged\": %s,\n      \"version\": ",
            mode_name(sim_device_mode(d)), plugged ? "true" : "false");
    if (sim_device_app_version(d, &major, &minor))
        fprintf(f, "\"%u.%u\"", major, minor);
    else
        fputs("null", f);
    fprintf(f, ", \"bcd_device\": %u, \"flash_size\": %zu,\n      \"flash_sha256\": ",
            sim_device_app_bcd(d), flash_size);
    json_sha256(f, flash, flash_size);
    if (image) {
        fprintf(f, ",\n      \"image_size\": %zu, \"image_sha256\": ", image);
        json_sha256(f, flash, image);
    } else
        fputs(",\n      \"image_size\": null, \"image_sha256\": null", f);
    fputs(",\n      \"dfu_state\": ", f);
    json_string(f, sim_dfu_state_name(sim_device_dfu_state(d)));
    fputs(", \"dfu_status\": ", f);
    json_string(f, sim_dfu_status_name(sim_device_dfu_status(d)));
    fprintf(f, ", \"read_protected\": %s,\n", sim_device_read_protected(d) ? "true" : "false");
    report_counters(f, c);
    fprintf(f, "      \"busy_ms\": %.3f, \"transfer_ms\": %.3f, \"floor_ms\": %.3f\n    }",
            (double) c->busy_us / 1000.0, (double) c->transfer_us / 1000.0,
            (double) sim_device_floor_us(d) / 1000.0);
}

/* One hub: { "kind": ..., "port": "1-N", "ports": [ ... ] }. */
static void report_one_hub(FILE *f, sim_hub *h, size_t index, const char *indent) {
    fputs("{ \"kind\": ", f);
    json_string(f, sim_hub_kind_to_string(sim_hub_get_kind(h)));
    fprintf(f, ", \"port\": \"1-%zu\", \"ports\": [", index + 1);
    for (unsigned p = 1; p <= SIM_HUB_PORTS; p++)
        fprintf(f, "%s\n%s{ \"port\": \"1-%zu.%u\", \"powered\": %s, \"device\": %s }",
                p > 1 ? "," : "", indent, index + 1, p,
                sim_hub_port_powered(h, p) ? "true" : "false",
                sim_hub_port_device(h, p) ? "true" : "false");
    fputs(" ] }", f);
}

/* "hub" is the first hub (or kind "none"), as before there could be several; "hubs" all. */
static void report_hubs(FILE *f, sim_bus *b) {
    fputs("  \"hub\": ", f);
    if (sim_bus_n_hubs(b) > 0)
        report_one_hub(f, sim_bus_hub(b, 0), 0, "    ");
    else
        fputs("{ \"kind\": \"none\" }", f);
    fputs(",\n  \"hubs\": [", f);
    for (size_t i = 0; i < sim_bus_n_hubs(b); i++) {
        fputs(i > 0 ? ",\n    " : "\n    ", f);
        report_one_hub(f, sim_bus_hub(b, i), i, "      ");
    }
    fputs(" ],\n", f);
}

int sim_report_write(sim_bus *b, const char *path) {
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    int r;

    if (!f)
        return log_oom();
    sim_bus_lock(b);
    fputs("{\n", f);
    report_hubs(f, b);
    fputs("  \"devices\": [\n", f);
    for (size_t i = 0; i < sim_bus_n_devices(b); i++) {
        const char *port;
        bool plugged;
        sim_device *d = sim_bus_device(b, i, &port, &plugged);
        if (i > 0)
            fputs(",\n", f);
        report_device(f, d, port, plugged);
    }
    fputs("\n  ]\n}\n", f);
    sim_bus_unlock(b);
    if (fclose(f) != 0) {
        free(text);
        return log_oom();
    }
    r = write_file_atomic(path, text, len, 0644);
    free(text);
    if (r < 0)
        return log_error_errno(r, "Cannot write the report %s: %m", path);
    return 0;
}
