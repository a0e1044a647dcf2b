/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Waiting for a port to (re-)enumerate: sysfs first, then uevents, poll() with a deadline. */
#include <errno.h>
#include <libudev.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "usb/usb.h"

struct stdfu_usb_watch {
    const stdfu_usb_watch_ops *ops;
    void *userdata;
};

int stdfu_usb_watch_new_with_ops(const stdfu_usb_watch_ops *ops, void *userdata,
                                 stdfu_usb_watch **ret) {
    stdfu_usb_watch *w;

    if (!ops || !ops->wait)
        return -EINVAL;
    w = calloc(1, sizeof *w);
    if (!w)
        return -ENOMEM;
    w->ops = ops;
    w->userdata = userdata;
    *ret = w;
    return 0;
}

stdfu_usb_watch *stdfu_usb_watch_free(stdfu_usb_watch *w) {
    if (!w)
        return NULL;
    if (w->ops->free)
        w->ops->free(w->userdata);
    free(w);
    return NULL;
}

int stdfu_usb_watch_wait(stdfu_usb_watch *w, const char *port, unsigned modes_mask,
                         unsigned exclude_devnum, usec_t timeout_usec, const atomic_bool *cancel,
                         stdfu_usb_info *ret) {
    if (!stdfu_usb_port_is_valid(port) || (modes_mask & STDFU_USB_WANT_ANY) == 0)
        return -EINVAL;
    return w->ops->wait(w->userdata, port, modes_mask, exclude_devnum, timeout_usec, cancel, ret);
}

/* ---- the standalone implementation ------------------------------------------------------- */

/* A cancel flag cannot wake poll(): look at it this often while waiting. */
#define CANCEL_CHECK_USEC (50 * USEC_PER_MSEC)
/* A HID device's hidraw node is bound a moment after the usb_device appears. */
#define HIDRAW_GRACE_USEC (1 * USEC_PER_SEC)

typedef struct udev_watch {
    struct udev *udev;
    struct udev_monitor *monitor;
    stdfu_usb_ids ids;
} udev_watch;

static void udev_watch_free(void *userdata) {
    udev_watch *u = userdata;
    if (!u)
        return;
    if (u->monitor)
        udev_monitor_unref(u->monitor);
    if (u->udev)
        udev_unref(u->udev);
    free(u);
}

static usec_t deadline_of(usec_t timeout) {
    usec_t now = now_monotonic();
    return timeout == USEC_INFINITY || timeout > USEC_INFINITY - now ? USEC_INFINITY
                                                                     : now + timeout;
}

/* Reads every queued event; true if one concerns port (the usb_device itself, or a hidraw node
 * below it). */
static bool drain_events(udev_watch *u, const char *port) {
    size_t plen = strlen(port);
    struct udev_device *d;
    bool relevant = false;

    while ((d = udev_monitor_receive_device(u->monitor))) {
        const char *syspath = udev_device_get_syspath(d);
        const char *p = syspath ? strstr(syspath, port) : NULL;

        /* ".../1-1.4" or ".../1-1.4/1-1.4:1.0/..." but not ".../1-1.41" */
        for (; p && !relevant; p = strstr(p + 1, port))
            relevant = p > syspath && p[-1] == '/' &&
                       (p[plen] == '\0' || p[plen] == '/' || p[plen] == ':');
        udev_device_unref(d);
    }
    return relevant;
}

/* Waits for the next event or the deadline: 0 on an event (or a cancel check), -ETIMEDOUT,
 * -ECANCELED. */
static int wait_event(udev_watch *u, usec_t deadline, const atomic_bool *cancel) {
    struct pollfd p = { .fd = udev_monitor_get_fd(u->monitor), .events = POLLIN };
    usec_t now = now_monotonic(), wait;
    int r;

    if (cancel && atomic_load(cancel))
        return -ECANCELED;
    if (now >= deadline)
        return -ETIMEDOUT;
    wait = deadline - now;
    if (cancel)
        wait = MIN(wait, CANCEL_CHECK_USEC);
    r = poll(&p, 1, wait == USEC_INFINITY ? -1 : (int) DIV_ROUND_UP(wait, USEC_PER_MSEC));
    if (r < 0 && errno != EINTR)
        return -errno;
    return 0;
}

static bool wanted(const stdfu_usb_info *info, unsigned modes_mask, unsigned exclude_devnum) {
    return (modes_mask & STDFU_USB_MODE_BIT(info->mode)) && info->mode != STDFU_USB_ABSENT &&
           (exclude_devnum == 0 || info->devnum != exclude_devnum);
}

static int udev_watch_wait(void *userdata, const char *port, unsigned modes_mask,
                           unsigned exclude_devnum, usec_t timeout_usec, const atomic_bool *cancel,
                           stdfu_usb_info *ret) {
    udev_watch *u = userdata;
    usec_t deadline = deadline_of(timeout_usec), hidraw_deadline = 0;
    stdfu_usb_info info, found;
    bool have = false;
    int r;

    for (;;) {
        /* Gone again during the hidraw grace: back to waiting for it. */
        have = false;
        if (stdfu_usb_lookup_port(u->udev, &u->ids, port, &info) >= 0 &&
            wanted(&info, modes_mask, exclude_devnum)) {
            found = info;
            have = true;
            if (!info.has_hid || info.hidraw[0])
                break;
            /* Give its hidraw node a moment, so callers can talk HID at once. */
            if (hidraw_deadline == 0)
                hidraw_deadline = MIN(deadline, now_monotonic() + HIDRAW_GRACE_USEC);
        }
        do {
            r = wait_event(u, have ? hidraw_deadline : deadline, cancel);
            if (r == -ETIMEDOUT && have)
                goto done;
            if (r < 0)
                return r;
        } while (!drain_events(u, port));
    }
done:
    *ret = found;
    return 0;
}

static const stdfu_usb_watch_ops udev_watch_ops = {
    .wait = udev_watch_wait,
    .free = udev_watch_free,
};

int stdfu_usb_watch_new(const stdfu_usb_ids *ids, stdfu_usb_watch **ret, stdfu_error *err) {
    udev_watch *u;
    int r;

    u = calloc(1, sizeof *u);
    if (!u)
        return stdfu_error_set(err, -ENOMEM, "out of memory");
    if (ids)
        u->ids = *ids;
    else
        stdfu_usb_ids_init_any(&u->ids);
    u->udev = udev_new();
    if (u->udev)
        u->monitor = udev_monitor_new_from_netlink(u->udev, "udev");
    if (!u->monitor) {
        udev_watch_free(u);
        return stdfu_error_set(err, -EIO, "cannot listen to udev events");
    }
    r = udev_monitor_filter_add_match_subsystem_devtype(u->monitor, "usb", "usb_device");
    if (r >= 0)
        r = udev_monitor_filter_add_match_subsystem_devtype(u->monitor, "hidraw", NULL);
    if (r >= 0)
        r = udev_monitor_enable_receiving(u->monitor);
    if (r < 0) {
        udev_watch_free(u);
        return stdfu_error_set(err, r, "cannot listen to udev events: %m");
    }
    r = stdfu_usb_watch_new_with_ops(&udev_watch_ops, u, ret);
    if (r < 0) {
        udev_watch_free(u);
        return stdfu_error_set(err, r, "out of memory");
    }
    return 0;
}
