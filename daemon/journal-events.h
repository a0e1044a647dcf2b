/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The events of an update a log reader follows, each with a MESSAGE_ID that
 * catalog/stdfu.catalog explains (installed to /usr/lib/systemd/catalog/) and structured
 * fields (STDFU_PORT, STDFU_RULE, STDFU_ATTEMPT, ...; stdfud(8) lists them).
 *
 * Under systemd (stderr is the journal's stream, JOURNAL_STREAM says so) an event goes to the
 * journal natively, with its fields, and not also to stderr: each event is logged once.
 * Otherwise (a terminal, a test) it is one "PORT: message" line on stderr. The level filter
 * (--log-level, SYSTEMD_LOG_LEVEL) applies to both. Safe from worker threads. */

#include <stdbool.h>

#define STDFU_MESSAGE_ATTEMPT_STARTED   "e0021eeacd4d4d489f418536012609bf"
#define STDFU_MESSAGE_RECOVERY_STEP     "6cbad47463f548a29940747cd1aeb4c8"
#define STDFU_MESSAGE_RETRY_SCHEDULED   "e5a0dd57726f4083a3b29a0f53f11213"
#define STDFU_MESSAGE_UPDATE_FINISHED   "8d6a3f2e5b1c4e0f9a7d3c2b1e0f4a5d"

/* True when stderr is the journal's stream (systemd's JOURNAL_STREAM names its device and
 * inode). */
bool journal_events_native(void);

/* Logs "PORT: MESSAGE" at level with message_id, STDFU_PORT=port and the fields: pairs of a
 * name and a value (NULL: empty), then NULL. Falls back to stderr when the journal cannot take
 * it. */
void journal_event(int level, const char *message_id, const char *port, const char *message,
                   ...) __attribute__((sentinel));
