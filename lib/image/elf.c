/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ELF executables (as arm-none-eabi-gcc/ld link them), read with elfutils' libelf.
 *
 * What a loader writes to flash is the PT_LOAD program headers' file contents placed at their
 * physical addresses (p_paddr): that is where the linker put the load image of each segment
 * (.data's initial values sit in flash at its LMA, not at its RAM address p_vaddr). Bytes of
 * p_memsz beyond p_filesz (.bss) are not in flash. The entry point becomes the image's start
 * address. Sections are not looked at: a stripped executable has none. */
#include <errno.h>
#include <gelf.h>
#include <libelf.h>
#include <stdlib.h>
#include <string.h>

#include "image/image-internal.h"
#include "util/macro.h"

static void elf_endp(Elf **e) {
    if (*e)
        elf_end(*e);
}

typedef struct segment {
    uint32_t address;
    size_t offset, size;
    size_t index;
} segment;

static int cmp_segment(const void *a, const void *b) {
    const segment *x = a, *y = b;
    return x->address < y->address ? -1 : x->address > y->address;
}

bool elf_looks_like(const uint8_t *data, size_t size) {
    return size >= 4 && memcmp(data, ELFMAG, SELFMAG) == 0;
}

int image_parse_elf(stdfu_image *img, const uint8_t *data, size_t size,
                    const stdfu_image_load_options *opts, stdfu_error *err) {
    _cleanup_(elf_endp) Elf *e = NULL;
    _cleanup_free_ segment *segs = NULL;
    size_t n_phdr = 0, n = 0;
    stdfu_target *t;
    GElf_Ehdr eh;
    int r;

    img->format = STDFU_IMAGE_ELF;
    if (elf_version(EV_CURRENT) == EV_NONE)
        return stdfu_error_set(err, -EIO, "libelf is unusable: %s", elf_errmsg(-1));
    /* libelf reads from the buffer it is given and does not write to it. */
    e = elf_memory((char *) data, size);
    if (!e || elf_kind(e) != ELF_K_ELF || !gelf_getehdr(e, &eh))
        return stdfu_error_set(err, -EINVAL, "not a valid ELF file: %s", elf_errmsg(-1));
    if (eh.e_type != ET_EXEC)
        return stdfu_error_set(err, -EINVAL, "an ELF %s, not an executable: link it first",
                               eh.e_type == ET_REL ? "object file" :
                               eh.e_type == ET_DYN ? "shared object" : "file of another type");
    if (elf_getphdrnum(e, &n_phdr) < 0)
        return stdfu_error_set(err, -EINVAL, "broken ELF program headers: %s", elf_errmsg(-1));
    segs = calloc(MAX(n_phdr, (size_t) 1), sizeof *segs);
    if (!segs)
        return stdfu_error_set(err, -ENOMEM, "Out of memory.");
    for (size_t i = 0; i < n_phdr; i++) {
        GElf_Phdr ph;
        if (!gelf_getphdr(e, (int) i, &ph))
            return stdfu_error_set(err, -EINVAL, "program header %zu is broken: %s", i,
                                   elf_errmsg(-1));
        if (ph.p_type != PT_LOAD || ph.p_filesz == 0)
            continue;
        if (ph.p_offset > size || ph.p_filesz > size - ph.p_offset)
            return stdfu_error_set(err, -EINVAL, "segment %zu (PT_LOAD at 0x%08llx) runs past "
                                   "the end of the file (truncated?)", i,
                                   (unsigned long long) ph.p_paddr);
        if (ph.p_paddr + ph.p_filesz > UINT64_C(0x100000000))
            return stdfu_error_set(err, -EINVAL, "segment %zu at 0x%llx lies beyond 4 GiB", i,
                                   (unsigned long long) ph.p_paddr);
        segs[n++] = (segment) { .address = (uint32_t) ph.p_paddr, .offset = ph.p_offset,
                                .size = ph.p_filesz, .index = i };
    }
    if (n == 0)
        return stdfu_error_set(err, -EINVAL, "no PT_LOAD segment with data");
    qsort(segs, n, sizeof *segs, cmp_segment);
    for (size_t i = 1; i < n; i++)
        if ((uint64_t) segs[i - 1].address + segs[i - 1].size > segs[i].address)
            return stdfu_error_set(err, -EINVAL, "segments %zu (0x%08x..0x%08llx) and %zu "
                                   "(0x%08x) overlap", segs[i - 1].index, segs[i - 1].address,
                                   (unsigned long long) segs[i - 1].address +
                                   segs[i - 1].size - 1, segs[i].index, segs[i].address);
    r = image_add_target(img, opts->alt, "", &t, err);
    if (r < 0)
        return r;
    /* Segments that follow each other without a gap become one element. */
    for (size_t i = 0; i < n;) {
        size_t j = i + 1, total = segs[i].size;
        while (j < n && (uint64_t) segs[i].address + total == segs[j].address)
            total += segs[j++].size;
        uint8_t *d = malloc(total);
        if (!d)
            return stdfu_error_set(err, -ENOMEM, "Out of memory.");
        for (size_t k = i, off = 0; k < j; off += segs[k].size, k++)
            memcpy(d + off, data + segs[k].offset, segs[k].size);
        r = target_add_element_owned(t, segs[i].address, d, total, err);
        if (r < 0)
            return r;
        i = j;
    }
    img->has_start_address = true;
    img->start_address = (uint32_t) eh.e_entry;
    return 0;
}
