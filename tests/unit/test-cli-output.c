/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stdfuctl's output pieces: the JSON writer and the progress lines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json-writer.h"
#include "progress.h"
#include "stdfuctl.h"

static void test_json_writer(void **state) {
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    json_writer w;
    (void) state;

    assert_non_null(f);
    json_init(&w, f);
    json_begin_object(&w);
    json_kv_string(&w, "port", "1-1.2");
    json_kv_string(&w, "error", "bad \"file\"\\\n\x01");
    json_kv_string(&w, "none", NULL);
    json_key(&w, "list");
    json_begin_array(&w);
    json_uint(&w, 1);
    json_bool(&w, true);
    json_begin_object(&w);
    json_end_object(&w);
    json_end_array(&w);
    json_kv_uint(&w, "n", 18446744073709551615ull);
    json_end_object(&w);
    fclose(f);
    assert_string_equal(buf, "{\"port\":\"1-1.2\",\"error\":\"bad \\\"file\\\"\\\\\\n\\u0001\","
                             "\"none\":null,\"list\":[1,true,{}],\"n\":18446744073709551615}\n");
    free(buf);
}

static void test_progress_lines(void **state) {
    char line[160];
    (void) state;

    progress_format_bytes(line, sizeof line, "write", 32768, 65536, 500000);
    assert_string_equal(line, "write   50%  32.0/64.0 KiB  64.0 KiB/s  0:01 left");
    progress_format_bytes(line, sizeof line, "erase", 0, 65536, 0);
    assert_string_equal(line, "erase    0%  0.0/64.0 KiB  0.0 KiB/s");
    progress_format_summary(line, sizeof line, "write", 65536, 2000000);
    assert_string_equal(line, "write: 65536 bytes in 2.00 s (32.0 KiB/s)");
}

static void test_progress_non_tty_one_line_per_phase(void **state) {
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    progress p;
    (void) state;

    progress_init(&p, f, false, false);
    stdfu_update_event ev = { .phase = STDFU_UPDATE_PHASE_ENTER, .message = "entering" };
    progress_event(&ev, &p);
    for (uint64_t done = 0; done <= 8192; done += 2048) {
        stdfu_update_event b = { .phase = STDFU_UPDATE_PHASE_WRITE, .done = done, .total = 8192 };
        progress_event(&b, &p);
    }
    stdfu_update_event step = { .phase = STDFU_UPDATE_PHASE_RECOVER,
                                .step = STDFU_UPDATE_STEP_GRACE, .message = "waiting" };
    progress_event(&step, &p);
    progress_finish(&p);
    fclose(f);
    /* three lines: the message, one summary of the byte phase, the recovery step */
    assert_non_null(strstr(buf, "enter: entering\n"));
    assert_non_null(strstr(buf, "write: 8192 bytes in "));
    assert_non_null(strstr(buf, "recover (grace-period): waiting\n"));
    assert_null(strchr(buf, '\r'));
    int lines = 0;
    for (char *c = buf; *c; c++)
        lines += *c == '\n';
    assert_int_equal(lines, 3);
    free(buf);
}

static void test_format_bcd(void **state) {
    char buf[8];
    (void) state;
    assert_string_equal(stdfuctl_format_bcd(0x0102, buf), "1.02");
    assert_string_equal(stdfuctl_format_bcd(0x2200, buf), "22.00");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_writer),
        cmocka_unit_test(test_progress_lines),
        cmocka_unit_test(test_progress_non_tty_one_line_per_phase),
        cmocka_unit_test(test_format_bcd),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
