/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "fwfile.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/macro.h"

/* UM0391 "DfuSe File Format Specification": the sizes of the fixed parts. */
#define DFUSE_PREFIX_SIZE 11u
#define DFUSE_TARGET_PREFIX_SIZE 274u
#define DFUSE_TARGET_NAME_SIZE 255u
#define DFUSE_ELEMENT_HEADER_SIZE 8u
#define DFU_SUFFIX_SIZE 16u
#define DFUSE_TARGET_NAME "ST..." /* what ST's DFU file manager writes by default */

int fw_format_from_path(const char *path, fw_format *ret) {
    const char *dot = strrchr(path, '.');

    if (!dot || strchr(dot, '/'))
        return -EINVAL;
    if (strcasecmp(dot, ".bin") == 0)
        *ret = FW_FORMAT_BIN;
    else if (strcasecmp(dot, ".dfu") == 0)
        *ret = FW_FORMAT_DFUSE;
    else if (strcasecmp(dot, ".hex") == 0)
        *ret = FW_FORMAT_HEX;
    else
        return -EINVAL;
    return 0;
}

uint32_t fw_dfu_crc(const uint8_t *data, size_t size) {
    uint32_t crc = 0xffffffffu;

    for (size_t i = 0; i < size; i++) {
        crc ^= data[i];
        for (unsigned bit = 0; bit < 8; bit++)
            crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
    }
    return crc;
}

static uint8_t *put_le16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t) v;
    p[1] = (uint8_t) (v >> 8);
    return p + 2;
}

static uint8_t *put_le32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t) v;
    p[1] = (uint8_t) (v >> 8);
    p[2] = (uint8_t) (v >> 16);
    p[3] = (uint8_t) (v >> 24);
    return p + 4;
}

int fw_encode_dfuse(const uint8_t *data, size_t size, uint32_t address, uint16_t vid,
                    uint16_t pid, uint8_t **ret, size_t *ret_size) {
    size_t target_size = DFUSE_ELEMENT_HEADER_SIZE + size;
    size_t image_size = DFUSE_PREFIX_SIZE + DFUSE_TARGET_PREFIX_SIZE + target_size;
    size_t total = image_size + DFU_SUFFIX_SIZE;

    if (size > UINT32_MAX - DFUSE_ELEMENT_HEADER_SIZE ||
        image_size > UINT32_MAX || (uint64_t) address + size > (uint64_t) UINT32_MAX + 1)
        return -EFBIG;

    uint8_t *buf = calloc(1, total);
    if (!buf)
        return -ENOMEM;

    uint8_t *p = buf;
    memcpy(p, "DfuSe", 5);
    p += 5;
    *p++ = 0x01; /* bVersion */
    p = put_le32(p, (uint32_t) image_size);
    *p++ = 1; /* bTargets */

    memcpy(p, "Target", 6);
    p += 6;
    *p++ = 0; /* bAlternateSetting */
    p = put_le32(p, 1); /* bTargetNamed */
    memcpy(p, DFUSE_TARGET_NAME, strlen(DFUSE_TARGET_NAME));
    p += DFUSE_TARGET_NAME_SIZE;
    p = put_le32(p, (uint32_t) target_size);
    p = put_le32(p, 1); /* dwNbElements */

    p = put_le32(p, address);
    p = put_le32(p, (uint32_t) size);
    memcpy(p, data, size);
    p += size;

    /* DFU 1.1 suffix, bytes in file order (the spec lists them backwards from the end). */
    p = put_le16(p, 0xffff); /* bcdDevice: any */
    p = put_le16(p, pid);
    p = put_le16(p, vid);
    p = put_le16(p, 0x011a); /* bcdDFU: DfuSe */
    memcpy(p, "UFD", 3);
    p += 3;
    *p++ = DFU_SUFFIX_SIZE;
    p = put_le32(p, fw_dfu_crc(buf, total - 4));

    *ret = buf;
    *ret_size = total;
    return 0;
}

/* One record ":LLAAAATT<data>CC\r\n"; the checksum makes all bytes sum to zero. */
static void ihex_record(FILE *f, uint8_t type, uint16_t offset, const uint8_t *data, size_t n) {
    uint8_t sum = (uint8_t) (n + (offset >> 8) + (offset & 0xff) + type);

    fprintf(f, ":%02X%04X%02X", (unsigned) n, (unsigned) offset, (unsigned) type);
    for (size_t i = 0; i < n; i++) {
        fprintf(f, "%02X", (unsigned) data[i]);
        sum = (uint8_t) (sum + data[i]);
    }
    fprintf(f, "%02X\r\n", (unsigned) (uint8_t) -sum);
}

int fw_encode_ihex(const uint8_t *data, size_t size, uint32_t address, uint32_t start,
                   uint8_t **ret, size_t *ret_size) {
    char *buf = NULL;
    size_t len = 0;
    uint32_t upper = 0;
    bool have_upper = false;

    if ((uint64_t) address + size > (uint64_t) UINT32_MAX + 1)
        return -EFBIG;

    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return -ENOMEM;

    for (size_t done = 0; done < size;) {
        uint32_t a = address + (uint32_t) done;
        /* A data record must not cross a 64 KiB boundary: its offset field is 16 bits. */
        size_t n = MIN((size_t) 16, size - done);
        n = MIN(n, (size_t) (0x10000u - (a & 0xffffu)));

        if (!have_upper || (a >> 16) != upper) {
            uint8_t ela[2] = { (uint8_t) (a >> 24), (uint8_t) (a >> 16) };
            ihex_record(f, 0x04, 0, ela, 2);
            upper = a >> 16;
            have_upper = true;
        }
        ihex_record(f, 0x00, (uint16_t) (a & 0xffff), data + done, n);
        done += n;
    }

    uint8_t sla[4] = { (uint8_t) (start >> 24), (uint8_t) (start >> 16), (uint8_t) (start >> 8),
                       (uint8_t) start };
    ihex_record(f, 0x05, 0, sla, 4);
    ihex_record(f, 0x01, 0, NULL, 0);

    if (fclose(f) != 0) {
        free(buf);
        return -ENOMEM;
    }
    *ret = (uint8_t *) buf;
    *ret_size = len;
    return 0;
}
