/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* After leave: what came back on the port, and the rungs of the recovery ladder. */
#include <errno.h>
#include <string.h>

#include "update/update-internal.h"

/* ---- after leave: the recovery ladder ---------------------------------------------------- */

/* Leave again, or USB reset, on a fresh session of the stuck bootloader. */
static int stuck_action(run *u, const stdfu_usb_info *boot, stdfu_update_step step,
                        stdfu_error *err) {
    void *session = NULL;
    const stdfu_layout *layout;
    int r;

    r = update_open_session(u, boot, &session, &layout, err);
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
    RUNG_END,     /* the run ends (update_finish() was called) */
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
        update_emit(u, STDFU_UPDATE_PHASE_RECOVER, STDFU_UPDATE_STEP_REFLASH,
                    "still in the bootloader on port %s after leaving again and a port reset: "
                    "flashing again", u->o->port);
        return RUNG_REFLASH;
    }
    if (step == STDFU_UPDATE_STEP_LEAVE_AGAIN) {
        l->left_again = true;
        update_emit(u, STDFU_UPDATE_PHASE_RECOVER, step,
                    "bootloader came back on port %s: leaving again at 0x%08x", u->o->port,
                    u->leave_address);
    } else {
        l->reset = true;
        update_emit(u, STDFU_UPDATE_PHASE_RECOVER, step,
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
        update_emit(u, STDFU_UPDATE_PHASE_RECOVER, STDFU_UPDATE_STEP_GRACE,
                    "nothing came back on port %s: waiting %.1f s more for a watchdog reset",
                    u->o->port, (double) grace / USEC_PER_SEC);
        *timeout = grace;
        return RUNG_WAIT;
    }
    if (!l->power_cycled) {
        l->power_cycled = true;
        update_emit(u, STDFU_UPDATE_PHASE_RECOVER, STDFU_UPDATE_STEP_POWER_CYCLE,
                    "nothing came back on port %s: power-cycling the port", u->o->port);
        int r = u->ops->power_cycle(u->o->ops_data, u->o->port, u->o->power_off_usec, &err);
        if (r < 0) {
            update_finish(u, STDFU_UPDATE_NEEDS_POWER_CYCLE, STDFU_UPDATE_FAILURE_NONE, r,
                          "the device on port %s did not come back after leaving its "
                          "bootloader, and %s: unplug and replug it", u->o->port,
                          err.message[0] ? err.message : "its port cannot be power-cycled");
            return RUNG_END;
        }
        u->res->power_cycles++;
        u->res->steps[STDFU_UPDATE_STEP_POWER_CYCLE]++;
        *timeout = u->o->reenumerate_timeout;
        return RUNG_WAIT;
    }
    update_finish(u, STDFU_UPDATE_NEEDS_POWER_CYCLE, STDFU_UPDATE_FAILURE_NONE, -ETIMEDOUT,
                  "the device on port %s did not come back even after its port was power-cycled: "
                  "unplug and replug it", u->o->port);
    return RUNG_END;
}

/* Waits for the device after leave and walks the ladder until the application is back
 * (BACK_APPLICATION, *cur = it), the bootloader must be flashed again (BACK_REFLASH, *cur =
 * it) or the run ends (BACK_OUTCOME). */
back update_return_to_application(run *u, stdfu_usb_info *cur) {
    ladder l = {};
    /* After a failed leave the same enumeration may still be there: that counts as stuck. */
    unsigned exclude = u->leave_failed ? 0 : cur->devnum;
    usec_t timeout = u->o->reenumerate_timeout;

    update_emit(u, STDFU_UPDATE_PHASE_WAIT_APPLICATION, STDFU_UPDATE_STEP_NONE,
                "waiting for the application on port %s", u->o->port);
    for (;;) {
        stdfu_usb_info seen;
        rung g;

        int r = update_wait_port(u, STDFU_USB_WANT_ANY, exclude, timeout, &seen);
        if (r == -ECANCELED || update_cancelled(u))
            return update_finish_cancelled(u);
        if ((r < 0 && r != -ETIMEDOUT) || now_monotonic() >= u->deadline)
            return update_wait_error(u, r < 0 ? r : -ETIMEDOUT, "the application");

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

/* The image was refused after entering the bootloader: leave again so that the application
 * runs as before, walking the ladder, but keep the refusal as the outcome. */
void update_return_after_refusal(run *u, stdfu_usb_info *boot) {
    stdfu_update_outcome outcome = u->res->outcome;
    stdfu_update_failure failure = u->res->failure;
    stdfu_error error = u->res->error, err = {};

    update_emit(u, STDFU_UPDATE_PHASE_LEAVE, STDFU_UPDATE_STEP_NONE,
                "image refused: returning the device on port %s to its application", u->o->port);
    if (stuck_action(u, boot, STDFU_UPDATE_STEP_LEAVE_AGAIN, &err) < 0)
        update_warn(u, "Could not return port %s to its application: %s", u->o->port, err.message);
    else if (update_return_to_application(u, boot) == BACK_APPLICATION)
        update_seen_application(u, boot);
    u->res->outcome = outcome;
    u->res->failure = failure;
    u->res->error = error;
}
