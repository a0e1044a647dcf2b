/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The device actions of the update cycle on real USB: hidraw and libusb for entering the
 * bootloader, lib/dfuse for the session, the parent hub for port power. */
#include <errno.h>
#include <libusb.h>

#include "dfuse/dfuse.h"
#include "dfuse/transport.h"
#include "update/hub-power.h"
#include "update/update.h"
#include "util/macro.h"

static void libusb_exitp(libusb_context **ctx) {
    if (*ctx)
        libusb_exit(*ctx);
}

/* Each action gets its own libusb context: nothing is shared between worker threads and
 * nothing outlives the action. */
static int new_context(libusb_context **ret, stdfu_error *err) {
    int r = libusb_init(ret);
    if (r < 0)
        return stdfu_error_set(err, -EIO, "cannot initialise libusb: %s", libusb_strerror(r));
    return 0;
}

/* No context here: libusb_init() reads every device on the bus, and with all jobs entering at
 * once that was a sixth of the daemon's CPU time; the HID methods do not use libusb at all, and
 * DFU_DETACH makes its own context when it is the method. */
static int default_enter(void *userdata, const stdfu_usb_info *app, const stdfu_enter_method *m,
                         stdfu_enter_kind *ret_used, stdfu_error *err) {
    (void) userdata;
    return stdfu_enter_bootloader(NULL, app, m, ret_used, err);
}

static int default_open(void *userdata, const stdfu_usb_info *boot, uint8_t alt,
                        void **ret_session, const stdfu_layout **ret_layout, stdfu_error *err) {
    stdfu_transport *t = NULL;
    stdfu_dfuse *s = NULL;
    stdfu_dfuse_options opts = { .alt = alt };
    (void) userdata;

    int r = stdfu_transport_open_port(boot->port, boot->devnum, &t, err);
    if (r < 0)
        return r;
    r = stdfu_dfuse_open(t, &opts, &s, err); /* takes t, also on failure */
    if (r < 0)
        return r;
    *ret_session = s;
    *ret_layout = stdfu_dfuse_layout(s);
    return 0;
}

static int default_alt_layout(void *userdata, void *session, uint8_t alt,
                              const stdfu_layout **ret_layout, stdfu_error *err) {
    const stdfu_dfuse_alt *a = stdfu_dfuse_find_alt(session, alt);
    (void) userdata;

    if (!a)
        return stdfu_error_set(err, -ENOENT, "the device has no alt setting %u", alt);
    *ret_layout = a->has_layout ? &a->layout : NULL;
    return 0;
}

static int default_select(void *userdata, void *session, uint8_t alt, stdfu_error *err) {
    (void) userdata;
    return stdfu_dfuse_select_alt(session, alt, err);
}

/* The session reports to this action's progress callback and checks its cancel flag. */
static void report_to(stdfu_dfuse *s, stdfu_dfuse_progress_fn progress, void *progress_data,
                      const atomic_bool *cancel) {
    stdfu_dfuse_options opts = {
        .alt = stdfu_dfuse_current_alt(s),
        .progress = progress,
        .userdata = progress_data,
        .cancel = cancel,
    };
    stdfu_dfuse_set_options(s, &opts);
}

static int default_flash(void *userdata, void *session, const stdfu_target *target, bool verify,
                         bool differential, stdfu_dfuse_progress_fn progress,
                         void *progress_data, const atomic_bool *cancel,
                         stdfu_dfuse_flash_stats *stats, stdfu_error *err) {
    stdfu_dfuse *s = session;
    /* The engine reads back only what it wrote: the comparison read verified the rest. Its
     * verify announces the phase before the first read, so a mismatch in the very first
     * block is reported as a verify failure, not as a transfer error. */
    stdfu_dfuse_flash_options fo = { .no_verify = !verify, .differential = differential,
                                     .stats = stats };
    (void) userdata;

    report_to(s, progress, progress_data, cancel);
    int r = stdfu_dfuse_flash_target(s, target, &fo, err);
    /* Whatever ends here (a persistent fault, the last retry), the ROM is left in dfuIDLE,
     * not in dfuERROR: ready for the next attempt, or to be left. */
    if (r < 0 && r != -ENODEV && r != -ECANCELED)
        (void) stdfu_dfuse_recover(s, NULL);
    return r;
}

static int default_verify(void *userdata, void *session, const stdfu_target *target,
                          stdfu_dfuse_progress_fn progress, void *progress_data,
                          const atomic_bool *cancel, stdfu_error *err) {
    stdfu_dfuse *s = session;
    (void) userdata;

    report_to(s, progress, progress_data, cancel);
    /* A ROM that just reset may start in dfuERROR (errFIRMWARE on F4). */
    int r = stdfu_dfuse_recover(s, err);
    if (r < 0)
        return r;
    return stdfu_dfuse_verify_target(s, target, err);
}

static int default_leave(void *userdata, void *session, uint32_t address, stdfu_error *err) {
    stdfu_dfuse *s = session;
    (void) userdata;
    /* A fresh session on a stuck ROM may sit in dfuERROR (errFIRMWARE on F4): leave needs
     * dfuIDLE first. */
    int r = stdfu_dfuse_recover(s, err);
    if (r < 0)
        return r;
    return stdfu_dfuse_leave(s, address, err);
}

static int default_reset(void *userdata, void *session, stdfu_error *err) {
    (void) userdata;
    int r = stdfu_dfuse_reset(session, err);
    /* The handle going stale is how a successful reset of a re-enumerating device looks. */
    return r == -ENODEV ? 0 : r;
}

static void default_close(void *userdata, void *session) {
    (void) userdata;
    stdfu_dfuse_free(session);
}

static int default_power_cycle(void *userdata, const char *port, usec_t off_usec,
                               stdfu_error *err) {
    _cleanup_(libusb_exitp) libusb_context *ctx = NULL;
    (void) userdata;
    int r = new_context(&ctx, err);
    if (r < 0)
        return r;
    return stdfu_hub_port_power_cycle(ctx, port, off_usec, err);
}

const stdfu_update_ops *stdfu_update_default_ops(void) {
    static const stdfu_update_ops ops = {
        .enter = default_enter,
        .open = default_open,
        .alt_layout = default_alt_layout,
        .select = default_select,
        .flash = default_flash,
        .verify = default_verify,
        .leave = default_leave,
        .reset = default_reset,
        .close = default_close,
        .power_cycle = default_power_cycle,
    };
    return &ops;
}
