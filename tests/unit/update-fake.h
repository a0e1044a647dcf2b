/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The fake device of the update cycle's unit tests (test-update-ladder.c, -retry.c,
 * -option-bytes.c, -access.c): a scripted device behind the update ops and a fake
 * re-enumeration watch, and the fixture that runs stdfu_update_run() against it. No USB, no
 * sleeping. Included once per test program (static functions). */
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
    stdfu_target targets[2];    /* an image with two (flash_and_option_bytes) */
    stdfu_element ob_element;
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

static inline void run(fixture *x, stdfu_update_result *res) {
    assert_int_equal(stdfu_update_run(&x->o, res), 0);
}

/* alt 1 as an F407's option bytes, the image one 16-byte target for it */
static inline void use_option_bytes(fixture *x) {
    assert_int_equal(stdfu_layout_parse("@Option Bytes  /0x1FFFC000/01*016 e", &x->f.ob_layout,
                                        NULL), 0);
    x->element = (stdfu_element) { .address = 0x1fffc000, .size = 16, .data = x->data };
    x->target.alt = 1;
    x->img.total_bytes = 16;
    x->o.alt = 1;
    x->o.has_target_bcd = false;
}
