/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stdfu-sim: runs COMMAND against emulated STM32 devices (see man/stdfu-sim.1).
 *
 * It starts in two stages. The first checks the arguments, moves into a private network
 * namespace (see umock/netns.h), mounts a tmpfs for the testbed in a private mount namespace
 * (umock/scratch.h) and re-executes itself under libumockdev-preload: the harness
 * must run under the preload itself, or umockdev cannot send uevents. The second builds the
 * emulated bus, runs COMMAND, serves the control socket and timed events from the GLib main
 * loop, and writes the report when COMMAND has exited. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "control.h"
#include "mkfw.h"
#include "report.h"
#include "scenario.h"
#include "spec.h"
#include "umock/netns.h"
#include "umock/scratch.h"
#include "umock/umock.h"
#include "util/log.h"
#include "util/macro.h"

#include <glib-unix.h> /* after util/macro.h: see umock/internal.h */
#include <glib.h>

#define PRELOAD_LIB "libumockdev-preload.so.0"
#define SIM_PRELOAD_LIB "libstdfu-sim-preload.so" /* umock/preload/ */
#define STAGE_ENV "STDFU_SIM_STAGE"
#define SETTLE_MAX_MS 5000u

extern char **environ;

typedef struct sim_args {
    const char *scenario;
    const char *report;
    const char *control;
    sim_hub_list hubs;
    sim_device_spec *devices;
    size_t n_devices;
    bool verbose;
    char **command;
} sim_args;

static void usage(FILE *f) {
    fprintf(f,
            "usage: stdfu-sim [--scenario FILE.yaml] [--device SPEC]... "
            "[--hub ppps|ganged|none]...\n"
            "                 [--report FILE.json] [--control SOCKET] -- COMMAND [ARG...]\n"
            "       stdfu-sim mkfw --version MAJOR.MINOR --size BYTES [--seed N] [--base ADDR] "
            "-o FILE(.bin|.dfu|.hex)\n"
            "Runs COMMAND with emulated STM32 devices visible to libusb and libudev, and exits\n"
            "with its status. -v traces every request. Without --device: one f072 running its\n"
            "application on 1-1.1 (1-1 with --hub none). Each --hub adds a hub (1-1, 1-2; at\n"
            "most %u); a device without port= takes the first free hub port (1-1.1 .. 1-1.7,\n"
            "1-2.1 ..), then the first free root port (1-(hubs+1) .. 1-%u). At most %u devices.\n"
            "See stdfu-sim(1).\n",
            SIM_BUS_MAX_HUBS, SIM_BUS_ROOT_PORTS, SIM_BUS_MAX_DEVICES);
}

static int add_device_arg(sim_args *a, const char *spec) {
    sim_device_spec *d = reallocarray(a->devices, a->n_devices + 1, sizeof *d);
    char err[300];

    if (!d)
        return log_oom();
    a->devices = d;
    sim_spec_init(&d[a->n_devices]);
    if (sim_spec_parse(&d[a->n_devices], spec, err, sizeof err) < 0)
        return log_error_errno(EINVAL, "--device %s: %s", spec, err);
    a->n_devices++;
    return 0;
}

static int parse_args(int argc, char **argv, sim_args *a) {
    static const struct option options[] = {
        { "scenario", required_argument, NULL, 's' },
        { "device", required_argument, NULL, 'd' },
        { "hub", required_argument, NULL, 'H' },
        { "report", required_argument, NULL, 'r' },
        { "control", required_argument, NULL, 'c' },
        { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        {}
    };
    char err[200];
    int c;

    optind = 1;
    while ((c = getopt_long(argc, argv, "+vh", options, NULL)) >= 0) {
        switch (c) {
        case 's':
            a->scenario = optarg;
            break;
        case 'd':
            if (add_device_arg(a, optarg) < 0)
                return -EINVAL;
            break;
        case 'H':
            if (sim_hub_list_add(&a->hubs, optarg, err, sizeof err) < 0)
                return log_error_errno(EINVAL, "--hub %s: %s", optarg, err);
            break;
        case 'r':
            a->report = optarg;
            break;
        case 'c':
            a->control = optarg;
            break;
        case 'v':
            a->verbose = true;
            break;
        case 'h':
            usage(stdout);
            exit(EXIT_SUCCESS);
        default:
            usage(stderr);
            return -EINVAL;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return log_error_errno(EINVAL, "no COMMAND given (after --)");
    }
    a->command = argv + optind;
    return 0;
}

/* Stage one: namespace, sanitizer options, then exec ourselves under the preload. */
static int reexec_under_preload(char **argv) {
    const char *pre = getenv("LD_PRELOAD");
    g_autofree char *preload = NULL;
    int r;

    if (!streq_ptr(getenv("STDFU_SIM_NETNS"), "0")) {
        r = sim_netns_isolate();
        if (r < 0)
            log_debug_errno(r, "No private network namespace (%m): uevent bursts to slow "
                            "listeners may overflow their queues.");
    }
    if (!streq_ptr(getenv("STDFU_SIM_TMPFS"), "0")) {
        r = sim_scratch_mount();
        if (r < 0)
            log_debug_errno(r, "No tmpfs for the testbed (%m): it goes under $TMPDIR.");
    }
#if defined(__SANITIZE_ADDRESS__)
    /* libumockdev-preload comes before libasan in the library list: tell ASan that is fine. */
    const char *asan = getenv("ASAN_OPTIONS");
    if (!asan || !strstr(asan, "verify_asan_link_order")) {
        g_autofree char *opts = g_strdup_printf("%s%sverify_asan_link_order=0", asan ? asan : "",
                                                asan && *asan ? ":" : "");
        setenv("ASAN_OPTIONS", opts, 1);
    }
#endif
    /* ours before umockdev's: its bind(), open() and close() wrap umockdev's */
    g_autofree char *exe = g_file_read_link("/proc/self/exe", NULL);
    g_autofree char *dir = exe ? g_path_get_dirname(exe) : NULL;
    g_autofree char *ours = dir ? g_build_filename(dir, SIM_PRELOAD_LIB, NULL) : NULL;
    g_autofree char *libs = ours && access(ours, R_OK) == 0
                                ? g_strdup_printf("%s:%s", ours, PRELOAD_LIB)
                                : g_strdup(PRELOAD_LIB);
    if (!ours || access(ours, R_OK) < 0)
        log_debug("%s not found next to stdfu-sim: uevent socket names may collide.",
                  SIM_PRELOAD_LIB);
    preload = pre && *pre ? g_strdup_printf("%s:%s", pre, libs) : g_strdup(libs);
    setenv("LD_PRELOAD", preload, 1);
    setenv(STAGE_ENV, "2", 1);
    execv("/proc/self/exe", argv);
    return log_error_errno(errno, "Cannot re-execute under %s: %m", PRELOAD_LIB);
}

/* Scenario devices first, then --device ones; --hub beats the scenario's hubs. */
static int collect_devices(sim_args *a, sim_scenario *sc, sim_device_spec **ret, size_t *n) {
    size_t total = sc->n_devices + a->n_devices;
    sim_device_spec *all = calloc(MAX(total, (size_t) 1), sizeof *all);
    char err[300];

    if (!all)
        return log_oom();
    if (sc->n_devices > 0)
        memcpy(all, sc->devices, sc->n_devices * sizeof *all);
    if (a->n_devices > 0)
        memcpy(all + sc->n_devices, a->devices, a->n_devices * sizeof *all);
    if (total == 0) {
        sim_spec_init(&all[0]);
        if (sim_spec_set(&all[0], "profile", "f072", err, sizeof err) < 0 ||
            sim_spec_set(&all[0], "mode", "application", err, sizeof err) < 0) {
            free(all);
            return log_error_errno(EINVAL, "default device: %s", err);
        }
        total = 1;
    }
    if (!a->hubs.given)
        a->hubs = sc->hubs.given ? sc->hubs
                                 : (sim_hub_list) { .kinds = { SIM_HUB_PPPS }, .n = 1 };
    if (sim_spec_assign_ports(all, total, a->hubs.n, err, sizeof err) < 0) {
        free(all);
        return log_error_errno(ENOSPC, "%s", err);
    }
    *ret = all;
    *n = total;
    return 0;
}

typedef struct child_state {
    GMainLoop *loop;
    GPid pid;
    int status;
} child_state;

static void child_exited(GPid pid, gint status, gpointer userdata) {
    child_state *cs = userdata;
    cs->status = status;
    g_spawn_close_pid(pid);
    g_main_loop_quit(cs->loop);
}

typedef struct forwarded_signal {
    child_state *child;
    int sig;
} forwarded_signal;

/* TERM and HUP go on to COMMAND; we exit when it does, with the report written. INT is only
 * survived: a terminal sends it to the whole foreground process group, COMMAND included, and
 * passing it on too would deliver it twice. */
static gboolean forward_signal(gpointer userdata) {
    forwarded_signal *f = userdata;
    if (f->sig != SIGINT)
        kill(f->child->pid, f->sig);
    return G_SOURCE_CONTINUE;
}

typedef struct timed_event {
    sim_bus *bus;
    const sim_event *event;
} timed_event;

static void event_reply(void *userdata, const char *text) {
    const sim_event *e = userdata;
    if (g_str_has_prefix(text, "error"))
        log_error("%s: event \"%s\": %s", e->where, e->command, text);
    else
        log_debug("%s: event \"%s\": %s", e->where, e->command, text);
}

static gboolean run_event(gpointer userdata) {
    timed_event *t = userdata;
    sim_command_run(t->bus, t->event->command, event_reply, (void *) t->event);
    return G_SOURCE_REMOVE;
}

static int spawn_command(char **command, GPid *ret) {
    posix_spawnattr_t attr;
    sigset_t none, all;
    pid_t pid;

    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_init(&attr);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    unsetenv(STAGE_ENV);
    int r = posix_spawnp(&pid, command[0], NULL, &attr, command, environ);
    posix_spawnattr_destroy(&attr);
    if (r != 0)
        return log_error_errno(r, "Cannot run %s: %m", command[0]);
    *ret = pid;
    return 0;
}

static gboolean wake_up(gpointer userdata) {
    (void) userdata;
    return G_SOURCE_CONTINUE;
}

/* After COMMAND: let transitions under way finish (a leave's re-enumeration, a watchdog), so
 * that the report says where each device ends up; a device that stays off has none. */
static void settle(sim_bus *bus) {
    gint64 end = g_get_monotonic_time() + SETTLE_MAX_MS * 1000;
    guint tick = g_timeout_add(10, wake_up, NULL);

    while (sim_bus_settling(bus) && g_get_monotonic_time() < end)
        g_main_context_iteration(NULL, true);
    g_source_remove(tick);
}

static int exit_status(int wait_status) {
    if (WIFEXITED(wait_status))
        return WEXITSTATUS(wait_status);
    if (WIFSIGNALED(wait_status))
        return 128 + WTERMSIG(wait_status);
    return EXIT_FAILURE;
}

/* Stage two: the bus, COMMAND, the main loop, the report. */
static int run(sim_args *a) {
    g_autoptr(GMainLoop) loop = g_main_loop_new(NULL, false);
    sim_scenario sc = {};
    sim_device_spec *specs = NULL;
    sim_control *control = NULL;
    sim_bus *bus = NULL;
    size_t n_specs = 0;
    child_state cs = { .loop = loop };
    int status = EXIT_FAILURE, r;
    char err[400];

    if (a->scenario && sim_scenario_load(a->scenario, &sc, err, sizeof err) < 0)
        return log_error_errno(EINVAL, "%s", err), 2;
    r = collect_devices(a, &sc, &specs, &n_specs);
    if (r < 0)
        goto out;
    r = sim_bus_new(a->hubs.kinds, a->hubs.n, &bus);
    sim_scratch_restore_tmpdir(); /* the testbed exists (or never will): COMMAND's TMPDIR */
    if (r < 0)
        goto out;
    for (size_t i = 0; i < n_specs; i++) {
        r = sim_bus_add_device(bus, &specs[i].config, err, sizeof err);
        if (r < 0) {
            log_error("device %zu: %s", i + 1, err);
            goto out;
        }
    }
    if (a->control && sim_control_start(bus, a->control, &control) < 0)
        goto out;

    if (spawn_command(a->command, &cs.pid) < 0)
        status = 127;
    else {
        g_child_watch_add(cs.pid, child_exited, &cs);
        forwarded_signal fwd[] = { { &cs, SIGINT }, { &cs, SIGTERM }, { &cs, SIGHUP } };
        guint sigs[ELEMENTSOF(fwd)];
        for (size_t i = 0; i < ELEMENTSOF(fwd); i++)
            sigs[i] = g_unix_signal_add(fwd[i].sig, forward_signal, &fwd[i]);
        timed_event *events = g_new0(timed_event, MAX(sc.n_events, (size_t) 1));
        for (size_t i = 0; i < sc.n_events; i++) {
            events[i] = (timed_event) { bus, &sc.events[i] };
            g_timeout_add(sc.events[i].at_ms, run_event, &events[i]);
        }
        g_main_loop_run(loop);
        for (size_t i = 0; i < sc.n_events; i++)
            g_source_remove_by_user_data(&events[i]);
        g_free(events);
        for (size_t i = 0; i < ELEMENTSOF(sigs); i++)
            g_source_remove(sigs[i]);
        status = exit_status(cs.status);
        settle(bus);
    }
    if (a->report && sim_report_write(bus, a->report) < 0 && status == 0)
        status = EXIT_FAILURE;
out:
    sim_control_stop(control);
    sim_bus_free(bus);
    free(specs);
    sim_scenario_done(&sc);
    return status;
}

int main(int argc, char **argv) {
    sim_args a = {};
    int status;

    log_set_ident("stdfu-sim: ");
    if (argc > 1 && streq(argv[1], "mkfw"))
        return sim_mkfw_main(argc - 1, argv + 1);
    if (parse_args(argc, argv, &a) < 0) {
        free(a.devices);
        return 2;
    }
    log_set_max_level(a.verbose ? LOG_DEBUG : LOG_NOTICE);
    if (!streq_ptr(getenv(STAGE_ENV), "2")) {
        reexec_under_preload(argv);
        return EXIT_FAILURE;
    }
    /* Wake-ups a microsecond late, not the default 50: each emulated ioctl is a round trip
     * between two processes (inherited by COMMAND). */
    (void) prctl(PR_SET_TIMERSLACK, 1UL);
    sim_bus_set_trace(a.verbose);
    sim_scratch_adopt();
    status = run(&a);
    sim_scratch_remove();
    free(a.devices);
    return status;
}
