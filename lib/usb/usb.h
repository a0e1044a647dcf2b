/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* USB device identity and lookup by physical port.
 *
 * A device is the STM32 on one USB port ("1-1.4", the sysfs name of the usb_device). It shows
 * up either as its application (a HID device, maybe with a DFU runtime interface) or as the ROM
 * DfuSe bootloader (0483:df11 by default); both modes of one port are one device. Every
 * re-enumeration gets a new devnum, which is how a new appearance is told from the old one.
 *
 * Lookup uses libudev (sysfs) only; a libusb handle is opened for a port afterwards by
 * stdfu_usb_open(). Nothing here keeps global state. */

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"
#include "util/time-util.h"

struct udev;
struct udev_device;
struct libusb_context;
struct libusb_device_handle;

#define STDFU_USB_PORT_MAX 32      /* "255-1.2.3.4.5.6.7" fits easily */
#define STDFU_USB_PORT_DEPTH 7     /* USB allows 7 tiers of ports below the root hub */

#define STDFU_USB_BOOTLOADER_VID 0x0483
#define STDFU_USB_BOOTLOADER_PID 0xdf11
#define STDFU_USB_APPLICATION_VID 0x0483
#define STDFU_USB_APPLICATION_PID 0x5750

typedef enum stdfu_usb_mode {
    STDFU_USB_ABSENT = 0,      /* nothing (of ours) on the port */
    STDFU_USB_APPLICATION = 1,
    STDFU_USB_BOOTLOADER = 2,
} stdfu_usb_mode;

/* Masks for stdfu_usb_watch_wait(). */
#define STDFU_USB_MODE_BIT(m) (1u << (m))
#define STDFU_USB_WANT_APPLICATION STDFU_USB_MODE_BIT(STDFU_USB_APPLICATION)
#define STDFU_USB_WANT_BOOTLOADER STDFU_USB_MODE_BIT(STDFU_USB_BOOTLOADER)
#define STDFU_USB_WANT_ANY (STDFU_USB_WANT_APPLICATION | STDFU_USB_WANT_BOOTLOADER)

const char *stdfu_usb_mode_to_string(stdfu_usb_mode m); /* "absent", "application", "bootloader" */

typedef struct stdfu_usb_info {
    char port[STDFU_USB_PORT_MAX]; /* "1-1.4" */
    char syspath[256];             /* /sys/devices/.../1-1.4 */
    char devnode[64];              /* /dev/bus/usb/001/007 */
    unsigned busnum, devnum;
    uint16_t vid, pid, bcd_device;
    uint8_t device_class;
    char manufacturer[128], product[128], serial[128]; /* "" when the device has none */
    stdfu_usb_mode mode;
    bool has_dfu_runtime;          /* an interface 0xFE/1/1 (DFU_DETACH possible) */
    int dfu_runtime_interface;     /* its bInterfaceNumber, -1 if none */
    int dfu_interface;             /* bootloader: bInterfaceNumber of 0xFE/1/2, -1 if none */
    bool has_hid;                  /* an interface of class 3 */
    char hidraw[64];               /* /dev/hidrawN of its HID interface, "" if none */
} stdfu_usb_info;

/* Which USB ids make a device "ours", in which mode.
 * Bootloader: any device with a DFU-mode interface (0xFE/1/2), or boot_vid:boot_pid.
 * Application: a device with a DFU runtime interface (0xFE/1/1), or one of app_ids; when
 * n_app_ids is 0 any other non-hub device counts (use that when matching by port only). */
#define STDFU_USB_MAX_APP_IDS 16
typedef struct stdfu_usb_ids {
    uint16_t boot_vid, boot_pid;
    struct {
        uint16_t vid, pid;
    } app_ids[STDFU_USB_MAX_APP_IDS];
    size_t n_app_ids;
} stdfu_usb_ids;

/* boot 0483:df11, application 0483:5750. */
void stdfu_usb_ids_init_default(stdfu_usb_ids *ids);
/* boot 0483:df11, any application (n_app_ids = 0): for waits on a known port. */
void stdfu_usb_ids_init_any(stdfu_usb_ids *ids);
int stdfu_usb_ids_add_app(stdfu_usb_ids *ids, uint16_t vid, uint16_t pid);
stdfu_usb_mode stdfu_usb_ids_classify(const stdfu_usb_ids *ids, const stdfu_usb_info *info);

/* ---- port paths -------------------------------------------------------------------------- */
/* "1-1.4" -> bus 1, ports {1, 4}, n 2. Strict: bus 1..255, 1..7 ports each 1..255, no junk.
 * Returns 0 or -EINVAL. */
int stdfu_usb_port_parse(const char *port, unsigned *ret_bus,
                         uint8_t ret_ports[STDFU_USB_PORT_DEPTH], size_t *ret_n);
bool stdfu_usb_port_is_valid(const char *port);
/* The inverse; returns -ENOBUFS/-EINVAL on bad input. */
int stdfu_usb_port_format(unsigned bus, const uint8_t *ports, size_t n, char *buf, size_t size);
/* "1-1.4" -> "1-1" (the hub's port path); "1-4" -> "usb1" (the root hub). */
int stdfu_usb_port_parent(const char *port, char *buf, size_t size);

/* ---- matchers ---------------------------------------------------------------------------- */
typedef enum stdfu_usb_match_kind {
    STDFU_USB_MATCH_ANY,   /* every candidate */
    STDFU_USB_MATCH_PORT,  /* --port 1-1.4 */
    STDFU_USB_MATCH_ID,    /* --device 0483:df11[,SERIAL] */
    STDFU_USB_MATCH_INDEX, /* n-th candidate in port order, from 0 */
} stdfu_usb_match_kind;

typedef struct stdfu_usb_matcher {
    stdfu_usb_match_kind kind;
    char port[STDFU_USB_PORT_MAX];
    uint16_t vid, pid;
    bool has_serial;
    char serial[128];
    unsigned index;
} stdfu_usb_matcher;

/* "--port" value: validates the path. */
int stdfu_usb_matcher_parse_port(const char *s, stdfu_usb_matcher *ret, stdfu_error *err);
/* "--device" value: "VID:PID" or "VID:PID,SERIAL", ids in hex. */
int stdfu_usb_matcher_parse_id(const char *s, stdfu_usb_matcher *ret, stdfu_error *err);
void stdfu_usb_matcher_index(unsigned index, stdfu_usb_matcher *ret);
/* Port and id matchers only (INDEX needs the list: see stdfu_usb_select()). */
bool stdfu_usb_matcher_match(const stdfu_usb_matcher *m, const stdfu_usb_info *info);
/* Human description for messages: "port 1-1.4", "device 0483:df11 serial X", "device #2". */
int stdfu_usb_matcher_describe(const stdfu_usb_matcher *m, char *buf, size_t size);

/* ---- enumeration (libudev) --------------------------------------------------------------- */
/* Fills info from a udev usb_device: ids, strings, interfaces (from the "descriptors"
 * attribute, or the interface children), hidraw node, and mode by ids. -ENODEV if dev is not a
 * usb_device (an interface, a root hub). A device that is not ours gets mode ABSENT. */
int stdfu_usb_info_from_udev(struct udev_device *dev, const stdfu_usb_ids *ids,
                             stdfu_usb_info *ret);
/* Every application or bootloader device, sorted by port. udev may be NULL (one is created).
 * *ret is malloc()ed (free() it), possibly NULL with *ret_n 0. */
int stdfu_usb_enumerate(struct udev *udev, const stdfu_usb_ids *ids, stdfu_usb_info **ret,
                        size_t *ret_n, stdfu_error *err);
/* Of list (sorted by port), the one device m matches: -ENODEV "no device on port 1-1.4" if
 * none, -ENOTUNIQ naming the candidates' ports if several. */
int stdfu_usb_select(const stdfu_usb_info *list, size_t n, const stdfu_usb_matcher *m,
                     stdfu_usb_info *ret, stdfu_error *err);
/* Enumerate + select. To find a device by port whatever its application ids, pass ids from
 * stdfu_usb_ids_init_any(). */
int stdfu_usb_find(struct udev *udev, const stdfu_usb_ids *ids, const stdfu_usb_matcher *m,
                   stdfu_usb_info *ret, stdfu_error *err);
/* What is on that port now (sysfs): 0 with info (mode may be ABSENT for a foreign device),
 * -ENODEV if nothing is there. */
int stdfu_usb_lookup_port(struct udev *udev, const stdfu_usb_ids *ids, const char *port,
                          stdfu_usb_info *ret);

/* ---- libusb ------------------------------------------------------------------------------- */
/* Opens the device on port (bus number + libusb_get_port_numbers()); devnum 0 = whatever
 * enumeration is there, else that one only (-ENODEV "re-enumerated" otherwise). */
int stdfu_usb_open(struct libusb_context *ctx, const char *port, unsigned devnum,
                   struct libusb_device_handle **ret, stdfu_error *err);
/* libusb error -> negative errno (NO_DEVICE -> -ENODEV, PIPE -> -EPIPE, TIMEOUT -> -ETIMEDOUT,
 * ACCESS -> -EACCES, BUSY -> -EBUSY, NOT_FOUND -> -ENOENT, ...). */
int stdfu_usb_errno(int libusb_error);

/* ---- waiting for (re-)enumeration -------------------------------------------------------- */
/* A watch listens to uevents (usb and hidraw) from its creation on, so create it BEFORE the
 * action that makes the device re-enumerate (enter, leave, reset, power cycle): nothing that
 * happens after creation is missed.
 *
 * Behind ops so that the daemon can feed waits from its own main loop; stdfu_usb_watch_new()
 * is the standalone implementation (its own udev monitor, poll()). */
typedef struct stdfu_usb_watch_ops {
    /* Returns 0 with *ret once a device is on port in one of modes_mask with a devnum other
     * than exclude_devnum (0: any), -ETIMEDOUT, -ECANCELED when *cancel became true. */
    int (*wait)(void *userdata, const char *port, unsigned modes_mask, unsigned exclude_devnum,
                usec_t timeout_usec, const atomic_bool *cancel, stdfu_usb_info *ret);
    void (*free)(void *userdata);
} stdfu_usb_watch_ops;

typedef struct stdfu_usb_watch stdfu_usb_watch;

/* Standalone: own udev + monitor, checks sysfs first, then events. ids decide the mode. */
int stdfu_usb_watch_new(const stdfu_usb_ids *ids, stdfu_usb_watch **ret, stdfu_error *err);
/* Any implementation: ops are called with userdata; ops->free(userdata) on free. */
int stdfu_usb_watch_new_with_ops(const stdfu_usb_watch_ops *ops, void *userdata,
                                 stdfu_usb_watch **ret);
stdfu_usb_watch *stdfu_usb_watch_free(stdfu_usb_watch *w);

/* timeout_usec USEC_INFINITY = no timeout. cancel may be NULL. */
int stdfu_usb_watch_wait(stdfu_usb_watch *w, const char *port, unsigned modes_mask,
                         unsigned exclude_devnum, usec_t timeout_usec, const atomic_bool *cancel,
                         stdfu_usb_info *ret);

static inline void stdfu_usb_watch_freep(stdfu_usb_watch **w) {
    if (*w)
        stdfu_usb_watch_free(*w);
}
#define _cleanup_usb_watch_ _cleanup_(stdfu_usb_watch_freep)
