/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The STM32 device model of stdfu-sim: transport independent, plain C, no GLib.
 *
 * A sim_device is one STM32 on one USB port. It is either off (no power, or vanished), running
 * the ROM DfuSe bootloader (0483:df11) or running the HID application that is in its flash.
 * Front-ends (umockdev today, FunctionFS later) feed it USB control requests, hidraw calls,
 * port power and resets, and turn its transitions into disconnect/connect events.
 *
 * Time is an argument (microseconds of CLOCK_MONOTONIC) so that the model is deterministic and
 * can be unit tested without sleeping. The model never sleeps and never blocks.
 *
 * Not thread-safe: the front-end serialises all calls into one device.
 *
 * This header is the contract between tests/sim/model/ and the front-ends in tests/sim/umock/
 * and tests/sim/main.c. Extend it compatibly.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint64_t sim_usec;

typedef enum sim_mode {
    SIM_MODE_OFF,         /* not on the bus */
    SIM_MODE_APPLICATION, /* HID application (or DFU runtime) */
    SIM_MODE_BOOTLOADER,  /* ROM DfuSe */
} sim_mode;

typedef enum sim_leave {
    SIM_LEAVE_OK,       /* back as the application */
    SIM_LEAVE_STUCK,    /* back as the bootloader (stuck_count times, then ok) */
    SIM_LEAVE_VANISH,   /* gone until the port's power is cycled */
    SIM_LEAVE_WATCHDOG, /* gone, cold-boots after watchdog_ms */
} sim_leave;

typedef enum sim_enter {
    SIM_ENTER_ST_HID_DETACH, /* feature report 0x80 in usage page 0xFF00, [0x80, 0x55, 0...] */
    SIM_ENTER_HID_FEATURE,   /* custom feature report bytes (enter_bytes) */
    SIM_ENTER_HID_OUTPUT,    /* custom output report bytes (enter_bytes) */
    SIM_ENTER_DFU_RUNTIME,   /* DFU runtime interface, DFU_DETACH */
} sim_enter;

typedef struct sim_profile sim_profile; /* f072, f407, l476: see profile.c */

/* Everything a --device SPEC can say. Defaults from sim_device_config_init(). */
typedef struct sim_device_config {
    char port[32];               /* "1-1.2"; "" (the default) when no port= was given */
    const sim_profile *profile;  /* default f072 */
    sim_mode initial_mode;       /* APPLICATION (default) boots from flash, BOOTLOADER forces ROM */
    unsigned version_major;      /* firmware pre-loaded into flash (default 1.0), made like mkfw */
    unsigned version_minor;
    bool blank;                  /* flash erased instead: comes up in the bootloader */
    char flash_file[512];        /* flash=FILE: flash erased, then FILE's contents (.bin at
                                  * the start of flash, .hex, .dfu); "" for none */
    uint16_t app_vid, app_pid;   /* default 0483:5750 */
    char app_serial[32];         /* default derived from the port */
    char app_product[64];        /* application's product string ("product=" key); default
                                  * "" = "STM32 Custom Human interface" */
    sim_enter enter;
    uint8_t enter_bytes[64];     /* for HID_FEATURE / HID_OUTPUT: the report that jumps */
    size_t enter_len;
    sim_leave leave;
    unsigned stuck_count;        /* SIM_LEAVE_STUCK: leaves that come back stuck (default 1) */
    unsigned watchdog_ms;        /* SIM_LEAVE_WATCHDOG */
    unsigned leave_delay_ms;     /* the GETSTATUS that makes the ROM leave answers this much
                                  * later (a slow manifestation); it leaves the bus then */
    /* faults (0 = none) */
    uint64_t unplug_at;          /* disconnect once this many bytes were written */
    unsigned write_error_at;     /* data DNLOAD that fails with errWRITE, once: N >= 2 is the
                                  * (N-1)th data block, i.e. block N when numbered from 2
                                  * (dfu-util sends every chunk as block 2) */
    unsigned stall_status;       /* stall this many GETSTATUS requests, once each */
    double slow_erase;           /* erase time factor (default 1.0) */
    bool rdp;                    /* read protection level 1: upload/write fail with errVENDOR */
    /* faults added for the fault matrix (0 = none) */
    unsigned erase_error_at;     /* the Nth page erase fails with errERASE, page untouched */
    uint32_t stuck_bit_at;       /* flash address with a bit that does not program (stays 1):
                                  * F0/L4 say nothing (the host's verify finds it), the F4 ROM
                                  * reads back and reports errVERIFY */
    bool has_stuck_bit;
    unsigned timeout_status;     /* the next N GETSTATUS requests never answer */
    bool start_error;            /* the ROM starts in dfuERROR/errFIRMWARE until CLRSTATUS
                                  * (F4 profiles always do) */
    unsigned power_loss_at_erase; /* power lost during the Nth page erase: the first half of
                                  * the page erased, the rest as it was; the device is off
                                  * until powered again, then boots cold */
    unsigned protect_pages;      /* the first N flash pages are write-protected: the layout
                                  * string marks them 'a' (readable only) and the ROM refuses
                                  * to erase or program them (errTARGET) */
    unsigned fault_times;        /* how often erase-error-at, write-error-at and stuck-bit-at
                                  * strike the same page/block/byte again: 1 (default,
                                  * transient), N, or 0 = always (persistent) */
} sim_device_config;

typedef struct sim_counters {
    unsigned enumerations;   /* times it appeared on the bus, either mode */
    unsigned leaves;         /* zero-length DNLOAD + GETSTATUS completed */
    unsigned resets;         /* USB port resets */
    unsigned power_cycles;   /* port power off -> on */
    unsigned boots;          /* application starts */
    uint64_t bytes_written;  /* DNLOAD payload bytes programmed */
    uint64_t bytes_read;     /* UPLOAD payload bytes */
    unsigned *erases_per_page; /* one counter per flash page/sector, n_pages of them */
    unsigned n_pages;
    sim_usec busy_us;        /* sum of modelled device busy time (erase, program) */
    sim_usec transfer_us;    /* sum of modelled transfer time (1 ms + 1 us/byte each) */
} sim_counters;

/* A transition the front-end must carry out: at `at`, take the device off the bus (if on it)
 * and, unless mode is SIM_MODE_OFF, bring it back in `mode` at `reconnect_at`. */
typedef struct sim_transition {
    sim_usec at;
    sim_usec reconnect_at;
    sim_mode mode;
} sim_transition;

typedef struct sim_setup {
    uint8_t bmRequestType;
    uint8_t bRequest;
    uint16_t wValue;
    uint16_t wIndex;
    uint16_t wLength;
} sim_setup;

typedef struct sim_device sim_device;

/* ---- profiles --------------------------------------------------------------------------- */
const sim_profile *sim_profile_find(const char *name);        /* NULL if unknown */
const char *sim_profile_name(const sim_profile *p);
const char *const *sim_profile_names(void);                   /* NULL-terminated */
uint32_t sim_profile_flash_base(const sim_profile *p);
uint32_t sim_profile_flash_size(const sim_profile *p);

/* ---- configuration ---------------------------------------------------------------------- */
void sim_device_config_init(sim_device_config *c);
/* Parses one "key=value" of a --device SPEC (or a scenario entry) into c. Returns 0, or
 * -EINVAL with a message for the user in err (e.g. "unknown profile 'f999'"). */
int sim_device_config_set(sim_device_config *c, const char *key, const char *value,
                          char *err, size_t err_size);

/* ---- lifetime ---------------------------------------------------------------------------- */
/* Creates the device, powered, in its initial mode at time now. */
int sim_device_new(const sim_device_config *c, sim_usec now, sim_device **ret);
sim_device *sim_device_free(sim_device *d);
const sim_device_config *sim_device_get_config(const sim_device *d);

sim_mode sim_device_mode(const sim_device *d);
/* The version the application reports (bcdDevice), 0 when no valid image is in flash. */
uint16_t sim_device_app_bcd(const sim_device *d);
bool sim_device_app_version(const sim_device *d, unsigned *major, unsigned *minor);

/* ---- descriptors of the current mode (APPLICATION or BOOTLOADER) ------------------------- */
const uint8_t *sim_device_device_descriptor(const sim_device *d);            /* 18 bytes */
const uint8_t *sim_device_config_descriptor(const sim_device *d, size_t *len);
/* String descriptor index -> UTF-8 text; NULL if none. */
const char *sim_device_string(const sim_device *d, unsigned index);
const char *sim_device_serial(const sim_device *d);
const uint8_t *sim_device_hid_report_descriptor(const sim_device *d, size_t *len); /* NULL if none */

/* ---- USB --------------------------------------------------------------------------------- */
/* One control transfer at time now. For OUT, data holds the wLength payload; for IN the model
 * fills up to wLength bytes. Returns the data stage length, or -EPIPE for a stall. *ready_at is
 * when the transfer completes on the bus (>= now + modelled transfer and busy time). */
int sim_device_control(sim_device *d, const sim_setup *setup, uint8_t *data, sim_usec now,
                       sim_usec *ready_at);
void sim_device_usb_reset(sim_device *d, sim_usec now);

/* ---- hidraw (application mode) ----------------------------------------------------------- */
/* HIDIOCSFEATURE / HIDIOCGFEATURE / write(). data[0] is the report ID. Return the length or
 * a negative errno. */
int sim_device_hid_set_feature(sim_device *d, const uint8_t *data, size_t len, sim_usec now);
int sim_device_hid_get_feature(sim_device *d, uint8_t *data, size_t len, sim_usec now);
int sim_device_hid_output(sim_device *d, const uint8_t *data, size_t len, sim_usec now);

/* ---- power, plug and transitions --------------------------------------------------------- */
/* Port power off/on (hub PORT_POWER, or the control socket). On: cold boot from flash. */
void sim_device_set_power(sim_device *d, bool on, sim_usec now);
/* Pending transition, if any (the front-end polls after every call into the device). Taking
 * it clears it; the front-end reports back with sim_device_connected() once carried out. */
bool sim_device_take_transition(sim_device *d, sim_transition *ret);
void sim_device_connected(sim_device *d, sim_mode mode, sim_usec now);

/* ---- report ------------------------------------------------------------------------------ */
const sim_counters *sim_device_counters(const sim_device *d);
const uint8_t *sim_device_flash(const sim_device *d, size_t *size);
/* busy + transfer time: what a perfect host could have reached. */
sim_usec sim_device_floor_us(const sim_device *d);

/* ---- hub at 1-1 -------------------------------------------------------------------------- */
typedef enum sim_hub_kind {
    SIM_HUB_NONE,
    SIM_HUB_PPPS,   /* per-port power switching */
    SIM_HUB_GANGED, /* PORT_POWER requests are accepted but switch nothing */
} sim_hub_kind;

typedef struct sim_hub sim_hub;
#define SIM_HUB_PORTS 7

int sim_hub_new(sim_hub_kind kind, sim_hub **ret);
sim_hub *sim_hub_free(sim_hub *h);
sim_hub_kind sim_hub_get_kind(const sim_hub *h);
const uint8_t *sim_hub_device_descriptor(const sim_hub *h);
const uint8_t *sim_hub_config_descriptor(const sim_hub *h, size_t *len);
const char *sim_hub_string(const sim_hub *h, unsigned index);
/* Attaches a device to downstream port 1..SIM_HUB_PORTS (hub-relative; "1-1.3" is port 3).
 * d = NULL detaches whatever is on that port (cable pulled): PORT_POWER then reaches nobody. */
void sim_hub_attach(sim_hub *h, unsigned port, sim_device *d);
/* Hub class and standard requests on the hub's own usbfs node. Port power changes are applied
 * to the attached device at once (sim_device_set_power). */
int sim_hub_control(sim_hub *h, const sim_setup *setup, uint8_t *data, sim_usec now,
                    sim_usec *ready_at);

/* ---- firmware images made by `stdfu-sim mkfw` --------------------------------------------- */
/* The application finds its header at image offset SIM_FW_HEADER_OFFSET (after the vector
 * table): magic "SFW1", version major/minor, total image length, CRC-32 (zlib) of the image
 * with the crc field read as zero. A bad or missing header: the device boots the ROM.
 *
 * Header bytes at SIM_FW_HEADER_OFFSET, little endian:
 *   0..3   magic "SFW1"
 *   4      u8  version major (0..99, BCD-encoded into bcdDevice)
 *   5      u8  version minor (0..99)
 *   6..7   u16 header format, 1
 *   8..11  u32 image length in bytes (from offset 0, includes the header)
 *   12..15 u32 zlib crc32() of image[0..length) with bytes 12..15 read as zero
 * Offset 0 holds a plausible Cortex-M vector table: initial SP 0x20004000 (in SRAM on every
 * profile), reset vector = base + 0x211 (code right after the header, thumb bit set), all
 * other vectors point at a default handler in flash (thumb bit set). */
#define SIM_FW_HEADER_OFFSET 0x200u
#define SIM_FW_HEADER_SIZE 16u
#define SIM_FW_MAGIC "SFW1"

/* Fills buf (size bytes, size >= SIM_FW_HEADER_OFFSET + SIM_FW_HEADER_SIZE) with a valid
 * application image of that version: vector table, header, pseudo-random code from seed. */
int sim_fw_make(uint8_t *buf, size_t size, unsigned major, unsigned minor, uint32_t seed);
/* Validates a header in flash/image contents; returns true and the version when valid. */
bool sim_fw_check(const uint8_t *image, size_t size, unsigned *major, unsigned *minor);
/* bcdDevice of a version: BCD of major (high byte) and minor (low byte), 1.2 -> 0x0102. */
uint16_t sim_fw_bcd(unsigned major, unsigned minor);

/* ==== extensions (added compatibly after the first version of this contract) ============== */

/* Firmware image for a base other than 0x08000000 (the vector table points into base). */
int sim_fw_make_at(uint8_t *buf, size_t size, unsigned major, unsigned minor, uint32_t seed,
                   uint32_t base);

/* A whole --device SPEC, "key=value,key=value". Returns 0 or -EINVAL with err filled. */
int sim_device_config_parse(sim_device_config *c, const char *spec, char *err, size_t err_size);

/* Changes one spec key on a live device (control socket `fault PORT KEY=VALUE`, scenario
 * events). Run-time keys: unplug-at (counted from the bytes written so far), write-error-at,
 * stall-status (each re-armed), slow-erase, rdp (read protection and option bytes at once),
 * erase-error-at, stuck-bit-at, timeout-status, power-loss-at-erase, fault-times (each
 * re-armed), start-error (from the ROM's next start),
 * leave (re-arms stuck:N), leave-delay, and enter, vid, pid, serial, product, which the application shows from its
 * next enumeration on. Other keys (port, profile, mode, version, blank) return -EINVAL with a
 * message in err. */
int sim_device_set(sim_device *d, const char *key, const char *value, sim_usec now, char *err,
                   size_t err_size);

/* Notes for front-ends:
 * - sim_device_new() counts the first enumeration (and boot): do not call
 *   sim_device_connected() for the initial appearance, only after a sim_transition.
 * - usbfs SETINTERFACE (libusb_set_interface_alt_setting) must be passed to
 *   sim_device_control() as the standard request SET_INTERFACE (bmRequestType 0x01,
 *   bRequest 11, wValue alt, wIndex interface): the ROM selects the memory by alt setting.
 * - Control requests to a device that is off return -ENODEV.
 * - A transition's reconnect is SIM_REENUM_US after its disconnect (USB attach debounce plus
 *   the firmware's USB start-up), except watchdog:MS (MS after) and power-on (SIM_BOOT_US). */
#define SIM_REENUM_US 100000u
#define SIM_BOOT_US 100000u

/* DFU 1.1 states and statuses, as reported by DFU_GETSTATUS / DFU_GETSTATE. */
typedef enum sim_dfu_state {
    SIM_DFU_APP_IDLE = 0,
    SIM_DFU_APP_DETACH = 1,
    SIM_DFU_IDLE = 2,
    SIM_DFU_DNLOAD_SYNC = 3,
    SIM_DFU_DNBUSY = 4,
    SIM_DFU_DNLOAD_IDLE = 5,
    SIM_DFU_MANIFEST_SYNC = 6,
    SIM_DFU_MANIFEST = 7,
    SIM_DFU_MANIFEST_WAIT_RESET = 8,
    SIM_DFU_UPLOAD_IDLE = 9,
    SIM_DFU_ERROR = 10,
} sim_dfu_state;

typedef enum sim_dfu_status {
    SIM_DFU_OK = 0x00,
    SIM_DFU_ERR_TARGET = 0x01,
    SIM_DFU_ERR_FILE = 0x02,
    SIM_DFU_ERR_WRITE = 0x03,
    SIM_DFU_ERR_ERASE = 0x04,
    SIM_DFU_ERR_CHECK_ERASED = 0x05,
    SIM_DFU_ERR_PROG = 0x06,
    SIM_DFU_ERR_VERIFY = 0x07,
    SIM_DFU_ERR_ADDRESS = 0x08,
    SIM_DFU_ERR_NOTDONE = 0x09,
    SIM_DFU_ERR_FIRMWARE = 0x0a,
    SIM_DFU_ERR_VENDOR = 0x0b,
    SIM_DFU_ERR_USBR = 0x0c,
    SIM_DFU_ERR_POR = 0x0d,
    SIM_DFU_ERR_UNKNOWN = 0x0e,
    SIM_DFU_ERR_STALLEDPKT = 0x0f,
} sim_dfu_status;

const char *sim_dfu_state_name(sim_dfu_state s);   /* "dfuDNBUSY" */
const char *sim_dfu_status_name(sim_dfu_status s); /* "errTARGET" */

/* The bootloader's DFU state machine, for tests and the report. */
sim_dfu_state sim_device_dfu_state(const sim_device *d);
sim_dfu_status sim_device_dfu_status(const sim_device *d);
uint32_t sim_device_dfu_address(const sim_device *d); /* the DfuSe address pointer */
unsigned sim_device_alt_setting(const sim_device *d);
/* When the device's current operation (erase, program) ends; control requests before that
 * complete only then. */
sim_usec sim_device_busy_until(const sim_device *d);
/* Port power as the device sees it (false after unplug-at or set_power(off)). */
bool sim_device_powered(const sim_device *d);
/* Read protection level 1 active (rdp=1 until read unprotect). */
bool sim_device_read_protected(const sim_device *d);

/* Application input reports: an ordinary output report (ID 1) is echoed back as an input
 * report (ID 1), as a loopback HID device does. Copies the oldest pending input report into
 * buf and returns its length, 0 when none is pending, -ENOBUFS if size is too small. */
int sim_device_hid_read(sim_device *d, uint8_t *buf, size_t size);
bool sim_device_hid_input_pending(const sim_device *d);
#define SIM_HID_REPORT_SIZE 64u /* input/output reports: report ID 1 + 63 bytes */

/* Hub inspection (report, control socket). Ports are 1..SIM_HUB_PORTS. */
sim_device *sim_hub_port_device(const sim_hub *h, unsigned port);
bool sim_hub_port_powered(const sim_hub *h, unsigned port);
