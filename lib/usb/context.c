/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The process's libusb context, shared by everything that talks to devices at the same time.
 *
 * libusb_init() scans every USB device in sysfs; with a fleet entering its bootloaders at once,
 * one context per open made every worker scan the whole bus. A shared context lists devices
 * from the list libusb keeps up to date from its udev monitor (libusb_get_device_list() first
 * reads the uevents still queued, so a device udev just announced is there). The last user's
 * release exits the context: an idle daemon holds none. */
#include <libusb.h>
#include <pthread.h>

#include "usb/usb.h"
#include "util/log.h"

static pthread_mutex_t context_lock = PTHREAD_MUTEX_INITIALIZER;
static libusb_context *context;
static unsigned context_users;

int stdfu_usb_context_acquire(libusb_context **ret, stdfu_error *err) {
    int r = 0;

    pthread_mutex_lock(&context_lock);
    if (!context) {
        r = libusb_init(&context);
        if (r < 0)
            context = NULL;
    }
    if (context) {
        context_users++;
        *ret = context;
    }
    pthread_mutex_unlock(&context_lock);
    if (r < 0)
        return stdfu_error_set(err, stdfu_usb_errno(r), "cannot initialise libusb: %s",
                               libusb_strerror(r));
    return 0;
}

void stdfu_usb_context_release(libusb_context *ctx) {
    if (!ctx)
        return;
    pthread_mutex_lock(&context_lock);
    if (ctx != context || context_users == 0)
        log_error("Releasing a libusb context that is not the shared one (bug).");
    else if (--context_users == 0) {
        libusb_exit(context);
        context = NULL;
    }
    pthread_mutex_unlock(&context_lock);
}

void stdfu_usb_context_releasep(libusb_context **ctx) {
    stdfu_usb_context_release(*ctx);
    *ctx = NULL;
}
