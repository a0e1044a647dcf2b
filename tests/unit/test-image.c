/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lib/image: every file format and every refusal of a malformed file. Files are built here
 * byte by byte (DfuSe, DFU suffix) or as text (Intel hex), so each test shows what it feeds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "image/image-internal.h"
#include "image/image.h"

/* ---- building files ------------------------------------------------------------------- */

typedef struct buf {
    uint8_t data[1 << 16];
    size_t size;
} buf;

static void put(buf *b, const void *p, size_t n) {
    assert_true(b->size + n <= sizeof b->data);
    memcpy(b->data + b->size, p, n);
    b->size += n;
}

static void put8(buf *b, uint8_t v) {
    put(b, &v, 1);
}

static void put16(buf *b, uint16_t v) {
    put8(b, (uint8_t) v);
    put8(b, (uint8_t) (v >> 8));
}

static void put32(buf *b, uint32_t v) {
    put16(b, (uint16_t) v);
    put16(b, (uint16_t) (v >> 16));
}

static void set32(buf *b, size_t off, uint32_t v) {
    for (int i = 0; i < 4; i++)
        b->data[off + (size_t) i] = (uint8_t) (v >> (8 * i));
}

typedef struct element_spec {
    uint32_t address;
    uint32_t size;
    uint8_t fill; /* data is fill, fill+1, ... */
} element_spec;

typedef struct target_spec {
    uint8_t alt;
    const char *name; /* NULL: bTargetNamed = 0 */
    const element_spec *elements;
    size_t n_elements;
} target_spec;

static void put_element(buf *b, const element_spec *e) {
    put32(b, e->address);
    put32(b, e->size);
    for (uint32_t i = 0; i < e->size; i++)
        put8(b, (uint8_t) (e->fill + i));
}

static void put_target(buf *b, const target_spec *t) {
    char name[255] = "";
    uint32_t size = 0;
    put(b, "Target", 6);
    put8(b, t->alt);
    put32(b, t->name ? 1 : 0);
    if (t->name)
        memcpy(name, t->name, strnlen(t->name, sizeof name));
    put(b, name, sizeof name);
    for (size_t i = 0; i < t->n_elements; i++)
        size += 8 + t->elements[i].size;
    put32(b, size);
    put32(b, (uint32_t) t->n_elements);
    for (size_t i = 0; i < t->n_elements; i++)
        put_element(b, &t->elements[i]);
}

static void put_suffix(buf *b, uint16_t bcd_device, uint16_t pid, uint16_t vid, uint16_t bcd_dfu) {
    put16(b, bcd_device);
    put16(b, pid);
    put16(b, vid);
    put16(b, bcd_dfu);
    put(b, "UFD", 3);
    put8(b, 16);
    put32(b, dfu_crc(b->data, b->size));
}

/* A DfuSe file the way dfuse-pack writes it (image size = whole file). */
static void build_dfuse(buf *b, const target_spec *targets, size_t n) {
    b->size = 0;
    put(b, "DfuSe", 5);
    put8(b, 1);
    put32(b, 0); /* set below */
    put8(b, (uint8_t) n);
    for (size_t i = 0; i < n; i++)
        put_target(b, &targets[i]);
    set32(b, 6, (uint32_t) b->size + 16);
    put_suffix(b, 0x0000, 0xdf11, 0x0483, 0x011a);
}

/* Rewrites the CRC after a test changed bytes on purpose. */
static void fix_crc(buf *b) {
    set32(b, b->size - 4, dfu_crc(b->data, b->size - 4));
}

static void sha256(const void *data, size_t size, uint8_t out[32]) {
    unsigned len;
    assert_int_equal(EVP_Digest(data, size, out, &len, EVP_sha256(), NULL), 1);
}

static void assert_element(const stdfu_element *e, uint32_t address, uint32_t size,
                           uint8_t fill) {
    assert_int_equal(e->address, address);
    assert_int_equal(e->size, size);
    for (uint32_t i = 0; i < size; i++)
        if (e->data[i] != (uint8_t) (fill + i))
            fail_msg("element 0x%08x byte %u is 0x%02x", address, i, e->data[i]);
}

/* Loading must fail with code and a message starting with "NAME: " and holding every needle. */
static void expect_refusal_as(const char *name, const void *data, size_t size,
                              const stdfu_image_load_options *opts, int code, const char *needle1,
                              const char *needle2) {
    stdfu_image *img = (stdfu_image *) 0x1; /* must stay untouched */
    stdfu_error err = {};
    int r = stdfu_image_load_data(data, size, name, opts, &img, &err);
    if (r != code)
        fail_msg("expected %d, got %d: %s (input \"%.*s\")", code, r, err.message,
                 (int) MIN(size, (size_t) 80), (const char *) data);
    assert_int_equal(err.code, code);
    assert_ptr_equal(img, (stdfu_image *) 0x1);
    if (strncmp(err.message, name, strlen(name)) != 0 || strncmp(err.message + strlen(name),
                                                                  ": ", 2) != 0)
        fail_msg("message does not start with the file name: %s", err.message);
    if (needle1 && !strstr(err.message, needle1))
        fail_msg("\"%s\" not in: %s", needle1, err.message);
    if (needle2 && !strstr(err.message, needle2))
        fail_msg("\"%s\" not in: %s", needle2, err.message);
}

static void expect_refusal(const void *data, size_t size, const stdfu_image_load_options *opts,
                           int code, const char *needle1, const char *needle2) {
    expect_refusal_as("fw", data, size, opts, code, needle1, needle2);
}

static stdfu_image *load_ok_as(const char *name, const void *data, size_t size,
                               const stdfu_image_load_options *opts) {
    stdfu_image *img = NULL;
    stdfu_error err = {};
    int r = stdfu_image_load_data(data, size, name, opts, &img, &err);
    if (r < 0)
        fail_msg("load failed (%d): %s", r, err.message);
    assert_non_null(img);
    return img;
}

static stdfu_image *load_ok(const void *data, size_t size, const stdfu_image_load_options *opts) {
    return load_ok_as("fw", data, size, opts);
}

/* ---- CRC and suffix ----------------------------------------------------------------------- */

static void test_dfu_crc(void **state) {
    (void) state;
    /* The CRC-32 check value of "123456789" is 0xcbf43926; DFU stores it uncomplemented. */
    assert_int_equal(dfu_crc((const uint8_t *) "123456789", 9), 0x340bc6d9);
}

/* "hello, stm32" with a suffix written by dfu-util 0.11:
 *     dfu-suffix -v 0x0483 -p 0xdf11 -d 0x0200 -a h.bin */
static const uint8_t dfu_suffix_file[] = {
    0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x2c, 0x20, 0x73, 0x74, 0x6d, 0x33, 0x32,
    0x00, 0x02, 0x11, 0xdf, 0x83, 0x04, 0x00, 0x01, 0x55, 0x46, 0x44, 0x10,
    0xb1, 0xce, 0x20, 0x8d,
};

static void test_dfu_suffix_from_dfu_util(void **state) {
    const stdfu_image_load_options opts = { .has_address = true, .address = 0x08004000,
                                            .alt = 2 };
    uint8_t digest[32];
    (void) state;
    _cleanup_image_ stdfu_image *img = load_ok(dfu_suffix_file, sizeof dfu_suffix_file, &opts);
    assert_int_equal(img->format, STDFU_IMAGE_DFU);
    assert_string_equal(stdfu_image_format_to_string(img->format), "dfu");
    assert_true(img->has_suffix);
    assert_int_equal(img->vid, 0x0483);
    assert_int_equal(img->pid, 0xdf11);
    assert_int_equal(img->bcd_device, 0x0200);
    assert_int_equal(img->bcd_dfu, 0x0100);
    assert_int_equal(img->n_targets, 1);
    assert_int_equal(img->targets[0].alt, 2);
    assert_int_equal(img->targets[0].n_elements, 1);
    assert_int_equal(img->targets[0].elements[0].address, 0x08004000);
    assert_int_equal(img->targets[0].elements[0].size, 12);
    assert_memory_equal(img->targets[0].elements[0].data, "hello, stm32", 12);
    assert_int_equal(img->total_bytes, 12);
    assert_string_equal(img->name, "fw");
    sha256(dfu_suffix_file, sizeof dfu_suffix_file, digest);
    assert_memory_equal(img->sha256, digest, 32);

    assert_int_equal(stdfu_image_check_ids(img, 0x0483, 0xdf11, NULL), 0);
    stdfu_error err = {};
    assert_int_equal(stdfu_image_check_ids(img, 0x0483, 0x5740, &err), -EINVAL);
    assert_string_equal(err.message, "fw: the file is for USB id 0483:df11 (DFU suffix) but the "
                                     "device is 0483:5740");
}

static void test_dfu_suffix_refusals(void **state) {
    const stdfu_image_load_options addr = { .has_address = true, .address = 0x08000000 };
    uint8_t f[sizeof dfu_suffix_file];
    buf b = {};
    (void) state;

    expect_refusal(dfu_suffix_file, sizeof dfu_suffix_file, NULL, -EINVAL,
                   "a DFU file without DfuSe prefix has no address", "--address");

    memcpy(f, dfu_suffix_file, sizeof f);
    f[3] ^= 0x20; /* one flipped bit in the data */
    expect_refusal(f, sizeof f, &addr, -EBADMSG, "bad DFU suffix CRC: expected 0x",
                   "found 0x8d20ceb1");

    /* bcdDFU 0x011a promises a DfuSe prefix */
    put(&b, "data", 4);
    put_suffix(&b, 0, 0xdf11, 0x0483, 0x011a);
    expect_refusal(b.data, b.size, &addr, -EINVAL, "bcdDFU 0x011a", "no DfuSe prefix");

    b.size = 0;
    put(&b, "data", 4);
    put_suffix(&b, 0, 0xdf11, 0x0483, 0x0200);
    expect_refusal(b.data, b.size, &addr, -EINVAL, "bcdDFU 0x0200", NULL);

    /* only a suffix: nothing to write */
    b.size = 0;
    put_suffix(&b, 0, 0xdf11, 0x0483, 0x0100);
    expect_refusal(b.data, b.size, &addr, -EINVAL, "empty image", NULL);

    /* forcing the format on a file without a suffix */
    const stdfu_image_load_options forced = { .format = STDFU_IMAGE_DFU, .has_address = true };
    expect_refusal("plain data without suffix", 25, &forced, -EINVAL, "no DFU suffix", NULL);
}

static void test_dfu_suffix_any_ids(void **state) {
    const stdfu_image_load_options addr = { .has_address = true, .address = 0x08000000 };
    buf b = {};
    (void) state;
    put(&b, "data", 4);
    put_suffix(&b, 0xffff, 0xffff, 0xffff, 0x0100);
    _cleanup_image_ stdfu_image *img = load_ok(b.data, b.size, &addr);
    assert_int_equal(stdfu_image_check_ids(img, 0x1234, 0x5678, NULL), 0);

    /* vid given, pid any */
    b.size = 0;
    put(&b, "data", 4);
    put_suffix(&b, 0xffff, 0xffff, 0x0483, 0x0100);
    _cleanup_image_ stdfu_image *img2 = load_ok(b.data, b.size, &addr);
    assert_int_equal(stdfu_image_check_ids(img2, 0x0483, 0x5678, NULL), 0);
    assert_int_equal(stdfu_image_check_ids(img2, 0x0484, 0x5678, NULL), -EINVAL);
}

/* ---- DfuSe -------------------------------------------------------------------------------- */

static void test_dfuse_targets_and_elements(void **state) {
    static const element_spec flash[] = {
        { 0x08010000, 300, 7 }, /* out of order in the file: sorted on load */
        { 0x08000000, 1024, 1 },
    };
    static const element_spec option_bytes[] = { { 0x1FFFC000, 16, 0xa0 } };
    const target_spec targets[] = {
        { 0, "Internal Flash", flash, 2 },
        { 1, NULL, option_bytes, 1 },
    };
    buf b;
    uint8_t digest[32];
    (void) state;

    build_dfuse(&b, targets, 2);
    _cleanup_image_ stdfu_image *img = load_ok(b.data, b.size, NULL);
    assert_int_equal(img->format, STDFU_IMAGE_DFUSE);
    assert_true(img->has_suffix);
    assert_int_equal(img->vid, 0x0483);
    assert_int_equal(img->pid, 0xdf11);
    assert_int_equal(img->bcd_dfu, 0x011a);
    assert_int_equal(img->n_targets, 2);
    assert_int_equal(img->total_bytes, 1024 + 300 + 16);
    sha256(b.data, b.size, digest);
    assert_memory_equal(img->sha256, digest, 32);

    const stdfu_target *t0 = stdfu_image_find_target(img, 0), *t1 = stdfu_image_find_target(img, 1);
    assert_non_null(t0);
    assert_non_null(t1);
    assert_null(stdfu_image_find_target(img, 2));
    assert_string_equal(t0->name, "Internal Flash");
    assert_string_equal(t1->name, "");
    assert_int_equal(t0->n_elements, 2);
    assert_element(&t0->elements[0], 0x08000000, 1024, 1);
    assert_element(&t0->elements[1], 0x08010000, 300, 7);
    assert_element(&t1->elements[0], 0x1FFFC000, 16, 0xa0);
    assert_int_equal(stdfu_target_base_address(t0), 0x08000000);
    assert_int_equal(stdfu_target_total_bytes(t0), 1324);
}

static void test_dfuse_same_alt_merged(void **state) {
    static const element_spec a[] = { { 0x08000800, 16, 1 } }, c[] = { { 0x08000000, 16, 2 } };
    static const element_spec o[] = { { 0x1FFFC000, 16, 3 } };
    const target_spec targets[] = { { 0, "first", a, 1 }, { 1, "ob", o, 1 }, { 0, "again", c, 1 } };
    buf b;
    (void) state;
    build_dfuse(&b, targets, 3);
    _cleanup_image_ stdfu_image *img = load_ok(b.data, b.size, NULL);
    assert_int_equal(img->n_targets, 2);
    const stdfu_target *t = stdfu_image_find_target(img, 0);
    assert_string_equal(t->name, "first");
    assert_int_equal(t->n_elements, 2);
    assert_element(&t->elements[0], 0x08000000, 16, 2);
    assert_element(&t->elements[1], 0x08000800, 16, 1);
}

static void test_dfuse_empty_target_dropped(void **state) {
    static const element_spec a[] = { { 0x08000000, 16, 1 } }, none[] = { { 0x1FFFC000, 0, 0 } };
    const target_spec targets[] = { { 1, "empty", none, 1 }, { 0, "data", a, 1 },
                                    { 2, "no elements", NULL, 0 } };
    buf b;
    (void) state;
    build_dfuse(&b, targets, 3);
    _cleanup_image_ stdfu_image *img = load_ok(b.data, b.size, NULL);
    assert_int_equal(img->n_targets, 1);
    assert_string_equal(img->targets[0].name, "data");
    assert_null(stdfu_image_find_target(img, 1));
    assert_null(stdfu_image_find_target(img, 2));
}

static void test_dfuse_image_size_conventions(void **state) {
    static const element_spec e[] = { { 0x08000000, 64, 0 } };
    const target_spec t = { 0, "ST...", e, 1 };
    buf b;
    (void) state;
    build_dfuse(&b, &t, 1);
    /* ST's tools (UM0391): the file without its suffix */
    set32(&b, 6, (uint32_t) b.size - 16);
    fix_crc(&b);
    _cleanup_image_ stdfu_image *img = load_ok(b.data, b.size, NULL);
    assert_int_equal(img->total_bytes, 64);

    set32(&b, 6, (uint32_t) b.size - 17);
    fix_crc(&b);
    expect_refusal(b.data, b.size, NULL, -EINVAL,
                   "announces 356 bytes but the file has 373 (357 without",
                   NULL);
}

static void test_dfuse_refusals(void **state) {
    static const element_spec e[] = { { 0x08000000, 64, 0 }, { 0x08000100, 32, 0 } };
    const target_spec t = { 0, "ST...", e, 2 };
    const stdfu_image_load_options addr = { .has_address = true, .address = 0x08000000 };
    buf b;
    (void) state;

    build_dfuse(&b, &t, 1);
    expect_refusal(b.data, b.size, &addr, -EINVAL, "DfuSe files carry their own addresses",
                   "0x08000000");

    b.data[100] ^= 1;
    expect_refusal(b.data, b.size, NULL, -EBADMSG, "bad DFU suffix CRC", "expected 0x");

    build_dfuse(&b, &t, 1);
    b.data[5] = 2;
    fix_crc(&b);
    expect_refusal(b.data, b.size, NULL, -EINVAL, "version 2", NULL);

    build_dfuse(&b, &t, 1);
    memcpy(b.data + 11, "Tarjet", 6);
    fix_crc(&b);
    expect_refusal(b.data, b.size, NULL, -EINVAL, "target 0 at offset 11", "\"Target\"");

    build_dfuse(&b, &t, 1);
    b.data[b.size - 10] = 0x00; /* bcdDFU 0x0100 */
    fix_crc(&b);
    expect_refusal(b.data, b.size, NULL, -EINVAL, "bcdDFU 0x0100, expected 0x011a", NULL);

    /* the suffix cut off: no suffix at all */
    build_dfuse(&b, &t, 1);
    expect_refusal(b.data, b.size - 16, NULL, -EINVAL, "truncated", NULL);

    /* no targets */
    build_dfuse(&b, NULL, 0);
    expect_refusal(b.data, b.size, NULL, -EINVAL, "empty image", NULL);

    /* only a zero-sized element */
    static const element_spec empty[] = { { 0x08000000, 0, 0 } };
    const target_spec te = { 0, NULL, empty, 1 };
    build_dfuse(&b, &te, 1);
    expect_refusal(b.data, b.size, NULL, -EINVAL, "empty image", NULL);
}

/* Cuts a target or element short and keeps the file otherwise consistent (sizes, CRC), the
 * way a broken packer would: the message must name the offset. */
static void test_dfuse_truncated(void **state) {
    static const element_spec e[] = { { 0x08000000, 64, 0 }, { 0x08000100, 32, 0 } };
    const target_spec t = { 0, "ST...", e, 2 };
    buf b;
    (void) state;

    /* the file shorter than the prefix promises */
    build_dfuse(&b, &t, 1);
    expect_refusal(b.data, 200, NULL, -EINVAL, "truncated at offset 200", "announces");

    /* target prefix cut: bTargets says 2 but one target follows */
    build_dfuse(&b, &t, 1);
    b.data[10] = 2;
    fix_crc(&b);
    expect_refusal(b.data, b.size, NULL, -EINVAL, "truncated at offset 397",
                   "target 1 needs a 274-byte prefix, 0 bytes are left");

    /* dwTargetSize larger than what is left */
    build_dfuse(&b, &t, 1);
    set32(&b, 11 + 266, 1000);
    fix_crc(&b);
    expect_refusal(b.data, b.size, NULL, -EINVAL, "truncated at offset 285",
                   "target 0 announces 1000 bytes");

    /* an element bigger than its target */
    build_dfuse(&b, &t, 1);
    set32(&b, 285 + 72 + 4, 33);
    fix_crc(&b);
    expect_refusal(b.data, b.size, NULL, -EINVAL, "truncated at offset 365",
                   "element 1 of target 0 at 0x08000100 announces 33 bytes");

    /* more elements announced than the target holds */
    build_dfuse(&b, &t, 1);
    set32(&b, 11 + 270, 3);
    fix_crc(&b);
    expect_refusal(b.data, b.size, NULL, -EINVAL, "truncated at offset 397",
                   "element 2 of target 0");

    /* fewer: bytes left over in the target */
    build_dfuse(&b, &t, 1);
    set32(&b, 11 + 270, 1);
    fix_crc(&b);
    expect_refusal(b.data, b.size, NULL, -EINVAL, "40 unexpected bytes at offset 357",
                   "after the 1 elements of target 0");

    /* junk between the last target and the suffix */
    build_dfuse(&b, &t, 1);
    b.size -= 16;
    put32(&b, 0xdeadbeef);
    set32(&b, 6, (uint32_t) b.size + 16);
    put_suffix(&b, 0, 0xdf11, 0x0483, 0x011a);
    expect_refusal(b.data, b.size, NULL, -EINVAL, "4 unexpected bytes at offset 397", NULL);
}

static void test_dfuse_overlaps(void **state) {
    static const element_spec e[] = { { 0x08000000, 0x200, 0 }, { 0x080001F0, 0x20, 0 } };
    const target_spec t = { 0, NULL, e, 2 };
    buf b;
    (void) state;
    build_dfuse(&b, &t, 1);
    expect_refusal(b.data, b.size, NULL, -EINVAL,
                   "element at 0x080001f0..0x0800020f overlaps element at 0x08000000..0x080001ff",
                   NULL);

    /* overlaps across two targets of the same alt are found after merging */
    static const element_spec x[] = { { 0x08000000, 0x10, 0 } }, y[] = { { 0x08000008, 4, 0 } };
    static const element_spec o[] = { { 0x1FFFC000, 4, 0 } };
    const target_spec ts[] = { { 0, NULL, x, 1 }, { 1, NULL, o, 1 }, { 0, NULL, y, 1 } };
    build_dfuse(&b, ts, 3);
    expect_refusal(b.data, b.size, NULL, -EINVAL, "fw: target alt 0: element at 0x08000008",
                   "overlaps element at 0x08000000..0x0800000f");

    /* an element past 4 GiB */
    static const element_spec far[] = { { 0xFFFFFFF0, 0x20, 0 } };
    const target_spec tf = { 0, NULL, far, 1 };
    build_dfuse(&b, &tf, 1);
    expect_refusal(b.data, b.size, NULL, -EINVAL, "element at 0xfffffff0 with 32 bytes",
                   "32-bit address space");
}

/* ---- raw binaries --------------------------------------------------------------------------- */

static void test_bin(void **state) {
    const stdfu_image_load_options opts = { .has_address = true, .address = 0x08000000 };
    (void) state;
    _cleanup_image_ stdfu_image *img = load_ok_as("fw.bin", "\x00\x50\x00\x20\xc1\x00\x00\x08", 8,
                                                  &opts);
    assert_int_equal(img->format, STDFU_IMAGE_BIN);
    assert_false(img->has_suffix);
    assert_int_equal(img->vid, 0xffff);
    assert_int_equal(img->pid, 0xffff);
    assert_int_equal(stdfu_image_check_ids(img, 0x0483, 0xdf11, NULL), 0);
    assert_int_equal(img->targets[0].elements[0].address, 0x08000000);
    assert_int_equal(img->total_bytes, 8);

    expect_refusal_as("fw.bin", "\x00\x50\x00\x20", 4, NULL, -EINVAL,
                      "a raw binary has no address of its own", "--address");
    expect_refusal_as("fw.bin", "", 0, &opts, -EINVAL, "the file is empty", NULL);
    const stdfu_image_load_options high = { .has_address = true, .address = 0xFFFFFFFE };
    expect_refusal_as("FW.BIN", "ab\0d", 4, &high, -EINVAL, "4 bytes at 0xfffffffe",
                      "32-bit address space");
    /* a binary that happens to start with ':' is still a binary when named so */
    _cleanup_image_ stdfu_image *colon = load_ok_as("fw.bin", ":not hex at all\n", 16, &opts);
    assert_int_equal(colon->format, STDFU_IMAGE_BIN);
    /* forced: a DfuSe file written raw */
    const stdfu_image_load_options forced = { .format = STDFU_IMAGE_BIN, .has_address = true };
    _cleanup_image_ stdfu_image *raw = load_ok("DfuSe....", 9, &forced);
    assert_int_equal(raw->format, STDFU_IMAGE_BIN);
}

/* ---- Intel hex ------------------------------------------------------------------------------ */

/* What `objcopy -I binary -O ihex --change-addresses 0x08000000` writes for 0x00..0x1f,
 * followed by a second region at 0x08001000 given out of order, with CRLF line ends. */
static const char hex_objcopy[] =
    ":020000040800F2\r\n"
    ":10001000101112131415161718191A1B1C1D1E1F68\r\n"
    ":10000000000102030405060708090A0B0C0D0E0F78\r\n"
    ":04100000AABBCCDDDE\r\n"
    ":0400000508000000EF\r\n"
    ":00000001FF\r\n";

static void test_hex_linear(void **state) {
    (void) state;
    _cleanup_image_ stdfu_image *img = load_ok(hex_objcopy, strlen(hex_objcopy), NULL);
    assert_int_equal(img->format, STDFU_IMAGE_HEX);
    assert_true(img->has_start_address);
    assert_int_equal(img->start_address, 0x08000000);
    assert_int_equal(img->n_targets, 1);
    const stdfu_target *t = &img->targets[0];
    assert_int_equal(t->n_elements, 2);
    assert_element(&t->elements[0], 0x08000000, 32, 0); /* two records merged */
    assert_int_equal(t->elements[1].address, 0x08001000);
    assert_memory_equal(t->elements[1].data, "\xaa\xbb\xcc\xdd", 4);
    assert_int_equal(img->total_bytes, 36);
}

static void test_hex_segment(void **state) {
    /* 02: base 0x1000 * 16 = 0x10000; a record at offset 0xFFFE with 4 bytes wraps to 0x10000
     * (Intel: the offset wraps within the 64 KiB segment); 03: CS:IP = 0x1000:0x0100.
     * Lower-case digits and a missing final newline are fine. */
    static const char text[] =
        ":020000021000ec\n"
        ":04fffe0001020304f5\n"
        ":0400000310000100e8\n"
        "\n"
        ":00000001ff";
    (void) state;
    const stdfu_image_load_options alt = { .alt = 1 };
    _cleanup_image_ stdfu_image *img = load_ok(text, strlen(text), &alt);
    assert_true(img->has_start_address);
    assert_int_equal(img->start_address, 0x10100);
    const stdfu_target *t = stdfu_image_find_target(img, 1);
    assert_non_null(t);
    assert_int_equal(t->n_elements, 2);
    assert_int_equal(t->elements[0].address, 0x10000);
    assert_memory_equal(t->elements[0].data, "\x03\x04", 2);
    assert_int_equal(t->elements[1].address, 0x1FFFE);
    assert_memory_equal(t->elements[1].data, "\x01\x02", 2);
}

static void test_hex_linear_crosses_64k(void **state) {
    /* in linear mode the address simply continues past a 64 KiB boundary */
    static const char text[] =
        ":020000040800F2\n"
        ":04FFFE0001020304F5\n"
        ":00000001FF\n";
    (void) state;
    _cleanup_image_ stdfu_image *img = load_ok(text, strlen(text), NULL);
    assert_int_equal(img->targets[0].n_elements, 1);
    assert_int_equal(img->targets[0].elements[0].address, 0x0800FFFE);
    assert_int_equal(img->targets[0].elements[0].size, 4);
    assert_false(img->has_start_address);
}

static void test_hex_refusals(void **state) {
    const stdfu_image_load_options addr = { .has_address = true, .address = 0x08000000 };
    (void) state;
#define HEX_REFUSED(text, needle1, needle2) \
    expect_refusal(text, strlen(text), NULL, -EINVAL, needle1, needle2)

    expect_refusal(hex_objcopy, strlen(hex_objcopy), &addr, -EINVAL,
                   "Intel hex files carry their own addresses", NULL);
    HEX_REFUSED(":020000040800F2\n:10000000000102030405060708090A0B0C0D0E0F77\n:00000001FF\n",
                "line 2: bad checksum: expected 0x78, found 0x77", NULL);
    HEX_REFUSED(":020000040800F2\n:0200000000G1FD\n:00000001FF\n",
                "line 2: not a hex digit: 'G' at column 12", NULL);
    HEX_REFUSED(":020000040800F2\n:030000000001FC\n:00000001FF\n",
                "line 2: the record's length byte says 3 data bytes but the record "
                "holds 2", NULL);
    HEX_REFUSED(":020000040800F2\n:0000000\n:00000001FF\n", "line 2: a record needs an even", NULL);
    HEX_REFUSED(":020000040800F2\n0200000000FE\n:00000001FF\n", "line 2: a record must start "
                "with ':'", NULL);
    HEX_REFUSED(":020000040800F2\n:00000006FA\n:00000001FF\n",
                "line 2: unknown record type 0x06", NULL);
    HEX_REFUSED(":03000004080000F1\n:00000001FF\n",
                "line 1: a record of type 0x04 must hold 2 bytes, not 3", NULL);
    HEX_REFUSED(":020000040800F2\n:0100000000FF\n", "no end-of-file record",
                "truncated after line 2");
    HEX_REFUSED(":020000040800F2\n:0100000000FF\n:00000001FF\n:0100000000FF\n",
                "line 4: data after the end-of-file record (line 3)", NULL);
    HEX_REFUSED(":020000040800F2\n:00000001FF\n", "empty image", NULL);
    /* the same bytes twice: line 3 overlaps line 2 */
    HEX_REFUSED(":020000040800F2\n:0400000001020304F2\n:020002000A0BE7\n:00000001FF\n",
                "line 3: data at 0x08000002 overlaps data at 0x08000000..0x08000003",
                "lines 2-2");
}

/* Files no parser takes are never guessed to be raw: refused, naming what they look like. */
static void test_not_guessed(void **state) {
    const stdfu_image_load_options addr = { .has_address = true, .address = 0x08000000 };
    static const char srec[] = "S00F000068656C6C6F202020202000003C\n"
                               "S11F00007C0802A6900100049421FFF07C6C1B787C8C23783C6000003863000026\n"
                               "S9030000FC\n";
    static const char elf[] = "\x7f" "ELF\x01\x01\x01\0\0\0\0\0\0\0\0\0\x02\0\x28\0";
    static const char hex_bad[] = ":10000000000102030405060708090A0B0C0D0E0F77\n";
    char bom_hex[512];
    (void) state;

    /* ELF and S-records are read as what they are (with their own addresses) */
    expect_refusal_as("fw.elf", elf, sizeof elf - 1, &addr, -EINVAL,
                      "ELF files carry their own addresses", NULL);
    /* an ELF is an ELF whatever its name */
    expect_refusal_as("fw.bin", elf, sizeof elf - 1, &addr, -EINVAL,
                      "ELF files carry their own addresses", NULL);
    expect_refusal_as("fw.bin", elf, sizeof elf - 1, NULL, -EINVAL, "ELF file",
                      NULL);
    expect_refusal_as("fw.s19", srec, strlen(srec), &addr, -EINVAL,
                      "S-record files carry their own addresses", NULL);
    expect_refusal_as("fw.bin", srec, strlen(srec), &addr, -EINVAL,
                      "S-record files carry their own addresses", NULL);
    _cleanup_image_ stdfu_image *s19 = load_ok_as("fw.s19", srec, strlen(srec), NULL);
    assert_int_equal(s19->format, STDFU_IMAGE_SREC);
    assert_int_equal(s19->targets[0].elements[0].address, 0);
    assert_int_equal(s19->targets[0].elements[0].size, 28);
    snprintf(bom_hex, sizeof bom_hex, "\xef\xbb\xbf%s", hex_objcopy);
    expect_refusal_as("fw.hex", bom_hex, strlen(bom_hex), NULL, -EMEDIUMTYPE,
                      "Intel hex file that starts with a UTF-8 byte order mark", NULL);
    expect_refusal_as("fw.hex", bom_hex, strlen(bom_hex), &addr, -EMEDIUMTYPE, "byte order mark",
                      NULL);
    expect_refusal_as("notes.txt", "just some text\n", 15, &addr, -EMEDIUMTYPE, "this is text",
                      NULL);
    expect_refusal_as("fw.gz", "\x1f\x8b\x08\0\0\0", 6, &addr, -EMEDIUMTYPE, "gzip", NULL);
    /* unknown bytes are a raw binary only when named so */
    expect_refusal_as("fw.img", "\x00\x50\x00\x20", 4, &addr, -EMEDIUMTYPE, "named *.bin",
                      "--format bin");
    _cleanup_image_ stdfu_image *bin = load_ok_as("fw.Bin", "\x00\x50\x00\x20", 4, &addr);
    assert_int_equal(bin->format, STDFU_IMAGE_BIN);
    const stdfu_image_load_options forced = { .format = STDFU_IMAGE_BIN, .has_address = true };
    _cleanup_image_ stdfu_image *forced_img = load_ok_as("fw.img", "\x00\x50\x00\x20", 4,
                                                         &forced);
    assert_int_equal(forced_img->format, STDFU_IMAGE_BIN);
    /* data without a file name (D-Bus UpdateFile): the address says raw, the content still
     * decides against an ELF */
    const stdfu_image_load_options unnamed = { .has_address = true, .raw_unnamed = true };
    _cleanup_image_ stdfu_image *fd_img = load_ok_as("firmware", "\x00\x50\x00\x20", 4,
                                                     &unnamed);
    assert_int_equal(fd_img->format, STDFU_IMAGE_BIN);
    expect_refusal_as("firmware", elf, sizeof elf - 1, &unnamed, -EINVAL,
                      "ELF files carry their own addresses", NULL);
    const stdfu_image_load_options unnamed_no_address = { .raw_unnamed = true };
    expect_refusal_as("firmware", "\x00\x50\x00\x20", 4, &unnamed_no_address, -EINVAL,
                      "a raw binary has no address of its own", NULL);
    /* empty, whatever the format */
    expect_refusal_as("fw.hex", "", 0, NULL, -EINVAL, "the file is empty", NULL);
    const stdfu_image_load_options forced_hex = { .format = STDFU_IMAGE_HEX };
    expect_refusal_as("fw.dat", "", 0, &forced_hex, -EINVAL, "the file is empty", NULL);
    /* a .hex file that is text but not hex: the hex parser says where */
    expect_refusal_as("fw.hex", hex_bad + 1, strlen(hex_bad) - 1, NULL, -EINVAL, "line 1",
                      "':'");

    stdfu_image_format f;
    assert_int_equal(stdfu_image_format_from_string("bin", &f), 0);
    assert_int_equal(f, STDFU_IMAGE_BIN);
    assert_int_equal(stdfu_image_format_from_string("dfuse", &f), 0);
    assert_int_equal(f, STDFU_IMAGE_DFUSE);
    assert_int_equal(stdfu_image_format_from_string("elf", &f), 0);
    assert_int_equal(f, STDFU_IMAGE_ELF);
    assert_int_equal(stdfu_image_format_from_string("srec", &f), 0);
    assert_int_equal(f, STDFU_IMAGE_SREC);
    assert_int_equal(stdfu_image_format_from_string("coff", &f), -EINVAL);
    assert_int_equal(stdfu_image_format_from_string(NULL, &f), -EINVAL);
}

/* ---- detection, fd, file -------------------------------------------------------------------- */

static void test_detection(void **state) {
    static const element_spec e[] = { { 0x08000000, 4, 0 } };
    const target_spec t = { 0, NULL, e, 1 };
    const stdfu_image_load_options addr = { .has_address = true, .address = 0x08000000 };
    buf b;
    (void) state;
    build_dfuse(&b, &t, 1);
    _cleanup_image_ stdfu_image *dfuse = load_ok(b.data, b.size, NULL);
    assert_int_equal(dfuse->format, STDFU_IMAGE_DFUSE);
    _cleanup_image_ stdfu_image *dfu = load_ok(dfu_suffix_file, sizeof dfu_suffix_file, &addr);
    assert_int_equal(dfu->format, STDFU_IMAGE_DFU);
    _cleanup_image_ stdfu_image *hex = load_ok(hex_objcopy, strlen(hex_objcopy), NULL);
    assert_int_equal(hex->format, STDFU_IMAGE_HEX);
    _cleanup_image_ stdfu_image *bin = load_ok_as("fw.bin", "\x00\x50\x00\x20", 4, &addr);
    assert_int_equal(bin->format, STDFU_IMAGE_BIN);
    /* a hex file, forced to be read as hex, with a bad first line still says why */
    const stdfu_image_load_options forced = { .format = STDFU_IMAGE_HEX };
    expect_refusal("garbage\n", 8, &forced, -EINVAL, "line 1", NULL);
    const stdfu_image_load_options forced_dfuse = { .format = STDFU_IMAGE_DFUSE };
    expect_refusal("garbage\n", 8, &forced_dfuse, -EINVAL, "no DfuSe prefix", NULL);
}

static void test_load_fd_and_file(void **state) {
    char path[] = "/tmp/stdfu-test-image.XXXXXX";
    stdfu_error err = {};
    stdfu_image *img = NULL;
    int fd;
    (void) state;

    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "skip", 4), 4);
    assert_int_equal(write(fd, hex_objcopy, strlen(hex_objcopy)), (ssize_t) strlen(hex_objcopy));
    /* from the current offset: the 4 bytes before are not part of the image */
    assert_int_equal(lseek(fd, 4, SEEK_SET), 4);
    assert_int_equal(stdfu_image_load_fd(fd, "passed.hex", NULL, &img, &err), 0);
    assert_int_equal(img->format, STDFU_IMAGE_HEX);
    assert_string_equal(img->name, "passed.hex");
    img = stdfu_image_free(img);
    close(fd);

    /* by content it is text (no format starts with "skip"); forced to hex it fails on line 1 */
    assert_int_equal(stdfu_image_load_file(path, NULL, &img, &err), -EMEDIUMTYPE);
    assert_non_null(strstr(err.message, "this is text"));
    const stdfu_image_load_options forced = { .format = STDFU_IMAGE_HEX };
    assert_int_equal(stdfu_image_load_file(path, &forced, &img, &err), -EINVAL);
    assert_non_null(strstr(err.message, path));
    assert_non_null(strstr(err.message, "line 1: a record must start with ':'"));
    unlink(path);

    assert_int_equal(stdfu_image_load_file(path, NULL, &img, &err), -ENOENT);
    assert_non_null(strstr(err.message, "cannot read: No such file or directory"));
    assert_int_equal(stdfu_image_load_file("/tmp", NULL, &img, &err), -EISDIR);
    /* no err: still a clean failure */
    assert_int_equal(stdfu_image_load_data((const uint8_t *) "x", 1, NULL, NULL, &img, NULL),
                     -EMEDIUMTYPE);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dfu_crc),
        cmocka_unit_test(test_dfu_suffix_from_dfu_util),
        cmocka_unit_test(test_dfu_suffix_refusals),
        cmocka_unit_test(test_dfu_suffix_any_ids),
        cmocka_unit_test(test_dfuse_targets_and_elements),
        cmocka_unit_test(test_dfuse_same_alt_merged),
        cmocka_unit_test(test_dfuse_empty_target_dropped),
        cmocka_unit_test(test_dfuse_image_size_conventions),
        cmocka_unit_test(test_dfuse_refusals),
        cmocka_unit_test(test_dfuse_truncated),
        cmocka_unit_test(test_dfuse_overlaps),
        cmocka_unit_test(test_bin),
        cmocka_unit_test(test_not_guessed),
        cmocka_unit_test(test_hex_linear),
        cmocka_unit_test(test_hex_segment),
        cmocka_unit_test(test_hex_linear_crosses_64k),
        cmocka_unit_test(test_hex_refusals),
        cmocka_unit_test(test_detection),
        cmocka_unit_test(test_load_fd_and_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
