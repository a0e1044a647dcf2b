/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Loading an image (format detection, the checks every format shares) and checking it against
 * a device: ids and memory layout. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "image/image-internal.h"
#include "util/fileio.h"
#include "util/macro.h"
#include "util/string-table.h"

/* Far over any STM32's flash even as Intel hex (2.8 characters per byte). */
#define IMAGE_MAX_FILE_SIZE (256u * 1024 * 1024)

const char *stdfu_image_format_to_string(stdfu_image_format f) {
    static const char *const names[] = {
        [STDFU_IMAGE_AUTO] = "auto", [STDFU_IMAGE_DFUSE] = "dfuse", [STDFU_IMAGE_DFU] = "dfu",
        [STDFU_IMAGE_BIN] = "bin",   [STDFU_IMAGE_HEX] = "hex",   [STDFU_IMAGE_SREC] = "srec",
        [STDFU_IMAGE_ELF] = "elf",
    };
    return TABLE_NAME(names, f, "unknown");
}

int stdfu_image_format_from_string(const char *s, stdfu_image_format *ret) {
    for (stdfu_image_format f = STDFU_IMAGE_AUTO; f <= STDFU_IMAGE_ELF; f++)
        if (s && streq(s, stdfu_image_format_to_string(f))) {
            *ret = f;
            return 0;
        }
    return -EINVAL;
}

stdfu_image *stdfu_image_free(stdfu_image *img) {
    if (!img)
        return NULL;
    for (size_t i = 0; i < img->n_targets; i++) {
        for (size_t j = 0; j < img->targets[i].n_elements; j++)
            free(img->targets[i].elements[j].data);
        free(img->targets[i].elements);
    }
    free(img->targets);
    free(img->name);
    free(img);
    return NULL;
}

/* Arrays grow to the next power of two, so no capacity field is needed: when n is 0 or a power
 * of two the array is full. */
static int grow(void **array, size_t n, size_t elem_size) {
    if (n != 0 && (n & (n - 1)) != 0)
        return 0;
    void *p = reallocarray(*array, n ? n * 2 : 1, elem_size);
    if (!p)
        return -ENOMEM;
    *array = p;
    return 0;
}

int image_add_target(stdfu_image *img, uint8_t alt, const char *name, stdfu_target **ret,
                     stdfu_error *err) {
    if (grow((void **) &img->targets, img->n_targets, sizeof *img->targets) < 0)
        return stdfu_error_set(err, -ENOMEM, "Out of memory.");
    stdfu_target *t = &img->targets[img->n_targets++];
    *t = (stdfu_target) { .alt = alt };
    snprintf(t->name, sizeof t->name, "%s", name ?: "");
    *ret = t;
    return 0;
}

int target_add_element_owned(stdfu_target *t, uint32_t address, uint8_t *data, size_t size,
                             stdfu_error *err) {
    if (size == 0) { /* nothing to write; keeps "empty" checks simple */
        free(data);
        return 0;
    }
    if (size > UINT32_MAX || (uint64_t) address + size > UINT64_C(1) << 32) {
        free(data);
        return stdfu_error_set(err, -EINVAL,
                               "element at 0x%08x with %zu bytes runs past the end of the "
                               "32-bit address space",
                               address, size);
    }
    if (grow((void **) &t->elements, t->n_elements, sizeof *t->elements) < 0) {
        free(data);
        return stdfu_error_set(err, -ENOMEM, "Out of memory.");
    }
    t->elements[t->n_elements++] = (stdfu_element) {
        .address = address, .size = (uint32_t) size, .data = data };
    return 0;
}

int target_add_element(stdfu_target *t, uint32_t address, const uint8_t *data, size_t size,
                       stdfu_error *err) {
    if (size == 0)
        return 0;
    uint8_t *copy = malloc(size);
    if (!copy)
        return stdfu_error_set(err, -ENOMEM, "Out of memory.");
    memcpy(copy, data, size);
    return target_add_element_owned(t, address, copy, size, err);
}

/* Targets naming the same alt setting become one, so that a caller finds all of an alt's
 * data with stdfu_image_find_target(). */
static int merge_same_alt(stdfu_image *img, stdfu_error *err) {
    for (size_t i = 1; i < img->n_targets; i++) {
        stdfu_target *dup = &img->targets[i], *first = NULL;
        for (size_t j = 0; j < i && !first; j++)
            if (img->targets[j].alt == dup->alt)
                first = &img->targets[j];
        if (!first)
            continue;
        for (size_t k = 0; k < dup->n_elements; k++) {
            stdfu_element *e = &dup->elements[k];
            int r = target_add_element_owned(first, e->address, TAKE_PTR(e->data), e->size, err);
            if (r < 0)
                return r;
        }
        free(dup->elements);
        memmove(dup, dup + 1, (img->n_targets - i - 1) * sizeof *dup);
        img->n_targets--;
        i--;
    }
    return 0;
}

static int compare_elements(const void *a, const void *b) {
    const stdfu_element *x = a, *y = b;
    return x->address < y->address ? -1 : x->address > y->address;
}

static uint64_t element_end(const stdfu_element *e) {
    return (uint64_t) e->address + e->size;
}

static int sort_and_check_overlaps(stdfu_target *t, stdfu_error *err) {
    if (t->n_elements > 1) /* qsort() wants a non-NULL array even for 0 elements */
        qsort(t->elements, t->n_elements, sizeof *t->elements, compare_elements);
    for (size_t i = 1; i < t->n_elements; i++) {
        const stdfu_element *a = &t->elements[i - 1], *b = &t->elements[i];
        if (element_end(a) > b->address)
            return stdfu_error_set(err, -EINVAL,
                                   "element at 0x%08x..0x%08x overlaps element at "
                                   "0x%08x..0x%08x",
                                   b->address,
                                   (uint32_t) (element_end(b) - 1), a->address,
                                   (uint32_t) (element_end(a) - 1));
    }
    return 0;
}

/* A target without data (a DfuSe target with no elements, or only empty ones) would only
 * make callers flash nothing at address 0. */
static void drop_empty_targets(stdfu_image *img) {
    size_t kept = 0;
    for (size_t i = 0; i < img->n_targets; i++) {
        if (img->targets[i].n_elements == 0) {
            free(img->targets[i].elements);
            continue;
        }
        img->targets[kept++] = img->targets[i];
    }
    img->n_targets = kept;
}

/* What every format shares: one target per alt, sorted, no overlaps, not empty. */
static int image_finish(stdfu_image *img, stdfu_error *err) {
    int r = merge_same_alt(img, err);
    if (r < 0)
        return r;
    drop_empty_targets(img);
    img->total_bytes = 0;
    for (size_t i = 0; i < img->n_targets; i++) {
        r = sort_and_check_overlaps(&img->targets[i], err);
        if (r < 0) {
            if (img->n_targets > 1)
                stdfu_error_prefix(err, "target alt %u", img->targets[i].alt);
            return r;
        }
        img->total_bytes += stdfu_target_total_bytes(&img->targets[i]);
    }
    if (img->total_bytes == 0)
        return stdfu_error_set(err, -EINVAL, "empty image: there is no data to write");
    return 0;
}

static int compute_sha256(const uint8_t *data, size_t size, uint8_t out[32], stdfu_error *err) {
    unsigned len = 0;
    if (EVP_Digest(data, size, out, &len, EVP_sha256(), NULL) != 1 || len != 32)
        return stdfu_error_set(err, -EIO, "SHA-256 computation failed");
    return 0;
}

/* By content; AUTO when no parser recognises the data. */
static stdfu_image_format detect_format(const uint8_t *data, size_t size) {
    if (size >= 5 && memcmp(data, "DfuSe", 5) == 0)
        return STDFU_IMAGE_DFUSE;
    if (dfu_suffix_present(data, size))
        return STDFU_IMAGE_DFU;
    if (hex_looks_like(data, size))
        return STDFU_IMAGE_HEX;
    if (srec_looks_like(data, size))
        return STDFU_IMAGE_SREC;
    if (elf_looks_like(data, size))
        return STDFU_IMAGE_ELF;
    return STDFU_IMAGE_AUTO;
}

/* Data that no parser recognised: a raw binary only when its name says so (*.bin, or data
 * that has no name) and it is plainly nothing else; it then needs an address. A
 * file named .hex that is not hex gets the hex parser's error, which names the line. */
static int unrecognised(const stdfu_image *img, const uint8_t *data, size_t size,
                        const stdfu_image_load_options *opts, stdfu_image_format *ret,
                        stdfu_error *err) {
    bool strong, raw = image_name_has_suffix(img->name, ".bin") || opts->raw_unnamed;
    const char *advice, *what = image_sniff(data, size, &strong, &advice);

    if (!opts->has_address && (image_name_has_suffix(img->name, ".hex") ||
                               image_name_has_suffix(img->name, ".ihex")) && what &&
        streq(what, "text")) {
        *ret = STDFU_IMAGE_HEX;
        return 0;
    }
    if (what && advice)
        return stdfu_error_set(err, -EMEDIUMTYPE, "this is %s, which stdfu does not read: %s",
                               what, advice);
    if (what && (strong || !raw))
        return stdfu_error_set(err, -EMEDIUMTYPE,
                               "this is %s, not a firmware format stdfu reads (DfuSe .dfu, "
                               ".dfu with a DFU suffix, Intel .hex, S-records, an ELF "
                               "executable, raw .bin): refused", what);
    if (!raw)
        return stdfu_error_set(err, -EMEDIUMTYPE,
                               "not a DfuSe, DFU, Intel hex, S-record or ELF file, and raw "
                               "binaries are only "
                               "taken from a file named *.bin or with --format bin: refused");
    *ret = STDFU_IMAGE_BIN;
    return 0;
}

static int parse(stdfu_image *img, const uint8_t *data, size_t size,
                 const stdfu_image_load_options *opts, stdfu_error *err) {
    stdfu_image_format f = opts->format;
    int r;

    if (size == 0)
        return stdfu_error_set(err, -EINVAL, "the file is empty: there is no data to write");
    if (f == STDFU_IMAGE_AUTO)
        f = detect_format(data, size);
    if (f == STDFU_IMAGE_AUTO) {
        r = unrecognised(img, data, size, opts, &f, err);
        if (r < 0)
            return r;
    }
    if (opts->has_address && f != STDFU_IMAGE_BIN && f != STDFU_IMAGE_DFU)
        return stdfu_error_set(err, -EINVAL,
                               "%s files carry their own addresses: an address (--address "
                               "0x%08x) is refused",
                               f == STDFU_IMAGE_DFUSE ? "DfuSe" : f == STDFU_IMAGE_HEX ? "Intel hex"
                               : f == STDFU_IMAGE_SREC ? "S-record" : "ELF", opts->address);
    switch (f) {
    case STDFU_IMAGE_DFUSE: return image_parse_dfuse(img, data, size, err);
    case STDFU_IMAGE_DFU: return image_parse_dfu(img, data, size, opts, err);
    case STDFU_IMAGE_HEX: return image_parse_hex(img, data, size, opts, err);
    case STDFU_IMAGE_BIN: return image_parse_bin(img, data, size, opts, err);
    case STDFU_IMAGE_SREC: return image_parse_srec(img, data, size, opts, err);
    case STDFU_IMAGE_ELF: return image_parse_elf(img, data, size, opts, err);
    case STDFU_IMAGE_AUTO: break;
    }
    return stdfu_error_set(err, -EINVAL, "unknown image format %d", (int) f);
}

int stdfu_image_load_data(const uint8_t *data, size_t size, const char *name,
                          const stdfu_image_load_options *opts, stdfu_image **ret,
                          stdfu_error *err) {
    static const stdfu_image_load_options defaults = {};
    _cleanup_image_ stdfu_image *img = NULL;
    stdfu_error local;
    int r;

    if (!err)
        err = &local;
    stdfu_error_clear(err);
    if (!opts)
        opts = &defaults;
    img = calloc(1, sizeof *img);
    if (!img || (name && !(img->name = strdup(name))))
        return stdfu_error_set(err, -ENOMEM, "Out of memory.");
    img->vid = img->pid = img->bcd_device = 0xffff;

    r = compute_sha256(data, size, img->sha256, err);
    if (r >= 0)
        r = parse(img, data, size, opts, err);
    if (r >= 0)
        r = image_finish(img, err);
    if (r < 0) {
        if (name)
            stdfu_error_prefix(err, "%s", name);
        return r;
    }
    *ret = TAKE_PTR(img);
    return 0;
}

static int load_error(int r, const char *name, stdfu_error *err) {
    if (r == -EFBIG)
        return stdfu_error_set(err, r, "%s: file is larger than %u MiB", name,
                               IMAGE_MAX_FILE_SIZE / (1024 * 1024));
    return stdfu_error_set(err, r, "%s: cannot read: %m", name);
}

int stdfu_image_load_fd(int fd, const char *name, const stdfu_image_load_options *opts,
                        stdfu_image **ret, stdfu_error *err) {
    _cleanup_free_ uint8_t *data = NULL;
    size_t size;
    struct stat st;

    if (fstat(fd, &st) < 0)
        return load_error(negative_errno(), name ?: "firmware", err);
    if (S_ISDIR(st.st_mode))
        return load_error(-EISDIR, name ?: "firmware", err);
    int r = read_full_fd(fd, IMAGE_MAX_FILE_SIZE, &data, &size);
    if (r < 0)
        return load_error(r, name ?: "firmware", err);
    return stdfu_image_load_data(data, size, name, opts, ret, err);
}

int stdfu_image_load_file(const char *path, const stdfu_image_load_options *opts,
                          stdfu_image **ret, stdfu_error *err) {
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return load_error(negative_errno(), path, err);
    return stdfu_image_load_fd(fd, path, opts, ret, err);
}

const stdfu_target *stdfu_image_find_target(const stdfu_image *img, uint8_t alt) {
    for (size_t i = 0; i < img->n_targets; i++)
        if (img->targets[i].alt == alt)
            return &img->targets[i];
    return NULL;
}

uint32_t stdfu_target_base_address(const stdfu_target *target) {
    /* elements are sorted */
    return target->n_elements > 0 ? target->elements[0].address : 0;
}

uint64_t stdfu_target_total_bytes(const stdfu_target *target) {
    uint64_t n = 0;
    for (size_t i = 0; i < target->n_elements; i++)
        n += target->elements[i].size;
    return n;
}

/* Sets the error with the image's name in front, returns code. */
_printf_(4, 5) static int image_error(const stdfu_image *img, stdfu_error *err, int code,
                                      const char *format, ...) {
    va_list ap;
    va_start(ap, format);
    stdfu_error_setv(err, code, format, ap);
    va_end(ap);
    if (err && img && img->name)
        stdfu_error_prefix(err, "%s", img->name);
    return code;
}

int stdfu_image_check_ids(const stdfu_image *img, uint16_t vid, uint16_t pid, stdfu_error *err) {
    if (!img->has_suffix)
        return 0;
    if ((img->vid == 0xffff || img->vid == vid) && (img->pid == 0xffff || img->pid == pid))
        return 0;
    return image_error(img, err, -EINVAL,
                       "the file is for USB id %04x:%04x (DFU suffix) but the device is "
                       "%04x:%04x",
                       img->vid, img->pid, vid, pid);
}

/* The lowest and highest address a layout covers, for messages. */
static void layout_bounds(const stdfu_layout *l, uint32_t *lo, uint32_t *hi) {
    uint64_t a = UINT64_MAX, b = 0;
    for (size_t i = 0; i < l->n_runs; i++) {
        a = MIN(a, (uint64_t) l->runs[i].address);
        b = MAX(b, (uint64_t) l->runs[i].address + (uint64_t) l->runs[i].count * l->runs[i].size);
    }
    *lo = l->n_runs ? (uint32_t) a : 0;
    *hi = l->n_runs ? (uint32_t) (b - 1) : 0;
}

/* Every byte of e lies in a sector of the layout, and (if need_writable) a writable one. */
static int check_element(const stdfu_image *img, const stdfu_element *e, const stdfu_layout *l,
                         bool need_writable, stdfu_error *err) {
    uint64_t end = element_end(e), cur = e->address;
    uint32_t lo, hi;

    layout_bounds(l, &lo, &hi);
    /* Only hand-made targets can get here with that: the loaders refuse it. */
    if (end > UINT64_C(1) << 32)
        return image_error(img, err, -EINVAL,
                           "element at 0x%08x (%u bytes) runs past the 4 GiB address space",
                           e->address, e->size);
    while (cur < end) {
        const stdfu_sector_run *run = stdfu_layout_find(l, (uint32_t) cur);
        if (!run && cur == e->address)
            return image_error(img, err, -EINVAL,
                               "element at 0x%08x..0x%08x: 0x%08x is outside \"%s\" "
                               "(0x%08x..0x%08x)",
                               e->address, (uint32_t) (end - 1), (uint32_t) cur, l->name, lo, hi);
        if (!run)
            return image_error(img, err, -EINVAL,
                               "element at 0x%08x..0x%08x (%u bytes) does not fit in \"%s\": "
                               "0x%08x is past its end (0x%08x..0x%08x)",
                               e->address, (uint32_t) (end - 1), e->size, l->name,
                               (uint32_t) cur, lo, hi);
        if (need_writable && !(stdfu_layout_attr_flags(run->attr) & STDFU_SECTOR_WRITABLE)) {
            uint32_t start;
            (void) stdfu_layout_sector(l, (uint32_t) cur, &start, NULL, NULL);
            return image_error(img, err, -EPERM,
                               "element at 0x%08x..0x%08x: 0x%08x is in a read-only sector "
                               "(0x%08x, %u bytes, attribute '%c') of \"%s\"",
                               e->address, (uint32_t) (end - 1), (uint32_t) cur, start,
                               run->size, run->attr, l->name);
        }
        cur = MIN(end, (uint64_t) run->address + (uint64_t) run->count * run->size);
    }
    return 0;
}

int stdfu_image_check_layout(const stdfu_image *img, const stdfu_target *target,
                             const stdfu_layout *layout, stdfu_error *err) {
    uint64_t total = stdfu_target_total_bytes(target);
    uint32_t capacity = stdfu_layout_total_size(layout);

    if (total > capacity) {
        const stdfu_element *last = &target->elements[target->n_elements - 1];
        return image_error(img, err, -EINVAL,
                           "the image has %" PRIu64 " bytes (0x%08x..0x%08x), more than the %u "
                           "bytes of \"%s\"",
                           total, stdfu_target_base_address(target),
                           (uint32_t) (element_end(last) - 1), capacity, layout->name);
    }
    for (size_t i = 0; i < target->n_elements; i++) {
        int r = check_element(img, &target->elements[i], layout, true, err);
        if (r < 0)
            return r;
    }
    return 0;
}

typedef struct sector_list {
    stdfu_sector *a;
    size_t n;
} sector_list;

static int add_unique_sector(const stdfu_sector *s, void *userdata) {
    sector_list *list = userdata;
    /* Elements are sorted and disjoint, so a shared sector can only be the last one added. */
    if (list->n > 0 && list->a[list->n - 1].address == s->address)
        return 0;
    if (grow((void **) &list->a, list->n, sizeof *list->a) < 0)
        return -ENOMEM;
    list->a[list->n++] = *s;
    return 0;
}

int stdfu_image_target_sectors(const stdfu_image *img, const stdfu_target *target,
                               const stdfu_layout *layout, stdfu_sector **ret, size_t *ret_n,
                               stdfu_error *err) {
    sector_list list = {};
    for (size_t i = 0; i < target->n_elements; i++) {
        const stdfu_element *e = &target->elements[i];
        int r = check_element(img, e, layout, false, err);
        if (r >= 0)
            r = stdfu_layout_for_each_sector(layout, e->address, e->size, add_unique_sector,
                                             &list);
        if (r < 0) {
            free(list.a);
            if (r == -ENOMEM)
                return image_error(img, err, r, "Out of memory.");
            return r;
        }
    }
    *ret = list.a;
    *ret_n = list.n;
    return 0;
}
