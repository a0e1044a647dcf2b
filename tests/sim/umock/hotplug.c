/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Enumeration and removal of USB nodes, and the model's transitions.
 *
 * Testbed changes (records, uevents, ioctl sockets) happen on the main thread only, never under
 * the bus lock: umockdev's worker thread must stay free to answer ioctls meanwhile. The kernel's
 * order is kept: the node and its ioctl socket exist before the "add" uevent, parents are added
 * before children and removed after them, each "remove" uevent before its sysfs directory goes
 * (umockdev 0.17 sends no "remove" itself and leaves children's /sys/bus links behind, so every
 * device is removed one by one, bottom-up). Each enumeration gets a new device number. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "umock/evsock.h"
#include "umock/internal.h"
#include "util/log.h"
#include "util/macro.h"

/* Paths are far below PATH_MAX; vsnprintf keeps the compiler's truncation analysis quiet. */
static void path_printf(char *buf, size_t size, const char *format, ...) _printf_(3, 4);
static void path_printf(char *buf, size_t size, const char *format, ...) {
    va_list ap;
    va_start(ap, format);
    vsnprintf(buf, size, format, ap);
    va_end(ap);
}

usb_node *node_ref(usb_node *n) {
    g_atomic_int_inc(&n->refs);
    return n;
}

void node_unref(usb_node *n) {
    if (!n || !g_atomic_int_dec_and_test(&n->refs))
        return;
    usbfs_node_release(n);
    sim_fifo_close(&n->fifo);
    sim_fifo_close(&n->hid_fifo);
    g_queue_clear(&n->hid_report_sizes);
    for (unsigned i = 0; i < n->n_interfaces; i++)
        g_free(n->interfaces[i].name);
    g_free(n->descriptors);
    g_free(n->report_descriptor);
    g_free(n->manufacturer);
    g_free(n->product);
    g_free(n->serial);
    g_free(n);
}

/* Like usb_alloc_dev(): the next free number after the last one, wrapping to 1. Lock held. */
static unsigned devnum_alloc(sim_bus *b) {
    for (unsigned k = 0; k < 127; k++) {
        unsigned d = (b->last_devnum + k) % 127 + 1;
        if (!b->devnum_used[d]) {
            b->devnum_used[d] = true;
            b->last_devnum = d;
            return d;
        }
    }
    return 0;
}

usb_node *node_new(sim_bus *b, node_kind kind, const char *name, const char *syspath) {
    usb_node *n = g_new0(usb_node, 1);

    n->refs = 1;
    n->bus = b;
    n->kind = kind;
    n->fifo = SIM_FIFO_NULL;
    n->ready_timer_fd = -1;
    n->hid_fifo = SIM_FIFO_NULL;
    g_queue_init(&n->hid_report_sizes);
    g_strlcpy(n->name, name, sizeof n->name);
    g_strlcpy(n->syspath, syspath, sizeof n->syspath);
    n->devnum = devnum_alloc(b);
    snprintf(n->devnode, sizeof n->devnode, "/dev/bus/usb/%03u/%03u", SIM_BUSNUM, n->devnum);
    n->speed_mbps = kind == NODE_DEVICE ? 12 : 480;
    return n;
}

typedef const char *(*string_fn)(const void *source, unsigned index);

static const char *device_string(const void *d, unsigned index) {
    return index ? sim_device_string(d, index) : NULL;
}
static const char *hub_string(const void *h, unsigned index) {
    return index ? sim_hub_string(h, index) : NULL;
}
static const char *root_string(const void *unused, unsigned index) {
    (void) unused;
    return index ? roothub_string(index) : NULL;
}

/* Copies what the records are made of; lock held. */
static int node_load(usb_node *n, const uint8_t *dd, const uint8_t *cd, size_t cl, string_fn str,
                     const void *source) {
    if (!dd || !cd || cl < 9)
        return -EBADMSG;
    n->descriptors_len = 18 + cl;
    n->descriptors = g_malloc(n->descriptors_len);
    memcpy(n->descriptors, dd, 18);
    memcpy(n->descriptors + 18, cd, cl);
    n->manufacturer = g_strdup(str(source, dd[14]));
    n->product = g_strdup(str(source, dd[15]));
    n->serial = g_strdup(str(source, dd[16]));
    int r = records_parse_config(n);
    if (r < 0)
        return r;
    for (unsigned i = 0; i < n->n_interfaces; i++) {
        node_interface *it = &n->interfaces[i];
        it->name = g_strdup(str(source, it->string_index));
        it->driver = it->cls == 0x09 ? "hub" : NULL;
        path_printf(it->syspath, sizeof it->syspath, "%s/%s:%u.%u", n->syspath,
                 n->kind == NODE_ROOT_HUB ? "1-0" : n->name, n->descriptors[18 + 5], it->number);
    }
    return 0;
}

int node_load_root_hub(usb_node *n) {
    size_t len;
    const uint8_t *d = roothub_descriptors(&len);
    return node_load(n, d, d + 18, len - 18, root_string, NULL);
}

int node_load_hub(usb_node *n, sim_hub *h) {
    size_t cl = 0;
    const uint8_t *cd = sim_hub_config_descriptor(h, &cl);
    return node_load(n, sim_hub_device_descriptor(h), cd, cl, hub_string, h);
}

static int node_load_device(usb_node *n, sim_device *d) {
    size_t cl = 0, rl = 0;
    const uint8_t *cd = sim_device_config_descriptor(d, &cl);
    int r = node_load(n, sim_device_device_descriptor(d), cd, cl, device_string, d);
    if (r < 0)
        return r;
    const uint8_t *rd = sim_device_hid_report_descriptor(d, &rl);
    for (unsigned i = 0; rd && rl > 0 && i < n->n_interfaces; i++)
        if (n->interfaces[i].cls == 0x03 && !n->has_hidraw) {
            n->has_hidraw = true;
            n->interfaces[i].driver = "usbhid";
            n->report_descriptor = g_memdup2(rd, rl);
            n->report_descriptor_len = rl;
        }
    return 0;
}

/* umockdev sends uevents from the calling thread, to every socket its glob finds: under the
 * event lock, so that none of them is renamed or unlinked meanwhile (umock/evsock.h). */
static void testbed_uevent(sim_bus *b, const char *syspath, const char *action) {
    int lock = sim_evsock_lock(b->root_dir);
    umockdev_testbed_uevent(b->testbed, syspath, action);
    sim_evsock_unlock(lock);
}

/* Adding sends the "add" uevent. */
static int testbed_add(sim_bus *b, const char *records) {
    g_autoptr(GError) e = NULL;
    int lock = sim_evsock_lock(b->root_dir);
    bool ok = umockdev_testbed_add_from_string(b->testbed, records, &e);
    sim_evsock_unlock(lock);
    if (!ok)
        return log_error_errno(EINVAL, "Cannot add device records: %s", e->message);
    return 0;
}

/* umockdev 0.17 reads "dev" with its newline when removing, so the /sys/dev/char/MAJ:MIN link
 * stays behind and re-adding that number (hidraw0 again) fails: remove the link ourselves. */
static void testbed_remove(sim_bus *b, const char *syspath) {
    g_autofree char *dev_attr = g_build_filename(b->root_dir, syspath, "dev", NULL);
    g_autofree char *majmin = NULL;

    if (g_file_get_contents(dev_attr, &majmin, NULL, NULL))
        g_strstrip(majmin);
    testbed_uevent(b, syspath, "remove");
    umockdev_testbed_remove_device(b->testbed, syspath);
    if (majmin && *majmin) {
        g_autofree char *link = g_build_filename(b->root_dir, "sys/dev/char", majmin, NULL);
        (void) unlink(link);
    }
}

/* Takes the node away like the kernel does: a client opening a devnode it looked up before the
 * unplug gets ENOENT. The ioctl socket behind it stays attached for the life of the bus (the
 * handlers answer ENODEV for nodes that are not live, as the kernel does for a stale fd):
 * detaching it left a window in which umockdev's preload had opened the file, could not connect
 * to the socket any more and aborted the client ("Failed to connect to ioctl socket"). */
static void node_file_remove(sim_bus *b, const char *devnode) {
    g_autofree char *path = g_build_filename(b->root_dir, devnode, NULL);
    if (unlink(path) < 0 && errno != ENOENT)
        log_debug("unlink %s: %m", path);
}

static int node_make_fifo(sim_bus *b, sim_fifo *f, const char *devnode, bool writable,
                          UMockdevIoctlBase *handler) {
    g_autofree char *path = g_build_filename(b->root_dir, devnode, NULL);
    g_autoptr(GError) e = NULL;
    int r = sim_fifo_create(f, path, writable);
    if (r < 0)
        return log_error_errno(r, "Cannot create the device node %s: %m", path);
    /* Once per devnode: a devnode used again (hidraw0, or a device number after 127
     * enumerations) keeps its socket; the handler looks the node up by devnode. */
    if (g_hash_table_contains(b->attached_nodes, devnode))
        return 0;
    if (!umockdev_testbed_attach_ioctl(b->testbed, devnode, handler, &e))
        return log_error_errno(EIO, "Cannot attach to %s: %s", devnode, e->message);
    g_hash_table_add(b->attached_nodes, g_strdup(devnode));
    return 0;
}

static unsigned hidraw_minor_alloc(sim_bus *b) {
    for (unsigned m = 0; m < SIM_MAX_HIDRAW; m++)
        if (!b->hidraw_used[m]) {
            b->hidraw_used[m] = true;
            return m;
        }
    return SIM_MAX_HIDRAW;
}

static unsigned hid_interface(const usb_node *n) {
    for (unsigned i = 0; i < n->n_interfaces; i++)
        if (n->interfaces[i].cls == 0x03)
            return i;
    return 0;
}

/* The hid bus device and hidraw node of a HID interface: main thread, lock not held. */
static int node_publish_hid(usb_node *n) {
    sim_bus *b = n->bus;

    g_mutex_lock(&b->lock);
    n->hidraw_minor = hidraw_minor_alloc(b);
    n->hid_seq = ++b->hid_seq;
    g_mutex_unlock(&b->lock);
    if (n->hidraw_minor >= SIM_MAX_HIDRAW)
        return log_error_errno(EMFILE, "%s: out of hidraw minors", n->name);

    snprintf(n->hidraw_devnode, sizeof n->hidraw_devnode, "/dev/hidraw%u", n->hidraw_minor);
    path_printf(n->hid_syspath, sizeof n->hid_syspath, "%s/0003:%04X:%04X.%04X",
                n->interfaces[hid_interface(n)].syspath, n->descriptors[8] | n->descriptors[9] << 8,
                n->descriptors[10] | n->descriptors[11] << 8, n->hid_seq);
    path_printf(n->hidraw_syspath, sizeof n->hidraw_syspath, "%s/hidraw/hidraw%u", n->hid_syspath,
             n->hidraw_minor);
    sim_fifo_close(&n->hid_fifo);
    int r = node_make_fifo(b, &n->hid_fifo, n->hidraw_devnode, true, b->hidraw_handler);
    if (r < 0)
        return r;

    g_mutex_lock(&b->lock);
    g_queue_clear(&n->hid_report_sizes);
    n->has_hidraw = true;
    g_hash_table_insert(b->live_nodes, n->hidraw_devnode, n);
    g_mutex_unlock(&b->lock);

    g_autofree char *rec = records_hid(n);
    return testbed_add(b, rec);
}

static void node_withdraw_hid(usb_node *n) {
    sim_bus *b = n->bus;

    g_mutex_lock(&b->lock);
    bool had = n->has_hidraw && n->hidraw_minor < SIM_MAX_HIDRAW;
    n->has_hidraw = false;
    if (had) {
        g_hash_table_remove(b->live_nodes, n->hidraw_devnode);
        b->hidraw_used[n->hidraw_minor] = false;
    }
    g_mutex_unlock(&b->lock);
    if (!had)
        return;
    testbed_remove(b, n->hidraw_syspath);
    testbed_remove(b, n->hid_syspath);
    node_file_remove(b, n->hidraw_devnode);
}

int node_publish(usb_node *n) {
    sim_bus *b = n->bus;
    bool hid = n->has_hidraw;
    int r;

    r = node_make_fifo(b, &n->fifo, n->devnode, false, b->usbfs_handler);
    if (r < 0)
        return r;
    g_mutex_lock(&b->lock);
    n->live = true;
    n->has_hidraw = false; /* until its node exists */
    g_hash_table_insert(b->live_nodes, n->devnode, n);
    g_mutex_unlock(&b->lock);

    g_autofree char *rec = records_usb(n);
    r = testbed_add(b, rec);
    if (r < 0)
        return r;
    log_debug("%s: %04x:%04x enumerated as %s", n->name,
              n->descriptors[8] | n->descriptors[9] << 8,
              n->descriptors[10] | n->descriptors[11] << 8, n->devnode);
    return hid ? node_publish_hid(n) : 0;
}

void node_withdraw(usb_node *n) {
    sim_bus *b = n->bus;

    g_mutex_lock(&b->lock);
    usbfs_node_disconnect(n);
    g_hash_table_remove(b->live_nodes, n->devnode);
    b->devnum_used[n->devnum] = false;
    g_mutex_unlock(&b->lock);

    node_withdraw_hid(n);
    for (unsigned i = n->n_interfaces; i-- > 0;)
        testbed_remove(b, n->interfaces[i].syspath);
    testbed_remove(b, n->syspath);
    node_file_remove(b, n->devnode);
    log_debug("%s: %s disconnected", n->name, n->devnode);
}

/* ---- driver binding --------------------------------------------------------------------- */

/* The DRIVER= line of a device's uevent attribute, which libudev reads for its driver. */
static void uevent_set_driver(sim_bus *b, const char *syspath, const char *driver) {
    g_autofree char *path = g_build_filename(b->root_dir, syspath, "uevent", NULL);
    g_autofree char *text = NULL;
    g_autoptr(GString) out = g_string_new(NULL);

    if (!g_file_get_contents(path, &text, NULL, NULL))
        return;
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    for (char **l = lines; *l; l++)
        if (**l && !g_str_has_prefix(*l, "DRIVER="))
            g_string_append_printf(out, "%s\n", *l);
    if (driver)
        g_string_append_printf(out, "DRIVER=%s\n", driver);
    (void) g_file_set_contents(path, out->str, (gssize) out->len, NULL);
}

typedef struct bind_job {
    usb_node *node;
    bool bound;
    unsigned iface;
} bind_job;

static gboolean bind_job_run(gpointer userdata) {
    bind_job *j = userdata;
    usb_node *n = j->node;
    const char *ifpath = n->interfaces[j->iface].syspath;

    if (!n->live)
        return G_SOURCE_REMOVE;
    g_autofree char *link = g_build_filename(n->bus->root_dir, ifpath, "driver", NULL);

    /* the kernel says "bind"/"unbind" once the driver's probe/remove is done */
    if (j->bound) {
        (void) node_publish_hid(n);
        (void) symlink("../../../../../../bus/usb/drivers/usbhid", link);
        uevent_set_driver(n->bus, ifpath, "usbhid");
        testbed_uevent(n->bus, ifpath, "bind");
    } else {
        node_withdraw_hid(n);
        (void) unlink(link);
        uevent_set_driver(n->bus, ifpath, NULL);
        testbed_uevent(n->bus, ifpath, "unbind");
    }
    return G_SOURCE_REMOVE;
}

static void bind_job_free(gpointer userdata) {
    bind_job *j = userdata;
    node_unref(j->node);
    g_free(j);
}

void node_set_driver_bound(usb_node *n, node_interface *i, bool bound) {
    bool hid = n->kind == NODE_DEVICE && i->cls == 0x03 && n->report_descriptor;

    if (bound == (i->driver != NULL))
        return;
    i->driver = !bound ? NULL : i->cls == 0x09 ? "hub" : hid ? "usbhid" : NULL;
    if (!hid)
        return;
    bind_job *j = g_new0(bind_job, 1);
    j->node = node_ref(n);
    j->bound = bound;
    j->iface = (unsigned) (i - n->interfaces);
    g_main_context_invoke_full(n->bus->main_ctx, G_PRIORITY_DEFAULT, bind_job_run, j,
                               bind_job_free);
}

/* ---- devices on ports ------------------------------------------------------------------- */

int slot_connect(sim_slot *s, sim_mode mode) {
    sim_bus *b = s->bus;
    g_autofree char *syspath = NULL;

    if (s->node || mode == SIM_MODE_OFF)
        return 0;
    /* on a hub: under the hub's directory, named by the part of the port before the dot */
    const char *dot = strrchr(s->port, '.');
    syspath = dot ? g_strdup_printf("/sys" SIM_PCI_PATH "/usb1/%.*s/%s", (int) (dot - s->port),
                                    s->port, s->port)
                  : g_strdup_printf("/sys" SIM_PCI_PATH "/usb1/%s", s->port);
    g_mutex_lock(&b->lock);
    usb_node *n = node_new(b, NODE_DEVICE, s->port, syspath);
    n->slot = s;
    int r = n->devnum ? node_load_device(n, s->dev) : -EMFILE;
    if (r >= 0)
        s->node = n;
    g_mutex_unlock(&b->lock);
    if (r < 0) {
        node_unref(n);
        return log_error_errno(r, "%s: cannot enumerate the device: %m", s->port);
    }
    return node_publish(n);
}

void slot_disconnect(sim_slot *s) {
    g_mutex_lock(&s->bus->lock);
    usb_node *n = g_steal_pointer(&s->node);
    g_mutex_unlock(&s->bus->lock);
    if (!n)
        return;
    node_withdraw(n);
    node_unref(n);
}

typedef struct trans_timer {
    sim_slot *slot;
    unsigned gen;
} trans_timer;

static gboolean slot_transition_fired(gpointer userdata);

static void slot_schedule(sim_slot *s, sim_usec at) {
    sim_usec now = now_usec();
    trans_timer *t = g_new(trans_timer, 1);

    if (s->trans_source) {
        g_source_destroy(s->trans_source);
        g_source_unref(s->trans_source);
    }
    *t = (trans_timer) { s, s->trans_gen };
    s->trans_source = g_timeout_source_new((guint) (at > now ? (at - now + 999) / 1000 : 0));
    g_source_set_callback(s->trans_source, slot_transition_fired, t, g_free);
    g_source_attach(s->trans_source, s->bus->main_ctx);
}

void slot_poll_transition(sim_slot *s) {
    sim_transition t;
    bool any = false;

    while (sim_device_take_transition(s->dev, &t))
        any = true;
    if (any)
        slot_start_transition(s, &t);
}

void slot_start_transition(sim_slot *s, const sim_transition *tr) {
    sim_transition t = *tr;

    trace("%s: transition: off the bus in %.1f ms, %s", s->port,
          t.at > now_usec() ? (double) (t.at - now_usec()) / 1000.0 : 0.0,
          t.mode == SIM_MODE_OFF ? "stays off"
          : t.mode == SIM_MODE_APPLICATION ? "back as the application"
                                           : "back as the bootloader");
    s->trans = t;
    s->trans_gen++;
    s->trans_disconnected = false;
    slot_schedule(s, t.at);
}

void bus_poll_hub_transitions(sim_bus *b) {
    for (size_t i = 0; i < b->n_slots; i++)
        if (b->slots[i]->hub_port)
            slot_poll_transition(b->slots[i]);
}

/* Main thread: the disconnect half of a transition, then its reconnect. */
static gboolean slot_transition_fired(gpointer userdata) {
    trans_timer *t = userdata;
    sim_slot *s = t->slot;
    sim_bus *b = s->bus;

    g_mutex_lock(&b->lock);
    if (t->gen != s->trans_gen) {
        g_mutex_unlock(&b->lock);
        return G_SOURCE_REMOVE;
    }
    g_clear_pointer(&s->trans_source, g_source_unref);
    sim_transition tr = s->trans;
    bool reconnect = s->trans_disconnected;
    s->trans_disconnected = true;
    g_mutex_unlock(&b->lock);

    if (!reconnect) {
        slot_disconnect(s);
        g_mutex_lock(&b->lock);
        if (t->gen == s->trans_gen && tr.mode != SIM_MODE_OFF)
            slot_schedule(s, tr.reconnect_at);
        g_mutex_unlock(&b->lock);
        return G_SOURCE_REMOVE;
    }

    g_mutex_lock(&b->lock);
    sim_device_connected(s->dev, tr.mode, now_usec());
    slot_poll_transition(s);
    g_mutex_unlock(&b->lock);
    (void) slot_connect(s, tr.mode);
    return G_SOURCE_REMOVE;
}
