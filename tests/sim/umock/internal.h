/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Internals shared by the files of the umockdev front-end. See umock.h for the threads. */

/* lib/util's MIN/MAX first: GLib #undefs and redefines them (identically), the reverse order
 * would be a redefinition. */
#include "util/log.h"
#include "util/macro.h"

#include <glib.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <umockdev.h>

#include "model/model.h"
#include "umock/fifo.h"
#include "umock/umock.h"

#define SIM_BUSNUM 1u
#define SIM_USB_MAJOR 189u
#define SIM_HIDRAW_MAJOR 240u /* dynamic on real systems; any unused number does */
#define SIM_MAX_HIDRAW 32u
#define SIM_MAX_INTERFACES 8u
#define SIM_PCI_PATH "/devices/pci0000:00/0000:00:14.0"
#define SIM_PCI_SLOT "0000:00:14.0"

extern bool sim_trace;
#define trace(...) \
    do { \
        if (sim_trace) \
            log_debug(__VA_ARGS__); \
    } while (0)

typedef enum node_kind {
    NODE_ROOT_HUB,
    NODE_HUB,
    NODE_DEVICE,
} node_kind;

typedef struct sim_slot sim_slot;

typedef struct node_interface {
    uint8_t number, cls, subclass, protocol, n_endpoints, string_index;
    char *name;                 /* iInterface string of alt setting 0, or NULL */
    const char *driver;         /* kernel driver bound ("usbhid", "hub") or NULL */
    UMockdevIoctlClient *owner; /* usbfs client that claimed it (identity only) */
    GWeakRef owner_ref;         /* whether it still exists (zero-initialised is valid) */
    char syspath[PATH_MAX];
} node_interface;

/* One enumeration of one USB device: a usbfs node /dev/bus/usb/001/NNN (and, for a HID
 * application, a hidraw node). A re-enumeration makes a new node with a new devnum; clients
 * of the old one keep it alive (reference count) and get ENODEV. */
typedef struct usb_node {
    gint refs;
    sim_bus *bus;
    node_kind kind;
    sim_slot *slot;             /* NODE_DEVICE */
    sim_hub *hub;               /* NODE_HUB */
    unsigned devnum;
    char name[32];              /* sysfs name: "usb1", "1-1", "1-1.2" */
    char devnode[64];           /* /dev/bus/usb/001/005 */
    char syspath[PATH_MAX];     /* /sys/devices/.../1-1.2 */
    bool live;                  /* on the bus; false once disconnected */
    unsigned speed_mbps;        /* 12 or 480 */
    sim_fifo fifo;
    GList *urbs;                /* struct sim_urb*, every client's, submission order */
    int ready_timer_fd;         /* timerfd: the next URB due */
    GSource *ready_timer;       /* its source on umockdev's worker context (holds a ref) */
    gint64 ready_timer_at;      /* when it is armed for, 0 when not */

    /* what the sysfs records are made of, copied from the model at enumeration */
    uint8_t *descriptors;       /* device descriptor + configuration descriptor */
    size_t descriptors_len;
    char *manufacturer, *product, *serial;
    node_interface interfaces[SIM_MAX_INTERFACES];
    unsigned n_interfaces;

    /* hidraw, for an application with a HID interface */
    bool has_hidraw;
    unsigned hidraw_minor;
    unsigned hid_seq;
    char hidraw_devnode[32];
    char hid_syspath[PATH_MAX];
    char hidraw_syspath[PATH_MAX];
    uint8_t *report_descriptor;
    size_t report_descriptor_len;
    sim_fifo hid_fifo;
    GQueue hid_report_sizes;    /* sizes of the reports in hid_fifo, oldest first */
} usb_node;

/* A port with a device of the model on it (or none: unplugged). */
struct sim_slot {
    sim_bus *bus;
    char port[32];              /* "1-1.2" */
    unsigned root_port;         /* on the root hub: 1..SIM_BUS_ROOT_PORTS, else 0 */
    unsigned hub_port;          /* on a hub: 1..SIM_HUB_PORTS, else 0 */
    sim_hub *hub;               /* that hub (bus_hub.hub), else NULL */
    sim_device *dev;
    bool plugged;
    usb_node *node;             /* on the bus now, or NULL */

    /* the model's pending transition, carried out by timers on the main context */
    sim_transition trans;
    unsigned trans_gen;         /* bumped by each new transition; stale timers do nothing */
    bool trans_disconnected;
    GSource *trans_source;
};

/* A hub on root port `index + 1` ("1-1", "1-2"). */
typedef struct bus_hub {
    sim_hub *hub;
    usb_node *node;
} bus_hub;

struct sim_bus {
    GMutex lock;
    UMockdevTestbed *testbed;
    char *root_dir;
    GMainContext *main_ctx;
    GMainContext *worker_ctx;   /* umockdev's, learnt from the first handler call */
    UMockdevIoctlBase *usbfs_handler;
    UMockdevIoctlBase *hidraw_handler;
    GHashTable *live_nodes;     /* devnode -> usb_node (borrowed), for binding new clients */
    GHashTable *attached_nodes; /* devnodes whose ioctl socket is attached (set of strings) */
    bool devnum_used[128];
    unsigned last_devnum;
    bool hidraw_used[SIM_MAX_HIDRAW];
    unsigned hid_seq;

    usb_node *root_node;
    bus_hub hubs[SIM_BUS_MAX_HUBS];
    size_t n_hubs;
    sim_slot *slots[SIM_BUS_MAX_DEVICES];
    size_t n_slots;

    struct sim_evsock *evsock;
};

static inline sim_usec now_usec(void) {
    return (sim_usec) g_get_monotonic_time();
}

/* ---- testbed.c / hotplug.c -------------------------------------------------------------- */
usb_node *node_ref(usb_node *n);
void node_unref(usb_node *n);
usb_node *node_new(sim_bus *b, node_kind kind, const char *name, const char *syspath);
/* Lock held: copy descriptors and strings for the records. */
int node_load_root_hub(usb_node *n);
int node_load_hub(usb_node *n, sim_hub *h);
/* Adds the node's records (and hidraw) to the testbed: "add" uevents, parent first. */
int node_publish(usb_node *n);
/* Takes the node off the bus: in-flight URBs fail, "remove" uevents children first. */
void node_withdraw(usb_node *n);
/* Lock held. Picks up the model's transition, if any, and schedules it on the main context. */
void slot_poll_transition(sim_slot *s);
/* Lock held. Schedules a transition taken from the model. */
void slot_start_transition(sim_slot *s, const sim_transition *t);
/* Lock held. After a hub request: every device on the hub may have a transition. */
void bus_poll_hub_transitions(sim_bus *b);
int slot_connect(sim_slot *s, sim_mode mode);
/* Lock held. Binds/unbinds the interface's kernel driver (usbdevfs DISCONNECT/CONNECT); for
 * usbhid the hid and hidraw devices go or come back, on the main thread. */
void node_set_driver_bound(usb_node *n, node_interface *i, bool bound);
void slot_disconnect(sim_slot *s);

/* ---- records.c -------------------------------------------------------------------------- */
/* Fills the node's interfaces from its configuration descriptor. */
int records_parse_config(usb_node *n);
char *records_usb(const usb_node *n);
char *records_hid(const usb_node *n);
char *records_pci_controller(void);

/* ---- usbfs.c ---------------------------------------------------------------------------- */
UMockdevIoctlBase *usbfs_handler_new(sim_bus *b);
/* Lock held. Disconnect: URBs in flight complete with -ESHUTDOWN; the FIFO wakes pollers. */
void usbfs_node_disconnect(usb_node *n);
void usbfs_node_release(usb_node *n);
/* Stops the node's ready timer; on the worker thread (it runs there and uses the bus). */
void usbfs_node_stop_timer(usb_node *n);

/* ---- usbfs-misc.c: everything but URBs ---------------------------------------------------- */
int usbfs_misc_ioctl(usb_node *n, UMockdevIoctlClient *c, gulong req, UMockdevIoctlData *arg,
                     long *res);

/* ---- hidraw.c --------------------------------------------------------------------------- */
UMockdevIoctlBase *hidraw_handler_new(sim_bus *b);
/* Lock held. Moves the model's pending input reports into the hidraw FIFO. */
void hidraw_flush_input(usb_node *n);

/* ---- roothub.c -------------------------------------------------------------------------- */
int roothub_control(sim_bus *b, const sim_setup *setup, uint8_t *data);
const uint8_t *roothub_descriptors(size_t *len);
const char *roothub_string(unsigned index);
/* A string descriptor (index 0: the language table when s is NULL), cut to max bytes. */
int usb_string_descriptor(const char *s, uint8_t *out, size_t max);

/* ---- client binding (usbfs.c) ----------------------------------------------------------- */
/* The node a umockdev client opened, bound when it connected. Lock held. */
usb_node *client_node(sim_bus *b, UMockdevIoctlClient *c);
void client_bind(sim_bus *b, UMockdevIoctlClient *c);
/* The client holding the interface, NULL if none or if it has closed its fd since. */
UMockdevIoctlClient *interface_owner(node_interface *i);
void interface_set_owner(node_interface *i, UMockdevIoctlClient *c);
/* "client-connected" handler of both ioctl handlers: binds the client to its node. */
void client_connected_cb(UMockdevIoctlBase *h, UMockdevIoctlClient *c, gpointer userdata);
