/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A transient fault while erasing, writing or verifying: the ROM's status cleared and the
 * pages that do not hold the image yet erased and written again, on the same session or on
 * the bootloader opened again after it re-enumerated (its port power-cycled when it went away
 * for good), up to the options' retries. */
#include <errno.h>
#include <string.h>

#include "update/update-internal.h"

stdfu_update_failure update_classify_flash_error(run *u, int r) {
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

    r = update_wait_port(u, STDFU_USB_WANT_ANY, boot->devnum, u->o->reenumerate_timeout, &seen);
    if (r < 0)
        return r;
    *boot = seen;
    if (seen.mode != STDFU_USB_BOOTLOADER)
        return -EAGAIN;
    return update_open_session(u, boot, ret_session, &layout, err);
}

/* The bootloader went away while flashing and did not come back (a device that lost its
 * USB connection, gone until its power is cut): power-cycle the port, as the ladder after
 * leave does, and open it again. As reopen(); -EOPNOTSUPP (the port cannot switch power) and
 * -ETIMEDOUT (not back even so) end the run with the outcome NEEDS_POWER_CYCLE. */
static int reopen_after_power_cycle(run *u, stdfu_usb_info *boot, void **ret_session,
                                    const stdfu_error *fault, stdfu_error *err) {
    stdfu_error pc_err = {};
    int r;

    update_emit(u, STDFU_UPDATE_PHASE_RECOVER, STDFU_UPDATE_STEP_POWER_CYCLE,
                "the bootloader on port %s went away while flashing and did not come back: "
                "power-cycling the port", u->o->port);
    r = u->ops->power_cycle(u->o->ops_data, u->o->port, u->o->power_off_usec, &pc_err);
    if (r < 0) {
        update_finish(u, STDFU_UPDATE_NEEDS_POWER_CYCLE, STDFU_UPDATE_FAILURE_NONE, r,
                      "the bootloader on port %s went away while flashing (%s) and did not "
                      "come back, and %s: unplug and replug it", u->o->port, fault->message,
                      pc_err.message[0] ? pc_err.message : "its port cannot be power-cycled");
        return -EOPNOTSUPP;
    }
    u->res->power_cycles++;
    u->res->steps[STDFU_UPDATE_STEP_POWER_CYCLE]++;
    r = reopen(u, boot, ret_session, err);
    if (r == -ETIMEDOUT)
        update_finish(u, STDFU_UPDATE_NEEDS_POWER_CYCLE, STDFU_UPDATE_FAILURE_NONE, r,
                      "the bootloader on port %s went away while flashing (%s) and did not "
                      "come back even after its port was power-cycled: unplug and replug it",
                      u->o->port, fault->message);
    return r;
}

/* The pages of the image as they end: a later pass over the same target (a retry, a
 * reflash) finds the pages an earlier one wrote holding the image, and erases and writes
 * again only the others, which an earlier pass may have counted already. */
static void count_pages(run *u, const stdfu_dfuse_flash_stats *st) {
    stdfu_update_result *res = u->res;
    size_t i;

    for (i = 0; i < u->n_passes && u->passes[i].target != u->target; i++)
        ;
    if (i == u->n_passes) {
        if (i < ELEMENTSOF(u->passes)) {
            u->passes[i].target = u->target;
            u->passes[i].first_skipped = st->pages_skipped;
            u->passes[i].erased = st->pages_erased;
            u->passes[i].written = st->pages_written;
            u->n_passes++;
        }
        res->pages_read += st->pages_read;
        res->pages_skipped += st->pages_skipped;
        res->pages_erased += st->pages_erased;
        res->pages_written += st->pages_written;
        return;
    }

    /* Pages held now that were not at first: an earlier pass erased and wrote them. */
    unsigned gained = st->pages_skipped > u->passes[i].first_skipped
                              ? st->pages_skipped - u->passes[i].first_skipped : 0;
    unsigned erased = MAX(u->passes[i].erased, gained + st->pages_erased);
    unsigned written = MAX(u->passes[i].written, gained + st->pages_written);
    res->pages_erased += erased - u->passes[i].erased;
    res->pages_written += written - u->passes[i].written;
    u->passes[i].erased = erased;
    u->passes[i].written = written;
    res->pages_erased_again += st->pages_erased;
    res->pages_written_again += st->pages_written;
}

/* Counts what a flash did and says what it skipped, and when it could not compare. */
void update_add_stats(run *u, const stdfu_dfuse_flash_stats *st) {
    stdfu_update_result *res = u->res;

    count_pages(u, st);
    res->bytes_written += st->bytes_written;
    if (st->read_protected && !res->read_protected)
        update_warn(u, "The device on port %s refuses to be read (read protection): comparing is "
                    "impossible, writing the whole image", u->o->port);
    res->read_protected |= st->read_protected;
    if (st->pages_read > 0)
        update_emit(u, STDFU_UPDATE_PHASE_CHECK, STDFU_UPDATE_STEP_NONE,
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
back update_flash_with_retries(run *u, stdfu_usb_info *boot, void **session) {
    bool power_cycled = false;

    for (unsigned retry = 0;; retry++) {
        stdfu_error err = {}, reopen_err = {};
        stdfu_update_phase where;
        int r;

        stdfu_dfuse_flash_stats stats = {};

        u->progress_phase = STDFU_UPDATE_PHASE_ERASE;
        update_enter_phase(u, STDFU_UPDATE_PHASE_ERASE);
        r = u->ops->flash(u->o->ops_data, *session, u->target, u->o->verify,
                          u->o->differential || retry > 0, update_dfuse_progress, u, u->o->cancel,
                          &stats, &err);
        update_add_stats(u, &stats);
        if (r >= 0)
            return BACK_REFLASH;
        if (retry >= u->o->retries || cancel_requested(u, r)) {
            u->ops->close(u->o->ops_data, *session);
            *session = NULL;
            return update_fail_with(u, update_classify_flash_error(u, r), &err);
        }

        where = u->progress_phase;
        u->res->retries++;
        u->res->steps[STDFU_UPDATE_STEP_RETRY]++;
        update_emit(u, STDFU_UPDATE_PHASE_ERASE, STDFU_UPDATE_STEP_RETRY,
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
                return update_finish_cancelled(u);
            stdfu_error gone = {};
            stdfu_error_set(&gone, err.code, "%s; the bootloader did not come back on port "
                            "%s (%s)", err.message, u->o->port,
                            reopen_err.message[0] ? reopen_err.message : strerror(-r));
            return update_fail_with(u, STDFU_UPDATE_FAILURE_TRANSFER, &gone);
        }
    }
}
