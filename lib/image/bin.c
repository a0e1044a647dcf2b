/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Raw binaries: bytes without an address, so the caller must say where they go. */
#include <errno.h>

#include "image/image-internal.h"

int image_add_raw(stdfu_image *img, const uint8_t *data, size_t size,
                  const stdfu_image_load_options *opts, const char *what, stdfu_error *err) {
    stdfu_target *t;
    int r;

    if (!opts->has_address)
        return stdfu_error_set(err, -EINVAL,
                               "%s has no address of its own: give the address to write it at "
                               "(--address)",
                               what);
    if (size == 0)
        return stdfu_error_set(err, -EINVAL, "empty image: there is no data to write");
    if ((uint64_t) opts->address + size > UINT64_C(1) << 32)
        return stdfu_error_set(err, -EINVAL,
                               "%zu bytes at 0x%08x run past the end of the 32-bit address "
                               "space",
                               size, opts->address);
    r = image_add_target(img, opts->alt, "", &t, err);
    if (r < 0)
        return r;
    return target_add_element(t, opts->address, data, size, err);
}

int image_parse_bin(stdfu_image *img, const uint8_t *data, size_t size,
                    const stdfu_image_load_options *opts, stdfu_error *err) {
    img->format = STDFU_IMAGE_BIN;
    return image_add_raw(img, data, size, opts, "a raw binary", err);
}
