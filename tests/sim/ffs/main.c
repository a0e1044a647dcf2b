/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stdfu-sim-ffs: one emulated STM32 (the model of tests/sim/model, the same as stdfu-sim's) on
 * one USB device controller of a real kernel, through configfs and FunctionFS. Made for the
 * QEMU tier (tests/system): dummy_hcd gives each UDC a host-side bus of the same kernel, whose
 * usbfs, usbhid/hidraw, udev and sysfs are then all real.
 *
 * Each mode of the device is one configfs gadget with one FunctionFS function: the application
 * (HID, with the interrupt endpoints: output reports go to the model, and its input reports,
 * the echo of output report 1, come back on the IN endpoint) and the ROM bootloader (DfuSe,
 * 0483:df11, one alternate setting per memory). A model transition is carried out as the
 * STM32 does it: off the bus (unbind), and back in the new mode (bind the other gadget) when
 * the model says. A bus reset seen by the function is the model's USB reset.
 *
 *   stdfu-sim-ffs --udc dummy_udc.0 --device profile=f072,mode=application
 *                 [--report FILE] [--flash FILE] [--ready FILE] [--verbose]
 *
 * Runs until SIGTERM or SIGINT; then writes the report (key=value lines: mode, version,
 * flash_sha256, the counters) and the flash contents, and takes the gadgets down. SIGUSR1
 * switches the port's power off, SIGUSR2 on (what a hub with per-port power would do). */
#include <errno.h>
#include <getopt.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/usb/functionfs.h>
#include <linux/usbdevice_fs.h>
#include <openssl/evp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ffs/function.h"
#include "ffs/gadget.h"
#include "model/model.h"
#include "util/macro.h"
#include "util/time-util.h"

#define CONFIGFS "/sys/kernel/config/usb_gadget"
#define MOUNT_BASE "/run/stdfu-sim-ffs"

enum { APP, ROM, N_GADGETS };
static const char *const gadget_suffix[N_GADGETS] = { "app", "rom" };

typedef struct ffs_sim {
    sim_device *dev;
    const char *udc;
    char id[64];                   /* names the gadgets and mounts: the UDC, sanitised */
    ffs_gadget *gadget[N_GADGETS];
    ffs_function *function[N_GADGETS];
    bool configured[N_GADGETS];    /* ENABLE seen since the last bind */
    bool reset_seen[N_GADGETS];    /* DISABLE seen, the next ENABLE belongs to it */
    int on_bus;                    /* APP, ROM or -1 */
    bool has_pending;
    bool reconnecting;             /* off the bus already, waiting for reconnect_at */
    sim_transition pending;
    pthread_mutex_t lock;
    int wake_fd;                   /* eventfd: the OUT endpoint thread called the model */
    int input_fd;                  /* eventfd: the model has input reports for the IN endpoint */
    bool out_thread, in_thread;
    pthread_t out_tid, in_tid;
    pthread_t power_tid;
    bool power_thread;
    int root_hub_fd;               /* usbfs node of the root hub on the UDC's bus, or -EBADF */
    bool port_powered;
    bool verbose;
} ffs_sim;

static void say(const ffs_sim *s, const char *fmt, ...) _printf_(2, 3);
static void say(const ffs_sim *s, const char *fmt, ...) {
    va_list ap;

    if (!s->verbose)
        return;
    fprintf(stderr, "stdfu-sim-ffs %s: ", s->udc);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static int mode_index(sim_mode m) {
    return m == SIM_MODE_APPLICATION ? APP : m == SIM_MODE_BOOTLOADER ? ROM : -1;
}

/* ---- the HID interrupt IN endpoint: input reports, which a hidraw read() returns ---- */

/* Called with the lock held, after anything that may have queued an input report. */
static void input_notify(ffs_sim *s) {
    uint64_t one = 1;

    if (s->in_thread && sim_device_hid_input_pending(s->dev))
        (void) write(s->input_fd, &one, sizeof one);
}

/* The application sends its input reports one by one, each when the host polls for it: the
 * write blocks until then (usbhid polls while the hidraw node is open). A report under way
 * when the device leaves the bus is lost, as on the STM32. */
static void *in_endpoint_thread(void *userdata) {
    ffs_sim *s = userdata;
    uint8_t buf[SIM_HID_REPORT_SIZE];
    uint64_t v;

    for (;;) {
        if (read(s->input_fd, &v, sizeof v) < 0) {
            if (errno != EINTR)
                usleep(20000);
            continue;
        }
        for (;;) {
            int state, n;
            pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &state);
            pthread_mutex_lock(&s->lock);
            n = sim_device_hid_read(s->dev, buf, sizeof buf);
            pthread_mutex_unlock(&s->lock);
            pthread_setcancelstate(state, NULL);
            if (n <= 0)
                break;
            if (write(s->function[APP]->ep_in, buf, (size_t) n) < 0)
                say(s, "input report dropped: %m");
        }
    }
    return NULL;
}

/* ---- the HID interrupt OUT endpoint: hidraw write() of an output report ---- */

static void *out_endpoint_thread(void *userdata) {
    ffs_sim *s = userdata;
    uint8_t buf[SIM_HID_REPORT_SIZE];
    uint64_t one = 1;

    for (;;) {
        ssize_t n = read(s->function[APP]->ep_out, buf, sizeof buf);
        if (n < 0) {
            /* not enabled (off the bus, not configured): wait for the next configuration */
            if (errno != EINTR)
                usleep(20000);
            continue;
        }
        int state;
        pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &state);
        pthread_mutex_lock(&s->lock);
        if (sim_device_mode(s->dev) == SIM_MODE_APPLICATION)
            (void) sim_device_hid_output(s->dev, buf, (size_t) n, now_monotonic());
        input_notify(s);
        pthread_mutex_unlock(&s->lock);
        pthread_setcancelstate(state, NULL);
        (void) write(s->wake_fd, &one, sizeof one);
    }
    return NULL;
}

/* ---- on and off the bus ---- */

static int ensure_gadget(ffs_sim *s, int i) {
    _cleanup_free_ char *name = NULL, *instance = NULL, *mount_dir = NULL;
    int r;

    if (s->gadget[i])
        return 0;
    if (asprintf(&name, "stdfu-%s-%s", s->id, gadget_suffix[i]) < 0 ||
        asprintf(&instance, "%s_%s", s->id, gadget_suffix[i]) < 0 ||
        asprintf(&mount_dir, MOUNT_BASE "/%s-%s", s->id, gadget_suffix[i]) < 0)
        return -ENOMEM;
    (void) mkdir(MOUNT_BASE, 0755);
    r = ffs_gadget_new(CONFIGFS, name, instance, mount_dir, &s->gadget[i]);
    if (r < 0)
        fprintf(stderr, "stdfu-sim-ffs: cannot create gadget %s/%s: %s\n", CONFIGFS, name,
                strerror(-r));
    return r;
}

/* The interfaces are written once per mode, from the model's descriptors of that mode. */
static int ensure_function(ffs_sim *s, int i) {
    int r;

    if (s->function[i])
        return 0;
    r = ffs_function_open(ffs_gadget_mount_dir(s->gadget[i]), s->dev, &s->function[i]);
    if (r < 0) {
        fprintf(stderr, "stdfu-sim-ffs: FunctionFS at %s refused the %s's descriptors: %s\n",
                ffs_gadget_mount_dir(s->gadget[i]), gadget_suffix[i], strerror(-r));
        return r;
    }
    if (i == APP && s->function[i]->ep_out >= 0 && !s->out_thread) {
        r = -pthread_create(&s->out_tid, NULL, out_endpoint_thread, s);
        if (r < 0)
            return r;
        s->out_thread = true;
    }
    if (i == APP && s->function[i]->ep_in >= 0 && !s->in_thread) {
        r = -pthread_create(&s->in_tid, NULL, in_endpoint_thread, s);
        if (r < 0)
            return r;
        s->in_thread = true;
    }
    return 0;
}

static int connect_device(ffs_sim *s) {
    const uint8_t *desc = sim_device_device_descriptor(s->dev), *config;
    int i = mode_index(sim_device_mode(s->dev)), r;
    size_t config_len;

    if (i < 0)
        return 0;
    config = sim_device_config_descriptor(s->dev, &config_len);
    if ((r = ensure_gadget(s, i)) < 0 || (r = ensure_function(s, i)) < 0)
        return r;
    r = ffs_gadget_set_identity(s->gadget[i], desc, sim_device_string(s->dev, desc[14]),
                                sim_device_string(s->dev, desc[15]),
                                sim_device_string(s->dev, desc[16]), config[7], config[8]);
    if (r < 0)
        return r;
    s->configured[i] = s->reset_seen[i] = false;
    r = ffs_gadget_bind(s->gadget[i], s->udc);
    if (r < 0) {
        fprintf(stderr, "stdfu-sim-ffs: cannot bind the %s to %s: %s\n", gadget_suffix[i],
                s->udc, strerror(-r));
        return r;
    }
    s->on_bus = i;
    say(s, "on the bus as the %s", gadget_suffix[i]);
    return 0;
}

static void disconnect_device(ffs_sim *s) {
    int i = s->on_bus;

    if (i < 0)
        return;
    (void) ffs_gadget_unbind(s->gadget[i]);
    s->on_bus = -1;
    say(s, "off the bus");
}

/* ---- transitions ---- */

static void take_transition(ffs_sim *s) {
    sim_transition t;

    if (!sim_device_take_transition(s->dev, &t))
        return;
    s->pending = t;
    s->has_pending = true;
    s->reconnecting = false;
}

static void run_transition(ffs_sim *s, sim_usec now) {
    while (s->has_pending) {
        sim_transition t = s->pending;
        if (!s->reconnecting) {
            if (now < t.at)
                return;
            disconnect_device(s);
            if (t.mode == SIM_MODE_OFF) {
                s->has_pending = false;
                return;
            }
            s->reconnecting = true;
        }
        if (now < t.reconnect_at)
            return;
        s->has_pending = false;
        sim_device_connected(s->dev, t.mode, now);
        if (sim_device_mode(s->dev) != SIM_MODE_OFF)
            (void) connect_device(s);
        take_transition(s);
    }
}

/* A bus reset: the kernel has already reset the port and configured the device again, so the
 * model's re-enumeration is immediate and nothing is unbound. */
static void bus_reset(ffs_sim *s, sim_usec now) {
    sim_transition t;

    if (sim_device_mode(s->dev) == SIM_MODE_OFF || s->has_pending)
        return; /* the DISABLE of a power-off or of a transition under way */
    sim_device_usb_reset(s->dev, now);
    if (sim_device_take_transition(s->dev, &t))
        sim_device_connected(s->dev, t.mode, now);
    say(s, "bus reset");
}

/* ---- port power ----
 * dummy_hcd's root hub switches power per port (its hub descriptor says so) and, switched off,
 * disconnects the gadget. The device sees power as that root hub reports it: polled with
 * GetPortStatus over usbfs, which works whoever switched it (hub class PORT_POWER requests, or
 * the kernel for the port's sysfs `disable` attribute). */

#define PORT_STAT_POWER 0x0100
#define PORT_POLL_MS 50

/* dummy_udc.N's host side is dummy_hcd.N: the root hub usbB of that platform device. */
static int open_root_hub(const char *udc) {
    char path[PATH_MAX], node[64];
    unsigned bus = 0;
    const char *n;
    FILE *f;
    int fd;

    n = strrchr(udc, '.');
    if (strncmp(udc, "dummy_udc.", 10) != 0 || !n)
        return -EOPNOTSUPP;
    for (unsigned b = 1; b < 256 && !bus; b++) {
        snprintf(path, sizeof path, "/sys/devices/platform/dummy_hcd%s/usb%u/busnum", n, b);
        f = fopen(path, "re");
        if (!f)
            continue;
        if (fscanf(f, "%u", &bus) != 1)
            bus = 0;
        fclose(f);
    }
    if (!bus)
        return -ENODEV;
    snprintf(node, sizeof node, "/dev/bus/usb/%03u/001", bus);
    fd = open(node, O_RDWR | O_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

static int port_power(const ffs_sim *s) {
    uint8_t status[4] = { 0 };
    struct usbdevfs_ctrltransfer c = {
        .bRequestType = 0xa3, /* class, other (a port), IN */
        .bRequest = 0,        /* GET_STATUS */
        .wIndex = 1,
        .wLength = sizeof status,
        .timeout = 1000,
        .data = status,
    };

    if (ioctl(s->root_hub_fd, USBDEVFS_CONTROL, &c) < 0)
        return -errno;
    return !!((status[0] | status[1] << 8) & PORT_STAT_POWER);
}

/* A thread of its own: usbfs holds the root hub's lock for each request, and the kernel's hub
 * thread holds it while it enumerates our device, waiting for answers on our ep0. */
static void *port_power_thread(void *userdata) {
    ffs_sim *s = userdata;
    uint64_t one = 1;

    for (;;) {
        int on = port_power(s);
        if (on >= 0 && (bool) on != s->port_powered) {
            int state;
            /* never cancelled holding the lock (say() may be a cancellation point) */
            pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &state);
            pthread_mutex_lock(&s->lock);
            s->port_powered = on;
            say(s, "port power %s", on ? "on" : "off");
            sim_device_set_power(s->dev, on, now_monotonic());
            take_transition(s);
            pthread_mutex_unlock(&s->lock);
            pthread_setcancelstate(state, NULL);
            (void) write(s->wake_fd, &one, sizeof one);
        }
        usleep(PORT_POLL_MS * 1000);
    }
    return NULL;
}

/* ---- ep0 ---- */

static void stall(int ep0, bool in) {
    /* FunctionFS stalls on I/O in the wrong direction and fails it with EL2HLT */
    if (in)
        (void) read(ep0, NULL, 0);
    else
        (void) write(ep0, NULL, 0);
}

static void handle_setup(ffs_sim *s, ffs_function *f, const struct usb_ctrlrequest *c) {
    sim_setup setup = {
        .bmRequestType = c->bRequestType,
        .bRequest = c->bRequest,
        .wValue = le16toh(c->wValue),
        .wIndex = le16toh(c->wIndex),
        .wLength = le16toh(c->wLength),
    };
    bool in = setup.bmRequestType & 0x80;
    uint8_t data[4096 + 64] = { 0 };
    sim_usec ready = 0;
    int r;

    if (setup.wLength > sizeof data) {
        stall(f->ep0, in);
        return;
    }
    if (!in && setup.wLength > 0 && read(f->ep0, data, setup.wLength) < 0) {
        say(s, "OUT data stage of request 0x%02x/%u failed: %m", setup.bmRequestType,
            setup.bRequest);
        return;
    }
    r = sim_device_control(s->dev, &setup, data, now_monotonic(), &ready);
    input_notify(s); /* SET_REPORT(output) over ep0 is echoed too */
    sleep_until(ready); /* the device answers when its flash is done, not before */
    if (r < 0) {
        say(s, "stall 0x%02x/%u wValue=0x%04x", setup.bmRequestType, setup.bRequest,
            setup.wValue);
        if (in || setup.wLength == 0)
            stall(f->ep0, in);
        return;
    }
    if (in)
        (void) write(f->ep0, data, (size_t) MIN(r, (int) setup.wLength));
    else if (setup.wLength == 0)
        (void) read(f->ep0, NULL, 0); /* status stage */
}

static void handle_events(ffs_sim *s, int i) {
    ffs_function *f = s->function[i];
    struct usb_functionfs_event ev[4];
    ssize_t n;

    n = read(f->ep0, ev, sizeof ev);
    if (n < 0)
        return;
    for (size_t k = 0; k < (size_t) n / sizeof ev[0]; k++) {
        bool current = s->on_bus == i;
        switch (ev[k].type) {
        case FUNCTIONFS_ENABLE:
            /* a second configuration without our rebind: the host reset the device */
            if (current && s->configured[i] && !s->reset_seen[i])
                bus_reset(s, now_monotonic());
            s->configured[i] = true;
            s->reset_seen[i] = false;
            break;
        case FUNCTIONFS_DISABLE:
            if (current && s->configured[i]) {
                bus_reset(s, now_monotonic());
                s->reset_seen[i] = true;
            }
            break;
        case FUNCTIONFS_SETUP:
            handle_setup(s, f, &ev[k].u.setup);
            break;
        default:
            break;
        }
        take_transition(s);
    }
}

/* ---- report ---- */

static void sha256_hex(const uint8_t *data, size_t size, char out[65]) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned len = 0;

    out[0] = 0;
    if (!EVP_Digest(data, size, md, &len, EVP_sha256(), NULL))
        return;
    for (unsigned i = 0; i < len && i < 32; i++)
        sprintf(out + 2 * i, "%02x", md[i]);
}

static const char *mode_name(sim_mode m) {
    return m == SIM_MODE_APPLICATION ? "application" : m == SIM_MODE_BOOTLOADER ? "bootloader"
                                                                               : "absent";
}

static int write_report(ffs_sim *s, const char *path) {
    const sim_counters *c = sim_device_counters(s->dev);
    _cleanup_fclose_ FILE *f = NULL;
    unsigned major, minor;
    char sha[65];
    size_t size;
    const uint8_t *flash = sim_device_flash(s->dev, &size);

    f = fopen(path, "we");
    if (!f)
        return -errno;
    sha256_hex(flash, size, sha);
    fprintf(f, "mode=%s\n", mode_name(sim_device_mode(s->dev)));
    if (sim_device_app_version(s->dev, &major, &minor))
        fprintf(f, "version=%u.%u\n", major, minor);
    else
        fprintf(f, "version=\n");
    fprintf(f, "flash_size=%zu\nflash_sha256=%s\n", size, sha);
    fprintf(f, "dfu_state=%s\ndfu_status=%s\n", sim_dfu_state_name(sim_device_dfu_state(s->dev)),
            sim_dfu_status_name(sim_device_dfu_status(s->dev)));
    fprintf(f, "enumerations=%u\nboots=%u\nleaves=%u\nresets=%u\npower_cycles=%u\n",
            c->enumerations, c->boots, c->leaves, c->resets, c->power_cycles);
    fprintf(f, "bytes_written=%llu\nbytes_read=%llu\n", (unsigned long long) c->bytes_written,
            (unsigned long long) c->bytes_read);
    return fflush(f) == 0 ? 0 : -errno;
}

static int write_flash(ffs_sim *s, const char *path) {
    _cleanup_fclose_ FILE *f = NULL;
    size_t size;
    const uint8_t *flash = sim_device_flash(s->dev, &size);

    f = fopen(path, "we");
    if (!f)
        return -errno;
    if (fwrite(flash, 1, size, f) != size || fflush(f) != 0)
        return -EIO;
    return 0;
}

/* ---- main loop ---- */

static int next_timeout_ms(const ffs_sim *s) {
    sim_usec now = now_monotonic(), due;
    int poll_ms = 60000;

    if (!s->has_pending)
        return poll_ms;
    due = s->reconnecting ? s->pending.reconnect_at : s->pending.at;
    return due <= now ? 0 : (int) MIN((due - now + 999) / 1000, (sim_usec) poll_ms);
}

/* Returns the signal that ended it. */
static int run(ffs_sim *s, int sig_fd) {
    for (;;) {
        struct pollfd p[2 + N_GADGETS];
        int map[2 + N_GADGETS];
        size_t n = 0;

        p[n] = (struct pollfd) { .fd = sig_fd, .events = POLLIN };
        map[n++] = -1;
        p[n] = (struct pollfd) { .fd = s->wake_fd, .events = POLLIN };
        map[n++] = -2;
        for (int i = 0; i < N_GADGETS; i++)
            if (s->function[i]) {
                p[n] = (struct pollfd) { .fd = s->function[i]->ep0, .events = POLLIN };
                map[n++] = i;
            }
        if (poll(p, n, next_timeout_ms(s)) < 0 && errno != EINTR)
            return -errno;

        pthread_mutex_lock(&s->lock);
        for (size_t k = 0; k < n; k++) {
            if (!(p[k].revents & POLLIN))
                continue;
            if (map[k] == -1) {
                struct signalfd_siginfo si;
                if (read(sig_fd, &si, sizeof si) == sizeof si) {
                    if (si.ssi_signo == SIGUSR1 || si.ssi_signo == SIGUSR2) {
                        sim_device_set_power(s->dev, si.ssi_signo == SIGUSR2, now_monotonic());
                        take_transition(s);
                    } else {
                        pthread_mutex_unlock(&s->lock);
                        return (int) si.ssi_signo;
                    }
                }
            } else if (map[k] == -2) {
                uint64_t v;
                (void) read(s->wake_fd, &v, sizeof v);
                take_transition(s);
            } else
                handle_events(s, map[k]);
        }
        run_transition(s, now_monotonic());
        pthread_mutex_unlock(&s->lock);
    }
}

/* A transition under way at the end is finished in the model, so that the report shows where
 * the device is going (as stdfu-sim's report does). */
static void finish_transition(ffs_sim *s) {
    if (s->has_pending && s->pending.mode != SIM_MODE_OFF)
        sim_device_connected(s->dev, s->pending.mode, MAX(now_monotonic(), s->pending.reconnect_at));
    s->has_pending = false;
}

static void teardown(ffs_sim *s) {
    disconnect_device(s);
    if (s->power_thread) {
        pthread_cancel(s->power_tid);
        pthread_mutex_unlock(&s->lock);
        pthread_join(s->power_tid, NULL);
        pthread_mutex_lock(&s->lock);
        s->power_thread = false;
    }
    if (s->out_thread) {
        /* it sits in read() (a cancellation point) or waits for the lock we hold */
        pthread_cancel(s->out_tid);
        pthread_mutex_unlock(&s->lock);
        pthread_join(s->out_tid, NULL);
        pthread_mutex_lock(&s->lock);
        s->out_thread = false;
    }
    if (s->in_thread) {
        /* in read() of its eventfd or write() of a report (both cancellation points), or
         * waiting for the lock we hold */
        pthread_cancel(s->in_tid);
        pthread_mutex_unlock(&s->lock);
        pthread_join(s->in_tid, NULL);
        pthread_mutex_lock(&s->lock);
        s->in_thread = false;
    }
    for (int i = 0; i < N_GADGETS; i++)
        s->function[i] = ffs_function_free(s->function[i]);
}

static void usage(FILE *f) {
    fputs("usage: stdfu-sim-ffs --udc UDC --device SPEC [--report FILE] [--flash FILE]\n"
          "                     [--ready FILE] [--verbose]\n", f);
}

int main(int argc, char **argv) {
    static const struct option options[] = {
        { "udc", required_argument, NULL, 'u' },     { "device", required_argument, NULL, 'd' },
        { "report", required_argument, NULL, 'r' },  { "flash", required_argument, NULL, 'f' },
        { "ready", required_argument, NULL, 'R' },   { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },          {}
    };
    const char *spec = "", *report = NULL, *flash = NULL, *ready = NULL;
    ffs_sim s = { .on_bus = -1, .wake_fd = -EBADF, .input_fd = -EBADF, .root_hub_fd = -EBADF,
                  .lock = PTHREAD_MUTEX_INITIALIZER };
    sim_device_config config;
    char err[256];
    sigset_t mask;
    int c, r, sig_fd;

    while ((c = getopt_long(argc, argv, "u:d:r:f:R:vh", options, NULL)) >= 0)
        switch (c) {
        case 'u': s.udc = optarg; break;
        case 'd': spec = optarg; break;
        case 'r': report = optarg; break;
        case 'f': flash = optarg; break;
        case 'R': ready = optarg; break;
        case 'v': s.verbose = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    if (!s.udc) {
        usage(stderr);
        return 2;
    }
    for (size_t i = 0; s.udc[i] && i + 1 < sizeof s.id; i++)
        s.id[i] = (s.udc[i] >= 'a' && s.udc[i] <= 'z') || (s.udc[i] >= '0' && s.udc[i] <= '9')
                      ? s.udc[i] : '_';

    sim_device_config_init(&config);
    if (sim_device_config_parse(&config, spec, err, sizeof err) < 0) {
        fprintf(stderr, "stdfu-sim-ffs: --device %s: %s\n", spec, err);
        return 2;
    }
    r = sim_device_new(&config, now_monotonic(), &s.dev);
    if (r < 0) {
        fprintf(stderr, "stdfu-sim-ffs: cannot create the device: %s\n", strerror(-r));
        return 1;
    }

    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGUSR1);
    sigaddset(&mask, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &mask, NULL); /* before the thread: it inherits the mask */
    sig_fd = signalfd(-1, &mask, SFD_CLOEXEC);
    s.wake_fd = eventfd(0, EFD_CLOEXEC);
    s.input_fd = eventfd(0, EFD_CLOEXEC);
    if (sig_fd < 0 || s.wake_fd < 0 || s.input_fd < 0) {
        perror("stdfu-sim-ffs: signalfd/eventfd");
        return 1;
    }

    s.port_powered = true;
    s.root_hub_fd = open_root_hub(s.udc);
    if (s.root_hub_fd < 0)
        say(&s, "no root hub found for %s: port power is not watched", s.udc);
    else if (pthread_create(&s.power_tid, NULL, port_power_thread, &s) == 0)
        s.power_thread = true;
    r = connect_device(&s);
    if (r >= 0 && ready) {
        FILE *f = fopen(ready, "we");
        if (f)
            fclose(f);
    }
    if (r >= 0)
        r = run(&s, sig_fd);

    pthread_mutex_lock(&s.lock);
    finish_transition(&s);
    if (report && write_report(&s, report) < 0)
        fprintf(stderr, "stdfu-sim-ffs: cannot write %s: %m\n", report);
    if (flash && write_flash(&s, flash) < 0)
        fprintf(stderr, "stdfu-sim-ffs: cannot write %s: %m\n", flash);
    teardown(&s);
    for (int i = 0; i < N_GADGETS; i++)
        s.gadget[i] = ffs_gadget_free(s.gadget[i]);
    sim_device_free(s.dev);
    return r < 0 ? 1 : 0;
}
