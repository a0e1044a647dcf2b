/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* image-dump: what lib/image makes of a firmware file, for tests and for people.
 *
 *   image-dump [--address ADDR] [--alt N] [--format auto|dfuse|dfu|bin|hex]
 *              [--ids VID:PID] [--layout STRING] FILE
 *
 * Prints "key: value" lines: format, suffix ids, sha256 of the file, targets, and per element
 * its address, size and the sha256 of its data. --ids and --layout also run the checks a
 * flash would run (stdfu_image_check_ids/_check_layout) and list the sectors to erase.
 * Errors go to stderr, exit status 1. */
#include <errno.h>
#include <getopt.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "image/image.h"
#include "util/parse-util.h"

static void print_sha256(const uint8_t *data, size_t size) {
    uint8_t md[32];
    unsigned len = 0;
    EVP_Digest(data, size, md, &len, EVP_sha256(), NULL);
    for (unsigned i = 0; i < len; i++)
        printf("%02x", md[i]);
}

static void dump(const stdfu_image *img) {
    printf("format: %s\n", stdfu_image_format_to_string(img->format));
    if (img->has_suffix)
        printf("suffix: vid=%04x pid=%04x device=%04x dfu=%04x\n", img->vid, img->pid,
               img->bcd_device, img->bcd_dfu);
    else
        printf("suffix: none\n");
    printf("sha256: ");
    for (size_t i = 0; i < sizeof img->sha256; i++)
        printf("%02x", img->sha256[i]);
    printf("\ntotal: %llu\n", (unsigned long long) img->total_bytes);
    if (img->has_start_address)
        printf("start: 0x%08x\n", img->start_address);
    printf("targets: %zu\n", img->n_targets);
    for (size_t i = 0; i < img->n_targets; i++) {
        const stdfu_target *t = &img->targets[i];
        printf("target: alt=%u name=\"%s\" elements=%zu\n", t->alt, t->name, t->n_elements);
        for (size_t j = 0; j < t->n_elements; j++) {
            printf("element: 0x%08x %u ", t->elements[j].address, t->elements[j].size);
            print_sha256(t->elements[j].data, t->elements[j].size);
            printf("\n");
        }
    }
}

static int check_against(const stdfu_image *img, uint8_t alt, const char *layout_string,
                         stdfu_error *err) {
    _cleanup_layout_ stdfu_layout layout = {};
    stdfu_sector *sectors = NULL;
    size_t n = 0;
    const stdfu_target *t = stdfu_image_find_target(img, alt);
    int r;

    if (!t)
        return stdfu_error_set(err, -ENOENT, "no target for alt setting %u", alt);
    r = stdfu_layout_parse(layout_string, &layout, err);
    if (r < 0)
        return r;
    r = stdfu_image_check_layout(img, t, &layout, err);
    if (r < 0)
        return r;
    r = stdfu_image_target_sectors(img, t, &layout, &sectors, &n, err);
    if (r < 0)
        return r;
    printf("layout: ok\n");
    for (size_t i = 0; i < n; i++)
        printf("sector: 0x%08x %u%s\n", sectors[i].address, sectors[i].size,
               sectors[i].flags & STDFU_SECTOR_ERASABLE ? " erase" : "");
    free(sectors);
    return 0;
}

static int parse_format(const char *s, stdfu_image_format *ret) {
    for (int f = STDFU_IMAGE_AUTO; f <= STDFU_IMAGE_HEX; f++)
        if (strcmp(s, stdfu_image_format_to_string((stdfu_image_format) f)) == 0) {
            *ret = (stdfu_image_format) f;
            return 0;
        }
    return -EINVAL;
}

static int parse_ids(const char *s, uint16_t *vid, uint16_t *pid) {
    char v[8];
    const char *colon = strchr(s, ':');
    if (!colon || colon - s >= (int) sizeof v)
        return -EINVAL;
    memcpy(v, s, (size_t) (colon - s));
    v[colon - s] = '\0';
    if (parse_u16_hex(v, vid) < 0 || parse_u16_hex(colon + 1, pid) < 0)
        return -EINVAL;
    return 0;
}

static _noreturn_ void usage(void) {
    fprintf(stderr, "usage: image-dump [--address ADDR] [--alt N] [--format F] [--ids VID:PID] "
                    "[--layout STRING] FILE\n");
    exit(2);
}

int main(int argc, char **argv) {
    static const struct option options[] = {
        { "address", required_argument, NULL, 'a' },
        { "alt", required_argument, NULL, 'A' },
        { "format", required_argument, NULL, 'f' },
        { "ids", required_argument, NULL, 'i' },
        { "layout", required_argument, NULL, 'l' },
        {}
    };
    stdfu_image_load_options opts = {};
    _cleanup_image_ stdfu_image *img = NULL;
    const char *layout = NULL;
    bool check_ids = false;
    uint16_t vid = 0, pid = 0;
    stdfu_error err = {};
    uint32_t v;
    int c;

    while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0) {
        switch (c) {
        case 'a':
            if (parse_u32(optarg, &opts.address) < 0)
                usage();
            opts.has_address = true;
            break;
        case 'A':
            if (parse_u32(optarg, &v) < 0 || v > 255)
                usage();
            opts.alt = (uint8_t) v;
            break;
        case 'f':
            if (parse_format(optarg, &opts.format) < 0)
                usage();
            break;
        case 'i':
            if (parse_ids(optarg, &vid, &pid) < 0)
                usage();
            check_ids = true;
            break;
        case 'l':
            layout = optarg;
            break;
        default:
            usage();
        }
    }
    if (optind != argc - 1)
        usage();

    int r = stdfu_image_load_file(argv[optind], &opts, &img, &err);
    if (r >= 0) {
        dump(img);
        if (check_ids)
            r = stdfu_image_check_ids(img, vid, pid, &err);
    }
    if (r >= 0 && check_ids)
        printf("ids: ok\n");
    if (r >= 0 && layout)
        r = check_against(img, opts.alt, layout, &err);
    if (r < 0) {
        fflush(stdout);
        fprintf(stderr, "image-dump: %s\n", err.message);
        return 1;
    }
    return 0;
}
