/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "util/error.h"
#include "util/fileio.h"
#include "util/parse-util.h"

static void test_parse_u32(void **state) {
    uint32_t v;
    (void) state;
    assert_int_equal(parse_u32("0x08000000", &v), 0);
    assert_int_equal(v, 0x08000000);
    assert_int_equal(parse_u32("4096", &v), 0);
    assert_int_equal(v, 4096);
    assert_int_equal(parse_u32("0x100000000", &v), -ERANGE);
    assert_int_equal(parse_u32("12k", &v), -EINVAL);
    assert_int_equal(parse_u32("-1", &v), -EINVAL);
    assert_int_equal(parse_u32("", &v), -EINVAL);
}

static void test_parse_hex_bytes(void **state) {
    uint8_t buf[4];
    (void) state;
    assert_int_equal(parse_hex_bytes("80:55", buf, sizeof buf), 2);
    assert_int_equal(buf[0], 0x80);
    assert_int_equal(buf[1], 0x55);
    assert_int_equal(parse_hex_bytes("0102030405", buf, sizeof buf), -E2BIG);
    assert_int_equal(parse_hex_bytes("8", buf, sizeof buf), -EINVAL);
    assert_int_equal(parse_hex_bytes("zz", buf, sizeof buf), -EINVAL);
}

static void test_error_prefix(void **state) {
    stdfu_error err = {0};
    (void) state;
    assert_int_equal(stdfu_error_set(&err, EINVAL, "bad address 0x%x", 0x10u), -EINVAL);
    assert_int_equal(stdfu_error_prefix(&err, "%s", "fw.dfu"), -EINVAL);
    assert_string_equal(err.message, "fw.dfu: bad address 0x10");
}

static void test_write_file_atomic(void **state) {
    char dir[] = "/tmp/stdfu-test-util.XXXXXX", path[64];
    uint8_t *data = NULL;
    size_t size = 0;
    (void) state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/state", dir);
    assert_int_equal(write_file_atomic(path, "one", 3, 0644), 0);
    assert_int_equal(write_file_atomic(path, "two!", 4, 0644), 0);
    assert_int_equal(read_full_file(path, 1024, &data, &size), 0);
    assert_int_equal(size, 4);
    assert_memory_equal(data, "two!", 4);
    free(data);
    assert_int_equal(read_full_file(path, 2, &data, &size), -EFBIG);
    unlink(path);
    rmdir(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_u32),
        cmocka_unit_test(test_parse_hex_bytes),
        cmocka_unit_test(test_error_prefix),
        cmocka_unit_test(test_write_file_atomic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
