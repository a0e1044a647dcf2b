/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The state directory's job records and history file (daemon/state-format.c). Kept small: the
 * daemon is being restructured, only the two entry points below need following. */
#include <stdlib.h>
#include <string.h>

#include "state-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void add(void *userdata, const stdfu_history_entry *e) {
    (void) userdata;
    (void) e;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *reason;
    stdfu_job_record r;
    char *text = malloc(size + 1);

    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    (void) state_job_record_parse(text, size, &r, &reason);
    memcpy(text, data, size);
    (void) state_history_parse(text, size, "fuzz", add, NULL, &reason);
    free(text);
    return 0;
}
