/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Data of a line-oriented record format (Intel hex, Motorola S-records) gathered by address:
 * records usually come in address order, so a chunk grows record after record; at the end the
 * chunks are sorted, overlaps refused with the lines they came from, and contiguous ones joined
 * into one element each. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "image/image-internal.h"
#include "util/macro.h"

void image_records_done(image_records *r) {
    for (size_t i = 0; i < r->n_chunks; i++)
        free(r->chunks[i].data);
    free(r->chunks);
    *r = (image_records) {};
}

static image_chunk *chunk_at(image_records *r, uint32_t address, unsigned line) {
    image_chunk *c = r->n_chunks ? &r->chunks[r->n_chunks - 1] : NULL;

    if (c && (uint64_t) c->address + c->size == address)
        return c;
    /* Grown by doubling at each power of two. */
    if (r->n_chunks == 0 || (r->n_chunks & (r->n_chunks - 1)) == 0) {
        image_chunk *a = reallocarray(r->chunks, r->n_chunks ? r->n_chunks * 2 : 1, sizeof *a);
        if (!a)
            return NULL;
        r->chunks = a;
    }
    c = &r->chunks[r->n_chunks++];
    *c = (image_chunk) { .address = address, .first_line = line };
    return c;
}

int image_records_add(image_records *r, uint32_t address, const uint8_t *data, size_t n,
                      unsigned line) {
    if (n == 0)
        return 0;
    image_chunk *c = chunk_at(r, address, line);
    if (!c)
        return -ENOMEM;
    if (c->size + n > c->allocated) {
        size_t m = MAX(MAX(c->allocated * 2, (size_t) 256), c->size + n);
        uint8_t *d = realloc(c->data, m);
        if (!d)
            return -ENOMEM;
        c->data = d;
        c->allocated = m;
    }
    memcpy(c->data + c->size, data, n);
    c->size += n;
    c->last_line = line;
    return 0;
}

static int compare_chunks(const void *a, const void *b) {
    const image_chunk *x = a, *y = b;
    if (x->address != y->address)
        return x->address < y->address ? -1 : 1;
    return x->first_line < y->first_line ? -1 : x->first_line > y->first_line;
}

static int check_overlaps(const image_records *r, stdfu_error *err) {
    for (size_t i = 1; i < r->n_chunks; i++) {
        const image_chunk *prev = &r->chunks[i - 1], *c = &r->chunks[i];
        uint64_t end = (uint64_t) prev->address + prev->size;
        if (c->address < end)
            return stdfu_error_set(err, -EINVAL,
                                   "line %u: data at 0x%08x overlaps data at 0x%08x..0x%08x "
                                   "from lines %u-%u", MAX(c->first_line, prev->first_line),
                                   c->address, prev->address, (uint32_t) (end - 1),
                                   prev->first_line, prev->last_line);
    }
    return 0;
}

int image_records_to_target(image_records *r, stdfu_target *t, stdfu_error *err) {
    qsort(r->chunks, r->n_chunks, sizeof *r->chunks, compare_chunks);
    int ret = check_overlaps(r, err);
    if (ret < 0)
        return ret;
    for (size_t i = 0; i < r->n_chunks;) {
        size_t j = i + 1, total = r->chunks[i].size;
        while (j < r->n_chunks && (uint64_t) r->chunks[i].address + total == r->chunks[j].address)
            total += r->chunks[j++].size;
        uint8_t *data = malloc(total);
        if (!data)
            return stdfu_error_set(err, -ENOMEM, "Out of memory.");
        for (size_t k = i, off = 0; k < j; off += r->chunks[k].size, k++)
            memcpy(data + off, r->chunks[k].data, r->chunks[k].size);
        ret = target_add_element_owned(t, r->chunks[i].address, data, total, err);
        if (ret < 0)
            return ret;
        i = j;
    }
    return 0;
}
