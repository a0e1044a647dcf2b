/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The pieces of stdfuctl's D-Bus commands that need no bus: what a device line says, the
 * table, which states are still running, outcomes and D-Bus errors to exit codes and
 * messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "monitor.h"
#include "table.h"

static device_props props(const char *state) {
    device_props p = {
        .port = (char *) "1-1.4",
        .product = (char *) "Sensor",
        .mode = (char *) "application",
        .running_version = (char *) "1.2",
        .target_version = (char *) "1.3",
        .state = (char *) state,
        .last_error = (char *) "",
    };
    return p;
}

static void test_detail(void **state) {
    char buf[256];
    device_props p = props("writing");
    (void) state;

    p.progress = 50;
    p.bytes_done = 32768;
    p.bytes_total = 65536;
    monitor_format_detail(&p, 0, buf, sizeof buf);
    assert_string_equal(buf, "writing  50%  32.0/64.0 KiB");
    /* With the time since the phase began: the rate and the time left (progress.c). */
    monitor_format_detail(&p, 2 * USEC_PER_SEC, buf, sizeof buf);
    assert_string_equal(buf, "writing  50%  32.0/64.0 KiB  16.0 KiB/s  0:02 left");
    p.attempt = 2;
    monitor_format_detail(&p, 0, buf, sizeof buf);
    assert_string_equal(buf, "writing  50%  32.0/64.0 KiB (attempt 2)");

    p = props("queued");
    monitor_format_detail(&p, 0, buf, sizeof buf);
    assert_string_equal(buf, "queued, 1.2 -> 1.3");
    p = props("idle");
    monitor_format_detail(&p, 0, buf, sizeof buf);
    assert_string_equal(buf, "idle, runs 1.2 (target 1.3)");
    p.mode = (char *) "absent";
    monitor_format_detail(&p, 0, buf, sizeof buf);
    assert_string_equal(buf, "idle, absent");
    p = props("failed");
    p.last_error = (char *) "errWRITE at block 3";
    monitor_format_detail(&p, 0, buf, sizeof buf);
    assert_string_equal(buf, "failed: errWRITE at block 3");
    p = props("needs-power-cycle");
    monitor_format_detail(&p, 0, buf, sizeof buf);
    assert_string_equal(buf, "needs a power cycle (unplug and replug it)");
    p = props("done");
    p.running_version = (char *) "1.3";
    monitor_format_detail(&p, 0, buf, sizeof buf);
    assert_string_equal(buf, "done, runs 1.3");
    p = props(NULL);
    monitor_format_detail(&p, 0, buf, sizeof buf);
    assert_string_equal(buf, "unknown");
}

static void test_line(void **state) {
    char buf[256];
    device_props p = props("erasing");
    (void) state;

    p.progress = 25;
    p.bytes_done = 1024;
    p.bytes_total = 4096;
    /* The bar is the whole update: erasing is 5% to 30% of it, 25% through is 11%. */
    monitor_format_line(&p, 8, 0, 0, buf, sizeof buf);
    /* The one percentage shown is the bar's. */
    assert_string_equal(buf, "1-1.4     [##..................]  11%  erasing  1.0/4.0 KiB");
    monitor_format_line(&p, 5, 4, 0, buf, sizeof buf);
    assert_string_equal(buf, "1-1.4  Sens  [##..................]  11%  erasing  1.0/4.0 KiB");
    p = props("writing");
    p.progress = 100;
    monitor_format_line(&p, 5, 0, 0, buf, sizeof buf);
    assert_string_equal(buf, "1-1.4  [###############.....]  75%  writing");
    /* Past the byte phases the bar stays near full, whatever Progress says. */
    p = props("waiting");
    p.progress = 0;
    monitor_format_line(&p, 5, 0, 0, buf, sizeof buf);
    assert_string_equal(buf,
                        "1-1.4  [###################.]  95%  waiting for the application to come back");
    /* A finished device has a full bar whatever Progress says; an idle one an empty bar. */
    p = props("done");
    monitor_format_line(&p, 5, 0, 0, buf, sizeof buf);
    assert_string_equal(buf, "1-1.4  [####################] 100%  done, runs 1.2");
    p = props("idle");
    p.progress = 100;
    monitor_format_line(&p, 5, 0, 0, buf, sizeof buf);
    assert_string_equal(buf, "1-1.4  [....................]   0%  idle, runs 1.2 (target 1.3)");
}

static void test_active_states(void **state) {
    static const char *const active[] = { "queued",  "entering", "erasing", "writing",
                                           "verifying", "leaving", "waiting", "recovering" };
    static const char *const settled[] = { "idle", "done", "failed", "needs-power-cycle",
                                           "cancelled", "", "bogus" };
    (void) state;

    for (size_t i = 0; i < ELEMENTSOF(active); i++)
        assert_true(device_state_is_active(active[i]));
    for (size_t i = 0; i < ELEMENTSOF(settled); i++)
        assert_false(device_state_is_active(settled[i]));
    assert_false(device_state_is_active(NULL));
}

static void test_outcomes(void **state) {
    (void) state;
    assert_int_equal(stdfuctl_outcome_to_exit("done"), STDFU_EXIT_OK);
    assert_int_equal(stdfuctl_outcome_to_exit("failed"), STDFU_EXIT_UPDATE_FAILED);
    assert_int_equal(stdfuctl_outcome_to_exit("needs-power-cycle"),
                     STDFU_EXIT_NEEDS_POWER_CYCLE);
    assert_int_equal(stdfuctl_outcome_to_exit("cancelled"), STDFU_EXIT_CANCELLED);
    assert_int_equal(stdfuctl_outcome_to_exit("something-new"), STDFU_EXIT_FAILURE);
    assert_int_equal(stdfuctl_outcome_to_exit(NULL), STDFU_EXIT_FAILURE);
}

static void test_errors(void **state) {
    sd_bus_error e = SD_BUS_ERROR_NULL;
    char buf[256];
    (void) state;

    sd_bus_error_set(&e, SD_BUS_ERROR_SERVICE_UNKNOWN, "The name io.stdfu1 was not provided");
    assert_int_equal(stdfuctl_bus_error_to_exit(&e, -EIO, "ListDevices"), STDFU_EXIT_NO_DAEMON);
    assert_string_equal(stdfuctl_bus_error_message(&e, -EIO, "ListDevices", NULL, buf, sizeof buf),
                        "stdfud is not running on the system bus (io.stdfu1 not found)");
    sd_bus_error_free(&e);

    sd_bus_error_set(&e, SD_BUS_ERROR_ACCESS_DENIED, "Rejected send message, 1 matched rules");
    assert_int_equal(stdfuctl_bus_error_to_exit(&e, -EACCES, "Update"), STDFU_EXIT_ACCESS_DENIED);
    assert_string_equal(stdfuctl_bus_error_message(&e, -EACCES, "Update", "1-1.4", buf, sizeof buf),
                        "permission denied: Update needs root or group stdfu");
    sd_bus_error_free(&e);

    /* stdfud's own refusal names who decided: shown as it is. */
    sd_bus_error_set(&e, SD_BUS_ERROR_ACCESS_DENIED,
                     "Reload is not authorized (polkit action io.stdfu1.reload).");
    assert_int_equal(stdfuctl_bus_error_to_exit(&e, -EACCES, "Reload"), STDFU_EXIT_ACCESS_DENIED);
    assert_string_equal(stdfuctl_bus_error_message(&e, -EACCES, "Reload", NULL, buf, sizeof buf),
                        "permission denied: Reload is not authorized (polkit action "
                        "io.stdfu1.reload)");
    sd_bus_error_free(&e);

    sd_bus_error_set(&e, STDFU_ERROR_NO_SUCH_DEVICE, "No device \"9-9\".");
    assert_int_equal(stdfuctl_bus_error_to_exit(&e, -ENXIO, "Update"), STDFU_EXIT_NO_DEVICE);
    /* The daemon's sentence, after the device, without its final period. */
    assert_string_equal(stdfuctl_bus_error_message(&e, -ENXIO, "Update", "9-9", buf, sizeof buf),
                        "9-9: No device \"9-9\"");
    sd_bus_error_free(&e);

    sd_bus_error_set(&e, STDFU_ERROR_BUSY, "Device 1-1.4 already has a job (writing).");
    assert_int_equal(stdfuctl_bus_error_to_exit(&e, -EBUSY, "Update"), STDFU_EXIT_BUSY);
    sd_bus_error_free(&e);

    /* InvalidArgs is about the image only for UpdateFile. */
    sd_bus_error_set(&e, SD_BUS_ERROR_INVALID_ARGS, "firmware: not a DfuSe file");
    assert_int_equal(stdfuctl_bus_error_to_exit(&e, -EINVAL, "UpdateFile"), STDFU_EXIT_BAD_FILE);
    assert_int_equal(stdfuctl_bus_error_to_exit(&e, -EINVAL, "Update"), STDFU_EXIT_FAILURE);
    sd_bus_error_free(&e);

    /* No error name at all: the errno. */
    assert_int_equal(stdfuctl_bus_error_to_exit(&e, -ECONNRESET, "GetAll"), STDFU_EXIT_NO_DAEMON);
    assert_string_equal(stdfuctl_bus_error_message(&e, -ETIMEDOUT, "Reload", NULL, buf, sizeof buf),
                        "Reload failed: Connection timed out");
}

static void test_bus_spec(void **state) {
    (void) state;
    assert_int_equal(stdfuctl_bus_set(""), -EINVAL);
    assert_int_equal(stdfuctl_bus_set("nonsense"), -EINVAL);
    assert_int_equal(stdfuctl_bus_set(NULL), -EINVAL);
    assert_string_equal(stdfuctl_bus_describe(), "the system bus");
    assert_int_equal(stdfuctl_bus_set("unix:path=/run/x"), 0);
    assert_string_equal(stdfuctl_bus_describe(), "the bus unix:path=/run/x");
    assert_int_equal(stdfuctl_bus_set("session"), 0);
    assert_string_equal(stdfuctl_bus_describe(), "the session bus");
    assert_int_equal(stdfuctl_bus_set("system"), 0);
}

static char *print_table(const table *t, unsigned width) {
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    assert_non_null(f);
    table_print(t, f, width);
    fclose(f);
    return buf;
}

static void test_table(void **state) {
    static const char *const headers[] = { "PORT", "STATE", "LAST ERROR" };
    static const char *const row1[] = { "1-1.10", "done", "" };
    static const char *const row2[] = { "1-1.2", NULL, "errWRITE in dfuERROR at 0x08000800" };
    table *t = table_new(3, headers);
    char *out;
    (void) state;

    assert_non_null(t);
    assert_int_equal(table_rows(t), 0);
    assert_int_equal(table_add_row(t, row1), 0);
    assert_int_equal(table_add_row(t, row2), 0);
    assert_int_equal(table_rows(t), 2);
    out = print_table(t, 0);
    assert_string_equal(out, "PORT    STATE  LAST ERROR\n"
                             "1-1.10  done   -\n"
                             "1-1.2   -      errWRITE in dfuERROR at 0x08000800\n");
    free(out);
    /* On a 30-column terminal the last column is cut, with an ellipsis. */
    char expected[256];
    snprintf(expected, sizeof expected, "PORT    STATE  LAST ERROR\n"
                                        "1-1.10  done   -\n"
                                        "1-1.2   -      errWRITE in df%s\n", stdfuctl_ellipsis());
    out = print_table(t, 30);
    assert_string_equal(out, expected);
    free(out);
    /* Or, when it may, goes whole under its row. */
    table_set_wrap_last(t, true);
    out = print_table(t, 30);
    assert_string_equal(out, "PORT    STATE\n"
                             "1-1.10  done\n"
                             "1-1.2   -\n"
                             "    errWRITE in dfuERROR at\n"
                             "    0x08000800\n");
    free(out);
    table_free(t);
    assert_null(table_new(0, headers));
}

static void test_timestamps(void **state) {
    char buf[64];
    (void) state;
    assert_string_equal(stdfuctl_format_timestamp(0, buf, sizeof buf), "-");
    assert_null(stdfuctl_format_timestamp_utc(0, buf, sizeof buf));
    assert_string_equal(stdfuctl_format_timestamp_utc(1795472467000000ull, buf, sizeof buf),
                        "2026-11-23T22:21:07Z");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_detail),       cmocka_unit_test(test_line),
        cmocka_unit_test(test_active_states), cmocka_unit_test(test_outcomes),
        cmocka_unit_test(test_errors),       cmocka_unit_test(test_bus_spec),
        cmocka_unit_test(test_table),        cmocka_unit_test(test_timestamps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
