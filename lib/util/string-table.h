/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Names of an enum's values, as a table indexed by the value:
 *     static const char *const phase_names[] = { [PHASE_ERASE] = "erase", ... };
 *     const char *phase_to_string(phase p) { return TABLE_NAME(phase_names, p, "unknown"); }
 *     int i = TABLE_INDEX(phase_names, "erase");   (-ENOENT for a name not in it)
 * Holes (values without a name) are allowed: they are NULL and never match. */

#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "util/macro.h"

static inline const char *string_table_name(const char *const *table, size_t n, long i,
                                            const char *fallback) {
    return i >= 0 && (size_t) i < n && table[i] ? table[i] : fallback;
}

static inline int string_table_index(const char *const *table, size_t n, const char *name) {
    if (!name)
        return -ENOENT;
    for (size_t i = 0; i < n; i++)
        if (table[i] && streq(table[i], name))
            return (int) i;
    return -ENOENT;
}

#define TABLE_NAME(table, i, fallback)                                                     \
    string_table_name((table), ELEMENTSOF(table), (long) (i), (fallback))
#define TABLE_INDEX(table, name) string_table_index((table), ELEMENTSOF(table), (name))
