/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stdfuctl flash FILE: the whole cycle on one device, standalone (no daemon). */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "access.h"
#include "image/image.h"
#include "json-device.h"
#include "progress.h"
#include "stdfuctl.h"
#include "update/update.h"
#include "usb/usb.h"
#include "util/log.h"
#include "util/macro.h"
#include "util/parse-util.h"

typedef struct flash_args {
    const char *file;
    stdfu_usb_matcher matcher;
    bool has_address;
    uint32_t address;
    uint8_t alt;
    stdfu_image_format format;
    stdfu_enter_method enter;
    bool verify, leave, json, full;
    bool has_leave_timeout;
    usec_t leave_timeout;
    bool has_retries;
    unsigned retries;
} flash_args;

/* Set from SIGINT/SIGTERM; the update checks it between transfers and in every wait. */
static atomic_bool cancel_requested;

static void on_signal(int sig) {
    (void) sig;
    atomic_store(&cancel_requested, true);
}

static void help(FILE *f) {
    fprintf(f,
            "Usage: stdfuctl flash FILE [--port PATH | --device VID:PID[,SERIAL]]\n"
            "                      [--address ADDR] [--format FORMAT] [--alt N] [--enter METHOD]\n"
            "                      [--full] [--no-verify] [--no-leave]\n"
            "                      [--leave-timeout SECONDS]\n"
            "                      [--retries N] [--json]\n"
            "\n"
            "Write FILE (DfuSe .dfu, .dfu with a DFU suffix, Intel .hex, Motorola S-records,\n"
            "an ELF executable, or .bin with --address)\n"
            "to a device and bring it back running it: enter the bootloader if the application\n"
            "runs, check the image against the device's memory layout and ids before erasing,\n"
            "read the touched pages back and erase and write only those that do not hold the\n"
            "image yet, verify, leave, wait for the application on the\n"
            "same USB port, and recover when it does not come back (leave again, port reset,\n"
            "flash again; wait for a watchdog, power-cycle the hub port).\n"
            "\n"
            "Options:\n"
            "      --port PATH          the device on this USB port, e.g. 1-1.4\n"
            "      --device VID:PID[,SERIAL]\n"
            "                           the device with these ids (hex) and serial\n"
            "                           (default: the only application or bootloader present)\n"
            "      --address ADDR       load address of a .bin file, e.g. 0x08000000\n"
            "      --format FORMAT      dfuse, dfu, hex, srec, elf or bin (raw) instead of by\n"
            "                           content\n"
            "      --alt N              alt setting (memory) to write, default 0\n"
            "      --enter METHOD       how the application enters the bootloader:\n"
            "                           auto (default), st-hid-detach, hid-feature:HEX,\n"
            "                           hid-output:HEX, detach, none\n"
            "      --full               erase and write every page the image touches, without\n"
            "                           reading them first (also for a read-protected device)\n"
            "      --no-verify          do not read the flash back after writing\n"
            "      --no-leave           stay in the bootloader after writing\n"
            "      --leave-timeout SECONDS\n"
            "                           how long to wait for the application after leave,\n"
            "                           including the grace period for a watchdog (default 8)\n"
            "      --retries N          how often a fault while erasing, writing or verifying\n"
            "                           (errWRITE, errVERIFY, a stall, a timeout, the\n"
            "                           bootloader re-enumerating) is met by clearing the\n"
            "                           device's status and erasing and writing again the\n"
            "                           pages that do not hold the image\n"
            "                           (default 2, 0 for never)\n"
            "      --json               print one JSON result object, no progress\n"
            "  -h, --help               show this help\n"
            "\n" STDFU_EXIT_CODES_HELP);
}

/* -1 to go on, or the exit code to return (after printing why; 0 after --help). */
static int parse_args(int argc, char **argv, flash_args *a) {
    enum { ARG_PORT = 0x100, ARG_DEVICE, ARG_ALT, ARG_ENTER, ARG_FULL, ARG_NO_VERIFY,
           ARG_NO_LEAVE, ARG_LEAVE_TIMEOUT, ARG_RETRIES, ARG_FORMAT };
    static const struct option options[] = {
        { "port", required_argument, NULL, ARG_PORT },
        { "device", required_argument, NULL, ARG_DEVICE },
        STDFUCTL_OPTION_ADDRESS,
        { "alt", required_argument, NULL, ARG_ALT },
        { "format", required_argument, NULL, ARG_FORMAT },
        { "enter", required_argument, NULL, ARG_ENTER },
        { "full", no_argument, NULL, ARG_FULL },
        { "no-verify", no_argument, NULL, ARG_NO_VERIFY },
        { "no-leave", no_argument, NULL, ARG_NO_LEAVE },
        { "leave-timeout", required_argument, NULL, ARG_LEAVE_TIMEOUT },
        { "retries", required_argument, NULL, ARG_RETRIES },
        STDFUCTL_OPTION_JSON,
        STDFUCTL_OPTION_HELP,
        {},
    };
    stdfu_error err = {};
    bool have_matcher = false;
    uint32_t v;
    int c, code;

    *a = (flash_args) { .verify = true, .leave = true, .enter.kind = STDFU_ENTER_AUTO,
                        .matcher.kind = STDFU_USB_MATCH_ANY };
    while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
        switch (c) {
        case ARG_PORT:
        case ARG_DEVICE:
            if (have_matcher)
                return stdfuctl_usage_error("flash", "give either --port or --device, once");
            have_matcher = true;
            if ((c == ARG_PORT ? stdfu_usb_matcher_parse_port(optarg, &a->matcher, &err)
                               : stdfu_usb_matcher_parse_id(optarg, &a->matcher, &err)) < 0)
                return stdfuctl_usage_error("flash", "%s", err.message);
            break;
        case STDFUCTL_ARG_ADDRESS:
            code = stdfuctl_parse_address("flash", optarg, &a->address);
            if (code >= 0)
                return code;
            a->has_address = true;
            break;
        case ARG_ALT:
            if (parse_u32(optarg, &v) < 0 || v > 255)
                return stdfuctl_usage_error("flash", "--alt '%s' is not an alt setting (0..255)",
                                            optarg);
            a->alt = (uint8_t) v;
            break;
        case ARG_FORMAT:
            if (stdfu_image_format_from_string(optarg, &a->format) < 0)
                return stdfuctl_usage_error("flash", "--format '%s' is not one of auto, dfuse, "
                                            "dfu, hex, srec, elf, bin", optarg);
            break;
        case ARG_ENTER:
            if (stdfu_enter_method_parse(optarg, &a->enter, &err) < 0)
                return stdfuctl_usage_error("flash", "%s", err.message);
            break;
        case ARG_FULL:
            a->full = true;
            break;
        case ARG_NO_VERIFY:
            a->verify = false;
            break;
        case ARG_NO_LEAVE:
            a->leave = false;
            break;
        case ARG_LEAVE_TIMEOUT:
            if (parse_seconds(optarg, &a->leave_timeout) < 0)
                return stdfuctl_usage_error("flash",
                                            "--leave-timeout '%s' is not a number of seconds",
                                            optarg);
            a->has_leave_timeout = true;
            break;
        case ARG_RETRIES:
            if (parse_u32(optarg, &v) < 0 || v > 100)
                return stdfuctl_usage_error("flash", "--retries '%s' is not a number from 0 to "
                                            "100", optarg);
            a->retries = v;
            a->has_retries = true;
            break;
        default:
            code = stdfuctl_common_option(c, "flash", help, &a->json);
            if (code >= 0)
                return code;
        }
    if (optind >= argc)
        return stdfuctl_usage_error("flash", "no firmware FILE given");
    if (optind + 1 < argc)
        return stdfuctl_usage_error("flash", "unexpected argument '%s'", argv[optind + 1]);
    a->file = argv[optind];
    return -1;
}

/* ---- output ------------------------------------------------------------------------------ */

typedef struct flash_report {
    const flash_args *args;
    const stdfu_image *image;   /* NULL if it did not load */
    const char *port;           /* NULL if no device was found */
    const stdfu_update_result *res; /* NULL if the update did not run */
    const char *error;          /* the user's sentence, NULL on success */
    const char *failure;        /* "image", "no-device", ... */
    int exit_code;
} flash_report;

static void json_sha256(json_writer *w, const uint8_t *sha) {
    char hex[65];
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", sha[i]);
    json_string(w, hex);
}

static void print_json(const flash_report *r) {
    json_writer w;
    char bcd[8];

    json_begin_document(&w, stdout, "flash");
    json_kv_string(&w, "outcome", r->res ? stdfu_update_outcome_to_string(r->res->outcome)
                                        : "failed");
    json_kv_uint(&w, "exit_code", (uint64_t) r->exit_code);
    json_kv_string(&w, "failure", r->failure);
    json_kv_string(&w, "error", r->error);
    json_kv_string(&w, "file", r->args->file);
    json_kv_string(&w, "port", r->port);
    if (r->image) {
        json_kv_string(&w, "format", stdfu_image_format_to_string(r->image->format));
        json_key(&w, "sha256");
        json_sha256(&w, r->image->sha256);
        json_kv_uint(&w, "bytes", r->image->total_bytes);
    }
    if (r->res) {
        const stdfu_update_result *res = r->res;
        json_kv_string(&w, "entered_with", stdfu_enter_kind_to_string(res->entered_with));
        json_kv_string(&w, "final_mode", stdfu_usb_mode_to_string(res->final_mode));
        json_kv_string(&w, "old_version", res->old_bcd ? stdfuctl_format_version(res->old_bcd, bcd)
                                                       : NULL);
        json_kv_string(&w, "running_version",
                       res->running_bcd ? stdfuctl_format_version(res->running_bcd, bcd) : NULL);
        json_kv_uint(&w, "attempts", res->attempts);
        json_kv_uint(&w, "retries", res->retries);
        json_kv_uint(&w, "bytes_written", res->bytes_written);
        json_kv_bool(&w, "differential", !r->args->full);
        json_kv_bool(&w, "read_protected", res->read_protected);
        json_key(&w, "pages");
        json_begin_object(&w);
        json_kv_uint(&w, "read", res->pages_read);
        json_kv_uint(&w, "skipped", res->pages_skipped);
        json_kv_uint(&w, "erased", res->pages_erased);
        json_kv_uint(&w, "written", res->pages_written);
        json_kv_uint(&w, "erased_again", res->pages_erased_again);
        json_kv_uint(&w, "written_again", res->pages_written_again);
        json_end_object(&w);
        json_kv_uint(&w, "leaves", res->leaves);
        json_kv_uint(&w, "port_resets", res->port_resets);
        json_kv_uint(&w, "power_cycles", res->power_cycles);
        json_key(&w, "recovery_steps");
        json_begin_object(&w);
        for (int s = STDFU_UPDATE_STEP_NONE + 1; s < _STDFU_UPDATE_STEP_MAX; s++)
            json_kv_uint(&w, stdfu_update_step_to_string(s), res->steps[s]);
        json_end_object(&w);
        json_kv_double(&w, "elapsed_s", (double) res->elapsed_usec / USEC_PER_SEC);
        json_key(&w, "phases_s");
        json_begin_object(&w);
        for (int p = 0; p < _STDFU_UPDATE_PHASE_MAX; p++)
            json_kv_double(&w, stdfu_update_phase_to_string(p),
                           (double) res->phase_usec[p] / USEC_PER_SEC);
        json_end_object(&w);
    }
    json_end_object(&w);
    fflush(stdout);
}

/* The image's pages as they ended; what retries (or a reflash) did again apart, so that no
 * page is counted twice. */
static void print_pages(const stdfu_update_result *res) {
    printf("%u of %u pages held the image already; %u erased, %u written", res->pages_skipped,
           res->pages_read, res->pages_erased, res->pages_written);
    if (res->pages_erased_again + res->pages_written_again > 0)
        printf(" (%s erased %u and wrote %u of them again)",
               res->retries == 0 ? "the next attempt" : res->retries == 1 ? "the retry"
                                                                           : "the retries",
               res->pages_erased_again, res->pages_written_again);
    printf(".\n");
}

static void print_human(const flash_report *r) {
    if (r->error) {
        fprintf(stderr, "stdfuctl flash: %s\n", r->error);
        if (r->exit_code == STDFU_EXIT_NEEDS_POWER_CYCLE)
            fprintf(stderr, "stdfuctl flash: the firmware is written; after the power cycle "
                            "the device starts it.\n");
        return;
    }
    char bcd[8], retried[48] = "";
    if (r->res->retries > 0)
        snprintf(retried, sizeof retried, " (after %u retr%s)", r->res->retries,
                 r->res->retries == 1 ? "y" : "ies");
    if (r->res->pages_read > 0)
        print_pages(r->res);
    if (r->res->final_mode == STDFU_USB_APPLICATION)
        printf("Flashed %s to port %s%s: application running version %s.\n", r->args->file,
               r->port, retried, stdfuctl_format_bcd(r->res->running_bcd, bcd));
    else if (r->res->final_mode == STDFU_USB_BOOTLOADER)
        printf("Flashed %s to port %s%s: device stays in the bootloader.\n", r->args->file,
               r->port, retried);
    else
        printf("Flashed %s to port %s%s: the device is no longer on its port.\n",
               r->args->file, r->port, retried);
}

static int report(const flash_report *r) {
    if (r->args->json)
        print_json(r);
    else
        print_human(r);
    return r->exit_code;
}

/* ---- the command ------------------------------------------------------------------------- */

/* A target version to check afterwards: the bcdDevice of the file's DFU suffix, unless it is
 * a wildcard (0xffff, dfu-suffix's default) or unset (0, dfuse-pack's default). */
static bool suffix_target_bcd(const stdfu_image *img, uint16_t *ret) {
    if (!img->has_suffix || img->bcd_device == 0xffff || img->bcd_device == 0)
        return false;
    *ret = img->bcd_device;
    return true;
}

static void install_signal_handlers(void) {
    struct sigaction sa = { .sa_handler = on_signal }; /* no SA_RESTART: waits wake up */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

int cmd_flash(int argc, char **argv, const stdfuctl_globals *g) {
    _cleanup_image_ stdfu_image *img = NULL;
    _cleanup_usb_watch_ stdfu_usb_watch *watch = NULL;
    stdfu_image_load_options lo = {};
    stdfu_usb_ids ids;
    stdfu_usb_info dev;
    stdfu_update_options o;
    stdfu_update_result res;
    stdfu_error err = {};
    flash_args a;
    flash_report rep = { .args = &a };
    progress prog;
    int r;

    r = parse_args(argc, argv, &a);
    if (r >= 0)
        return r;

    /* The file first: a bad or unusable file is refused before any device is touched. */
    lo.has_address = a.has_address;
    lo.address = a.address;
    lo.alt = a.alt;
    lo.format = a.format;
    r = stdfu_image_load_file(a.file, &lo, &img, &err);
    if (r < 0) {
        rep.error = err.message;
        rep.failure = "image";
        rep.exit_code = STDFU_EXIT_BAD_FILE;
        return report(&rep);
    }
    rep.image = img;
    if (!stdfu_image_find_target(img, a.alt)) {
        stdfu_error_set(&err, -ENOENT, "%s has no data for alt setting %u", a.file, a.alt);
        rep.error = err.message;
        rep.failure = "image";
        rep.exit_code = STDFU_EXIT_BAD_FILE;
        return report(&rep);
    }

    stdfu_usb_ids_init_default(&ids);
    if (a.matcher.kind == STDFU_USB_MATCH_ID)
        (void) stdfu_usb_ids_add_app(&ids, a.matcher.vid, a.matcher.pid);
    if (a.matcher.kind == STDFU_USB_MATCH_PORT) {
        /* The update itself looks at the port, and gives a device that is still appearing
         * (just plugged in) a moment. */
        memset(&dev, 0, sizeof dev);
        snprintf(dev.port, sizeof dev.port, "%s", a.matcher.port);
        r = 0;
    } else
        r = stdfu_usb_find(NULL, &ids, &a.matcher, &dev, &err);
    if (r == -ENODEV && a.matcher.kind == STDFU_USB_MATCH_ANY)
        stdfu_error_set(&err, r, "no STM32 application (0483:5750) or DfuSe bootloader found; "
                        "name the device with --port or --device");
    if (r < 0) {
        rep.error = err.message;
        rep.failure = "no-device";
        rep.exit_code = STDFU_EXIT_NO_DEVICE;
        return report(&rep);
    }
    rep.port = dev.port;

    /* On the known port, whatever is not the bootloader is its application. */
    stdfu_usb_ids_init_any(&ids);
    r = stdfu_usb_watch_new(&ids, &watch, &err);
    if (r < 0) {
        rep.error = err.message;
        rep.exit_code = STDFU_EXIT_FAILURE;
        return report(&rep);
    }

    install_signal_handlers();
    progress_init(&prog, stdout, isatty(STDOUT_FILENO), a.json || g->verbosity < 0);
    stdfu_update_options_init(&o);
    o.port = dev.port;
    o.image = img;
    o.alt = a.alt;
    o.enter = a.enter;
    o.verify = a.verify;
    o.differential = !a.full;
    o.leave = a.leave;
    if (a.has_leave_timeout) {
        o.leave_timeout = a.leave_timeout;
        o.reenumerate_timeout = MIN(o.reenumerate_timeout, a.leave_timeout);
    }
    if (a.has_retries)
        o.retries = a.retries;
    o.has_target_bcd = suffix_target_bcd(img, &o.target_bcd);
    o.watch = watch;
    o.progress = cli_update_event;
    o.userdata = &prog;
    o.cancel = &cancel_requested;

    r = stdfu_update_run(&o, &res);
    progress_finish(&prog);
    if (r < 0) {
        rep.error = res.error.message;
        rep.exit_code = STDFU_EXIT_FAILURE;
        return report(&rep);
    }
    rep.res = &res;
    rep.exit_code = cli_exit_of_update(&res);
    if (res.outcome != STDFU_UPDATE_DONE) {
        rep.error = res.error.message;
        rep.failure = res.outcome == STDFU_UPDATE_FAILED
                              ? stdfu_update_failure_to_string(res.failure)
                              : stdfu_update_outcome_to_string(res.outcome);
    }
    return report(&rep);
}
