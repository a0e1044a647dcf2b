/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The DfuSe protocol engine (ST's DFU 1.1a extension as spoken by the STM32 ROM bootloaders,
 * AN3156): one session on one bootloader device, synchronous, over a stdfu_transport.
 *
 * Speed by design: one Set Address per contiguous region with wBlockNum counting from 2, full
 * wTransferSize blocks, erase of only the sectors an image touches, and status polling that
 * sleeps bwPollTimeout only when it is plausible for the operation (the F4 ROM reports 104 ms
 * after a Set Address that is done at once) while still waiting as long as the slowest erase
 * can take (per-operation deadlines).
 *
 * Every error a user sees names the DFU status and state and the operation and address:
 * "errTARGET (address out of range) in dfuERROR after erase of 0x08100000". */

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dfuse/transport.h"
#include "image/image.h"
#include "image/layout.h"
#include "util/error.h"

/* DFU 1.1 states (bState) and status codes (bStatus). */
typedef enum stdfu_dfu_state {
    STDFU_DFU_APP_IDLE = 0,
    STDFU_DFU_APP_DETACH = 1,
    STDFU_DFU_IDLE = 2,
    STDFU_DFU_DNLOAD_SYNC = 3,
    STDFU_DFU_DNBUSY = 4,
    STDFU_DFU_DNLOAD_IDLE = 5,
    STDFU_DFU_MANIFEST_SYNC = 6,
    STDFU_DFU_MANIFEST = 7,
    STDFU_DFU_MANIFEST_WAIT_RESET = 8,
    STDFU_DFU_UPLOAD_IDLE = 9,
    STDFU_DFU_ERROR = 10,
} stdfu_dfu_state;

typedef enum stdfu_dfu_status {
    STDFU_DFU_OK = 0x00,
    STDFU_DFU_ERR_TARGET = 0x01,
    STDFU_DFU_ERR_FILE = 0x02,
    STDFU_DFU_ERR_WRITE = 0x03,
    STDFU_DFU_ERR_ERASE = 0x04,
    STDFU_DFU_ERR_CHECK_ERASED = 0x05,
    STDFU_DFU_ERR_PROG = 0x06,
    STDFU_DFU_ERR_VERIFY = 0x07,
    STDFU_DFU_ERR_ADDRESS = 0x08,
    STDFU_DFU_ERR_NOTDONE = 0x09,
    STDFU_DFU_ERR_FIRMWARE = 0x0a,
    STDFU_DFU_ERR_VENDOR = 0x0b,
    STDFU_DFU_ERR_USBR = 0x0c,
    STDFU_DFU_ERR_POR = 0x0d,
    STDFU_DFU_ERR_UNKNOWN = 0x0e,
    STDFU_DFU_ERR_STALLEDPKT = 0x0f,
} stdfu_dfu_status;

/* DFU class requests. */
enum {
    STDFU_DFU_DETACH = 0,
    STDFU_DFU_DNLOAD = 1,
    STDFU_DFU_UPLOAD = 2,
    STDFU_DFU_GETSTATUS = 3,
    STDFU_DFU_CLRSTATUS = 4,
    STDFU_DFU_GETSTATE = 5,
    STDFU_DFU_ABORT = 6,
};

/* DfuSe commands: DNLOAD with wBlockNum 0. */
enum {
    STDFU_DFUSE_CMD_GET_COMMANDS = 0x00,
    STDFU_DFUSE_CMD_SET_ADDRESS = 0x21,
    STDFU_DFUSE_CMD_ERASE = 0x41,
    STDFU_DFUSE_CMD_READ_UNPROTECT = 0x92,
};

/* bmAttributes of the DFU functional descriptor. */
#define STDFU_DFU_ATTR_CAN_DNLOAD 0x01
#define STDFU_DFU_ATTR_CAN_UPLOAD 0x02
#define STDFU_DFU_ATTR_MANIFEST_TOLERANT 0x04
#define STDFU_DFU_ATTR_WILL_DETACH 0x08

const char *stdfu_dfu_state_to_string(int state);      /* "dfuERROR", "state 42" style for junk */
const char *stdfu_dfu_status_to_string(int status);    /* "errTARGET" */
const char *stdfu_dfu_status_description(int status);  /* "address out of range" */

typedef struct stdfu_dfu_status_reply {
    uint8_t status;           /* bStatus */
    uint32_t poll_timeout_ms; /* bwPollTimeout */
    uint8_t state;            /* bState */
    uint8_t string_index;     /* iString */
} stdfu_dfu_status_reply;

typedef enum stdfu_dfuse_phase {
    STDFU_DFUSE_PHASE_ERASE,
    STDFU_DFUSE_PHASE_WRITE,
    STDFU_DFUSE_PHASE_VERIFY,
    STDFU_DFUSE_PHASE_READ,
    STDFU_DFUSE_PHASE_LEAVE,
} stdfu_dfuse_phase;
const char *stdfu_dfuse_phase_to_string(stdfu_dfuse_phase p); /* "erase", "write", ... */

/* Called after every transfer that moves the phase forward; done/total in bytes (erase: bytes
 * of the sectors erased so far / to erase). */
typedef void (*stdfu_dfuse_progress_fn)(stdfu_dfuse_phase phase, uint64_t done, uint64_t total,
                                        void *userdata);

typedef struct stdfu_dfuse_options {
    uint8_t alt;                       /* alt setting to select at open */
    stdfu_dfuse_progress_fn progress;  /* may be NULL */
    void *userdata;
    const atomic_bool *cancel;         /* checked between transfers: -ECANCELED. May be NULL. */
} stdfu_dfuse_options;

typedef struct stdfu_dfuse_alt {
    uint8_t alt;
    char name[256];        /* the interface string: "@Internal Flash  /0x08000000/..." */
    bool has_layout;       /* name parsed as a DfuSe layout */
    stdfu_layout layout;
} stdfu_dfuse_alt;

typedef struct stdfu_dfuse stdfu_dfuse;

/* Opens a session: reads the configuration descriptor, finds the DFU-mode interface (0xFE/1/2)
 * and its functional descriptor (wTransferSize, bmAttributes, bcdDFU), reads every alt's
 * interface string and parses it as a layout, claims the interface and selects opts->alt.
 * Takes ownership of transport (freed also on failure). Leaves the device state alone: call
 * stdfu_dfuse_recover() to get to dfuIDLE. */
int stdfu_dfuse_open(stdfu_transport *transport, const stdfu_dfuse_options *opts,
                     stdfu_dfuse **ret, stdfu_error *err);
stdfu_dfuse *stdfu_dfuse_free(stdfu_dfuse *s);

uint16_t stdfu_dfuse_transfer_size(const stdfu_dfuse *s);
uint8_t stdfu_dfuse_attributes(const stdfu_dfuse *s);
uint16_t stdfu_dfuse_bcd_dfu(const stdfu_dfuse *s);
size_t stdfu_dfuse_n_alts(const stdfu_dfuse *s);
const stdfu_dfuse_alt *stdfu_dfuse_get_alt(const stdfu_dfuse *s, size_t i); /* i-th, not alt no. */
const stdfu_dfuse_alt *stdfu_dfuse_find_alt(const stdfu_dfuse *s, uint8_t alt);
uint8_t stdfu_dfuse_current_alt(const stdfu_dfuse *s);
/* The current alt's layout, NULL if its name is not a layout. */
const stdfu_layout *stdfu_dfuse_layout(const stdfu_dfuse *s);
int stdfu_dfuse_select_alt(stdfu_dfuse *s, uint8_t alt, stdfu_error *err);
/* Replaces the cancel flag / progress callback (e.g. per job). */
void stdfu_dfuse_set_options(stdfu_dfuse *s, const stdfu_dfuse_options *opts);

/* ---- state ------------------------------------------------------------------------------- */
int stdfu_dfuse_get_status(stdfu_dfuse *s, stdfu_dfu_status_reply *ret, stdfu_error *err);
int stdfu_dfuse_clear_status(stdfu_dfuse *s, stdfu_error *err);
int stdfu_dfuse_abort(stdfu_dfuse *s, stdfu_error *err);
/* Brings the device to dfuIDLE from wherever it is: CLRSTATUS out of dfuERROR (e.g. the
 * errFIRMWARE a ROM reports when it found no valid application), ABORT out of the
 * download/upload idle states, waiting out dfuDNBUSY. Fails naming status and state if the
 * device cannot be brought there. */
int stdfu_dfuse_recover(stdfu_dfuse *s, stdfu_error *err);

/* ---- flash operations ----------------------------------------------------------------------
 * Each one gets the device into the state it needs (ABORT out of dfuUPLOAD-IDLE, CLRSTATUS out
 * of dfuERROR) by itself; errors name status, state, operation and address. */
/* Erases every sector/page that an element of target touches, each once, only those.
 * The target is checked against the layout of the current alt first (stdfu_image_check_layout):
 * a target that does not fit is refused before anything is erased. */
int stdfu_dfuse_erase_target(stdfu_dfuse *s, const stdfu_target *target, stdfu_error *err);
int stdfu_dfuse_erase_page(stdfu_dfuse *s, uint32_t address, stdfu_error *err);
/* Erases the sectors of [address, address + size) of the current alt's layout, which must
 * start and end on sector boundaries and hold only erasable sectors (else -EINVAL naming the
 * address and the sector, nothing erased). *ret_n (may be NULL): sectors erased. */
int stdfu_dfuse_erase_range(stdfu_dfuse *s, uint32_t address, uint32_t size, size_t *ret_n,
                            stdfu_error *err);
/* Can take 30+ s on an F4. */
int stdfu_dfuse_mass_erase(stdfu_dfuse *s, stdfu_error *err);
int stdfu_dfuse_set_address(stdfu_dfuse *s, uint32_t address, stdfu_error *err);
/* Writes target's elements: one Set Address per contiguous run of elements, then full
 * wTransferSize blocks, the last one possibly short (placed by wTransferSize too). No erase.
 * Option bytes (an alt such as "@Option Bytes /0x1FFFF800/01*016 e") take effect through a
 * chip reset that the ROM starts after the write: expect -ENODEV there. */
int stdfu_dfuse_write_target(stdfu_dfuse *s, const stdfu_target *target, stdfu_error *err);
/* Reads back by UPLOAD and compares: -EBADMSG "verify failed at 0x08000804: wrote 0x12, read
 * 0xff" naming the first differing address. */
int stdfu_dfuse_verify_target(stdfu_dfuse *s, const stdfu_target *target, stdfu_error *err);
/* UPLOAD of any range (ends in dfuIDLE). */
int stdfu_dfuse_read(stdfu_dfuse *s, uint32_t address, uint8_t *buf, size_t size,
                     stdfu_error *err);
/* Read-unprotect: the device mass erases and resets itself (it re-enumerates). */
int stdfu_dfuse_read_unprotect(stdfu_dfuse *s, stdfu_error *err);
/* Set Address to address (the application's base), zero-length DNLOAD, GETSTATUS: the device
 * leaves DFU mode. A GETSTATUS that fails because the device is already gone is success.
 * The Set Address is skipped when this session's last Set Address put the pointer there and
 * only data transfers and ABORTs followed (write + verify of the region at the base). Like
 * every operation here, it first brings the device out of dfuERROR/dfuUPLOAD-IDLE itself. */
int stdfu_dfuse_leave(stdfu_dfuse *s, uint32_t address, stdfu_error *err);
/* USB port reset through the transport. */
int stdfu_dfuse_reset(stdfu_dfuse *s, stdfu_error *err);

/* ---- all in one ---------------------------------------------------------------------------- */
/* What a flash did, per sector/page of the layout (counted as they are done). */
typedef struct stdfu_dfuse_flash_stats {
    unsigned pages_read;    /* read back to compare before erasing (differential) */
    unsigned pages_skipped; /* held the image already: neither erased nor written */
    unsigned pages_erased;
    unsigned pages_written; /* whole pages the ROM took, also before a write failure */
    uint64_t bytes_read;    /* by the comparison */
    uint64_t bytes_written; /* data bytes the ROM reported written, also before a failure */
    bool read_protected;    /* the comparison read was refused: everything was written */
} stdfu_dfuse_flash_stats;

typedef struct stdfu_dfuse_flash_options {
    bool mass_erase; /* instead of erasing the touched sectors */
    bool no_erase;   /* the caller erased */
    bool no_verify;
    /* Read every touched sector back first (UPLOAD) and erase and write only those that do
     * not hold the target's bytes (0xFF where it has none). The comparison read is the verify
     * of the sectors it found unchanged; only written ones are read back. A device that
     * refuses to be read (read protection) gets the whole target, stats->read_protected. */
    bool differential;
    stdfu_dfuse_flash_stats *stats; /* may be NULL; added to, not reset */
} stdfu_dfuse_flash_options;

/* check layout, recover to dfuIDLE, erase, write, verify (unless disabled). No leave. */
int stdfu_dfuse_flash_target(stdfu_dfuse *s, const stdfu_target *target,
                             const stdfu_dfuse_flash_options *opts, stdfu_error *err);

static inline void stdfu_dfuse_freep(stdfu_dfuse **s) {
    if (*s)
        stdfu_dfuse_free(*s);
}
#define _cleanup_dfuse_ _cleanup_(stdfu_dfuse_freep)
