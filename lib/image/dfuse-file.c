/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* DfuSe files (ST UM0391, "DfuSe File Format Specification"), all fields little-endian:
 *
 *   prefix, 11 bytes:   "DfuSe"  bVersion (1)  DFUImageSize (u32)  bTargets (u8)
 *   per target, a 274-byte target prefix:
 *       "Target"  bAlternateSetting (u8)  bTargetNamed (u32)  szTargetName[255]
 *       dwTargetSize (u32, bytes of its elements with their headers)  dwNbElements (u32)
 *     then dwNbElements elements: dwElementAddress (u32)  dwElementSize (u32)  data
 *   DFU suffix, 16 bytes, bcdDFU 0x011a.
 *
 * DFUImageSize is the file without its suffix in ST's own tools and the whole file in
 * dfu-util's dfuse-pack; both are accepted, anything else is refused. */
#include <errno.h>
#include <string.h>

#include "image/image-internal.h"

#define DFUSE_PREFIX_SIZE 11
#define DFUSE_TARGET_PREFIX_SIZE 274
#define DFUSE_ELEMENT_HEADER_SIZE 8

typedef struct cursor {
    const uint8_t *data;
    size_t off, end;
} cursor;

static size_t left(const cursor *c) {
    return c->end - c->off;
}

static int parse_elements(stdfu_target *t, unsigned target_index, cursor *c, uint32_t n_elements,
                          stdfu_error *err) {
    for (uint32_t e = 0; e < n_elements; e++) {
        if (left(c) < DFUSE_ELEMENT_HEADER_SIZE)
            return stdfu_error_set(err, -EINVAL,
                                   "truncated at offset %zu: element %u of target %u needs an "
                                   "8-byte header, the target has %zu bytes left",
                                   c->off, e, target_index, left(c));
        uint32_t address = get_le32(c->data + c->off), size = get_le32(c->data + c->off + 4);
        c->off += DFUSE_ELEMENT_HEADER_SIZE;
        if (size > left(c))
            return stdfu_error_set(err, -EINVAL,
                                   "truncated at offset %zu: element %u of target %u at 0x%08x "
                                   "announces %u bytes, the target has %zu left",
                                   c->off, e, target_index, address, size, left(c));
        int r = target_add_element(t, address, c->data + c->off, size, err);
        if (r < 0)
            return r;
        c->off += size;
    }
    if (left(c) > 0)
        return stdfu_error_set(err, -EINVAL,
                               "%zu unexpected bytes at offset %zu after the %u elements of "
                               "target %u",
                               left(c), c->off, n_elements, target_index);
    return 0;
}

static int parse_target(stdfu_image *img, unsigned index, cursor *c, stdfu_error *err) {
    const uint8_t *p = c->data + c->off;
    char name[256] = "";
    stdfu_target *t;

    if (left(c) < DFUSE_TARGET_PREFIX_SIZE)
        return stdfu_error_set(err, -EINVAL,
                               "truncated at offset %zu: target %u needs a %d-byte prefix, "
                               "%zu bytes are left",
                               c->off, index, DFUSE_TARGET_PREFIX_SIZE, left(c));
    if (memcmp(p, "Target", 6) != 0)
        return stdfu_error_set(err, -EINVAL,
                               "target %u at offset %zu does not start with \"Target\"", index,
                               c->off);
    uint8_t alt = p[6];
    if (get_le32(p + 7) != 0)
        memcpy(name, p + 11, strnlen((const char *) p + 11, 255));
    uint32_t target_size = get_le32(p + 266), n_elements = get_le32(p + 270);
    c->off += DFUSE_TARGET_PREFIX_SIZE;
    if (target_size > left(c))
        return stdfu_error_set(err, -EINVAL,
                               "truncated at offset %zu: target %u announces %u bytes, %zu are "
                               "left",
                               c->off, index, target_size, left(c));

    int r = image_add_target(img, alt, name, &t, err);
    if (r < 0)
        return r;
    cursor elements = { .data = c->data, .off = c->off, .end = c->off + target_size };
    r = parse_elements(t, index, &elements, n_elements, err);
    if (r < 0)
        return r;
    c->off += target_size;
    return 0;
}

int image_parse_dfuse(stdfu_image *img, const uint8_t *data, size_t size, stdfu_error *err) {
    size_t suffix_len;
    int r;

    img->format = STDFU_IMAGE_DFUSE;
    if (size < DFUSE_PREFIX_SIZE || memcmp(data, "DfuSe", 5) != 0)
        return stdfu_error_set(err, -EINVAL, "no DfuSe prefix (the file does not start with "
                                             "\"DfuSe\")");
    if (data[5] != 1)
        return stdfu_error_set(err, -EINVAL, "DfuSe format version %u is not supported (only 1)",
                               data[5]);
    uint32_t image_size = get_le32(data + 6);
    unsigned n_targets = data[10];
    if (image_size > size)
        return stdfu_error_set(err, -EINVAL,
                               "truncated at offset %zu: the DfuSe prefix announces %u bytes",
                               size, image_size);
    r = image_take_dfuse_suffix(img, data, size, &suffix_len, err);
    if (r < 0)
        return r;
    if (size - suffix_len < DFUSE_PREFIX_SIZE)
        return stdfu_error_set(err, -EINVAL, "DFU suffix of %zu bytes overlaps the DfuSe prefix",
                               suffix_len);
    if (image_size != size && image_size != size - suffix_len)
        return stdfu_error_set(err, -EINVAL,
                               "the DfuSe prefix announces %u bytes but the file has %zu (%zu "
                               "without its suffix)",
                               image_size, size, size - suffix_len);
    if (n_targets == 0)
        return stdfu_error_set(err, -EINVAL, "empty image: the DfuSe file has no targets");

    cursor c = { .data = data, .off = DFUSE_PREFIX_SIZE, .end = size - suffix_len };
    for (unsigned i = 0; i < n_targets; i++) {
        r = parse_target(img, i, &c, err);
        if (r < 0)
            return r;
    }
    if (left(&c) > 0)
        return stdfu_error_set(err, -EINVAL,
                               "%zu unexpected bytes at offset %zu after the last of %u targets",
                               left(&c), c.off, n_targets);
    return 0;
}
