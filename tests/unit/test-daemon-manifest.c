/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <elf.h>
#include "digest.h"
#include "manifest.h"
#include "util/fileio.h"
#include "util/log.h"

/* The fixtures live next to this file's directory; the tests run from the top of the tree
 * (STDFU_FIXTURES overrides). */
static const char *fixtures(void) {
    static char dir[PATH_MAX];
    const char *env = getenv("STDFU_FIXTURES");
    if (env)
        return env;
    if (!dir[0]) {
        char src[PATH_MAX];
        snprintf(src, sizeof src, "%s", __FILE__);
        snprintf(dir, sizeof dir, "%s/../fixtures/manifests", dirname(src));
    }
    return dir;
}

static const char *fixture(const char *rel) {
    static char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", fixtures(), rel);
    return path;
}

#define NO_DIR "/nonexistent/stdfu-test/manifest.d"

#define SHA_12 "982fd22544f7e947682ec2e7dab042e9adaa0c4d77e267844624ef0e6d444e4f"
#define SHA_20 "aaab07946df667276ecd16895c54915aa23a01906b4543cd5a1affde19372c6a"

static void print_errors(char **errors) {
    for (char **e = errors; e && *e; e++)
        print_message("  %s\n", *e);
}

/* ---- expected errors, written in the bad fixtures themselves --------------------------------
 *
 * A bad fixture lists what it must produce, in order, as comments:
 *     # expect: LINE:COLUMN: message
 * "{dir}" stands for the fixture's directory; a message ending in "..." is matched as a
 * prefix (for texts that lib/image words). */

static size_t read_expectations(const char *path, char ***ret) {
    char *data = NULL, dir[PATH_MAX], copy[PATH_MAX];
    size_t size, n = 0;
    char **list = NULL;

    snprintf(copy, sizeof copy, "%s", path);
    snprintf(dir, sizeof dir, "%s", dirname(copy));
    assert_int_equal(read_full_file(path, 1 << 20, (uint8_t **) &data, &size), 0);
    for (char *line = strtok(data, "\n"); line; line = strtok(NULL, "\n")) {
        const char *tag = strstr(line, "# expect: ");
        if (!tag)
            continue;
        char text[2 * PATH_MAX + 1024];
        size_t k = (size_t) snprintf(text, sizeof text, "%s:", path);
        for (const char *p = tag + strlen("# expect: "); *p && k < sizeof text - PATH_MAX; p++) {
            if (strncmp(p, "{dir}", 5) == 0) {
                k += (size_t) snprintf(text + k, sizeof text - k, "%s", dir);
                p += 4;
            } else
                text[k++] = *p;
        }
        text[k] = '\0';
        list = realloc(list, (n + 2) * sizeof *list);
        list[n++] = strdup(text);
        list[n] = NULL;
    }
    free(data);
    *ret = list;
    return n;
}

static bool error_matches(const char *expected, const char *actual) {
    size_t n = strlen(expected);
    if (n > 3 && streq(expected + n - 3, "..."))
        return strncmp(expected, actual, n - 3) == 0;
    return streq(expected, actual);
}

static void check_bad_fixture(const char *name) {
    char path[PATH_MAX], **expected = NULL, **errors = NULL;
    stdfu_manifest *m = NULL;
    size_t n_expected, n_errors = 0;

    snprintf(path, sizeof path, "%s", fixture(name));
    n_expected = read_expectations(path, &expected);

    assert_int_equal(stdfu_manifest_load(path, NO_DIR, &m, &errors), -EINVAL);
    assert_null(m);
    assert_non_null(errors);
    for (char **e = errors; *e; e++)
        n_errors++;

    bool ok = n_expected > 0 && n_errors == n_expected;
    for (size_t i = 0; ok && i < n_expected; i++)
        ok = error_matches(expected[i], errors[i]);
    if (!ok) {
        print_message("%s: expected %zu errors:\n", name, n_expected);
        print_errors(expected);
        print_message("got %zu:\n", n_errors);
        print_errors(errors);
    }
    assert_true(ok);
    stdfu_manifest_errors_free(expected);
    stdfu_manifest_errors_free(errors);
}

#define BAD_FIXTURE_TEST(fname, file)       \
    static void fname(void **state) {       \
        (void) state;                       \
        check_bad_fixture("bad/" file);     \
    }

BAD_FIXTURE_TEST(test_bad_unknown_keys, "unknown-keys.yaml")
BAD_FIXTURE_TEST(test_bad_wrong_types, "wrong-types.yaml")
BAD_FIXTURE_TEST(test_bad_missing_keys, "missing-keys.yaml")
BAD_FIXTURE_TEST(test_bad_duplicates, "duplicates.yaml")
BAD_FIXTURE_TEST(test_bad_values, "bad-values.yaml")
BAD_FIXTURE_TEST(test_bad_policy, "policy.yaml")
BAD_FIXTURE_TEST(test_bad_shadowed, "shadowed.yaml")
BAD_FIXTURE_TEST(test_bad_firmware, "firmware.yaml")
BAD_FIXTURE_TEST(test_bad_layout, "layout.yaml")
BAD_FIXTURE_TEST(test_bad_syntax, "syntax.yaml")
BAD_FIXTURE_TEST(test_bad_two_documents, "two-documents.yaml")
BAD_FIXTURE_TEST(test_bad_top_level_list, "top-level-list.yaml")
BAD_FIXTURE_TEST(test_bad_rules_not_list, "rules-not-list.yaml")
BAD_FIXTURE_TEST(test_bad_not_utf8, "not-utf8.yaml")

/* Every file in bad/ has a test above: a new fixture without one would never run. */
static void test_every_bad_fixture_listed(void **state) {
    static const char *const listed[] = {
        "unknown-keys.yaml", "wrong-types.yaml", "missing-keys.yaml", "duplicates.yaml",
        "bad-values.yaml", "policy.yaml", "shadowed.yaml", "firmware.yaml", "layout.yaml",
        "syntax.yaml", "two-documents.yaml", "top-level-list.yaml", "rules-not-list.yaml",
        "not-utf8.yaml",
    };
    DIR *d = opendir(fixture("bad"));
    struct dirent *de;
    size_t n = 0;
    (void) state;

    assert_non_null(d);
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        bool found = false;
        for (size_t i = 0; i < ELEMENTSOF(listed); i++)
            found = found || streq(listed[i], de->d_name);
        if (!found)
            print_message("bad/%s has no test\n", de->d_name);
        assert_true(found);
        n++;
    }
    closedir(d);
    assert_int_equal(n, ELEMENTSOF(listed));
}

/* ---- the good set: main file + manifest.d ------------------------------------------------- */

static stdfu_manifest *load_good(void) {
    stdfu_manifest *m = NULL;
    char **errors = NULL, main_path[PATH_MAX];
    snprintf(main_path, sizeof main_path, "%s", fixture("good/manifest.yaml"));
    int r = stdfu_manifest_load(main_path, fixture("good/manifest.d"), &m, &errors);
    print_errors(errors);
    assert_int_equal(r, 0);
    assert_null(errors);
    assert_non_null(m);
    return m;
}

static void assert_ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    assert_true(n >= k);
    assert_string_equal(s + n - k, suffix);
}

static void test_good_set(void **state) {
    stdfu_manifest *m = load_good();
    const stdfu_rule *r;
    (void) state;

    /* Order: the main file's rules (sensor-any replaced in place), then the drop-ins'. */
    assert_int_equal(stdfu_manifest_n_rules(m), 4);
    assert_string_equal(stdfu_manifest_rule(m, 0)->name, "sensor-left");
    assert_string_equal(stdfu_manifest_rule(m, 1)->name, "sensor-any");
    assert_string_equal(stdfu_manifest_rule(m, 2)->name, "gadget");
    assert_string_equal(stdfu_manifest_rule(m, 3)->name, "kiosk.printer_2");
    assert_null(stdfu_manifest_rule(m, 4));

    /* Settings: the drop-in overrides one key and keeps the other. */
    assert_int_equal(stdfu_manifest_get_settings(m)->max_parallel_jobs, 8);
    assert_int_equal(stdfu_manifest_get_settings(m)->history_size, 50);

    /* Files read, in order; hidden files and non-.yaml files are not. */
    char *const *files = stdfu_manifest_files(m);
    assert_ends_with(files[0], "good/manifest.yaml");
    assert_ends_with(files[1], "good/manifest.d/10-extra.yaml");
    assert_ends_with(files[2], "good/manifest.d/20-override.yaml");
    assert_ends_with(files[3], "good/manifest.d/30-empty.yaml");
    assert_null(files[4]);

    r = stdfu_manifest_find_rule(m, "sensor-left");
    assert_non_null(r);
    assert_ends_with(r->origin, "good/manifest.yaml:8:5");
    assert_int_equal(r->app_vid, 0x0483);
    assert_int_equal(r->app_pid, 0x5750);
    assert_string_equal(r->serial_glob, "SB-*");
    assert_string_equal(r->port_glob, "1-1.*");
    assert_int_equal(r->enter.kind, STDFU_ENTER_ST_HID_DETACH);
    assert_false(r->has_enter_report);
    assert_int_equal(r->dfu_vid, 0x0483);
    assert_int_equal(r->dfu_pid, 0xdf11);
    assert_int_equal(r->alt, 0);
    assert_string_equal(r->layout, "@Internal Flash  /0x08000000/064*0002Kg");
    assert_true(r->adopt);
    assert_ends_with(r->firmware.path, "good/../firmware/app-1.2.bin");
    assert_string_equal(r->firmware.sha256, SHA_12);
    assert_int_equal(r->firmware.size, 2048);
    assert_non_null(r->firmware.image);
    assert_int_equal(r->firmware.image->n_targets, 1);
    assert_int_equal(r->firmware.image->targets[0].elements[0].address, 0x08000000);
    assert_memory_equal(r->firmware.image->targets[0].elements[0].data, r->firmware.data, 2048);
    assert_int_equal(r->firmware.version.major, 1);
    assert_int_equal(r->firmware.version.minor, 2);
    assert_string_equal(r->firmware.version_string, "1.2");
    assert_int_equal(r->version_source, STDFU_VERSION_SOURCE_BCD_DEVICE);
    assert_int_equal(r->retries, 4);
    assert_int_equal(r->enter_timeout, 2500 * USEC_PER_MSEC);
    assert_int_equal(r->leave_timeout, 5 * USEC_PER_SEC);
    assert_int_equal(r->grace_timeout, 0);
    assert_false(r->allow_downgrade);

    /* Replaced: the drop-in's content, with defaults for what it does not say. */
    r = stdfu_manifest_find_rule(m, "sensor-any");
    assert_ends_with(r->origin, "good/manifest.d/20-override.yaml:6:5");
    assert_int_equal(r->enter.kind, STDFU_ENTER_NONE);
    assert_string_equal(r->firmware.version_string, "2.0");
    assert_string_equal(r->firmware.sha256, SHA_20);
    assert_int_equal(r->firmware.size, 3072);
    assert_null(r->port_glob);
    assert_null(r->serial_glob);
    assert_null(r->layout);
    assert_false(r->adopt);
    assert_int_equal(r->retries, STDFU_DEFAULT_RETRIES);
    assert_int_equal(r->enter_timeout, STDFU_DEFAULT_ENTER_TIMEOUT);
    assert_int_equal(r->leave_timeout, STDFU_DEFAULT_LEAVE_TIMEOUT);
    assert_int_equal(r->grace_timeout, STDFU_DEFAULT_GRACE_TIMEOUT);

    r = stdfu_manifest_find_rule(m, "gadget");
    assert_int_equal(r->enter.kind, STDFU_ENTER_HID_OUTPUT);
    assert_int_equal(r->enter.n_bytes, 3);
    assert_memory_equal(r->enter.bytes, "\x02\xaa\x55", 3);
    assert_int_equal(r->dfu_vid, 0x1209);
    assert_int_equal(r->dfu_pid, 0xdf11);
    assert_int_equal(r->alt, 1);
    assert_int_equal(r->firmware.image->format, STDFU_IMAGE_HEX);
    assert_non_null(stdfu_image_find_target(r->firmware.image, 1));
    assert_int_equal(r->version_source, STDFU_VERSION_SOURCE_BCD_DEVICE_BINARY);
    assert_true(r->allow_downgrade);

    r = stdfu_manifest_find_rule(m, "kiosk.printer_2");
    assert_int_equal(r->enter.kind, STDFU_ENTER_HID_FEATURE);
    assert_int_equal(r->enter.n_bytes, 4);
    assert_memory_equal(r->enter.bytes, "\x00\x55\x00\x00", 4);
    assert_true(r->adopt);
    assert_ends_with(r->firmware.path, "good/manifest.d/../../firmware/app-2.0.bin");

    assert_null(stdfu_manifest_find_rule(m, "nope"));
    assert_null(stdfu_manifest_find_rule(m, NULL));
    stdfu_manifest_unref(m);
}

/* The main file alone: the rule the drop-in replaces is there in its own form, its SHA-256
 * written in capitals and normalised. */
static void test_main_file_alone(void **state) {
    stdfu_manifest *m = NULL;
    char **errors = NULL;
    (void) state;

    assert_int_equal(stdfu_manifest_load(fixture("good/manifest.yaml"), NO_DIR, &m, &errors), 0);
    assert_int_equal(stdfu_manifest_n_rules(m), 3);
    const stdfu_rule *r = stdfu_manifest_find_rule(m, "sensor-any");
    assert_string_equal(r->firmware.sha256, SHA_12);
    assert_int_equal(r->enter.kind, STDFU_ENTER_AUTO);
    assert_int_equal(stdfu_manifest_get_settings(m)->max_parallel_jobs, 2);
    assert_null(stdfu_manifest_files(m)[1]);
    stdfu_manifest_unref(m);
}

static void test_nothing_at_all(void **state) {
    stdfu_manifest *m = NULL;
    char **errors = NULL;
    (void) state;

    assert_int_equal(stdfu_manifest_load("/nonexistent/stdfu-test.yaml", NO_DIR, &m, &errors), 0);
    assert_null(errors);
    assert_int_equal(stdfu_manifest_n_rules(m), 0);
    assert_null(stdfu_manifest_files(m)[0]);
    assert_int_equal(stdfu_manifest_get_settings(m)->max_parallel_jobs, 0);
    assert_null(stdfu_manifest_match_application(m, 0x0483, 0x5750, NULL, "1-1"));
    /* References: the last unref frees (ASan/valgrind would see a leak or a double free). */
    assert_ptr_equal(stdfu_manifest_ref(m), m);
    assert_null(stdfu_manifest_unref(m));
    assert_null(stdfu_manifest_unref(m));
}

static void test_match_application(void **state) {
    stdfu_manifest *m = load_good();
    (void) state;

#define MATCH(vid, pid, serial, port) stdfu_manifest_match_application(m, vid, pid, serial, port)
#define NAME(r) ((r) ? (r)->name : "(none)")
    assert_string_equal(NAME(MATCH(0x0483, 0x5750, "SB-17", "1-1.4")), "sensor-left");
    assert_string_equal(NAME(MATCH(0x0483, 0x5750, "SB-17", "1-1.4.2")), "sensor-left");
    assert_string_equal(NAME(MATCH(0x0483, 0x5750, "XX-17", "1-1.4")), "sensor-any");
    assert_string_equal(NAME(MATCH(0x0483, 0x5750, NULL, "1-1.4")), "sensor-any");
    assert_string_equal(NAME(MATCH(0x0483, 0x5750, "SB-17", "1-2")), "sensor-any");
    assert_string_equal(NAME(MATCH(0x0483, 0x5750, "SB-17", "1-1")), "sensor-any");
    assert_string_equal(NAME(MATCH(0x1209, 0x0001, NULL, "2-3")), "gadget");
    assert_string_equal(NAME(MATCH(0x1209, 0x0001, NULL, "2-5")), "(none)");
    assert_string_equal(NAME(MATCH(0x1209, 0x0001, NULL, "2-3.1")), "(none)");
    assert_string_equal(NAME(MATCH(0x0483, 0xa0a0, "x", "3-2")), "kiosk.printer_2");
    assert_string_equal(NAME(MATCH(0x0483, 0xa0a0, "x", "3-2.1")), "(none)");
    assert_string_equal(NAME(MATCH(0xdead, 0xbeef, NULL, "1-1")), "(none)");
    /* A bootloader is not an application. */
    assert_string_equal(NAME(MATCH(0x0483, 0xdf11, NULL, "1-1.4")), "(none)");
    stdfu_manifest_unref(m);
}

static void test_match_bootloader(void **state) {
    stdfu_manifest *m = load_good();
    const stdfu_rule *r = NULL;
    (void) state;

    assert_int_equal(stdfu_manifest_match_bootloader(m, 0x0483, 0xdf11, "1-1.3", &r), 0);
    assert_string_equal(r->name, "sensor-left");
    assert_int_equal(stdfu_manifest_match_bootloader(m, 0x0483, 0xdf11, "3-2", &r), 0);
    assert_string_equal(r->name, "kiosk.printer_2");
    /* sensor-any matches every port but does not adopt; gadget does not adopt. */
    assert_int_equal(stdfu_manifest_match_bootloader(m, 0x0483, 0xdf11, "2-1", &r), -ENOENT);
    assert_int_equal(stdfu_manifest_match_bootloader(m, 0x1209, 0xdf11, "2-1", &r), -ENOENT);
    assert_int_equal(stdfu_manifest_match_bootloader(m, 0x0483, 0xdf12, "1-1.3", &r), -ENOENT);
    stdfu_manifest_unref(m);
}

/* The shipped example follows the schema: its only errors are the firmware files it names,
 * which do not exist here. */
static void test_example(void **state) {
    stdfu_manifest *m = NULL;
    char **errors = NULL;
    size_t n = 0;
    (void) state;

    assert_int_equal(stdfu_manifest_load(fixture("../../../conf/manifest.example.yaml"), NO_DIR,
                                         &m, &errors), -EINVAL);
    for (char **e = errors; *e; e++, n++) {
        if (!strstr(*e, ": firmware.file: cannot read \""))
            print_message("unexpected: %s\n", *e);
        assert_non_null(strstr(*e, ": firmware.file: cannot read \""));
        assert_non_null(strstr(*e, "No such file or directory"));
    }
    assert_int_equal(n, 2);
    stdfu_manifest_errors_free(errors);
}

/* ---- manifests written by the tests -------------------------------------------------------- */

typedef struct tmp {
    char dir[64];
    char main[128];
    char d[128];
} tmp;

static int tmp_setup(void **state) {
    tmp *t = calloc(1, sizeof *t);
    snprintf(t->dir, sizeof t->dir, "/tmp/stdfu-test-manifest.XXXXXX");
    if (!mkdtemp(t->dir))
        return -1;
    snprintf(t->main, sizeof t->main, "%s/manifest.yaml", t->dir);
    snprintf(t->d, sizeof t->d, "%s/manifest.d", t->dir);
    log_set_max_level(LOG_WARNING);
    *state = t;
    return 0;
}

static int tmp_teardown(void **state) {
    tmp *t = *state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", t->dir);
    int r = system(cmd);
    free(t);
    return r == 0 ? 0 : -1;
}

_printf_(2, 3) static void write_file(const char *path, const char *format, ...) {
    char *text = NULL;
    va_list ap;
    va_start(ap, format);
    assert_true(vasprintf(&text, format, ap) >= 0);
    va_end(ap);
    assert_int_equal(write_file_atomic(path, text, strlen(text), 0644), 0);
    free(text);
}

static const char *firmware_12(void) {
    static char path[PATH_MAX];
    if (!path[0])
        assert_non_null(realpath(fixture("firmware/app-1.2.bin"), path));
    return path;
}

/* A minimal rule with the app-1.2.bin firmware (absolute path). */
static char *rule_yaml(const char *name, const char *extra) {
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

/* settings.metrics-directory: an absolute path; a drop-in overrides it like any setting. */
static void test_metrics_directory(void **state) {
    tmp *t = *state;
    stdfu_manifest *m = NULL;
    char **errors = NULL, path[256];
    char *a = rule_yaml("a", "");

    assert_int_equal(mkdir(t->d, 0755), 0);
    write_file(t->main, "settings:\n  metrics-directory: /run/metrics\nrules:\n%s", a);
    assert_int_equal(stdfu_manifest_load(t->main, t->d, &m, &errors), 0);
    assert_string_equal(stdfu_manifest_get_settings(m)->metrics_dir, "/run/metrics");
    m = stdfu_manifest_unref(m);

    snprintf(path, sizeof path, "%s/10-metrics.yaml", t->d);
    write_file(path, "settings: {metrics-directory: /var/lib/node-exporter}\n");
    assert_int_equal(stdfu_manifest_load(t->main, t->d, &m, &errors), 0);
    assert_string_equal(stdfu_manifest_get_settings(m)->metrics_dir, "/var/lib/node-exporter");
    m = stdfu_manifest_unref(m);

    /* Relative to what? Refused, naming the place and the value. */
    write_file(path, "settings: {metrics-directory: metrics}\n");
    assert_int_equal(stdfu_manifest_load(t->main, t->d, &m, &errors), -EINVAL);
    assert_non_null(errors);
    assert_non_null(strstr(errors[0], "10-metrics.yaml:1:31: settings.metrics-directory: "
                                      "expected an absolute path"));
    assert_non_null(strstr(errors[0], "not \"metrics\""));
    stdfu_manifest_errors_free(errors);
    free(a);
}

static void test_directory_order_and_duplicates(void **state) {
    tmp *t = *state;
    stdfu_manifest *m = NULL;
    char **errors = NULL, path[256], expected[512];
    char *a = rule_yaml("a", "    port: \"1-1\"\n"), *b = rule_yaml("b", "    port: \"1-2\"\n"),
         *c = rule_yaml("c", "    port: \"1-3\"\n");

    assert_int_equal(mkdir(t->d, 0755), 0);
    write_file(t->main, "rules:\n%s", a);
    /* Lexical (byte) order: "10-..." before "9-...". */
    snprintf(path, sizeof path, "%s/9-b.yaml", t->d);
    write_file(path, "rules:\n%s", b);
    snprintf(path, sizeof path, "%s/10-c.yaml", t->d);
    write_file(path, "rules:\n%s", c);
    /* Not read: a directory named *.yaml, a backup file. */
    snprintf(path, sizeof path, "%s/50-dir.yaml", t->d);
    assert_int_equal(mkdir(path, 0755), 0);
    snprintf(path, sizeof path, "%s/60-x.yaml~", t->d);
    write_file(path, "garbage: [");

    int k = stdfu_manifest_load(t->main, t->d, &m, &errors);
    print_errors(errors);
    assert_int_equal(k, 0);
    assert_int_equal(stdfu_manifest_n_rules(m), 3);
    assert_string_equal(stdfu_manifest_rule(m, 0)->name, "a");
    assert_string_equal(stdfu_manifest_rule(m, 1)->name, "c");
    assert_string_equal(stdfu_manifest_rule(m, 2)->name, "b");
    m = stdfu_manifest_unref(m);

    /* The same name in a later file, without replace: refused, pointing at both places. */
    snprintf(path, sizeof path, "%s/20-dup.yaml", t->d);
    write_file(path, "# again\nrules:\n%s", a);
    assert_int_equal(stdfu_manifest_load(t->main, t->d, &m, &errors), -EINVAL);
    assert_null(m);
    snprintf(expected, sizeof expected,
             "%s/20-dup.yaml:3:11: duplicate rule name \"a\" (also at %s:2:11); add "
             "\"replace: true\" to replace it", t->d, t->main);
    assert_non_null(errors);
    assert_string_equal(errors[0], expected);
    assert_null(errors[1]);
    stdfu_manifest_errors_free(errors);

    /* With replace: taken, in the replaced rule's place. */
    free(a);
    a = rule_yaml("a", "    replace: true\n    port: \"1-9\"\n");
    write_file(path, "rules:\n%s", a);
    assert_int_equal(stdfu_manifest_load(t->main, t->d, &m, &errors), 0);
    assert_int_equal(stdfu_manifest_n_rules(m), 3);
    assert_string_equal(stdfu_manifest_rule(m, 0)->name, "a");
    assert_string_equal(stdfu_manifest_rule(m, 0)->port_glob, "1-9");
    stdfu_manifest_unref(m);
    free(a);
    free(b);
    free(c);
}

static void test_unreadable_paths(void **state) {
    tmp *t = *state;
    stdfu_manifest *m = NULL;
    char **errors = NULL, expected[2][512];

    /* The directory is a file, the main file is a directory. */
    assert_int_equal(mkdir(t->main, 0755), 0);
    write_file(t->d, "x");
    assert_int_equal(stdfu_manifest_load(t->main, t->d, &m, &errors), -EINVAL);
    snprintf(expected[0], sizeof expected[0], "%s: cannot read: Is a directory", t->main);
    snprintf(expected[1], sizeof expected[1], "%s: cannot read directory: Not a directory", t->d);
    assert_non_null(errors);
    assert_string_equal(errors[0], expected[0]);
    assert_string_equal(errors[1], expected[1]);
    assert_null(errors[2]);
    stdfu_manifest_errors_free(errors);
    /* ret_errors may be NULL. */
    assert_int_equal(stdfu_manifest_load(t->main, t->d, &m, NULL), -EINVAL);
}

/* The daemon flashes the bytes that were validated, not whatever the file holds later. */
static void test_firmware_bytes_kept(void **state) {
    tmp *t = *state;
    stdfu_manifest *m = NULL;
    char **errors = NULL, fw[256];
    uint8_t *orig = NULL;
    size_t size;

    assert_int_equal(read_full_file(firmware_12(), 1 << 20, &orig, &size), 0);
    snprintf(fw, sizeof fw, "%s/fw.bin", t->dir);
    assert_int_equal(write_file_atomic(fw, orig, size, 0644), 0);
    write_file(t->main,
               "rules:\n"
               "  - name: a\n"
               "    application: {id: \"0483:5750\"}\n"
               "    firmware: {file: fw.bin, sha256: " SHA_12 ", version: \"1.2\", "
               "address: 0x08000000}\n");
    assert_int_equal(stdfu_manifest_load(t->main, t->d, &m, &errors), 0);
    assert_int_equal(write_file_atomic(fw, "evil", 4, 0644), 0);

    const stdfu_rule *r = stdfu_manifest_rule(m, 0);
    assert_int_equal(r->firmware.size, size);
    assert_memory_equal(r->firmware.data, orig, size);
    assert_memory_equal(r->firmware.image->targets[0].elements[0].data, orig, size);
    /* Relative to the manifest's directory. */
    assert_string_equal(r->firmware.path, fw);
    stdfu_manifest_unref(m);

    /* Loading again now sees the replaced file. */
    assert_int_equal(stdfu_manifest_load(t->main, t->d, &m, &errors), -EINVAL);
    assert_non_null(strstr(errors[0], "firmware.sha256: mismatch for \"fw.bin\": the manifest "
                                      "expects " SHA_12 ", the file has "));
    stdfu_manifest_errors_free(errors);
    free(orig);
}

/* A DFU suffix naming the bootloader (or the application) is fine. */
static void test_suffix_and_dfuse(void **state) {
    tmp *t = *state;
    stdfu_manifest *m = NULL;
    char **errors = NULL, fw[PATH_MAX];
    (void) state;

    assert_non_null(realpath(fixture("firmware/app-1.2-df11.dfu"), fw));
    write_file(t->main,
               "rules:\n"
               "  - name: a\n"
               "    application: {id: \"0483:5750\"}\n"
               "    firmware: {file: %s, sha256: "
               "63fdccbb141d576f2892c73e477c6981161d35ee8111faad5b4a76e567b8da33, "
               "version: \"1.2\", "
               "address: 0x08000000, format: dfu}\n", fw);
    int k = stdfu_manifest_load(t->main, t->d, &m, &errors);
    print_errors(errors);
    assert_int_equal(k, 0);
    const stdfu_rule *r = stdfu_manifest_rule(m, 0);
    assert_true(r->firmware.image->has_suffix);
    assert_int_equal(r->firmware.image->pid, 0xdf11);
    assert_int_equal(r->firmware.image->format, STDFU_IMAGE_DFU);
    stdfu_manifest_unref(m);

    /* A DfuSe file, checked against a layout at load time. */
    assert_non_null(realpath(fixture("firmware/app-1.2.dfu"), fw));
    write_file(t->main,
               "rules:\n"
               "  - name: a\n"
               "    application: {id: \"0483:5750\"}\n"
               "    bootloader: {layout: \"@Internal Flash  /0x08000000/064*0002Kg\"}\n"
               "    firmware: {file: %s, sha256: "
               "e1ace6235da664704cc534ab1ea5138320e95de2bc891b4a8883b181d21a2368, "
               "version: \"1.2\"}\n",
               fw);
    k = stdfu_manifest_load(t->main, t->d, &m, &errors);
    print_errors(errors);
    assert_int_equal(k, 0);
    r = stdfu_manifest_rule(m, 0);
    assert_int_equal(r->firmware.image->format, STDFU_IMAGE_DFUSE);
    assert_string_equal(r->firmware.image->targets[0].name, "Internal Flash");
    assert_int_equal(r->firmware.image->total_bytes, 2048);
    stdfu_manifest_unref(m);
}

/* app-1.2.bin as Motorola S-records at 0x08000000: S3 data, S7 start. */
static char *srec_of(const uint8_t *data, size_t size) {
    char *s = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&s, &len);
    assert_non_null(f);
    for (size_t off = 0; off <= size; off += 16) {
        size_t n = off == size ? 0 : MIN(size - off, (size_t) 16);
        uint32_t a = off == size ? 0x08000000u : 0x08000000u + (uint32_t) off;
        uint8_t rec[21] = {(uint8_t) (n + 5), a >> 24, a >> 16 & 0xff, a >> 8 & 0xff, a & 0xff};
        unsigned sum = 0;
        memcpy(rec + 5, data + off, n);
        fprintf(f, "%s", off == size ? "S7" : "S3");
        for (size_t i = 0; i < n + 5; i++) {
            fprintf(f, "%02X", rec[i]);
            sum += rec[i];
        }
        fprintf(f, "%02X\n", ~sum & 0xff);
        if (off == size)
            break;
    }
    assert_int_equal(fclose(f), 0);
    return s;
}

/* app-1.2.bin as a linked ARM executable: one PT_LOAD segment at 0x08000000. */
static uint8_t *elf_of(const uint8_t *data, size_t size, size_t *ret_size) {
    size_t off = sizeof(Elf32_Ehdr) + sizeof(Elf32_Phdr);
    uint8_t *e = calloc(1, off + size);
    assert_non_null(e);
    Elf32_Ehdr eh = {
        .e_ident = {ELFMAG0, ELFMAG1, ELFMAG2, ELFMAG3, ELFCLASS32, ELFDATA2LSB, EV_CURRENT},
        .e_type = ET_EXEC, .e_machine = EM_ARM, .e_version = EV_CURRENT,
        .e_entry = 0x08000001, .e_phoff = sizeof(Elf32_Ehdr), .e_ehsize = sizeof(Elf32_Ehdr),
        .e_phentsize = sizeof(Elf32_Phdr), .e_phnum = 1, .e_shentsize = sizeof(Elf32_Shdr),
    };
    Elf32_Phdr ph = {
        .p_type = PT_LOAD, .p_offset = (Elf32_Off) off, .p_vaddr = 0x08000000,
        .p_paddr = 0x08000000, .p_filesz = (Elf32_Word) size, .p_memsz = (Elf32_Word) size,
        .p_flags = PF_R | PF_X, .p_align = 4,
    };
    memcpy(e, &eh, sizeof eh);
    memcpy(e + sizeof eh, &ph, sizeof ph);
    memcpy(e + off, data, size);
    *ret_size = off + size;
    return e;
}

/* Loads the manifest naming file (written from data) with format fmt and extra keys. */
static int load_as(tmp *t, const char *file, const void *data, size_t size, const char *fmt,
                   const char *extra, stdfu_manifest **m, char ***errors) {
    char path[PATH_MAX], sha[65];
    snprintf(path, sizeof path, "%s/%s", t->dir, file);
    assert_int_equal(write_file_atomic(path, data, size, 0644), 0);
    stdfu_sha256_hex(data, size, sha);
    write_file(t->main,
               "rules:\n"
               "  - name: a\n"
               "    application: {id: \"0483:5750\"}\n"
               "    firmware: {file: %s, sha256: %s, version: \"1.2\", format: %s%s}\n",
               file, sha, fmt, extra);
    return stdfu_manifest_load(t->main, t->d, m, errors);
}

/* S-records and ELF executables carry their own addresses, like DfuSe and Intel hex. */
static void test_srec_and_elf(void **state) {
    tmp *t = *state;
    stdfu_manifest *m = NULL;
    char **errors = NULL;
    uint8_t *bin = NULL;
    size_t size, elf_size;

    assert_int_equal(read_full_file(firmware_12(), 1 << 20, &bin, &size), 0);
    char *srec = srec_of(bin, size);
    uint8_t *elf = elf_of(bin, size, &elf_size);
    struct { const char *file, *fmt; const void *data; size_t size; stdfu_image_format f;
             const char *what; } cases[] = {
        {"fw.srec", "srec", srec, strlen(srec), STDFU_IMAGE_SREC, "an S-record"},
        {"fw.elf", "elf", elf, elf_size, STDFU_IMAGE_ELF, "an ELF"},
    };

    for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
        int k = load_as(t, cases[i].file, cases[i].data, cases[i].size, cases[i].fmt, "", &m,
                        &errors);
        print_errors(errors);
        assert_int_equal(k, 0);
        const stdfu_rule *r = stdfu_manifest_rule(m, 0);
        assert_int_equal(r->firmware.image->format, cases[i].f);
        assert_int_equal(r->firmware.image->targets[0].elements[0].address, 0x08000000);
        assert_int_equal(r->firmware.image->total_bytes, size);
        assert_memory_equal(r->firmware.image->targets[0].elements[0].data, bin, size);
        m = stdfu_manifest_unref(m);

        /* An address as well: the address is the mistake, and the error says why. */
        assert_int_equal(load_as(t, cases[i].file, cases[i].data, cases[i].size, cases[i].fmt,
                                 ", address: 0x08000000", &m, &errors), -EINVAL);
        assert_non_null(errors);
        char expected[256];
        snprintf(expected, sizeof expected, "is %s file, which carries its own addresses",
                 cases[i].what);
        assert_non_null(strstr(errors[0], expected));
        stdfu_manifest_errors_free(errors);
    }
    free(srec);
    free(elf);
    free(bin);
}

/* differential: on unless the rule turns it off. */
static void test_differential(void **state) {
    tmp *t = *state;
    stdfu_manifest *m = NULL;
    char **errors = NULL;
    const char *extra[] = {"", "    differential: false\n", "    differential: true\n"};
    const bool expected[] = {true, false, true};

    for (size_t i = 0; i < ELEMENTSOF(extra); i++) {
        _cleanup_free_ char *rule = rule_yaml("a", extra[i]);
        write_file(t->main, "rules:\n%s", rule);
        int k = stdfu_manifest_load(t->main, t->d, &m, &errors);
        print_errors(errors);
        assert_int_equal(k, 0);
        assert_int_equal(stdfu_manifest_rule(m, 0)->differential, expected[i]);
        m = stdfu_manifest_unref(m);
    }
}

static void test_error_limit(void **state) {
    tmp *t = *state;
    stdfu_manifest *m = NULL;
    char **errors = NULL;
    FILE *f = fopen(t->main, "w");
    size_t n = 0;

    assert_non_null(f);
    fprintf(f, "rules:\n");
    for (int i = 0; i < 150; i++)
        fprintf(f, "  - {name: r%d, typo: 1}\n", i);
    fclose(f);
    assert_int_equal(stdfu_manifest_load(t->main, t->d, &m, &errors), -EINVAL);
    for (char **e = errors; *e; e++)
        n++;
    /* 150 rules * 3 errors (typo, no application, no firmware): the first 100, then a sum. */
    assert_int_equal(n, STDFU_MAX_ERRORS + 1);
    assert_string_equal(errors[STDFU_MAX_ERRORS], "... and 350 more errors");
    stdfu_manifest_errors_free(errors);
}

/* Issue 10: only regular files are read, sizes and depth are capped before libyaml, and the
 * errors of a file not readable by everyone quote nothing of it. */
static bool errors_contain(char **errors, const char *text) {
    for (char **e = errors; e && *e; e++)
        if (strstr(*e, text))
            return true;
    return false;
}

static void test_unsafe_files(void **state) {
    tmp *t = *state;
    stdfu_manifest *m = NULL;
    char **errors = NULL;

    /* A FIFO as manifest: refused at once (a blocking open or read would hang this test). */
    assert_int_equal(mkfifo(t->main, 0644), 0);
    assert_int_equal(stdfu_manifest_load(t->main, t->d, &m, &errors), -EINVAL);
    print_errors(errors);
    assert_true(errors_contain(errors, "cannot read: not a regular file"));
    stdfu_manifest_errors_free(errors);
    assert_int_equal(unlink(t->main), 0);

    /* firmware.file: /dev/zero is refused without reading it. */
    write_file(t->main, "rules:\n  - name: z\n    application: {id: \"0483:5750\"}\n"
               "    firmware: {file: /dev/zero, sha256: " SHA_12 ", version: \"1.2\", "
               "address: 0x08000000}\n");
    assert_int_equal(stdfu_manifest_load(t->main, t->d, &m, &errors), -EINVAL);
    print_errors(errors);
    assert_true(errors_contain(errors, "\"/dev/zero\": not a regular file"));
    stdfu_manifest_errors_free(errors);

    /* 400k-deep flow YAML: refused before libyaml, which would take minutes. */
    FILE *f = fopen(t->main, "w");
    assert_non_null(f);
    fputs("rules: ", f);
    for (int i = 0; i < 400000; i++)
        fputc('[', f);
    fclose(f);
    assert_int_equal(stdfu_manifest_load(t->main, t->d, &m, &errors), -EINVAL);
    print_errors(errors);
    assert_true(errors_contain(errors, ":1:72: invalid YAML: lists and mappings nested deeper "
                               "than 64 levels"));
    stdfu_manifest_errors_free(errors);
    /* Quoted brackets and comments do not count. */
    char *r = rule_yaml("q", "    # [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\n"
                        "    port: \"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
                        "[[[[[[\"\n");
    write_file(t->main, "rules:\n%s", r);
    free(r);
    int k = stdfu_manifest_load(t->main, t->d, &m, &errors);
    print_errors(errors);
    assert_false(errors_contain(errors, "nested deeper"));
    if (k == 0)
        m = stdfu_manifest_unref(m);
    stdfu_manifest_errors_free(errors);
    errors = NULL;

    /* A manifest only its owner may read (a symlink to /etc/shadow under a root daemon): the
     * errors say where and why, never what the file holds. */
    write_file(t->main, "rules:\n  - {name: r, \"root:$6$secret\": 1}\nsecret-key: x\n");
    assert_int_equal(chmod(t->main, 0600), 0);
    assert_int_equal(stdfu_manifest_load(t->main, t->d, &m, &errors), -EINVAL);
    print_errors(errors);
    assert_non_null(errors);
    assert_true(errors_contain(errors, "unknown key"));
    for (char **e = errors; *e; e++)
        assert_null(strstr(*e, "secret"));
    stdfu_manifest_errors_free(errors);
    /* Readable by everyone: quoted as before. */
    assert_int_equal(chmod(t->main, 0644), 0);
    assert_int_equal(stdfu_manifest_load(t->main, t->d, &m, &errors), -EINVAL);
    assert_true(errors_contain(errors, "secret-key"));
    stdfu_manifest_errors_free(errors);
}

static void test_bootloader_ambiguity(void **state) {
    tmp *t = *state;
    stdfu_manifest *m = NULL;
    const stdfu_rule *r = NULL;
    char **errors = NULL;
    char *a = rule_yaml("wide", "    port: \"1-*\"\n    bootloader: {adopt: true}\n");
    char *b = rule_yaml("narrow", "    port: \"1-1.*\"\n    bootloader: {adopt: true}\n"
                                  "    application: {id: \"0483:5751\"}\n");

    /* rule_yaml() already gave an application: build b by hand instead. */
    free(b);
    assert_true(asprintf(&b,
                         "  - name: narrow\n"
                         "    port: \"1-1.*\"\n"
                         "    application: {id: \"0483:5751\"}\n"
                         "    bootloader: {adopt: true}\n"
                         "    firmware: {file: %s, sha256: " SHA_12 ", version: \"1.2\", "
                         "address: 0x08000000}\n",
                         firmware_12()) >= 0);
    write_file(t->main, "rules:\n%s%s", a, b);
    int k = stdfu_manifest_load(t->main, t->d, &m, &errors);
    print_errors(errors);
    assert_int_equal(k, 0);
    assert_int_equal(stdfu_manifest_match_bootloader(m, 0x0483, 0xdf11, "1-2", &r), 0);
    assert_string_equal(r->name, "wide");
    assert_int_equal(stdfu_manifest_match_bootloader(m, 0x0483, 0xdf11, "1-1.2", &r),
                     -ENOTUNIQ);
    stdfu_manifest_unref(m);
    free(a);
    free(b);
}

static void test_check_layout_later(void **state) {
    stdfu_manifest *m = load_good();
    stdfu_error err = {0};
    (void) state;

    /* sensor-any names no layout: the daemon checks it when it meets the bootloader. */
    const stdfu_rule *r = stdfu_manifest_find_rule(m, "sensor-any");
    assert_null(r->layout);
    assert_int_equal(stdfu_rule_check_layout(r, "@Internal Flash  /0x08000000/064*0002Kg", &err),
                     0);
    assert_int_equal(stdfu_rule_check_layout(r, "@Internal Flash  /0x08000000/02*0002Kg", &err),
                     0);
    assert_true(stdfu_rule_check_layout(r, "@Internal Flash  /0x08000000/01*0002Kg", &err) < 0);
    assert_true(err.message[0] != '\0');
    stdfu_error_clear(&err);
    assert_true(stdfu_rule_check_layout(r, "@Internal Flash  /0x08000000/01*0002Ka,03*0002Kg",
                                        &err) < 0);
    stdfu_error_clear(&err);
    assert_true(stdfu_rule_check_layout(r, "not a layout", &err) < 0);
    assert_true(err.message[0] != '\0');
    stdfu_manifest_unref(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_set),
        cmocka_unit_test(test_main_file_alone),
        cmocka_unit_test(test_nothing_at_all),
        cmocka_unit_test(test_match_application),
        cmocka_unit_test(test_match_bootloader),
        cmocka_unit_test(test_check_layout_later),
        cmocka_unit_test(test_every_bad_fixture_listed),
        cmocka_unit_test(test_example),
        cmocka_unit_test(test_bad_unknown_keys),
        cmocka_unit_test(test_bad_wrong_types),
        cmocka_unit_test(test_bad_missing_keys),
        cmocka_unit_test(test_bad_duplicates),
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_bad_policy),
        cmocka_unit_test(test_bad_shadowed),
        cmocka_unit_test(test_bad_firmware),
        cmocka_unit_test(test_bad_layout),
        cmocka_unit_test(test_bad_syntax),
        cmocka_unit_test(test_bad_two_documents),
        cmocka_unit_test(test_bad_top_level_list),
        cmocka_unit_test(test_bad_rules_not_list),
        cmocka_unit_test(test_bad_not_utf8),
        cmocka_unit_test_setup_teardown(test_metrics_directory, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_directory_order_and_duplicates, tmp_setup,
                                        tmp_teardown),
        cmocka_unit_test_setup_teardown(test_unreadable_paths, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_firmware_bytes_kept, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_suffix_and_dfuse, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_srec_and_elf, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_differential, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_error_limit, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_bootloader_ambiguity, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_unsafe_files, tmp_setup, tmp_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
