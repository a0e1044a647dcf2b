/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The emulated bus: the umockdev testbed with the PCI controller, the root hub, the hubs on
 * its first ports and the devices on their ports; what the control socket can do to them. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/un.h>

#include "umock/evsock.h"
#include "umock/internal.h"
#include "util/log.h"
#include "util/macro.h"

bool sim_trace;

void sim_bus_set_trace(bool on) {
    sim_trace = on;
}

static int set_err(char *err, size_t size, int r, const char *format, ...) _printf_(4, 5);
static int set_err(char *err, size_t size, int r, const char *format, ...) {
    va_list ap;
    va_start(ap, format);
    if (err && size > 0)
        vsnprintf(err, size, format, ap);
    va_end(ap);
    return r;
}

static int bus_add_root_hub(sim_bus *b) {
    g_autofree char *pci = records_pci_controller();
    g_autoptr(GError) e = NULL;
    int r;

    if (!umockdev_testbed_add_from_string(b->testbed, pci, &e))
        return log_error_errno(EINVAL, "Cannot add the USB controller: %s", e->message);

    g_mutex_lock(&b->lock);
    b->root_node = node_new(b, NODE_ROOT_HUB, "usb1", "/sys" SIM_PCI_PATH "/usb1");
    r = node_load_root_hub(b->root_node);
    g_mutex_unlock(&b->lock);
    if (r < 0)
        return log_error_errno(r, "Cannot describe the root hub: %m");
    return node_publish(b->root_node);
}

/* Hub i on root port i + 1. */
static int bus_add_hub(sim_bus *b, sim_hub_kind kind) {
    bus_hub *h = &b->hubs[b->n_hubs];
    char name[16], syspath[64];
    int r;

    snprintf(name, sizeof name, "1-%zu", b->n_hubs + 1);
    snprintf(syspath, sizeof syspath, "/sys" SIM_PCI_PATH "/usb1/%s", name);
    r = sim_hub_new(kind, &h->hub);
    if (r < 0)
        return log_error_errno(r, "Cannot create the hub at %s: %m", name);
    b->n_hubs++;
    g_mutex_lock(&b->lock);
    h->node = node_new(b, NODE_HUB, name, syspath);
    h->node->hub = h->hub;
    r = node_load_hub(h->node, h->hub);
    g_mutex_unlock(&b->lock);
    if (r < 0)
        return log_error_errno(r, "Cannot describe the hub at %s: %m", name);
    return node_publish(h->node);
}

#define SUN_PATH_SIZE sizeof(((struct sockaddr_un *) NULL)->sun_path)

int sim_bus_new(const sim_hub_kind *hubs, size_t n_hubs, sim_bus **ret) {
    sim_bus *b;
    int r;

    if (n_hubs > SIM_BUS_MAX_HUBS)
        return log_error_errno(ENOSPC, "At most %u hubs can be emulated, not %zu.",
                               SIM_BUS_MAX_HUBS, n_hubs);
    b = g_new0(sim_bus, 1);
    g_mutex_init(&b->lock);
    b->main_ctx = g_main_context_ref(g_main_context_default());
    b->live_nodes = g_hash_table_new(g_str_hash, g_str_equal);
    b->attached_nodes = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    b->devnum_used[0] = true;
    /* umockdev_in_mock_environment() caches its first answer: nothing may ask before this. */
    b->testbed = umockdev_testbed_new();
    b->root_dir = umockdev_testbed_get_root_dir(b->testbed);
    /* umockdev only warns when it cannot bind a device's ioctl socket; the device then fails
     * every ioctl. */
    if (strlen(b->root_dir) + strlen("/ioctl/dev/bus/usb/001/001") >= SUN_PATH_SIZE) {
        log_error("The testbed %s is too deep for its Unix sockets (at most %zu bytes a path): "
                  "set a shorter TMPDIR.", b->root_dir, SUN_PATH_SIZE - 1);
        sim_bus_free(b);
        return -ENAMETOOLONG;
    }
    b->usbfs_handler = usbfs_handler_new(b);
    b->hidraw_handler = hidraw_handler_new(b);

    r = sim_evsock_start(b->root_dir, &b->evsock);
    if (r < 0)
        log_warning_errno(r, "Cannot watch uevent sockets, two monitoring processes may steal "
                          "each other's uevents: %m");
    r = bus_add_root_hub(b);
    for (size_t i = 0; r >= 0 && i < n_hubs; i++)
        r = hubs[i] == SIM_HUB_NONE ? -EINVAL : bus_add_hub(b, hubs[i]);
    if (r < 0) {
        sim_bus_free(b);
        return r;
    }
    *ret = b;
    return 0;
}

/* Runs on umockdev's worker thread once whatever it was doing is done. */
typedef struct worker_barrier {
    GMutex lock;
    GCond cond;
    bool passed;
    sim_bus *bus;
} worker_barrier;

static gboolean worker_barrier_pass(gpointer userdata) {
    worker_barrier *w = userdata;
    GHashTableIter i;
    gpointer node;

    /* The ready timers fire on this thread and take the bus's lock: none may outlive it. */
    g_hash_table_iter_init(&i, w->bus->live_nodes);
    while (g_hash_table_iter_next(&i, NULL, &node))
        usbfs_node_stop_timer(node);
    g_mutex_lock(&w->lock);
    w->passed = true;
    g_cond_signal(&w->cond);
    g_mutex_unlock(&w->lock);
    return G_SOURCE_REMOVE;
}

/* umockdev's worker thread answers the clients' ioctls with our handlers and outlives the
 * testbed (nothing joins it), and a client's connect() returns before that thread accepts
 * it: a program that opens many nodes and exits at once (49 of them in test-sim-fleet.sh)
 * leaves handlers to run while the bus is freed, on freed memory ("malloc(): unsorted double
 * linked list corrupted"). So no handler starts after this (disconnected), and the one
 * running, if any, has returned when it does (a barrier queued on the worker's context). */
static void quiesce_worker(sim_bus *b) {
    worker_barrier w = { .bus = b };
    GMainContext *ctx;

    if (b->usbfs_handler)
        g_signal_handlers_disconnect_by_data(b->usbfs_handler, b);
    if (b->hidraw_handler)
        g_signal_handlers_disconnect_by_data(b->hidraw_handler, b);
    /* Every handler learns the worker's context under the lock, before anything else. */
    g_mutex_lock(&b->lock);
    ctx = b->worker_ctx ? g_main_context_ref(b->worker_ctx) : NULL;
    g_mutex_unlock(&b->lock);
    if (!ctx)
        return; /* no handler ever ran */
    g_mutex_init(&w.lock);
    g_cond_init(&w.cond);
    g_main_context_invoke(ctx, worker_barrier_pass, &w);
    g_mutex_lock(&w.lock);
    while (!w.passed)
        g_cond_wait(&w.cond, &w.lock);
    g_mutex_unlock(&w.lock);
    g_cond_clear(&w.cond);
    g_mutex_clear(&w.lock);
    g_main_context_unref(ctx);
}

sim_bus *sim_bus_free(sim_bus *b) {
    if (!b)
        return NULL;
    quiesce_worker(b);
    for (size_t i = 0; i < b->n_slots; i++) {
        sim_slot *s = b->slots[i];
        if (s->trans_source) {
            g_source_destroy(s->trans_source);
            g_source_unref(s->trans_source);
        }
        node_unref(s->node);
        sim_device_free(s->dev);
        g_free(s);
    }
    for (size_t i = 0; i < b->n_hubs; i++) {
        node_unref(b->hubs[i].node);
        sim_hub_free(b->hubs[i].hub);
    }
    node_unref(b->root_node);
    sim_evsock_stop(b->evsock);
    g_clear_object(&b->testbed);
    g_clear_object(&b->usbfs_handler);
    g_clear_object(&b->hidraw_handler);
    g_hash_table_unref(b->live_nodes);
    g_hash_table_unref(b->attached_nodes);
    g_main_context_unref(b->main_ctx);
    if (b->worker_ctx)
        g_main_context_unref(b->worker_ctx);
    g_free(b->root_dir);
    g_mutex_clear(&b->lock);
    g_free(b);
    return NULL;
}

/* "1-A" (a free root port) or "1-H.B" (port B of the hub at 1-H): where a device may go on
 * this bus. */
static int parse_port(const sim_bus *b, const char *port, unsigned *root, unsigned *hub,
                      sim_hub **ret_hub, char *err, size_t err_size) {
    unsigned a = 0, c = 0;
    int n = 0;

    if (sscanf(port, "1-%u%n", &a, &n) == 1 && port[n] == '\0' && a >= 1 &&
        a <= SIM_BUS_ROOT_PORTS) {
        if (a <= b->n_hubs)
            return set_err(err, err_size, -EINVAL, "port %s holds a hub: devices go on its "
                           "ports %s.1 .. %s.%u or on 1-%zu .. 1-%u", port, port, port,
                           SIM_HUB_PORTS, b->n_hubs + 1, SIM_BUS_ROOT_PORTS);
        *root = a;
        *hub = 0;
        *ret_hub = NULL;
        return 0;
    }
    n = 0;
    if (sscanf(port, "1-%u.%u%n", &a, &c, &n) == 2 && port[n] == '\0' && a >= 1 &&
        a <= SIM_BUS_ROOT_PORTS && c >= 1 && c <= SIM_HUB_PORTS) {
        if (a > b->n_hubs)
            return set_err(err, err_size, -EINVAL, "port %s is on a hub at 1-%u, but the bus "
                           "has %zu hub%s (one per --hub): use 1-%zu .. 1-%u%s", port, a,
                           b->n_hubs, b->n_hubs == 1 ? "" : "s", b->n_hubs + 1,
                           SIM_BUS_ROOT_PORTS, b->n_hubs > 0 ? " or a hub's ports" : "");
        *root = 0;
        *hub = c;
        *ret_hub = b->hubs[a - 1].hub;
        return 0;
    }
    return set_err(err, err_size, -EINVAL, "bad port '%s': expected 1-N (N 1..%u) or 1-H.N "
                   "(a hub's port, N 1..%u)", port, SIM_BUS_ROOT_PORTS, SIM_HUB_PORTS);
}

static sim_slot *find_slot(sim_bus *b, const char *port) {
    for (size_t i = 0; i < b->n_slots; i++)
        if (streq(b->slots[i]->port, port))
            return b->slots[i];
    return NULL;
}

int sim_bus_next_free_port(sim_bus *b, char *buf, size_t size) {
    for (size_t h = 1; h <= b->n_hubs; h++)
        for (unsigned i = 1; i <= SIM_HUB_PORTS; i++) {
            snprintf(buf, size, "1-%zu.%u", h, i);
            if (!find_slot(b, buf))
                return 0;
        }
    for (size_t i = b->n_hubs + 1; i <= SIM_BUS_ROOT_PORTS; i++) {
        snprintf(buf, size, "1-%zu", i);
        if (!find_slot(b, buf))
            return 0;
    }
    return -ENOSPC;
}

int sim_bus_add_device(sim_bus *b, const sim_device_config *c, char *err, size_t err_size) {
    unsigned root = 0, hub = 0;
    sim_hub *h = NULL;
    sim_device *dev = NULL;
    int r;

    r = parse_port(b, c->port, &root, &hub, &h, err, err_size);
    if (r < 0)
        return r;
    if (find_slot(b, c->port))
        return set_err(err, err_size, -EEXIST, "port %s already has a device", c->port);
    if (b->n_slots >= SIM_BUS_MAX_DEVICES)
        return set_err(err, err_size, -ENOSPC, "at most %u devices can be emulated: umockdev "
                       "follows at most %u emulated file descriptors per process, and a "
                       "program opening every node needs 2 per device", SIM_BUS_MAX_DEVICES,
                       SIM_UMOCKDEV_MAX_FDS);
    r = sim_device_new(c, now_usec(), &dev);
    if (r < 0)
        return set_err(err, err_size, r, "cannot create the device on %s: %s", c->port,
                       strerror(-r));

    sim_slot *s = g_new0(sim_slot, 1);
    s->bus = b;
    g_strlcpy(s->port, c->port, sizeof s->port);
    s->root_port = root;
    s->hub_port = hub;
    s->hub = h;
    s->dev = dev;
    s->plugged = true;

    g_mutex_lock(&b->lock);
    b->slots[b->n_slots++] = s;
    if (hub) {
        sim_hub_attach(h, hub, dev);
        /* plugged into a port whose power the hub has switched off (control socket `add`) */
        if (!sim_hub_port_powered(h, hub)) {
            sim_device_set_power(dev, false, now_usec());
            (void) sim_device_take_transition(dev, &(sim_transition) {});
        }
    }
    sim_mode mode = sim_device_mode(dev);
    g_mutex_unlock(&b->lock);

    r = slot_connect(s, mode);
    g_mutex_lock(&b->lock);
    slot_poll_transition(s);
    g_mutex_unlock(&b->lock);
    return r < 0 ? set_err(err, err_size, r, "cannot enumerate the device on %s", c->port) : 0;
}

static int lookup(sim_bus *b, const char *port, sim_slot **ret, char *err, size_t err_size) {
    *ret = find_slot(b, port);
    if (!*ret)
        return set_err(err, err_size, -ENOENT, "no device on port '%s'", port);
    return 0;
}

int sim_bus_unplug(sim_bus *b, const char *port, char *err, size_t err_size) {
    sim_slot *s;
    int r = lookup(b, port, &s, err, err_size);
    if (r < 0)
        return r;
    g_mutex_lock(&b->lock);
    if (!s->plugged) {
        g_mutex_unlock(&b->lock);
        return set_err(err, err_size, -EALREADY, "%s is already unplugged", port);
    }
    s->plugged = false;
    /* Pulling the cable cuts the device's power; a hub can no longer power it. */
    if (s->hub_port)
        sim_hub_attach(s->hub, s->hub_port, NULL);
    sim_device_set_power(s->dev, false, now_usec());
    slot_poll_transition(s);
    g_mutex_unlock(&b->lock);
    return 0;
}

int sim_bus_plug(sim_bus *b, const char *port, char *err, size_t err_size) {
    sim_slot *s;
    int r = lookup(b, port, &s, err, err_size);
    if (r < 0)
        return r;
    g_mutex_lock(&b->lock);
    if (s->plugged) {
        g_mutex_unlock(&b->lock);
        return set_err(err, err_size, -EALREADY, "%s is already plugged in", port);
    }
    s->plugged = true;
    bool powered = true;
    if (s->hub_port) {
        sim_hub_attach(s->hub, s->hub_port, s->dev);
        powered = sim_hub_port_powered(s->hub, s->hub_port);
    }
    if (powered)
        sim_device_set_power(s->dev, true, now_usec());
    slot_poll_transition(s);
    g_mutex_unlock(&b->lock);
    return 0;
}

int sim_bus_set_power(sim_bus *b, const char *port, bool on, char *err, size_t err_size) {
    sim_slot *s;
    int r = lookup(b, port, &s, err, err_size);
    if (r < 0)
        return r;
    g_mutex_lock(&b->lock);
    if (s->hub_port) {
        /* CLEAR_FEATURE / SET_FEATURE (PORT_POWER) to the port, as uhubctl sends them */
        sim_setup setup = { 0x23, on ? 0x03 : 0x01, 8, (uint16_t) s->hub_port, 0 };
        sim_usec at;
        uint8_t none[8];
        r = sim_hub_control(s->hub, &setup, none, now_usec(), &at);
        bus_poll_hub_transitions(b);
    } else if (s->plugged) {
        sim_device_set_power(s->dev, on, now_usec());
        slot_poll_transition(s);
    }
    g_mutex_unlock(&b->lock);
    if (r < 0)
        return set_err(err, err_size, r, "the hub refused to switch port %s: %s", port,
                       strerror(-r));
    return 0;
}

int sim_bus_fault(sim_bus *b, const char *port, const char *key, const char *value, char *err,
                  size_t err_size) {
    sim_slot *s;
    int r = lookup(b, port, &s, err, err_size);
    if (r < 0)
        return r;
    g_mutex_lock(&b->lock);
    r = sim_device_set(s->dev, key, value, now_usec(), err, err_size);
    slot_poll_transition(s);
    g_mutex_unlock(&b->lock);
    return r;
}

static const char *mode_name(sim_mode m) {
    return m == SIM_MODE_APPLICATION ? "application" : m == SIM_MODE_BOOTLOADER ? "bootloader"
                                                                               : "off";
}

char *sim_bus_status(sim_bus *b) {
    GString *out = g_string_new(NULL);

    g_mutex_lock(&b->lock);
    for (size_t i = 0; i < b->n_slots; i++) {
        sim_slot *s = b->slots[i];
        const sim_device_config *c = sim_device_get_config(s->dev);
        unsigned major, minor;
        g_string_append_printf(out, "%s %s %s ", s->port, sim_profile_name(c->profile),
                               mode_name(sim_device_mode(s->dev)));
        if (sim_device_app_version(s->dev, &major, &minor))
            g_string_append_printf(out, "%u.%u", major, minor);
        else
            g_string_append(out, "-");
        g_string_append_printf(out, " %s", s->plugged ? "plugged" : "unplugged");
        if (s->node)
            g_string_append_printf(out, " devnum=%u\n", s->node->devnum);
        else
            g_string_append(out, " devnum=-\n");
    }
    g_mutex_unlock(&b->lock);
    return g_string_free(out, false);
}

bool sim_bus_settling(sim_bus *b) {
    bool busy = false;

    g_mutex_lock(&b->lock);
    for (size_t i = 0; i < b->n_slots; i++)
        busy = busy || b->slots[i]->trans_source != NULL;
    g_mutex_unlock(&b->lock);
    return busy;
}

void sim_bus_lock(sim_bus *b) {
    g_mutex_lock(&b->lock);
}

void sim_bus_unlock(sim_bus *b) {
    g_mutex_unlock(&b->lock);
}

size_t sim_bus_n_devices(sim_bus *b) {
    return b->n_slots;
}

sim_device *sim_bus_device(sim_bus *b, size_t i, const char **ret_port, bool *ret_plugged) {
    if (i >= b->n_slots)
        return NULL;
    if (ret_port)
        *ret_port = b->slots[i]->port;
    if (ret_plugged)
        *ret_plugged = b->slots[i]->plugged;
    return b->slots[i]->dev;
}

size_t sim_bus_n_hubs(sim_bus *b) {
    return b->n_hubs;
}

sim_hub *sim_bus_hub(sim_bus *b, size_t i) {
    return i < b->n_hubs ? b->hubs[i].hub : NULL;
}
