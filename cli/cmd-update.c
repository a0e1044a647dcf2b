/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stdfuctl update: ask stdfud to update devices, by their manifest rule or from a file the
 * client opens and passes as a file descriptor; --wait follows them to the end. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bus.h"
#include "image/image.h"
#include "json-device.h"
#include "monitor.h"
#include "util/log.h"
#include "util/parse-util.h"

typedef struct update_args {
    char **devices;
    size_t n_devices;
    bool all, wait, json, force, quiet;
    const char *file;
    const char *version;
    bool has_address;
    uint32_t address;
    stdfu_image_format format;      /* --format; AUTO: by content, raw only when named .bin */
    stdfu_image_format file_format; /* what the check found FIRMWARE to be: sent to stdfud */
} update_args;

/* What became of one device's request. */
typedef enum request_result {
    REQUEST_QUEUED,
    REQUEST_CURRENT, /* NothingToDo */
    REQUEST_BUSY,    /* a job exists already */
    REQUEST_REFUSED, /* any other error */
} request_result;

static const char *const request_result_names[] = {
    [REQUEST_QUEUED] = "queued",
    [REQUEST_CURRENT] = "current",
    [REQUEST_BUSY] = "busy",
    [REQUEST_REFUSED] = "refused",
};

typedef struct request {
    char *port;            /* port path (from an object path argument too) */
    request_result result;
    int code;              /* exit code of the request itself */
    char *message;         /* the daemon's reason when not queued */
    bool waited;
} request;

static void help(FILE *f) {
    fprintf(f,
            "Usage: stdfuctl [--bus BUS] update [DEVICE... | --all]\n"
            "                       [--file FIRMWARE [--version VERSION] [--address ADDR]\n"
            "                        [--format FORMAT]]\n"
            "                       [--force] [--wait] [--json]\n"
            "\n"
            "Ask stdfud to update DEVICEs (port paths such as 1-1.4, or object paths) to the\n"
            "firmware their manifest rule names, or to FIRMWARE. The update runs in stdfud;\n"
            "without --wait this returns once it is queued. Needs root or group stdfu.\n"
            "\n"
            "Options:\n"
            "      --all                every device stdfud knows; devices already running\n"
            "                           their target are skipped, updates already queued or\n"
            "                           running are followed with --wait\n"
            "      --file FIRMWARE      flash this file (any format flash takes; .bin with\n"
            "                           --address) instead of the manifest's; stdfuctl opens\n"
            "                           it and hands stdfud the open file, so the daemon needs\n"
            "                           no access to it\n"
            "      --version VERSION    the version FIRMWARE carries (MAJOR.MINOR), checked\n"
            "                           when the device comes back\n"
            "      --address ADDR       load address of a .bin FIRMWARE, e.g. 0x08000000\n"
            "      --format FORMAT      dfuse, dfu, hex, srec, elf or bin (raw) instead of by\n"
            "                           content; FIRMWARE is raw only when named .bin or\n"
            "                           with --format bin\n"
            "      --force              update also a device that runs the target already,\n"
            "                           or to a version lower than it runs\n"
            "      --wait               follow the updates until they end; the exit status is\n"
            "                           the outcome (that of the first device, in the order\n"
            "                           given, that did not end done)\n"
            "      --json               print one JSON object whose \"requests\" has one\n"
            "                           object per device, no progress\n"
            "      --bus system|session|ADDRESS\n"
            "                           the D-Bus where stdfud runs (default: system)\n"
            "  -h, --help               show this help\n"
            "\n" STDFU_EXIT_CODES_HELP);
}

static int parse_args(int argc, char **argv, update_args *a) {
    enum { ARG_ALL = 0x100, ARG_FILE, ARG_VERSION, ARG_FORCE, ARG_WAIT, ARG_FORMAT };
    static const struct option options[] = {
        { "all", no_argument, NULL, ARG_ALL },
        { "file", required_argument, NULL, ARG_FILE },
        { "version", required_argument, NULL, ARG_VERSION },
        { "format", required_argument, NULL, ARG_FORMAT },
        STDFUCTL_OPTION_ADDRESS,
        { "force", no_argument, NULL, ARG_FORCE },
        { "wait", no_argument, NULL, ARG_WAIT },
        STDFUCTL_OPTION_JSON,
        STDFUCTL_OPTION_BUS,
        STDFUCTL_OPTION_HELP,
        {},
    };
    int c, code;

    while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
        switch (c) {
        case ARG_ALL:
            a->all = true;
            break;
        case ARG_FILE:
            if (!*optarg)
                return stdfuctl_usage_error("update", "--file needs a file name.");
            a->file = optarg;
            break;
        case ARG_VERSION:
            if (!*optarg)
                return stdfuctl_usage_error("update", "--version needs a version, e.g. 1.4.");
            a->version = optarg;
            break;
        case STDFUCTL_ARG_ADDRESS:
            code = stdfuctl_parse_address("update", optarg, &a->address);
            if (code >= 0)
                return code;
            a->has_address = true;
            break;
        case ARG_FORMAT:
            if (stdfu_image_format_from_string(optarg, &a->format) < 0)
                return stdfuctl_usage_error("update", "--format '%s' is not one of auto, dfuse, "
                                            "dfu, hex, srec, elf, bin", optarg);
            break;
        case ARG_FORCE:
            a->force = true;
            break;
        case ARG_WAIT:
            a->wait = true;
            break;
        default:
            code = stdfuctl_common_option(c, "update", help, &a->json);
            if (code >= 0)
                return code;
        }
    a->devices = argv + optind;
    a->n_devices = (size_t) (argc - optind);
    if (a->all && a->n_devices > 0)
        return stdfuctl_usage_error("update", "give devices or --all, not both.");
    if (!a->all && a->n_devices == 0)
        return stdfuctl_usage_error("update", "which device? Give port paths (e.g. 1-1.4) or "
                                    "--all.");
    /* One image for every device stdfud knows is too easy to get wrong; name them. */
    if (a->all && a->file)
        return stdfuctl_usage_error("update", "--file needs the devices named, not --all.");
    if ((a->version || a->has_address || a->format != STDFU_IMAGE_AUTO) && !a->file)
        return stdfuctl_usage_error("update", "--%s only goes with --file.",
                                    a->version ? "version" : a->has_address ? "address"
                                                                            : "format");
    return -1; /* go on */
}

/* The firmware is opened here, with the caller's rights, and only the open file goes to the
 * daemon: stdfud never opens a path on someone's behalf. */
static int open_firmware_or_exit(const char *path, int *ret_fd) {
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

    if (fd < 0) {
        log_error("Cannot open the firmware file %s: %s", path, strerror(errno));
        return STDFU_EXIT_BAD_FILE;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        log_error("The firmware file %s is not a regular file.", path);
        close(fd);
        return STDFU_EXIT_BAD_FILE;
    }
    *ret_fd = fd;
    return STDFU_EXIT_OK;
}

/* The daemon gets only the data, without its name: it cannot tell fw.bin from notes.txt (it
 * never takes nameless data as raw unless told). The file is judged here by the rules flash
 * follows (raw only when named .bin or --format bin), so that nothing a parser does not take
 * reaches a device, and the format found goes with the data (UpdateFile's "format"). */
static int check_firmware_or_exit(int fd, update_args *a) {
    _cleanup_image_ stdfu_image *img = NULL;
    stdfu_image_load_options opts = { .format = a->format, .has_address = a->has_address,
                                      .address = a->address };
    stdfu_error err = {};

    if (stdfu_image_load_fd(fd, a->file, &opts, &img, &err) < 0) {
        log_error("%s", err.message);
        return STDFU_EXIT_BAD_FILE;
    }
    a->file_format = img->format;
    if (lseek(fd, 0, SEEK_SET) < 0) {
        log_error("Cannot rewind the firmware file %s: %s", a->file, strerror(errno));
        return STDFU_EXIT_BAD_FILE;
    }
    return STDFU_EXIT_OK;
}

static int append_options(sd_bus_message *m, const update_args *a) {
    int r = sd_bus_message_open_container(m, 'a', "{sv}");
    if (r >= 0 && a->force)
        r = sd_bus_message_append(m, "{sv}", "force", "b", 1);
    if (r >= 0 && a->file && a->version)
        r = sd_bus_message_append(m, "{sv}", "version", "s", a->version);
    if (r >= 0 && a->file && a->has_address)
        r = sd_bus_message_append(m, "{sv}", "address", "u", a->address);
    if (r >= 0 && a->file && a->file_format != STDFU_IMAGE_AUTO)
        r = sd_bus_message_append(m, "{sv}", "format", "s",
                                  stdfu_image_format_to_string(a->file_format));
    if (r >= 0)
        r = sd_bus_message_close_container(m);
    return r;
}

static int call_update(sd_bus *bus, const char *device, const update_args *a, int fd,
                       sd_bus_error *error) {
    sd_bus_message *m = NULL;
    int r;

    r = sd_bus_message_new_method_call(bus, &m, STDFU_BUS_NAME, STDFU_MANAGER_PATH,
                                       STDFU_MANAGER_IFACE, fd >= 0 ? "UpdateFile" : "Update");
    if (r >= 0)
        r = sd_bus_message_append(m, "s", device);
    if (r >= 0 && fd >= 0)
        r = sd_bus_message_append(m, "h", fd);
    if (r >= 0)
        r = append_options(m, a);
    if (r >= 0)
        r = sd_bus_call(bus, m, 0, error, NULL);
    sd_bus_message_unref(m);
    return r;
}

/* "1-1.4" for "/io/stdfu1/device/_31_2d1_2e4"; a port path stays as it is. */
static char *port_of(const char *device) {
    char *port = NULL;
    if (device[0] == '/' && sd_bus_path_decode(device, STDFU_DEVICE_PREFIX, &port) > 0 && port &&
        *port)
        return port;
    free(port);
    return strdup(device);
}

static void request_one(sd_bus *bus, const char *device, const update_args *a, int fd,
                        request *req) {
    sd_bus_error error = SD_BUS_ERROR_NULL;
    const char *method = fd >= 0 ? "UpdateFile" : "Update";
    char buf[1024];

    int r = call_update(bus, device, a, fd, &error);
    if (r >= 0)
        req->result = REQUEST_QUEUED;
    else if (sd_bus_error_has_name(&error, STDFU_ERROR_NOTHING_TO_DO))
        req->result = REQUEST_CURRENT;
    else if (sd_bus_error_has_name(&error, STDFU_ERROR_BUSY))
        req->result = REQUEST_BUSY;
    else
        req->result = REQUEST_REFUSED;
    if (r < 0) {
        req->message = strdup(stdfuctl_bus_error_message(&error, r, method, NULL, buf,
                                                         sizeof buf));
        req->code = stdfuctl_bus_error_to_exit(&error, r, method);
    }
    /* Nothing to do is no error; nor is Busy for --all: the manifest updates it already. */
    if (req->result == REQUEST_CURRENT || (req->result == REQUEST_BUSY && a->all))
        req->code = STDFU_EXIT_OK;
    sd_bus_error_free(&error);
}

static void report_request(const request *req, const update_args *a) {
    if (a->json)
        return;
    switch (req->result) {
    case REQUEST_QUEUED:
        if (!a->quiet && !a->wait)
            printf("%s: update queued.\n", req->port);
        break;
    case REQUEST_CURRENT:
        if (!a->quiet)
            printf("%s: nothing to do: %s.\n", req->port,
                   req->message ? req->message : "it runs its target version");
        break;
    case REQUEST_BUSY:
        if (a->all) {
            if (!a->quiet && !a->wait)
                printf("%s: an update is already queued or running.\n", req->port);
            break;
        }
        log_error("%s: %s", req->port, req->message ? req->message : "busy");
        break;
    case REQUEST_REFUSED:
        /* No daemon, no right: about stdfuctl's situation, not about this device. */
        if (req->code == STDFU_EXIT_NO_DAEMON || req->code == STDFU_EXIT_ACCESS_DENIED)
            log_error("%s", req->message ? req->message : "refused");
        else
            log_error("%s: %s", req->port, req->message ? req->message : "refused");
        break;
    }
}

static void print_json(const request *reqs, size_t n, monitor *m) {
    json_writer w;

    json_begin_document(&w, stdout, "update");
    json_key(&w, "requests");
    json_begin_array(&w);
    for (size_t i = 0; i < n; i++) {
        const char *error = NULL;
        const char *outcome = m && reqs[i].waited ? monitor_outcome(m, reqs[i].port, &error)
                                                  : NULL;
        json_begin_object(&w);
        json_kv_string(&w, "port", reqs[i].port);
        json_kv_string(&w, "request", request_result_names[reqs[i].result]);
        json_kv_string(&w, "message", reqs[i].message);
        json_kv_string(&w, "outcome", outcome);
        json_kv_string(&w, "error", error && *error ? error : NULL);
        json_end_object(&w);
    }
    json_end_array(&w);
    json_end_object(&w);
}

/* After waiting: a line for every update that did not end well, on stderr. */
static void report_outcomes(const request *reqs, size_t n, monitor *m, const update_args *a) {
    for (size_t i = 0; i < n && !a->json; i++) {
        const char *error = NULL;
        const char *outcome = reqs[i].waited ? monitor_outcome(m, reqs[i].port, &error) : NULL;
        if (!reqs[i].waited || streq_ptr(outcome, "done"))
            continue;
        if (!outcome)
            log_error("%s: stopped waiting; stdfud goes on with the update "
                      "('stdfuctl cancel %s' stops it).", reqs[i].port, reqs[i].port);
        else if (streq(outcome, "needs-power-cycle"))
            log_error("%s: the device needs a power cycle: unplug and replug it, stdfud then "
                      "finishes the update.", reqs[i].port);
        else if (!error || !*error || streq(error, outcome))
            log_error("%s: update %s.", reqs[i].port, outcome);
        else
            log_error("%s: update %s: %s", reqs[i].port, outcome, error);
    }
}

static int wait_for_updates(sd_bus *bus, sd_event *event, monitor *m, request *reqs, size_t n) {
    int code = STDFU_EXIT_OK;
    size_t waited = 0;

    for (size_t i = 0; i < n; i++) {
        if (reqs[i].result != REQUEST_QUEUED && reqs[i].result != REQUEST_BUSY)
            continue;
        if (reqs[i].code != STDFU_EXIT_OK)
            continue;
        if (monitor_wait_for(m, reqs[i].port) < 0)
            return stdfuctl_oom();
        reqs[i].waited = true;
        waited++;
    }
    if (waited == 0)
        return STDFU_EXIT_OK;
    code = monitor_start_or_exit(m);
    if (code != STDFU_EXIT_OK)
        return code;
    int r = sd_event_loop(event);
    (void) bus;
    if (r < 0) {
        log_error("The event loop failed: %s", strerror(-r));
        return STDFU_EXIT_FAILURE;
    }
    return r;
}

static void free_ports(char **ports, size_t n) {
    for (size_t i = 0; ports && i < n; i++)
        free(ports[i]);
    free(ports);
}

/* --all: the ports stdfud knows, and whether each has a job already (queued or running). */
static int collect_devices_or_exit(sd_bus *bus, char ***ret_ports, bool **ret_active,
                                   size_t *ret_n) {
    device_props *list = NULL;
    size_t n = 0;

    int code = device_props_list_or_exit(bus, &list, &n);
    if (code != STDFU_EXIT_OK)
        return code;
    char **ports = calloc(n + 1, sizeof *ports);
    bool *active = calloc(n + 1, sizeof *active);
    for (size_t i = 0; ports && active && i < n; i++) {
        ports[i] = TAKE_PTR(list[i].port);
        active[i] = device_state_is_active(list[i].state);
    }
    device_props_list_free(list, n);
    bool oom = !ports || !active;
    for (size_t i = 0; !oom && i < n; i++)
        oom = !ports[i];
    if (oom) {
        free_ports(ports, n);
        free(active);
        return stdfuctl_oom();
    }
    *ret_ports = ports;
    *ret_active = active;
    *ret_n = n;
    return STDFU_EXIT_OK;
}
static int run_update(sd_bus *bus, update_args *a, int fd) {
    _cleanup_(monitor_freep) monitor *m = NULL;
    sd_event *event = NULL;
    char **all_ports = NULL;
    bool *all_active = NULL;
    size_t n_all = 0;
    request *reqs = NULL;
    size_t n_reqs = 0;
    int code, r;

    if (a->wait) {
        r = sd_event_default(&event);
        if (r >= 0)
            r = monitor_new(bus, event, a->json || a->quiet ? NULL : stdout,
                            isatty(STDOUT_FILENO), &m);
        if (r < 0) {
            sd_event_unref(event);
            log_error("Cannot set up waiting: %s", strerror(-r));
            return STDFU_EXIT_FAILURE;
        }
        /* Before asking: an update can end before the answer to Update is read. */
        code = monitor_subscribe_or_exit(m);
        if (code != STDFU_EXIT_OK)
            goto finish;
    }
    if (a->all) {
        code = collect_devices_or_exit(bus, &all_ports, &all_active, &n_all);
        if (code != STDFU_EXIT_OK)
            goto finish;
    }
    char **devices = a->all ? all_ports : a->devices;
    size_t n = a->all ? n_all : a->n_devices;
    if (a->all && n == 0 && !a->json && !a->quiet)
        printf("stdfud knows no device.\n");

    reqs = calloc(n > 0 ? n : 1, sizeof *reqs);
    if (!reqs) {
        code = stdfuctl_oom();
        goto finish;
    }
    n_reqs = n;
    for (size_t i = 0; i < n; i++) {
        if (!(reqs[i].port = port_of(devices[i]))) {
            code = stdfuctl_oom();
            goto finish;
        }
        /* A job exists: nothing to ask (stdfud might also answer "nothing to do" while the
         * device still runs the old version); it is followed with --wait. */
        if (a->all && all_active[i])
            reqs[i].result = REQUEST_BUSY;
        else
            request_one(bus, devices[i], a, fd, &reqs[i]);
        report_request(&reqs[i], a);
        if (code == STDFU_EXIT_OK)
            code = reqs[i].code;
        /* Without a daemon or without the right, every other device fails the same way. */
        if (reqs[i].code == STDFU_EXIT_NO_DAEMON || reqs[i].code == STDFU_EXIT_ACCESS_DENIED) {
            n = i + 1;
            break;
        }
    }
    if (a->wait && code != STDFU_EXIT_NO_DAEMON && code != STDFU_EXIT_ACCESS_DENIED) {
        int wait_code = wait_for_updates(bus, event, m, reqs, n);
        if (code == STDFU_EXIT_OK)
            code = wait_code;
        report_outcomes(reqs, n, m, a);
    }
    if (a->json)
        print_json(reqs, n, m);
finish:
    for (size_t i = 0; i < n_reqs; i++) {
        free(reqs[i].port);
        free(reqs[i].message);
    }
    free(reqs);
    free_ports(all_ports, n_all);
    free(all_active);
    m = monitor_free(m);
    sd_event_unref(event);
    return code;
}

int cmd_update(int argc, char **argv, const stdfuctl_globals *g) {
    update_args a = { .quiet = g->verbosity < 0 };
    _cleanup_close_ int fd = -EBADF;
    sd_bus *bus = NULL;
    int code;

    code = parse_args(argc, argv, &a);
    if (code >= 0)
        return code;
    if (a.file) {
        code = open_firmware_or_exit(a.file, &fd);
        if (code == STDFU_EXIT_OK)
            code = check_firmware_or_exit(fd, &a);
        if (code != STDFU_EXIT_OK)
            return code;
    }
    code = stdfuctl_bus_open_or_exit(&bus);
    if (code == STDFU_EXIT_OK)
        code = run_update(bus, &a, fd);
    sd_bus_flush_close_unref(bus);
    return code;
}
