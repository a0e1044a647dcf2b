/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "update/update.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "update/plan.h"
#include "util/macro.h"
#include "util/string-table.h"

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
} run;

static const char *const phase_names[] = {
    [STDFU_UPDATE_PHASE_FIND] = "find",
    [STDFU_UPDATE_PHASE_ENTER] = "enter",
    [STDFU_UPDATE_PHASE_OPEN] = "open",
    [STDFU_UPDATE_PHASE_CHECK] = "check",
    [STDFU_UPDATE_PHASE_ERASE] = "erase",
    [STDFU_UPDATE_PHASE_WRITE] = "write",
    [STDFU_UPDATE_PHASE_VERIFY] = "verify",
    [STDFU_UPDATE_PHASE_LEAVE] = "leave",
    [STDFU_UPDATE_PHASE_WAIT_APPLICATION] = "wait",
    [STDFU_UPDATE_PHASE_RECOVER] = "recover",
    [STDFU_UPDATE_PHASE_DONE] = "done",
    [STDFU_UPDATE_PHASE_READ] = "read",
};

static const char *const step_names[] = {
    [STDFU_UPDATE_STEP_NONE] = "none",
    [STDFU_UPDATE_STEP_LEAVE_AGAIN] = "leave-again",
    [STDFU_UPDATE_STEP_PORT_RESET] = "port-reset",
    [STDFU_UPDATE_STEP_REFLASH] = "reflash",
    [STDFU_UPDATE_STEP_GRACE] = "grace-period",
    [STDFU_UPDATE_STEP_POWER_CYCLE] = "power-cycle",
    [STDFU_UPDATE_STEP_RETRY] = "retry",
};

static const char *const outcome_names[] = {
    [STDFU_UPDATE_DONE] = "done",
    [STDFU_UPDATE_FAILED] = "failed",
    [STDFU_UPDATE_NEEDS_POWER_CYCLE] = "needs-power-cycle",
    [STDFU_UPDATE_CANCELLED] = "cancelled",
};

static const char *const failure_names[] = {
    [STDFU_UPDATE_FAILURE_NONE] = "none",
    [STDFU_UPDATE_FAILURE_IMAGE] = "image",
    [STDFU_UPDATE_FAILURE_NO_DEVICE] = "no-device",
    [STDFU_UPDATE_FAILURE_ENTER] = "enter",
    [STDFU_UPDATE_FAILURE_TRANSFER] = "transfer",
    [STDFU_UPDATE_FAILURE_VERIFY] = "verify",
    [STDFU_UPDATE_FAILURE_VERSION] = "version",
    [STDFU_UPDATE_FAILURE_RECOVERY] = "recovery",
};

const char *stdfu_update_phase_to_string(stdfu_update_phase p) {
    return TABLE_NAME(phase_names, p, "unknown");
}
const char *stdfu_update_step_to_string(stdfu_update_step s) {
    return TABLE_NAME(step_names, s, "unknown");
}
const char *stdfu_update_outcome_to_string(stdfu_update_outcome o) {
    return TABLE_NAME(outcome_names, o, "unknown");
}
const char *stdfu_update_failure_to_string(stdfu_update_failure f) {
    return TABLE_NAME(failure_names, f, "unknown");
}

void stdfu_update_options_init(stdfu_update_options *o) {
    *o = (stdfu_update_options) {
        .enter = { .kind = STDFU_ENTER_AUTO },
        .verify = true,
        .leave = true,
        .max_attempts = 3,
        .retries = 2,
        .find_timeout = 2 * USEC_PER_SEC,
        .enter_timeout = 10 * USEC_PER_SEC,
        .reenumerate_timeout = 2 * USEC_PER_SEC,
        /* Long enough for a firmware watchdog (the IWDG tops out near 32 s, but firmware
         * watchdogs are usually set to a few seconds). */
        .leave_timeout = 8 * USEC_PER_SEC,
        .power_off_usec = 1 * USEC_PER_SEC,
        .total_timeout = 10 * 60 * USEC_PER_SEC,
    };
}

/* ---- reporting --------------------------------------------------------------------------- */

static void enter_phase(run *u, stdfu_update_phase phase) {
    usec_t now = now_monotonic();
    u->res->phase_usec[u->phase] += now - u->phase_start;
    u->phase = phase;
    u->phase_start = now;
}

static void emitv(run *u, int level, stdfu_update_phase phase, stdfu_update_step step,
                  const char *format, va_list ap) _printf_(5, 0);
static void emitv(run *u, int level, stdfu_update_phase phase, stdfu_update_step step,
                  const char *format, va_list ap) {
    char msg[512];

    enter_phase(u, phase);
    vsnprintf(msg, sizeof msg, format, ap);
    if (u->o->progress) {
        stdfu_update_event ev = {
            .phase = phase,
            .step = step,
            .attempt = u->res->attempts,
            .message = msg,
            .level = level,
        };
        u->o->progress(&ev, u->o->userdata);
    }
}

/* A step of the cycle; a recovery step (step != NONE) is worth an info line. Steps are counted
 * where they are taken, not here: announcing one does not mean it could be done. */
static void emit(run *u, stdfu_update_phase phase, stdfu_update_step step, const char *format,
                 ...) _printf_(4, 5);
static void emit(run *u, stdfu_update_phase phase, stdfu_update_step step, const char *format,
                 ...) {
    va_list ap;

    va_start(ap, format);
    emitv(u, step == STDFU_UPDATE_STEP_NONE ? LOG_DEBUG : LOG_INFO, phase, step, format, ap);
    va_end(ap);
}

/* Something failed that the cycle goes on without. */
static void warn(run *u, const char *format, ...) _printf_(2, 3);
static void warn(run *u, const char *format, ...) {
    va_list ap;

    va_start(ap, format);
    emitv(u, LOG_WARNING, u->phase, STDFU_UPDATE_STEP_NONE, format, ap);
    va_end(ap);
}

static void dfuse_progress(stdfu_dfuse_phase p, uint64_t done, uint64_t total, void *userdata) {
    run *u = userdata;
    stdfu_update_phase phase = p == STDFU_DFUSE_PHASE_ERASE ? STDFU_UPDATE_PHASE_ERASE
                             : p == STDFU_DFUSE_PHASE_WRITE ? STDFU_UPDATE_PHASE_WRITE
                                                            : STDFU_UPDATE_PHASE_VERIFY;

    /* LEAVE: a zero-length download, the leave message says it all. READ: the differential
     * flash reading the touched pages to compare, part of checking what to write. */
    if (p == STDFU_DFUSE_PHASE_LEAVE)
        return;
    if (p == STDFU_DFUSE_PHASE_READ)
        phase = STDFU_UPDATE_PHASE_CHECK;

    if (phase != u->phase)
        enter_phase(u, phase);
    u->progress_phase = phase;
    if (u->o->progress) {
        stdfu_update_event ev = {
            .phase = phase,
            .attempt = u->res->attempts,
            .done = done,
            .total = total,
        };
        u->o->progress(&ev, u->o->userdata);
    }
}

/* Ends the run with an outcome; the message is the user's. Returns BACK_OUTCOME. */
static back finish(run *u, stdfu_update_outcome outcome, stdfu_update_failure failure, int code,
                   const char *format, ...) _printf_(5, 6);
static back finish(run *u, stdfu_update_outcome outcome, stdfu_update_failure failure, int code,
                   const char *format, ...) {
    va_list ap;

    u->res->outcome = outcome;
    u->res->failure = failure;
    if (format) {
        va_start(ap, format);
        stdfu_error_setv(&u->res->error, code, format, ap);
        va_end(ap);
    }
    return BACK_OUTCOME;
}

/* Cancelled: say where, since the device may be left in its bootloader. */
static back finish_cancelled(run *u) {
    return finish(u, STDFU_UPDATE_CANCELLED, STDFU_UPDATE_FAILURE_NONE, -ECANCELED,
                  "cancelled during %s on port %s", stdfu_update_phase_to_string(u->phase),
                  u->o->port);
}

/* Ends the run after err was set by an action: failure kind from where it happened. */
static back fail_with(run *u, stdfu_update_failure failure, const stdfu_error *err) {
    if (err->code == -ECANCELED || (u->o->cancel && atomic_load(u->o->cancel)))
        return finish_cancelled(u);
    return finish(u, STDFU_UPDATE_FAILED, failure, err->code ? err->code : -EIO, "%s",
                  err->message[0] ? err->message : "unknown error");
}

static bool cancelled(run *u) {
    if (!u->o->cancel || !atomic_load(u->o->cancel))
        return false;
    finish_cancelled(u);
    return true;
}

/* ---- waiting ----------------------------------------------------------------------------- */

static usec_t bounded(run *u, usec_t timeout) {
    usec_t now = now_monotonic();
    return now >= u->deadline ? 0 : MIN(timeout, u->deadline - now);
}

/* 0 with *ret, -ETIMEDOUT, -ECANCELED. */
static int wait_port(run *u, unsigned modes, unsigned exclude_devnum, usec_t timeout,
                     stdfu_usb_info *ret) {
    return stdfu_usb_watch_wait(u->o->watch, u->o->port, modes, exclude_devnum,
                                bounded(u, timeout), u->o->cancel, ret);
}

static back wait_error(run *u, int r, const char *what) {
    if (r == -ECANCELED)
        return finish_cancelled(u);
    if (now_monotonic() >= u->deadline)
        return finish(u, STDFU_UPDATE_FAILED, STDFU_UPDATE_FAILURE_RECOVERY, -ETIMEDOUT,
                      "gave up on port %s after the run's time limit of %llu s (%s)",
                      u->o->port, (unsigned long long) (u->o->total_timeout / USEC_PER_SEC),
                      what);
    return finish(u, STDFU_UPDATE_FAILED, STDFU_UPDATE_FAILURE_NO_DEVICE, r,
                  "waiting for %s on port %s failed: %s", what, u->o->port, strerror(-r));
}

static void seen_application(run *u, const stdfu_usb_info *info) {
    u->app_vid = info->vid;
    u->app_pid = info->pid;
    u->res->running_bcd = info->bcd_device;
    /* The version before is what ran before anything was written: unknown (0) for a device
     * found in its bootloader, not the version it runs afterwards. */
    if (u->res->old_bcd == 0 && u->res->attempts == 0)
        u->res->old_bcd = info->bcd_device;
}

/* ---- enter ------------------------------------------------------------------------------- */

static back enter_bootloader(run *u, stdfu_usb_info *cur) {
    stdfu_error err = {};
    stdfu_enter_kind used = STDFU_ENTER_NONE;
    unsigned app_devnum = cur->devnum;
    int r;

    seen_application(u, cur);
    if (u->o->enter.kind == STDFU_ENTER_NONE)
        return finish(u, STDFU_UPDATE_FAILED, STDFU_UPDATE_FAILURE_ENTER, -EOPNOTSUPP,
                      "the device on port %s runs its application (%04x:%04x) and the enter "
                      "method is none: put it into its bootloader, or choose another method",
                      u->o->port, cur->vid, cur->pid);
    emit(u, STDFU_UPDATE_PHASE_ENTER, STDFU_UPDATE_STEP_NONE,
         "application %04x:%04x version %x.%02x on port %s: entering the bootloader (%s)",
         cur->vid, cur->pid, cur->bcd_device >> 8, cur->bcd_device & 0xff, u->o->port,
         stdfu_enter_kind_to_string(u->o->enter.kind));
    r = u->ops->enter(u->o->ops_data, cur, &u->o->enter, &used, &err);
    if (r < 0)
        return fail_with(u, STDFU_UPDATE_FAILURE_ENTER, &err);
    u->res->entered_with = used;

    r = wait_port(u, STDFU_USB_WANT_BOOTLOADER, app_devnum, u->o->enter_timeout, cur);
    if (r == -ETIMEDOUT)
        return finish(u, STDFU_UPDATE_FAILED, STDFU_UPDATE_FAILURE_ENTER, r,
                      "the application on port %s did not enter its bootloader within %llu s "
                      "after %s", u->o->port,
                      (unsigned long long) (u->o->enter_timeout / USEC_PER_SEC),
                      stdfu_enter_kind_to_string(used));
    if (r < 0)
        return wait_error(u, r, "the bootloader");
    emit(u, STDFU_UPDATE_PHASE_ENTER, STDFU_UPDATE_STEP_NONE,
         "bootloader %04x:%04x on port %s", cur->vid, cur->pid, u->o->port);
    return BACK_REFLASH;
}

/* ---- sessions ---------------------------------------------------------------------------- */

/* A device that just enumerated may not be openable for a moment: libusb may not list it yet,
 * and udev applies its permissions after the "add" event. Retry briefly before giving up. */
#define OPEN_RETRY_USEC (1500 * USEC_PER_MSEC)
#define OPEN_RETRY_STEP_USEC (50 * USEC_PER_MSEC)

static int open_session(run *u, const stdfu_usb_info *boot, void **ret_session,
                        const stdfu_layout **ret_layout, stdfu_error *err) {
    usec_t until = now_monotonic() + OPEN_RETRY_USEC;

    for (;;) {
        int r = u->ops->open(u->o->ops_data, boot, u->session_alt, ret_session, ret_layout, err);
        if (r >= 0)
            u->cur_alt = u->session_alt;
        if (r >= 0 || (r != -ENODEV && r != -EACCES) || now_monotonic() >= until ||
            (u->o->cancel && atomic_load(u->o->cancel)))
            return r;
        sleep_until(now_monotonic() + OPEN_RETRY_STEP_USEC);
    }
}

/* ---- the flash itself -------------------------------------------------------------------- */

typedef struct layouts {
    run *u;
    void *session;
} layouts;

static int session_layout(void *userdata, uint8_t alt, const stdfu_layout **ret,
                          stdfu_error *err) {
    layouts *l = userdata;
    return l->u->ops->alt_layout(l->u->o->ops_data, l->session, alt, ret, err);
}

/* The image against the device: its ids, and every target against its alt's layout (the plan
 * of what is written where). Nothing is erased before this has passed. */
static int check_image(run *u, const stdfu_usb_info *boot, void *session, stdfu_error *err) {
    layouts l = { .u = u, .session = session };
    const stdfu_update_part *main_part = NULL;
    int r;

    /* A suffix may name the bootloader's ids (dfu-util's convention) or the application's. */
    r = stdfu_image_check_ids(u->o->image, boot->vid, boot->pid, err);
    if (r < 0 && u->app_vid != 0 &&
        stdfu_image_check_ids(u->o->image, u->app_vid, u->app_pid, NULL) >= 0)
        r = 0;
    if (r < 0)
        return r;
    stdfu_update_plan_done(&u->plan);
    r = stdfu_update_plan_make(u->o->image, session_layout, &l, &u->plan, err);
    if (r < 0)
        return r;
    for (size_t i = 0; i < u->plan.n_parts && !main_part; i++)
        if (!u->plan.parts[i].option_bytes)
            main_part = &u->plan.parts[i];
    u->main_alt = main_part ? main_part->alt : 0;
    /* The application starts where the main flash's target does, whichever alt was named. */
    if (main_part && !u->option_bytes_written) {
        const stdfu_target *t = stdfu_image_find_target(u->o->image, main_part->alt);
        u->base = u->leave_address = t->elements[0].address;
    }
    return 0;
}

static stdfu_update_failure classify_flash_error(run *u, int r) {
    /* The engine reports a read-back mismatch as -EBADMSG from verify (the ops announce the
     * verify phase before its first read). */
    if (r == -EBADMSG && u->progress_phase == STDFU_UPDATE_PHASE_VERIFY)
        return STDFU_UPDATE_FAILURE_VERIFY;
    return STDFU_UPDATE_FAILURE_TRANSFER;
}

/* The bootloader went off the bus while flashing: wait for it to come back on the port and
 * open it again. 0 with a new session; -EAGAIN when the application came back instead (*boot
 * is then the application, to be entered again); else why it did not come back. */
static int reopen(run *u, stdfu_usb_info *boot, void **ret_session, stdfu_error *err) {
    const stdfu_layout *layout;
    stdfu_usb_info seen;
    int r;

    r = wait_port(u, STDFU_USB_WANT_ANY, boot->devnum, u->o->reenumerate_timeout, &seen);
    if (r < 0)
        return r;
    *boot = seen;
    if (seen.mode != STDFU_USB_BOOTLOADER)
        return -EAGAIN;
    return open_session(u, boot, ret_session, &layout, err);
}

/* The bootloader went away while flashing and did not come back (a device that lost its
 * USB connection, gone until its power is cut): power-cycle the port, as the ladder after
 * leave does, and open it again. As reopen(); -EOPNOTSUPP (the port cannot switch power) and
 * -ETIMEDOUT (not back even so) end the run with the outcome NEEDS_POWER_CYCLE. */
static int reopen_after_power_cycle(run *u, stdfu_usb_info *boot, void **ret_session,
                                    const stdfu_error *fault, stdfu_error *err) {
    stdfu_error pc_err = {};
    int r;

    emit(u, STDFU_UPDATE_PHASE_RECOVER, STDFU_UPDATE_STEP_POWER_CYCLE,
         "the bootloader on port %s went away while flashing and did not come back: "
         "power-cycling the port", u->o->port);
    r = u->ops->power_cycle(u->o->ops_data, u->o->port, u->o->power_off_usec, &pc_err);
    if (r < 0) {
        finish(u, STDFU_UPDATE_NEEDS_POWER_CYCLE, STDFU_UPDATE_FAILURE_NONE, r,
               "the bootloader on port %s went away while flashing (%s) and did not come back, "
               "and %s: unplug and replug it", u->o->port, fault->message,
               pc_err.message[0] ? pc_err.message : "its port cannot be power-cycled");
        return -EOPNOTSUPP;
    }
    u->res->power_cycles++;
    u->res->steps[STDFU_UPDATE_STEP_POWER_CYCLE]++;
    r = reopen(u, boot, ret_session, err);
    if (r == -ETIMEDOUT)
        finish(u, STDFU_UPDATE_NEEDS_POWER_CYCLE, STDFU_UPDATE_FAILURE_NONE, r,
               "the bootloader on port %s went away while flashing (%s) and did not come back "
               "even after its port was power-cycled: unplug and replug it", u->o->port,
               fault->message);
    return r;
}

/* Counts what a flash did and says what it skipped, and when it could not compare. */
static void add_stats(run *u, const stdfu_dfuse_flash_stats *st) {
    stdfu_update_result *res = u->res;

    res->pages_read += st->pages_read;
    res->pages_skipped += st->pages_skipped;
    res->pages_erased += st->pages_erased;
    res->pages_written += st->pages_written;
    res->bytes_written += st->bytes_written;
    if (st->read_protected && !res->read_protected)
        warn(u, "The device on port %s refuses to be read (read protection): comparing is "
             "impossible, writing the whole image", u->o->port);
    res->read_protected |= st->read_protected;
    if (st->pages_read > 0)
        emit(u, STDFU_UPDATE_PHASE_CHECK, STDFU_UPDATE_STEP_NONE,
             "%u of %u pages read on port %s hold the image already: %u erased, %u written",
             st->pages_skipped, st->pages_read, u->o->port, st->pages_erased,
             st->pages_written);
}

static bool cancel_requested(const run *u, int r) {
    return r == -ECANCELED || (u->o->cancel && atomic_load(u->o->cancel));
}

/* Erase, write and verify; a fault is met by doing it again (the ops clear the ROM's status
 * first), on a reopened session after a re-enumeration, up to o->retries times. Returns
 * BACK_REFLASH with *session open when the image is on the device, BACK_APPLICATION when the
 * application came back in the middle (*boot, session closed), else BACK_OUTCOME (session
 * closed). */
static back flash_with_retries(run *u, stdfu_usb_info *boot, void **session) {
    bool power_cycled = false;

    for (unsigned retry = 0;; retry++) {
        stdfu_error err = {}, reopen_err = {};
        stdfu_update_phase where;
        int r;

        stdfu_dfuse_flash_stats stats = {};

        u->progress_phase = STDFU_UPDATE_PHASE_ERASE;
        enter_phase(u, STDFU_UPDATE_PHASE_ERASE);
        r = u->ops->flash(u->o->ops_data, *session, u->target, u->o->verify,
                          u->o->differential || retry > 0, dfuse_progress, u, u->o->cancel,
                          &stats, &err);
        add_stats(u, &stats);
        if (r >= 0)
            return BACK_REFLASH;
        if (retry >= u->o->retries || cancel_requested(u, r)) {
            u->ops->close(u->o->ops_data, *session);
            *session = NULL;
            return fail_with(u, classify_flash_error(u, r), &err);
        }

        where = u->progress_phase;
        u->res->retries++;
        u->res->steps[STDFU_UPDATE_STEP_RETRY]++;
        emit(u, STDFU_UPDATE_PHASE_ERASE, STDFU_UPDATE_STEP_RETRY,
             "%s failed on port %s (%s): erasing and writing again what differs, retry %u "
             "of %u",
             stdfu_update_phase_to_string(where), u->o->port, err.message, retry + 1,
             u->o->retries);
        if (r != -ENODEV)
            continue;

        u->ops->close(u->o->ops_data, *session);
        *session = NULL;
        r = reopen(u, boot, session, &reopen_err);
        if (r == -ETIMEDOUT && !cancel_requested(u, r) && !power_cycled) {
            power_cycled = true;
            r = reopen_after_power_cycle(u, boot, session, &err, &reopen_err);
            if (r == -EOPNOTSUPP || r == -ETIMEDOUT)
                return BACK_OUTCOME;
        }
        if (r == -EAGAIN)
            return BACK_APPLICATION;
        if (r < 0) {
            if (cancel_requested(u, r))
                return finish_cancelled(u);
            stdfu_error gone = {};
            stdfu_error_set(&gone, err.code, "%s; the bootloader did not come back on port "
                            "%s (%s)", err.message, u->o->port,
                            reopen_err.message[0] ? reopen_err.message : strerror(-r));
            return fail_with(u, STDFU_UPDATE_FAILURE_TRANSFER, &gone);
        }
    }
}

/* Every STM32 runs its application from the start of its main flash. */
#define STM32_FLASH_BASE 0x08000000u

/* Option bytes take effect through an option byte reload, which resets the chip: ST's ROMs
 * start it once they are written, so the session ends there, and that is no fault. Waits for
 * the device to come back on the port; the caller then reads them back. BACK_APPLICATION with
 * *boot what came back (or the same bootloader, if it did not reset), or BACK_OUTCOME. */
static back write_option_bytes(run *u, stdfu_usb_info *boot, void *session) {
    stdfu_error err = {};
    stdfu_usb_info seen;
    int r;

    u->progress_phase = STDFU_UPDATE_PHASE_WRITE;
    enter_phase(u, STDFU_UPDATE_PHASE_WRITE);
    stdfu_dfuse_flash_stats stats = {};
    r = u->ops->flash(u->o->ops_data, session, u->target, false, false, dfuse_progress, u,
                      u->o->cancel, &stats, &err);
    add_stats(u, &stats);
    u->ops->close(u->o->ops_data, session);
    if (r < 0 && r != -ENODEV)
        return fail_with(u, classify_flash_error(u, r), &err);
    u->option_bytes_written = true;
    u->leave_address = STM32_FLASH_BASE;
    /* The ROM took them all: its reset may have cut the status of the last block short. */
    if (stats.bytes_written < stdfu_target_total_bytes(u->target))
        u->res->bytes_written += stdfu_target_total_bytes(u->target) - stats.bytes_written;
    emit(u, STDFU_UPDATE_PHASE_WRITE, STDFU_UPDATE_STEP_NONE,
         "option bytes written on port %s: waiting for the device to reset and load them",
         u->o->port);
    r = wait_port(u, STDFU_USB_WANT_ANY, boot->devnum, u->o->enter_timeout, &seen);
    if (r == -ETIMEDOUT && wait_port(u, STDFU_USB_WANT_BOOTLOADER, 0, 0, &seen) == 0 &&
        seen.devnum == boot->devnum)
        r = 0; /* no reset: the option bytes are read back from the same enumeration */
    if (r == -ETIMEDOUT)
        return finish(u, STDFU_UPDATE_FAILED, STDFU_UPDATE_FAILURE_NO_DEVICE, r,
                      "the device on port %s did not come back within %llu s after its "
                      "option bytes were written", u->o->port,
                      (unsigned long long) (u->o->enter_timeout / USEC_PER_SEC));
    if (r < 0)
        return wait_error(u, r, "the device after writing option bytes");
    *boot = seen;
    return BACK_APPLICATION;
}

/* After the option bytes' reset, in the bootloader again: they count as written when they
 * read back as the image. BACK_REFLASH with *session open on the main flash (alt 0, where
 * leave can point at the application), or BACK_OUTCOME. */
static back verify_option_bytes(run *u, const stdfu_usb_info *boot, void **session) {
    const stdfu_layout *layout;
    stdfu_error err = {};
    int r;

    u->progress_phase = STDFU_UPDATE_PHASE_VERIFY;
    enter_phase(u, STDFU_UPDATE_PHASE_VERIFY);
    r = u->ops->verify(u->o->ops_data, *session, u->target, dfuse_progress, u, u->o->cancel,
                       &err);
    u->ops->close(u->o->ops_data, *session);
    *session = NULL;
    if (r < 0) {
        stdfu_error_prefix(&err, "option bytes on port %s after their reset", u->o->port);
        return fail_with(u, classify_flash_error(u, r), &err);
    }
    emit(u, STDFU_UPDATE_PHASE_VERIFY, STDFU_UPDATE_STEP_NONE,
         "option bytes on port %s read back as written", u->o->port);
    u->session_alt = u->main_alt;
    r = open_session(u, boot, session, &layout, &err);
    if (r < 0)
        return fail_with(u, STDFU_UPDATE_FAILURE_TRANSFER, &err);
    return BACK_REFLASH;
}

/* Points the open session at alt; a session opened later (after a re-enumeration) opens it
 * too. */
static int use_alt(run *u, void *session, uint8_t alt, stdfu_error *err) {
    u->session_alt = alt;
    if (u->cur_alt == alt)
        return 0;
    int r = u->ops->select(u->o->ops_data, session, alt, err);
    if (r >= 0)
        u->cur_alt = alt;
    return r;
}

/* Writes the plan's parts in order, each on its alt: BACK_REFLASH with *session open on the
 * main flash's alt when all are written; the option bytes, last, end the session with the
 * ROM's reset (write_option_bytes); else as flash_with_retries. */
static back write_parts(run *u, stdfu_usb_info *boot, void **session) {
    stdfu_error err = {};

    for (size_t i = 0; i < u->plan.n_parts; i++) {
        const stdfu_update_part *p = &u->plan.parts[i];
        back b;

        if (use_alt(u, *session, p->alt, &err) < 0) {
            u->ops->close(u->o->ops_data, *session);
            *session = NULL;
            return fail_with(u, STDFU_UPDATE_FAILURE_TRANSFER, &err);
        }
        u->target = p->target;
        if (p->option_bytes)
            return write_option_bytes(u, boot, *session);
        uint64_t before = u->res->bytes_written;
        b = flash_with_retries(u, boot, session);
        if (b != BACK_REFLASH)
            return b;
        emit(u, u->o->verify ? STDFU_UPDATE_PHASE_VERIFY : STDFU_UPDATE_PHASE_WRITE,
             STDFU_UPDATE_STEP_NONE, "%llu bytes written%s to alt %u", (unsigned long long)
             (u->res->bytes_written - before), u->o->verify ? " and verified" : "", p->alt);
    }
    /* Leave, and the ladder's sessions, on the main flash's alt, where the address is. */
    if (use_alt(u, *session, u->main_alt, &err) < 0)
        warn(u, "Selecting alt %u on port %s failed: %s", u->main_alt, u->o->port,
             err.message);
    return BACK_REFLASH;
}

/* After the option bytes' reset: select them and read them back. */
static back check_option_bytes(run *u, stdfu_usb_info *boot, void **session) {
    const stdfu_update_part *p = u->plan.n_parts ? &u->plan.parts[u->plan.n_parts - 1] : NULL;
    stdfu_error err = {};

    if (!p || !p->option_bytes || use_alt(u, *session, p->alt, &err) < 0) {
        u->ops->close(u->o->ops_data, *session);
        *session = NULL;
        if (!err.message[0])
            stdfu_error_set(&err, -EIO, "no option bytes to read back on port %s", u->o->port);
        return fail_with(u, STDFU_UPDATE_FAILURE_TRANSFER, &err);
    }
    u->target = p->target;
    return verify_option_bytes(u, boot, session);
}

/* open, check, erase, write, verify and (unless --no-leave) leave. On BACK_REFLASH the device
 * left (or stays in the bootloader with --no-leave). */
static back flash_once(run *u, stdfu_usb_info *boot, bool *ret_image_refused) {
    stdfu_error err = {};
    void *session = NULL;
    const stdfu_layout *layout = NULL;
    back b;
    int r;

    *ret_image_refused = false;
    if (!u->option_bytes_written)
        u->res->attempts++;
    emit(u, STDFU_UPDATE_PHASE_OPEN, STDFU_UPDATE_STEP_NONE,
         "opening bootloader on port %s (attempt %u of %u)", u->o->port, u->res->attempts,
         u->o->max_attempts);
    r = open_session(u, boot, &session, &layout, &err);
    if (r < 0)
        return fail_with(u, r == -ENODEV ? STDFU_UPDATE_FAILURE_NO_DEVICE
                                         : STDFU_UPDATE_FAILURE_TRANSFER, &err);

    emit(u, STDFU_UPDATE_PHASE_CHECK, STDFU_UPDATE_STEP_NONE,
         "checking %llu bytes at 0x%08x against the device's layout",
         (unsigned long long) u->o->image->total_bytes, u->base);
    r = check_image(u, boot, session, &err);
    if (r < 0) {
        *ret_image_refused = true;
        /* The image's base may be what is wrong: send it back to the start of flash. */
        if (layout && layout->n_runs > 0)
            u->leave_address = layout->runs[0].address;
        u->ops->close(u->o->ops_data, session);
        stdfu_error_prefix(&err, "image refused, nothing erased");
        return fail_with(u, STDFU_UPDATE_FAILURE_IMAGE, &err);
    }
    if (cancelled(u)) {
        u->ops->close(u->o->ops_data, session);
        return BACK_OUTCOME;
    }

    b = u->option_bytes_written ? check_option_bytes(u, boot, &session)
                                : write_parts(u, boot, &session);
    if (b != BACK_REFLASH)
        return b;

    if (!u->o->leave || cancelled(u)) {
        u->ops->close(u->o->ops_data, session);
        return u->o->leave ? BACK_OUTCOME : BACK_REFLASH;
    }
    emit(u, STDFU_UPDATE_PHASE_LEAVE, STDFU_UPDATE_STEP_NONE,
         "leaving the bootloader, application at 0x%08x", u->leave_address);
    r = u->ops->leave(u->o->ops_data, session, u->leave_address, &err);
    u->ops->close(u->o->ops_data, session);
    if (r >= 0)
        u->res->leaves++;
    /* The flash is written: a leave that failed is for the ladder to sort out (the device
     * is most likely still there, in the bootloader), not a reason to give up. */
    u->leave_failed = r < 0;
    if (r < 0)
        warn(u, "Leaving the bootloader on port %s failed: %s", u->o->port, err.message);
    return BACK_REFLASH;
}

/* ---- after leave: the recovery ladder ---------------------------------------------------- */

/* Leave again, or USB reset, on a fresh session of the stuck bootloader. */
static int stuck_action(run *u, const stdfu_usb_info *boot, stdfu_update_step step,
                        stdfu_error *err) {
    void *session = NULL;
    const stdfu_layout *layout;
    int r;

    r = open_session(u, boot, &session, &layout, err);
    if (r < 0)
        return r;
    if (step == STDFU_UPDATE_STEP_LEAVE_AGAIN) {
        r = u->ops->leave(u->o->ops_data, session, u->leave_address, err);
        if (r >= 0)
            u->res->leaves++;
    } else {
        r = u->ops->reset(u->o->ops_data, session, err);
        if (r >= 0)
            u->res->port_resets++;
    }
    u->ops->close(u->o->ops_data, session);
    return r;
}

typedef struct ladder {
    bool left_again, reset, rechecked, graced, power_cycled;
} ladder;

typedef enum rung {
    RUNG_WAIT,    /* a rung was taken: wait for the port again */
    RUNG_REFLASH, /* out of rungs for a stuck bootloader: flash again */
    RUNG_END,     /* the run ends (finish() was called) */
} rung;

static rung on_stuck(run *u, ladder *l, const stdfu_usb_info *boot, unsigned *exclude) {
    stdfu_error err = {};
    stdfu_update_step step;

    if (!l->left_again)
        step = STDFU_UPDATE_STEP_LEAVE_AGAIN;
    else if (!l->reset)
        step = STDFU_UPDATE_STEP_PORT_RESET;
    else {
        u->res->steps[STDFU_UPDATE_STEP_REFLASH]++;
        emit(u, STDFU_UPDATE_PHASE_RECOVER, STDFU_UPDATE_STEP_REFLASH,
             "still in the bootloader on port %s after leaving again and a port reset: "
             "flashing again", u->o->port);
        return RUNG_REFLASH;
    }
    if (step == STDFU_UPDATE_STEP_LEAVE_AGAIN) {
        l->left_again = true;
        emit(u, STDFU_UPDATE_PHASE_RECOVER, step,
             "bootloader came back on port %s: leaving again at 0x%08x", u->o->port,
             u->leave_address);
    } else {
        l->reset = true;
        emit(u, STDFU_UPDATE_PHASE_RECOVER, step,
             "bootloader came back on port %s: USB port reset", u->o->port);
    }
    /* Whatever it did, the wait that follows tells what is on the port now. */
    if (stuck_action(u, boot, step, &err) >= 0)
        u->res->steps[step]++;
    *exclude = boot->devnum;
    return RUNG_WAIT;
}

static rung on_vanished(run *u, ladder *l, usec_t *timeout) {
    stdfu_error err = {};

    usec_t grace = u->o->leave_timeout > u->o->reenumerate_timeout
                           ? u->o->leave_timeout - u->o->reenumerate_timeout : 0;
    if (!l->graced && grace > 0) {
        l->graced = true;
        u->res->graces++;
        u->res->steps[STDFU_UPDATE_STEP_GRACE]++;
        emit(u, STDFU_UPDATE_PHASE_RECOVER, STDFU_UPDATE_STEP_GRACE,
             "nothing came back on port %s: waiting %.1f s more for a watchdog reset",
             u->o->port, (double) grace / USEC_PER_SEC);
        *timeout = grace;
        return RUNG_WAIT;
    }
    if (!l->power_cycled) {
        l->power_cycled = true;
        emit(u, STDFU_UPDATE_PHASE_RECOVER, STDFU_UPDATE_STEP_POWER_CYCLE,
             "nothing came back on port %s: power-cycling the port", u->o->port);
        int r = u->ops->power_cycle(u->o->ops_data, u->o->port, u->o->power_off_usec, &err);
        if (r < 0) {
            finish(u, STDFU_UPDATE_NEEDS_POWER_CYCLE, STDFU_UPDATE_FAILURE_NONE, r,
                   "the device on port %s did not come back after leaving its bootloader, and "
                   "%s: unplug and replug it", u->o->port,
                   err.message[0] ? err.message : "its port cannot be power-cycled");
            return RUNG_END;
        }
        u->res->power_cycles++;
        u->res->steps[STDFU_UPDATE_STEP_POWER_CYCLE]++;
        *timeout = u->o->reenumerate_timeout;
        return RUNG_WAIT;
    }
    finish(u, STDFU_UPDATE_NEEDS_POWER_CYCLE, STDFU_UPDATE_FAILURE_NONE, -ETIMEDOUT,
           "the device on port %s did not come back even after its port was power-cycled: "
           "unplug and replug it", u->o->port);
    return RUNG_END;
}

/* Waits for the device after leave and walks the ladder until the application is back
 * (BACK_APPLICATION, *cur = it), the bootloader must be flashed again (BACK_REFLASH, *cur =
 * it) or the run ends (BACK_OUTCOME). */
static back return_to_application(run *u, stdfu_usb_info *cur) {
    ladder l = {};
    /* After a failed leave the same enumeration may still be there: that counts as stuck. */
    unsigned exclude = u->leave_failed ? 0 : cur->devnum;
    usec_t timeout = u->o->reenumerate_timeout;

    emit(u, STDFU_UPDATE_PHASE_WAIT_APPLICATION, STDFU_UPDATE_STEP_NONE,
         "waiting for the application on port %s", u->o->port);
    for (;;) {
        stdfu_usb_info seen;
        rung g;

        int r = wait_port(u, STDFU_USB_WANT_ANY, exclude, timeout, &seen);
        if (r == -ECANCELED || cancelled(u))
            return finish_cancelled(u);
        if ((r < 0 && r != -ETIMEDOUT) || now_monotonic() >= u->deadline)
            return wait_error(u, r < 0 ? r : -ETIMEDOUT, "the application");

        if (r == -ETIMEDOUT && l.reset && !l.rechecked) {
            /* A reset need not re-enumerate: then the same enumeration is what is there. */
            l.rechecked = true;
            exclude = 0;
            timeout = 100 * USEC_PER_MSEC;
            continue;
        }
        if (r == 0 && seen.mode == STDFU_USB_APPLICATION) {
            *cur = seen;
            return BACK_APPLICATION;
        }
        if (r == 0) {
            *cur = seen;
            g = on_stuck(u, &l, cur, &exclude);
            timeout = u->o->reenumerate_timeout;
        } else
            g = on_vanished(u, &l, &timeout);
        if (g == RUNG_REFLASH)
            return BACK_REFLASH;
        if (g == RUNG_END)
            return BACK_OUTCOME;
    }
}

/* ---- the run ----------------------------------------------------------------------------- */

static int check_options(const stdfu_update_options *o, stdfu_update_result *res) {
    if (!o->port || !stdfu_usb_port_is_valid(o->port))
        return stdfu_error_set(&res->error, -EINVAL, "invalid USB port path '%s'",
                               strna(o->port));
    if (!o->image || !o->watch)
        return stdfu_error_set(&res->error, -EINVAL, "update of port %s: no %s given",
                               o->port, o->image ? "re-enumeration watch" : "image");
    if (o->max_attempts == 0)
        return stdfu_error_set(&res->error, -EINVAL, "update of port %s: zero attempts",
                               o->port);
    return 0;
}

static bool runs_target(const run *u, const stdfu_usb_info *app) {
    return !u->o->has_target_bcd || app->bcd_device == u->o->target_bcd;
}

/* From the application back after leave: done, or the cycle again with the old version. */
static back check_version(run *u, stdfu_usb_info *app) {
    seen_application(u, app);
    if (runs_target(u, app))
        return finish(u, STDFU_UPDATE_DONE, STDFU_UPDATE_FAILURE_NONE, 0, NULL);
    if (u->res->attempts >= u->o->max_attempts)
        return finish(u, STDFU_UPDATE_FAILED, STDFU_UPDATE_FAILURE_VERSION, -EPROTO,
                      "the application on port %s still runs version %x.%02x after %u "
                      "attempts, expected %x.%02x", u->o->port, app->bcd_device >> 8,
                      app->bcd_device & 0xff, u->res->attempts, u->o->target_bcd >> 8,
                      u->o->target_bcd & 0xff);
    u->res->steps[STDFU_UPDATE_STEP_REFLASH]++;
    emit(u, STDFU_UPDATE_PHASE_RECOVER, STDFU_UPDATE_STEP_REFLASH,
         "application on port %s came back running version %x.%02x, not %x.%02x: the flash "
         "did not take, starting over", u->o->port, app->bcd_device >> 8,
         app->bcd_device & 0xff, u->o->target_bcd >> 8, u->o->target_bcd & 0xff);
    return BACK_APPLICATION; /* enter again */
}

/* The image was refused after entering the bootloader: leave again so that the application
 * runs as before, walking the ladder, but keep the refusal as the outcome. */
static void return_after_refusal(run *u, stdfu_usb_info *boot) {
    stdfu_update_outcome outcome = u->res->outcome;
    stdfu_update_failure failure = u->res->failure;
    stdfu_error error = u->res->error, err = {};

    emit(u, STDFU_UPDATE_PHASE_LEAVE, STDFU_UPDATE_STEP_NONE,
         "image refused: returning the device on port %s to its application", u->o->port);
    if (stuck_action(u, boot, STDFU_UPDATE_STEP_LEAVE_AGAIN, &err) < 0)
        warn(u, "Could not return port %s to its application: %s", u->o->port, err.message);
    else if (return_to_application(u, boot) == BACK_APPLICATION)
        seen_application(u, boot);
    u->res->outcome = outcome;
    u->res->failure = failure;
    u->res->error = error;
}

static void cycle(run *u) {
    stdfu_usb_info cur;
    bool entered = false;
    int r;

    emit(u, STDFU_UPDATE_PHASE_FIND, STDFU_UPDATE_STEP_NONE, "looking for the device on port %s",
         u->o->port);
    r = wait_port(u, STDFU_USB_WANT_ANY, 0, u->o->find_timeout, &cur);
    if (r == -ETIMEDOUT) {
        finish(u, STDFU_UPDATE_FAILED, STDFU_UPDATE_FAILURE_NO_DEVICE, -ENODEV,
               "no application or bootloader on port %s", u->o->port);
        return;
    }
    if (r < 0) {
        wait_error(u, r, "the device");
        return;
    }
    if (cur.mode == STDFU_USB_APPLICATION && u->o->skip_if_current && u->o->has_target_bcd &&
        runs_target(u, &cur)) {
        seen_application(u, &cur);
        finish(u, STDFU_UPDATE_DONE, STDFU_UPDATE_FAILURE_NONE, 0, NULL);
        return;
    }

    for (;;) {
        bool refused;
        back b;

        if (cancelled(u))
            return;
        if (cur.mode == STDFU_USB_APPLICATION) {
            if (enter_bootloader(u, &cur) == BACK_OUTCOME)
                return;
            entered = true;
        }
        if (u->res->attempts >= u->o->max_attempts && !u->option_bytes_written) {
            finish(u, STDFU_UPDATE_FAILED, STDFU_UPDATE_FAILURE_RECOVERY, -ETIMEDOUT,
                   "gave up on port %s after %u flash attempts", u->o->port, u->res->attempts);
            return;
        }
        b = flash_once(u, &cur, &refused);
        if (b == BACK_APPLICATION)
            continue; /* it came back running its application: enter again */
        if (b == BACK_OUTCOME) {
            /* A refused image must not strand a device that was running its application. */
            if (refused && entered && u->o->leave)
                return_after_refusal(u, &cur);
            return;
        }
        if (!u->o->leave) {
            finish(u, STDFU_UPDATE_DONE, STDFU_UPDATE_FAILURE_NONE, 0, NULL);
            return;
        }
        b = return_to_application(u, &cur);
        if (b == BACK_OUTCOME)
            return;
        if (b == BACK_APPLICATION && check_version(u, &cur) == BACK_OUTCOME)
            return;
        /* else: cur is the bootloader (stuck) or the application with the old version */
    }
}

/* What the result says the device is left as is what is on the port now, whatever the run
 * believed: no application version for a device that is off or in its bootloader. */
static void look_at_the_end(run *u) {
    stdfu_usb_info info;
    int r = stdfu_usb_watch_wait(u->o->watch, u->o->port, STDFU_USB_WANT_ANY, 0, 0, NULL, &info);

    u->res->final_mode = r >= 0 ? info.mode : STDFU_USB_ABSENT;
    u->res->running_bcd = r >= 0 && info.mode == STDFU_USB_APPLICATION ? info.bcd_device : 0;
}

int stdfu_update_run(const stdfu_update_options *o, stdfu_update_result *res) {
    run u = { .o = o, .res = res };
    int r;

    *res = (stdfu_update_result) { .entered_with = STDFU_ENTER_NONE };
    r = check_options(o, res);
    if (r < 0)
        return r;
    u.ops = o->ops ? o->ops : stdfu_update_default_ops();
    u.start = u.phase_start = now_monotonic();
    u.deadline = o->total_timeout == USEC_INFINITY ? USEC_INFINITY : u.start + o->total_timeout;
    u.phase = STDFU_UPDATE_PHASE_FIND;

    u.target = stdfu_image_find_target(o->image, o->alt);
    if (!u.target || u.target->n_elements == 0) {
        finish(&u, STDFU_UPDATE_FAILED, STDFU_UPDATE_FAILURE_IMAGE, -ENOENT,
               "the image has no data for alt setting %u", o->alt);
        return 0;
    }
    u.base = u.leave_address = u.target->elements[0].address;
    u.session_alt = o->alt;

    cycle(&u);
    look_at_the_end(&u);

    if (res->outcome == STDFU_UPDATE_DONE) {
        if (res->final_mode == STDFU_USB_APPLICATION)
            emit(&u, STDFU_UPDATE_PHASE_DONE, STDFU_UPDATE_STEP_NONE,
                 "application running version %x.%02x on port %s",
                 res->running_bcd >> 8, res->running_bcd & 0xffu, o->port);
        else
            emit(&u, STDFU_UPDATE_PHASE_DONE, STDFU_UPDATE_STEP_NONE,
                 "device stays in the bootloader on port %s", o->port);
    }
    enter_phase(&u, u.phase);
    res->elapsed_usec = now_monotonic() - u.start;
    stdfu_update_plan_done(&u.plan);
    return 0;
}

/* ---- the bootloader for read and erase ------------------------------------------------------ */

struct stdfu_update_access {
    run u;
    stdfu_usb_info cur;
    void *session;
    const stdfu_layout *layout;
};

static int access_fail(stdfu_update_access *a) {
    int code = a->u.res->error.code ? a->u.res->error.code : -EIO;
    look_at_the_end(&a->u);
    a->u.res->elapsed_usec = now_monotonic() - a->u.start;
    free(a);
    return code;
}

int stdfu_update_access_begin(const stdfu_update_options *o, stdfu_update_result *res,
                              stdfu_update_access **ret) {
    stdfu_update_access *a;
    stdfu_error err = {};
    run *u;
    int r;

    *res = (stdfu_update_result) { .entered_with = STDFU_ENTER_NONE };
    if (!o->port || !stdfu_usb_port_is_valid(o->port))
        return stdfu_error_set(&res->error, -EINVAL, "invalid USB port path '%s'",
                               strna(o->port));
    if (!o->watch)
        return stdfu_error_set(&res->error, -EINVAL, "port %s: no re-enumeration watch given",
                               o->port);
    a = calloc(1, sizeof *a);
    if (!a)
        return stdfu_error_set(&res->error, -ENOMEM, "out of memory");
    u = &a->u;
    *u = (run) { .o = o, .res = res, .session_alt = o->alt, .phase = STDFU_UPDATE_PHASE_FIND };
    u->ops = o->ops ? o->ops : stdfu_update_default_ops();
    u->start = u->phase_start = now_monotonic();
    u->deadline = o->total_timeout == USEC_INFINITY ? USEC_INFINITY : u->start + o->total_timeout;
    u->base = u->leave_address = STM32_FLASH_BASE;

    emit(u, STDFU_UPDATE_PHASE_FIND, STDFU_UPDATE_STEP_NONE, "looking for the device on port %s",
         o->port);
    r = wait_port(u, STDFU_USB_WANT_ANY, 0, o->find_timeout, &a->cur);
    if (r == -ETIMEDOUT)
        finish(u, STDFU_UPDATE_FAILED, STDFU_UPDATE_FAILURE_NO_DEVICE, -ENODEV,
               "no application or bootloader on port %s", o->port);
    else if (r < 0)
        wait_error(u, r, "the device");
    if (r < 0)
        return access_fail(a);
    if (a->cur.mode == STDFU_USB_APPLICATION && enter_bootloader(u, &a->cur) == BACK_OUTCOME)
        return access_fail(a);
    emit(u, STDFU_UPDATE_PHASE_OPEN, STDFU_UPDATE_STEP_NONE, "opening bootloader on port %s",
         o->port);
    r = open_session(u, &a->cur, &a->session, &a->layout, &err);
    if (r < 0) {
        fail_with(u, r == -ENODEV ? STDFU_UPDATE_FAILURE_NO_DEVICE
                                  : STDFU_UPDATE_FAILURE_TRANSFER, &err);
        return access_fail(a);
    }
    /* Leave where the application starts: the start of the main flash, whichever alt. */
    if (o->alt == 0 && a->layout && a->layout->n_runs > 0)
        u->leave_address = a->layout->runs[0].address;
    *ret = a;
    return 0;
}

void *stdfu_update_access_session(stdfu_update_access *a) {
    return a->session;
}

const stdfu_layout *stdfu_update_access_layout(stdfu_update_access *a) {
    return a->layout;
}

/* Leaves as the update cycle does and walks its ladder; the outcome when it did not come back
 * is the ladder's. */
static void access_leave(stdfu_update_access *a) {
    run *u = &a->u;
    stdfu_error err = {};
    int r;

    emit(u, STDFU_UPDATE_PHASE_LEAVE, STDFU_UPDATE_STEP_NONE,
         "leaving the bootloader, application at 0x%08x", u->leave_address);
    r = u->ops->leave(u->o->ops_data, a->session, u->leave_address, &err);
    u->ops->close(u->o->ops_data, a->session);
    a->session = NULL;
    if (r >= 0)
        u->res->leaves++;
    u->leave_failed = r < 0;
    if (r < 0)
        warn(u, "Leaving the bootloader on port %s failed: %s", u->o->port, err.message);
    switch (return_to_application(u, &a->cur)) {
    case BACK_APPLICATION:
        seen_application(u, &a->cur);
        finish(u, STDFU_UPDATE_DONE, STDFU_UPDATE_FAILURE_NONE, 0, NULL);
        break;
    case BACK_REFLASH:
        finish(u, STDFU_UPDATE_FAILED, STDFU_UPDATE_FAILURE_RECOVERY, -EPROTO,
               "the device on port %s stays in its bootloader after leaving, leaving again "
               "and a port reset: its flash may hold no valid application", u->o->port);
        break;
    case BACK_OUTCOME:
        break;
    }
}

void stdfu_update_access_end(stdfu_update_access *a, bool stay, stdfu_update_failure failure) {
    run *u;

    if (!a)
        return;
    u = &a->u;
    if (failure != STDFU_UPDATE_FAILURE_NONE) {
        stdfu_error kept = u->res->error;
        if (u->o->leave && !stay && !cancelled(u))
            access_leave(a);
        else
            u->ops->close(u->o->ops_data, a->session);
        u->res->outcome = kept.code == -ECANCELED ? STDFU_UPDATE_CANCELLED : STDFU_UPDATE_FAILED;
        u->res->failure = kept.code == -ECANCELED ? STDFU_UPDATE_FAILURE_NONE : failure;
        u->res->error = kept;
    } else if (u->o->leave && !stay && !cancelled(u))
        access_leave(a);
    else {
        u->ops->close(u->o->ops_data, a->session);
        if (!cancelled(u))
            finish(u, STDFU_UPDATE_DONE, STDFU_UPDATE_FAILURE_NONE, 0, NULL);
    }
    look_at_the_end(u);
    enter_phase(u, u->phase);
    u->res->elapsed_usec = now_monotonic() - u->start;
    free(a);
}
