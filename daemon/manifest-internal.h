/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Declarations shared by the manifest's source files, not part of its API (manifest.h):
 *
 *     manifest.c           the set: main file + manifest.d, rules across files, the object
 *     manifest-match.c     versions, decisions, which rule matches a device, enum names
 */

#include "manifest.h"

struct stdfu_manifest {
    unsigned n_ref;
    stdfu_rule **rules;
    size_t n_rules;
    stdfu_manifest_settings settings;
    char **files;
    size_t n_files;
};

/* The index of s in names[0..n), or -EINVAL (also for s NULL). */
int manifest_lookup_name(const char *const *names, int n, const char *s);
