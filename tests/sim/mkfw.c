/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "mkfw.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fwfile.h"
#include "model/model.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/macro.h"
#include "util/parse-util.h"

#define MKFW_DEFAULT_BASE 0x08000000u
#define MKFW_MAX_SIZE (16u << 20) /* far above the largest emulated flash (1 MiB) */

typedef struct mkfw_args {
    unsigned major, minor;
    bool have_version;
    uint32_t size;
    uint32_t seed;
    uint32_t base;
    const char *output;
} mkfw_args;

static void mkfw_usage(FILE *f) {
    fputs("usage: stdfu-sim mkfw --version MAJOR.MINOR --size BYTES [--seed N] [--base ADDR]\n"
          "                      -o FILE(.bin|.dfu|.hex)\n",
          f);
}

/* "1.2": both parts 0..99, as they become the two BCD bytes of bcdDevice. */
static int parse_version(const char *s, unsigned *major, unsigned *minor) {
    char buf[16];
    const char *dot = strchr(s, '.');
    uint32_t a, b;

    if (!dot || (size_t) (dot - s) >= sizeof buf)
        return -EINVAL;
    memcpy(buf, s, (size_t) (dot - s));
    buf[dot - s] = '\0';
    if (parse_u32(buf, &a) < 0 || parse_u32(dot + 1, &b) < 0 || a > 99 || b > 99)
        return -EINVAL;
    *major = a;
    *minor = b;
    return 0;
}

static int mkfw_parse(int argc, char **argv, mkfw_args *a) {
    static const struct option options[] = {
        { "version", required_argument, NULL, 'V' },
        { "size", required_argument, NULL, 's' },
        { "seed", required_argument, NULL, 'S' },
        { "base", required_argument, NULL, 'b' },
        { "output", required_argument, NULL, 'o' },
        { "help", no_argument, NULL, 'h' },
        {}
    };
    int c;

    *a = (mkfw_args) { .seed = 1, .base = MKFW_DEFAULT_BASE };
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:h", options, NULL)) >= 0) {
        switch (c) {
        case 'V':
            if (parse_version(optarg, &a->major, &a->minor) < 0)
                return log_error_errno(EINVAL, "mkfw: bad --version '%s': expected MAJOR.MINOR, "
                                       "each 0..99", optarg);
            a->have_version = true;
            break;
        case 's':
            if (parse_u32(optarg, &a->size) < 0)
                return log_error_errno(EINVAL, "mkfw: bad --size '%s': expected a number of bytes",
                                       optarg);
            break;
        case 'S':
            if (parse_u32(optarg, &a->seed) < 0)
                return log_error_errno(EINVAL, "mkfw: bad --seed '%s': expected a 32-bit number",
                                       optarg);
            break;
        case 'b':
            if (parse_u32(optarg, &a->base) < 0 || a->base % 4 != 0)
                return log_error_errno(EINVAL, "mkfw: bad --base '%s': expected a 4-byte aligned "
                                       "address", optarg);
            break;
        case 'o':
            a->output = optarg;
            break;
        case 'h':
            mkfw_usage(stdout);
            exit(EXIT_SUCCESS);
        default:
            mkfw_usage(stderr);
            return -EINVAL;
        }
    }
    if (optind < argc)
        return log_error_errno(EINVAL, "mkfw: unexpected argument '%s'", argv[optind]);
    if (!a->have_version || !a->output || a->size == 0) {
        mkfw_usage(stderr);
        return log_error_errno(EINVAL, "mkfw: --version, --size and -o are required");
    }
    if (a->size < SIM_FW_HEADER_OFFSET + SIM_FW_HEADER_SIZE || a->size > MKFW_MAX_SIZE)
        return log_error_errno(EINVAL, "mkfw: --size %" PRIu32 " is out of range: an image "
                               "holds its header at 0x%x, so it needs %u..%u bytes", a->size,
                               SIM_FW_HEADER_OFFSET, SIM_FW_HEADER_OFFSET + SIM_FW_HEADER_SIZE,
                               MKFW_MAX_SIZE);
    if ((uint64_t) a->base + a->size > (uint64_t) UINT32_MAX + 1)
        return log_error_errno(EINVAL, "mkfw: an image of %" PRIu32 " bytes at 0x%08" PRIx32
                               " ends past the 32-bit address space", a->size, a->base);
    return 0;
}

static uint32_t le32(const uint8_t *p) {
    return p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

static int mkfw_encode(const mkfw_args *a, fw_format format, const uint8_t *image,
                       uint8_t **ret, size_t *ret_size) {
    switch (format) {
    case FW_FORMAT_BIN:
        *ret = malloc(a->size);
        if (!*ret)
            return -ENOMEM;
        memcpy(*ret, image, a->size);
        *ret_size = a->size;
        return 0;
    case FW_FORMAT_DFUSE:
        /* ST's ROM bootloader ids, as a DfuSe file for it carries them. */
        return fw_encode_dfuse(image, a->size, a->base, 0x0483, 0xdf11, ret, ret_size);
    case FW_FORMAT_HEX:
        /* The start address is the reset vector (word 1 of the vector table), as a linker
         * output converted by objcopy would carry the entry point. */
        return fw_encode_ihex(image, a->size, a->base, le32(image + 4), ret, ret_size);
    }
    return -EINVAL;
}

int sim_mkfw_main(int argc, char **argv) {
    _cleanup_free_ uint8_t *image = NULL, *file = NULL;
    size_t file_size = 0;
    mkfw_args a;
    fw_format format;
    int r;

    r = mkfw_parse(argc, argv, &a);
    if (r < 0)
        return 2;
    if (fw_format_from_path(a.output, &format) < 0) {
        log_error("mkfw: cannot tell the format of '%s': the name must end in .bin, .dfu or .hex",
                  a.output);
        return 2;
    }

    image = malloc(a.size);
    if (!image)
        return log_oom(), EXIT_FAILURE;
    r = sim_fw_make_at(image, a.size, a.major, a.minor, a.seed, a.base);
    if (r < 0) {
        log_error_errno(r, "mkfw: cannot make an image of %" PRIu32 " bytes: %m", a.size);
        return EXIT_FAILURE;
    }
    r = mkfw_encode(&a, format, image, &file, &file_size);
    if (r < 0) {
        log_error_errno(r, "mkfw: cannot encode %s: %m", a.output);
        return EXIT_FAILURE;
    }
    r = write_file_atomic(a.output, file, file_size, 0644);
    if (r < 0) {
        log_error_errno(r, "mkfw: cannot write %s: %m", a.output);
        return EXIT_FAILURE;
    }
    return EXIT_SUCCESS;
}
