/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The manifest: which devices get which firmware (man/stdfu-manifest.5 is the schema).
 *
 * It is read from a main file plus every *.yaml of a directory in lexical order, validated as
 * a whole and turned into an immutable, reference-counted stdfu_manifest. Validation loads
 * every firmware file, checks its SHA-256 and its image structure (and its layout when the
 * rule names one) and keeps the bytes it checked: a job flashes those, never a file that was
 * replaced after validation.
 *
 * A manifest with any error is refused whole; every error is collected as one line
 * "FILE:LINE:COLUMN: reason" (1-based, from libyaml's marks), or "FILE: reason" for a file
 * that cannot be read at all. The caller keeps its last good manifest.
 *
 * Thread safety: a loaded manifest is never modified; ref/unref are atomic, so worker threads
 * may hold a reference (and pointers to its rules) while the main loop loads a new one. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "image/image.h"
#include "update/enter.h"
#include "util/error.h"
#include "util/macro.h"
#include "util/time-util.h"

#define STDFU_RULE_NAME_MAX 64

/* ---- versions ------------------------------------------------------------------------------ */

/* "MAJOR.MINOR", each a decimal number 0..65535 without leading zeros ("1.10" > "1.9"). */
typedef struct stdfu_version {
    uint16_t major, minor;
} stdfu_version;

#define STDFU_VERSION_STRING_MAX 12 /* "65535.65535" and the NUL */

/* 0, or -EINVAL (not "N.N", leading zeros, junk), -ERANGE (a part over 65535). */
int stdfu_version_parse(const char *s, stdfu_version *ret);
/* <0, 0, >0 like strcmp. */
int stdfu_version_compare(const stdfu_version *a, const stdfu_version *b);
/* Writes "MAJOR.MINOR" into buf (at least STDFU_VERSION_STRING_MAX bytes); returns buf. */
char *stdfu_version_format(const stdfu_version *v, char *buf, size_t size);
/* bcdDevice as BCD: major in the high byte, minor in the low byte, two BCD digits each
 * (1.2 -> 0x0102, 1.10 -> 0x0110). -EINVAL for a nibble over 9. */
int stdfu_version_from_bcd(uint16_t bcd, stdfu_version *ret);
/* -ERANGE when a part is over 99 (cannot be written in two BCD digits). */
int stdfu_version_to_bcd(const stdfu_version *v, uint16_t *ret);

/* ---- rules --------------------------------------------------------------------------------- */


typedef enum stdfu_version_source {
    STDFU_VERSION_SOURCE_BCD_DEVICE,        /* "bcd-device": BCD major.minor (1.2 = 0x0102) */
    STDFU_VERSION_SOURCE_BCD_DEVICE_BINARY, /* "bcd-device-binary": bytes (1.10 = 0x010a) */
    _STDFU_VERSION_SOURCE_MAX,
    _STDFU_VERSION_SOURCE_INVALID = -EINVAL,
} stdfu_version_source;

const char *stdfu_version_source_to_string(stdfu_version_source s);
stdfu_version_source stdfu_version_source_from_string(const char *s);

/* What was validated, kept for the job: data/size are the exact bytes whose SHA-256 matched,
 * image is parsed from them. */
typedef struct stdfu_firmware {
    char *path;                 /* resolved against the manifest file's directory */
    char sha256[65];            /* lowercase hex */
    uint8_t *data;
    size_t size;
    stdfu_image *image;
    stdfu_version version;      /* firmware.version */
    char version_string[STDFU_VERSION_STRING_MAX];
} stdfu_firmware;

typedef struct stdfu_rule {
    char *name;
    char *origin;               /* "FILE:LINE:COLUMN" of the rule, for messages */

    uint16_t app_vid, app_pid;
    char *serial_glob;          /* NULL: any serial */
    char *port_glob;            /* NULL: any port */

    /* lib/update/enter.h's method: enter.method is its kind, enter.report its bytes */
    stdfu_enter_method enter;   /* hid-feature / hid-output: enter.bytes, report ID first */
    bool has_enter_report;      /* enter.report was given */

    uint16_t dfu_vid, dfu_pid;  /* default STDFU_USB_BOOTLOADER_VID/PID (0483:df11) */
    uint8_t alt;                /* default 0 */
    char *layout;               /* NULL: checked when the daemon first meets the bootloader */
    bool adopt;                 /* flash bootloader devices on matching ports */

    stdfu_firmware firmware;
    stdfu_version_source version_source;

    unsigned retries;           /* attempts after the first, default 2 */
    usec_t enter_timeout;       /* application -> bootloader appears, default 10 s */
    usec_t leave_timeout;       /* leave -> application appears, default 15 s */
    usec_t grace_timeout;       /* a vanished device may come back by itself, default 30 s */
    bool allow_downgrade;       /* default false */
    bool differential;          /* skip pages that already hold the image, default true */
} stdfu_rule;

#define STDFU_DEFAULT_RETRIES 2u
#define STDFU_DEFAULT_ENTER_TIMEOUT (10 * USEC_PER_SEC)
#define STDFU_DEFAULT_LEAVE_TIMEOUT (15 * USEC_PER_SEC)
#define STDFU_DEFAULT_GRACE_TIMEOUT (30 * USEC_PER_SEC)

/* The version a running application reports, read as the rule says. -EINVAL when its
 * bcdDevice is not valid BCD (for bcd-device). */
int stdfu_rule_running_version(const stdfu_rule *r, uint16_t bcd_device, stdfu_version *ret);

typedef enum stdfu_update_decision {
    STDFU_UPDATE_CURRENT,            /* runs the target version: nothing to do */
    STDFU_UPDATE_NEEDED,             /* older, or newer/unknown with allow-downgrade */
    STDFU_UPDATE_DOWNGRADE_REFUSED,  /* newer than the target, allow-downgrade is false */
    STDFU_UPDATE_UNKNOWN_REFUSED,    /* version unreadable, allow-downgrade is false */
} stdfu_update_decision;

/* running NULL: the version could not be read (it might be newer). */
stdfu_update_decision stdfu_rule_decide(const stdfu_rule *r, const stdfu_version *running);
/* True only for STDFU_UPDATE_NEEDED. */
bool stdfu_rule_needs_update(const stdfu_rule *r, const stdfu_version *running);
/* One sentence for logs and LastError, e.g. "runs 1.3, newer than the target 1.2, and
 * allow-downgrade is off". Returns buf. */
char *stdfu_rule_describe_decision(const stdfu_rule *r, const stdfu_version *running,
                                   char *buf, size_t size);

/* For the daemon's first meeting with a bootloader whose rule names no layout: checks the
 * firmware's target for rule->alt against the layout string the bootloader reports. */
int stdfu_rule_check_layout(const stdfu_rule *r, const char *layout, stdfu_error *err);

/* ---- the manifest -------------------------------------------------------------------------- */

typedef struct stdfu_manifest_settings {
    unsigned max_parallel_jobs; /* 0: not set (the daemon's default applies) */
    unsigned history_size;      /* 0: not set */
    usec_t retry_delay;         /* before the first retry of a failed job; 0: not set */
    usec_t retry_delay_max;     /* the delay doubles up to this; 0: not set */
    char *metrics_dir;          /* metrics-directory, absolute; NULL: not set (stdfud
                                 * --metrics[=DIR] wins over it) */
} stdfu_manifest_settings;

#define STDFU_DEFAULT_RETRY_DELAY (30 * USEC_PER_SEC)
#define STDFU_DEFAULT_RETRY_DELAY_MAX (3600 * USEC_PER_SEC)

#define STDFU_MAX_PARALLEL_JOBS 64u
#define STDFU_MAX_ERRORS 100 /* further errors are summed up in one last line */

typedef struct stdfu_manifest stdfu_manifest;

/* Loads path (NULL: STDFU_MANIFEST_PATH) and dir/\*.yaml (NULL: STDFU_MANIFEST_DIR). A
 * missing main file or directory is not an error (no rules). On success returns 0 and *ret.
 * When the manifest has errors returns -EINVAL and *ret_errors, a NULL-terminated list of
 * "FILE:LINE:COLUMN: reason" lines (free with stdfu_manifest_errors_free()); other negative
 * errnos (-ENOMEM) may come without a list. ret_errors may be NULL. *ret is left alone on
 * failure, so that the caller's last good manifest stays where it was. */
int stdfu_manifest_load(const char *path, const char *dir, stdfu_manifest **ret,
                        char ***ret_errors);
void stdfu_manifest_errors_free(char **errors);

stdfu_manifest *stdfu_manifest_ref(stdfu_manifest *m);
stdfu_manifest *stdfu_manifest_unref(stdfu_manifest *m); /* returns NULL */
DEFINE_TRIVIAL_CLEANUP_FUNC(stdfu_manifest *, stdfu_manifest_unref);

size_t stdfu_manifest_n_rules(const stdfu_manifest *m);
/* Rules in matching order: the main file's, then each file of the directory in turn; a rule
 * that replaces another (replace: true) takes its place. */
const stdfu_rule *stdfu_manifest_rule(const stdfu_manifest *m, size_t i);
const stdfu_rule *stdfu_manifest_find_rule(const stdfu_manifest *m, const char *name);
const stdfu_manifest_settings *stdfu_manifest_get_settings(const stdfu_manifest *m);
/* The files it was read from, in order (NULL-terminated), e.g. for inotify or messages. */
char *const *stdfu_manifest_files(const stdfu_manifest *m);

/* The first rule whose application id matches and whose serial and port globs (when set)
 * match. serial NULL is matched as "". NULL when none. */
const stdfu_rule *stdfu_manifest_match_application(const stdfu_manifest *m, uint16_t vid,
                                                   uint16_t pid, const char *serial,
                                                   const char *port);
/* The adoptable rule (adopt: true) whose bootloader id matches and whose port glob matches.
 * -ENOENT when none, -ENOTUNIQ when several do (a device must never get a firmware by
 * chance); 0 and *ret otherwise. */
int stdfu_manifest_match_bootloader(const stdfu_manifest *m, uint16_t vid, uint16_t pid,
                                    const char *port, const stdfu_rule **ret);
/* The same, adopting or not when claimed: the bootloader on a port stdfud was updating (its job
 * record damaged, so its rule unknown) is the job of the one rule whose bootloader id and port
 * glob match it, as if that rule adopted it. */
int stdfu_manifest_match_bootloader_any(const stdfu_manifest *m, uint16_t vid, uint16_t pid,
                                        const char *port, bool claimed,
                                        const stdfu_rule **ret);
