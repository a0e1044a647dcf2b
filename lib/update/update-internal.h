/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The update cycle's own state and the steps its files share, one concern per file:
 *   update.c               reporting, waiting, entering, sessions, one attempt (check the
 *                          image, write the plan's parts, leave) and the run
 *   update-retry.c         a fault inside the attempt: retried, the bootloader opened again
 *                          after it re-enumerated, its port power-cycled when it did not
 *   update-option-bytes.c  option bytes: written, the ROM's reset, read back
 *   update-ladder.c        after leave: the recovery ladder
 *   update-access.c        the bootloader for read and erase
 * Nothing here is for callers of lib/update: update.h is. */

#include <stdbool.h>
#include <stdint.h>

#include "update/plan.h"
#include "update/update.h"
#include "util/macro.h"

/* What a wait after leave (or a rung of the ladder) found on the port. */
typedef enum back {
    BACK_APPLICATION,
    BACK_REFLASH, /* in the bootloader, flash again */
    BACK_OUTCOME, /* the run ends: res->outcome says how */
} back;

typedef struct run {
    const stdfu_update_options *o;
    const stdfu_update_ops *ops;
    stdfu_update_result *res;
    const stdfu_target *target;    /* the part being written (as written: whole units) */
    stdfu_update_plan plan;        /* every target of the image, on its alt, checked */
    uint32_t base;                 /* where the application starts: the first element */
    uint32_t leave_address;        /* base, or the start of flash after a refused image */
    bool leave_failed;             /* the last leave request itself failed */
    bool option_bytes_written;     /* the ROM took them and reset: read them back, then leave */
    uint8_t session_alt;           /* the alt sessions open: the part's, then the main one */
    uint8_t cur_alt;               /* the alt the open session has selected */
    uint8_t main_alt;              /* the main flash's: where leave points */
    uint16_t app_vid, app_pid;     /* of the application, when it was seen */
    usec_t start, deadline;
    stdfu_update_phase phase;
    usec_t phase_start;
    stdfu_update_phase progress_phase; /* last byte progress phase, for errors */
    /* Per target flashed: its first pass's skipped pages and the pages erased and written so
     * far, so that later passes count each page once (update_add_stats()). */
    struct {
        const stdfu_target *target;
        unsigned first_skipped, erased, written;
    } passes[8];
    size_t n_passes;
} run;

/* Every STM32 runs its application from the start of its main flash. */
#define STM32_FLASH_BASE 0x08000000u

/* ---- update.c ----------------------------------------------------------------------------- */
void update_enter_phase(run *u, stdfu_update_phase phase);
/* A step of the cycle; a recovery step (step != NONE) is worth an info line. */
void update_emit(run *u, stdfu_update_phase phase, stdfu_update_step step, const char *format,
                 ...) _printf_(4, 5);
/* Something failed that the cycle goes on without. */
void update_warn(run *u, const char *format, ...) _printf_(2, 3);
/* The engine's byte progress as events (a stdfu_dfuse_progress_fn, userdata the run). */
void update_dfuse_progress(stdfu_dfuse_phase p, uint64_t done, uint64_t total, void *userdata);
/* Ends the run with an outcome; the message is the user's. Returns BACK_OUTCOME. */
back update_finish(run *u, stdfu_update_outcome outcome, stdfu_update_failure failure, int code,
                   const char *format, ...) _printf_(5, 6);
back update_finish_cancelled(run *u);
back update_fail_with(run *u, stdfu_update_failure failure, const stdfu_error *err);
/* Cancel requested: the run is finished as cancelled. */
bool update_cancelled(run *u);
/* 0 with *ret, -ETIMEDOUT, -ECANCELED. */
int update_wait_port(run *u, unsigned modes, unsigned exclude_devnum, usec_t timeout,
                     stdfu_usb_info *ret);
back update_wait_error(run *u, int r, const char *what);
void update_seen_application(run *u, const stdfu_usb_info *info);
back update_enter_bootloader(run *u, stdfu_usb_info *cur);
int update_open_session(run *u, const stdfu_usb_info *boot, void **ret_session,
                        const stdfu_layout **ret_layout, stdfu_error *err);
int update_use_alt(run *u, void *session, uint8_t alt, stdfu_error *err);
void update_look_at_the_end(run *u);

/* ---- update-retry.c ----------------------------------------------------------------------- */
stdfu_update_failure update_classify_flash_error(run *u, int r);
void update_add_stats(run *u, const stdfu_dfuse_flash_stats *st);
back update_flash_with_retries(run *u, stdfu_usb_info *boot, void **session);

/* ---- update-option-bytes.c ---------------------------------------------------------------- */
back update_write_option_bytes(run *u, stdfu_usb_info *boot, void *session);
back update_check_option_bytes(run *u, stdfu_usb_info *boot, void **session);

/* ---- update-ladder.c ---------------------------------------------------------------------- */
back update_return_to_application(run *u, stdfu_usb_info *cur);
void update_return_after_refusal(run *u, stdfu_usb_info *boot);
