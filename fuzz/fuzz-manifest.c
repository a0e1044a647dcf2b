/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The manifest YAML (daemon/manifest*.c), from a file as the daemon reads it, in a private
 * empty directory (so relative firmware paths find nothing). Kept small: the daemon is being
 * restructured, only stdfu_manifest_load() needs following. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[] = "/tmp/stdfu-fuzz-manifest.XXXXXX", path[64], drop_ins[64];

static void remove_dir(void) {
    unlink(path);
    rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    stdfu_manifest *m = NULL;
    char **errors = NULL;

    if (!path[0]) {
        if (!mkdtemp(dir))
            abort();
        snprintf(path, sizeof path, "%s/manifest.yaml", dir);
        snprintf(drop_ins, sizeof drop_ins, "%s/manifest.d", dir);
        atexit(remove_dir);
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        abort();
    if (write(fd, data, size) != (ssize_t) size)
        abort();
    close(fd);
    if (stdfu_manifest_load(path, drop_ins, &m, &errors) >= 0)
        stdfu_manifest_unref(m);
    stdfu_manifest_errors_free(errors);
    return 0;
}
