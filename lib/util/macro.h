/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Small macros used everywhere: cleanup attributes instead of goto ladders, array sizes,
 * ownership transfer. Modelled on systemd's conventions (see HACKING.md). */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _printf_(fmt, args) __attribute__((format(printf, fmt, args)))
#define _noreturn_ __attribute__((noreturn))
#define _pure_ __attribute__((pure))
#define _warn_unused_result_ __attribute__((warn_unused_result))
#define _likely_(x) __builtin_expect(!!(x), 1)
#define _unlikely_(x) __builtin_expect(!!(x), 0)

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))

#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#define DIV_ROUND_UP(x, y) (((x) + (y) - 1) / (y))

/* Returns the pointer and leaves NULL behind: hands ownership out of a _cleanup_ variable. */
#define TAKE_PTR(p)                          \
    ({                                       \
        __typeof__(p) _take_ptr_tmp_ = (p); \
        (p) = NULL;                          \
        _take_ptr_tmp_;                      \
    })

#define TAKE_FD(fd)                  \
    ({                               \
        int _take_fd_tmp_ = (fd);    \
        (fd) = -EBADF;               \
        _take_fd_tmp_;               \
    })

static inline void freep(void *p) {
    free(*(void **) p);
}
#define _cleanup_free_ _cleanup_(freep)

/* free() that returns NULL, for `p = mfree(p);`. */
static inline void *mfree(void *p) {
    free(p);
    return NULL;
}

/* Frees *a and moves b into it; b is left NULL. */
#define free_and_replace(a, b)     \
    ({                             \
        free(a);                   \
        (a) = (b);                 \
        (b) = NULL;                \
        0;                         \
    })

/* Replaces *dst with a copy of s (NULL clears it). Returns 1 when the value changed, 0 when it
 * was already equal, -ENOMEM. */
static inline int free_and_strdup(char **dst, const char *s) {
    if (s == *dst || (s && *dst && __builtin_strcmp(s, *dst) == 0))
        return 0;
    char *copy = NULL;
    if (s && !(copy = strdup(s)))
        return -ENOMEM;
    free(*dst);
    *dst = copy;
    return 1;
}

static inline void closep(int *fd) {
    if (*fd >= 0) {
        int saved = errno;
        close(*fd);
        errno = saved;
    }
}
#define _cleanup_close_ _cleanup_(closep)

static inline void fclosep(FILE **f) {
    if (*f)
        fclose(*f);
}
#define _cleanup_fclose_ _cleanup_(fclosep)

/* Defines static inline void <func>p(type *p) that calls func(*p) when *p is non-NULL,
 * for use as _cleanup_(<func>p). */
#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func) \
    static inline void func##p(type *p) {       \
        if (*p)                                 \
            func(*p);                           \
    }

/* Negative errno from a libc call that sets errno and returns -1. */
static inline int negative_errno(void) {
    return errno > 0 ? -errno : -EIO;
}

static inline const char *strna(const char *s) {
    return s ? s : "n/a";
}

static inline const char *empty_to_null(const char *s) {
    return s && *s ? s : NULL;
}

static inline int streq_ptr(const char *a, const char *b) {
    if (!a || !b)
        return a == b;
    return __builtin_strcmp(a, b) == 0;
}
#define streq(a, b) (__builtin_strcmp((a), (b)) == 0)
