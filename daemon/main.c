/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stdfud: keeps the firmware of attached STM32 devices on what the manifest names. */

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "metrics.h"
#include "util/config.h"
#include "util/log.h"
#include "util/parse-util.h"

static void help(void) {
    printf("Usage: stdfud [OPTIONS]\n"
           "Keeps the firmware of attached STM32 USB devices on the version the manifest names.\n\n"
           "  --bus system|session|ADDRESS  D-Bus to serve io.stdfu1 on (default: system)\n"
           "  --manifest FILE               main manifest (default: %s)\n"
           "  --manifest-dir DIR            drop-in manifests *.yaml (default: %s)\n"
           "  --state-dir DIR               job journal and history (default: %s)\n"
           "  --parallel N                  updates that run at once, 1-%d (default: %d)\n"
           "  --metrics                     write Prometheus metrics for node_exporter's textfile\n"
           "                                collector to %s/stdfu.prom\n"
           "  --metrics=DIR                 the same to DIR/stdfu.prom (default: off, or the\n"
           "                                manifest's settings: metrics-directory; this wins)\n"
           "  --log-level LEVEL             err, warning, notice, info or debug (default: info)\n"
           "  --help                        show this help\n"
           "  --version                     show the version\n",
           STDFU_MANIFEST_PATH, STDFU_MANIFEST_DIR, STDFU_STATE_DIR, MAX_PARALLEL,
           DEFAULT_PARALLEL, STDFU_METRICS_DEFAULT_DIR);
}

static int parse_log_level(const char *s) {
    static const struct {
        const char *name;
        int level;
    } levels[] = {
        { "emerg", LOG_EMERG }, { "alert", LOG_ALERT }, { "crit", LOG_CRIT },
        { "err", LOG_ERR },     { "error", LOG_ERR },   { "warning", LOG_WARNING },
        { "notice", LOG_NOTICE }, { "info", LOG_INFO }, { "debug", LOG_DEBUG },
    };
    for (size_t i = 0; i < ELEMENTSOF(levels); i++)
        if (streq(s, levels[i].name))
            return levels[i].level;
    uint32_t n;
    if (parse_u32(s, &n) >= 0 && n <= LOG_DEBUG)
        return (int) n;
    return -EINVAL;
}

/* 1: go on, 0: exit successfully (--help), <0: exit with failure. */
static int parse_argv(int argc, char *argv[], DaemonSettings *s) {
    enum { ARG_BUS = 0x100, ARG_MANIFEST, ARG_MANIFEST_DIR, ARG_STATE_DIR, ARG_PARALLEL,
           ARG_LOG_LEVEL, ARG_METRICS, ARG_VERSION };
    static const struct option options[] = {
        { "bus", required_argument, NULL, ARG_BUS },
        { "manifest", required_argument, NULL, ARG_MANIFEST },
        { "manifest-dir", required_argument, NULL, ARG_MANIFEST_DIR },
        { "state-dir", required_argument, NULL, ARG_STATE_DIR },
        { "parallel", required_argument, NULL, ARG_PARALLEL },
        { "log-level", required_argument, NULL, ARG_LOG_LEVEL },
        { "metrics", optional_argument, NULL, ARG_METRICS },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, ARG_VERSION },
        {}
    };
    int c, r = 0;
    uint32_t n;

    while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
        switch (c) {
        case ARG_BUS:
            if (!*optarg)
                return log_error_errno(EINVAL, "--bus needs system, session or an address.");
            r = free_and_strdup(&s->bus, optarg);
            break;
        case ARG_MANIFEST:
            r = free_and_strdup(&s->manifest_path, optarg);
            break;
        case ARG_MANIFEST_DIR:
            r = free_and_strdup(&s->manifest_dir, optarg);
            break;
        case ARG_STATE_DIR:
            r = free_and_strdup(&s->state_dir, optarg);
            break;
        case ARG_PARALLEL:
            if (parse_u32(optarg, &n) < 0 || n < 1 || n > MAX_PARALLEL)
                return log_error_errno(EINVAL, "--parallel: \"%s\" is not a number from 1 to %d.",
                                       optarg, MAX_PARALLEL);
            s->parallel = n;
            break;
        case ARG_METRICS:
            if (optarg && !*optarg)
                return log_error_errno(EINVAL, "--metrics= needs a directory.");
            r = free_and_strdup(&s->metrics_dir, optarg ? optarg : STDFU_METRICS_DEFAULT_DIR);
            break;
        case ARG_LOG_LEVEL:
            r = parse_log_level(optarg);
            if (r < 0)
                return log_error_errno(EINVAL, "--log-level: unknown level \"%s\".", optarg);
            log_set_max_level(r);
            r = 0;
            break;
        case 'h':
            help();
            return 0;
        case ARG_VERSION:
            printf("stdfud %s\n", STDFU_VERSION);
            return 0;
        default:
            return -EINVAL;
        }
        if (r < 0)
            return log_oom();
    }
    if (optind < argc)
        return log_error_errno(EINVAL, "Unexpected argument \"%s\".", argv[optind]);
    return 1;
}

int main(int argc, char *argv[]) {
    DaemonSettings settings = {};
    _cleanup_(daemon_freep) Daemon *d = NULL;
    int r;

    /* journald reads our stderr; "<N>" keeps each line's priority. */
    log_set_syslog_prefix(true);

    /* systemd's variable, as its tools honour it; --log-level wins. */
    const char *e = getenv("SYSTEMD_LOG_LEVEL");
    if (e) {
        r = parse_log_level(e);
        if (r >= 0)
            log_set_max_level(r);
        else
            log_warning("Ignoring SYSTEMD_LOG_LEVEL=%s: unknown level.", e);
    }

    r = parse_argv(argc, argv, &settings);
    if (r <= 0) {
        settings_done(&settings);
        return r < 0 ? 1 : 0;
    }
    r = daemon_new(&d, &settings);
    settings_done(&settings);
    if (r < 0) {
        log_error_errno(r, "Failed to set up the daemon: %m");
        return 1;
    }
    r = daemon_start(d);
    if (r >= 0)
        r = daemon_run(d);
    return r < 0 ? 1 : 0;
}
