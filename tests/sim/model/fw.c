/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Application images of the emulator: a Cortex-M vector table, the SFW1 header that tells
 * the emulated application its version, and reproducible filler "code". See model.h for the
 * byte layout. */
#include <errno.h>
#include <string.h>
#include <zlib.h>

#include "model/model-internal.h"

#define FW_INITIAL_SP 0x20004000u
#define FW_CODE_OFFSET (SIM_FW_HEADER_OFFSET + SIM_FW_HEADER_SIZE)
#define FW_DEFAULT_HANDLER_OFFSET (FW_CODE_OFFSET + 0x10u)
#define FW_HEADER_FORMAT 1u

uint16_t sim_fw_bcd(unsigned major, unsigned minor) {
    return (uint16_t) ((major / 10 % 10) << 12 | (major % 10) << 8 | (minor / 10 % 10) << 4 |
                       (minor % 10));
}

static uint32_t image_crc(const uint8_t *image, size_t length) {
    static const uint8_t zero[4] = { 0 };
    const size_t crc_at = SIM_FW_HEADER_OFFSET + 12;
    uLong crc = crc32(0L, Z_NULL, 0);

    crc = crc32(crc, image, (uInt) crc_at);
    crc = crc32(crc, zero, sizeof zero);
    crc = crc32(crc, image + crc_at + 4, (uInt) (length - crc_at - 4));
    return (uint32_t) crc;
}

static uint32_t xorshift32(uint32_t *s) {
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

int sim_fw_make_at(uint8_t *buf, size_t size, unsigned major, unsigned minor, uint32_t seed,
                   uint32_t base) {
    uint8_t *h = buf + SIM_FW_HEADER_OFFSET;
    uint32_t state = seed * 2654435761u + 0x9e3779b9u;

    if (size < FW_CODE_OFFSET || size > UINT32_MAX)
        return -EINVAL;
    if (major > 99 || minor > 99)
        return -ERANGE; /* bcdDevice holds two BCD digits each */

    /* Vector table: SP, reset, then every other exception to a default handler. */
    sim_put_le32(buf, FW_INITIAL_SP);
    sim_put_le32(buf + 4, (base + FW_CODE_OFFSET) | 1u);
    for (uint32_t off = 8; off < SIM_FW_HEADER_OFFSET; off += 4)
        sim_put_le32(buf + off, (base + FW_DEFAULT_HANDLER_OFFSET) | 1u);

    for (size_t off = FW_CODE_OFFSET; off < size; off++) {
        if (state == 0)
            state = 0x12345678u;
        buf[off] = (uint8_t) xorshift32(&state);
    }

    memcpy(h, SIM_FW_MAGIC, 4);
    h[4] = (uint8_t) major;
    h[5] = (uint8_t) minor;
    sim_put_le16(h + 6, FW_HEADER_FORMAT);
    sim_put_le32(h + 8, (uint32_t) size);
    sim_put_le32(h + 12, 0);
    sim_put_le32(h + 12, image_crc(buf, size));
    return 0;
}

int sim_fw_make(uint8_t *buf, size_t size, unsigned major, unsigned minor, uint32_t seed) {
    return sim_fw_make_at(buf, size, major, minor, seed, 0x08000000u);
}

bool sim_fw_check(const uint8_t *image, size_t size, unsigned *major, unsigned *minor) {
    const uint8_t *h = image + SIM_FW_HEADER_OFFSET;
    uint32_t length;

    if (!image || size < FW_CODE_OFFSET)
        return false;
    if (memcmp(h, SIM_FW_MAGIC, 4) != 0 || h[4] > 99 || h[5] > 99)
        return false;
    length = sim_get_le32(h + 8);
    if (length < FW_CODE_OFFSET || length > size)
        return false;
    if (image_crc(image, length) != sim_get_le32(h + 12))
        return false;
    if (major)
        *major = h[4];
    if (minor)
        *minor = h[5];
    return true;
}
