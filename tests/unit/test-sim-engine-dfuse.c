/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The DfuSe engine (lib/dfuse) against the emulator's device model, through a transport that
 * calls the model directly on a fake clock: protocol, speed by design, errors, faults. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dfuse/dfuse.h"
#include "helpers/sim-transport.h"

#define BASE 0x08000000u
#define T0 (1 * USEC_PER_SEC)

typedef struct fixture {
    sim_link link;
    stdfu_dfuse *s;
    uint8_t *fw;
    size_t fw_size;
    stdfu_element element;
    stdfu_target target;
    stdfu_error err;
} fixture;

/* A device from spec, a session on it, and an application image of size bytes (version 3.1). */
static void setup_fixture(fixture *f, const char *spec, size_t size) {
    stdfu_transport *t = NULL;

    memset(f, 0, sizeof *f);
    f->link.dev = sim_link_device(spec, T0);
    f->link.clock = T0;
    assert_int_equal(sim_link_transport(&f->link, &t), 0);
    assert_int_equal(stdfu_dfuse_open(t, NULL, &f->s, &f->err), 0);
    f->fw_size = size;
    f->fw = malloc(size);
    assert_non_null(f->fw);
    assert_int_equal(sim_fw_make(f->fw, size, 3, 1, 7), 0);
    f->element = (stdfu_element) { .address = BASE, .size = (uint32_t) size, .data = f->fw };
    f->target = (stdfu_target) { .alt = 0, .elements = &f->element, .n_elements = 1 };
}

static void teardown_fixture(fixture *f) {
    stdfu_dfuse_free(f->s);
    assert_true(f->link.closed);
    sim_device_free(f->link.dev);
    free(f->fw);
}

static void reset_stats(fixture *f) {
    memset(&f->link.stats, 0, sizeof f->link.stats);
}

/* Pages erased exactly once for [BASE, BASE + size) and never elsewhere. */
static void assert_erased_only(fixture *f, size_t size) {
    const sim_counters *c = sim_device_counters(f->link.dev);
    uint32_t addr = BASE;
    unsigned touched = 0;

    for (unsigned p = 0; p < c->n_pages; p++) {
        /* page sizes: walk the layout the engine saw */
        uint32_t start, psize;
        assert_int_equal(stdfu_layout_sector(stdfu_dfuse_layout(f->s), addr, &start, &psize,
                                             NULL), 0);
        bool in = start < BASE + size;
        assert_int_equal(c->erases_per_page[p], in ? 1 : 0);
        touched += in;
        addr = start + psize;
    }
    assert_true(touched > 0);
}

static void flash_and_leave(const char *profile, size_t size, unsigned expect_pages) {
    char spec[128];
    fixture f;
    size_t flash_size = 0;
    const uint8_t *flash;
    unsigned major = 0, minor = 0;

    snprintf(spec, sizeof spec, "port=1-1.3,profile=%s,mode=bootloader,blank=1", profile);
    setup_fixture(&f, spec, size);
    assert_int_equal(stdfu_dfuse_transfer_size(f.s), 2048);
    assert_non_null(stdfu_dfuse_layout(f.s));
    reset_stats(&f);

    assert_int_equal(stdfu_dfuse_flash_target(f.s, &f.target, NULL, &f.err), 0);

    /* erase only the touched pages, each once */
    assert_erased_only(&f, size);
    assert_int_equal(f.link.stats.erase_cmd, expect_pages);
    assert_int_equal(f.link.stats.mass_erase, 0);
    /* one Set Address for the whole image (size is a multiple of 2048) */
    assert_int_equal(f.link.stats.set_address, 1);
    assert_int_equal(f.link.stats.dnload_data, size / 2048);
    assert_int_equal(f.link.stats.max_dnload_len, 2048);
    assert_int_equal(f.link.stats.min_data_len, 2048);
    /* verify reused the pointer of the write: no second Set Address, full blocks */
    assert_int_equal(f.link.stats.upload, size / 2048);
    /* two GETSTATUS per DNLOAD (the ROM's DNBUSY, then DNLOAD-IDLE), one to start and one
     * more after clearing an error (f407: errFIRMWARE) */
    assert_int_equal(f.link.stats.getstatus, 1 + f.link.stats.clrstatus +
                                                 2 * (f.link.stats.dnload_cmd +
                                                      f.link.stats.dnload_data));
    assert_int_equal(f.link.stats.timeouts, 0);
    /* at most one sleep per operation, never after a Set Address */
    assert_true(f.link.stats.sleeps <= f.link.stats.dnload_cmd + f.link.stats.dnload_data -
                                           f.link.stats.set_address);

    flash = sim_device_flash(f.link.dev, &flash_size);
    assert_true(flash_size >= size);
    assert_memory_equal(flash, f.fw, size);

    /* leave at the image base: the pointer is already there, no Set Address needed */
    reset_stats(&f);
    assert_int_equal(stdfu_dfuse_leave(f.s, BASE, &f.err), 0);
    assert_int_equal(f.link.stats.set_address, 0);
    assert_int_equal(f.link.stats.dnload_zero, 1);
    assert_int_equal(sim_device_counters(f.link.dev)->leaves, 1);
    assert_int_equal(sim_link_follow(&f.link), SIM_MODE_APPLICATION);
    assert_true(sim_device_app_version(f.link.dev, &major, &minor));
    assert_int_equal(major, 3);
    assert_int_equal(minor, 1);
    teardown_fixture(&f);
}

/* What lib/update does: flash without verify, verify, recover, leave. The pointer survives the
 * ABORTs in between: one Set Address in all. */
static void test_update_sequence(void **state) {
    fixture f;
    stdfu_dfuse_flash_options fo = { .no_verify = true };
    (void) state;

    setup_fixture(&f, "port=1-1.3,profile=f407,mode=bootloader,blank=1", 32768);
    reset_stats(&f);
    assert_int_equal(stdfu_dfuse_flash_target(f.s, &f.target, &fo, &f.err), 0);
    assert_int_equal(f.link.stats.upload, 0);
    assert_int_equal(stdfu_dfuse_verify_target(f.s, &f.target, &f.err), 0);
    assert_int_equal(f.link.stats.upload, 16);
    assert_int_equal(stdfu_dfuse_recover(f.s, &f.err), 0);
    assert_int_equal(stdfu_dfuse_leave(f.s, BASE, &f.err), 0);
    assert_int_equal(f.link.stats.set_address, 1);
    assert_int_equal(sim_link_follow(&f.link), SIM_MODE_APPLICATION);
    teardown_fixture(&f);
}

static void test_flash_f072(void **state) {
    (void) state;
    flash_and_leave("f072", 64 * 1024, 32);
}

static void test_flash_f407(void **state) {
    (void) state;
    /* 256 KiB: 4 x 16 KiB + 64 KiB + 128 KiB = 6 sectors */
    flash_and_leave("f407", 256 * 1024, 6);
}

static void test_flash_l476(void **state) {
    (void) state;
    flash_and_leave("l476", 256 * 1024, 128);
}

/* The F4 ROM comes up in dfuERROR/errFIRMWARE: one CLRSTATUS and it is idle. */
static void test_f407_errfirmware_cleared(void **state) {
    fixture f;
    stdfu_dfu_status_reply st;
    (void) state;

    setup_fixture(&f, "port=1-1.3,profile=f407,mode=bootloader,blank=1", 2048);
    assert_int_equal(stdfu_dfuse_get_status(f.s, &st, &f.err), 0);
    assert_int_equal(st.state, STDFU_DFU_ERROR);
    assert_int_equal(st.status, STDFU_DFU_ERR_FIRMWARE);
    reset_stats(&f);
    assert_int_equal(stdfu_dfuse_recover(f.s, &f.err), 0);
    assert_int_equal(f.link.stats.clrstatus, 1);
    assert_int_equal(sim_device_dfu_state(f.link.dev), SIM_DFU_IDLE);
    teardown_fixture(&f);
}

/* The F4 ROM says 104 ms after Set Address; the engine polls again at once. */
static void test_f407_set_address_not_slept(void **state) {
    fixture f;
    (void) state;

    setup_fixture(&f, "port=1-1.3,profile=f407,mode=bootloader,blank=1", 2048);
    assert_int_equal(stdfu_dfuse_recover(f.s, &f.err), 0);
    reset_stats(&f);
    usec_t before = f.link.clock;
    assert_int_equal(stdfu_dfuse_set_address(f.s, BASE + 0x4000, &f.err), 0);
    assert_int_equal(f.link.stats.sleeps, 0);
    assert_int_equal(f.link.stats.getstatus, 2);
    assert_true(f.link.clock - before < 10 * USEC_PER_MSEC);
    assert_int_equal(sim_device_dfu_address(f.link.dev), BASE + 0x4000);
    teardown_fixture(&f);
}

/* A mass erase takes 8 s on the F4 though it reports 100 ms: the engine waits it out. */
static void test_f407_mass_erase_waits(void **state) {
    fixture f;
    const sim_counters *c;
    (void) state;

    setup_fixture(&f, "port=1-1.3,profile=f407,mode=bootloader,version=1.0", 2048);
    assert_int_equal(stdfu_dfuse_recover(f.s, &f.err), 0);
    reset_stats(&f);
    assert_int_equal(stdfu_dfuse_mass_erase(f.s, &f.err), 0);
    assert_int_equal(f.link.stats.mass_erase, 1);
    assert_int_equal(f.link.stats.timeouts, 0);
    c = sim_device_counters(f.link.dev);
    for (unsigned p = 0; p < c->n_pages; p++)
        assert_int_equal(c->erases_per_page[p], 1);
    teardown_fixture(&f);
}

/* A slow erase (5x the datasheet's typical time) is waited for too. */
static void test_slow_erase(void **state) {
    fixture f;
    (void) state;

    setup_fixture(&f, "port=1-1.3,profile=f407,mode=bootloader,blank=1,slow-erase=5",
                  256 * 1024);
    assert_int_equal(stdfu_dfuse_flash_target(f.s, &f.target, NULL, &f.err), 0);
    assert_int_equal(f.link.stats.timeouts, 0);
    teardown_fixture(&f);
}

/* An image that is not a multiple of wTransferSize: the short tail block lands right, as
 * block 4 of the one Set Address (the ROM places it by wTransferSize, not by its length). */
static void test_short_tail(void **state) {
    fixture f;
    size_t flash_size;
    (void) state;

    setup_fixture(&f, "port=1-1.3,profile=f072,mode=bootloader,blank=1", 5000);
    reset_stats(&f);
    assert_int_equal(stdfu_dfuse_flash_target(f.s, &f.target, NULL, &f.err), 0);
    assert_memory_equal(sim_device_flash(f.link.dev, &flash_size), f.fw, 5000);
    assert_int_equal(f.link.stats.min_data_len, 5000 - 4096);
    /* write and verify share one Set Address */
    assert_int_equal(f.link.stats.set_address, 1);
    teardown_fixture(&f);
}

/* Elements that touch form one region; a gap makes two Set Addresses. */
static void test_regions(void **state) {
    fixture f;
    stdfu_element e[3];
    stdfu_target t = { .alt = 0, .elements = e, .n_elements = 3 };
    const uint8_t *flash;
    size_t flash_size;
    (void) state;

    setup_fixture(&f, "port=1-1.3,profile=f072,mode=bootloader,blank=1", 12288);
    e[0] = (stdfu_element) { BASE, 4096, f.fw };
    e[1] = (stdfu_element) { BASE + 4096, 4096, f.fw + 4096 };
    e[2] = (stdfu_element) { BASE + 16384, 4096, f.fw + 8192 };
    reset_stats(&f);
    assert_int_equal(stdfu_dfuse_flash_target(f.s, &t, NULL, &f.err), 0);
    assert_int_equal(f.link.stats.erase_cmd, 6);
    /* one Set Address per region to write and again to verify each (the pointer is at the
     * second region when verify starts with the first) */
    assert_int_equal(f.link.stats.set_address, 4);
    assert_int_equal(f.link.stats.dnload_data, 6);
    flash = sim_device_flash(f.link.dev, &flash_size);
    assert_memory_equal(flash, f.fw, 8192);
    assert_memory_equal(flash + 16384, f.fw + 8192, 4096);
    for (size_t i = 8192; i < 16384; i++)
        assert_int_equal(flash[i], 0xff);
    teardown_fixture(&f);
}

/* A target outside the layout is refused before anything is erased. */
static void test_out_of_layout_refused(void **state) {
    fixture f;
    stdfu_element e;
    stdfu_target t = { .alt = 0, .elements = &e, .n_elements = 1 };
    const sim_counters *c;
    (void) state;

    setup_fixture(&f, "port=1-1.3,profile=f072,mode=bootloader,blank=1", 4096);
    /* f072: 128 KiB; this runs 2 KiB past the end */
    e = (stdfu_element) { BASE + 0x1f800, 4096, f.fw };
    reset_stats(&f);
    assert_int_equal(stdfu_dfuse_flash_target(f.s, &t, NULL, &f.err), -EINVAL);
    assert_non_null(strstr(f.err.message, "0x08020000"));
    assert_int_equal(f.link.stats.dnload_cmd + f.link.stats.dnload_data, 0);
    c = sim_device_counters(f.link.dev);
    for (unsigned p = 0; p < c->n_pages; p++)
        assert_int_equal(c->erases_per_page[p], 0);

    /* erase_target alone refuses it the same way */
    assert_int_equal(stdfu_dfuse_erase_target(f.s, &t, &f.err), -EINVAL);
    assert_int_equal(f.link.stats.dnload_cmd, 0);

    /* an alt the device does not have */
    t.alt = 7;
    assert_int_equal(stdfu_dfuse_flash_target(f.s, &t, NULL, &f.err), -ENOENT);
    assert_non_null(strstr(f.err.message, "alt setting 7"));
    teardown_fixture(&f);
}

static void test_write_error(void **state) {
    fixture f;
    size_t flash_size;
    (void) state;

    /* block 4 = the third data block = 0x08001000 */
    setup_fixture(&f, "port=1-1.3,profile=f072,mode=bootloader,blank=1,write-error-at=4", 16384);
    assert_int_equal(stdfu_dfuse_flash_target(f.s, &f.target, NULL, &f.err), -EIO);
    assert_non_null(strstr(f.err.message, "errWRITE"));
    assert_non_null(strstr(f.err.message, "dfuERROR"));
    assert_non_null(strstr(f.err.message, "0x08001000"));
    /* the fault fires once: a second run succeeds */
    assert_int_equal(stdfu_dfuse_flash_target(f.s, &f.target, NULL, &f.err), 0);
    assert_memory_equal(sim_device_flash(f.link.dev, &flash_size), f.fw, 16384);
    teardown_fixture(&f);
}

/* A retry after a fault erases and writes again only the pages that do not hold the image. */
static void test_retry_only_what_differs(void **state) {
    stdfu_dfuse_flash_options again = { .differential = true };
    const sim_counters *c;
    fixture f;
    size_t flash_size;
    (void) state;

    /* 2 KiB pages, 2 KiB blocks: block 4 is page 2; pages 0 and 1 are written before it */
    setup_fixture(&f, "port=1-1.3,profile=f072,mode=bootloader,blank=1,write-error-at=4", 16384);
    assert_int_equal(stdfu_dfuse_flash_target(f.s, &f.target, NULL, &f.err), -EIO);
    assert_int_equal(stdfu_dfuse_flash_target(f.s, &f.target, &again, &f.err), 0);
    assert_memory_equal(sim_device_flash(f.link.dev, &flash_size), f.fw, 16384);
    c = sim_device_counters(f.link.dev);
    for (unsigned p = 0; p < 8; p++)
        assert_int_equal(c->erases_per_page[p], p < 2 ? 1 : 2);
    for (unsigned p = 8; p < c->n_pages; p++)
        assert_int_equal(c->erases_per_page[p], 0);

    /* all of it there: nothing erased, still verified */
    assert_int_equal(stdfu_dfuse_flash_target(f.s, &f.target, &again, &f.err), 0);
    for (unsigned p = 0; p < 8; p++)
        assert_int_equal(c->erases_per_page[p], p < 2 ? 1 : 2);
    teardown_fixture(&f);
}

/* Sector k of the layout the engine saw (in address order from BASE). */
static void sector_k(fixture *f, unsigned k, uint32_t *start, uint32_t *size) {
    uint32_t addr = BASE;
    for (unsigned i = 0;; i++) {
        assert_int_equal(stdfu_layout_sector(stdfu_dfuse_layout(f->s), addr, start, size, NULL),
                         0);
        if (i == k)
            return;
        addr = *start + *size;
    }
}

/* Differential flash on a profile: a full flash, then the same image with bytes changed at
 * the first byte of sector a and the last byte of sector b: only those are erased and
 * written, the flash is the new image byte for byte, the others were read (and so verified)
 * but neither erased nor written. The same image again erases nothing. */
static void differential_on(const char *profile, size_t size, unsigned n_touched, unsigned a,
                            unsigned b) {
    stdfu_dfuse_flash_stats st = {};
    stdfu_dfuse_flash_options diff = { .differential = true, .stats = &st };
    _cleanup_free_ unsigned *before = NULL;
    const sim_counters *c;
    uint32_t start, ssize;
    size_t flash_size;
    char spec[128];
    fixture f;

    snprintf(spec, sizeof spec, "port=1-1.3,profile=%s,mode=bootloader,blank=1", profile);
    setup_fixture(&f, spec, size);
    assert_int_equal(stdfu_dfuse_flash_target(f.s, &f.target, NULL, &f.err), 0);
    c = sim_device_counters(f.link.dev);
    before = malloc(c->n_pages * sizeof *before);
    assert_non_null(before);
    memcpy(before, c->erases_per_page, c->n_pages * sizeof *before);

    sector_k(&f, a, &start, &ssize);
    f.fw[start - BASE] ^= 0x5a;
    sector_k(&f, b, &start, &ssize);
    f.fw[start + ssize - 1 - BASE] ^= 0xa5;
    reset_stats(&f);
    assert_int_equal(stdfu_dfuse_flash_target(f.s, &f.target, &diff, &f.err), 0);
    assert_memory_equal(sim_device_flash(f.link.dev, &flash_size), f.fw, size);
    for (unsigned p = 0; p < c->n_pages; p++)
        assert_int_equal(c->erases_per_page[p], before[p] + (p == a || p == b));
    assert_int_equal(st.pages_read, n_touched);
    assert_int_equal(st.pages_erased, 1 + (a != b));
    assert_int_equal(st.pages_written, 1 + (a != b));
    assert_int_equal(st.pages_skipped, n_touched - 1 - (a != b));
    assert_false(st.read_protected);
    assert_int_equal(f.link.stats.erase_cmd, 1 + (a != b));

    /* the same image again: read, nothing erased, nothing written */
    memset(&st, 0, sizeof st);
    reset_stats(&f);
    assert_int_equal(stdfu_dfuse_flash_target(f.s, &f.target, &diff, &f.err), 0);
    assert_int_equal(f.link.stats.erase_cmd, 0);
    assert_int_equal(f.link.stats.dnload_data, 0);
    assert_int_equal(st.pages_skipped, n_touched);
    assert_int_equal(st.pages_erased + st.pages_written, 0);
    teardown_fixture(&f);
}

static void test_differential_f072(void **state) {
    (void) state;
    differential_on("f072", 65536, 32, 0, 31); /* 2 KiB pages */
}

static void test_differential_f407(void **state) {
    (void) state;
    /* 16, 16, 16, 16, 64, 128 KiB: the first 16 KiB sector and the 128 KiB one */
    differential_on("f407", 262144, 6, 0, 5);
    differential_on("f407", 262144, 6, 4, 4); /* first and last byte of the 64 KiB one */
}

static void test_differential_l476(void **state) {
    (void) state;
    differential_on("l476", 262144, 128, 1, 64);
}

/* Where the image has no bytes a sector must be erased (0xFF): a shorter image over a longer
 * one rewrites the sector that held more, though the image's own bytes match. */
static void test_differential_erased_tail(void **state) {
    stdfu_dfuse_flash_stats st = {};
    stdfu_dfuse_flash_options diff = { .differential = true, .stats = &st };
    size_t flash_size;
    const uint8_t *flash;
    fixture f;
    (void) state;

    setup_fixture(&f, "port=1-1.3,profile=f072,mode=bootloader,blank=1", 8192);
    assert_int_equal(stdfu_dfuse_flash_target(f.s, &f.target, NULL, &f.err), 0);
    f.element.size = 8192 - 1024; /* half of page 3 */
    assert_int_equal(stdfu_dfuse_flash_target(f.s, &f.target, &diff, &f.err), 0);
    assert_int_equal(st.pages_read, 4);
    assert_int_equal(st.pages_skipped, 3);
    assert_int_equal(st.pages_erased, 1);
    flash = sim_device_flash(f.link.dev, &flash_size);
    assert_memory_equal(flash, f.fw, 8192 - 1024);
    for (size_t i = 8192 - 1024; i < 8192; i++)
        assert_int_equal(flash[i], 0xff);
    teardown_fixture(&f);
}

/* Read protection refuses the comparison read: said so, and the whole image is written (which
 * the ROM refuses in turn, naming errVENDOR). */
static void test_differential_rdp(void **state) {
    stdfu_dfuse_flash_stats st = {};
    stdfu_dfuse_flash_options diff = { .differential = true, .stats = &st };
    fixture f;
    (void) state;

    setup_fixture(&f, "port=1-1.3,profile=f072,mode=bootloader,version=1.0,rdp=1", 4096);
    assert_int_equal(stdfu_dfuse_flash_target(f.s, &f.target, &diff, &f.err), -EACCES);
    assert_true(st.read_protected);
    assert_int_equal(st.pages_read, 0);
    assert_int_equal(st.pages_written, 0); /* the ROM refused the erase */
    assert_non_null(strstr(f.err.message, "errVENDOR"));
    teardown_fixture(&f);
}

static void test_unplug(void **state) {
    fixture f;
    (void) state;

    setup_fixture(&f, "port=1-1.3,profile=f072,mode=bootloader,blank=1,unplug-at=5000", 16384);
    assert_int_equal(stdfu_dfuse_flash_target(f.s, &f.target, NULL, &f.err), -ENODEV);
    assert_non_null(strstr(f.err.message, "disconnected"));
    assert_int_equal(sim_link_follow(&f.link), SIM_MODE_OFF);
    teardown_fixture(&f);
}

/* GETSTATUS stalls at first: the engine asks again. */
static void test_stalled_status(void **state) {
    fixture f;
    (void) state;

    setup_fixture(&f, "port=1-1.3,profile=f072,mode=bootloader,blank=1,stall-status=2", 4096);
    assert_int_equal(stdfu_dfuse_flash_target(f.s, &f.target, NULL, &f.err), 0);
    teardown_fixture(&f);
}

static void test_rdp(void **state) {
    fixture f;
    (void) state;

    setup_fixture(&f, "port=1-1.3,profile=f072,mode=bootloader,version=1.0,rdp=1", 4096);
    assert_int_equal(stdfu_dfuse_flash_target(f.s, &f.target, NULL, &f.err), -EACCES);
    assert_non_null(strstr(f.err.message, "errVENDOR"));
    assert_true(sim_device_read_protected(f.link.dev));
    assert_int_equal(stdfu_dfuse_read_unprotect(f.s, &f.err), 0);
    assert_false(sim_device_read_protected(f.link.dev));
    /* it resets itself; with its flash erased it comes back as the bootloader */
    assert_int_equal(sim_link_follow(&f.link), SIM_MODE_BOOTLOADER);
    teardown_fixture(&f);
}

static void test_cancel(void **state) {
    fixture f;
    atomic_bool cancel = false;
    stdfu_dfuse_options o = { .cancel = &cancel };
    (void) state;

    setup_fixture(&f, "port=1-1.3,profile=f072,mode=bootloader,blank=1", 32768);
    stdfu_dfuse_set_options(f.s, &o);
    f.link.cancel = &cancel;
    f.link.cancel_after_blocks = 3;
    assert_int_equal(stdfu_dfuse_flash_target(f.s, &f.target, NULL, &f.err), -ECANCELED);
    assert_int_equal(f.link.stats.dnload_data, 3);
    /* the device is left in a state recover() handles */
    atomic_store(&cancel, false);
    f.link.cancel_after_blocks = 0;
    assert_int_equal(stdfu_dfuse_flash_target(f.s, &f.target, NULL, &f.err), 0);
    teardown_fixture(&f);
}

static void test_verify_mismatch_and_read(void **state) {
    fixture f;
    uint8_t buf[300];
    (void) state;

    setup_fixture(&f, "port=1-1.3,profile=l476,mode=bootloader,blank=1", 8192);
    assert_int_equal(stdfu_dfuse_flash_target(f.s, &f.target, NULL, &f.err), 0);
    assert_int_equal(stdfu_dfuse_read(f.s, BASE + 2000, buf, sizeof buf, &f.err), 0);
    assert_memory_equal(buf, f.fw + 2000, sizeof buf);

    f.fw[5000] ^= 0x5a;
    assert_int_equal(stdfu_dfuse_verify_target(f.s, &f.target, &f.err), -EBADMSG);
    assert_non_null(strstr(f.err.message, "0x08001388"));
    teardown_fixture(&f);
}

/* Every leave behaviour: the GETSTATUS after the zero-length DNLOAD is the last word. */
static void test_leave_vanish(void **state) {
    fixture f;
    (void) state;

    setup_fixture(&f, "port=1-1.3,profile=f072,mode=bootloader,blank=1,leave=vanish", 4096);
    assert_int_equal(stdfu_dfuse_flash_target(f.s, &f.target, NULL, &f.err), 0);
    assert_int_equal(stdfu_dfuse_leave(f.s, BASE, &f.err), 0);
    assert_int_equal(sim_link_follow(&f.link), SIM_MODE_OFF);
    teardown_fixture(&f);
}

static void test_leave_fresh_session(void **state) {
    fixture f;
    (void) state;

    /* a fresh session knows nothing of the pointer: leave sets it */
    setup_fixture(&f, "port=1-1.3,profile=f407,mode=bootloader,version=2.0", 2048);
    assert_int_equal(stdfu_dfuse_leave(f.s, BASE, &f.err), 0);
    assert_int_equal(f.link.stats.clrstatus, 1);
    assert_int_equal(f.link.stats.set_address, 1);
    assert_int_equal(sim_link_follow(&f.link), SIM_MODE_APPLICATION);
    teardown_fixture(&f);
}

static void test_open_descriptors(void **state) {
    fixture f;
    const stdfu_dfuse_alt *a;
    (void) state;

    setup_fixture(&f, "port=1-1.3,profile=f407,mode=bootloader", 2048);
    assert_int_equal(stdfu_dfuse_n_alts(f.s), 4);
    a = stdfu_dfuse_get_alt(f.s, 0);
    assert_true(a->has_layout);
    assert_string_equal(a->layout.name, "Internal Flash");
    assert_int_equal(stdfu_layout_total_size(&a->layout), 1024 * 1024);
    a = stdfu_dfuse_find_alt(f.s, 1);
    assert_non_null(a);
    assert_non_null(strstr(a->name, "Option Bytes"));
    assert_true(stdfu_dfuse_bcd_dfu(f.s) >= 0x0100);
    assert_true(stdfu_dfuse_attributes(f.s) & STDFU_DFU_ATTR_CAN_DNLOAD);
    assert_int_equal(stdfu_dfuse_select_alt(f.s, 1, &f.err), 0);
    assert_int_equal(sim_device_alt_setting(f.link.dev), 1);
    assert_int_equal(stdfu_dfuse_select_alt(f.s, 9, &f.err), -ENOENT);
    teardown_fixture(&f);
}

/* The device's own refusal: status and state names, operation and address in the message. */
static void test_device_error_message(void **state) {
    fixture f;
    (void) state;

    setup_fixture(&f, "port=1-1.3,profile=f072,mode=bootloader,blank=1", 2048);
    assert_int_equal(stdfu_dfuse_erase_page(f.s, 0x08100000, &f.err), -ERANGE);
    assert_string_equal(f.err.message,
                        "errTARGET (address out of range) in dfuERROR after erase of 0x08100000");
    /* and the session carries on after it */
    assert_int_equal(stdfu_dfuse_flash_target(f.s, &f.target, NULL, &f.err), 0);
    teardown_fixture(&f);
}

/* Another alt: the option bytes of an F072 (writable, not erasable: written without erase). */
static void test_option_bytes_alt(void **state) {
    fixture f;
    uint8_t ob[16];
    stdfu_element e;
    stdfu_target t = { .alt = 1, .elements = &e, .n_elements = 1 };
    (void) state;

    setup_fixture(&f, "port=1-1.3,profile=f072,mode=bootloader,version=1.0", 2048);
    assert_int_equal(stdfu_dfuse_select_alt(f.s, 1, &f.err), 0);
    assert_non_null(stdfu_dfuse_layout(f.s));
    assert_int_equal(stdfu_dfuse_read(f.s, 0x1ffff800, ob, sizeof ob, &f.err), 0);
    assert_int_equal(ob[0], 0xaa); /* RDP level 0 */
    assert_int_equal(stdfu_dfuse_select_alt(f.s, 0, &f.err), 0);

    /* past the end of the option bytes: refused before anything is written */
    e = (stdfu_element) { 0x1ffff808, sizeof ob, ob };
    reset_stats(&f);
    assert_int_equal(stdfu_dfuse_flash_target(f.s, &t, NULL, &f.err), -EINVAL);
    assert_non_null(strstr(f.err.message, "0x1ffff810"));
    assert_int_equal(f.link.stats.dnload_cmd + f.link.stats.dnload_data, 0);

    /* writing them back as they are: the target's alt is selected, nothing is erased; new
     * option bytes load through a chip reset, so the device goes away after the write */
    e = (stdfu_element) { 0x1ffff800, sizeof ob, ob };
    reset_stats(&f);
    assert_int_equal(stdfu_dfuse_flash_target(f.s, &t, NULL, &f.err), -ENODEV);
    assert_non_null(strstr(f.err.message, "disconnected"));
    assert_int_equal(stdfu_dfuse_current_alt(f.s), 1);
    assert_int_equal(f.link.stats.erase_cmd + f.link.stats.mass_erase, 0);
    assert_int_equal(f.link.stats.dnload_data, 1);
    assert_int_equal(sim_link_follow(&f.link), SIM_MODE_APPLICATION);
    teardown_fixture(&f);
}

static void test_names(void **state) {
    (void) state;
    assert_string_equal(stdfu_dfu_state_to_string(STDFU_DFU_DNBUSY), "dfuDNBUSY");
    assert_string_equal(stdfu_dfu_state_to_string(42), "unknown state");
    assert_string_equal(stdfu_dfu_status_to_string(STDFU_DFU_ERR_TARGET), "errTARGET");
    assert_string_equal(stdfu_dfu_status_description(STDFU_DFU_ERR_TARGET),
                        "address out of range");
    assert_string_equal(stdfu_dfuse_phase_to_string(STDFU_DFUSE_PHASE_VERIFY), "verify");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_update_sequence),
        cmocka_unit_test(test_flash_f072),
        cmocka_unit_test(test_flash_f407),
        cmocka_unit_test(test_flash_l476),
        cmocka_unit_test(test_f407_errfirmware_cleared),
        cmocka_unit_test(test_f407_set_address_not_slept),
        cmocka_unit_test(test_f407_mass_erase_waits),
        cmocka_unit_test(test_slow_erase),
        cmocka_unit_test(test_short_tail),
        cmocka_unit_test(test_regions),
        cmocka_unit_test(test_out_of_layout_refused),
        cmocka_unit_test(test_write_error),
        cmocka_unit_test(test_retry_only_what_differs),
        cmocka_unit_test(test_differential_f072),
        cmocka_unit_test(test_differential_f407),
        cmocka_unit_test(test_differential_l476),
        cmocka_unit_test(test_differential_erased_tail),
        cmocka_unit_test(test_differential_rdp),
        cmocka_unit_test(test_unplug),
        cmocka_unit_test(test_stalled_status),
        cmocka_unit_test(test_rdp),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_verify_mismatch_and_read),
        cmocka_unit_test(test_leave_vanish),
        cmocka_unit_test(test_leave_fresh_session),
        cmocka_unit_test(test_open_descriptors),
        cmocka_unit_test(test_device_error_message),
        cmocka_unit_test(test_option_bytes_alt),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
