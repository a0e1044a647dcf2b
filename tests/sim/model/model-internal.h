/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Private to tests/sim/model: the structures behind the opaque types of model.h and the
 * functions the model's files share. Front-ends use model.h only. */

#include "model/model.h"

#define SIM_FLASH_ERASED 0xffu
#define SIM_MAX_SECTOR_GROUPS 4
#define SIM_MAX_ALTS 4
#define SIM_DFU_TRANSFER_SIZE 2048u
#define SIM_DESC_MAX 256

/* How a family's flash reacts to programming a cell that is not erased. */
typedef enum sim_flash_rule {
    SIM_FLASH_RULE_F0, /* half-word; PGERR unless erased or writing 0x0000 (RM0091 3.2.2) */
    SIM_FLASH_RULE_F4, /* word (x32); bits only go 1 -> 0, the ROM's verify catches it */
    SIM_FLASH_RULE_L4, /* double word; PROGERR unless erased or all zeros (RM0351 3.3.7) */
} sim_flash_rule;

typedef struct sim_sector_group {
    unsigned count;
    uint32_t size;
    sim_usec erase_us; /* datasheet typical sector/page erase time */
} sim_sector_group;

/* An alt setting other than the internal flash: option bytes, OTP, device feature. */
typedef struct sim_alt_region {
    const char *layout; /* DfuSe string descriptor exactly as the ROM has it */
    uint32_t base;
    uint32_t size;
    const uint8_t *init; /* size bytes of reset contents, NULL for all 0xff */
    bool clear_bits_only; /* OTP: programming can only clear bits */
} sim_alt_region;

struct sim_profile {
    const char *name;
    const char *flash_layout; /* alt 0 */
    uint32_t flash_base;
    sim_sector_group groups[SIM_MAX_SECTOR_GROUPS];
    unsigned n_groups;
    sim_flash_rule rule;
    unsigned program_unit;   /* bytes programmed at once */
    unsigned program_ns;     /* time per unit, datasheet typical */
    sim_usec mass_erase_us;
    sim_alt_region alts[SIM_MAX_ALTS - 1]; /* alt settings 1.. */
    unsigned n_extra_alts;
    const uint8_t *option_bytes_rdp1; /* alt 1 contents when rdp=1 */
    unsigned rdp_offset;      /* RDP byte in the option bytes; 0xAA there means level 0 */
    bool fixed_serial;        /* every unit says FFFFFFFEFFFF (F0 ROM) */
    bool starts_in_error;     /* ROM starts in dfuERROR/errFIRMWARE (F4) */
    int set_address_poll_ms;  /* bwPollTimeout reported after Set Address; -1: real time */
    int mass_erase_poll_ms;   /* bwPollTimeout reported for mass erase; -1: real time */
};

/* ---- profile.c ---- */
/* Whether [addr, addr + len) touches one of the first protect pages of flash. */
bool sim_profile_protected(const sim_profile *p, unsigned protect, uint32_t addr, uint32_t len);
/* The alt 0 layout string with the first protect pages marked read-only ('a'). */
void sim_profile_protected_layout(const sim_profile *p, unsigned protect, char *buf,
                                  size_t size);
unsigned sim_profile_n_pages(const sim_profile *p);
/* Page index of a flash address, -1 outside the flash. */
int sim_profile_page_of(const sim_profile *p, uint32_t addr);
uint32_t sim_profile_page_start(const sim_profile *p, unsigned page);
uint32_t sim_profile_page_size(const sim_profile *p, unsigned page);
sim_usec sim_profile_page_erase_us(const sim_profile *p, unsigned page);
/* Time to program len bytes starting at addr (whole program units). */
sim_usec sim_profile_program_us(const sim_profile *p, uint32_t addr, size_t len);

/* ---- flash.c: the flash array and the alt regions ---- */
typedef struct sim_memory {
    const sim_profile *profile;
    uint8_t *flash;
    size_t flash_size;
    uint8_t *alt_mem[SIM_MAX_ALTS]; /* [0] unused */
    uint64_t generation;            /* bumped on every change of flash */
} sim_memory;

int sim_memory_init(sim_memory *m, const sim_profile *p);
void sim_memory_done(sim_memory *m);
/* Region of an alt setting: base/size, NULL mem if alt is out of range. */
uint8_t *sim_memory_region(sim_memory *m, unsigned alt, uint32_t *base, uint32_t *size);
bool sim_memory_contains(sim_memory *m, unsigned alt, uint32_t addr, uint32_t len);
void sim_memory_erase_page(sim_memory *m, unsigned page);
/* flash=FILE (flash-file.c): FILE's bytes (.bin at base, .hex, .dfu alt 0) into flash (size
 * bytes at base; NULL to only check the file). -EINVAL with err a sentence naming the file. */
int sim_flash_file_load(const char *path, uint8_t *flash, size_t size, uint32_t base,
                        char *err, size_t err_size);
void sim_memory_erase_all(sim_memory *m);
/* Programs data at addr of alt. Returns SIM_DFU_OK or the status the ROM reports;
 * *programmed is the number of bytes that reached the cells. */
sim_dfu_status sim_memory_program(sim_memory *m, unsigned alt, uint32_t addr,
                                  const uint8_t *data, size_t len, size_t *programmed);

/* ---- descriptors (desc.c) ---- */
typedef struct sim_descs {
    uint8_t device[18];
    uint8_t config[SIM_DESC_MAX];
    size_t config_len;
    uint8_t report[SIM_DESC_MAX];
    size_t report_len;
} sim_descs;

/* String descriptor `index` (0: the language IDs, en-US) holding s as UTF-16LE (the model's
 * strings are ASCII), at most max bytes of it; -EPIPE (a stall) when s is NULL. */
int sim_string_descriptor(uint8_t index, const char *s, uint8_t *out, size_t max);

/* ---- device ---- */
typedef struct sim_dfu {
    sim_dfu_state state;
    sim_dfu_status status;
    unsigned alt;
    uint32_t address;
    /* the latched DNLOAD, executed on the next GETSTATUS */
    uint16_t block;
    uint16_t length;
    uint8_t buf[SIM_DFU_TRANSFER_SIZE];
    bool pending;
    unsigned poll_ms; /* bwPollTimeout of the last GETSTATUS */
} sim_dfu;

#define SIM_HID_QUEUE 8

struct sim_device {
    sim_device_config config;
    const sim_profile *profile;
    sim_memory mem;
    sim_mode mode;
    bool powered;
    bool vanished;
    char boot_serial[16];
    char app_serial[32];
    uint8_t configuration;
    sim_descs boot_descs;
    sim_descs app_descs;
    uint64_t app_generation; /* flash generation app_valid was computed for */
    bool app_valid;
    unsigned app_major, app_minor;
    sim_dfu dfu;
    sim_usec busy_until;
    unsigned stuck_left;
    unsigned stalls_left;
    bool write_error_done;
    uint64_t data_blocks;      /* data DNLOADs executed (block >= 2) */
    uint64_t data_blocks_base; /* data_blocks when write-error-at was armed */
    bool unplug_done;
    uint64_t unplug_base;  /* bytes_written when unplug-at was armed */
    bool rdp;
    /* erase-error-at, write-error-at, stuck-bit-at: how often each struck (fault-times) and
     * where (a repeat strikes the same page or block address again) */
    uint64_t erases;             /* page erases run */
    uint64_t erases_base;        /* erases when erase-error-at / power-loss-at-erase was armed */
    unsigned erase_hits, write_hits, stuck_hits;
    int erase_fault_page;        /* -1: not struck yet */
    uint32_t write_fault_addr;
    bool power_loss_done;
    unsigned timeouts_left;
    char flash_layout[256];      /* alt 0's string with protected pages marked 'a' */
    sim_transition transition;
    bool has_transition;
    bool fresh_on_connect; /* the pending reconnect starts the firmware (app or ROM) anew */
    uint8_t hid_queue[SIM_HID_QUEUE][SIM_HID_REPORT_SIZE];
    unsigned hid_head, hid_count;
    sim_counters counters;
};

/* device.c */
/* Books one control transfer that starts at start and moves len data bytes, after which the
 * device is busy for op_us: returns when the transfer completes. */
sim_usec sim_device_account(sim_device *d, sim_usec start, size_t len, sim_usec op_us);
/* Takes the device off the bus now (mode OFF) and records the transition for the front-end.
 * fresh: the reconnect is a firmware start (counts a boot; the ROM starts anew), not a mere
 * USB re-enumeration. */
void sim_device_emit(sim_device *d, sim_usec at, sim_usec reconnect_at, sim_mode mode,
                     bool fresh);
/* The mode a cold boot ends in: the application if a valid image is in flash. */
sim_mode sim_device_cold_boot_mode(sim_device *d);
void sim_device_build_descriptors(sim_device *d);

/* dfuse.c: class requests on the bootloader's DFU interface */
void sim_dfuse_reset(sim_device *d, bool rom_start);
int sim_dfuse_request(sim_device *d, const sim_setup *s, uint8_t *data, sim_usec start,
                      sim_usec *ready_at);

/* app.c: the application's HID interface and DFU runtime interface */
int sim_app_request(sim_device *d, const sim_setup *s, uint8_t *data, sim_usec start,
                    sim_usec *ready_at);
void sim_app_descriptors(sim_device *d, sim_descs *out);
void sim_boot_descriptors(sim_device *d, sim_descs *out);

/* Shared helpers */
uint32_t sim_hash_str(const char *s, uint32_t seed);
static inline void sim_put_le16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t) v;
    p[1] = (uint8_t) (v >> 8);
}
static inline void sim_put_le32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t) v;
    p[1] = (uint8_t) (v >> 8);
    p[2] = (uint8_t) (v >> 16);
    p[3] = (uint8_t) (v >> 24);
}
static inline uint32_t sim_get_le32(const uint8_t *p) {
    return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 |
           (uint32_t) p[3] << 24;
}
/* Cost of one control transfer on the bus: 1 ms plus 1 us per data byte. */
static inline sim_usec sim_transfer_cost(size_t bytes) {
    return 1000 + (sim_usec) bytes;
}
