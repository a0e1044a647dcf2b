/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The whole update cycle of one device on one USB port, with its recovery ladder:
 *
 *   [enter] -> bootloader on the same port -> check the image against the device's layout and
 *   ids (nothing erased yet) -> erase touched pages -> write -> verify -> leave -> application
 *   on the same port -> running version == target?  -> done
 *
 *   bootloader came back (stuck):  leave again at the image's base; USB port reset; flash again
 *   nothing came back (vanished):  grace period (a firmware watchdog may reset it); power-cycle
 *                                  the port when its hub switches power per port; otherwise the
 *                                  outcome NEEDS_POWER_CYCLE
 *   application with the old version: the flash did not take; the whole cycle again
 *
 *   several targets (a DfuSe file): each on its own alt, all checked before the first
 *   erase (lib/update/plan.h), the main flash first and the option bytes last
 *
 *   option bytes (an alt named "Option Bytes"): the ROM resets to load them once written; the
 *   write counts when the device is back and reading them (in the bootloader, entered again
 *   if the application came back) shows the image; leave then starts the flash at 0x08000000
 *
 *   a transient fault while erasing, writing or verifying (errWRITE, errVERIFY, errERASE, a
 *   stall, a timeout, the bootloader re-enumerating): clear its status (or open it again once
 *   it is back), erase and write again the pages that do not hold the image (read back), up
 *   to `retries` times in one attempt; a bootloader that went off the bus and does not come
 *   back gets its port power-cycled once, as after leave, or the outcome NEEDS_POWER_CYCLE
 *
 * Bounded in attempts and in time; every step goes to the progress callback and is counted
 * when it was actually taken.
 * Nothing here logs: the caller logs the events it is given (at the level each one names).
 * No global state: a daemon runs stdfu_update_run() in a worker thread with its own cancel
 * flag, progress callback and re-enumeration watch (lib/usb's stdfu_usb_watch, which can be fed
 * from the daemon's main loop), all supplied in the options. */

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <syslog.h>

#include "dfuse/dfuse.h"
#include "image/image.h"
#include "update/enter.h"
#include "usb/usb.h"
#include "util/error.h"
#include "util/time-util.h"

typedef enum stdfu_update_phase {
    STDFU_UPDATE_PHASE_FIND,          /* looking at what is on the port */
    STDFU_UPDATE_PHASE_ENTER,         /* application -> bootloader */
    STDFU_UPDATE_PHASE_OPEN,          /* DfuSe session, layout */
    STDFU_UPDATE_PHASE_CHECK,         /* image against layout and ids */
    STDFU_UPDATE_PHASE_ERASE,
    STDFU_UPDATE_PHASE_WRITE,
    STDFU_UPDATE_PHASE_VERIFY,
    STDFU_UPDATE_PHASE_LEAVE,
    STDFU_UPDATE_PHASE_WAIT_APPLICATION,
    STDFU_UPDATE_PHASE_RECOVER,       /* a rung of the recovery ladder */
    STDFU_UPDATE_PHASE_DONE,
    STDFU_UPDATE_PHASE_READ,          /* stdfuctl read: the memory read out */
    _STDFU_UPDATE_PHASE_MAX,
} stdfu_update_phase;

typedef enum stdfu_update_step {
    STDFU_UPDATE_STEP_NONE,
    STDFU_UPDATE_STEP_LEAVE_AGAIN,   /* stuck: leave again at the image's base */
    STDFU_UPDATE_STEP_PORT_RESET,    /* stuck: USB port reset */
    STDFU_UPDATE_STEP_REFLASH,       /* stuck, or old version: the cycle again */
    STDFU_UPDATE_STEP_GRACE,         /* vanished: wait for a watchdog reset */
    STDFU_UPDATE_STEP_POWER_CYCLE,   /* vanished: hub port power off/on */
    STDFU_UPDATE_STEP_RETRY,         /* a transient fault while flashing: status cleared (or
                                      * the bootloader reopened), erased and written again */
    _STDFU_UPDATE_STEP_MAX,
} stdfu_update_step;

typedef enum stdfu_update_outcome {
    STDFU_UPDATE_DONE,
    STDFU_UPDATE_FAILED,
    STDFU_UPDATE_NEEDS_POWER_CYCLE,
    STDFU_UPDATE_CANCELLED,
} stdfu_update_outcome;

/* Why FAILED (or what went wrong last): callers map these to exit codes or D-Bus errors. */
typedef enum stdfu_update_failure {
    STDFU_UPDATE_FAILURE_NONE,
    STDFU_UPDATE_FAILURE_IMAGE,     /* image does not fit the device (layout, ids) */
    STDFU_UPDATE_FAILURE_NO_DEVICE, /* nothing usable on the port */
    STDFU_UPDATE_FAILURE_ENTER,     /* the application did not go into the bootloader */
    STDFU_UPDATE_FAILURE_TRANSFER,  /* USB or DFU error while erasing/writing/reading */
    STDFU_UPDATE_FAILURE_VERIFY,    /* read back differs from the image */
    STDFU_UPDATE_FAILURE_VERSION,   /* application back, but not running the target version */
    STDFU_UPDATE_FAILURE_RECOVERY,  /* the ladder ran out of rungs, attempts or time */
} stdfu_update_failure;

const char *stdfu_update_phase_to_string(stdfu_update_phase p);     /* "write" */
const char *stdfu_update_step_to_string(stdfu_update_step s);       /* "power-cycle" */
const char *stdfu_update_outcome_to_string(stdfu_update_outcome o); /* "needs-power-cycle" */
const char *stdfu_update_failure_to_string(stdfu_update_failure f); /* "verify" */

typedef struct stdfu_update_event {
    stdfu_update_phase phase;
    stdfu_update_step step;      /* RECOVER only */
    unsigned attempt;            /* 1-based flash attempt */
    uint64_t done, total;        /* ERASE/WRITE/VERIFY: bytes; else 0 */
    const char *message;         /* one line for people; NULL for byte progress */
    /* How a log should treat message (syslog priority): LOG_DEBUG a step of the cycle as it
     * goes, LOG_INFO a recovery step or a retry, LOG_WARNING something that failed and that
     * the cycle works around. */
    int level;
} stdfu_update_event;

typedef void (*stdfu_update_progress_fn)(const stdfu_update_event *ev, void *userdata);

/* The device actions of the cycle. stdfu_update_default_ops() does them with libusb, hidraw
 * and lib/dfuse; unit tests put a model of a misbehaving device behind them. */
typedef struct stdfu_update_ops {
    int (*enter)(void *userdata, const stdfu_usb_info *app, const stdfu_enter_method *m,
                 stdfu_enter_kind *ret_used, stdfu_error *err);
    /* Opens the bootloader enumeration boot->devnum on its port and selects alt. The session
     * is the ops' own; *ret_layout (NULL if the alt has none) stays owned by it. */
    int (*open)(void *userdata, const stdfu_usb_info *boot, uint8_t alt,
                void **ret_session, const stdfu_layout **ret_layout, stdfu_error *err);
    /* The layout session's bootloader reports for alt, without selecting it: *ret_layout
     * (NULL if the alt has none) stays owned by the session. -ENOENT naming the alt when the
     * device has no such alt. */
    int (*alt_layout)(void *userdata, void *session, uint8_t alt,
                      const stdfu_layout **ret_layout, stdfu_error *err);
    /* Selects another alt on the open session (-ENOENT when the device has none such). */
    int (*select)(void *userdata, void *session, uint8_t alt, stdfu_error *err);
    /* Recover to dfuIDLE, erase the pages target touches, write, verify (unless !verify).
     * differential: read the touched pages back first and erase and write only those that do
     * not hold target yet (always so on a retry after a fault). progress gets (phase, done,
     * total); *stats is added to. */
    int (*flash)(void *userdata, void *session, const stdfu_target *target,
                 bool verify, bool differential, stdfu_dfuse_progress_fn progress,
                 void *progress_data, const atomic_bool *cancel, stdfu_dfuse_flash_stats *stats,
                 stdfu_error *err);
    /* Reads target back and compares (-EBADMSG naming the first difference). */
    int (*verify)(void *userdata, void *session, const stdfu_target *target,
                  stdfu_dfuse_progress_fn progress, void *progress_data,
                  const atomic_bool *cancel, stdfu_error *err);
    int (*leave)(void *userdata, void *session, uint32_t address, stdfu_error *err);
    int (*reset)(void *userdata, void *session, stdfu_error *err);
    void (*close)(void *userdata, void *session);
    /* -EOPNOTSUPP when the port's hub cannot switch that port alone. */
    int (*power_cycle)(void *userdata, const char *port, usec_t off_usec, stdfu_error *err);
} stdfu_update_ops;

const stdfu_update_ops *stdfu_update_default_ops(void);

typedef struct stdfu_update_options {
    const char *port;                 /* physical port path: the device's identity */
    const stdfu_image *image;
    /* The alt setting the image must have a target for, where the application's base is
     * looked for. Every target of the image is written to its own alt (a DfuSe file may hold
     * several): all of them checked against their alt's layout before anything is erased,
     * the main flash first, option bytes last. */
    uint8_t alt;
    stdfu_enter_method enter;         /* used when the device runs its application */
    bool verify;                      /* default true */
    /* Read each touched page back first and erase and write only the pages that do not hold
     * the image (a resumed or repeated update writes nothing twice); false erases and writes
     * every page the image touches. A retry after a fault is always differential. Default
     * false here (stdfu_update_options_init), so a caller that expects every page erased is
     * not changed under it; stdfuctl flash sets it unless --full. */
    bool differential;
    bool leave;                       /* default true; false: stop in the bootloader */
    bool skip_if_current;             /* application already runs target_bcd: done at once */
    bool has_target_bcd;              /* the version the application must report afterwards */
    uint16_t target_bcd;
    /* Bounds. Defaults from stdfu_update_options_init(). */
    unsigned max_attempts;            /* flash cycles */
    unsigned retries;                 /* transient faults retried within one cycle */
    usec_t find_timeout;              /* for the device to be on the port at the start */
    usec_t enter_timeout;             /* for the bootloader after enter */
    usec_t reenumerate_timeout;       /* for anything after leave, reset, power cycle */
    usec_t leave_timeout;             /* total wait after leave incl. the grace period */
    usec_t power_off_usec;            /* how long the port stays unpowered */
    usec_t total_timeout;             /* the whole run */
    /* Supplied by the caller. */
    const stdfu_update_ops *ops;      /* NULL: stdfu_update_default_ops() */
    void *ops_data;
    stdfu_usb_watch *watch;           /* required; created before the run */
    stdfu_update_progress_fn progress;
    void *userdata;
    const atomic_bool *cancel;        /* may be NULL */
} stdfu_update_options;

void stdfu_update_options_init(stdfu_update_options *o);

typedef struct stdfu_update_result {
    stdfu_update_outcome outcome;
    stdfu_update_failure failure;     /* FAILED: why; else NONE */
    stdfu_error error;                /* FAILED, NEEDS_POWER_CYCLE, CANCELLED: one sentence */
    stdfu_enter_kind entered_with;    /* NONE when it already was in the bootloader */
    stdfu_usb_mode final_mode;        /* what is on the port at the end (looked at then) */
    uint16_t old_bcd;                 /* the application's bcdDevice before, 0 unknown (it
                                       * was in its bootloader) */
    uint16_t running_bcd;             /* the application's at the end; 0 when no application
                                       * runs (absent, in the bootloader) */
    uint64_t bytes_written;           /* the bytes the ROM took (reported written), every
                                       * alt, all attempts, also those of a failed one */
    unsigned attempts;                /* flash cycles started */
    unsigned leaves, port_resets, power_cycles, graces;
    unsigned retries;                 /* transient faults retried (all attempts) */
    /* The image's pages (sectors of the layout) as they ended, every alt: read to compare and
     * found holding the image (skipped) by the first pass over each target, and how many of
     * them were erased and written by the end (each page once, also by a pass that failed
     * later). pages_erased_again/pages_written_again: what later passes (a retry, a reflash)
     * erased and wrote again. read_protected: the device refused the comparison read and the
     * whole image was written. */
    unsigned pages_read, pages_skipped, pages_erased, pages_written;
    unsigned pages_erased_again, pages_written_again;
    bool read_protected;
    unsigned steps[_STDFU_UPDATE_STEP_MAX];
    usec_t elapsed_usec;
    usec_t phase_usec[_STDFU_UPDATE_PHASE_MAX]; /* time spent per phase */
} stdfu_update_result;

/* Runs the cycle. Returns 0 when it ran to an outcome (see ret->outcome; DONE or not), or a
 * negative errno for bad options. */
int stdfu_update_run(const stdfu_update_options *o, stdfu_update_result *ret);

/* ---- the bootloader of a device, for something else than an image ---------------------------
 * What `stdfuctl read` and `erase` do with a device, with the same steps as the update cycle:
 * find it on o->port, enter its bootloader if it runs its application (o->enter, waiting up to
 * o->enter_timeout), open a session on o->alt; and at the end leave (unless !o->leave) at the
 * start of the flash and walk the same recovery ladder until the application is back.
 * o->image is not used and may be NULL; o->verify, o->differential, retries and target_bcd
 * are not used either. Results and events are those of stdfu_update_run(). */
typedef struct stdfu_update_access stdfu_update_access;

/* 0 with *ret (session open), or a negative errno with res->outcome and res->error saying
 * why (the device is then where the failure left it). */
int stdfu_update_access_begin(const stdfu_update_options *o, stdfu_update_result *res,
                              stdfu_update_access **ret);
/* The ops' session: a stdfu_dfuse with the default ops. */
void *stdfu_update_access_session(stdfu_update_access *a);
/* The layout of the alt opened, NULL when it has none. */
const stdfu_layout *stdfu_update_access_layout(stdfu_update_access *a);
/* Closes the session; leaves (o->leave) and waits for the application, unless stay: the
 * device stays in the bootloader (e.g. its flash holds no application any more). Fills in
 * res (outcome DONE or why not, final_mode, running_bcd, elapsed) and frees a. failure (0, or
 * what the caller's own operation failed with, in res->error already) keeps res's outcome
 * FAILED but the device is still left. */
void stdfu_update_access_end(stdfu_update_access *a, bool stay, stdfu_update_failure failure);
