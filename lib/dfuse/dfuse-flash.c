/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Erase, write, verify, read, leave: the operations on the memory of the selected alt. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dfuse/dfuse-internal.h"
#include "util/macro.h"

/* wBlockNum 0 is a DfuSe command, 1 is unused: data blocks count from 2 (AN3156 4.2). */
#define FIRST_DATA_BLOCK 2u

/* ---- regions: contiguous runs of a target's elements ------------------------------------ */

typedef struct region {
    uint32_t address;
    uint32_t size;
    const uint8_t *data;
    uint8_t *owned; /* when several elements were joined */
} region;

typedef struct regions {
    region *r;
    size_t n;
} regions;

static void regions_done(regions *rs) {
    for (size_t i = 0; i < rs->n; i++)
        free(rs->r[i].owned);
    free(rs->r);
    *rs = (regions) {};
}

/* Joins elements that follow each other without a gap: one Set Address for each run. */
static int regions_build(const stdfu_target *target, regions *ret) {
    regions rs = {};

    rs.r = calloc(MAX(target->n_elements, (size_t) 1), sizeof *rs.r);
    if (!rs.r)
        return -ENOMEM;
    for (size_t i = 0; i < target->n_elements; i++) {
        const stdfu_element *e = &target->elements[i];
        region *last = rs.n > 0 ? &rs.r[rs.n - 1] : NULL;

        if (e->size == 0)
            continue;
        if (last && (uint64_t) last->address + last->size == e->address) {
            uint8_t *p = malloc((size_t) last->size + e->size);
            if (!p) {
                regions_done(&rs);
                return -ENOMEM;
            }
            memcpy(p, last->data, last->size);
            memcpy(p + last->size, e->data, e->size);
            free(last->owned);
            last->owned = p;
            last->data = p;
            last->size += e->size;
            continue;
        }
        rs.r[rs.n++] = (region) { .address = e->address, .size = e->size, .data = e->data };
    }
    *ret = rs;
    return 0;
}

/* ---- checks before anything is touched -------------------------------------------------- */

/* Selects the target's alt and returns its layout (ret may be NULL), once every byte of the
 * target is known to lie in a writable sector of it. */
static int target_layout(stdfu_dfuse *s, const stdfu_target *target, const stdfu_layout **ret,
                         stdfu_error *err) {
    const stdfu_layout *l;
    int r;

    if (target->alt != s->alt) {
        r = stdfu_dfuse_select_alt(s, target->alt, err);
        if (r < 0)
            return r;
    }
    l = stdfu_dfuse_layout(s);
    if (!l) {
        const stdfu_dfuse_alt *a = stdfu_dfuse_find_alt(s, s->alt);
        return stdfu_error_set(err, -EINVAL, "alt setting %u ('%s') has no DfuSe memory layout",
                               s->alt, a ? a->name : "");
    }
    r = stdfu_image_check_layout(NULL, target, l, err);
    if (r < 0)
        return r;
    if (ret)
        *ret = l;
    return 0;
}

/* ---- erase -------------------------------------------------------------------------------- */

int stdfu_dfuse_erase_page(stdfu_dfuse *s, uint32_t address, stdfu_error *err) {
    const stdfu_layout *l = stdfu_dfuse_layout(s);
    uint32_t start = address, size = 2048;
    char what[64];
    int r;

    /* The sector size decides how long the erase may take. */
    if (l)
        (void) stdfu_layout_sector(l, address, &start, &size, NULL);
    r = dfuse_ready_for_dnload(s, err);
    if (r < 0)
        return r;
    snprintf(what, sizeof what, "after erase of 0x%08x", address);
    /* The ROMs erase-command may move the address pointer; do not rely on it afterwards. */
    s->pointer_valid = false;
    return dfuse_cmd(s, STDFU_DFUSE_CMD_ERASE, true, address, dfuse_timing_erase(size), what, err);
}

int stdfu_dfuse_erase_target(stdfu_dfuse *s, const stdfu_target *target, stdfu_error *err) {
    _cleanup_free_ stdfu_sector *sectors = NULL;
    const stdfu_layout *l;
    uint64_t total = 0, done = 0;
    size_t n;
    int r;

    r = target_layout(s, target, &l, err);
    if (r < 0)
        return r;
    r = stdfu_image_target_sectors(NULL, target, l, &sectors, &n, err);
    if (r < 0)
        return r;
    /* Writable sectors that cannot be erased (option bytes, 'e') are written without erase. */
    for (size_t i = 0; i < n; i++)
        if (sectors[i].flags & STDFU_SECTOR_ERASABLE)
            total += sectors[i].size;
    dfuse_progress(s, STDFU_DFUSE_PHASE_ERASE, 0, total);
    for (size_t i = 0; i < n; i++) {
        if (!(sectors[i].flags & STDFU_SECTOR_ERASABLE))
            continue;
        r = stdfu_dfuse_erase_page(s, sectors[i].address, err);
        if (r < 0)
            return r;
        done += sectors[i].size;
        dfuse_progress(s, STDFU_DFUSE_PHASE_ERASE, done, total);
    }
    return 0;
}

int stdfu_dfuse_erase_range(stdfu_dfuse *s, uint32_t address, uint32_t size, size_t *ret_n,
                            stdfu_error *err) {
    _cleanup_free_ stdfu_sector *sectors = NULL;
    const stdfu_layout *l = stdfu_dfuse_layout(s);
    uint64_t done = 0, end = (uint64_t) address + size;
    size_t n;
    int r;

    if (!l)
        return stdfu_error_set(err, -EINVAL, "alt setting %u has no DfuSe memory layout",
                               s->alt);
    if (size == 0 || end > UINT64_C(0x100000000) ||
        stdfu_layout_sectors(l, address, size, &sectors, &n) < 0)
        return stdfu_error_set(err, -EINVAL, "0x%08x..0x%08" PRIx64 " lies outside the memory "
                               "'%s'", address, end - 1, l->name);
    /* A range that cuts a sector would erase more than asked: say which sector. */
    if (sectors[0].address != address)
        return stdfu_error_set(err, -EINVAL, "0x%08x is not the start of a sector: the sector "
                               "there is 0x%08x, %u bytes", address, sectors[0].address,
                               sectors[0].size);
    if ((uint64_t) sectors[n - 1].address + sectors[n - 1].size != end)
        return stdfu_error_set(err, -EINVAL, "0x%08" PRIx64 " is not the end of a sector: the "
                               "sector there is 0x%08x, %u bytes", end - 1,
                               sectors[n - 1].address, sectors[n - 1].size);
    for (size_t i = 0; i < n; i++)
        if (!(sectors[i].flags & STDFU_SECTOR_ERASABLE))
            return stdfu_error_set(err, -EINVAL, "the sector at 0x%08x (%u bytes) cannot be "
                                   "erased", sectors[i].address, sectors[i].size);
    r = stdfu_dfuse_recover(s, err);
    if (r < 0)
        return r;
    dfuse_progress(s, STDFU_DFUSE_PHASE_ERASE, 0, size);
    for (size_t i = 0; i < n; i++) {
        r = stdfu_dfuse_erase_page(s, sectors[i].address, err);
        if (r < 0)
            return r;
        done += sectors[i].size;
        dfuse_progress(s, STDFU_DFUSE_PHASE_ERASE, done, size);
    }
    if (ret_n)
        *ret_n = n;
    return 0;
}

int stdfu_dfuse_mass_erase(stdfu_dfuse *s, stdfu_error *err) {
    int r = dfuse_ready_for_dnload(s, err);
    if (r < 0)
        return r;
    s->pointer_valid = false;
    dfuse_progress(s, STDFU_DFUSE_PHASE_ERASE, 0, 1);
    r = dfuse_cmd(s, STDFU_DFUSE_CMD_ERASE, false, 0, dfuse_timing_mass_erase(),
                  "after mass erase", err);
    if (r < 0)
        return r;
    dfuse_progress(s, STDFU_DFUSE_PHASE_ERASE, 1, 1);
    return 0;
}

/* ---- write ---------------------------------------------------------------------------------- */

int stdfu_dfuse_set_address(stdfu_dfuse *s, uint32_t address, stdfu_error *err) {
    char what[64];
    int r;

    r = dfuse_ready_for_dnload(s, err);
    if (r < 0)
        return r;
    snprintf(what, sizeof what, "after Set Address 0x%08x", address);
    s->pointer_valid = false;
    r = dfuse_cmd(s, STDFU_DFUSE_CMD_SET_ADDRESS, true, address, dfuse_timing_set_address(), what,
                  err);
    if (r < 0)
        return r;
    s->pointer_valid = true;
    s->pointer = address;
    return 0;
}

/* Set Address unless the pointer is known to be there already: a repeat costs a round trip. */
static int point_at(stdfu_dfuse *s, uint32_t address, stdfu_error *err) {
    if (s->pointer_valid && s->pointer == address)
        return 0;
    return stdfu_dfuse_set_address(s, address, err);
}

/* One wTransferSize block of a region. Every block >= 2 lands at pointer + (wBlockNum - 2) *
 * wTransferSize, whatever its wLength (UM0391), so only a wBlockNum about to pass 16 bits
 * needs a new Set Address: the block that starts such a run. */
typedef struct block {
    uint32_t address;
    size_t n;
    uint16_t num;   /* wBlockNum */
    bool run_start; /* the pointer must be at address first */
} block;

/* The block at offset off (a multiple of wTransferSize) of size bytes at address. */
static block block_at(const stdfu_dfuse *s, uint32_t address, size_t size, size_t off) {
    size_t k = off / s->transfer_size, per_run = 0xffffu - FIRST_DATA_BLOCK + 1;
    return (block) {
        .address = address + (uint32_t) off,
        .n = MIN(s->transfer_size, size - off),
        .num = (uint16_t) (FIRST_DATA_BLOCK + k % per_run),
        .run_start = k % per_run == 0,
    };
}

static int write_region(stdfu_dfuse *s, uint32_t address, const uint8_t *data, size_t size,
                        uint64_t *done, uint64_t total, stdfu_error *err) {
    char what[96];
    int r;

    for (size_t off = 0; off < size; off += s->transfer_size) {
        block b = block_at(s, address, size, off);

        if (b.run_start) {
            r = stdfu_dfuse_set_address(s, b.address, err);
            if (r < 0)
                return r;
        }
        snprintf(what, sizeof what, "after writing 0x%08x..0x%08x (block %u)", b.address,
                 b.address + (uint32_t) b.n - 1, b.num);
        r = dfuse_dnload(s, b.num, data + off, (uint16_t) b.n, dfuse_timing_program(b.n), what,
                         err);
        if (r < 0)
            return r;
        s->bytes_accepted += b.n;
        *done += b.n;
        dfuse_progress(s, STDFU_DFUSE_PHASE_WRITE, *done, total);
    }
    return 0;
}

int stdfu_dfuse_write_target(stdfu_dfuse *s, const stdfu_target *target, stdfu_error *err) {
    _cleanup_(regions_done) regions rs = {};
    uint64_t done = 0, total = stdfu_target_total_bytes(target);
    int r;

    r = target_layout(s, target, NULL, err);
    if (r < 0)
        return r;
    r = regions_build(target, &rs);
    if (r < 0)
        return stdfu_error_set(err, r, "out of memory");
    dfuse_progress(s, STDFU_DFUSE_PHASE_WRITE, 0, total);
    for (size_t i = 0; i < rs.n; i++) {
        r = write_region(s, rs.r[i].address, rs.r[i].data, rs.r[i].size, &done, total, err);
        if (r < 0)
            return r;
    }
    return 0;
}

/* ---- read and verify ------------------------------------------------------------------------ */

typedef int (*read_cb)(uint32_t address, const uint8_t *data, size_t n, void *userdata,
                       stdfu_error *err);

/* UPLOAD of [address, address + size) in wTransferSize blocks, each handed to cb. */
static int upload_region(stdfu_dfuse *s, stdfu_dfuse_phase phase, uint32_t address, size_t size,
                         uint64_t *done, uint64_t total, read_cb cb, void *userdata,
                         stdfu_error *err) {
    _cleanup_free_ uint8_t *buf = malloc(s->transfer_size);
    char what[96];
    int r;

    if (!buf)
        return stdfu_error_set(err, -ENOMEM, "out of memory");
    for (size_t off = 0; off < size; off += s->transfer_size) {
        block b = block_at(s, address, size, off);

        if (b.run_start) {
            /* The pointer is still where the write of this region put it: no Set Address. */
            r = point_at(s, b.address, err);
            if (r < 0)
                return r;
            r = dfuse_ready_for_upload(s, err);
            if (r < 0)
                return r;
        }
        r = dfuse_check_cancel(s, err);
        if (r < 0)
            return r;
        snprintf(what, sizeof what, "of 0x%08x..0x%08x (block %u)", b.address,
                 b.address + (uint32_t) b.n - 1, b.num);
        r = dfuse_class_request(s, true, STDFU_DFU_UPLOAD, b.num, buf, (uint16_t) b.n,
                                CONTROL_TIMEOUT_MS);
        if (r < 0) {
            s->state = STATE_UNKNOWN;
            return dfuse_stall_error(s, err, r, "UPLOAD", what);
        }
        s->state = STDFU_DFU_UPLOAD_IDLE;
        if ((size_t) r < b.n)
            return stdfu_error_set(err, -EIO, "short UPLOAD %s: %d of %zu bytes", what, r, b.n);
        r = cb(b.address, buf, b.n, userdata, err);
        if (r < 0)
            return r;
        *done += b.n;
        dfuse_progress(s, phase, *done, total);
    }
    return 0;
}

static int copy_cb(uint32_t address, const uint8_t *data, size_t n, void *userdata,
                   stdfu_error *err) {
    uint8_t **dst = userdata;
    (void) address;
    (void) err;
    memcpy(*dst, data, n);
    *dst += n;
    return 0;
}

int stdfu_dfuse_read(stdfu_dfuse *s, uint32_t address, uint8_t *buf, size_t size,
                     stdfu_error *err) {
    uint8_t *p = buf;
    uint64_t done = 0;
    int r;

    if ((uint64_t) address + size > UINT64_C(0x100000000))
        return stdfu_error_set(err, -ERANGE, "read of %zu bytes at 0x%08x runs past 4 GiB", size,
                               address);
    dfuse_progress(s, STDFU_DFUSE_PHASE_READ, 0, size);
    r = upload_region(s, STDFU_DFUSE_PHASE_READ, address, size, &done, size, copy_cb, &p, err);
    if (r < 0)
        return r;
    /* Back to dfuIDLE, as documented: the next caller may DNLOAD right away. */
    return stdfu_dfuse_abort(s, err);
}

typedef struct compare_ctx {
    const uint8_t *expected;
    uint32_t base;
} compare_ctx;

static int compare_cb(uint32_t address, const uint8_t *data, size_t n, void *userdata,
                      stdfu_error *err) {
    compare_ctx *c = userdata;
    const uint8_t *want = c->expected + (address - c->base);

    if (memcmp(want, data, n) == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (want[i] != data[i])
            return stdfu_error_set(err, -EBADMSG,
                                   "verify failed at 0x%08x: wrote 0x%02x, read back 0x%02x",
                                   address + (uint32_t) i, want[i], data[i]);
    return 0;
}

int stdfu_dfuse_verify_target(stdfu_dfuse *s, const stdfu_target *target, stdfu_error *err) {
    _cleanup_(regions_done) regions rs = {};
    uint64_t done = 0, total = stdfu_target_total_bytes(target);
    int r;

    if (target->alt != s->alt) {
        r = stdfu_dfuse_select_alt(s, target->alt, err);
        if (r < 0)
            return r;
    }
    r = regions_build(target, &rs);
    if (r < 0)
        return stdfu_error_set(err, r, "out of memory");
    dfuse_progress(s, STDFU_DFUSE_PHASE_VERIFY, 0, total);
    for (size_t i = 0; i < rs.n; i++) {
        compare_ctx c = { rs.r[i].data, rs.r[i].address };
        r = upload_region(s, STDFU_DFUSE_PHASE_VERIFY, rs.r[i].address, rs.r[i].size, &done,
                          total, compare_cb, &c, err);
        if (r < 0)
            return r;
    }
    return 0;
}

/* ---- leave, read unprotect, reset ----------------------------------------------------------- */

/* After the request that makes the device go away, these mean it went: disconnected, the
 * transfer cut short or stalled by a core that is already running something else, or no
 * answer at all from a ROM that jumped without detaching from the bus. */
static bool gone(int r) {
    return r == -ENODEV || r == -EIO || r == -EPIPE || r == -ESHUTDOWN || r == -EPROTO ||
           r == -ETIMEDOUT;
}

int stdfu_dfuse_leave(stdfu_dfuse *s, uint32_t address, stdfu_error *err) {
    stdfu_dfu_status_reply st;
    char what[64], text[DFUSE_STATUS_TEXT_MAX];
    int r;

    /* The pointer may already be there (write + verify of the region at the base). */
    r = point_at(s, address, err);
    if (r < 0)
        return r;
    r = dfuse_ready_for_dnload(s, err);
    if (r < 0)
        return r;
    r = dfuse_check_cancel(s, err);
    if (r < 0)
        return r;
    dfuse_progress(s, STDFU_DFUSE_PHASE_LEAVE, 0, 1);
    snprintf(what, sizeof what, "to leave DFU mode at 0x%08x", address);
    /* The zero-length DNLOAD starts manifestation; the GETSTATUS after it makes the ROM jump. */
    r = dfuse_class_request(s, false, STDFU_DFU_DNLOAD, FIRST_DATA_BLOCK, NULL, 0,
                            CONTROL_TIMEOUT_MS);
    s->pointer_valid = false;
    s->state = STATE_UNKNOWN;
    if (r < 0) {
        if (r == -ENODEV)
            return stdfu_error_set(err, r, "device disconnected before it could be told %s",
                                   what);
        return dfuse_stall_error(s, err, r, "DNLOAD", what);
    }
    r = dfuse_get_status_timeout(s, &st, LEAVE_STATUS_TIMEOUT_MS);
    if (r < 0) {
        if (gone(r)) {
            dfuse_progress(s, STDFU_DFUSE_PHASE_LEAVE, 1, 1);
            return 0;
        }
        return dfuse_transfer_error(err, r, "GETSTATUS", what);
    }
    if (st.status != STDFU_DFU_OK || st.state == STDFU_DFU_ERROR)
        return stdfu_error_set(err, -EIO, "device refused %s: %s", what,
                               dfuse_status_text(&st, text));
    if (st.state != STDFU_DFU_MANIFEST && st.state != STDFU_DFU_MANIFEST_SYNC &&
        st.state != STDFU_DFU_MANIFEST_WAIT_RESET && st.state != STDFU_DFU_IDLE)
        return stdfu_error_set(err, -EPROTO, "device did not leave DFU mode: in %s after %s",
                               stdfu_dfu_state_to_string(st.state), "the zero-length DNLOAD");
    dfuse_progress(s, STDFU_DFUSE_PHASE_LEAVE, 1, 1);
    return 0;
}

int stdfu_dfuse_read_unprotect(stdfu_dfuse *s, stdfu_error *err) {
    uint8_t cmd = STDFU_DFUSE_CMD_READ_UNPROTECT;
    stdfu_dfu_status_reply st;
    char text[DFUSE_STATUS_TEXT_MAX];
    int r;

    r = dfuse_ready_for_dnload(s, err);
    if (r < 0)
        return r;
    r = dfuse_class_request(s, false, STDFU_DFU_DNLOAD, 0, &cmd, 1, CONTROL_TIMEOUT_MS);
    s->pointer_valid = false;
    s->state = STATE_UNKNOWN;
    if (r < 0)
        return dfuse_stall_error(s, err, r, "DNLOAD", "(read unprotect)");
    /* The ROM answers dfuDNBUSY, then mass erases and resets: the device re-enumerates. */
    r = dfuse_get_status_timeout(s, &st, CONTROL_TIMEOUT_MS);
    if (r < 0)
        return gone(r) ? 0 : dfuse_transfer_error(err, r, "GETSTATUS", "after read unprotect");
    if (st.status != STDFU_DFU_OK || st.state == STDFU_DFU_ERROR)
        return stdfu_error_set(err, -EIO, "device refused read unprotect: %s",
                               dfuse_status_text(&st, text));
    /* Let it carry out; a following request fails once it resets. */
    r = dfuse_wait_done(s, dfuse_timing_mass_erase(), "after read unprotect", NULL, err);
    if (r < 0 && gone(r)) {
        stdfu_error_clear(err);
        return 0;
    }
    return r;
}

int stdfu_dfuse_reset(stdfu_dfuse *s, stdfu_error *err) {
    int r = stdfu_transport_reset(s->t);
    s->pointer_valid = false;
    s->state = STATE_UNKNOWN;
    if (r < 0 && r != -ENODEV)
        return stdfu_error_set(err, r, "USB port reset failed: %m");
    return 0;
}

/* ---- only what differs ---------------------------------------------------------------------- */

/* Why the engine reads a sector before erasing it: reading is the cheapest of the three flash
 * operations by far. A ROM's UPLOAD moves about 2 KiB per 3 ms (F745), ~1.5 us/byte, and no
 * flash cell is touched; erasing costs 10-50 us/byte (F072 page 20-40 ms per 2 KiB, F407
 * 16 KiB sector 0.25-0.8 s, its 128 KiB sector 1-2 s typ., 4 s max) and programming another
 * 8-30 us/byte (PROGRAM_USEC_PER_BYTE). A sector that differs costs its read on top of the
 * erase and write (a few % more); one that is the same saves 90% or more of its time, and an
 * erase cycle of its endurance. An F4 128 KiB sector is the best case, not an exception: ~0.2 s
 * of reading against ~2 s of erasing and ~1-2 s of programming. So every sector that can be
 * read and is erased before it is written is worth reading; sectors that are written without
 * an erase (option bytes) or cannot be read are written as before. */
static bool worth_reading(const stdfu_sector *sector) {
    return (sector->flags & STDFU_SECTOR_ERASABLE) && (sector->flags & STDFU_SECTOR_READABLE);
}

/* What [start, start + size) must hold after the flash: the target's bytes, 0xFF (erased)
 * where it has none. */
static void expected_bytes(const stdfu_target *target, uint32_t start, uint32_t size,
                           uint8_t *buf) {
    uint64_t end = (uint64_t) start + size;

    memset(buf, 0xff, size);
    for (size_t i = 0; i < target->n_elements; i++) {
        const stdfu_element *e = &target->elements[i];
        uint64_t from = MAX((uint64_t) e->address, (uint64_t) start);
        uint64_t to = MIN((uint64_t) e->address + e->size, end);
        if (from < to)
            memcpy(buf + (from - start), e->data + (from - e->address), to - from);
    }
}

/* Appends the parts of target's elements that lie in [start, start + size) to *els (pointing
 * into the target's data). */
static int append_clipped(const stdfu_target *target, uint32_t start, uint32_t size,
                          stdfu_element **els, size_t *n) {
    uint64_t end = (uint64_t) start + size;

    for (size_t i = 0; i < target->n_elements; i++) {
        const stdfu_element *e = &target->elements[i];
        uint64_t from = MAX((uint64_t) e->address, (uint64_t) start);
        uint64_t to = MIN((uint64_t) e->address + e->size, end);
        if (from >= to)
            continue;
        stdfu_element *p = realloc(*els, (*n + 1) * sizeof **els);
        if (!p)
            return -ENOMEM;
        *els = p;
        p[(*n)++] = (stdfu_element) { .address = (uint32_t) from, .size = (uint32_t) (to - from),
                                      .data = e->data + (from - e->address) };
    }
    return 0;
}

/* Reads the sectors worth reading (a run of adjacent ones in one UPLOAD run, one Set Address
 * for it) and marks in differs[] those that do not hold what target puts there; the others
 * are marked as differing unread. */
static int compare_sectors(stdfu_dfuse *s, const stdfu_target *target,
                           const stdfu_sector *sectors, size_t n, bool *differs,
                           stdfu_dfuse_flash_stats *stats, stdfu_error *err) {
    uint64_t done = 0, total = 0;
    int r;

    for (size_t i = 0; i < n; i++)
        if (worth_reading(&sectors[i]))
            total += sectors[i].size;
    dfuse_progress(s, STDFU_DFUSE_PHASE_READ, 0, total);
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        uint64_t size;

        differs[i] = true;
        if (!worth_reading(&sectors[i])) {
            i++;
            continue;
        }
        size = sectors[i].size;
        while (j < n && worth_reading(&sectors[j]) &&
               sectors[j].address == (uint64_t) sectors[i].address + size) {
            size += sectors[j].size;
            j++;
        }
        _cleanup_free_ uint8_t *have = malloc(size);
        _cleanup_free_ uint8_t *want = malloc(size);
        if (!have || !want)
            return stdfu_error_set(err, -ENOMEM, "out of memory");
        uint8_t *p = have;
        r = upload_region(s, STDFU_DFUSE_PHASE_READ, sectors[i].address, size, &done, total,
                          copy_cb, &p, err);
        if (r < 0)
            return r;
        expected_bytes(target, sectors[i].address, (uint32_t) size, want);
        for (size_t k = i, off = 0; k < j; off += sectors[k].size, k++) {
            differs[k] = memcmp(have + off, want + off, sectors[k].size) != 0;
            stats->pages_read++;
            stats->bytes_read += sectors[k].size;
        }
        i = j;
    }
    /* Back to dfuIDLE: erase and write follow. */
    return stdfu_dfuse_abort(s, err);
}

/* Erases the differing erasable sectors, one progress total for them all. */
static int erase_sectors(stdfu_dfuse *s, const stdfu_sector *sectors, size_t n,
                         const bool *differs, stdfu_dfuse_flash_stats *stats,
                         stdfu_error *err) {
    uint64_t done = 0, total = 0;
    int r;

    for (size_t i = 0; i < n; i++)
        if (differs[i] && (sectors[i].flags & STDFU_SECTOR_ERASABLE))
            total += sectors[i].size;
    dfuse_progress(s, STDFU_DFUSE_PHASE_ERASE, 0, total);
    for (size_t i = 0; i < n; i++) {
        if (!differs[i] || !(sectors[i].flags & STDFU_SECTOR_ERASABLE))
            continue;
        r = stdfu_dfuse_erase_page(s, sectors[i].address, err);
        if (r < 0)
            return r;
        stats->pages_erased++;
        done += sectors[i].size;
        dfuse_progress(s, STDFU_DFUSE_PHASE_ERASE, done, total);
    }
    return 0;
}

/* Differential flash: read every touched sector, erase and write only those that differ, and
 * read back only those (the comparison read verified the others: nothing wrote them since). */
static int flash_differing(stdfu_dfuse *s, const stdfu_target *target,
                           const stdfu_dfuse_flash_options *o, stdfu_dfuse_flash_stats *stats,
                           stdfu_error *err) {
    _cleanup_free_ stdfu_sector *sectors = NULL;
    _cleanup_free_ stdfu_element *els = NULL;
    _cleanup_free_ bool *differs = NULL;
    const stdfu_layout *l;
    stdfu_target part;
    size_t n, n_els = 0;
    int r;

    r = target_layout(s, target, &l, err);
    if (r < 0)
        return r;
    r = stdfu_image_target_sectors(NULL, target, l, &sectors, &n, err);
    if (r < 0)
        return r;
    differs = calloc(MAX(n, (size_t) 1), sizeof *differs);
    if (!differs)
        return stdfu_error_set(err, -ENOMEM, "out of memory");

    r = compare_sectors(s, target, sectors, n, differs, stats, err);
    /* RDP level 1: the ROM refuses UPLOAD with errVENDOR (-EACCES). Nothing is known about
     * what the device holds, so all of it is written (and the ROM says whether it may be). */
    if (r == -EACCES) {
        stats->read_protected = true;
        stdfu_error_clear(err);
        for (size_t i = 0; i < n; i++)
            differs[i] = true;
        r = stdfu_dfuse_recover(s, err);
    }
    if (r < 0)
        return r;

    /* The image's bytes in each differing sector, in the order they are written: a write
     * that fails part way still counts the pages the ROM took whole. */
    _cleanup_free_ uint64_t *in_sector = calloc(MAX(n, (size_t) 1), sizeof *in_sector);
    unsigned n_differ = 0;
    if (!in_sector)
        return stdfu_error_set(err, -ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        size_t before = n_els;
        if (!differs[i]) {
            stats->pages_skipped++;
            continue;
        }
        n_differ++;
        if (append_clipped(target, sectors[i].address, sectors[i].size, &els, &n_els) < 0)
            return stdfu_error_set(err, -ENOMEM, "out of memory");
        for (size_t k = before; k < n_els; k++)
            in_sector[i] += els[k].size;
    }
    if (n_els == 0)
        return 0;
    part = *target;
    part.elements = els;
    part.n_elements = n_els;

    if (!o->no_erase) {
        r = erase_sectors(s, sectors, n, differs, stats, err);
        if (r < 0)
            return r;
    }
    uint64_t accepted = s->bytes_accepted;
    r = stdfu_dfuse_write_target(s, &part, err);
    if (r < 0) {
        accepted = s->bytes_accepted - accepted;
        for (size_t i = 0; i < n; i++) {
            if (!differs[i])
                continue;
            if (in_sector[i] == 0 || accepted < in_sector[i])
                break;
            accepted -= in_sector[i];
            stats->pages_written++;
        }
        return r;
    }
    stats->pages_written += n_differ;
    return o->no_verify ? 0 : stdfu_dfuse_verify_target(s, &part, err);
}

/* The sectors a full flash touched, for the counters. */
static void count_full(stdfu_dfuse *s, const stdfu_target *target,
                       const stdfu_dfuse_flash_options *o, stdfu_dfuse_flash_stats *stats) {
    _cleanup_free_ stdfu_sector *sectors = NULL;
    const stdfu_layout *l = stdfu_dfuse_layout(s);
    size_t n;

    if (!l || stdfu_image_target_sectors(NULL, target, l, &sectors, &n, NULL) < 0)
        return;
    for (size_t i = 0; i < n; i++) {
        stats->pages_written++;
        if (!o->no_erase && !o->mass_erase && (sectors[i].flags & STDFU_SECTOR_ERASABLE))
            stats->pages_erased++;
    }
}

/* ---- all in one ----------------------------------------------------------------------------- */

static int flash_target(stdfu_dfuse *s, const stdfu_target *target,
                        const stdfu_dfuse_flash_options *opts, stdfu_dfuse_flash_stats *stats,
                        stdfu_error *err) {
    stdfu_dfuse_flash_options o = *opts;
    int r;

    /* Refuse a target that does not fit before the device is touched. */
    r = target_layout(s, target, NULL, err);
    if (r < 0)
        return r;
    r = stdfu_dfuse_recover(s, err);
    if (r < 0)
        return r;
    /* A mass erase wipes every sector whatever it holds: nothing to skip. */
    if (o.differential && !o.mass_erase)
        return flash_differing(s, target, &o, stats, err);

    if (o.mass_erase)
        r = stdfu_dfuse_mass_erase(s, err);
    else if (!o.no_erase)
        r = stdfu_dfuse_erase_target(s, target, err);
    if (r < 0)
        return r;
    r = stdfu_dfuse_write_target(s, target, err);
    if (r < 0)
        return r;
    count_full(s, target, &o, stats);
    if (!o.no_verify)
        r = stdfu_dfuse_verify_target(s, target, err);
    return r;
}

int stdfu_dfuse_flash_target(stdfu_dfuse *s, const stdfu_target *target,
                             const stdfu_dfuse_flash_options *opts, stdfu_error *err) {
    stdfu_dfuse_flash_options o = opts ? *opts : (stdfu_dfuse_flash_options) {};
    stdfu_dfuse_flash_stats ignored = {}, *stats = o.stats ? o.stats : &ignored;
    uint64_t before = s->bytes_accepted;

    int r = flash_target(s, target, &o, stats, err);
    /* What the ROM took, also when something failed after it. */
    stats->bytes_written += s->bytes_accepted - before;
    return r;
}
