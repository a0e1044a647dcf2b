/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stdfuctl read: a device's memory (an alt's whole layout, or a range of it) into a file. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "json-writer.h"
#include "stdfuctl.h"
#include "util/fileio.h"
#include "util/macro.h"
#include "util/parse-util.h"

typedef enum out_format { OUT_BIN, OUT_HEX, OUT_SREC } out_format;

typedef struct read_args {
    cli_access_args access;
    const char *output;
} read_args;

static void help(FILE *f) {
    fprintf(f,
            "Usage: stdfuctl read --port PATH [--alt N] [--address ADDR --size BYTES]\n"
            "                     [--enter METHOD] [--no-leave] [--json] -o FILE\n"
            "\n"
            "Read a device's memory into FILE: the whole memory of the alt setting (its DfuSe\n"
            "layout) unless --address and --size name a range of it. FILE is raw binary, or\n"
            "Intel HEX when it ends in .hex, or Motorola S-records (S3) when it ends in .srec,\n"
            ".s19, .s28, .s37 or .mot. The device is entered from its application and left\n"
            "as flash does.\n"
            "\n"
            "Options:\n" CLI_ACCESS_HELP
            "      --address ADDR       first byte to read\n"
            "      --size BYTES         how many bytes to read\n"
            "  -o, --output FILE        where to write them\n"
            "      --json               print one JSON result object, no progress\n"
            "  -h, --help               show this help\n"
            "\n" STDFU_EXIT_CODES_HELP);
}

static int read_option(int c, void *userdata, bool *handled) {
    read_args *a = userdata;

    *handled = c == 'o';
    if (*handled)
        a->output = optarg;
    return -1;
}

static int read_check(const cli_access_args *access, void *userdata) {
    read_args *a = userdata;

    if (access->has_address != access->has_size)
        return stdfuctl_usage_error("read", "give --address and --size together");
    if (!a->output)
        return stdfuctl_usage_error("read", "no output file given (-o FILE)");
    return -1;
}

static int parse_args(int argc, char **argv, const stdfuctl_globals *g, read_args *a) {
    static const struct option options[] = {
        { "output", required_argument, NULL, 'o' },
        {},
    };
    static const cli_access_command command = {
        .name = "read",
        .short_options = "o:",
        .options = options,
        .help = help,
        .option = read_option,
        .check = read_check,
    };

    *a = (read_args) {};
    return cli_access_parse(&command, argc, argv, g->verbosity, &a->access, a);
}

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

static out_format format_of(const char *path) {
    if (ends_with(path, ".hex") || ends_with(path, ".ihex"))
        return OUT_HEX;
    if (ends_with(path, ".srec") || ends_with(path, ".s19") || ends_with(path, ".s28") ||
        ends_with(path, ".s37") || ends_with(path, ".mot"))
        return OUT_SREC;
    return OUT_BIN;
}

/* ---- text formats ---------------------------------------------------------------------- */

/* One Intel HEX record: checksum = two's complement of the sum of all bytes before it. */
static void hex_record(FILE *f, uint8_t type, uint16_t offset, const uint8_t *data, size_t n) {
    uint8_t sum = (uint8_t) (n + (offset >> 8) + (offset & 0xff) + type);
    fprintf(f, ":%02zX%04X%02X", n, offset, type);
    for (size_t i = 0; i < n; i++) {
        fprintf(f, "%02X", data[i]);
        sum += data[i];
    }
    fprintf(f, "%02X\n", (uint8_t) -sum);
}

static void write_hex(FILE *f, uint32_t address, const uint8_t *data, size_t size) {
    uint32_t upper = UINT32_MAX;

    for (size_t off = 0; off < size;) {
        uint32_t a = address + (uint32_t) off;
        /* 16 bytes a record, never across a 64 KiB boundary */
        size_t n = MIN(MIN((size_t) 16, size - off), (size_t) (0x10000 - (a & 0xffff)));
        if (a >> 16 != upper) {
            uint8_t ela[2] = { (uint8_t) (a >> 24), (uint8_t) (a >> 16) };
            upper = a >> 16;
            hex_record(f, 0x04, 0, ela, 2);
        }
        hex_record(f, 0x00, (uint16_t) a, data + off, n);
        off += n;
    }
    /* start linear address: the application's base, as objcopy writes it for an ELF entry */
    hex_record(f, 0x01, 0, NULL, 0);
}

/* One S-record: count = address + data + checksum bytes; checksum = ones' complement of the
 * low byte of their sum. */
static void srec_record(FILE *f, char type, unsigned addr_bytes, uint32_t address,
                        const uint8_t *data, size_t n) {
    uint8_t count = (uint8_t) (addr_bytes + n + 1), sum = count;
    fprintf(f, "S%c%02X", type, count);
    for (unsigned i = addr_bytes; i-- > 0;) {
        uint8_t b = (uint8_t) (address >> (8 * i));
        fprintf(f, "%02X", b);
        sum += b;
    }
    for (size_t i = 0; i < n; i++) {
        fprintf(f, "%02X", data[i]);
        sum += data[i];
    }
    fprintf(f, "%02X\n", (uint8_t) ~sum);
}

static void write_srec(FILE *f, const char *name, uint32_t address, const uint8_t *data,
                       size_t size) {
    size_t records = 0;

    srec_record(f, '0', 2, 0, (const uint8_t *) name, MIN(strlen(name), (size_t) 60));
    for (size_t off = 0; off < size; off += 32, records++)
        srec_record(f, '3', 4, address + (uint32_t) off, data + off, MIN((size_t) 32, size - off));
    if (records <= 0xffff)
        srec_record(f, '5', 2, (uint32_t) records, NULL, 0);
    else
        srec_record(f, '6', 3, (uint32_t) records, NULL, 0);
    srec_record(f, '7', 4, address, NULL, 0);
}

static int write_output(const read_args *a, uint32_t address, const uint8_t *data, size_t size,
                        stdfu_error *err) {
    _cleanup_free_ char *text = NULL;
    size_t len = 0;
    FILE *f;

    int r;

    if (format_of(a->output) == OUT_BIN) {
        r = write_file_atomic(a->output, data, size, 0644);
        return r < 0 ? stdfu_error_set(err, r, "cannot write %s: %m", a->output) : 0;
    }
    f = open_memstream(&text, &len);
    if (!f)
        return stdfu_error_set(err, -ENOMEM, "out of memory");
    if (format_of(a->output) == OUT_HEX)
        write_hex(f, address, data, size);
    else
        write_srec(f, "stdfuctl read", address, data, size);
    if (fclose(f) != 0)
        return stdfu_error_set(err, -ENOMEM, "out of memory");
    r = write_file_atomic(a->output, text, len, 0644);
    return r < 0 ? stdfu_error_set(err, r, "cannot write %s: %m", a->output) : 0;
}

/* ---- the command ------------------------------------------------------------------------- */

/* The whole memory of the alt: from its first sector to the end of its last, when the runs
 * follow each other without a gap. */
static int whole_memory(const stdfu_layout *l, uint32_t *ret_address, uint32_t *ret_size,
                        stdfu_error *err) {
    uint64_t end;

    if (!l || l->n_runs == 0)
        return stdfu_error_set(err, -EINVAL, "the alt setting has no DfuSe memory layout: "
                               "give --address and --size");
    end = l->runs[0].address;
    for (size_t i = 0; i < l->n_runs; i++) {
        if (l->runs[i].address != end)
            return stdfu_error_set(err, -EINVAL, "the memory '%s' has a gap at 0x%08" PRIx64
                                   ": give --address and --size", l->name, end);
        end += (uint64_t) l->runs[i].count * l->runs[i].size;
    }
    *ret_address = l->runs[0].address;
    *ret_size = (uint32_t) MIN(end - l->runs[0].address, (uint64_t) UINT32_MAX);
    return 0;
}

static void print_json(const read_args *a, const cli_access *c, uint32_t address, uint32_t size,
                       int code) {
    json_writer w;

    json_init(&w, stdout);
    json_begin_object(&w);
    json_kv_string(&w, "outcome", code == 0 ? "done" : "failed");
    json_kv_uint(&w, "exit_code", (uint64_t) code);
    json_kv_string(&w, "error", code == 0 ? NULL : c->res.error.message);
    json_kv_string(&w, "port", a->access.port);
    json_kv_uint(&w, "alt", a->access.alt);
    json_kv_uint(&w, "address", address);
    json_kv_uint(&w, "bytes", size);
    json_kv_string(&w, "file", a->output);
    json_kv_string(&w, "final_mode", stdfu_usb_mode_to_string(c->res.final_mode));
    json_end_object(&w);
    fflush(stdout);
}

int cmd_read(int argc, char **argv, const stdfuctl_globals *g) {
    _cleanup_free_ uint8_t *buf = NULL;
    stdfu_error err = {};
    stdfu_dfuse *s;
    cli_access c;
    read_args a;
    uint32_t address = 0, size = 0;
    int r, code;

    code = parse_args(argc, argv, g, &a);
    if (code >= 0)
        return code;
    code = cli_access_begin(&c, "read", &a.access, &s);
    if (code != 0) {
        if (a.access.json)
            print_json(&a, &c, 0, 0, code);
        return code;
    }

    if (a.access.has_address) {
        address = a.access.address;
        size = a.access.size;
        r = 0;
    } else
        r = whole_memory(cli_access_layout(&c), &address, &size, &err);
    if (r >= 0 && !(buf = malloc(size)))
        r = stdfu_error_set(&err, -ENOMEM, "out of memory for %u bytes", size);
    if (r >= 0)
        r = stdfu_dfuse_recover(s, &err);
    if (r >= 0)
        r = stdfu_dfuse_read(s, address, buf, size, &err);
    code = cli_access_end(&c, false, r, &err);
    /* The device is back where it was before the file is written: a full disk is no reason
     * to leave it in its bootloader. */
    if (code == 0 && write_output(&a, address, buf, size, &err) < 0) {
        fprintf(stderr, "stdfuctl read: %s\n", err.message);
        code = STDFU_EXIT_FAILURE;
        stdfu_error_set(&c.res.error, err.code, "%s", err.message);
    }
    if (a.access.json)
        print_json(&a, &c, address, size, code);
    else if (code == 0)
        printf("Read %u bytes at 0x%08x from port %s into %s.\n", size, address,
               a.access.port, a.output);
    return code;
}
