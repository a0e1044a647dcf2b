/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The manifest from the fixtures (tests/fixtures/manifests): the good set with its drop-ins,
 * every bad fixture with the errors it lists, rule matching and the example. Manifests the
 * tests write themselves are in test-daemon-manifest-files.c (directories, unsafe files,
 * settings) and test-daemon-manifest-firmware.c (firmware formats and bytes). */
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

#include "manifest.h"
#include "util/fileio.h"
#include "util/log.h"

#include "helpers/daemon-test.h"

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

    snprintf(path, sizeof path, "%s", manifest_fixture(name));
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
    DIR *d = opendir(manifest_fixture("bad"));
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
    snprintf(main_path, sizeof main_path, "%s", manifest_fixture("good/manifest.yaml"));
    int r = stdfu_manifest_load(main_path, manifest_fixture("good/manifest.d"), &m, &errors);
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

    assert_int_equal(stdfu_manifest_load(manifest_fixture("good/manifest.yaml"), NO_DIR, &m,
                                         &errors), 0);
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
    /* A port claimed by a damaged job record: adopting or not, the one rule with that
     * bootloader id and port; none chosen when several match. */
    assert_int_equal(stdfu_manifest_match_bootloader_any(m, 0x0483, 0xdf11, "2-1", true, &r), 0);
    assert_string_equal(r->name, "sensor-any");
    assert_int_equal(stdfu_manifest_match_bootloader_any(m, 0x0483, 0xdf11, "2-1", false, &r),
                     -ENOENT);
    assert_int_equal(stdfu_manifest_match_bootloader_any(m, 0x0483, 0xdf11, "1-1.3", true, &r),
                     -ENOTUNIQ);
    assert_int_equal(stdfu_manifest_match_bootloader_any(m, 0x1209, 0xdf11, "2-3", true, &r), 0);
    assert_string_equal(r->name, "gadget");
    stdfu_manifest_unref(m);
}

/* The shipped example follows the schema: its only errors are the firmware files it names,
 * which do not exist here. */
static void test_example(void **state) {
    stdfu_manifest *m = NULL;
    char **errors = NULL;
    size_t n = 0;
    (void) state;

    assert_int_equal(stdfu_manifest_load(manifest_fixture("../../../conf/manifest.example.yaml"),
                                         NO_DIR, &m, &errors), -EINVAL);
    for (char **e = errors; *e; e++, n++) {
        if (!strstr(*e, ": firmware.file: cannot read \""))
            print_message("unexpected: %s\n", *e);
        assert_non_null(strstr(*e, ": firmware.file: cannot read \""));
        assert_non_null(strstr(*e, "No such file or directory"));
    }
    assert_int_equal(n, 2);
    stdfu_manifest_errors_free(errors);
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}