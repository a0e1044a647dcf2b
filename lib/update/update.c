/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "update/update.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "update/update-internal.h"
#include "util/string-table.h"

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

void update_enter_phase(run *u, stdfu_update_phase phase) {
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

    update_enter_phase(u, phase);
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
void update_emit(run *u, stdfu_update_phase phase, stdfu_update_step step, const char *format,
                        ...) {
    va_list ap;

    va_start(ap, format);
    emitv(u, step == STDFU_UPDATE_STEP_NONE ? LOG_DEBUG : LOG_INFO, phase, step, format, ap);
    va_end(ap);
}

/* Something failed that the cycle goes on without. */
void update_warn(run *u, const char *format, ...) {
    va_list ap;

    va_start(ap, format);
    emitv(u, LOG_WARNING, u->phase, STDFU_UPDATE_STEP_NONE, format, ap);
    va_end(ap);
}

void update_dfuse_progress(stdfu_dfuse_phase p, uint64_t done, uint64_t total, void *userdata) {
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
        update_enter_phase(u, phase);
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
back update_finish(run *u, stdfu_update_outcome outcome, stdfu_update_failure failure, int code,
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
back update_finish_cancelled(run *u) {
    return update_finish(u, STDFU_UPDATE_CANCELLED, STDFU_UPDATE_FAILURE_NONE, -ECANCELED,
                         "cancelled during %s on port %s", stdfu_update_phase_to_string(u->phase),
                         u->o->port);
}

/* Ends the run after err was set by an action: failure kind from where it happened. */
back update_fail_with(run *u, stdfu_update_failure failure, const stdfu_error *err) {
    if (err->code == -ECANCELED || (u->o->cancel && atomic_load(u->o->cancel)))
        return update_finish_cancelled(u);
    return update_finish(u, STDFU_UPDATE_FAILED, failure, err->code ? err->code : -EIO, "%s",
                         err->message[0] ? err->message : "unknown error");
}

bool update_cancelled(run *u) {
    if (!u->o->cancel || !atomic_load(u->o->cancel))
        return false;
    update_finish_cancelled(u);
    return true;
}

/* ---- waiting ----------------------------------------------------------------------------- */

static usec_t bounded(run *u, usec_t timeout) {
    usec_t now = now_monotonic();
    return now >= u->deadline ? 0 : MIN(timeout, u->deadline - now);
}

/* 0 with *ret, -ETIMEDOUT, -ECANCELED. */
int update_wait_port(run *u, unsigned modes, unsigned exclude_devnum, usec_t timeout,
                            stdfu_usb_info *ret) {
    return stdfu_usb_watch_wait(u->o->watch, u->o->port, modes, exclude_devnum,
                                bounded(u, timeout), u->o->cancel, ret);
}

back update_wait_error(run *u, int r, const char *what) {
    if (r == -ECANCELED)
        return update_finish_cancelled(u);
    if (now_monotonic() >= u->deadline)
        return update_finish(u, STDFU_UPDATE_FAILED, STDFU_UPDATE_FAILURE_RECOVERY, -ETIMEDOUT,
                             "gave up on port %s after the run's time limit of %llu s (%s)",
                             u->o->port, (unsigned long long) (u->o->total_timeout / USEC_PER_SEC),
                             what);
    return update_finish(u, STDFU_UPDATE_FAILED, STDFU_UPDATE_FAILURE_NO_DEVICE, r,
                         "waiting for %s on port %s failed: %s", what, u->o->port, strerror(-r));
}

void update_seen_application(run *u, const stdfu_usb_info *info) {
    u->app_vid = info->vid;
    u->app_pid = info->pid;
    u->res->running_bcd = info->bcd_device;
    /* The version before is what ran before anything was written: unknown (0) for a device
     * found in its bootloader, not the version it runs afterwards. */
    if (u->res->old_bcd == 0 && u->res->attempts == 0)
        u->res->old_bcd = info->bcd_device;
}

/* ---- enter ------------------------------------------------------------------------------- */

back update_enter_bootloader(run *u, stdfu_usb_info *cur) {
    stdfu_error err = {};
    stdfu_enter_kind used = STDFU_ENTER_NONE;
    unsigned app_devnum = cur->devnum;
    int r;

    update_seen_application(u, cur);
    if (u->o->enter.kind == STDFU_ENTER_NONE)
        return update_finish(u, STDFU_UPDATE_FAILED, STDFU_UPDATE_FAILURE_ENTER, -EOPNOTSUPP,
                             "the device on port %s runs its application (%04x:%04x) and the enter "
                             "method is none: put it into its bootloader, or choose another method",
                             u->o->port, cur->vid, cur->pid);
    update_emit(u, STDFU_UPDATE_PHASE_ENTER, STDFU_UPDATE_STEP_NONE,
                "application %04x:%04x version %x.%02x on port %s: entering the bootloader (%s)",
                cur->vid, cur->pid, cur->bcd_device >> 8, cur->bcd_device & 0xff, u->o->port,
                stdfu_enter_kind_to_string(u->o->enter.kind));
    r = u->ops->enter(u->o->ops_data, cur, &u->o->enter, &used, &err);
    if (r < 0)
        return update_fail_with(u, STDFU_UPDATE_FAILURE_ENTER, &err);
    u->res->entered_with = used;

    r = update_wait_port(u, STDFU_USB_WANT_BOOTLOADER, app_devnum, u->o->enter_timeout, cur);
    if (r == -ETIMEDOUT)
        return update_finish(u, STDFU_UPDATE_FAILED, STDFU_UPDATE_FAILURE_ENTER, r,
                             "the application on port %s did not enter its bootloader within "
                             "%llu s after %s", u->o->port,
                             (unsigned long long) (u->o->enter_timeout / USEC_PER_SEC),
                             stdfu_enter_kind_to_string(used));
    if (r < 0)
        return update_wait_error(u, r, "the bootloader");
    update_emit(u, STDFU_UPDATE_PHASE_ENTER, STDFU_UPDATE_STEP_NONE,
                "bootloader %04x:%04x on port %s", cur->vid, cur->pid, u->o->port);
    return BACK_REFLASH;
}

/* ---- sessions ---------------------------------------------------------------------------- */

/* A device that just enumerated may not be openable for a moment: libusb may not list it yet,
 * and udev applies its permissions after the "add" event. Retry briefly before giving up. */
#define OPEN_RETRY_USEC (1500 * USEC_PER_MSEC)
#define OPEN_RETRY_STEP_USEC (50 * USEC_PER_MSEC)

int update_open_session(run *u, const stdfu_usb_info *boot, void **ret_session,
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

/* Points the open session at alt; a session opened later (after a re-enumeration) opens it
 * too. */
int update_use_alt(run *u, void *session, uint8_t alt, stdfu_error *err) {
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

        if (update_use_alt(u, *session, p->alt, &err) < 0) {
            u->ops->close(u->o->ops_data, *session);
            *session = NULL;
            return update_fail_with(u, STDFU_UPDATE_FAILURE_TRANSFER, &err);
        }
        u->target = p->target;
        if (p->option_bytes)
            return update_write_option_bytes(u, boot, *session);
        uint64_t before = u->res->bytes_written;
        b = update_flash_with_retries(u, boot, session);
        if (b != BACK_REFLASH)
            return b;
        update_emit(u, u->o->verify ? STDFU_UPDATE_PHASE_VERIFY : STDFU_UPDATE_PHASE_WRITE,
                    STDFU_UPDATE_STEP_NONE, "%llu bytes written%s to alt %u", (unsigned long long)
                    (u->res->bytes_written - before), u->o->verify ? " and verified" : "", p->alt);
    }
    /* Leave, and the ladder's sessions, on the main flash's alt, where the address is. */
    if (update_use_alt(u, *session, u->main_alt, &err) < 0)
        update_warn(u, "Selecting alt %u on port %s failed: %s", u->main_alt, u->o->port,
                    err.message);
    return BACK_REFLASH;
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
    update_emit(u, STDFU_UPDATE_PHASE_OPEN, STDFU_UPDATE_STEP_NONE,
                "opening bootloader on port %s (attempt %u of %u)", u->o->port, u->res->attempts,
                u->o->max_attempts);
    r = update_open_session(u, boot, &session, &layout, &err);
    if (r < 0)
        return update_fail_with(u, r == -ENODEV ? STDFU_UPDATE_FAILURE_NO_DEVICE
                                         : STDFU_UPDATE_FAILURE_TRANSFER, &err);

    update_emit(u, STDFU_UPDATE_PHASE_CHECK, STDFU_UPDATE_STEP_NONE,
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
        return update_fail_with(u, STDFU_UPDATE_FAILURE_IMAGE, &err);
    }
    if (update_cancelled(u)) {
        u->ops->close(u->o->ops_data, session);
        return BACK_OUTCOME;
    }

    b = u->option_bytes_written ? update_check_option_bytes(u, boot, &session)
                                : write_parts(u, boot, &session);
    if (b != BACK_REFLASH)
        return b;

    if (!u->o->leave || update_cancelled(u)) {
        u->ops->close(u->o->ops_data, session);
        return u->o->leave ? BACK_OUTCOME : BACK_REFLASH;
    }
    update_emit(u, STDFU_UPDATE_PHASE_LEAVE, STDFU_UPDATE_STEP_NONE,
                "leaving the bootloader, application at 0x%08x", u->leave_address);
    r = u->ops->leave(u->o->ops_data, session, u->leave_address, &err);
    u->ops->close(u->o->ops_data, session);
    if (r >= 0)
        u->res->leaves++;
    /* The flash is written: a leave that failed is for the ladder to sort out (the device
     * is most likely still there, in the bootloader), not a reason to give up. */
    u->leave_failed = r < 0;
    if (r < 0)
        update_warn(u, "Leaving the bootloader on port %s failed: %s", u->o->port, err.message);
    return BACK_REFLASH;
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
    update_seen_application(u, app);
    if (runs_target(u, app))
        return update_finish(u, STDFU_UPDATE_DONE, STDFU_UPDATE_FAILURE_NONE, 0, NULL);
    if (u->res->attempts >= u->o->max_attempts)
        return update_finish(u, STDFU_UPDATE_FAILED, STDFU_UPDATE_FAILURE_VERSION, -EPROTO,
                             "the application on port %s still runs version %x.%02x after %u "
                             "attempts, expected %x.%02x", u->o->port, app->bcd_device >> 8,
                             app->bcd_device & 0xff, u->res->attempts, u->o->target_bcd >> 8,
                             u->o->target_bcd & 0xff);
    u->res->steps[STDFU_UPDATE_STEP_REFLASH]++;
    update_emit(u, STDFU_UPDATE_PHASE_RECOVER, STDFU_UPDATE_STEP_REFLASH,
                "application on port %s came back running version %x.%02x, not %x.%02x: the flash "
                "did not take, starting over", u->o->port, app->bcd_device >> 8,
                app->bcd_device & 0xff, u->o->target_bcd >> 8, u->o->target_bcd & 0xff);
    return BACK_APPLICATION; /* enter again */
}

static void cycle(run *u) {
    stdfu_usb_info cur;
    bool entered = false;
    int r;

    update_emit(u, STDFU_UPDATE_PHASE_FIND, STDFU_UPDATE_STEP_NONE,
                "looking for the device on port %s", u->o->port);
    r = update_wait_port(u, STDFU_USB_WANT_ANY, 0, u->o->find_timeout, &cur);
    if (r == -ETIMEDOUT) {
        update_finish(u, STDFU_UPDATE_FAILED, STDFU_UPDATE_FAILURE_NO_DEVICE, -ENODEV,
                      "no application or bootloader on port %s", u->o->port);
        return;
    }
    if (r < 0) {
        update_wait_error(u, r, "the device");
        return;
    }
    if (cur.mode == STDFU_USB_APPLICATION && u->o->skip_if_current && u->o->has_target_bcd &&
        runs_target(u, &cur)) {
        update_seen_application(u, &cur);
        update_finish(u, STDFU_UPDATE_DONE, STDFU_UPDATE_FAILURE_NONE, 0, NULL);
        return;
    }

    for (;;) {
        bool refused;
        back b;

        if (update_cancelled(u))
            return;
        if (cur.mode == STDFU_USB_APPLICATION) {
            if (update_enter_bootloader(u, &cur) == BACK_OUTCOME)
                return;
            entered = true;
        }
        if (u->res->attempts >= u->o->max_attempts && !u->option_bytes_written) {
            update_finish(u, STDFU_UPDATE_FAILED, STDFU_UPDATE_FAILURE_RECOVERY, -ETIMEDOUT,
                          "gave up on port %s after %u flash attempts", u->o->port,
                          u->res->attempts);
            return;
        }
        b = flash_once(u, &cur, &refused);
        if (b == BACK_APPLICATION)
            continue; /* it came back running its application: enter again */
        if (b == BACK_OUTCOME) {
            /* A refused image must not strand a device that was running its application. */
            if (refused && entered && u->o->leave)
                update_return_after_refusal(u, &cur);
            return;
        }
        if (!u->o->leave) {
            update_finish(u, STDFU_UPDATE_DONE, STDFU_UPDATE_FAILURE_NONE, 0, NULL);
            return;
        }
        b = update_return_to_application(u, &cur);
        if (b == BACK_OUTCOME)
            return;
        if (b == BACK_APPLICATION && check_version(u, &cur) == BACK_OUTCOME)
            return;
        /* else: cur is the bootloader (stuck) or the application with the old version */
    }
}

/* What the result says the device is left as is what is on the port now, whatever the run
 * believed: no application version for a device that is off or in its bootloader. */
void update_look_at_the_end(run *u) {
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
        update_finish(&u, STDFU_UPDATE_FAILED, STDFU_UPDATE_FAILURE_IMAGE, -ENOENT,
                      "the image has no data for alt setting %u", o->alt);
        return 0;
    }
    u.base = u.leave_address = u.target->elements[0].address;
    u.session_alt = o->alt;

    cycle(&u);
    update_look_at_the_end(&u);

    if (res->outcome == STDFU_UPDATE_DONE) {
        if (res->final_mode == STDFU_USB_APPLICATION)
            update_emit(&u, STDFU_UPDATE_PHASE_DONE, STDFU_UPDATE_STEP_NONE,
                        "application running version %x.%02x on port %s",
                        res->running_bcd >> 8, res->running_bcd & 0xffu, o->port);
        else
            update_emit(&u, STDFU_UPDATE_PHASE_DONE, STDFU_UPDATE_STEP_NONE,
                        "device stays in the bootloader on port %s", o->port);
    }
    update_enter_phase(&u, u.phase);
    res->elapsed_usec = now_monotonic() - u.start;
    stdfu_update_plan_done(&u.plan);
    return 0;
}
