/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The firmware a rule names: read once, its SHA-256 checked, parsed as an image and checked
 * against the rule (alt setting, DFU suffix ids, layout). The bytes hashed are the bytes kept.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "digest.h"
#include "manifest-internal.h"
#include "read-file.h"
#include "util/fileio.h"

#define FIRMWARE_MAX_FILE_SIZE (256u * 1024u * 1024u)

static int check_target_layout(const stdfu_image *img, uint8_t alt, const stdfu_layout *layout,
                               stdfu_error *err) {
    const stdfu_target *t = stdfu_image_find_target(img, alt);
    if (!t)
        return stdfu_error_set(err, -EINVAL, "the image has no target for alt setting %u", alt);
    return stdfu_image_check_layout(img, t, layout, err);
}

int stdfu_rule_check_layout(const stdfu_rule *r, const char *layout, stdfu_error *err) {
    stdfu_layout l = {0};
    int k = stdfu_layout_parse(layout, &l, err);
    if (k < 0)
        return k;
    k = check_target_layout(r->firmware.image, r->alt, &l, err);
    stdfu_layout_done(&l);
    return k;
}

/* A DFU suffix may name the bootloader's id or the application's (0xffff: any); anything else
 * is another device's firmware. */
static bool suffix_names(const stdfu_image *img, uint16_t vid, uint16_t pid) {
    return (img->vid == 0xffff || img->vid == vid) && (img->pid == 0xffff || img->pid == pid);
}

static bool suffix_ids_ok(const stdfu_rule *r) {
    const stdfu_image *img = r->firmware.image;
    return !img->has_suffix || suffix_names(img, r->app_vid, r->app_pid) ||
           suffix_names(img, r->dfu_vid, r->dfu_pid);
}

/* Whether the image loads without the address the rule gives, as a format with addresses of
 * its own: then the address is the mistake, not the file. Sets opts->format to that format. */
static bool address_refused(const stdfu_firmware *fw, const char *name,
                            stdfu_image_load_options *opts) {
    stdfu_image_load_options without = *opts;
    stdfu_image *img = NULL;

    without.has_address = false;
    if (stdfu_image_load_data(fw->data, fw->size, name, &without, &img, NULL) < 0)
        return false;
    bool own = img->format == STDFU_IMAGE_DFUSE || img->format == STDFU_IMAGE_HEX ||
               img->format == STDFU_IMAGE_SREC || img->format == STDFU_IMAGE_ELF;
    opts->format = img->format;
    stdfu_image_free(img);
    return own;
}

/* Reads the firmware once: the bytes hashed are the bytes parsed and later flashed. */
void load_firmware(parse_ctx *c) {
    stdfu_rule *r = c->rule;
    stdfu_firmware *fw = &r->firmware;
    yaml_node_t *file_node = c->nodes[F_FW_FILE];
    const char *name = (const char *) file_node->data.scalar.value;
    stdfu_error err = {0};
    char actual[65];

    int k = read_regular_file_at(AT_FDCWD, fw->path, FIRMWARE_MAX_FILE_SIZE, false, NULL,
                                 &fw->data, &fw->size);
    if (k < 0) {
        if (k == -EFBIG)
            value_error(c, file_node, "firmware.file: \"%s\" is larger than %u MiB", fw->path,
                        FIRMWARE_MAX_FILE_SIZE / (1024 * 1024));
        else
            value_error(c, file_node, "firmware.file: cannot read \"%s\": %s", fw->path,
                        read_regular_strerror(k));
        return;
    }
    stdfu_sha256_hex(fw->data, fw->size, actual);
    if (!streq(actual, fw->sha256)) {
        value_error(c, c->nodes[F_FW_SHA256], "firmware.sha256: mismatch for \"%s\": the "
                    "manifest expects %s, the file has %s", name, fw->sha256, actual);
        return;
    }
    stdfu_image_load_options opts = {
        .format = c->format,
        .has_address = c->has_address,
        .address = c->address,
        .alt = r->alt,
    };
    k = stdfu_image_load_data(fw->data, fw->size, name, &opts, &fw->image, &err);
    if (k < 0 && opts.has_address && address_refused(fw, name, &opts)) {
        value_error(c, c->nodes[F_FW_ADDRESS], "firmware.address: \"%s\" is %s file, which "
                    "carries its own addresses: remove the address", name,
                    opts.format == STDFU_IMAGE_DFUSE ? "a DfuSe"
                    : opts.format == STDFU_IMAGE_HEX ? "an Intel hex"
                    : opts.format == STDFU_IMAGE_SREC ? "an S-record" : "an ELF");
        return;
    }
    if (k < 0) {
        value_error(c, file_node, "firmware.file: %s", err.message);
        return;
    }
    if (!stdfu_image_find_target(fw->image, r->alt)) {
        value_error(c, file_node, "firmware.file: \"%s\" has no target for alt setting %u "
                    "(bootloader.alt)", name, r->alt);
        return;
    }
    if (!suffix_ids_ok(r)) {
        value_error(c, file_node, "firmware.file: \"%s\" is for USB id %04x:%04x (DFU suffix), "
                    "neither the application's %04x:%04x nor the bootloader's %04x:%04x", name,
                    fw->image->vid, fw->image->pid, r->app_vid, r->app_pid, r->dfu_vid,
                    r->dfu_pid);
        return;
    }
    if (c->has_layout && check_target_layout(fw->image, r->alt, &c->layout, &err) < 0)
        value_error(c, file_node, "firmware.file: does not fit bootloader.layout: %s",
                    err.message);
}

bool firmware_keys_ok(const parse_ctx *c) {
    static const field_id needed[] = {F_FIRMWARE, F_FW_FILE, F_FW_SHA256, F_FW_FORMAT,
                                      F_FW_ADDRESS, F_BL_ALT, F_BL_LAYOUT, F_BL_ID, F_APP_ID};
    for (size_t i = 0; i < ELEMENTSOF(needed); i++)
        if (c->bad[needed[i]])
            return false;
    return c->nodes[F_FW_FILE] && c->nodes[F_FW_SHA256];
}
