/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "image/layout.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/macro.h"

#define ADDRESS_SPACE (UINT64_C(1) << 32)

static uint64_t run_end(const stdfu_sector_run *r) {
    return (uint64_t) r->address + (uint64_t) r->count * r->size;
}

unsigned stdfu_layout_attr_flags(char attr) {
    if (attr < 'a' || attr > 'g')
        return 0;
    return (unsigned) (attr - 'a' + 1);
}

void stdfu_layout_done(stdfu_layout *l) {
    if (!l)
        return;
    free(l->runs);
    l->runs = NULL;
    l->n_runs = 0;
    l->name[0] = '\0';
}

/* The parser walks the string once; tokens are (pointer, length) views into it. */
typedef struct parser {
    const char *whole;
    stdfu_layout *layout;
    size_t allocated;
    stdfu_error *err;
} parser;

static int token_error(parser *p, const char *what, const char *tok, size_t len,
                       const char *why) {
    return stdfu_error_set(p->err, -EINVAL, "%s \"%.*s\" in memory layout \"%s\": %s", what,
                           (int) len, tok, p->whole, why);
}

/* Decimal digits only (the ROM pads with zeros: "016" is sixteen, not octal). */
static int parse_decimal(const char **s, uint32_t *ret) {
    uint64_t v = 0;
    const char *q = *s;

    if (!isdigit((unsigned char) *q))
        return -EINVAL;
    for (; isdigit((unsigned char) *q); q++) {
        v = v * 10 + (uint64_t) (*q - '0');
        if (v > UINT32_MAX)
            return -ERANGE;
    }
    *s = q;
    *ret = (uint32_t) v;
    return 0;
}

static int parse_address(parser *p, const char *tok, size_t len, uint32_t *ret) {
    uint64_t v = 0;

    if (len < 3 || tok[0] != '0' || (tok[1] != 'x' && tok[1] != 'X'))
        return token_error(p, "segment address", tok, len, "expected 0x and hex digits");
    if (len > 10)
        return token_error(p, "segment address", tok, len, "more than 32 bits");
    for (size_t i = 2; i < len; i++) {
        if (!isxdigit((unsigned char) tok[i]))
            return token_error(p, "segment address", tok, len, "expected 0x and hex digits");
        char c = (char) tolower((unsigned char) tok[i]);
        v = v * 16 + (uint64_t) (isdigit((unsigned char) c) ? c - '0' : c - 'a' + 10);
    }
    *ret = (uint32_t) v;
    return 0;
}

static int add_run(parser *p, const stdfu_sector_run *run) {
    stdfu_layout *l = p->layout;
    if (l->n_runs == p->allocated) {
        size_t n = MAX(p->allocated * 2, (size_t) 4);
        stdfu_sector_run *a = reallocarray(l->runs, n, sizeof *a);
        if (!a)
            return stdfu_error_set(p->err, -ENOMEM, "Out of memory.");
        l->runs = a;
        p->allocated = n;
    }
    l->runs[l->n_runs++] = *run;
    return 0;
}

/* "04*016Kg" at *address; moves *address past the run. */
static int parse_run(parser *p, const char *tok, size_t len, uint64_t *address) {
    static const char expected[] = "expected COUNT*SIZE[B|K|M| ]ATTR, e.g. 04*016Kg";
    _cleanup_free_ char *s = strndup(tok, len);
    stdfu_sector_run run = { .address = (uint32_t) *address };
    const char *q;
    uint32_t unit = 1;

    if (!s)
        return stdfu_error_set(p->err, -ENOMEM, "Out of memory.");
    q = s;
    if (parse_decimal(&q, &run.count) < 0 || *q++ != '*' || parse_decimal(&q, &run.size) < 0)
        return token_error(p, "sector run", tok, len, expected);
    switch (*q) {
    case 'K': unit = 1024; q++; break;
    case 'M': unit = 1024 * 1024; q++; break;
    case 'B': case ' ': q++; break;
    default: break;
    }
    if (*q == '\0')
        return token_error(p, "sector run", tok, len, "no attribute letter (a..g) at the end");
    if (!stdfu_layout_attr_flags(*q))
        return token_error(p, "sector run", tok, len,
                           "unit must be B, K, M or a space and the attribute a..g");
    run.attr = *q++;
    if (*q != '\0')
        return token_error(p, "sector run", tok, len, expected);
    if (run.count == 0 || run.size == 0)
        return token_error(p, "sector run", tok, len, "zero sectors or zero-sized sectors");
    if ((uint64_t) run.size * unit > UINT32_MAX)
        return token_error(p, "sector run", tok, len, "sector size over 4 GiB");
    run.size *= unit;
    if (*address + (uint64_t) run.count * run.size > ADDRESS_SPACE)
        return token_error(p, "sector run", tok, len, "ends past the 32-bit address space");
    *address = run_end(&run);
    return add_run(p, &run);
}

/* "/0x08000000/04*016Kg,01*064Kg" starting at the '/'. Returns where it stopped. */
static int parse_segment(parser *p, const char **s) {
    const char *q = *s + 1, *slash = strchr(q, '/');
    uint32_t start = 0;
    uint64_t address;
    int r;

    if (!slash)
        return token_error(p, "segment", *s, strlen(*s), "expected /ADDRESS/SECTORS");
    r = parse_address(p, q, (size_t) (slash - q), &start);
    if (r < 0)
        return r;
    address = start;
    q = slash + 1;
    for (;;) {
        while (*q == ' ' || *q == '\t')
            q++;
        size_t len = strcspn(q, ",/");
        if (len == 0)
            return token_error(p, "sector run", q, 0,
                               *q == ',' ? "empty run before ','" : "missing after the address");
        r = parse_run(p, q, len, &address);
        if (r < 0)
            return r;
        q += len;
        if (*q != ',')
            break;
        q++;
    }
    *s = q;
    return 0;
}

static int check_overlaps(parser *p) {
    const stdfu_layout *l = p->layout;
    for (size_t i = 0; i < l->n_runs; i++)
        for (size_t j = i + 1; j < l->n_runs; j++) {
            const stdfu_sector_run *a = &l->runs[i], *b = &l->runs[j];
            if (a->address < run_end(b) && b->address < run_end(a))
                return stdfu_error_set(p->err, -EINVAL,
                                       "memory layout \"%s\": sectors at 0x%08x overlap sectors "
                                       "at 0x%08x",
                                       p->whole, b->address, a->address);
        }
    return 0;
}

static void set_name(stdfu_layout *l, const char *s, size_t len) {
    while (len > 0 && isspace((unsigned char) *s))
        s++, len--;
    while (len > 0 && isspace((unsigned char) s[len - 1]))
        len--;
    len = MIN(len, sizeof l->name - 1);
    memcpy(l->name, s, len);
    l->name[len] = '\0';
}

int stdfu_layout_parse(const char *s, stdfu_layout *ret, stdfu_error *err) {
    _cleanup_free_ char *copy = NULL;
    _cleanup_layout_ stdfu_layout l = {};
    parser p = { .whole = s, .layout = &l, .err = err };
    const char *q;
    int r;

    if (!s)
        return stdfu_error_set(err, -EINVAL, "no memory layout string");
    if (s[0] != '@')
        return stdfu_error_set(err, -EINVAL, "memory layout \"%s\" does not start with '@'", s);
    /* Trailing blanks (some ROMs pad the string) are not part of the last run. */
    copy = strdup(s + 1);
    if (!copy)
        return stdfu_error_set(err, -ENOMEM, "Out of memory.");
    for (size_t n = strlen(copy); n > 0 && isspace((unsigned char) copy[n - 1]); n--)
        copy[n - 1] = '\0';

    q = strchr(copy, '/');
    if (!q)
        return stdfu_error_set(err, -EINVAL,
                               "memory layout \"%s\" has no \"/ADDRESS/SECTORS\" part", s);
    set_name(&l, copy, (size_t) (q - copy));
    while (*q == '/') {
        r = parse_segment(&p, &q);
        if (r < 0)
            return r;
    }
    if (*q != '\0')
        return token_error(&p, "text", q, strlen(q), "unexpected after the sector runs");
    r = check_overlaps(&p);
    if (r < 0)
        return r;
    *ret = l;
    l = (stdfu_layout) {};
    return 0;
}

const stdfu_sector_run *stdfu_layout_find(const stdfu_layout *l, uint32_t addr) {
    for (size_t i = 0; i < l->n_runs; i++)
        if (addr >= l->runs[i].address && addr < run_end(&l->runs[i]))
            return &l->runs[i];
    return NULL;
}

int stdfu_layout_sector(const stdfu_layout *l, uint32_t addr, uint32_t *start, uint32_t *size,
                        unsigned *flags) {
    const stdfu_sector_run *r = stdfu_layout_find(l, addr);
    if (!r)
        return -ERANGE;
    if (start)
        *start = r->address + (addr - r->address) / r->size * r->size;
    if (size)
        *size = r->size;
    if (flags)
        *flags = stdfu_layout_attr_flags(r->attr);
    return 0;
}

uint32_t stdfu_layout_total_size(const stdfu_layout *l) {
    uint64_t total = 0;
    for (size_t i = 0; i < l->n_runs; i++)
        total += (uint64_t) l->runs[i].count * l->runs[i].size;
    return (uint32_t) MIN(total, (uint64_t) UINT32_MAX);
}

/* Walks the sectors of [address, end); cb NULL only checks that every byte is covered. */
static int walk_sectors(const stdfu_layout *l, uint64_t address, uint64_t end, stdfu_sector_cb cb,
                        void *userdata) {
    while (address < end) {
        stdfu_sector s;
        int r = stdfu_layout_sector(l, (uint32_t) address, &s.address, &s.size, &s.flags);
        if (r < 0)
            return r;
        if (cb) {
            r = cb(&s, userdata);
            if (r != 0)
                return r;
        }
        address = (uint64_t) s.address + s.size;
    }
    return 0;
}

int stdfu_layout_for_each_sector(const stdfu_layout *l, uint32_t address, uint32_t size,
                                 stdfu_sector_cb cb, void *userdata) {
    uint64_t end = (uint64_t) address + size;
    int r = walk_sectors(l, address, end, NULL, NULL);
    if (r < 0)
        return r;
    return walk_sectors(l, address, end, cb, userdata);
}

typedef struct sector_array {
    stdfu_sector *a;
    size_t n, allocated;
} sector_array;

static int append_sector(const stdfu_sector *s, void *userdata) {
    sector_array *arr = userdata;
    if (arr->n == arr->allocated) {
        size_t n = MAX(arr->allocated * 2, (size_t) 8);
        stdfu_sector *a = reallocarray(arr->a, n, sizeof *a);
        if (!a)
            return -ENOMEM;
        arr->a = a;
        arr->allocated = n;
    }
    arr->a[arr->n++] = *s;
    return 0;
}

int stdfu_layout_sectors(const stdfu_layout *l, uint32_t address, uint32_t size,
                         stdfu_sector **ret, size_t *ret_n) {
    sector_array arr = {};
    int r = stdfu_layout_for_each_sector(l, address, size, append_sector, &arr);
    if (r < 0) {
        free(arr.a);
        return r;
    }
    *ret = arr.a;
    *ret_n = arr.n;
    return 0;
}

static void format_size(char *buf, size_t size, uint32_t bytes) {
    if (bytes % (1024 * 1024) == 0)
        snprintf(buf, size, "%u MiB", bytes / (1024 * 1024));
    else if (bytes % 1024 == 0)
        snprintf(buf, size, "%u KiB", bytes / 1024);
    else
        snprintf(buf, size, "%u bytes", bytes);
}

static void format_flags(char *buf, size_t size, unsigned flags) {
    static const char *const names[] = { "readable", "erasable", "writable" };
    size_t n = 0;
    buf[0] = '\0';
    for (unsigned i = 0; i < ELEMENTSOF(names); i++)
        if (flags & (1u << i))
            n += (size_t) snprintf(buf + n, size - MIN(n, size), "%s%s", n ? ", " : "", names[i]);
}

int stdfu_layout_format(const stdfu_layout *l, char *buf, size_t size) {
    size_t n = 0;
    for (size_t i = 0; i < l->n_runs; i++) {
        const stdfu_sector_run *r = &l->runs[i];
        char sz[32], fl[64];
        format_size(sz, sizeof sz, r->size);
        format_flags(fl, sizeof fl, stdfu_layout_attr_flags(r->attr));
        int k = snprintf(buf ? buf + MIN(n, size) : NULL, size - MIN(n, size),
                         "0x%08x  %u x %s (%s)\n", r->address, r->count, sz, fl);
        if (k < 0)
            return -errno;
        n += (size_t) k;
    }
    if (size > 0 && l->n_runs == 0)
        buf[0] = '\0';
    return (int) MIN(n, (size_t) INT32_MAX);
}
