/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "journal-events.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <systemd/sd-journal.h>

#include "util/log.h"

#define MAX_FIELDS 16

bool journal_events_native(void) {
    const char *e = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat st;

    if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2 || fstat(STDERR_FILENO, &st) < 0)
        return false;
    return (unsigned long long) st.st_dev == dev && (unsigned long long) st.st_ino == ino;
}

static int send_native(int level, const char *message_id, const char *port, const char *message,
                       va_list ap) {
    char *lines[MAX_FIELDS + 5] = {};
    struct iovec iov[MAX_FIELDS + 5];
    size_t n = 0;
    int r = -ENOMEM;

    if (asprintf(&lines[n++], "MESSAGE=%s: %s", port, message) < 0 ||
        asprintf(&lines[n++], "MESSAGE_ID=%s", message_id) < 0 ||
        asprintf(&lines[n++], "PRIORITY=%d", level) < 0 ||
        asprintf(&lines[n++], "SYSLOG_IDENTIFIER=%s", program_invocation_short_name) < 0 ||
        asprintf(&lines[n++], "STDFU_PORT=%s", port) < 0)
        goto done;
    for (const char *k; (k = va_arg(ap, const char *)) && n < ELEMENTSOF(lines);) {
        const char *v = va_arg(ap, const char *);
        if (asprintf(&lines[n++], "%s=%s", k, v ? v : "") < 0)
            goto done;
    }
    for (size_t i = 0; i < n; i++)
        iov[i] = (struct iovec) { .iov_base = lines[i], .iov_len = strlen(lines[i]) };
    r = sd_journal_sendv(iov, (int) n);
done:
    for (size_t i = 0; i < ELEMENTSOF(lines); i++)
        free(lines[i]);
    return r;
}

void journal_event(int level, const char *message_id, const char *port, const char *message,
                   ...) {
    static atomic_int native = -1; /* stderr does not change under a running daemon */
    va_list ap;

    if (level > log_get_max_level())
        return;
    if (native < 0)
        native = journal_events_native();
    if (native) {
        va_start(ap, message);
        int r = send_native(level, message_id, port, message, ap);
        va_end(ap);
        if (r >= 0)
            return;
    }
    log_full(level, "%s: %s", port, message);
}
