/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Manifests the tests write: settings (metrics-directory), the drop-in directory's order and
 * duplicates, paths that cannot be read, the error limit, unsafe files (FIFOs, devices, files
 * the caller may not read) and bootloader rules that collide. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "manifest.h"
#include "util/fileio.h"
#include "util/log.h"

#include "helpers/daemon-test.h"

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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_metrics_directory, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_directory_order_and_duplicates, tmp_setup,
                                        tmp_teardown),
        cmocka_unit_test_setup_teardown(test_unreadable_paths, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_error_limit, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_unsafe_files, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_bootloader_ambiguity, tmp_setup, tmp_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
