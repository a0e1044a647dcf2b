/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Build-time settings, each written once. The Makefile passes the real values (-D...); the
 * defaults here are what a plain build without them gets. */

#ifndef STDFU_VERSION
#define STDFU_VERSION "0.1"
#endif

/* Where the manifests live: SYSCONFDIR/stdfu. */
#ifndef STDFU_CONFIG_DIR
#define STDFU_CONFIG_DIR "/etc/stdfu"
#endif
#define STDFU_MANIFEST_PATH STDFU_CONFIG_DIR "/manifest.yaml"
#define STDFU_MANIFEST_DIR STDFU_CONFIG_DIR "/manifest.d"

/* The daemon's journal of jobs and history. */
#ifndef STDFU_STATE_DIR
#define STDFU_STATE_DIR "/var/lib/stdfu"
#endif
