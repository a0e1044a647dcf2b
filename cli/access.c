/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The bootloader of one device for read and erase: lib/update's access, the CLI's options,
 * progress display and Ctrl-C. */
#include "access.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "stdfuctl.h"
#include "usb/usb.h"
#include "util/log.h"
#include "util/macro.h"
#include "util/parse-util.h"

static atomic_bool cancel_requested;

static void on_signal(int sig) {
    (void) sig;
    atomic_store(&cancel_requested, true);
}

enum { ARG_PORT = 0x200, ARG_ALT, ARG_ENTER, ARG_NO_LEAVE, ARG_SIZE };

static const struct option shared_options[] = {
    { "port", required_argument, NULL, ARG_PORT },
    { "alt", required_argument, NULL, ARG_ALT },
    { "enter", required_argument, NULL, ARG_ENTER },
    { "no-leave", no_argument, NULL, ARG_NO_LEAVE },
    STDFUCTL_OPTION_ADDRESS,
    { "size", required_argument, NULL, ARG_SIZE },
    STDFUCTL_OPTION_JSON,
    STDFUCTL_OPTION_HELP,
};

/* One getopt result: -1 handled (or not one of these: *handled false), else an exit code. */
static int shared_option(int c, const char *command, cli_access_args *a, bool *handled) {
    stdfu_error err = {};
    uint32_t v;

    *handled = true;
    switch (c) {
    case ARG_PORT:
        if (!stdfu_usb_port_is_valid(optarg))
            return stdfuctl_usage_error(command, "--port '%s' is not a USB port path such as "
                                        "1-1.4", optarg);
        a->port = optarg;
        return -1;
    case ARG_ALT:
        if (parse_u32(optarg, &v) < 0 || v > 255)
            return stdfuctl_usage_error(command, "--alt '%s' is not an alt setting (0..255)",
                                        optarg);
        a->alt = (uint8_t) v;
        return -1;
    case ARG_ENTER:
        if (stdfu_enter_method_parse(optarg, &a->enter, &err) < 0)
            return stdfuctl_usage_error(command, "%s", err.message);
        return -1;
    case ARG_NO_LEAVE:
        a->leave = false;
        return -1;
    case STDFUCTL_ARG_ADDRESS: {
        int code = stdfuctl_parse_address(command, optarg, &a->address);
        if (code >= 0)
            return code;
        a->has_address = true;
        return -1;
    }
    case ARG_SIZE:
        if (parse_u32(optarg, &a->size) < 0 || a->size == 0)
            return stdfuctl_usage_error(command, "--size '%s' is not a number of bytes", optarg);
        a->has_size = true;
        return -1;
    }
    *handled = false;
    return -1;
}

#define MAX_OPTIONS 16

/* The shared options, then the command's, then the terminating {}. */
static int all_options(const cli_access_command *cmd, struct option *ret) {
    size_t n = 0;

    for (size_t i = 0; i < ELEMENTSOF(shared_options); i++)
        ret[n++] = shared_options[i];
    for (const struct option *o = cmd->options; o && o->name; o++) {
        if (n + 1 >= MAX_OPTIONS)
            return -E2BIG;
        ret[n++] = *o;
    }
    ret[n] = (struct option) {};
    return 0;
}

int cli_access_parse(const cli_access_command *cmd, int argc, char **argv, int verbosity,
                     cli_access_args *a, void *userdata) {
    struct option options[MAX_OPTIONS];
    char short_options[16];
    bool handled;
    int c, code;

    if (all_options(cmd, options) < 0 ||
        snprintf(short_options, sizeof short_options, "h%s",
                 cmd->short_options ? cmd->short_options : "") >= (int) sizeof short_options) {
        log_error("stdfuctl %s: more options than its parser holds.", cmd->name);
        return STDFU_EXIT_FAILURE;
    }
    *a = (cli_access_args) { .leave = true, .enter.kind = STDFU_ENTER_AUTO,
                             .quiet = verbosity < 0 };
    while ((c = getopt_long(argc, argv, short_options, options, NULL)) >= 0) {
        code = shared_option(c, cmd->name, a, &handled);
        if (code >= 0)
            return code;
        if (handled)
            continue;
        if (cmd->option) {
            code = cmd->option(c, userdata, &handled);
            if (code >= 0)
                return code;
            if (handled)
                continue;
        }
        code = stdfuctl_common_option(c, cmd->name, cmd->help, &a->json);
        if (code >= 0)
            return code;
    }
    if (optind < argc)
        return stdfuctl_usage_error(cmd->name, "unexpected argument '%s'", argv[optind]);
    code = cmd->check ? cmd->check(a, userdata) : -1;
    if (code >= 0)
        return code;
    if (!a->port)
        return stdfuctl_usage_error(cmd->name, "no --port given");
    return -1;
}

void cli_update_event(const stdfu_update_event *ev, void *userdata) {
    if (ev->message && ev->level <= LOG_WARNING) {
        log_full(ev->level, "%s", ev->message);
        return;
    }
    if (ev->message)
        log_debug("%s: %s", stdfu_update_phase_to_string(ev->phase), ev->message);
    progress_event(ev, userdata);
}

/* The session's byte progress, shown as the update's. */
static void on_bytes(stdfu_dfuse_phase p, uint64_t done, uint64_t total, void *userdata) {
    stdfu_update_event ev = {
        .phase = p == STDFU_DFUSE_PHASE_ERASE ? STDFU_UPDATE_PHASE_ERASE : STDFU_UPDATE_PHASE_READ,
        .done = done,
        .total = total,
    };
    if (p == STDFU_DFUSE_PHASE_ERASE || p == STDFU_DFUSE_PHASE_READ)
        progress_event(&ev, userdata);
}

int cli_exit_of_update(const stdfu_update_result *res) {
    switch (res->outcome) {
    case STDFU_UPDATE_DONE:
        return STDFU_EXIT_OK;
    case STDFU_UPDATE_NEEDS_POWER_CYCLE:
        return STDFU_EXIT_NEEDS_POWER_CYCLE;
    case STDFU_UPDATE_CANCELLED:
        return STDFU_EXIT_CANCELLED;
    case STDFU_UPDATE_FAILED:
        break;
    }
    switch (res->failure) {
    case STDFU_UPDATE_FAILURE_IMAGE:
        return STDFU_EXIT_BAD_FILE;
    case STDFU_UPDATE_FAILURE_NO_DEVICE:
        return STDFU_EXIT_NO_DEVICE;
    case STDFU_UPDATE_FAILURE_ENTER:
    case STDFU_UPDATE_FAILURE_TRANSFER:
        return STDFU_EXIT_TRANSFER;
    case STDFU_UPDATE_FAILURE_VERIFY:
        return STDFU_EXIT_VERIFY;
    case STDFU_UPDATE_FAILURE_VERSION:
    case STDFU_UPDATE_FAILURE_RECOVERY:
        return STDFU_EXIT_NOT_UPDATED;
    default:
        return STDFU_EXIT_FAILURE;
    }
}

/* read and erase take no file: what the layout refuses (a range that cuts a sector) fails the
 * request (1), it is no bad file (3). */
static int access_exit(const stdfu_update_result *res) {
    int code = cli_exit_of_update(res);
    return code == STDFU_EXIT_BAD_FILE ? STDFU_EXIT_FAILURE : code;
}

int cli_access_begin(cli_access *c, const char *command, const cli_access_args *args,
                     stdfu_dfuse **ret_session) {
    struct sigaction sa = { .sa_handler = on_signal }; /* no SA_RESTART: waits wake up */
    stdfu_usb_ids ids;
    stdfu_error err = {};
    int r;

    memset(c, 0, sizeof *c);
    c->command = command;
    /* On the known port, whatever is not the bootloader is its application. */
    stdfu_usb_ids_init_any(&ids);
    r = stdfu_usb_watch_new(&ids, &c->watch, &err);
    if (r < 0) {
        fprintf(stderr, "stdfuctl %s: %s\n", command, err.message);
        return STDFU_EXIT_FAILURE;
    }
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    progress_init(&c->prog, stdout, isatty(STDOUT_FILENO), args->json || args->quiet);
    stdfu_update_options_init(&c->o);
    c->o.port = args->port;
    c->o.alt = args->alt;
    c->o.enter = args->enter;
    c->o.leave = args->leave;
    c->o.watch = c->watch;
    c->o.progress = cli_update_event;
    c->o.userdata = &c->prog;
    c->o.cancel = &cancel_requested;

    r = stdfu_update_access_begin(&c->o, &c->res, &c->a);
    if (r < 0) {
        progress_finish(&c->prog);
        fprintf(stderr, "stdfuctl %s: %s\n", command, c->res.error.message);
        stdfu_usb_watch_free(c->watch);
        return access_exit(&c->res) ?: STDFU_EXIT_FAILURE;
    }
    /* Only the default ops run here: the session is a stdfu_dfuse. */
    stdfu_dfuse *s = stdfu_update_access_session(c->a);
    stdfu_dfuse_options so = { .alt = stdfu_dfuse_current_alt(s), .progress = on_bytes,
                               .userdata = &c->prog, .cancel = &cancel_requested };
    stdfu_dfuse_set_options(s, &so);
    *ret_session = s;
    return 0;
}

const stdfu_layout *cli_access_layout(cli_access *c) {
    return stdfu_update_access_layout(c->a);
}

int cli_access_end(cli_access *c, bool stay, int r, const stdfu_error *err) {
    stdfu_update_failure failure = STDFU_UPDATE_FAILURE_NONE;
    int code;

    if (r < 0) {
        /* -EINVAL: a range the layout does not allow, refused before anything was erased */
        failure = r == -EINVAL ? STDFU_UPDATE_FAILURE_IMAGE : STDFU_UPDATE_FAILURE_TRANSFER;
        if (r == -EACCES)
            stdfu_error_set(&c->res.error, r, "the device on port %s is read-protected (RDP "
                            "level 1): its bootloader refuses to read or erase the flash (%s)",
                            c->o.port, err->message);
        else
            c->res.error = *err;
        if (r == -ECANCELED)
            c->res.error.code = -ECANCELED;
    }
    stdfu_update_access_end(c->a, stay, failure);
    c->a = NULL;
    progress_finish(&c->prog);
    stdfu_usb_watch_free(c->watch);
    c->watch = NULL;
    code = access_exit(&c->res);
    if (code != STDFU_EXIT_OK)
        fprintf(stderr, "stdfuctl %s: %s\n", c->command, c->res.error.message);
    return code;
}
