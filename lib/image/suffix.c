/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The DFU suffix (USB DFU 1.1, appendix B): the 16 bytes at the end of every DFU file.
 *
 *     offset from the suffix start (size - 16)
 *      0  bcdDevice   2  idProduct   4  idVendor   6  bcdDFU
 *      8  ucDfuSignature, the bytes 'U' 'F' 'D' in file order
 *     11  bLength (16)
 *     12  dwCRC over the whole file but these 4 bytes
 * All little-endian. Files of plain DFU carry bcdDFU 0x0100, DfuSe files 0x011a (UM0391). */
#include <errno.h>
#include <string.h>
#include <zlib.h>

#include "image/image-internal.h"

uint32_t dfu_crc(const uint8_t *data, size_t size) {
    /* zlib's crc32() complements at the start and at the end; DFU complements at the start
     * only. dfu-util (dfu_file.c) and dfuse-pack (~zlib.crc32) agree. */
    return ~(uint32_t) crc32_z(0L, data, size);
}

bool dfu_suffix_present(const uint8_t *data, size_t size) {
    if (size < DFU_SUFFIX_SIZE)
        return false;
    const uint8_t *s = data + size - DFU_SUFFIX_SIZE;
    return memcmp(s + 8, "UFD", 3) == 0 && s[11] >= DFU_SUFFIX_SIZE && s[11] <= size;
}

int dfu_suffix_parse(const uint8_t *data, size_t size, dfu_suffix *ret, stdfu_error *err) {
    if (!dfu_suffix_present(data, size))
        return stdfu_error_set(err, -EINVAL,
                               "no DFU suffix (the file does not end in \"UFD\", a length of "
                               "at least 16 and a CRC)");
    const uint8_t *s = data + size - DFU_SUFFIX_SIZE;
    dfu_suffix suffix = {
        .bcd_device = get_le16(s + 0),
        .pid = get_le16(s + 2),
        .vid = get_le16(s + 4),
        .bcd_dfu = get_le16(s + 6),
        .length = s[11],
        .crc_found = get_le32(s + 12),
        .crc_expected = dfu_crc(data, size - 4),
    };
    if (suffix.crc_found != suffix.crc_expected)
        return stdfu_error_set(err, -EBADMSG,
                               "bad DFU suffix CRC: expected 0x%08x, found 0x%08x (the file is "
                               "damaged)",
                               suffix.crc_expected, suffix.crc_found);
    *ret = suffix;
    return 0;
}

static void image_take_suffix(stdfu_image *img, const dfu_suffix *s) {
    img->has_suffix = true;
    img->vid = s->vid;
    img->pid = s->pid;
    img->bcd_device = s->bcd_device;
    img->bcd_dfu = s->bcd_dfu;
}

int image_parse_dfu(stdfu_image *img, const uint8_t *data, size_t size,
                    const stdfu_image_load_options *opts, stdfu_error *err) {
    dfu_suffix s;
    int r = dfu_suffix_parse(data, size, &s, err);
    if (r < 0)
        return r;
    if (s.bcd_dfu == DFU_BCD_DFUSE)
        return stdfu_error_set(err, -EINVAL,
                               "the DFU suffix says DfuSe (bcdDFU 0x011a) but the file has no "
                               "DfuSe prefix");
    /* DFU 1.1 says 0x0100; some tools write the 1.1 release number itself. */
    if (s.bcd_dfu != DFU_BCD_1_0 && s.bcd_dfu != 0x0110)
        return stdfu_error_set(err, -EINVAL,
                               "unsupported DFU suffix version (bcdDFU 0x%04x, expected 0x0100)",
                               s.bcd_dfu);
    image_take_suffix(img, &s);
    img->format = STDFU_IMAGE_DFU;
    return image_add_raw(img, data, size - s.length, opts, "a DFU file without DfuSe prefix", err);
}

int image_take_dfuse_suffix(stdfu_image *img, const uint8_t *data, size_t size, size_t *ret_len,
                            stdfu_error *err) {
    dfu_suffix s;
    int r = dfu_suffix_parse(data, size, &s, err);
    if (r < 0)
        return r;
    if (s.bcd_dfu != DFU_BCD_DFUSE)
        return stdfu_error_set(err, -EINVAL,
                               "DfuSe file whose DFU suffix has bcdDFU 0x%04x, expected 0x011a",
                               s.bcd_dfu);
    image_take_suffix(img, &s);
    *ret_len = s.length;
    return 0;
}
