/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The DfuSe session: descriptors, state, status polling, and the flash operations.
 *
 * How a DfuSe DNLOAD runs on an STM32 ROM (AN3156): the request is only latched; the first
 * GETSTATUS after it starts the operation and answers dfuDNBUSY with bwPollTimeout; the ROM
 * then erases or programs in its USB interrupt and does not answer (NAKs) until done; the next
 * GETSTATUS answers dfuDNLOAD-IDLE. So every DNLOAD costs two GETSTATUS, and polling early is
 * harmless: a device that is still busy simply completes the request later. What is harmful is
 * sleeping a bwPollTimeout that is wrong (the F4 ROM says 104 ms after a Set Address that takes
 * no time at all) and giving up before a slow operation (a mass erase) is done. */
#include "dfuse/dfuse.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dfuse/dfuse-internal.h"
#include "util/macro.h"

/* ---- small helpers ---------------------------------------------------------------------- */

usec_t dfuse_now(stdfu_dfuse *s) {
    return stdfu_transport_now(s->t);
}

int dfuse_check_cancel(stdfu_dfuse *s, stdfu_error *err) {
    if (s->opts.cancel && atomic_load(s->opts.cancel))
        return stdfu_error_set(err, -ECANCELED, "cancelled");
    return 0;
}

void dfuse_progress(stdfu_dfuse *s, stdfu_dfuse_phase phase, uint64_t done, uint64_t total) {
    if (s->opts.progress)
        s->opts.progress(phase, done, total, s->opts.userdata);
}

int dfuse_class_request(stdfu_dfuse *s, bool in, uint8_t request, uint16_t value, uint8_t *data,
                        uint16_t length, unsigned timeout_ms) {
    stdfu_setup setup = {
        .bmRequestType = in ? 0xa1 : 0x21,
        .bRequest = request,
        .wValue = value,
        .wIndex = s->interface,
        .wLength = length,
    };
    return stdfu_transport_control(s->t, &setup, data, timeout_ms);
}

/* The message for a failed transfer: names the cause the way a user can act on it. */
int dfuse_transfer_error(stdfu_error *err, int r, const char *request, const char *what) {
    switch (r) {
    case -ENODEV:
        return stdfu_error_set(err, r, "device disconnected during %s %s", request, what);
    case -ETIMEDOUT:
        return stdfu_error_set(err, r, "device did not answer %s %s (timeout)", request, what);
    case -EPIPE:
        return stdfu_error_set(err, r, "device stalled %s %s", request, what);
    default:
        return stdfu_error_set(err, r, "%s %s failed: %m", request, what);
    }
}

/* DFU status -> errno: lets callers tell a refused address or read protection from a failure
 * of the flash. */
static int status_errno(uint8_t status) {
    switch (status) {
    case STDFU_DFU_ERR_TARGET:
    case STDFU_DFU_ERR_ADDRESS:
        return -ERANGE;
    case STDFU_DFU_ERR_VENDOR:
        return -EACCES;
    default:
        return -EIO;
    }
}

const char *dfuse_status_text(const stdfu_dfu_status_reply *st, char *buf) {
    snprintf(buf, DFUSE_STATUS_TEXT_MAX, "%s (%s) in %s", stdfu_dfu_status_to_string(st->status),
             stdfu_dfu_status_description(st->status), stdfu_dfu_state_to_string(st->state));
    return buf;
}

static int status_error(stdfu_error *err, const stdfu_dfu_status_reply *st, const char *what) {
    char text[DFUSE_STATUS_TEXT_MAX];
    return stdfu_error_set(err, status_errno(st->status), "%s %s", dfuse_status_text(st, text),
                           what);
}

int dfuse_get_status_timeout(stdfu_dfuse *s, stdfu_dfu_status_reply *ret, unsigned timeout_ms) {
    uint8_t buf[6];
    int r;

    r = dfuse_class_request(s, true, STDFU_DFU_GETSTATUS, 0, buf, sizeof buf, timeout_ms);
    if (r < 0) {
        s->state = STATE_UNKNOWN;
        return r;
    }
    if (r < 6)
        return -EBADMSG;
    *ret = (stdfu_dfu_status_reply) {
        .status = buf[0],
        .poll_timeout_ms = (uint32_t) buf[1] | (uint32_t) buf[2] << 8 | (uint32_t) buf[3] << 16,
        .state = buf[4],
        .string_index = buf[5],
    };
    s->state = buf[4];
    return 0;
}

/* After a stall the device is in dfuERROR with a status saying why: put it in the message. */
int dfuse_stall_error(stdfu_dfuse *s, stdfu_error *err, int r, const char *request,
                      const char *what) {
    stdfu_dfu_status_reply st;
    char text[DFUSE_STATUS_TEXT_MAX];

    if (r == -EPIPE && dfuse_get_status_timeout(s, &st, CONTROL_TIMEOUT_MS) >= 0 &&
        (st.status != STDFU_DFU_OK || st.state == STDFU_DFU_ERROR))
        return stdfu_error_set(err, status_errno(st.status), "device refused %s %s: %s",
                               request, what, dfuse_status_text(&st, text));
    return dfuse_transfer_error(err, r, request, what);
}

/* ---- status polling --------------------------------------------------------------------- */

op_timing dfuse_timing_set_address(void) {
    /* Executed at once by every ROM; the F4's 104 ms bwPollTimeout is not slept. */
    return (op_timing) { 0, SET_ADDRESS_DEADLINE_USEC };
}

op_timing dfuse_timing_program(size_t bytes) {
    usec_t t = (usec_t) bytes * PROGRAM_USEC_PER_BYTE;
    return (op_timing) { t, MIN_DEADLINE_USEC + 4 * t };
}

op_timing dfuse_timing_erase(uint32_t bytes) {
    usec_t t = (usec_t) bytes * ERASE_USEC_PER_BYTE;
    return (op_timing) { t, MIN_DEADLINE_USEC + 4 * t };
}

op_timing dfuse_timing_mass_erase(void) {
    return (op_timing) { MASS_ERASE_MAX_USEC, MASS_ERASE_DEADLINE_USEC };
}

/* Polls GETSTATUS after a DNLOAD until the device is idle again; what: "after erase of ...". */
int dfuse_wait_done(stdfu_dfuse *s, op_timing timing, const char *what,
                    stdfu_dfu_status_reply *ret, stdfu_error *err) {
    usec_t start = dfuse_now(s), deadline = start + timing.deadline;
    stdfu_dfu_status_reply st;
    bool first = true;
    int r;

    for (;;) {
        usec_t t = dfuse_now(s), left = t < deadline ? deadline - t : 0;
        /* A busy device NAKs until done: the request itself must wait that long. */
        unsigned timeout_ms = (unsigned) MIN(left / USEC_PER_MSEC + 1000, UINT32_MAX / 2);

        r = dfuse_get_status_timeout(s, &st, timeout_ms);
        if (r < 0)
            return dfuse_transfer_error(err, r, "GETSTATUS", what);
        if (st.status != STDFU_DFU_OK || st.state == STDFU_DFU_ERROR)
            return status_error(err, &st, what);

        if (st.state != STDFU_DFU_DNBUSY && st.state != STDFU_DFU_DNLOAD_SYNC)
            break;

        t = dfuse_now(s);
        if (t >= deadline)
            return stdfu_error_set(err, -ETIMEDOUT, "device still busy (%s) %s after %.1f s",
                                   stdfu_dfu_state_to_string(st.state), what,
                                   (double) (t - start) / USEC_PER_SEC);
        usec_t wait = (usec_t) st.poll_timeout_ms * USEC_PER_MSEC;
        if (first)
            /* bwPollTimeout is whole milliseconds, rounded up by the device: the operation
             * ends within its last millisecond. Polling then costs nothing (the ROM NAKs until
             * done), sleeping it out costs up to 1 ms per block. */
            wait = MIN(wait > USEC_PER_MSEC ? wait - USEC_PER_MSEC : 0, timing.plausible);
        else
            wait = MAX(wait, MIN_REPOLL_USEC);
        wait = MIN(wait, deadline - t);
        if (wait > 0)
            stdfu_transport_sleep_until(s->t, t + wait);
        first = false;
    }

    switch (st.state) {
    case STDFU_DFU_DNLOAD_IDLE:
    case STDFU_DFU_IDLE:
    case STDFU_DFU_MANIFEST_SYNC:
    case STDFU_DFU_MANIFEST:
    case STDFU_DFU_MANIFEST_WAIT_RESET:
        break;
    default:
        return stdfu_error_set(err, -EPROTO, "unexpected state %s %s",
                               stdfu_dfu_state_to_string(st.state), what);
    }
    if (ret)
        *ret = st;
    return 0;
}

/* DNLOAD and wait for it to be carried out. */
int dfuse_dnload(stdfu_dfuse *s, uint16_t block, const uint8_t *data, uint16_t length,
                 op_timing timing, const char *what, stdfu_error *err) {
    int r;

    r = dfuse_check_cancel(s, err);
    if (r < 0)
        return r;
    r = dfuse_class_request(s, false, STDFU_DFU_DNLOAD, block, (uint8_t *) data, length,
                      CONTROL_TIMEOUT_MS);
    if (r < 0) {
        s->state = STATE_UNKNOWN;
        return dfuse_stall_error(s, err, r, "DNLOAD", what);
    }
    s->state = STDFU_DFU_DNLOAD_SYNC;
    return dfuse_wait_done(s, timing, what, NULL, err);
}

int dfuse_cmd(stdfu_dfuse *s, uint8_t cmd, bool has_address, uint32_t address,
              op_timing timing, const char *what, stdfu_error *err) {
    uint8_t buf[5] = { cmd, (uint8_t) address, (uint8_t) (address >> 8),
                       (uint8_t) (address >> 16), (uint8_t) (address >> 24) };
    return dfuse_dnload(s, 0, buf, has_address ? 5 : 1, timing, what, err);
}

/* ---- state ------------------------------------------------------------------------------ */

int stdfu_dfuse_get_status(stdfu_dfuse *s, stdfu_dfu_status_reply *ret, stdfu_error *err) {
    int r = dfuse_get_status_timeout(s, ret, CONTROL_TIMEOUT_MS);
    if (r < 0)
        return dfuse_transfer_error(err, r, "GETSTATUS", "(device status)");
    return 0;
}

int stdfu_dfuse_clear_status(stdfu_dfuse *s, stdfu_error *err) {
    int r = dfuse_class_request(s, false, STDFU_DFU_CLRSTATUS, 0, NULL, 0, CONTROL_TIMEOUT_MS);
    if (r < 0)
        return dfuse_transfer_error(err, r, "CLRSTATUS", "(clearing an error)");
    s->state = STDFU_DFU_IDLE;
    return 0;
}

int stdfu_dfuse_abort(stdfu_dfuse *s, stdfu_error *err) {
    int r = dfuse_class_request(s, false, STDFU_DFU_ABORT, 0, NULL, 0, CONTROL_TIMEOUT_MS);
    if (r < 0)
        return dfuse_stall_error(s, err, r, "ABORT", "(back to dfuIDLE)");
    s->state = STDFU_DFU_IDLE;
    return 0;
}

int stdfu_dfuse_recover(stdfu_dfuse *s, stdfu_error *err) {
    stdfu_dfu_status_reply st;
    char text[DFUSE_STATUS_TEXT_MAX];
    int r;

    /* Each round moves the device one step closer to dfuIDLE; three are plenty. */
    for (unsigned round = 0; round < 4; round++) {
        /* A stalled request is over with the next SETUP: ask again, a few times. */
        for (unsigned stalls = 0; stalls < 4; stalls++) {
            r = dfuse_get_status_timeout(s, &st, CONTROL_TIMEOUT_MS);
            if (r != -EPIPE)
                break;
        }
        if (r < 0)
            return dfuse_transfer_error(err, r, "GETSTATUS", "(device state)");
        switch (st.state) {
        case STDFU_DFU_IDLE:
            if (st.status == STDFU_DFU_OK)
                return 0;
            __attribute__((fallthrough));
        case STDFU_DFU_ERROR:
            r = stdfu_dfuse_clear_status(s, err);
            /* After an error, do not trust where the pointer is. An ABORT leaves it alone. */
            s->pointer_valid = false;
            break;
        case STDFU_DFU_DNLOAD_SYNC:
        case STDFU_DFU_DNLOAD_IDLE:
        case STDFU_DFU_MANIFEST_SYNC:
        case STDFU_DFU_UPLOAD_IDLE:
            r = stdfu_dfuse_abort(s, err);
            break;
        case STDFU_DFU_DNBUSY: {
            usec_t wait = MAX((usec_t) st.poll_timeout_ms * USEC_PER_MSEC, MIN_REPOLL_USEC);
            stdfu_transport_sleep_until(s->t, dfuse_now(s) + MIN(wait, USEC_PER_SEC));
            r = 0;
            break;
        }
        case STDFU_DFU_APP_IDLE:
        case STDFU_DFU_APP_DETACH:
            return stdfu_error_set(err, -EPROTO,
                                   "device is in %s: a DFU runtime interface, not the bootloader",
                                   stdfu_dfu_state_to_string(st.state));
        default:
            return stdfu_error_set(err, -EPROTO, "device cannot be brought out of %s (%s)",
                                   stdfu_dfu_state_to_string(st.state),
                                   stdfu_dfu_status_to_string(st.status));
        }
        if (r < 0)
            return r;
    }
    return stdfu_error_set(err, -EPROTO, "device does not return to dfuIDLE: %s",
                           dfuse_status_text(&st, text));
}

/* DNLOAD is refused in dfuUPLOAD-IDLE and dfuERROR: leave those first. */
int dfuse_ready_for_dnload(stdfu_dfuse *s, stdfu_error *err) {
    if (s->state == STDFU_DFU_IDLE || s->state == STDFU_DFU_DNLOAD_IDLE)
        return 0;
    if (s->state == STDFU_DFU_UPLOAD_IDLE)
        return stdfu_dfuse_abort(s, err);
    return stdfu_dfuse_recover(s, err);
}

/* UPLOAD needs dfuIDLE (or dfuUPLOAD-IDLE to go on). */
int dfuse_ready_for_upload(stdfu_dfuse *s, stdfu_error *err) {
    if (s->state == STDFU_DFU_IDLE)
        return 0;
    if (s->state == STDFU_DFU_DNLOAD_IDLE || s->state == STDFU_DFU_UPLOAD_IDLE)
        return stdfu_dfuse_abort(s, err);
    return stdfu_dfuse_recover(s, err);
}

/* ---- open -------------------------------------------------------------------------------- */

typedef struct dfu_interface_desc {
    uint8_t number, alt, string;
} dfu_interface_desc;

/* Walks the configuration descriptor: the DFU-mode interface's alt settings and its functional
 * descriptor (type 0x21 inside the DFU interface, not the HID descriptor of the same type). */
static int parse_config(stdfu_dfuse *s, const uint8_t *d, size_t len, dfu_interface_desc **ret,
                        size_t *ret_n, stdfu_error *err) {
    _cleanup_free_ dfu_interface_desc *alts = NULL;
    bool in_dfu = false, have_functional = false;
    int number = -1;
    size_t n = 0;

    for (size_t i = 0; i + 2 <= len;) {
        uint8_t l = d[i], type = d[i + 1];

        if (l < 2 || i + l > len)
            return stdfu_error_set(err, -EBADMSG, "malformed configuration descriptor at byte %zu",
                                   i);
        if (type == 0x04 && l >= 9) {
            in_dfu = d[i + 5] == 0xfe && d[i + 6] == 0x01 && d[i + 7] == 0x02 &&
                     (number < 0 || number == d[i + 2]);
            if (in_dfu) {
                dfu_interface_desc *p = realloc(alts, (n + 1) * sizeof *alts);
                if (!p)
                    return stdfu_error_set(err, -ENOMEM, "out of memory");
                alts = p;
                alts[n++] = (dfu_interface_desc) { d[i + 2], d[i + 3], d[i + 8] };
                number = d[i + 2];
            }
        } else if (type == 0x21 && in_dfu && l >= 7 && !have_functional) {
            s->attributes = d[i + 2];
            s->transfer_size = (uint16_t) (d[i + 5] | d[i + 6] << 8);
            s->bcd_dfu = l >= 9 ? (uint16_t) (d[i + 7] | d[i + 8] << 8) : 0x0100;
            have_functional = true;
        }
        i += l;
    }
    if (n == 0)
        return stdfu_error_set(err, -ENODEV,
                               "not a DFU bootloader: no DFU-mode interface (class 0xfe/1/2)");
    if (!have_functional || s->transfer_size == 0)
        return stdfu_error_set(err, -EBADMSG,
                               "DFU interface %u has no functional descriptor with wTransferSize",
                               (unsigned) number);
    s->interface = (uint8_t) number;
    *ret = TAKE_PTR(alts);
    *ret_n = n;
    return 0;
}

static int read_alts(stdfu_dfuse *s, const dfu_interface_desc *descs, size_t n,
                     stdfu_error *err) {
    uint16_t lang = 0x0409;
    bool asked = false;

    s->alts = calloc(n, sizeof *s->alts);
    if (!s->alts)
        return stdfu_error_set(err, -ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        stdfu_dfuse_alt *a = &s->alts[s->n_alts];
        stdfu_error perr = {};
        int r;

        a->alt = descs[i].alt;
        if (descs[i].string != 0) {
            if (!asked) {
                lang = stdfu_transport_get_language(s->t);
                asked = true;
            }
            r = stdfu_transport_get_string_lang(s->t, descs[i].string, lang, a->name,
                                                sizeof a->name);
            /* A missing string only costs the layout of that alt. */
            if (r < 0 && r != -EPIPE && r != -EBADMSG)
                return dfuse_transfer_error(err, r, "GET_DESCRIPTOR", "(interface string)");
        }
        s->n_alts++;
        if (a->name[0] == '@') {
            r = stdfu_layout_parse(a->name, &a->layout, &perr);
            if (r >= 0)
                a->has_layout = true;
        }
    }
    return 0;
}

int stdfu_dfuse_open(stdfu_transport *transport, const stdfu_dfuse_options *opts,
                     stdfu_dfuse **ret, stdfu_error *err) {
    _cleanup_(stdfu_dfuse_freep) stdfu_dfuse *s = NULL;
    _cleanup_free_ dfu_interface_desc *descs = NULL;
    _cleanup_free_ uint8_t *config = NULL;
    size_t config_len = 0, n = 0;
    int r;

    s = calloc(1, sizeof *s);
    if (!s) {
        stdfu_transport_free(transport);
        return stdfu_error_set(err, -ENOMEM, "out of memory");
    }
    s->t = transport;
    s->state = STATE_UNKNOWN;
    if (opts)
        s->opts = *opts;

    r = stdfu_transport_get_config_descriptor(s->t, 0, &config, &config_len);
    if (r < 0)
        return dfuse_transfer_error(err, r, "GET_DESCRIPTOR", "(configuration)");
    r = parse_config(s, config, config_len, &descs, &n, err);
    if (r < 0)
        return r;
    r = read_alts(s, descs, n, err);
    if (r < 0)
        return r;
    r = stdfu_transport_claim_interface(s->t, s->interface);
    if (r < 0)
        return stdfu_error_set(err, r, "cannot claim DFU interface %u: %m", s->interface);
    r = stdfu_dfuse_select_alt(s, opts ? opts->alt : 0, err);
    if (r < 0)
        return r;
    *ret = TAKE_PTR(s);
    return 0;
}

stdfu_dfuse *stdfu_dfuse_free(stdfu_dfuse *s) {
    if (!s)
        return NULL;
    for (size_t i = 0; i < s->n_alts; i++)
        if (s->alts[i].has_layout)
            stdfu_layout_done(&s->alts[i].layout);
    free(s->alts);
    stdfu_transport_free(s->t);
    free(s);
    return NULL;
}

uint16_t stdfu_dfuse_transfer_size(const stdfu_dfuse *s) {
    return s->transfer_size;
}
uint8_t stdfu_dfuse_attributes(const stdfu_dfuse *s) {
    return s->attributes;
}
uint16_t stdfu_dfuse_bcd_dfu(const stdfu_dfuse *s) {
    return s->bcd_dfu;
}
size_t stdfu_dfuse_n_alts(const stdfu_dfuse *s) {
    return s->n_alts;
}
const stdfu_dfuse_alt *stdfu_dfuse_get_alt(const stdfu_dfuse *s, size_t i) {
    return i < s->n_alts ? &s->alts[i] : NULL;
}
const stdfu_dfuse_alt *stdfu_dfuse_find_alt(const stdfu_dfuse *s, uint8_t alt) {
    for (size_t i = 0; i < s->n_alts; i++)
        if (s->alts[i].alt == alt)
            return &s->alts[i];
    return NULL;
}
uint8_t stdfu_dfuse_current_alt(const stdfu_dfuse *s) {
    return s->alt;
}
const stdfu_layout *stdfu_dfuse_layout(const stdfu_dfuse *s) {
    const stdfu_dfuse_alt *a = stdfu_dfuse_find_alt(s, s->alt);
    return a && a->has_layout ? &a->layout : NULL;
}
void stdfu_dfuse_set_options(stdfu_dfuse *s, const stdfu_dfuse_options *opts) {
    uint8_t alt = s->opts.alt;
    s->opts = *opts;
    s->opts.alt = alt;
}

int stdfu_dfuse_select_alt(stdfu_dfuse *s, uint8_t alt, stdfu_error *err) {
    int r;

    if (!stdfu_dfuse_find_alt(s, alt)) {
        uint8_t max = 0;
        for (size_t i = 0; i < s->n_alts; i++)
            max = MAX(max, s->alts[i].alt);
        return stdfu_error_set(err, -ENOENT, "the device has no alt setting %u (it has 0..%u)",
                               alt, max);
    }
    r = stdfu_transport_set_alt(s->t, s->interface, alt);
    if (r < 0)
        return dfuse_transfer_error(err, r, "SET_INTERFACE", "(alt setting)");
    s->alt = alt;
    s->opts.alt = alt;
    /* A new memory: the ROM's address pointer means something else now. */
    s->pointer_valid = false;
    s->state = STATE_UNKNOWN;
    return 0;
}
