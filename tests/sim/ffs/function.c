/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* FunctionFS descriptors from the model's configuration descriptor (include/uapi/linux/usb/
 * functionfs.h, v2 format). */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/usb/functionfs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ffs/function.h"
#include "util/macro.h"

#define MAX_STRINGS 16
#define DESC_INTERFACE 0x04
#define DESC_ENDPOINT 0x05

static void put32(uint8_t *p, uint32_t v) {
    v = htole32(v);
    memcpy(p, &v, 4);
}

/* Copies the interface-level descriptors (everything after the 9-byte configuration header),
 * renumbering iInterface into the function's own string table. */
static int copy_interfaces(const uint8_t *config, size_t config_len, uint8_t *out,
                           unsigned *ret_count, unsigned *string_index, unsigned *n_strings,
                           int *ret_in_ep, int *ret_out_ep) {
    unsigned count = 0, endpoints = 0;
    size_t at = 9;

    *ret_in_ep = *ret_out_ep = 0;
    while (at + 2 <= config_len) {
        uint8_t len = config[at], type = config[at + 1];

        if (len < 2 || at + len > config_len)
            return -EBADMSG;
        memcpy(out + at - 9, config + at, len);
        if (type == DESC_INTERFACE && len >= 9 && config[at + 8]) {
            if (*n_strings == MAX_STRINGS)
                return -E2BIG;
            string_index[(*n_strings)++] = config[at + 8];
            out[at - 9 + 8] = (uint8_t) *n_strings;
        }
        if (type == DESC_ENDPOINT && len >= 7) {
            endpoints++;
            int *first = config[at + 2] & 0x80 ? ret_in_ep : ret_out_ep;
            if (*first == 0)
                *first = (int) endpoints;
        }
        count++;
        at += len;
    }
    *ret_count = count;
    return 0;
}

int ffs_build_descriptors(const uint8_t *config, size_t config_len, ffs_string_fn string,
                          const void *userdata, uint8_t **ret_descs, size_t *ret_descs_len,
                          uint8_t **ret_strings, size_t *ret_strings_len, int *ret_in_ep,
                          int *ret_out_ep) {
    _cleanup_free_ uint8_t *descs = NULL, *strs = NULL;
    unsigned string_index[MAX_STRINGS], n_strings = 0, count;
    size_t body, total, strs_len;
    int r;

    if (config_len < 9)
        return -EBADMSG;
    body = config_len - 9;
    total = 12 + 8 + 2 * body; /* head, fs and hs counts, the same descriptors twice */
    descs = calloc(1, total);
    if (!descs)
        return -ENOMEM;
    r = copy_interfaces(config, config_len, descs + 20, &count, string_index, &n_strings,
                        ret_in_ep, ret_out_ep);
    if (r < 0)
        return r;
    /* high speed gets the same interfaces: FunctionFS wants both when the UDC is high speed */
    memcpy(descs + 20 + body, descs + 20, body);
    put32(descs, FUNCTIONFS_DESCRIPTORS_MAGIC_V2);
    put32(descs + 4, (uint32_t) total); /* usb_functionfs_descs_head_v2: magic, length, flags */
    put32(descs + 8, FUNCTIONFS_HAS_FS_DESC | FUNCTIONFS_HAS_HS_DESC);
    put32(descs + 12, count);
    put32(descs + 16, count);

    /* no strings: no language either (FunctionFS wants both counts zero or neither) */
    strs_len = n_strings ? 16 + 2 : 16;
    for (unsigned i = 0; i < n_strings; i++)
        strs_len += strlen(string(userdata, string_index[i]) ?: "") + 1;
    strs = calloc(1, strs_len);
    if (!strs)
        return -ENOMEM;
    put32(strs, FUNCTIONFS_STRINGS_MAGIC);
    put32(strs + 4, (uint32_t) strs_len);
    put32(strs + 8, n_strings);
    put32(strs + 12, n_strings ? 1 : 0);
    if (n_strings) {
        strs[16] = 0x09; /* en-US, 0x0409 little endian */
        strs[17] = 0x04;
    }
    for (size_t i = 0, at = 18; i < n_strings; i++) {
        const char *s = string(userdata, string_index[i]) ?: "";
        memcpy(strs + at, s, strlen(s) + 1);
        at += strlen(s) + 1;
    }
    *ret_descs = TAKE_PTR(descs);
    *ret_descs_len = total;
    *ret_strings = TAKE_PTR(strs);
    *ret_strings_len = strs_len;
    return 0;
}

static const char *model_string(const void *userdata, unsigned index) {
    return sim_device_string(userdata, index);
}

/* <mount_dir>/epN, when the interfaces have an endpoint N (0: none, *ret stays -EBADF) */
static int open_endpoint(const char *mount_dir, int n, int flags, int *ret) {
    _cleanup_free_ char *path = NULL;

    if (n <= 0)
        return 0;
    if (asprintf(&path, "%s/ep%d", mount_dir, n) < 0)
        return -ENOMEM;
    *ret = open(path, flags | O_CLOEXEC);
    return *ret < 0 ? -errno : 0;
}

int ffs_function_open(const char *mount_dir, const sim_device *d, ffs_function **ret) {
    _cleanup_free_ uint8_t *descs = NULL, *strs = NULL;
    _cleanup_free_ char *path = NULL;
    size_t descs_len, strs_len, config_len;
    const uint8_t *config;
    ffs_function *f;
    int r, in_ep, out_ep;

    config = sim_device_config_descriptor(d, &config_len);
    if (!config)
        return -ENODEV;
    r = ffs_build_descriptors(config, config_len, model_string, d, &descs, &descs_len, &strs,
                              &strs_len, &in_ep, &out_ep);
    if (r < 0)
        return r;
    f = calloc(1, sizeof *f);
    if (!f)
        return -ENOMEM;
    f->ep0 = f->ep_in = f->ep_out = -EBADF;
    if (asprintf(&path, "%s/ep0", mount_dir) < 0) {
        ffs_function_free(f);
        return -ENOMEM;
    }
    f->ep0 = open(path, O_RDWR | O_CLOEXEC);
    if (f->ep0 < 0) {
        r = -errno;
        ffs_function_free(f);
        return r;
    }
    /* -EINVAL from the first write: the kernel refused the descriptors, from the second: the
     * strings (the caller cannot tell; -EBADMSG/-EPROTO keep them apart) */
    if (write(f->ep0, descs, descs_len) < 0) {
        r = errno == EINVAL ? -EBADMSG : -errno;
        ffs_function_free(f);
        return r;
    }
    if (write(f->ep0, strs, strs_len) < 0) {
        r = errno == EINVAL ? -EPROTO : -errno;
        ffs_function_free(f);
        return r;
    }
    r = open_endpoint(mount_dir, in_ep, O_WRONLY, &f->ep_in);
    if (r >= 0)
        r = open_endpoint(mount_dir, out_ep, O_RDONLY, &f->ep_out);
    if (r < 0) {
        ffs_function_free(f);
        return r;
    }
    *ret = f;
    return 0;
}

ffs_function *ffs_function_free(ffs_function *f) {
    if (!f)
        return NULL;
    if (f->ep_out >= 0)
        close(f->ep_out);
    if (f->ep_in >= 0)
        close(f->ep_in);
    if (f->ep0 >= 0)
        close(f->ep0);
    free(f);
    return NULL;
}
