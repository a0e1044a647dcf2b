/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The update cycle and its recovery ladder against a scripted fake device behind the update
 * ops and a fake re-enumeration watch: every leave behaviour, old versions, refusals, errors,
 * cancel. No USB, no sleeping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "update/update.h"

typedef enum leave_kind { LEAVE_OK, LEAVE_STUCK, LEAVE_VANISH, LEAVE_WATCHDOG } leave_kind;

typedef struct fake {
    stdfu_usb_mode mode;        /* ABSENT: off the bus */
    unsigned devnum;
    uint16_t flash_bcd;         /* version of what is in flash */
    uint16_t running_bcd;
    leave_kind leave;
    unsigned stuck_left;        /* LEAVE_STUCK: leaves that come back stuck */
    bool reset_unsticks;        /* a port reset starts the application */
    unsigned watchdog_waits;    /* LEAVE_WATCHDOG: waits that time out before it is back */
    unsigned pending_waits;
    bool ppps;
    bool boots_bootloader;      /* after a power cycle: its flash holds no valid application */
    unsigned flashes_not_taking;
    bool leave_error_once;      /* the first leave request fails, the device stays */
    int flash_error;
    uint32_t bytes_before_error; /* the ROM took these before flash_error */
    bool flash_error_in_verify;
    unsigned flash_error_times;  /* how many flashes fail (0: one) */
    stdfu_usb_mode flash_error_mode; /* -ENODEV: what is on the port afterwards */
    /* counters */
    unsigned n_enter, n_open, n_flash, n_leave, n_reset, n_power, n_waits;
    stdfu_layout layout;
    stdfu_layout ob_layout;     /* alt 1: option bytes, written then a reset */
    bool ob_mismatch;           /* they read back other than written */
    bool ob_no_reset;           /* a ROM that takes them without resetting */
    unsigned n_verify, n_again;
    uint8_t alt;                /* of the open session */
    atomic_bool *cancel_on_flash;
} fake;

#define PORT "1-1.2"
#define NEW_BCD 0x0200
#define OLD_BCD 0x0100

static void fill_info(const fake *f, stdfu_usb_info *info) {
    memset(info, 0, sizeof *info);
    snprintf(info->port, sizeof info->port, PORT);
    info->mode = f->mode;
    info->devnum = f->devnum;
    info->vid = 0x0483;
    info->pid = f->mode == STDFU_USB_BOOTLOADER ? 0xdf11 : 0x5750;
    info->bcd_device = f->mode == STDFU_USB_BOOTLOADER ? 0x2200 : f->running_bcd;
}

static void appear(fake *f, stdfu_usb_mode mode) {
    f->mode = mode;
    f->devnum++;
    if (mode == STDFU_USB_APPLICATION)
        f->running_bcd = f->flash_bcd;
}

static int fake_wait(void *userdata, const char *port, unsigned modes, unsigned exclude,
                     usec_t timeout, const atomic_bool *cancel, stdfu_usb_info *ret) {
    fake *f = userdata;
    (void) timeout;
    assert_string_equal(port, PORT);
    f->n_waits++;
    if (cancel && atomic_load(cancel))
        return -ECANCELED;
    if (f->mode == STDFU_USB_ABSENT && f->pending_waits > 0 && --f->pending_waits == 0)
        appear(f, STDFU_USB_APPLICATION); /* the watchdog fired during this wait */
    if (f->mode == STDFU_USB_ABSENT || !(modes & STDFU_USB_MODE_BIT(f->mode)) ||
        (exclude && f->devnum == exclude))
        return -ETIMEDOUT;
    fill_info(f, ret);
    return 0;
}

static const stdfu_usb_watch_ops fake_watch_ops = {
    .wait = fake_wait,
};

static int fake_enter(void *userdata, const stdfu_usb_info *app, const stdfu_enter_method *m,
                      stdfu_enter_kind *ret_used, stdfu_error *err) {
    fake *f = userdata;
    (void) err;
    assert_int_equal(app->mode, STDFU_USB_APPLICATION);
    assert_int_equal(f->mode, STDFU_USB_APPLICATION);
    f->n_enter++;
    *ret_used = m->kind == STDFU_ENTER_AUTO ? STDFU_ENTER_ST_HID_DETACH : m->kind;
    appear(f, STDFU_USB_BOOTLOADER);
    return 0;
}

static int fake_open(void *userdata, const stdfu_usb_info *boot, uint8_t alt, void **ret,
                     const stdfu_layout **ret_layout, stdfu_error *err) {
    fake *f = userdata;
    assert_true(alt == 0 || (alt == 1 && f->ob_layout.n_runs > 0));
    if (f->mode != STDFU_USB_BOOTLOADER || boot->devnum != f->devnum)
        return stdfu_error_set(err, -ENODEV, "no bootloader enumeration %u", boot->devnum);
    f->n_open++;
    f->alt = alt;
    *ret = f;
    *ret_layout = alt == 1 ? &f->ob_layout : &f->layout;
    return 0;
}

static int fake_alt_layout(void *userdata, void *session, uint8_t alt,
                           const stdfu_layout **ret_layout, stdfu_error *err) {
    fake *f = userdata;
    assert_ptr_equal(session, f);
    if (alt == 0 || (alt == 1 && f->ob_layout.n_runs > 0)) {
        *ret_layout = alt == 1 ? &f->ob_layout : &f->layout;
        return 0;
    }
    return stdfu_error_set(err, -ENOENT, "the device has no alt setting %u", alt);
}

static int fake_select(void *userdata, void *session, uint8_t alt, stdfu_error *err) {
    fake *f = userdata;
    const stdfu_layout *l;
    int r = fake_alt_layout(userdata, session, alt, &l, err);
    if (r >= 0)
        f->alt = alt;
    return r;
}

static int fake_flash(void *userdata, void *session, const stdfu_target *target, bool verify,
                      bool again, stdfu_dfuse_progress_fn progress, void *progress_data,
                      const atomic_bool *cancel, stdfu_dfuse_flash_stats *stats,
                      stdfu_error *err) {
    fake *f = userdata;
    (void) cancel;
    /* one 2 KiB page: held by the device when asked again after a fault, else written */
    stats->pages_read += again;
    stats->pages_skipped += again && f->n_flash > 0;
    stats->pages_written += !(again && f->n_flash > 0);
    assert_ptr_equal(session, f);
    f->n_flash++;
    if (again)
        f->n_again++;
    if (f->alt == 1) {
        /* option bytes: written, then the ROM resets and the application starts */
        assert_false(verify);
        progress(STDFU_DFUSE_PHASE_WRITE, 0, target->elements[0].size, progress_data);
        if (f->ob_no_reset)
            return 0;
        appear(f, STDFU_USB_APPLICATION);
        return stdfu_error_set(err, -ENODEV, "device gone");
    }
    assert_true(verify);
    progress(STDFU_DFUSE_PHASE_ERASE, 2048, 2048, progress_data);
    progress(STDFU_DFUSE_PHASE_WRITE, target->elements[0].size, target->elements[0].size,
             progress_data);
    if (f->cancel_on_flash)
        atomic_store(f->cancel_on_flash, true);
    if (f->flash_error) {
        int r = f->flash_error;
        if (f->flash_error_in_verify)
            progress(STDFU_DFUSE_PHASE_VERIFY, 0, target->elements[0].size, progress_data);
        if (f->flash_error_times <= 1)
            f->flash_error = 0;
        else
            f->flash_error_times--;
        stats->bytes_written += f->bytes_before_error;
        if (r == -ENODEV && f->flash_error_mode == STDFU_USB_ABSENT)
            f->mode = STDFU_USB_ABSENT;
        else if (r == -ENODEV)
            appear(f, f->flash_error_mode);
        return stdfu_error_set(err, r, "scripted failure");
    }
    stats->bytes_written += target->elements[0].size;
    if (f->flashes_not_taking > 0)
        f->flashes_not_taking--;
    else
        f->flash_bcd = NEW_BCD;
    return 0;
}

static int fake_verify(void *userdata, void *session, const stdfu_target *target,
                       stdfu_dfuse_progress_fn progress, void *progress_data,
                       const atomic_bool *cancel, stdfu_error *err) {
    fake *f = userdata;
    (void) session, (void) cancel;
    f->n_verify++;
    progress(STDFU_DFUSE_PHASE_VERIFY, 0, target->elements[0].size, progress_data);
    if (f->ob_mismatch)
        return stdfu_error_set(err, -EBADMSG, "verify failed at 0x1fffc001");
    return 0;
}

static int fake_leave(void *userdata, void *session, uint32_t address, stdfu_error *err) {
    fake *f = userdata;
    (void) session;
    assert_int_equal(address, 0x08000000);
    assert_int_equal(f->alt, 0); /* from the main flash's alt, where the address is */
    f->n_leave++;
    if (f->leave_error_once) {
        f->leave_error_once = false;
        return stdfu_error_set(err, -EPIPE, "leave stalled");
    }
    switch (f->leave) {
    case LEAVE_OK:
        appear(f, STDFU_USB_APPLICATION);
        break;
    case LEAVE_STUCK:
        if (f->stuck_left == 0) {
            appear(f, STDFU_USB_APPLICATION);
            break;
        }
        f->stuck_left--;
        appear(f, STDFU_USB_BOOTLOADER);
        break;
    case LEAVE_VANISH:
        f->mode = STDFU_USB_ABSENT;
        break;
    case LEAVE_WATCHDOG:
        f->mode = STDFU_USB_ABSENT;
        f->pending_waits = f->watchdog_waits + 1;
        break;
    }
    return 0;
}

static int fake_reset(void *userdata, void *session, stdfu_error *err) {
    fake *f = userdata;
    (void) session, (void) err;
    f->n_reset++;
    if (f->reset_unsticks)
        appear(f, STDFU_USB_APPLICATION);
    return 0;
}

static void fake_close(void *userdata, void *session) {
    assert_ptr_equal(userdata, session);
}

static int fake_power_cycle(void *userdata, const char *port, usec_t off, stdfu_error *err) {
    fake *f = userdata;
    (void) off;
    assert_string_equal(port, PORT);
    if (!f->ppps)
        return stdfu_error_set(err, -EOPNOTSUPP, "hub 1-1 cannot switch port 2 alone");
    f->n_power++;
    f->pending_waits = 0;
    /* cold boot from flash */
    appear(f, f->boots_bootloader ? STDFU_USB_BOOTLOADER : STDFU_USB_APPLICATION);
    return 0;
}

static const stdfu_update_ops fake_ops = {
    .enter = fake_enter,
    .open = fake_open,
    .alt_layout = fake_alt_layout,
    .select = fake_select,
    .flash = fake_flash,
    .verify = fake_verify,
    .leave = fake_leave,
    .reset = fake_reset,
    .close = fake_close,
    .power_cycle = fake_power_cycle,
};

/* ---- fixture ----------------------------------------------------------------------------- */

typedef struct fixture {
    fake f;
    stdfu_image img;
    stdfu_target target;
    stdfu_element element;
    uint8_t data[4096];
    stdfu_usb_watch *watch;
    stdfu_update_options o;
    unsigned events, byte_events;
    unsigned step_events[_STDFU_UPDATE_STEP_MAX];
    unsigned retry_events;      /* at info level, naming the port */
    atomic_bool cancel;
} fixture;

static void on_event(const stdfu_update_event *ev, void *userdata) {
    fixture *x = userdata;
    x->events++;
    if (!ev->message)
        x->byte_events++;
    else if (ev->phase == STDFU_UPDATE_PHASE_RECOVER)
        x->step_events[ev->step]++;
    else if (ev->step == STDFU_UPDATE_STEP_RETRY && ev->level == LOG_INFO &&
             strstr(ev->message, "port " PORT))
        x->retry_events++;
}

static int setup(void **state) {
    fixture *x = calloc(1, sizeof *x);
    assert_non_null(x);
    x->f.mode = STDFU_USB_APPLICATION;
    x->f.devnum = 5;
    x->f.flash_bcd = x->f.running_bcd = OLD_BCD;
    assert_int_equal(stdfu_layout_parse("@Internal Flash  /0x08000000/064*0002Kg", &x->f.layout,
                                        NULL), 0);
    x->element = (stdfu_element) { .address = 0x08000000, .size = sizeof x->data,
                                   .data = x->data };
    x->target = (stdfu_target) { .alt = 0, .elements = &x->element, .n_elements = 1 };
    x->img = (stdfu_image) { .format = STDFU_IMAGE_BIN, .vid = 0xffff, .pid = 0xffff,
                             .bcd_device = 0xffff, .targets = &x->target, .n_targets = 1,
                             .total_bytes = sizeof x->data };
    assert_int_equal(stdfu_usb_watch_new_with_ops(&fake_watch_ops, &x->f, &x->watch), 0);

    stdfu_update_options_init(&x->o);
    /* off unless asked for: "again" below is then a retry after a fault only */
    assert_false(x->o.differential);
    x->o.port = PORT;
    x->o.image = &x->img;
    x->o.has_target_bcd = true;
    x->o.target_bcd = NEW_BCD;
    x->o.ops = &fake_ops;
    x->o.ops_data = &x->f;
    x->o.watch = x->watch;
    x->o.progress = on_event;
    x->o.userdata = x;
    x->o.cancel = &x->cancel;
    *state = x;
    return 0;
}

static int teardown(void **state) {
    fixture *x = *state;
    stdfu_usb_watch_free(x->watch);
    stdfu_layout_done(&x->f.layout);
    stdfu_layout_done(&x->f.ob_layout);
    free(x);
    return 0;
}

static void run(fixture *x, stdfu_update_result *res) {
    assert_int_equal(stdfu_update_run(&x->o, res), 0);
}

/* ---- tests ------------------------------------------------------------------------------- */

static void test_ok_from_application(void **state) {
    fixture *x = *state;
    stdfu_update_result res;

    run(x, &res);
    assert_int_equal(res.outcome, STDFU_UPDATE_DONE);
    assert_int_equal(res.failure, STDFU_UPDATE_FAILURE_NONE);
    assert_int_equal(res.entered_with, STDFU_ENTER_ST_HID_DETACH);
    assert_int_equal(res.final_mode, STDFU_USB_APPLICATION);
    assert_int_equal(res.old_bcd, OLD_BCD);
    assert_int_equal(res.running_bcd, NEW_BCD);
    assert_int_equal(res.attempts, 1);
    assert_int_equal(res.leaves, 1);
    assert_int_equal(res.bytes_written, sizeof x->data);
    assert_int_equal(x->f.n_enter, 1);
    assert_int_equal(x->f.n_flash, 1);
    assert_int_equal(x->f.n_power + x->f.n_reset, 0);
    assert_true(x->byte_events >= 2);
    for (int s = 0; s < _STDFU_UPDATE_STEP_MAX; s++)
        assert_int_equal(res.steps[s], 0);
}

static void test_already_in_bootloader_no_leave(void **state) {
    fixture *x = *state;
    stdfu_update_result res;

    x->f.mode = STDFU_USB_BOOTLOADER;
    x->o.leave = false;
    run(x, &res);
    assert_int_equal(res.outcome, STDFU_UPDATE_DONE);
    assert_int_equal(res.entered_with, STDFU_ENTER_NONE);
    assert_int_equal(res.final_mode, STDFU_USB_BOOTLOADER);
    assert_int_equal(res.old_bcd, 0); /* nothing ran before: unknown */
    assert_int_equal(x->f.n_enter, 0);
    assert_int_equal(x->f.n_leave, 0);
    assert_int_equal(x->f.mode, STDFU_USB_BOOTLOADER);
}

static void test_stuck_once_leaves_again(void **state) {
    fixture *x = *state;
    stdfu_update_result res;

    x->f.leave = LEAVE_STUCK;
    x->f.stuck_left = 1;
    run(x, &res);
    assert_int_equal(res.outcome, STDFU_UPDATE_DONE);
    assert_int_equal(res.steps[STDFU_UPDATE_STEP_LEAVE_AGAIN], 1);
    assert_int_equal(x->step_events[STDFU_UPDATE_STEP_LEAVE_AGAIN], 1);
    assert_int_equal(res.steps[STDFU_UPDATE_STEP_PORT_RESET], 0);
    assert_int_equal(res.leaves, 2);
    assert_int_equal(res.attempts, 1);
    assert_int_equal(res.running_bcd, NEW_BCD);
}

static void test_stuck_twice_port_reset(void **state) {
    fixture *x = *state;
    stdfu_update_result res;

    x->f.leave = LEAVE_STUCK;
    x->f.stuck_left = 2;
    x->f.reset_unsticks = true;
    run(x, &res);
    assert_int_equal(res.outcome, STDFU_UPDATE_DONE);
    assert_int_equal(res.steps[STDFU_UPDATE_STEP_LEAVE_AGAIN], 1);
    assert_int_equal(res.steps[STDFU_UPDATE_STEP_PORT_RESET], 1);
    assert_int_equal(res.port_resets, 1);
    assert_int_equal(x->f.n_reset, 1);
    assert_int_equal(res.attempts, 1);
}

static void test_stuck_until_reflash(void **state) {
    fixture *x = *state;
    stdfu_update_result res;

    /* Stuck for leave, leave again and reset: the third rung flashes again; then it works. */
    x->f.leave = LEAVE_STUCK;
    x->f.stuck_left = 2;
    run(x, &res);
    assert_int_equal(res.outcome, STDFU_UPDATE_DONE);
    assert_int_equal(res.steps[STDFU_UPDATE_STEP_REFLASH], 1);
    assert_int_equal(res.attempts, 2);
    assert_int_equal(x->f.n_flash, 2);
    assert_int_equal(x->f.n_enter, 1);
}

static void test_stuck_forever_is_bounded(void **state) {
    fixture *x = *state;
    stdfu_update_result res;

    x->f.leave = LEAVE_STUCK;
    x->f.stuck_left = 1000;
    x->o.max_attempts = 2;
    run(x, &res);
    assert_int_equal(res.outcome, STDFU_UPDATE_FAILED);
    assert_int_equal(res.failure, STDFU_UPDATE_FAILURE_RECOVERY);
    assert_int_equal(res.attempts, 2);
    assert_int_equal(x->f.n_flash, 2);
    assert_non_null(strstr(res.error.message, "2 flash attempts"));
}

static void test_vanish_ppps_power_cycle(void **state) {
    fixture *x = *state;
    stdfu_update_result res;

    x->f.leave = LEAVE_VANISH;
    x->f.ppps = true;
    run(x, &res);
    assert_int_equal(res.outcome, STDFU_UPDATE_DONE);
    assert_int_equal(res.steps[STDFU_UPDATE_STEP_GRACE], 1);
    assert_int_equal(res.steps[STDFU_UPDATE_STEP_POWER_CYCLE], 1);
    assert_int_equal(res.power_cycles, 1);
    assert_int_equal(res.running_bcd, NEW_BCD);
}

static void test_vanish_ganged_needs_power_cycle(void **state) {
    fixture *x = *state;
    stdfu_update_result res;

    x->f.leave = LEAVE_VANISH;
    run(x, &res);
    assert_int_equal(res.outcome, STDFU_UPDATE_NEEDS_POWER_CYCLE);
    assert_int_equal(res.power_cycles, 0);
    assert_int_equal(res.steps[STDFU_UPDATE_STEP_GRACE], 1);
    assert_non_null(strstr(res.error.message, "port " PORT));
    assert_non_null(strstr(res.error.message, "cannot switch"));
    /* the power cycle was offered, not done; nothing runs, nothing is on the port */
    assert_int_equal(res.steps[STDFU_UPDATE_STEP_POWER_CYCLE], 0);
    assert_int_equal(res.final_mode, STDFU_USB_ABSENT);
    assert_int_equal(res.running_bcd, 0);
}

static void test_watchdog_recovered_by_waiting(void **state) {
    fixture *x = *state;
    stdfu_update_result res;

    x->f.leave = LEAVE_WATCHDOG;
    x->f.watchdog_waits = 1; /* the first wait times out, it is back during the grace period */
    x->f.ppps = true;
    run(x, &res);
    assert_int_equal(res.outcome, STDFU_UPDATE_DONE);
    assert_int_equal(res.steps[STDFU_UPDATE_STEP_GRACE], 1);
    assert_int_equal(res.power_cycles, 0);
    assert_int_equal(x->f.n_power, 0);
}

static void test_old_version_retries(void **state) {
    fixture *x = *state;
    stdfu_update_result res;

    x->f.flashes_not_taking = 1;
    run(x, &res);
    assert_int_equal(res.outcome, STDFU_UPDATE_DONE);
    assert_int_equal(res.attempts, 2);
    assert_int_equal(x->f.n_enter, 2);
    assert_int_equal(res.steps[STDFU_UPDATE_STEP_REFLASH], 1);
    assert_int_equal(res.running_bcd, NEW_BCD);
}

static void test_old_version_forever_fails(void **state) {
    fixture *x = *state;
    stdfu_update_result res;

    x->f.flashes_not_taking = 100;
    x->o.max_attempts = 3;
    run(x, &res);
    assert_int_equal(res.outcome, STDFU_UPDATE_FAILED);
    assert_int_equal(res.failure, STDFU_UPDATE_FAILURE_VERSION);
    assert_int_equal(res.attempts, 3);
    assert_non_null(strstr(res.error.message, "1.00"));
}

static void test_image_refused_before_erase(void **state) {
    fixture *x = *state;
    stdfu_update_result res;

    x->element.address = 0x08020000; /* past the 128 KiB of flash */
    run(x, &res);
    assert_int_equal(res.outcome, STDFU_UPDATE_FAILED);
    assert_int_equal(res.failure, STDFU_UPDATE_FAILURE_IMAGE);
    assert_int_equal(x->f.n_flash, 0);
    assert_non_null(strstr(res.error.message, "nothing erased"));
    /* it was entered from the application: it is sent back there, and the result says so */
    assert_int_equal(x->f.mode, STDFU_USB_APPLICATION);
    assert_int_equal(x->f.running_bcd, OLD_BCD);
    assert_int_equal(res.final_mode, STDFU_USB_APPLICATION);
    assert_int_equal(res.running_bcd, OLD_BCD);
}

static void test_ids_mismatch_refused(void **state) {
    fixture *x = *state;
    stdfu_update_result res;

    x->f.mode = STDFU_USB_BOOTLOADER;
    x->img.has_suffix = true;
    x->img.vid = 0x1234;
    x->img.pid = 0x5678;
    run(x, &res);
    assert_int_equal(res.failure, STDFU_UPDATE_FAILURE_IMAGE);
    assert_int_equal(x->f.n_flash, 0);
    assert_int_equal(x->f.n_leave, 0);
}

static void test_verify_failure(void **state) {
    fixture *x = *state;
    stdfu_update_result res;

    x->f.flash_error = -EBADMSG;
    x->f.flash_error_in_verify = true;
    x->o.retries = 0;
    run(x, &res);
    assert_int_equal(res.outcome, STDFU_UPDATE_FAILED);
    assert_int_equal(res.failure, STDFU_UPDATE_FAILURE_VERIFY);
    assert_int_equal(x->f.n_leave, 0);
}

static void test_transfer_failure(void **state) {
    fixture *x = *state;
    stdfu_update_result res;

    x->f.flash_error = -EIO;
    x->o.retries = 0;
    run(x, &res);
    assert_int_equal(res.outcome, STDFU_UPDATE_FAILED);
    assert_int_equal(res.failure, STDFU_UPDATE_FAILURE_TRANSFER);
    assert_string_equal(res.error.message, "scripted failure");
}

/* ---- transient faults: retried within the attempt ---------------------------------------- */

static void test_write_error_retried(void **state) {
    fixture *x = *state;
    stdfu_update_result res;

    x->f.flash_error = -EIO; /* errWRITE once */
    run(x, &res);
    assert_int_equal(res.outcome, STDFU_UPDATE_DONE);
    assert_int_equal(res.attempts, 1);
    assert_int_equal(res.retries, 1);
    assert_int_equal(res.steps[STDFU_UPDATE_STEP_RETRY], 1);
    assert_int_equal(x->f.n_flash, 2);
    assert_int_equal(x->f.n_again, 1); /* the retry writes only what differs */
    assert_int_equal(res.pages_read, 1);
    assert_int_equal(res.pages_skipped, 1);
    assert_int_equal(x->f.n_open, 1);
    assert_int_equal(x->retry_events, 1);
    assert_int_equal(res.final_mode, STDFU_USB_APPLICATION);
    assert_int_equal(res.running_bcd, NEW_BCD);
}

/* Differential: the first flash already compares; the pages count up. */
static void test_differential(void **state) {
    fixture *x = *state;
    stdfu_update_result res;

    x->o.differential = true;
    run(x, &res);
    assert_int_equal(res.outcome, STDFU_UPDATE_DONE);
    assert_int_equal(x->f.n_again, 1);
    assert_int_equal(res.pages_read, 1);
    assert_int_equal(res.pages_skipped, 0);
    assert_int_equal(res.pages_written, 1);
}

/* read and erase: entered and left with the cycle's own steps, nothing flashed. */
static void test_access_enter_and_leave(void **state) {
    fixture *x = *state;
    stdfu_update_access *a = NULL;
    stdfu_update_result res;

    x->o.image = NULL;
    assert_int_equal(stdfu_update_access_begin(&x->o, &res, &a), 0);
    assert_ptr_equal(stdfu_update_access_session(a), &x->f);
    assert_non_null(stdfu_update_access_layout(a));
    assert_int_equal(x->f.n_enter, 1);
    assert_int_equal(x->f.n_open, 1);
    stdfu_update_access_end(a, false, STDFU_UPDATE_FAILURE_NONE);
    assert_int_equal(res.outcome, STDFU_UPDATE_DONE);
    assert_int_equal(res.entered_with, STDFU_ENTER_ST_HID_DETACH);
    assert_int_equal(res.leaves, 1);
    assert_int_equal(res.final_mode, STDFU_USB_APPLICATION);
    assert_int_equal(x->f.n_flash, 0);
}

/* The caller's operation failed: still left, the failure kept. */
static void test_access_failure_kept(void **state) {
    fixture *x = *state;
    stdfu_update_access *a = NULL;
    stdfu_update_result res;

    assert_int_equal(stdfu_update_access_begin(&x->o, &res, &a), 0);
    stdfu_error_set(&res.error, -EACCES, "read-protected");
    stdfu_update_access_end(a, false, STDFU_UPDATE_FAILURE_TRANSFER);
    assert_int_equal(res.outcome, STDFU_UPDATE_FAILED);
    assert_int_equal(res.failure, STDFU_UPDATE_FAILURE_TRANSFER);
    assert_string_equal(res.error.message, "read-protected");
    assert_int_equal(res.leaves, 1);
    assert_int_equal(res.final_mode, STDFU_USB_APPLICATION);
}

/* stay: the device is not left (its flash holds no application). */
static void test_access_stay(void **state) {
    fixture *x = *state;
    stdfu_update_access *a = NULL;
    stdfu_update_result res;

    assert_int_equal(stdfu_update_access_begin(&x->o, &res, &a), 0);
    stdfu_update_access_end(a, true, STDFU_UPDATE_FAILURE_NONE);
    assert_int_equal(res.outcome, STDFU_UPDATE_DONE);
    assert_int_equal(res.leaves, 0);
    assert_int_equal(res.final_mode, STDFU_USB_BOOTLOADER);
}

static void test_access_no_device(void **state) {
    fixture *x = *state;
    stdfu_update_access *a = NULL;
    stdfu_update_result res;

    x->f.mode = STDFU_USB_ABSENT;
    x->o.find_timeout = 0;
    assert_true(stdfu_update_access_begin(&x->o, &res, &a) < 0);
    assert_null(a);
    assert_int_equal(res.outcome, STDFU_UPDATE_FAILED);
    assert_int_equal(res.failure, STDFU_UPDATE_FAILURE_NO_DEVICE);
}

static void test_verify_error_retried(void **state) {
    fixture *x = *state;
    stdfu_update_result res;

    x->f.flash_error = -EBADMSG;
    x->f.flash_error_in_verify = true;
    x->f.flash_error_times = 2;
    run(x, &res);
    assert_int_equal(res.outcome, STDFU_UPDATE_DONE);
    assert_int_equal(res.retries, 2);
    assert_int_equal(x->f.n_flash, 3);
}

static void test_persistent_fault_ends_attempt(void **state) {
    fixture *x = *state;
    stdfu_update_result res;

    x->f.mode = STDFU_USB_BOOTLOADER;
    x->f.flash_error = -EPIPE;
    x->f.flash_error_times = 100;
    x->f.bytes_before_error = 1024;
    x->o.retries = 3;
    run(x, &res);
    assert_int_equal(res.outcome, STDFU_UPDATE_FAILED);
    assert_int_equal(res.failure, STDFU_UPDATE_FAILURE_TRANSFER);
    assert_int_equal(res.retries, 3);
    assert_int_equal(x->f.n_flash, 4);
    /* what the ROM took before each failure, not 0 */
    assert_int_equal(res.bytes_written, 4 * 1024);
    assert_int_equal(x->f.n_leave, 0);
    /* in its bootloader: no application runs */
    assert_int_equal(res.final_mode, STDFU_USB_BOOTLOADER);
    assert_int_equal(res.running_bcd, 0);
}

static void test_reenumeration_during_write_reopened(void **state) {
    fixture *x = *state;
    stdfu_update_result res;

    x->f.flash_error = -ENODEV;
    x->f.flash_error_mode = STDFU_USB_BOOTLOADER; /* back at once, a new enumeration */
    run(x, &res);
    assert_int_equal(res.outcome, STDFU_UPDATE_DONE);
    assert_int_equal(res.retries, 1);
    assert_int_equal(res.attempts, 1);
    assert_int_equal(x->f.n_open, 2);
    assert_int_equal(x->f.n_flash, 2);
    assert_int_equal(res.running_bcd, NEW_BCD);
}

static void test_reenumeration_into_application_enters_again(void **state) {
    fixture *x = *state;
    stdfu_update_result res;

    x->f.flash_error = -ENODEV;
    x->f.flash_error_mode = STDFU_USB_APPLICATION; /* its application was still whole */
    run(x, &res);
    assert_int_equal(res.outcome, STDFU_UPDATE_DONE);
    assert_int_equal(res.retries, 1);
    assert_int_equal(res.attempts, 2);
    assert_int_equal(x->f.n_enter, 2);
}

/* Gone in the middle of the write behind a hub that cannot switch power: the device needs a
 * hand, and says so; the power cycle was offered, not counted. */
static void test_disconnect_not_back_needs_power_cycle(void **state) {
    fixture *x = *state;
    stdfu_update_result res;

    x->f.flash_error = -ENODEV;
    x->f.flash_error_mode = STDFU_USB_ABSENT;
    run(x, &res);
    assert_int_equal(res.outcome, STDFU_UPDATE_NEEDS_POWER_CYCLE);
    assert_non_null(strstr(res.error.message, "scripted failure"));
    assert_non_null(strstr(res.error.message, "went away while flashing"));
    assert_non_null(strstr(res.error.message, "cannot switch"));
    assert_int_equal(res.power_cycles, 0);
    assert_int_equal(res.steps[STDFU_UPDATE_STEP_POWER_CYCLE], 0);
    assert_int_equal(x->step_events[STDFU_UPDATE_STEP_POWER_CYCLE], 1); /* offered */
    assert_int_equal(res.final_mode, STDFU_USB_ABSENT);
    assert_int_equal(res.running_bcd, 0);
}

/* The same behind a hub that switches power per port: power-cycled once, back in its
 * bootloader (the flash half written), opened again and written to the end. */
static void test_disconnect_power_cycled_and_rewritten(void **state) {
    fixture *x = *state;
    stdfu_update_result res;

    x->f.flash_error = -ENODEV;
    x->f.flash_error_mode = STDFU_USB_ABSENT;
    x->f.ppps = true;
    x->f.boots_bootloader = true;
    run(x, &res);
    assert_int_equal(res.outcome, STDFU_UPDATE_DONE);
    assert_int_equal(res.power_cycles, 1);
    assert_int_equal(res.steps[STDFU_UPDATE_STEP_POWER_CYCLE], 1);
    assert_int_equal(res.retries, 1);
    assert_int_equal(res.attempts, 1);
    assert_int_equal(x->f.n_power, 1);
    assert_int_equal(x->f.n_open, 2);
    assert_int_equal(x->f.n_flash, 2);
    assert_int_equal(res.running_bcd, NEW_BCD);
}

static void test_cancel_is_not_retried(void **state) {
    fixture *x = *state;
    stdfu_update_result res;

    x->f.flash_error = -ECANCELED;
    run(x, &res);
    assert_int_equal(res.outcome, STDFU_UPDATE_CANCELLED);
    assert_int_equal(res.retries, 0);
    assert_int_equal(x->f.n_flash, 1);
}

/* ---- option bytes ------------------------------------------------------------------------ */

static void use_option_bytes(fixture *x) {
    assert_int_equal(stdfu_layout_parse("@Option Bytes  /0x1FFFC000/01*016 e", &x->f.ob_layout,
                                        NULL), 0);
    x->element = (stdfu_element) { .address = 0x1fffc000, .size = 16, .data = x->data };
    x->target.alt = 1;
    x->img.total_bytes = 16;
    x->o.alt = 1;
    x->o.has_target_bcd = false;
}

static void test_option_bytes_reset_is_expected(void **state) {
    fixture *x = *state;
    stdfu_update_result res;

    use_option_bytes(x);
    run(x, &res);
    assert_int_equal(res.outcome, STDFU_UPDATE_DONE);
    assert_int_equal(res.attempts, 1);
    assert_int_equal(res.retries, 0);
    assert_int_equal(res.bytes_written, 16);
    assert_int_equal(x->f.n_flash, 1);
    /* back as the application: entered again to read them, then left at the flash */
    assert_int_equal(x->f.n_enter, 2);
    assert_int_equal(x->f.n_verify, 1);
    assert_int_equal(x->f.n_leave, 1);
    assert_int_equal(res.final_mode, STDFU_USB_APPLICATION);
}

static void test_option_bytes_without_reset(void **state) {
    fixture *x = *state;
    stdfu_update_result res;

    use_option_bytes(x);
    x->f.ob_no_reset = true;
    run(x, &res);
    assert_int_equal(res.outcome, STDFU_UPDATE_DONE);
    assert_int_equal(x->f.n_enter, 1); /* read back from the same bootloader */
    assert_int_equal(x->f.n_verify, 1);
    assert_int_equal(x->f.n_leave, 1);
}

static void test_option_bytes_not_taken(void **state) {
    fixture *x = *state;
    stdfu_update_result res;

    use_option_bytes(x);
    x->f.ob_mismatch = true;
    run(x, &res);
    assert_int_equal(res.outcome, STDFU_UPDATE_FAILED);
    assert_int_equal(res.failure, STDFU_UPDATE_FAILURE_VERIFY);
    assert_non_null(strstr(res.error.message, "option bytes on port " PORT));
    assert_int_equal(x->f.n_flash, 1);
}

static void test_no_device(void **state) {
    fixture *x = *state;
    stdfu_update_result res;

    x->f.mode = STDFU_USB_ABSENT;
    run(x, &res);
    assert_int_equal(res.outcome, STDFU_UPDATE_FAILED);
    assert_int_equal(res.failure, STDFU_UPDATE_FAILURE_NO_DEVICE);
    assert_non_null(strstr(res.error.message, PORT));
}

static void test_cancel(void **state) {
    fixture *x = *state;
    stdfu_update_result res;

    x->f.cancel_on_flash = &x->cancel;
    run(x, &res);
    assert_int_equal(res.outcome, STDFU_UPDATE_CANCELLED);
    assert_int_equal(x->f.n_leave, 0);
}

static void test_skip_if_current(void **state) {
    fixture *x = *state;
    stdfu_update_result res;

    x->f.flash_bcd = x->f.running_bcd = NEW_BCD;
    x->o.skip_if_current = true;
    run(x, &res);
    assert_int_equal(res.outcome, STDFU_UPDATE_DONE);
    assert_int_equal(x->f.n_enter + x->f.n_flash, 0);
}

static void test_failed_leave_is_recovered(void **state) {
    fixture *x = *state;
    stdfu_update_result res;

    x->f.leave_error_once = true;
    run(x, &res);
    assert_int_equal(res.outcome, STDFU_UPDATE_DONE);
    assert_int_equal(res.steps[STDFU_UPDATE_STEP_LEAVE_AGAIN], 1);
    assert_int_equal(res.attempts, 1);
    assert_int_equal(x->f.n_leave, 2);
}

static void test_enter_none_on_application(void **state) {
    fixture *x = *state;
    stdfu_update_result res;

    x->o.enter.kind = STDFU_ENTER_NONE;
    run(x, &res);
    assert_int_equal(res.outcome, STDFU_UPDATE_FAILED);
    assert_int_equal(res.failure, STDFU_UPDATE_FAILURE_ENTER);
    assert_int_equal(x->f.n_enter + x->f.n_open, 0);
    assert_non_null(strstr(res.error.message, "enter method is none"));
}

static void test_bad_options(void **state) {
    fixture *x = *state;
    stdfu_update_result res;

    x->o.port = "not-a-port";
    assert_int_equal(stdfu_update_run(&x->o, &res), -EINVAL);
    assert_non_null(strstr(res.error.message, "not-a-port"));
}

static void test_names(void **state) {
    (void) state;
    assert_string_equal(stdfu_update_outcome_to_string(STDFU_UPDATE_NEEDS_POWER_CYCLE),
                        "needs-power-cycle");
    assert_string_equal(stdfu_update_step_to_string(STDFU_UPDATE_STEP_POWER_CYCLE),
                        "power-cycle");
    assert_string_equal(stdfu_update_step_to_string(STDFU_UPDATE_STEP_RETRY), "retry");
    assert_string_equal(stdfu_update_phase_to_string(STDFU_UPDATE_PHASE_VERIFY), "verify");
    assert_string_equal(stdfu_update_failure_to_string(STDFU_UPDATE_FAILURE_IMAGE), "image");
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void) {
    const struct CMUnitTest tests[] = {
        T(test_ok_from_application),
        T(test_already_in_bootloader_no_leave),
        T(test_stuck_once_leaves_again),
        T(test_stuck_twice_port_reset),
        T(test_stuck_until_reflash),
        T(test_stuck_forever_is_bounded),
        T(test_vanish_ppps_power_cycle),
        T(test_vanish_ganged_needs_power_cycle),
        T(test_watchdog_recovered_by_waiting),
        T(test_old_version_retries),
        T(test_old_version_forever_fails),
        T(test_image_refused_before_erase),
        T(test_ids_mismatch_refused),
        T(test_verify_failure),
        T(test_transfer_failure),
        T(test_write_error_retried),
        T(test_differential),
        T(test_access_enter_and_leave),
        T(test_access_failure_kept),
        T(test_access_stay),
        T(test_access_no_device),
        T(test_verify_error_retried),
        T(test_persistent_fault_ends_attempt),
        T(test_reenumeration_during_write_reopened),
        T(test_reenumeration_into_application_enters_again),
        T(test_disconnect_not_back_needs_power_cycle),
        T(test_disconnect_power_cycled_and_rewritten),
        T(test_cancel_is_not_retried),
        T(test_option_bytes_reset_is_expected),
        T(test_option_bytes_without_reset),
        T(test_option_bytes_not_taken),
        T(test_no_device),
        T(test_cancel),
        T(test_skip_if_current),
        T(test_failed_leave_is_recovered),
        T(test_enter_none_on_application),
        T(test_bad_options),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
