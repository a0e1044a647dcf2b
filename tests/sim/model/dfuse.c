/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The ROM's DfuSe state machine (ST UM0391 DfuSe, AN3156 "USB DFU protocol used in the STM32
 * bootloader"), as the ROM runs it:
 *   - DFU_DNLOAD only latches the block; the command or write runs after the next
 *     DFU_GETSTATUS has answered dfuDNBUSY, and the GETSTATUS after it answers
 *     dfuDNLOAD-IDLE (or dfuERROR with the status). While the flash is busy the ROM does not
 *     answer on EP0: a request arriving early completes when the operation ends.
 *   - block 0 carries commands: 0x21 Set Address Pointer, 0x41 + address erase page/sector,
 *     0x41 alone mass erase, 0x92 read unprotect; UPLOAD block 0 lists the commands.
 *   - blocks >= 2 are data at address pointer + (block - 2) * wTransferSize (2048, the
 *     functional descriptor's), whatever the request's wLength: ST's DFU class computes
 *     (wBlockNum - 2) * USBD_DFU_XFER_SIZE + pointer, so a short last block after full ones
 *     lands right behind them.
 *   - a zero-length DNLOAD then GETSTATUS is the leave request: dfuMANIFEST, then the ROM
 *     jumps to the application and the device drops off the bus.
 * Requests in the wrong state stall and leave the machine in dfuERROR. */
#include <errno.h>
#include <string.h>

#include "model/model-internal.h"
#include "util/macro.h"

enum {
    DFU_DETACH = 0,
    DFU_DNLOAD = 1,
    DFU_UPLOAD = 2,
    DFU_GETSTATUS = 3,
    DFU_CLRSTATUS = 4,
    DFU_GETSTATE = 5,
    DFU_ABORT = 6,
};

enum {
    CMD_GET_COMMANDS = 0x00,
    CMD_SET_ADDRESS = 0x21,
    CMD_ERASE = 0x41,
    CMD_READ_UNPROTECT = 0x92,
};

/* Result of running a latched DNLOAD. */
typedef struct op_result {
    sim_dfu_status status;
    sim_usec busy_us;     /* how long the flash is busy */
    int poll_ms;          /* bwPollTimeout to report, -1: the real time rounded up */
    bool reset_after;     /* read unprotect: system reset once done */
    bool unplug_after;    /* unplug-at fault fired */
    bool power_lost;      /* power-loss-at-erase fault fired */
} op_result;

void sim_dfuse_reset(sim_device *d, bool rom_start) {
    sim_dfu *f = &d->dfu;

    f->state = SIM_DFU_IDLE;
    f->status = SIM_DFU_OK;
    f->alt = 0;
    f->address = d->profile->flash_base;
    f->pending = false;
    f->poll_ms = 0;
    /* The F4 ROM comes up reporting errFIRMWARE until the host clears it. */
    if (rom_start && (d->profile->starts_in_error || d->config.start_error)) {
        f->state = SIM_DFU_ERROR;
        f->status = SIM_DFU_ERR_FIRMWARE;
    }
}

/* Where data block n >= 2 goes (see the top of this file). */
static uint32_t block_address(uint32_t pointer, uint16_t block) {
    return pointer + (uint32_t) (block - 2) * SIM_DFU_TRANSFER_SIZE;
}

static int stall(sim_device *d, sim_dfu_status status) {
    d->dfu.state = SIM_DFU_ERROR;
    d->dfu.status = status;
    d->dfu.pending = false;
    return -EPIPE;
}

static sim_usec scaled_erase(const sim_device *d, sim_usec us) {
    return (sim_usec) ((double) us * d->config.slow_erase + 0.5);
}

static void count_all_erased(sim_device *d) {
    for (unsigned i = 0; i < d->counters.n_pages; i++)
        d->counters.erases_per_page[i]++;
}

static op_result cmd_set_address(sim_device *d, uint32_t addr) {
    if (!sim_memory_contains(&d->mem, d->dfu.alt, addr, 1))
        return (op_result) { .status = SIM_DFU_ERR_TARGET, .poll_ms = -1 };
    d->dfu.address = addr;
    return (op_result) { .poll_ms = d->profile->set_address_poll_ms };
}

/* Whether a fault that struck hits times already strikes again (fault-times: 0 = always). */
static bool strikes_again(const sim_device *d, unsigned hits) {
    return d->config.fault_times == 0 || hits < d->config.fault_times;
}

/* erase-error-at: the Nth erase, then (fault-times) the same page's next erases. */
static bool erase_fails(sim_device *d, int page, uint64_t nth) {
    if (!d->config.erase_error_at)
        return false;
    if (d->erase_fault_page < 0) {
        if (nth != d->config.erase_error_at)
            return false;
        d->erase_fault_page = page;
        d->erase_hits = 1;
        return true;
    }
    if (page != d->erase_fault_page || !strikes_again(d, d->erase_hits))
        return false;
    d->erase_hits++;
    return true;
}

/* Power lost in the middle of an erase: the first half of the page is erased, the rest holds
 * what it held, and the chip is off until someone powers it again. */
static void half_erase(sim_device *d, unsigned page) {
    uint32_t base, size;
    uint8_t *flash = sim_memory_region(&d->mem, 0, &base, &size);
    uint32_t start = sim_profile_page_start(d->profile, page) - base;

    memset(flash + start, SIM_FLASH_ERASED, sim_profile_page_size(d->profile, page) / 2);
    d->mem.generation++;
}

static op_result cmd_erase_page(sim_device *d, uint32_t addr) {
    int page;
    uint64_t nth;

    if (d->dfu.alt != 0)
        return (op_result) { .status = SIM_DFU_ERR_TARGET, .poll_ms = -1 };
    if (d->rdp) /* RDP level 1: the loader may neither read, write nor erase */
        return (op_result) { .status = SIM_DFU_ERR_VENDOR, .poll_ms = -1 };
    page = sim_profile_page_of(d->profile, addr);
    if (page < 0)
        return (op_result) { .status = SIM_DFU_ERR_TARGET, .poll_ms = -1 };
    if (sim_profile_protected(d->profile, d->config.protect_pages, addr, 1))
        return (op_result) { .status = SIM_DFU_ERR_TARGET, .poll_ms = -1 };
    nth = ++d->erases - d->erases_base;
    if (erase_fails(d, page, nth))
        return (op_result) { .status = SIM_DFU_ERR_ERASE, .poll_ms = -1 };
    if (d->config.power_loss_at_erase && !d->power_loss_done &&
        nth == d->config.power_loss_at_erase) {
        d->power_loss_done = true;
        half_erase(d, (unsigned) page);
        return (op_result) { .busy_us = scaled_erase(d, sim_profile_page_erase_us(
                                            d->profile, (unsigned) page)) / 2,
                             .poll_ms = -1, .power_lost = true };
    }
    sim_memory_erase_page(&d->mem, (unsigned) page);
    d->counters.erases_per_page[page]++;
    return (op_result) {
        .busy_us = scaled_erase(d, sim_profile_page_erase_us(d->profile, (unsigned) page)),
        .poll_ms = -1,
    };
}

static op_result cmd_mass_erase(sim_device *d) {
    if (d->dfu.alt != 0)
        return (op_result) { .status = SIM_DFU_ERR_TARGET, .poll_ms = -1 };
    if (d->rdp)
        return (op_result) { .status = SIM_DFU_ERR_VENDOR, .poll_ms = -1 };
    sim_memory_erase_all(&d->mem);
    count_all_erased(d);
    return (op_result) {
        .busy_us = scaled_erase(d, d->profile->mass_erase_us),
        .poll_ms = d->profile->mass_erase_poll_ms,
    };
}

/* Read unprotect: RDP back to level 0, which mass-erases the flash, then a system reset. */
static op_result cmd_read_unprotect(sim_device *d) {
    uint32_t base, size;
    uint8_t *ob = sim_memory_region(&d->mem, 1, &base, &size);

    sim_memory_erase_all(&d->mem);
    count_all_erased(d);
    d->rdp = false;
    if (ob && d->profile->alts[0].init)
        memcpy(ob, d->profile->alts[0].init, size);
    return (op_result) {
        .busy_us = scaled_erase(d, d->profile->mass_erase_us),
        .poll_ms = -1,
        .reset_after = true,
    };
}

static op_result run_command(sim_device *d) {
    const uint8_t *b = d->dfu.buf;
    uint16_t n = d->dfu.length;

    if (b[0] == CMD_SET_ADDRESS && n == 5)
        return cmd_set_address(d, sim_get_le32(b + 1));
    if (b[0] == CMD_ERASE && n == 5)
        return cmd_erase_page(d, sim_get_le32(b + 1));
    if (b[0] == CMD_ERASE && n == 1)
        return cmd_mass_erase(d);
    if (b[0] == CMD_READ_UNPROTECT && n == 1)
        return cmd_read_unprotect(d);
    return (op_result) { .status = SIM_DFU_ERR_UNKNOWN, .poll_ms = -1 };
}

/* New option bytes take effect through an option byte reload, which resets the chip (that is
 * why dfu-util has ":will-reset"). Going from RDP level 1 to level 0 mass-erases the flash. */
static void option_bytes_written(sim_device *d, op_result *r) {
    uint32_t base, size;
    const uint8_t *ob = sim_memory_region(&d->mem, 1, &base, &size);
    bool rdp = ob[d->profile->rdp_offset] != 0xaa;

    if (d->rdp && !rdp) {
        sim_memory_erase_all(&d->mem);
        count_all_erased(d);
        r->busy_us += scaled_erase(d, d->profile->mass_erase_us);
    }
    d->rdp = rdp;
    r->reset_after = true;
}

/* stuck-bit-at: the lowest bit that the byte there should clear stays 1. The F4 ROM reads
 * back what it programmed and says errVERIFY; F0 and L4 ROMs do not look. */
static sim_dfu_status stuck_bit(sim_device *d, uint32_t addr, size_t len) {
    uint32_t a = d->config.stuck_bit_at, base, size;
    uint8_t *flash, val, mask;

    if (!d->config.has_stuck_bit || a < addr || a - addr >= len ||
        !strikes_again(d, d->stuck_hits))
        return SIM_DFU_OK;
    flash = sim_memory_region(&d->mem, 0, &base, &size);
    val = d->dfu.buf[a - addr];
    mask = (uint8_t) (~val & (val + 1));
    if (!flash || mask == 0 || a < base || a - base >= size)
        return SIM_DFU_OK;
    d->stuck_hits++;
    flash[a - base] |= mask;
    d->mem.generation++;
    return d->profile->rule == SIM_FLASH_RULE_F4 ? SIM_DFU_ERR_VERIFY : SIM_DFU_OK;
}

static op_result run_write(sim_device *d) {
    sim_dfu *f = &d->dfu;
    uint32_t addr = block_address(f->address, f->block);
    size_t len = f->length, programmed = 0;
    op_result r = { .poll_ms = -1 };
    uint64_t before = d->counters.bytes_written;

    /* write-error-at=N: the data block a client numbering from 2 would call N, counted
     * over all data DNLOADs (dfu-util sends every chunk as block 2 after a Set Address). */
    d->data_blocks++;
    if (d->config.write_error_at && !d->write_error_done &&
        d->data_blocks - d->data_blocks_base + 1 == d->config.write_error_at) {
        d->write_error_done = true;
        d->write_fault_addr = addr;
        d->write_hits = 1;
        r.status = SIM_DFU_ERR_WRITE;
        return r;
    }
    /* fault-times: the block at the same address fails again */
    if (d->config.write_error_at && d->write_error_done && addr == d->write_fault_addr &&
        f->alt == 0 && strikes_again(d, d->write_hits)) {
        d->write_hits++;
        r.status = SIM_DFU_ERR_WRITE;
        return r;
    }
    if (d->rdp && f->alt == 0) { /* RDP level 1 guards the flash, not the option bytes */
        r.status = SIM_DFU_ERR_VENDOR;
        return r;
    }
    if (!sim_memory_contains(&d->mem, f->alt, addr, (uint32_t) len) ||
        (f->alt == 0 && sim_profile_protected(d->profile, d->config.protect_pages, addr,
                                              (uint32_t) len))) {
        r.status = SIM_DFU_ERR_TARGET;
        return r;
    }
    /* unplug-at: the cable goes after exactly that many bytes reached the flash */
    if (d->config.unplug_at && !d->unplug_done) {
        uint64_t limit = d->unplug_base + d->config.unplug_at;
        if (before + len >= limit) {
            len = before >= limit ? 0 : (size_t) (limit - before);
            r.unplug_after = true;
            d->unplug_done = true;
        }
    }
    r.status = sim_memory_program(&d->mem, f->alt, addr, f->buf, len, &programmed);
    if (r.status == SIM_DFU_OK && f->alt == 0)
        r.status = stuck_bit(d, addr, programmed);
    d->counters.bytes_written += programmed;
    r.busy_us = sim_profile_program_us(d->profile, addr, programmed);
    if (r.status == SIM_DFU_OK && f->alt == 1)
        option_bytes_written(d, &r);
    return r;
}

static op_result run_latched(sim_device *d) {
    if (d->dfu.block == 0)
        return run_command(d);
    if (d->dfu.block == 1) /* not used by DfuSe; the ROM ignores it */
        return (op_result) { .poll_ms = -1 };
    return run_write(d);
}

static unsigned poll_ms_of(const op_result *r) {
    if (r->poll_ms >= 0)
        return (unsigned) r->poll_ms;
    return (unsigned) DIV_ROUND_UP(r->busy_us, 1000);
}

static void fill_status(uint8_t *out, const sim_dfu *f, sim_dfu_state state,
                        sim_dfu_status status) {
    out[0] = (uint8_t) status;
    out[1] = (uint8_t) f->poll_ms;
    out[2] = (uint8_t) (f->poll_ms >> 8);
    out[3] = (uint8_t) (f->poll_ms >> 16);
    out[4] = (uint8_t) state;
    out[5] = 0; /* iString */
}

/* The GETSTATUS that starts a latched DNLOAD: answers dfuDNBUSY, then the flash works. */
static int getstatus_execute(sim_device *d, uint8_t *out, size_t n, sim_usec start,
                             sim_usec *ready_at) {
    sim_dfu *f = &d->dfu;
    uint8_t reply[6];
    op_result r = run_latched(d);
    sim_usec ready;

    f->pending = false;
    f->poll_ms = poll_ms_of(&r);
    fill_status(reply, f, SIM_DFU_DNBUSY, SIM_DFU_OK);
    memcpy(out, reply, n);
    ready = sim_device_account(d, start, n, r.busy_us);
    *ready_at = ready;

    if (r.status != SIM_DFU_OK) {
        f->state = SIM_DFU_ERROR;
        f->status = r.status;
    } else
        f->state = SIM_DFU_DNLOAD_SYNC; /* next GETSTATUS: dfuDNLOAD-IDLE */

    if (r.unplug_after || r.power_lost) {
        d->powered = false;
        sim_device_emit(d, ready + r.busy_us, 0, SIM_MODE_OFF, false);
    } else if (r.reset_after)
        sim_device_emit(d, ready + r.busy_us, ready + r.busy_us + SIM_REENUM_US,
                        sim_device_cold_boot_mode(d), true);
    return (int) n;
}

/* Leave: the ROM answers dfuMANIFEST, jumps, and what happens next is the device's leave
 * behaviour. */
static void leave(sim_device *d, sim_usec at) {
    sim_mode back = sim_device_cold_boot_mode(d);
    const sim_device_config *c = &d->config;

    d->counters.leaves++;
    d->dfu.state = SIM_DFU_MANIFEST_WAIT_RESET;
    switch (c->leave) {
    case SIM_LEAVE_STUCK:
        if (d->stuck_left > 0) {
            d->stuck_left--;
            back = SIM_MODE_BOOTLOADER;
        }
        break;
    case SIM_LEAVE_VANISH:
        d->vanished = true;
        sim_device_emit(d, at, 0, SIM_MODE_OFF, false);
        return;
    case SIM_LEAVE_WATCHDOG:
        sim_device_emit(d, at, at + (sim_usec) c->watchdog_ms * 1000, back, true);
        return;
    case SIM_LEAVE_OK:
        break;
    }
    sim_device_emit(d, at, at + SIM_REENUM_US, back, true);
}

static int dfu_getstatus(sim_device *d, const sim_setup *s, uint8_t *out, sim_usec start,
                         sim_usec *ready_at) {
    sim_dfu *f = &d->dfu;
    size_t n = MIN((size_t) s->wLength, (size_t) 6);
    uint8_t reply[6];

    if (d->timeouts_left > 0) { /* timeout-status fault: no answer, the host gives up */
        d->timeouts_left--;
        return -ENODEV;
    }
    if (d->stalls_left > 0) { /* stall-status fault */
        d->stalls_left--;
        return stall(d, SIM_DFU_ERR_STALLEDPKT);
    }
    if (f->state == SIM_DFU_DNLOAD_SYNC && f->pending)
        return getstatus_execute(d, out, n, start, ready_at);

    if (f->state == SIM_DFU_DNLOAD_SYNC) {
        f->state = SIM_DFU_DNLOAD_IDLE;
        f->poll_ms = 0;
    } else if (f->state == SIM_DFU_MANIFEST_SYNC) {
        f->state = SIM_DFU_MANIFEST;
        f->poll_ms = 1;
    }
    fill_status(reply, f, f->state, f->status);
    memcpy(out, reply, n);
    *ready_at = sim_device_account(d, start, n, 0);
    if (f->state == SIM_DFU_MANIFEST) {
        /* leave-delay: the answer, and the jump after it, come that much later */
        *ready_at += (sim_usec) d->config.leave_delay_ms * 1000;
        d->busy_until = *ready_at;
        leave(d, *ready_at);
    }
    return (int) n;
}

static int dfu_dnload(sim_device *d, const sim_setup *s, const uint8_t *data) {
    sim_dfu *f = &d->dfu;

    if (f->state != SIM_DFU_IDLE && f->state != SIM_DFU_DNLOAD_IDLE)
        return stall(d, SIM_DFU_ERR_STALLEDPKT);
    if (s->wLength == 0) {
        f->state = SIM_DFU_MANIFEST_SYNC;
        return 0;
    }
    if (s->wLength > SIM_DFU_TRANSFER_SIZE)
        return stall(d, SIM_DFU_ERR_STALLEDPKT);
    memcpy(f->buf, data, s->wLength);
    f->block = s->wValue;
    f->length = s->wLength;
    f->pending = true;
    f->state = SIM_DFU_DNLOAD_SYNC;
    return s->wLength;
}

static int dfu_upload(sim_device *d, const sim_setup *s, uint8_t *out) {
    static const uint8_t commands[] = { CMD_GET_COMMANDS, CMD_SET_ADDRESS, CMD_ERASE,
                                        CMD_READ_UNPROTECT };
    sim_dfu *f = &d->dfu;
    uint32_t base, size, addr;
    const uint8_t *mem;
    size_t n;

    if (s->wLength == 0) {
        f->state = SIM_DFU_IDLE;
        return 0;
    }
    if (f->state != SIM_DFU_IDLE && f->state != SIM_DFU_UPLOAD_IDLE)
        return stall(d, SIM_DFU_ERR_STALLEDPKT);
    if (s->wValue == 0) {
        n = MIN(sizeof commands, (size_t) s->wLength);
        memcpy(out, commands, n);
        f->state = s->wLength > 3 ? SIM_DFU_IDLE : SIM_DFU_UPLOAD_IDLE;
        return (int) n;
    }
    if (s->wValue == 1)
        return stall(d, SIM_DFU_ERR_STALLEDPKT);
    if (d->rdp && f->alt == 0)
        return stall(d, SIM_DFU_ERR_VENDOR);

    mem = sim_memory_region(&d->mem, f->alt, &base, &size);
    addr = block_address(f->address, s->wValue);
    if (!mem || !sim_memory_contains(&d->mem, f->alt, addr, 1))
        return stall(d, SIM_DFU_ERR_TARGET);
    n = MIN((size_t) s->wLength, (size_t) (base + size - addr));
    memcpy(out, mem + (addr - base), n);
    d->counters.bytes_read += n;
    /* a short frame ends the upload */
    f->state = n < s->wLength ? SIM_DFU_IDLE : SIM_DFU_UPLOAD_IDLE;
    return (int) n;
}

static int dfu_clrstatus(sim_device *d) {
    sim_dfu *f = &d->dfu;

    if (f->state == SIM_DFU_ERROR) {
        f->state = SIM_DFU_IDLE;
        f->status = SIM_DFU_OK;
    } else {
        /* as ST's DFU class does: CLRSTATUS outside dfuERROR is itself an error */
        f->state = SIM_DFU_ERROR;
        f->status = SIM_DFU_ERR_UNKNOWN;
    }
    return 0;
}

static int dfu_abort(sim_device *d) {
    sim_dfu *f = &d->dfu;

    switch (f->state) {
    case SIM_DFU_IDLE:
    case SIM_DFU_DNLOAD_SYNC:
    case SIM_DFU_DNLOAD_IDLE:
    case SIM_DFU_MANIFEST_SYNC:
    case SIM_DFU_UPLOAD_IDLE:
        f->state = SIM_DFU_IDLE;
        f->status = SIM_DFU_OK;
        f->pending = false;
        break;
    default: /* ignored elsewhere, as by ST's DFU class */
        break;
    }
    return 0;
}

int sim_dfuse_request(sim_device *d, const sim_setup *s, uint8_t *data, sim_usec start,
                      sim_usec *ready_at) {
    bool in = s->bmRequestType & 0x80;
    int r;

    if ((s->bmRequestType & 0x7f) != 0x21 || s->wIndex != 0)
        return stall(d, SIM_DFU_ERR_STALLEDPKT);

    switch (s->bRequest) {
    case DFU_GETSTATUS:
        if (!in)
            return stall(d, SIM_DFU_ERR_STALLEDPKT);
        return dfu_getstatus(d, s, data, start, ready_at);
    case DFU_DNLOAD:
        r = in ? stall(d, SIM_DFU_ERR_STALLEDPKT) : dfu_dnload(d, s, data);
        break;
    case DFU_UPLOAD:
        r = in ? dfu_upload(d, s, data) : stall(d, SIM_DFU_ERR_STALLEDPKT);
        break;
    case DFU_GETSTATE:
        if (!in || s->wLength < 1)
            return stall(d, SIM_DFU_ERR_STALLEDPKT);
        data[0] = (uint8_t) d->dfu.state;
        r = 1;
        break;
    case DFU_CLRSTATUS:
        r = in ? stall(d, SIM_DFU_ERR_STALLEDPKT) : dfu_clrstatus(d);
        break;
    case DFU_ABORT:
        r = in ? stall(d, SIM_DFU_ERR_STALLEDPKT) : dfu_abort(d);
        break;
    case DFU_DETACH:
        /* The ROM re-enumerates itself, still the bootloader. */
        *ready_at = sim_device_account(d, start, 0, 0);
        sim_device_emit(d, *ready_at, *ready_at + SIM_REENUM_US, SIM_MODE_BOOTLOADER, false);
        return 0;
    default:
        return stall(d, SIM_DFU_ERR_STALLEDPKT);
    }
    if (r >= 0)
        *ready_at = sim_device_account(d, start, (size_t) r, 0);
    return r;
}
