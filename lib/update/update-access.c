/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The bootloader of a device for stdfuctl read and erase, with the cycle's own steps. */
#include <errno.h>
#include <string.h>
#include <stdlib.h>

#include "update/update-internal.h"

/* ---- the bootloader for read and erase ------------------------------------------------------ */

struct stdfu_update_access {
    run u;
    stdfu_usb_info cur;
    void *session;
    const stdfu_layout *layout;
};

static int access_fail(stdfu_update_access *a) {
    int code = a->u.res->error.code ? a->u.res->error.code : -EIO;
    update_look_at_the_end(&a->u);
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

    update_emit(u, STDFU_UPDATE_PHASE_FIND, STDFU_UPDATE_STEP_NONE,
                "looking for the device on port %s", o->port);
    r = update_wait_port(u, STDFU_USB_WANT_ANY, 0, o->find_timeout, &a->cur);
    if (r == -ETIMEDOUT)
        update_finish(u, STDFU_UPDATE_FAILED, STDFU_UPDATE_FAILURE_NO_DEVICE, -ENODEV,
                      "no application or bootloader on port %s", o->port);
    else if (r < 0)
        update_wait_error(u, r, "the device");
    if (r < 0)
        return access_fail(a);
    if (a->cur.mode == STDFU_USB_APPLICATION && update_enter_bootloader(u, &a->cur) == BACK_OUTCOME)
        return access_fail(a);
    update_emit(u, STDFU_UPDATE_PHASE_OPEN, STDFU_UPDATE_STEP_NONE, "opening bootloader on port %s",
                o->port);
    r = update_open_session(u, &a->cur, &a->session, &a->layout, &err);
    if (r < 0) {
        update_fail_with(u, r == -ENODEV ? STDFU_UPDATE_FAILURE_NO_DEVICE
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

    update_emit(u, STDFU_UPDATE_PHASE_LEAVE, STDFU_UPDATE_STEP_NONE,
                "leaving the bootloader, application at 0x%08x", u->leave_address);
    r = u->ops->leave(u->o->ops_data, a->session, u->leave_address, &err);
    u->ops->close(u->o->ops_data, a->session);
    a->session = NULL;
    if (r >= 0)
        u->res->leaves++;
    u->leave_failed = r < 0;
    if (r < 0)
        update_warn(u, "Leaving the bootloader on port %s failed: %s", u->o->port, err.message);
    switch (update_return_to_application(u, &a->cur)) {
    case BACK_APPLICATION:
        update_seen_application(u, &a->cur);
        update_finish(u, STDFU_UPDATE_DONE, STDFU_UPDATE_FAILURE_NONE, 0, NULL);
        break;
    case BACK_REFLASH:
        update_finish(u, STDFU_UPDATE_FAILED, STDFU_UPDATE_FAILURE_RECOVERY, -EPROTO,
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
        if (u->o->leave && !stay && !update_cancelled(u))
            access_leave(a);
        else
            u->ops->close(u->o->ops_data, a->session);
        u->res->outcome = kept.code == -ECANCELED ? STDFU_UPDATE_CANCELLED : STDFU_UPDATE_FAILED;
        u->res->failure = kept.code == -ECANCELED ? STDFU_UPDATE_FAILURE_NONE : failure;
        u->res->error = kept;
    } else if (u->o->leave && !stay && !update_cancelled(u))
        access_leave(a);
    else {
        u->ops->close(u->o->ops_data, a->session);
        if (!update_cancelled(u))
            update_finish(u, STDFU_UPDATE_DONE, STDFU_UPDATE_FAILURE_NONE, 0, NULL);
    }
    update_look_at_the_end(u);
    update_enter_phase(u, u->phase);
    u->res->elapsed_usec = now_monotonic() - u->start;
    free(a);
}

