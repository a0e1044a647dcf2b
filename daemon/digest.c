/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "digest.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

void stdfu_sha256_hex(const void *data, size_t size, char out[static 65]) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned len = 0;

    if (EVP_Digest(data, size, md, &len, EVP_sha256(), NULL) != 1 || len != 32) {
        memset(out, '?', 64);
        out[64] = '\0';
        return;
    }
    for (unsigned i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}
