/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The firmware a manifest names: the bytes validated are the bytes flashed, DFU suffix and
 * DfuSe files, Motorola S-records and ELF, and the differential setting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <elf.h>
#include <errno.h>
#include <string.h>

#include "digest.h"
#include "manifest.h"
#include "util/fileio.h"
#include "util/log.h"

#include "helpers/daemon-test.h"

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

    assert_non_null(realpath(manifest_fixture("firmware/app-1.2-df11.dfu"), fw));
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
    assert_non_null(realpath(manifest_fixture("firmware/app-1.2.dfu"), fw));
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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_firmware_bytes_kept, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_suffix_and_dfuse, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_srec_and_elf, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_differential, tmp_setup, tmp_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
