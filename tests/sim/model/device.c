/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One STM32 on one USB port: lifetime, the standard USB requests of both modes, power,
 * resets and the transitions the front-end carries out. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model-internal.h"
#include "util/macro.h"

#define PRELOADED_IMAGE_SIZE (16u * 1024u)

uint32_t sim_hash_str(const char *s, uint32_t seed) {
    uint32_t h = 2166136261u ^ seed; /* FNV-1a */
    for (; *s; s++) {
        h ^= (uint8_t) *s;
        h *= 16777619u;
    }
    return h;
}

/* The ROM's serial: the F0 ROM says FFFFFFFEFFFF on every unit; others derive it from the
 * 96-bit unique ID, here from the port so that each emulated unit differs. */
static void make_serials(sim_device *d) {
    const char *port = d->config.port;

    if (d->profile->fixed_serial)
        strcpy(d->boot_serial, "FFFFFFFEFFFF");
    else
        snprintf(d->boot_serial, sizeof d->boot_serial, "%08X%04X",
                 (unsigned) sim_hash_str(port, 0x5354), (unsigned) (sim_hash_str(port, 7) & 0xffff));
    if (d->config.app_serial[0])
        strcpy(d->app_serial, d->config.app_serial);
    else
        snprintf(d->app_serial, sizeof d->app_serial, "APP%08X",
                 (unsigned) sim_hash_str(port, 0x4150));
}

static int preload_flash(sim_device *d) {
    const sim_device_config *c = &d->config;
    size_t size = MIN((size_t) PRELOADED_IMAGE_SIZE, d->mem.flash_size);

    if (c->flash_file[0]) {
        char err[256];
        /* The flash starts erased; the file says what it holds. */
        return sim_flash_file_load(c->flash_file, d->mem.flash, d->mem.flash_size,
                                   c->profile->flash_base, err, sizeof err);
    }
    if (c->blank)
        return 0;
    return sim_fw_make(d->mem.flash, size, c->version_major, c->version_minor,
                       sim_hash_str(c->port, 0));
}

static void apply_rdp(sim_device *d, bool rdp);

static void refresh_app(sim_device *d) {
    if (d->app_generation == d->mem.generation + 1)
        return;
    d->app_valid = sim_fw_check(d->mem.flash, d->mem.flash_size, &d->app_major, &d->app_minor);
    d->app_generation = d->mem.generation + 1;
}

sim_mode sim_device_cold_boot_mode(sim_device *d) {
    refresh_app((sim_device *) d);
    return d->app_valid ? SIM_MODE_APPLICATION : SIM_MODE_BOOTLOADER;
}

void sim_device_build_descriptors(sim_device *d) {
    sim_boot_descriptors(d, &d->boot_descs);
    sim_app_descriptors(d, &d->app_descs);
}

/* The device appears in mode with fresh USB state. fresh: the firmware started anew (the
 * application boots, or the ROM starts from scratch), not just a USB re-enumeration. */
static void appear(sim_device *d, sim_mode mode, bool fresh) {
    d->mode = mode;
    /* The kernel configures a device as it enumerates it (usb_choose_configuration picks the
     * only one): clients find configuration 1 active, as GET_CONFIGURATION tells those that
     * have no sysfs (libusb_wrap_sys_device). */
    d->configuration = 1;
    d->counters.enumerations++;
    d->hid_count = d->hid_head = 0;
    if (mode == SIM_MODE_APPLICATION && fresh)
        d->counters.boots++;
    sim_device_build_descriptors(d);
    sim_dfuse_reset(d, mode == SIM_MODE_BOOTLOADER && fresh);
}

int sim_device_new(const sim_device_config *c, sim_usec now, sim_device **ret) {
    sim_device *d;
    sim_mode mode;
    int r;

    if (!c || !c->profile || !ret)
        return -EINVAL;
    d = calloc(1, sizeof *d);
    if (!d)
        return -ENOMEM;
    d->config = *c;
    d->profile = c->profile;
    r = sim_memory_init(&d->mem, d->profile);
    if (r < 0) {
        free(d);
        return r;
    }
    d->counters.n_pages = sim_profile_n_pages(d->profile);
    d->counters.erases_per_page = calloc(d->counters.n_pages, sizeof(unsigned));
    if (!d->counters.erases_per_page) {
        sim_device_free(d);
        return -ENOMEM;
    }
    r = preload_flash(d);
    if (r < 0) {
        sim_device_free(d);
        return r;
    }
    apply_rdp(d, c->rdp);
    d->stuck_left = c->stuck_count;
    d->stalls_left = c->stall_status;
    d->timeouts_left = c->timeout_status;
    sim_profile_protected_layout(d->profile, c->protect_pages, d->flash_layout,
                                 sizeof d->flash_layout);
    d->erase_fault_page = -1;
    d->powered = true;
    d->busy_until = now;
    make_serials(d);

    mode = c->initial_mode == SIM_MODE_BOOTLOADER ? SIM_MODE_BOOTLOADER
                                                   : sim_device_cold_boot_mode(d);
    appear(d, mode, true);
    *ret = d;
    return 0;
}

sim_device *sim_device_free(sim_device *d) {
    if (!d)
        return NULL;
    sim_memory_done(&d->mem);
    free(d->counters.erases_per_page);
    free(d);
    return NULL;
}

const sim_device_config *sim_device_get_config(const sim_device *d) {
    return &d->config;
}

sim_mode sim_device_mode(const sim_device *d) {
    return d->mode;
}

uint16_t sim_device_app_bcd(const sim_device *d) {
    unsigned major, minor;
    return sim_device_app_version(d, &major, &minor) ? sim_fw_bcd(major, minor) : 0;
}

bool sim_device_app_version(const sim_device *d, unsigned *major, unsigned *minor) {
    refresh_app((sim_device *) d);
    if (!d->app_valid)
        return false;
    *major = d->app_major;
    *minor = d->app_minor;
    return true;
}

/* ---- descriptors ---- */

static const sim_descs *current_descs(const sim_device *d) {
    return d->mode == SIM_MODE_APPLICATION ? &d->app_descs : &d->boot_descs;
}

const uint8_t *sim_device_device_descriptor(const sim_device *d) {
    return current_descs(d)->device;
}

const uint8_t *sim_device_config_descriptor(const sim_device *d, size_t *len) {
    const sim_descs *s = current_descs(d);
    *len = s->config_len;
    return s->config;
}

const char *sim_device_serial(const sim_device *d) {
    return d->mode == SIM_MODE_APPLICATION ? d->app_serial : d->boot_serial;
}

const char *sim_device_string(const sim_device *d, unsigned index) {
    if (d->mode == SIM_MODE_APPLICATION) {
        switch (index) {
        case 1: return "STMicroelectronics";
        case 2: return d->config.app_product[0] ? d->config.app_product
                                                : "STM32 Custom Human interface";
        case 3: return d->app_serial;
        case 4: return d->config.enter == SIM_ENTER_DFU_RUNTIME ? "DFU runtime" : NULL;
        default: return NULL;
        }
    }
    switch (index) {
    case 1: return "STMicroelectronics";
    case 2: return "STM32  BOOTLOADER";
    case 3: return d->boot_serial;
    case 4: return d->flash_layout;
    default:
        if (index >= 5 && index - 5 < d->profile->n_extra_alts)
            return d->profile->alts[index - 5].layout;
        return NULL;
    }
}

const uint8_t *sim_device_hid_report_descriptor(const sim_device *d, size_t *len) {
    if (d->mode != SIM_MODE_APPLICATION)
        return NULL;
    *len = d->app_descs.report_len;
    return d->app_descs.report;
}

/* ---- control transfers ---- */

sim_usec sim_device_account(sim_device *d, sim_usec start, size_t len, sim_usec op_us) {
    sim_usec ready = start + sim_transfer_cost(len);

    d->counters.transfer_us += ready - start;
    d->counters.busy_us += op_us;
    d->busy_until = ready + op_us;
    return ready;
}

static int get_descriptor(sim_device *d, const sim_setup *s, uint8_t *out) {
    uint8_t type = (uint8_t) (s->wValue >> 8), index = (uint8_t) s->wValue;
    const uint8_t *src;
    size_t len;

    switch (type) {
    case 1:
        src = sim_device_device_descriptor(d);
        len = 18;
        break;
    case 2:
        if (index != 0)
            return -EPIPE;
        src = sim_device_config_descriptor(d, &len);
        break;
    case 3:
        return sim_string_descriptor(index, sim_device_string(d, index), out, s->wLength);
    default: /* full-speed only: no qualifier, no BOS */
        return -EPIPE;
    }
    len = MIN(len, (size_t) s->wLength);
    memcpy(out, src, len);
    return (int) len;
}

static int set_interface(sim_device *d, const sim_setup *s) {
    if (d->mode == SIM_MODE_BOOTLOADER) {
        if (s->wIndex != 0 || s->wValue > d->profile->n_extra_alts)
            return -EPIPE;
        d->dfu.alt = s->wValue;
        return 0;
    }
    if (s->wValue != 0 || s->wIndex > (d->config.enter == SIM_ENTER_DFU_RUNTIME ? 1 : 0))
        return -EPIPE;
    return 0;
}

static int standard_request(sim_device *d, const sim_setup *s, uint8_t *out) {
    switch (s->bRequest) {
    case 0: /* GET_STATUS */
        if (s->wLength < 2)
            return -EPIPE;
        out[0] = (s->bmRequestType & 0x1f) == 0 && d->mode == SIM_MODE_BOOTLOADER ? 1 : 0;
        out[1] = 0;
        return 2;
    case 1: /* CLEAR_FEATURE */
    case 3: /* SET_FEATURE */
    case 5: /* SET_ADDRESS */
        return 0;
    case 6:
        return get_descriptor(d, s, out);
    case 8: /* GET_CONFIGURATION */
        if (s->wLength < 1)
            return -EPIPE;
        out[0] = d->configuration;
        return 1;
    case 9: /* SET_CONFIGURATION */
        if (s->wValue > 1)
            return -EPIPE;
        d->configuration = (uint8_t) s->wValue;
        return 0;
    case 10: /* GET_INTERFACE */
        if (s->wLength < 1)
            return -EPIPE;
        out[0] = d->mode == SIM_MODE_BOOTLOADER && s->wIndex == 0 ? (uint8_t) d->dfu.alt : 0;
        return 1;
    case 11:
        return set_interface(d, s);
    default:
        return -EPIPE;
    }
}

int sim_device_control(sim_device *d, const sim_setup *setup, uint8_t *data, sim_usec now,
                       sim_usec *ready_at) {
    sim_usec start;
    bool standard = (setup->bmRequestType & 0x60) == 0;
    int r;

    if (d->mode == SIM_MODE_OFF)
        return -ENODEV;
    /* EP0 is not served while the flash is busy. */
    start = MAX(now, d->busy_until);
    if (standard && !(setup->bmRequestType == 0x81 && setup->bRequest == 6 &&
                      d->mode == SIM_MODE_APPLICATION && (setup->wValue >> 8) >= 0x21)) {
        r = standard_request(d, setup, data);
        if (r >= 0)
            *ready_at = sim_device_account(d, start, (size_t) r, 0);
    } else if (d->mode == SIM_MODE_BOOTLOADER)
        r = sim_dfuse_request(d, setup, data, start, ready_at);
    else
        r = sim_app_request(d, setup, data, start, ready_at);
    if (r < 0)
        *ready_at = sim_device_account(d, start, 0, 0);
    return r;
}

/* ---- power, reset, transitions ---- */

void sim_device_emit(sim_device *d, sim_usec at, sim_usec reconnect_at, sim_mode mode,
                     bool fresh) {
    d->transition = (sim_transition) { .at = at, .reconnect_at = reconnect_at, .mode = mode };
    d->has_transition = true;
    d->fresh_on_connect = fresh;
    d->mode = SIM_MODE_OFF;
}

void sim_device_usb_reset(sim_device *d, sim_usec now) {
    sim_mode mode = d->mode;

    if (mode == SIM_MODE_OFF)
        return;
    d->counters.resets++;
    sim_device_emit(d, now, now + SIM_REENUM_US, mode, false);
}

void sim_device_set_power(sim_device *d, bool on, sim_usec now) {
    if (!on) {
        if (!d->powered)
            return;
        d->powered = false;
        d->vanished = false;
        d->busy_until = now;
        sim_device_emit(d, now, 0, SIM_MODE_OFF, false);
        return;
    }
    if (d->powered)
        return;
    d->powered = true;
    d->counters.power_cycles++;
    d->busy_until = now;
    sim_device_emit(d, now, now + SIM_BOOT_US, sim_device_cold_boot_mode(d), true);
}

bool sim_device_take_transition(sim_device *d, sim_transition *ret) {
    if (!d->has_transition)
        return false;
    *ret = d->transition;
    d->has_transition = false;
    return true;
}

void sim_device_connected(sim_device *d, sim_mode mode, sim_usec now) {
    if (mode == SIM_MODE_OFF) {
        d->mode = SIM_MODE_OFF;
        return;
    }
    if (!d->powered || d->vanished)
        return; /* cannot come back by itself */
    d->busy_until = MAX(d->busy_until, now);
    appear(d, mode, d->fresh_on_connect);
    d->fresh_on_connect = false;
}

/* ---- changes at run time (control socket, scenario events) ---- */

static bool runtime_key(const char *key) {
    static const char *const keys[] = {
        "unplug-at", "write-error-at", "stall-status", "slow-erase", "rdp", "leave", "enter",
        "leave-delay",
        "erase-error-at", "stuck-bit-at", "timeout-status", "power-loss-at-erase", "fault-times",
        "start-error",
        "vid", "pid", "app-vid", "app-pid", "serial", "app-serial", "product",
    };
    for (size_t i = 0; i < ELEMENTSOF(keys); i++)
        if (streq(key, keys[i]))
            return true;
    return false;
}

static void apply_rdp(sim_device *d, bool rdp) {
    const sim_profile *p = d->profile;
    const uint8_t *ob = rdp ? p->option_bytes_rdp1 : p->alts[0].init;

    d->rdp = rdp;
    if (ob && d->mem.alt_mem[1])
        memcpy(d->mem.alt_mem[1], ob, p->alts[0].size);
}

int sim_device_set(sim_device *d, const char *key, const char *value, sim_usec now, char *err,
                   size_t err_size) {
    sim_device_config c = d->config;
    int r;

    (void) now;
    if (!key || !runtime_key(key)) {
        if (err && err_size > 0)
            snprintf(err, err_size, "'%s' cannot be changed on a running device", strna(key));
        return -EINVAL;
    }
    r = sim_device_config_set(&c, key, value, err, err_size);
    if (r < 0)
        return r;
    d->config = c;
    if (streq(key, "unplug-at")) {
        d->unplug_done = false;
        d->unplug_base = d->counters.bytes_written;
    } else if (streq(key, "write-error-at")) {
        d->write_error_done = false;
        d->data_blocks_base = d->data_blocks;
    } else if (streq(key, "stall-status"))
        d->stalls_left = c.stall_status;
    else if (streq(key, "timeout-status"))
        d->timeouts_left = c.timeout_status;
    else if (streq(key, "erase-error-at") || streq(key, "power-loss-at-erase")) {
        d->erase_fault_page = -1;
        d->erase_hits = 0;
        d->power_loss_done = false;
        d->erases_base = d->erases;
    } else if (streq(key, "stuck-bit-at"))
        d->stuck_hits = 0;
    else if (streq(key, "rdp"))
        apply_rdp(d, c.rdp);
    else if (streq(key, "leave"))
        d->stuck_left = c.stuck_count;
    else if (streq(key, "serial") || streq(key, "app-serial"))
        strcpy(d->app_serial, c.app_serial);
    return 0;
}

/* ---- report and inspection ---- */

const sim_counters *sim_device_counters(const sim_device *d) {
    return &d->counters;
}

const uint8_t *sim_device_flash(const sim_device *d, size_t *size) {
    *size = d->mem.flash_size;
    return d->mem.flash;
}

sim_usec sim_device_floor_us(const sim_device *d) {
    return d->counters.busy_us + d->counters.transfer_us;
}

sim_dfu_state sim_device_dfu_state(const sim_device *d) {
    return d->mode == SIM_MODE_APPLICATION ? SIM_DFU_APP_IDLE : d->dfu.state;
}

sim_dfu_status sim_device_dfu_status(const sim_device *d) {
    return d->mode == SIM_MODE_APPLICATION ? SIM_DFU_OK : d->dfu.status;
}

uint32_t sim_device_dfu_address(const sim_device *d) {
    return d->dfu.address;
}

unsigned sim_device_alt_setting(const sim_device *d) {
    return d->dfu.alt;
}

sim_usec sim_device_busy_until(const sim_device *d) {
    return d->busy_until;
}

bool sim_device_powered(const sim_device *d) {
    return d->powered;
}

bool sim_device_read_protected(const sim_device *d) {
    return d->rdp;
}

const char *sim_dfu_state_name(sim_dfu_state s) {
    static const char *const names[] = {
        "appIDLE", "appDETACH", "dfuIDLE", "dfuDNLOAD-SYNC", "dfuDNBUSY", "dfuDNLOAD-IDLE",
        "dfuMANIFEST-SYNC", "dfuMANIFEST", "dfuMANIFEST-WAIT-RESET", "dfuUPLOAD-IDLE",
        "dfuERROR",
    };
    return (unsigned) s < ELEMENTSOF(names) ? names[s] : "unknown";
}

const char *sim_dfu_status_name(sim_dfu_status s) {
    static const char *const names[] = {
        "OK", "errTARGET", "errFILE", "errWRITE", "errERASE", "errCHECK_ERASED", "errPROG",
        "errVERIFY", "errADDRESS", "errNOTDONE", "errFIRMWARE", "errVENDOR", "errUSBR",
        "errPOR", "errUNKNOWN", "errSTALLEDPKT",
    };
    return (unsigned) s < ELEMENTSOF(names) ? names[s] : "unknown";
}
