/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What the daemon's unit tests share (test-daemon-*.c; include after <cmocka.h>): the manifest
 * fixtures and their firmware, and manifests written into a temporary directory. Header-only,
 * static inline: each test program takes what it uses. */

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/fileio.h"
#include "util/log.h"
#include "util/macro.h"

/* The SHA-256 of tests/fixtures/manifests/firmware/app-1.2.bin (version 1.2) and app-2.0.bin. */
#define SHA_12 "982fd22544f7e947682ec2e7dab042e9adaa0c4d77e267844624ef0e6d444e4f"
#define SHA_20 "aaab07946df667276ecd16895c54915aa23a01906b4543cd5a1affde19372c6a"

#define NO_DIR "/nonexistent/stdfu-test/manifest.d"

/* tests/fixtures/manifests, found from this header's place (the tests run from the top of the
 * tree); STDFU_FIXTURES overrides. */
static inline const char *manifest_fixtures(void) {
    static char dir[PATH_MAX - 256]; /* room for "/rel" in a PATH_MAX path */
    const char *env = getenv("STDFU_FIXTURES");
    if (env)
        return env;
    if (!dir[0]) {
        char src[PATH_MAX];
        snprintf(src, sizeof src, "%s", __FILE__);
        snprintf(dir, sizeof dir, "%s/../../fixtures/manifests", dirname(src));
    }
    return dir;
}

/* manifest_fixtures()/rel, valid until the next call (rel: a short name). */
static inline const char *manifest_fixture(const char *rel) {
    static char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", manifest_fixtures(), rel);
    return path;
}

/* The absolute path of app-1.2.bin, for manifests written elsewhere. */
static inline const char *firmware_12(void) {
    static char path[PATH_MAX];
    if (!path[0])
        assert_non_null(realpath(manifest_fixture("firmware/app-1.2.bin"), path));
    return path;
}

static inline void print_errors(char **errors) {
    for (char **e = errors; e && *e; e++)
        print_message("  %s\n", *e);
}

/* ---- manifests written by the tests ------------------------------------------------------- */

typedef struct tmp {
    char dir[64];
    char main[128]; /* DIR/manifest.yaml */
    char d[128];    /* DIR/manifest.d, not made */
} tmp;

static inline int tmp_setup(void **state) {
    tmp *t = calloc(1, sizeof *t);
    if (!t)
        return -1;
    snprintf(t->dir, sizeof t->dir, "/tmp/stdfu-test-manifest.XXXXXX");
    if (!mkdtemp(t->dir)) {
        free(t);
        return -1;
    }
    snprintf(t->main, sizeof t->main, "%s/manifest.yaml", t->dir);
    snprintf(t->d, sizeof t->d, "%s/manifest.d", t->dir);
    log_set_max_level(LOG_WARNING);
    *state = t;
    return 0;
}

static inline int tmp_teardown(void **state) {
    tmp *t = *state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", t->dir);
    int r = system(cmd);
    free(t);
    return r == 0 ? 0 : -1;
}

_printf_(2, 3) static inline void write_file(const char *path, const char *format, ...) {
    char *text = NULL;
    va_list ap;
    va_start(ap, format);
    assert_true(vasprintf(&text, format, ap) >= 0);
    va_end(ap);
    assert_int_equal(write_file_atomic(path, text, strlen(text), 0644), 0);
    free(text);
}

/* A minimal rule with the app-1.2.bin firmware (absolute path), then extra ("    key: v\n"
 * lines). Free it. */
static inline char *rule_yaml(const char *name, const char *extra) {
    char *s = NULL;
    assert_true(asprintf(&s,
                         "  - name: %s\n"
                         "    application: {id: \"0483:5750\"}\n"
                         "    firmware: {file: %s, sha256: " SHA_12 ", version: \"1.2\", "
                         "address: 0x08000000}\n"
                         "%s",
                         name, firmware_12(), extra) >= 0);
    return s;
}
