/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Shared by the files of lib/dfuse: the session and its transfer helpers. */

#include "dfuse/dfuse.h"

/* Requests that do not wait for flash operations. */
#define CONTROL_TIMEOUT_MS 5000u
/* Leave: the device may be gone before it answers; do not wait long for that. */
#define LEAVE_STATUS_TIMEOUT_MS 2000u

/* Plausible device busy times, per operation: bwPollTimeout beyond these is not believed for
 * the first wait (the device NAKs while busy, so polling early costs nothing).
 * Slowest programming of the supported families: STM32F072 tPROG 16-bit max 60 us (DS9826,
 * "Flash memory characteristics") = 30 us/byte; F407 word 16 us typ (DS8626), L476 64-bit
 * 81.69 us typ (DS10198). */
#define PROGRAM_USEC_PER_BYTE 30u
/* Slowest erase per byte: F407 tERASE16KB x8 max 800 ms (DS8626) = 49 us/byte; F072 page 2 KB
 * max 40 ms (DS9826) = 20 us/byte. */
#define ERASE_USEC_PER_BYTE 50u
/* F407 tME mass erase x8 max 32 s (DS8626). */
#define MASS_ERASE_MAX_USEC (32 * USEC_PER_SEC)

/* How long an operation may take before the device is declared stuck. */
#define SET_ADDRESS_DEADLINE_USEC (2 * USEC_PER_SEC)
#define MASS_ERASE_DEADLINE_USEC (45 * USEC_PER_SEC)
#define MIN_DEADLINE_USEC (2 * USEC_PER_SEC)

/* Busy again after the first wait: poll at least this far apart. */
#define MIN_REPOLL_USEC (1 * USEC_PER_MSEC)

#define STATE_UNKNOWN (-1)

struct stdfu_dfuse {
    stdfu_transport *t;
    uint8_t interface;
    uint16_t transfer_size;
    uint8_t attributes;
    uint16_t bcd_dfu;
    stdfu_dfuse_alt *alts;
    size_t n_alts;
    uint8_t alt;
    stdfu_dfuse_options opts;
    int state;          /* last bState seen or implied, STATE_UNKNOWN */
    bool pointer_valid; /* the device's address pointer is known to be `pointer` */
    uint32_t pointer;
    uint64_t bytes_accepted; /* data bytes whose DNLOAD the ROM reported done, all writes */
};

typedef struct op_timing {
    usec_t plausible; /* longest believable first bwPollTimeout */
    usec_t deadline;  /* give up after this long */
} op_timing;

usec_t dfuse_now(stdfu_dfuse *s);
int dfuse_check_cancel(stdfu_dfuse *s, stdfu_error *err);
void dfuse_progress(stdfu_dfuse *s, stdfu_dfuse_phase phase, uint64_t done, uint64_t total);
int dfuse_class_request(stdfu_dfuse *s, bool in, uint8_t request, uint16_t value, uint8_t *data,
                        uint16_t length, unsigned timeout_ms);
int dfuse_transfer_error(stdfu_error *err, int r, const char *request, const char *what);
int dfuse_stall_error(stdfu_dfuse *s, stdfu_error *err, int r, const char *request,
                      const char *what);
op_timing dfuse_timing_set_address(void);
op_timing dfuse_timing_program(size_t bytes);
op_timing dfuse_timing_erase(uint32_t bytes);
op_timing dfuse_timing_mass_erase(void);
int dfuse_wait_done(stdfu_dfuse *s, op_timing timing, const char *what,
                    stdfu_dfu_status_reply *ret, stdfu_error *err);
int dfuse_dnload(stdfu_dfuse *s, uint16_t block, const uint8_t *data, uint16_t length,
                 op_timing timing, const char *what, stdfu_error *err);
int dfuse_cmd(stdfu_dfuse *s, uint8_t cmd, bool has_address, uint32_t address,
              op_timing timing, const char *what, stdfu_error *err);
int dfuse_ready_for_dnload(stdfu_dfuse *s, stdfu_error *err);
int dfuse_ready_for_upload(stdfu_dfuse *s, stdfu_error *err);
int dfuse_get_status_timeout(stdfu_dfuse *s, stdfu_dfu_status_reply *ret, unsigned timeout_ms);
/* "errTARGET (address out of range) in dfuERROR": a status reply, as messages quote it. */
#define DFUSE_STATUS_TEXT_MAX 160
const char *dfuse_status_text(const stdfu_dfu_status_reply *st, char *buf);
