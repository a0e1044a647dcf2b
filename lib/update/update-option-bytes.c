/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Option bytes: the ROM resets the chip to load them once they are written; they count as
 * written when the device is back and reading them shows them. */
#include <errno.h>
#include <string.h>

#include "update/update-internal.h"

/* Option bytes take effect through an option byte reload, which resets the chip: ST's ROMs
 * start it once they are written, so the session ends there, and that is no fault. Waits for
 * the device to come back on the port; the caller then reads them back. BACK_APPLICATION with
 * *boot what came back (or the same bootloader, if it did not reset), or BACK_OUTCOME. */
back update_write_option_bytes(run *u, stdfu_usb_info *boot, void *session) {
    stdfu_error err = {};
    stdfu_usb_info seen;
    int r;

    u->progress_phase = STDFU_UPDATE_PHASE_WRITE;
    update_enter_phase(u, STDFU_UPDATE_PHASE_WRITE);
    stdfu_dfuse_flash_stats stats = {};
    r = u->ops->flash(u->o->ops_data, session, u->target, false, false, update_dfuse_progress, u,
                      u->o->cancel, &stats, &err);
    update_add_stats(u, &stats);
    u->ops->close(u->o->ops_data, session);
    if (r < 0 && r != -ENODEV)
        return update_fail_with(u, update_classify_flash_error(u, r), &err);
    u->option_bytes_written = true;
    u->leave_address = STM32_FLASH_BASE;
    /* The ROM took them all: its reset may have cut the status of the last block short. */
    if (stats.bytes_written < stdfu_target_total_bytes(u->target))
        u->res->bytes_written += stdfu_target_total_bytes(u->target) - stats.bytes_written;
    update_emit(u, STDFU_UPDATE_PHASE_WRITE, STDFU_UPDATE_STEP_NONE,
                "option bytes written on port %s: waiting for the device to reset and load them",
                u->o->port);
    r = update_wait_port(u, STDFU_USB_WANT_ANY, boot->devnum, u->o->enter_timeout, &seen);
    if (r == -ETIMEDOUT && update_wait_port(u, STDFU_USB_WANT_BOOTLOADER, 0, 0, &seen) == 0 &&
        seen.devnum == boot->devnum)
        r = 0; /* no reset: the option bytes are read back from the same enumeration */
    if (r == -ETIMEDOUT)
        return update_finish(u, STDFU_UPDATE_FAILED, STDFU_UPDATE_FAILURE_NO_DEVICE, r,
                             "the device on port %s did not come back within %llu s after its "
                             "option bytes were written", u->o->port,
                             (unsigned long long) (u->o->enter_timeout / USEC_PER_SEC));
    if (r < 0)
        return update_wait_error(u, r, "the device after writing option bytes");
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
    update_enter_phase(u, STDFU_UPDATE_PHASE_VERIFY);
    r = u->ops->verify(u->o->ops_data, *session, u->target, update_dfuse_progress, u, u->o->cancel,
                       &err);
    u->ops->close(u->o->ops_data, *session);
    *session = NULL;
    if (r < 0) {
        stdfu_error_prefix(&err, "option bytes on port %s after their reset", u->o->port);
        return update_fail_with(u, update_classify_flash_error(u, r), &err);
    }
    update_emit(u, STDFU_UPDATE_PHASE_VERIFY, STDFU_UPDATE_STEP_NONE,
                "option bytes on port %s read back as written", u->o->port);
    u->session_alt = u->main_alt;
    r = update_open_session(u, boot, session, &layout, &err);
    if (r < 0)
        return update_fail_with(u, STDFU_UPDATE_FAILURE_TRANSFER, &err);
    return BACK_REFLASH;
}

/* After the option bytes' reset: select them and read them back. */
back update_check_option_bytes(run *u, stdfu_usb_info *boot, void **session) {
    const stdfu_update_part *p = u->plan.n_parts ? &u->plan.parts[u->plan.n_parts - 1] : NULL;
    stdfu_error err = {};

    if (!p || !p->option_bytes || update_use_alt(u, *session, p->alt, &err) < 0) {
        u->ops->close(u->o->ops_data, *session);
        *session = NULL;
        if (!err.message[0])
            stdfu_error_set(&err, -EIO, "no option bytes to read back on port %s", u->o->port);
        return update_fail_with(u, STDFU_UPDATE_FAILURE_TRANSFER, &err);
    }
    u->target = p->target;
    return verify_option_bytes(u, boot, session);
}
