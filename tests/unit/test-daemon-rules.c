/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The manifest's decisions (daemon/rules.c), as pure functions of a manifest and a device's
 * facts: what a USB id is, which rule a device falls under, whether it wants an update, and
 * the job spec built for it, for each way of entering the bootloader and for a resume. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules.h"
#include "util/fileio.h"
#include "util/log.h"

#include "helpers/daemon-test.h"

/* Every rule flashes app-1.2.bin as version 1.2; they differ in what they match and how they
 * enter. Order matters: the first matching rule wins. */
static const char manifest_text[] =
    "rules:\n"
    "  - name: lab\n"
    "    port: \"1-1.*\"\n"
    "    application: {id: \"0483:5750\", serial: \"LAB*\"}\n"
    "    enter: {method: hid-feature, report: \"00 55\"}\n"
    "    retries: 4\n"
    "    timeouts: {enter: 3, leave: 5, grace: 7}\n"
    "    firmware: {file: %1$s, sha256: " SHA_12 ", version: \"1.2\", address: 0x08000000}\n"
    "  - name: sensor\n"
    "    port: \"1-*\"\n"
    "    application: {id: \"0483:5750\"}\n"
    "    enter: {method: st-hid-detach}\n"
    "    bootloader: {adopt: true}\n"
    "    firmware: {file: %1$s, sha256: " SHA_12 ", version: \"1.2\", address: 0x08000000}\n"
    "  - name: gadget\n"
    "    application: {id: \"1209:0001\"}\n"
    "    enter: {method: hid-output, report: \"02 aa 55\"}\n"
    "    bootloader: {id: \"1209:df11\", alt: 1}\n"
    "    allow-downgrade: true\n"
    "    firmware: {file: %1$s, sha256: " SHA_12 ", version: \"1.2\", address: 0x08000000}\n"
    "  - name: dfu-runtime\n"
    "    application: {id: \"1209:0002\"}\n"
    "    enter: {method: detach}\n"
    "    firmware: {file: %1$s, sha256: " SHA_12 ", version: \"1.2\", address: 0x08000000}\n"
    "  - name: stuck-only\n"
    "    port: \"3-*\"\n"
    "    application: {id: \"1209:0003\"}\n"
    "    enter: {method: none}\n"
    "    bootloader: {adopt: true}\n"
    "    firmware: {file: %1$s, sha256: " SHA_12 ", version: \"1.2\", address: 0x08000000}\n"
    "  - name: stuck-too\n"
    "    port: \"3-1\"\n"
    "    application: {id: \"1209:0004\"}\n"
    "    bootloader: {adopt: true}\n"
    "    firmware: {file: %1$s, sha256: " SHA_12 ", version: \"1.2\", address: 0x08000000}\n";

typedef struct fixture {
    char dir[64];
    stdfu_manifest *m;
} fixture;

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    char path[128], *text = NULL, **errors = NULL;

    snprintf(f->dir, sizeof f->dir, "/tmp/stdfu-rules.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(path, sizeof path, "%s/manifest.yaml", f->dir);
    assert_true(asprintf(&text, manifest_text, firmware_12()) > 0);
    assert_int_equal(write_file_atomic(path, text, strlen(text), 0644), 0);
    free(text);
    int r = stdfu_manifest_load(path, "/nonexistent/stdfu-test/manifest.d", &f->m, &errors);
    for (char **e = errors; e && *e; e++)
        print_message("%s\n", *e);
    stdfu_manifest_errors_free(errors);
    assert_int_equal(r, 0);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    char cmd[128];
    stdfu_manifest_unref(f->m);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    int r = system(cmd);
    free(f);
    return r == 0 ? 0 : -1;
}

static DeviceFacts app(const char *port, uint16_t vid, uint16_t pid, uint16_t bcd,
                       const char *serial) {
    return (DeviceFacts) { .port = port, .mode = DEVICE_APPLICATION, .vid = vid, .pid = pid,
                           .bcd_device = bcd, .serial = serial };
}

static DeviceFacts boot(const char *port, uint16_t vid, uint16_t pid) {
    return (DeviceFacts) { .port = port, .mode = DEVICE_BOOTLOADER, .vid = vid, .pid = pid };
}

static const char *rule_of(const stdfu_manifest *m, DeviceFacts f, const char *resume) {
    RulesVerdict v;
    rules_evaluate(m, &f, resume, &v);
    return v.rule ? v.rule->name : NULL;
}

static void test_classify(void **state) {
    fixture *f = *state;
    /* ST's ROM is always the bootloader, with or without rules. */
    assert_int_equal(rules_classify(NULL, 0x0483, 0xdf11, "9-9"), DEVICE_BOOTLOADER);
    assert_int_equal(rules_classify(f->m, 0x0483, 0xdf11, "9-9"), DEVICE_BOOTLOADER);
    assert_int_equal(rules_classify(NULL, 0x0483, 0x5750, "1-1"), DEVICE_ABSENT);
    assert_int_equal(rules_classify(f->m, 0x0483, 0x5750, "1-1"), DEVICE_APPLICATION);
    /* A rule's own bootloader id, on any port its glob allows. */
    assert_int_equal(rules_classify(f->m, 0x1209, 0xdf11, "2-7"), DEVICE_BOOTLOADER);
    assert_int_equal(rules_classify(f->m, 0x1209, 0x0001, "2-7"), DEVICE_APPLICATION);
    /* Port globs: sensor is 1-*, and nothing else names 0483:5750. */
    assert_int_equal(rules_classify(f->m, 0x0483, 0x5750, "2-1"), DEVICE_ABSENT);
    assert_int_equal(rules_classify(f->m, 0x1209, 0x0003, "2-1"), DEVICE_ABSENT);
    assert_int_equal(rules_classify(f->m, 0x1209, 0x0003, "3-4.1"), DEVICE_APPLICATION);
    assert_int_equal(rules_classify(f->m, 0xdead, 0xbeef, "1-1"), DEVICE_ABSENT);
}

static void test_match_by_id_port_serial(void **state) {
    fixture *f = *state;
    /* The first rule whose id, serial glob and port glob all match. */
    assert_string_equal(rule_of(f->m, app("1-1.2", 0x0483, 0x5750, 0x0100, "LAB-7"), NULL), "lab");
    assert_string_equal(rule_of(f->m, app("1-1.2", 0x0483, 0x5750, 0x0100, "FIELD-7"), NULL),
                        "sensor");
    assert_string_equal(rule_of(f->m, app("1-1.2", 0x0483, 0x5750, 0x0100, NULL), NULL),
                        "sensor");
    assert_string_equal(rule_of(f->m, app("1-3", 0x0483, 0x5750, 0x0100, "LAB-7"), NULL),
                        "sensor");
    assert_null(rule_of(f->m, app("2-3", 0x0483, 0x5750, 0x0100, "LAB-7"), NULL));
    assert_string_equal(rule_of(f->m, app("5-1", 0x1209, 0x0001, 0x0100, NULL), NULL), "gadget");
    assert_null(rule_of(f->m, app("1-1", 0x1209, 0x0009, 0x0100, NULL), NULL));
    assert_null(rule_of(NULL, app("1-1", 0x0483, 0x5750, 0x0100, NULL), NULL));
    /* Absent devices fall under nothing. */
    DeviceFacts absent = { .port = "1-1", .mode = DEVICE_ABSENT };
    assert_null(rule_of(f->m, absent, "sensor"));
}

static void test_versions_and_downgrades(void **state) {
    fixture *f = *state;
    RulesVerdict v;
    DeviceFacts d;

    d = app("1-2", 0x0483, 0x5750, 0x0101, NULL);          /* 1.1: older */
    rules_evaluate(f->m, &d, NULL, &v);
    assert_true(v.has_running);
    assert_string_equal(v.running_version, "1.1");
    assert_int_equal(v.decision, STDFU_UPDATE_NEEDED);
    assert_true(v.wants_update);

    d = app("1-2", 0x0483, 0x5750, 0x0102, NULL);          /* 1.2: the target */
    rules_evaluate(f->m, &d, NULL, &v);
    assert_int_equal(v.decision, STDFU_UPDATE_CURRENT);
    assert_false(v.wants_update);

    d = app("1-2", 0x0483, 0x5750, 0x0110, NULL);          /* 1.10: newer, no downgrade */
    rules_evaluate(f->m, &d, NULL, &v);
    assert_string_equal(v.running_version, "1.10");
    assert_int_equal(v.decision, STDFU_UPDATE_DOWNGRADE_REFUSED);
    assert_false(v.wants_update);
    char why[256];
    assert_non_null(strstr(rules_describe(&v, why, sizeof why), "1.10"));

    d = app("1-2", 0x0483, 0x5750, 0x01ff, NULL);          /* not BCD: unknown, refused */
    rules_evaluate(f->m, &d, NULL, &v);
    assert_false(v.has_running);
    assert_string_equal(v.running_version, "");
    assert_int_equal(v.decision, STDFU_UPDATE_UNKNOWN_REFUSED);
    assert_false(v.wants_update);

    d = app("2-2", 0x1209, 0x0001, 0x0300, NULL);          /* 3.0 under allow-downgrade */
    rules_evaluate(f->m, &d, NULL, &v);
    assert_int_equal(v.decision, STDFU_UPDATE_NEEDED);
    assert_true(v.wants_update);

    /* Without a rule the version is still shown, and nothing is wanted. */
    d = app("9-1", 0x4242, 0x0001, 0x0204, NULL);
    rules_evaluate(f->m, &d, NULL, &v);
    assert_null(v.rule);
    assert_string_equal(v.running_version, "2.4");
    assert_false(v.wants_update);
}

static void test_adopt(void **state) {
    fixture *f = *state;
    RulesVerdict v;
    DeviceFacts d;

    /* A bootloader on a port an adopting rule covers is flashed by that rule. */
    d = boot("1-4", 0x0483, 0xdf11);
    rules_evaluate(f->m, &d, NULL, &v);
    assert_non_null(v.rule);
    assert_string_equal(v.rule->name, "sensor");
    assert_true(v.wants_update);
    assert_string_equal(v.running_version, "");

    /* No adopting rule there: shown, never flashed by chance. */
    d = boot("2-4", 0x0483, 0xdf11);
    rules_evaluate(f->m, &d, NULL, &v);
    assert_null(v.rule);
    assert_false(v.ambiguous);
    assert_false(v.wants_update);

    /* Two adopting rules cover 3-1: ambiguous, none taken. */
    d = boot("3-1", 0x0483, 0xdf11);
    rules_evaluate(f->m, &d, NULL, &v);
    assert_null(v.rule);
    assert_true(v.ambiguous);
    assert_false(v.wants_update);
}

static void test_resume_rule_wins(void **state) {
    fixture *f = *state;
    /* An unfinished job names its rule: it takes the bootloader, adopting or not, ambiguous or
     * not. */
    assert_string_equal(rule_of(f->m, boot("2-4", 0x0483, 0xdf11), "gadget"), "gadget");
    assert_string_equal(rule_of(f->m, boot("3-1", 0x0483, 0xdf11), "stuck-too"), "stuck-too");
    /* A rule that is gone: back to adopting. */
    assert_string_equal(rule_of(f->m, boot("1-4", 0x0483, 0xdf11), "gone"), "sensor");
    /* An application is matched by its id whatever the job said. */
    assert_string_equal(rule_of(f->m, app("1-4", 0x0483, 0x5750, 0x0101, NULL), "gadget"),
                        "sensor");
}

static const char *governing(const stdfu_manifest *m, DeviceFacts f, const char *resume) {
    RulesVerdict v;
    rules_evaluate(m, &f, resume, &v);
    return rules_governing(m, &f, &v, resume);
}

static void test_governing_rule(void **state) {
    fixture *f = *state;
    DeviceFacts absent = { .port = "1-1", .mode = DEVICE_ABSENT };

    /* Present: the verdict's rule, or none. */
    assert_string_equal(governing(f->m, app("1-1.2", 0x0483, 0x5750, 0x0100, "LAB-7"), NULL),
                        "lab");
    assert_null(governing(f->m, app("2-3", 0x0483, 0x5750, 0x0100, NULL), NULL));
    assert_string_equal(governing(f->m, boot("2-4", 0x0483, 0xdf11), "gadget"), "gadget");
    assert_null(governing(f->m, boot("2-4", 0x0483, 0xdf11), NULL));
    assert_null(governing(NULL, app("1-1", 0x0483, 0x5750, 0x0100, NULL), NULL));
    /* Absent: its kept job's rule while the manifest has it (a needs-power-cycle device is
     * still that rule's), none once it is gone or without a job. */
    assert_string_equal(governing(f->m, absent, "sensor"), "sensor");
    assert_null(governing(f->m, absent, "gone"));
    assert_null(governing(f->m, absent, NULL));
    assert_null(governing(NULL, absent, "sensor"));
}

static void test_job_spec_per_enter_method(void **state) {
    fixture *f = *state;
    stdfu_error err = {};
    RulesVerdict v;
    JobSpec s;
    DeviceFacts d;

    /* hid-feature, with the rule's retries and timeouts. */
    d = app("1-1.3", 0x0483, 0x5750, 0x0101, "LAB-1");
    rules_evaluate(f->m, &d, NULL, &v);
    assert_int_equal(rules_job_spec(f->m, &d, &v, false, &s, &err), 0);
    assert_string_equal(s.port, "1-1.3");
    assert_string_equal(s.rule_name, "lab");
    assert_string_equal(s.sha256, SHA_12);
    assert_string_equal(s.target_version, "1.2");
    assert_string_equal(s.from_version, "1.1");
    assert_false(s.force);
    assert_int_equal(s.enter.kind, STDFU_ENTER_HID_FEATURE);
    assert_int_equal(s.enter.n_bytes, 2);
    assert_int_equal(s.enter.bytes[1], 0x55);
    assert_int_equal(s.app_vid, 0x0483);
    assert_int_equal(s.app_pid, 0x5750);
    assert_int_equal(s.dfu_vid, 0x0483);
    assert_int_equal(s.dfu_pid, 0xdf11);
    assert_int_equal(s.alt, 0);
    assert_int_equal(s.max_attempts, 5);
    assert_int_equal(s.enter_timeout, 3 * USEC_PER_SEC);
    assert_int_equal(s.leave_timeout, 12 * USEC_PER_SEC); /* leave + grace */
    assert_true(s.has_target_bcd);
    assert_int_equal(s.target_bcd, 0x0102);
    assert_non_null(s.image);
    assert_ptr_equal(s.manifest, f->m);       /* the image lives as long as the job */
    assert_null(s.own_image);
    job_spec_done(&s);

    /* st-hid-detach, and the rule's defaults. */
    d = app("1-3", 0x0483, 0x5750, 0x0101, NULL);
    rules_evaluate(f->m, &d, NULL, &v);
    assert_int_equal(rules_job_spec(f->m, &d, &v, false, &s, &err), 0);
    assert_int_equal(s.enter.kind, STDFU_ENTER_ST_HID_DETACH);
    assert_int_equal(s.max_attempts, STDFU_DEFAULT_RETRIES + 1);
    job_spec_done(&s);

    /* hid-output, its own bootloader id and alt. */
    d = app("2-2", 0x1209, 0x0001, 0x0101, NULL);
    rules_evaluate(f->m, &d, NULL, &v);
    assert_int_equal(rules_job_spec(f->m, &d, &v, false, &s, &err), 0);
    assert_int_equal(s.enter.kind, STDFU_ENTER_HID_OUTPUT);
    assert_int_equal(s.enter.n_bytes, 3);
    assert_int_equal(s.dfu_vid, 0x1209);
    assert_int_equal(s.dfu_pid, 0xdf11);
    assert_int_equal(s.alt, 1);
    job_spec_done(&s);

    /* DFU_DETACH. */
    d = app("2-3", 0x1209, 0x0002, 0x0101, NULL);
    rules_evaluate(f->m, &d, NULL, &v);
    assert_int_equal(rules_job_spec(f->m, &d, &v, false, &s, &err), 0);
    assert_int_equal(s.enter.kind, STDFU_ENTER_DETACH);
    job_spec_done(&s);

    /* none: found in the bootloader (adopted), nothing to enter; no version to come from. */
    d = boot("3-2", 0x0483, 0xdf11);
    rules_evaluate(f->m, &d, NULL, &v);
    assert_string_equal(v.rule->name, "stuck-only");
    assert_int_equal(rules_job_spec(f->m, &d, &v, false, &s, &err), 0);
    assert_int_equal(s.enter.kind, STDFU_ENTER_NONE);
    assert_null(s.from_version);
    job_spec_done(&s);
}

static void test_job_spec_refusals(void **state) {
    fixture *f = *state;
    stdfu_error err = {};
    RulesVerdict v;
    JobSpec s = {};
    DeviceFacts d;

    d = app("1-2", 0x0483, 0x5750, 0x0102, NULL);
    rules_evaluate(f->m, &d, NULL, &v);
    assert_int_equal(rules_job_spec(f->m, &d, &v, false, &s, &err), -EALREADY);
    assert_non_null(strstr(err.message, "already runs 1.2"));
    assert_int_equal(rules_job_spec(f->m, &d, &v, true, &s, &err), 0); /* force */
    assert_true(s.force);
    job_spec_done(&s);

    d = app("1-2", 0x0483, 0x5750, 0x0200, NULL);
    rules_evaluate(f->m, &d, NULL, &v);
    assert_int_equal(rules_job_spec(f->m, &d, &v, false, &s, &err), -EPERM);
    assert_non_null(strstr(err.message, "use force"));

    d = app("9-9", 0x4242, 0x0001, 0x0100, NULL);
    rules_evaluate(f->m, &d, NULL, &v);
    assert_int_equal(rules_job_spec(f->m, &d, &v, true, &s, &err), -ENOENT);
    assert_non_null(strstr(err.message, "No manifest rule matches device 9-9"));
}

static uint8_t *read_firmware(size_t *ret_size) {
    uint8_t *data = NULL;
    assert_int_equal(read_full_file(firmware_12(), 1 << 20, &data, ret_size), 0);
    return data;
}

static void test_job_spec_file(void **state) {
    fixture *f = *state;
    stdfu_error err = {};
    RulesVerdict v;
    JobSpec s;
    DeviceFacts d = app("1-3", 0x0483, 0x5750, 0x0101, NULL);
    size_t size;

    rules_evaluate(f->m, &d, NULL, &v);
    FileRequest req = { .version = "1.3", .has_address = true, .address = 0x08000000,
                        .format = STDFU_IMAGE_BIN };
    req.data = read_firmware(&req.size);
    size = req.size;
    assert_int_equal(rules_job_spec_file(&d, &v, &req, &s, &err), 0);
    assert_null(req.data);                      /* taken */
    assert_string_equal(s.rule_name, "file");
    assert_string_equal(s.sha256, SHA_12);
    assert_string_equal(s.target_version, "1.3");
    assert_string_equal(s.from_version, "1.1");
    assert_string_equal(s.image_address, "0x08000000");
    assert_string_equal(s.image_format, "bin");
    assert_int_equal(s.file_size, size);
    assert_non_null(s.own_image);
    assert_ptr_equal(s.image, s.own_image);
    assert_null(s.manifest);
    /* The device's rule still says how to enter. */
    assert_int_equal(s.enter.kind, STDFU_ENTER_ST_HID_DETACH);
    assert_int_equal(s.target_bcd, 0x0103);
    job_spec_done(&s);

    /* The running version again: nothing to do unless forced. */
    req = (FileRequest) { .version = "1.1", .has_address = true, .address = 0x08000000,
                          .format = STDFU_IMAGE_BIN };
    req.data = read_firmware(&req.size);
    assert_int_equal(rules_job_spec_file(&d, &v, &req, &s, &err), -EALREADY);

    /* The data has no name: with format auto (the default) what no parser takes is never
     * written raw, address or not, naming what it looks like (issue 10). */
    req = (FileRequest) { .version = "1.3", .has_address = true, .address = 0x08000000 };
    req.data = read_firmware(&req.size);
    assert_int_equal(rules_job_spec_file(&d, &v, &req, &s, &err), -EINVAL);
    assert_non_null(strstr(err.message, "refused"));
    assert_non_null(strstr(err.message, "option format \"bin\""));
    static const char text[] = "# notes\nthis is not firmware\n";
    req = (FileRequest) { .has_address = true, .address = 0x08000000, .size = sizeof text - 1 };
    req.data = malloc(req.size);
    assert_non_null(req.data);
    memcpy(req.data, text, req.size);
    assert_int_equal(rules_job_spec_file(&d, &v, &req, &s, &err), -EINVAL);
    assert_non_null(strstr(err.message, "text"));
    assert_null(req.data);
    assert_null(req.data);

    /* A raw image without an address is refused at once. */
    req = (FileRequest) { .version = "1.3", .format = STDFU_IMAGE_BIN };
    req.data = read_firmware(&req.size);
    assert_int_equal(rules_job_spec_file(&d, &v, &req, &s, &err), -EINVAL);

    req = (FileRequest) { .version = "one", .has_address = true };
    req.data = read_firmware(&req.size);
    assert_int_equal(rules_job_spec_file(&d, &v, &req, &s, &err), -EINVAL);
    assert_non_null(strstr(err.message, "not MAJOR.MINOR"));

    /* No rule: the bootloader is ST's ROM, any application. */
    d = app("9-9", 0x4242, 0x0001, 0x0100, NULL);
    rules_evaluate(f->m, &d, NULL, &v);
    req = (FileRequest) { .has_address = true, .address = 0x08000000, .format = STDFU_IMAGE_BIN };
    req.data = read_firmware(&req.size);
    assert_int_equal(rules_job_spec_file(&d, &v, &req, &s, &err), 0);
    assert_int_equal(s.app_vid, 0);
    assert_int_equal(s.dfu_vid, 0x0483);
    assert_int_equal(s.dfu_pid, 0xdf11);
    assert_null(s.target_version);
    assert_false(s.has_target_bcd);
    job_spec_done(&s);
}

/* After a restart: the record of an unfinished job becomes its spec again, or is done. */
static void test_resume_after_restart(void **state) {
    fixture *f = *state;
    stdfu_error err = {};
    stdfu_job_record rec;
    RulesVerdict v;
    JobSpec s;
    DeviceFacts d;

    stdfu_job_record_init(&rec, "2-4", "gadget", SHA_12, "1.0", "1.2");
    rec.phase = JOB_WRITING;
    rec.attempt = 2;
    rec.started_usec = 1234;

    /* Still in the bootloader: flashed again by the job's rule, forced, from 1.0. */
    d = boot("2-4", 0x0483, 0xdf11);
    rules_evaluate(f->m, &d, rec.rule, &v);
    assert_false(rules_resume_is_done(f->m, &d, &v, &rec));
    assert_int_equal(rules_resume_spec(f->m, &d, &v, &rec, NULL, 0, &s, &err), 0);
    assert_string_equal(s.rule_name, "gadget");
    assert_string_equal(s.from_version, "1.0");
    assert_int_equal(s.started, 1234);
    assert_true(s.force);
    assert_int_equal(s.enter.kind, STDFU_ENTER_HID_OUTPUT);
    job_spec_done(&s);

    /* Back in its application, running the target: done. */
    d = app("2-4", 0x1209, 0x0001, 0x0102, NULL);
    rules_evaluate(f->m, &d, rec.rule, &v);
    assert_true(rules_resume_is_done(f->m, &d, &v, &rec));
    /* With the old version: flashed again. */
    d = app("2-4", 0x1209, 0x0001, 0x0100, NULL);
    rules_evaluate(f->m, &d, rec.rule, &v);
    assert_false(rules_resume_is_done(f->m, &d, &v, &rec));

    /* The rule is gone and nothing else matches: cannot resume. */
    snprintf(rec.rule, sizeof rec.rule, "gone");
    d = boot("2-4", 0x0483, 0xdf11);
    rules_evaluate(f->m, &d, rec.rule, &v);
    assert_int_equal(rules_resume_spec(f->m, &d, &v, &rec, NULL, 0, &s, &err), -ENOENT);
    assert_non_null(strstr(err.message, "\"gone\""));

    /* An UpdateFile job resumes with its kept image and options. */
    stdfu_job_record_init(&rec, "1-3", "file", SHA_12, "1.1", "1.3");
    rec.kept_image = 1;
    snprintf(rec.image_address, sizeof rec.image_address, "0x08000000");
    d = boot("1-3", 0x0483, 0xdf11);
    rules_evaluate(f->m, &d, rec.rule, &v);
    assert_int_equal(rules_resume_spec(f->m, &d, &v, &rec, NULL, 0, &s, &err), -ENOENT);
    size_t size;
    uint8_t *image = read_firmware(&size);
    assert_int_equal(rules_resume_spec(f->m, &d, &v, &rec, image, size, &s, &err), 0);
    assert_true(s.kept_image);
    assert_string_equal(s.target_version, "1.3");
    assert_string_equal(s.from_version, "1.1");
    assert_string_equal(s.image_address, "0x08000000");
    assert_string_equal(s.image_format, ""); /* a record from before: read as then */
    job_spec_done(&s);
    /* A record that keeps its format: auto refuses the raw data, bin takes it. */
    snprintf(rec.image_format, sizeof rec.image_format, "auto");
    image = read_firmware(&size);
    assert_int_equal(rules_resume_spec(f->m, &d, &v, &rec, image, size, &s, &err), -EINVAL);
    snprintf(rec.image_format, sizeof rec.image_format, "bin");
    image = read_firmware(&size);
    assert_int_equal(rules_resume_spec(f->m, &d, &v, &rec, image, size, &s, &err), 0);
    assert_string_equal(s.image_format, "bin");
    job_spec_done(&s);
    snprintf(rec.image_format, sizeof rec.image_format, "pdf");
    image = read_firmware(&size);
    assert_int_equal(rules_resume_spec(f->m, &d, &v, &rec, image, size, &s, &err), -EINVAL);
    assert_non_null(strstr(err.message, "bad image format \"pdf\""));
    rec.image_format[0] = '\0';
    d = app("1-3", 0x0483, 0x5750, 0x0103, NULL);
    rules_evaluate(f->m, &d, rec.rule, &v);
    assert_true(rules_resume_is_done(f->m, &d, &v, &rec));
}

static void test_job_record_of_spec(void **state) {
    fixture *f = *state;
    stdfu_error err = {};
    stdfu_job_record rec;
    RulesVerdict v;
    JobSpec s;
    DeviceFacts d = app("1-3", 0x0483, 0x5750, 0x0101, NULL);

    rules_evaluate(f->m, &d, NULL, &v);
    assert_int_equal(rules_job_spec(f->m, &d, &v, false, &s, &err), 0);
    s.started = 77;
    rules_job_record(&s, &rec);
    assert_string_equal(rec.port, "1-3");
    assert_string_equal(rec.rule, "sensor");
    assert_string_equal(rec.sha256, SHA_12);
    assert_string_equal(rec.from_version, "1.1");
    assert_string_equal(rec.target_version, "1.2");
    assert_int_equal(rec.phase, JOB_QUEUED);
    assert_int_equal(rec.attempt, 1);
    assert_int_equal(rec.started_usec, 77);
    assert_int_equal(rec.kept_image, 0);
    job_spec_done(&s);
}

int main(void) {
    log_set_max_level(LOG_WARNING);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_classify, setup, teardown),
        cmocka_unit_test_setup_teardown(test_match_by_id_port_serial, setup, teardown),
        cmocka_unit_test_setup_teardown(test_versions_and_downgrades, setup, teardown),
        cmocka_unit_test_setup_teardown(test_adopt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resume_rule_wins, setup, teardown),
        cmocka_unit_test_setup_teardown(test_governing_rule, setup, teardown),
        cmocka_unit_test_setup_teardown(test_job_spec_per_enter_method, setup, teardown),
        cmocka_unit_test_setup_teardown(test_job_spec_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_job_spec_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resume_after_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_job_record_of_spec, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
