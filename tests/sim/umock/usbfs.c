/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* usbfs (/dev/bus/usb/BBB/DDD) as libusb 1.0.26 uses it, answered on umockdev's worker thread.
 *
 * Control transfers arrive as SUBMITURB; the model answers at once and says when the transfer
 * ends on the bus (ready_at). The ioctl itself completes at once: the client waits in ioctl()
 * with all signals blocked, so holding it back would make it unkillable. The URB becomes
 * reapable at ready_at instead: REAPURBNDELAY says EAGAIN until then, and the node's FIFO gives
 * POLLOUT only while some URB is reapable (a timerfd on the worker context flips it). On
 * disconnect, URBs in flight complete with -ESHUTDOWN and every further ioctl fails with
 * ENODEV, as drivers/usb/core/devio.c does. */
#include <errno.h>
#include <linux/usbdevice_fs.h>
#include <stddef.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "umock/internal.h"
#include "util/log.h"
#include "util/macro.h"

#include <glib-unix.h>

#define CLIENT_NODE_KEY "stdfu-sim-node"

typedef struct sim_urb {
    UMockdevIoctlClient *client; /* who submitted it (identity only) */
    GWeakRef client_ref;         /* whether that client still exists: URBs go with it */
    UMockdevIoctlData *urb;      /* struct usbdevfs_urb, its buffer resolved as a child */
    uint8_t *in;                 /* data stage (IN: returned at reap) */
    bool is_in;
    int status, actual;
    gint64 ready_at;
    bool discarded;
} sim_urb;

static void urb_free(sim_urb *u) {
    g_weak_ref_clear(&u->client_ref);
    g_object_unref(u->urb);
    g_free(u->in);
    g_free(u);
}

/* ---- readiness -------------------------------------------------------------------------- */

static void node_update_ready(usb_node *n);
static void purge_dead_clients(usb_node *n);

/* The wake-up for the next URB due: a timerfd armed at the absolute time, because a GLib
 * timeout has millisecond granularity and a control transfer takes about one. */
static gboolean ready_timer_fired(gint fd, GIOCondition cond, gpointer userdata) {
    usb_node *n = userdata;
    uint64_t expirations;

    (void) cond;
    (void) !read(fd, &expirations, sizeof expirations);
    g_mutex_lock(&n->bus->lock);
    n->ready_timer_at = 0;
    node_update_ready(n);
    g_mutex_unlock(&n->bus->lock);
    return G_SOURCE_CONTINUE;
}

static void node_arm_ready_timer(usb_node *n, gint64 at) {
    if (n->ready_timer_at && n->ready_timer_at <= at)
        return;
    if (n->ready_timer_fd < 0) {
        n->ready_timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
        if (n->ready_timer_fd < 0) {
            log_error_errno(errno, "%s: cannot create a timer: %m", n->name);
            return;
        }
        n->ready_timer = g_unix_fd_source_new(n->ready_timer_fd, G_IO_IN);
        g_source_set_callback(n->ready_timer, G_SOURCE_FUNC(ready_timer_fired), node_ref(n),
                              (GDestroyNotify) node_unref);
        g_source_attach(n->ready_timer, n->bus->worker_ctx);
    }
    /* g_get_monotonic_time() is CLOCK_MONOTONIC in microseconds */
    struct itimerspec its = {
        .it_value = { .tv_sec = at / G_USEC_PER_SEC, .tv_nsec = (at % G_USEC_PER_SEC) * 1000 },
    };
    if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
        its.it_value.tv_nsec = 1;
    if (timerfd_settime(n->ready_timer_fd, TFD_TIMER_ABSTIME, &its, NULL) == 0)
        n->ready_timer_at = at;
}

static void node_drop_ready_timer(usb_node *n) {
    if (n->ready_timer) {
        g_source_destroy(n->ready_timer);
        g_clear_pointer(&n->ready_timer, g_source_unref);
    }
    n->ready_timer_at = 0;
}

/* POLLOUT <=> a URB can be reaped (completed, discarded, or its device gone). */
static void node_update_ready(usb_node *n) {
    gint64 now = g_get_monotonic_time(), next = G_MAXINT64;
    bool ready = false;

    purge_dead_clients(n);
    for (GList *l = n->urbs; l; l = l->next) {
        sim_urb *u = l->data;
        if (u->discarded || !n->live || u->ready_at <= now)
            ready = true;
        else
            next = MIN(next, u->ready_at);
    }
    sim_fifo_set_writable(&n->fifo, ready);
    if (!ready && next != G_MAXINT64 && n->live && n->bus->worker_ctx)
        node_arm_ready_timer(n, next);
}

/* ---- clients ---------------------------------------------------------------------------- */

/* umockdev 0.17 tells nobody when a client closes its fd (its "client-vanished" signal is
 * never emitted, "connected" is never notified), but a client's stream knows: whatever a
 * client left behind (URBs, claims) is dropped the next time someone looks. Weak references:
 * a client holds its node, so a strong one back would be a cycle. */
static bool client_alive(GWeakRef *ref) {
    UMockdevIoctlClient *c = g_weak_ref_get(ref);
    bool alive = c && umockdev_ioctl_client_get_connected(c);
    if (c)
        g_object_unref(c);
    return alive;
}

static void purge_dead_clients(usb_node *n) {
    for (GList *l = n->urbs; l;) {
        GList *next = l->next;
        sim_urb *u = l->data;
        if (!client_alive(&u->client_ref)) {
            urb_free(u);
            n->urbs = g_list_delete_link(n->urbs, l);
        }
        l = next;
    }
}

void interface_set_owner(node_interface *i, UMockdevIoctlClient *c) {
    i->owner = c;
    g_weak_ref_set(&i->owner_ref, c);
}

UMockdevIoctlClient *interface_owner(node_interface *i) {
    if (i->owner && !client_alive(&i->owner_ref))
        interface_set_owner(i, NULL);
    return i->owner;
}

void client_bind(sim_bus *b, UMockdevIoctlClient *c) {
    usb_node *n = g_hash_table_lookup(b->live_nodes, umockdev_ioctl_client_get_devnode(c));

    if (!n || g_object_get_data(G_OBJECT(c), CLIENT_NODE_KEY))
        return;
    g_object_set_data_full(G_OBJECT(c), CLIENT_NODE_KEY, node_ref(n), (GDestroyNotify) node_unref);
}

usb_node *client_node(sim_bus *b, UMockdevIoctlClient *c) {
    if (!b->worker_ctx)
        b->worker_ctx = g_main_context_ref_thread_default();
    client_bind(b, c);
    return g_object_get_data(G_OBJECT(c), CLIENT_NODE_KEY);
}

void client_connected_cb(UMockdevIoctlBase *h, UMockdevIoctlClient *c, gpointer userdata) {
    sim_bus *b = userdata;

    (void) h;
    g_mutex_lock(&b->lock);
    client_node(b, c);
    g_mutex_unlock(&b->lock);
}

/* ---- control transfers ------------------------------------------------------------------ */

/* Runs one control request on whatever the node is; lock held. */
static int node_control(usb_node *n, const sim_setup *s, uint8_t *data, gint64 *ready_at) {
    sim_usec now = now_usec(), at = now;
    int r;

    switch (n->kind) {
    case NODE_ROOT_HUB:
        r = roothub_control(n->bus, s, data);
        break;
    case NODE_HUB:
        r = sim_hub_control(n->hub, s, data, now, &at);
        bus_poll_hub_transitions(n->bus);
        break;
    case NODE_DEVICE:
        r = sim_device_control(n->slot->dev, s, data, now, &at);
        slot_poll_transition(n->slot);
        if (n->has_hidraw)
            hidraw_flush_input(n);
        break;
    default:
        r = -EPIPE;
    }
    /* The device has gone quiet (its power was cut, its transition not yet carried out): the
     * transfer stays in flight until the disconnect ends it, or the client gives up. */
    *ready_at = r == -ENODEV ? G_MAXINT64 : (gint64) MAX(at, now);
    trace("%s: control %02x %02x %04x %04x %u -> %d, done in %.3f ms", n->name,
          s->bmRequestType, s->bRequest, s->wValue, s->wIndex, s->wLength, r,
          r == -ENODEV ? -1.0 : (double) (MAX(at, now) - now) / 1000.0);
    return r;
}

static sim_setup setup_from_bytes(const uint8_t *p) {
    return (sim_setup) {
        .bmRequestType = p[0],
        .bRequest = p[1],
        .wValue = (uint16_t) (p[2] | p[3] << 8),
        .wIndex = (uint16_t) (p[4] | p[5] << 8),
        .wLength = (uint16_t) (p[6] | p[7] << 8),
    };
}

static int usbfs_submit(usb_node *n, UMockdevIoctlClient *c, UMockdevIoctlData *arg) {
    g_autoptr(UMockdevIoctlData) ud = NULL, buf = NULL;
    struct usbdevfs_urb *urb;

    ud = umockdev_ioctl_data_resolve(arg, 0, sizeof(struct usbdevfs_urb), NULL);
    if (!ud)
        return EFAULT;
    urb = (struct usbdevfs_urb *) ud->data;
    if (urb->type != USBDEVFS_URB_TYPE_CONTROL || (urb->endpoint & 0x7f) != 0) {
        trace("%s: SUBMITURB type %d endpoint 0x%02x: only control transfers are emulated",
              n->name, urb->type, urb->endpoint);
        return EINVAL;
    }
    if (urb->buffer_length < 8)
        return EINVAL;
    buf = umockdev_ioctl_data_resolve(ud, offsetof(struct usbdevfs_urb, buffer),
                                      (size_t) urb->buffer_length, NULL);
    if (!buf)
        return EFAULT;

    sim_setup s = setup_from_bytes(buf->data);
    if ((int) s.wLength > urb->buffer_length - 8)
        return EINVAL;

    sim_urb *u = g_new0(sim_urb, 1);
    u->client = c;
    g_weak_ref_init(&u->client_ref, c);
    u->urb = g_object_ref(ud);
    u->is_in = s.bmRequestType & 0x80;
    u->in = g_malloc0(MAX((size_t) s.wLength, (size_t) 1));
    if (!u->is_in)
        memcpy(u->in, buf->data + 8, s.wLength);

    int r = node_control(n, &s, u->in, &u->ready_at);
    u->status = r < 0 ? (r == -ENODEV ? -EPROTO : r) : 0;
    u->actual = r < 0 ? 0 : r;
    n->urbs = g_list_append(n->urbs, u);
    node_update_ready(n);
    return 0;
}

/* USBDEVFS_CONTROL, the synchronous variant (libusb uses it only without sysfs descriptors):
 * it completes at once, the model's timing is not waited for. */
static int usbfs_control(usb_node *n, UMockdevIoctlData *arg, long *res) {
    g_autoptr(UMockdevIoctlData) d = NULL, buf = NULL;
    struct usbdevfs_ctrltransfer *ct;
    uint8_t scratch[8];
    gint64 ready_at;

    d = umockdev_ioctl_data_resolve(arg, 0, sizeof(struct usbdevfs_ctrltransfer), NULL);
    if (!d)
        return EFAULT;
    ct = (struct usbdevfs_ctrltransfer *) d->data;
    if (ct->wLength) {
        buf = umockdev_ioctl_data_resolve(d, offsetof(struct usbdevfs_ctrltransfer, data),
                                          ct->wLength, NULL);
        if (!buf)
            return EFAULT;
    }
    sim_setup s = { ct->bRequestType, ct->bRequest, ct->wValue, ct->wIndex, ct->wLength };
    int r = node_control(n, &s, buf ? buf->data : scratch, &ready_at);
    if (r < 0)
        return r == -ENODEV ? ETIMEDOUT : -r;
    *res = r;
    return 0;
}

static int usbfs_reap(usb_node *n, UMockdevIoctlClient *c, UMockdevIoctlData *arg) {
    g_autoptr(UMockdevIoctlData) slot = NULL;
    gint64 now = g_get_monotonic_time();
    sim_urb *u = NULL;

    /* first: a new client may live at a dead one's address */
    purge_dead_clients(n);
    for (GList *l = n->urbs; l; l = l->next) {
        sim_urb *q = l->data;
        if (q->client == c && (q->discarded || !n->live || q->ready_at <= now)) {
            u = q;
            n->urbs = g_list_delete_link(n->urbs, l);
            break;
        }
    }
    if (!u) {
        node_update_ready(n);
        return n->live ? EAGAIN : ENODEV;
    }

    struct usbdevfs_urb *urb = (struct usbdevfs_urb *) u->urb->data;
    urb->status = u->status;
    urb->actual_length = u->actual;
    if (u->is_in && u->status == 0 && u->actual > 0) {
        /* The buffer was resolved at submission: this returns that child again. */
        g_autoptr(UMockdevIoctlData) buf = umockdev_ioctl_data_resolve(
            u->urb, offsetof(struct usbdevfs_urb, buffer), (size_t) urb->buffer_length, NULL);
        if (buf)
            memcpy(buf->data + 8, u->in, (size_t) u->actual);
    }
    slot = umockdev_ioctl_data_resolve(arg, 0, sizeof(void *), NULL);
    if (slot)
        umockdev_ioctl_data_set_ptr(slot, 0, u->urb);
    urb_free(u);
    node_update_ready(n);
    return slot ? 0 : EFAULT;
}

static int usbfs_discard(usb_node *n, UMockdevIoctlClient *c, UMockdevIoctlData *arg) {
    gulong addr = *(gulong *) arg->data; /* the argument is the client's URB pointer itself */
    gint64 now = g_get_monotonic_time();

    purge_dead_clients(n);
    for (GList *l = n->urbs; l; l = l->next) {
        sim_urb *u = l->data;
        if (u->client != c || u->urb->client_addr != addr)
            continue;
        /* Completed already: the kernel no longer finds it among the pending ones. */
        if (u->discarded || u->ready_at <= now)
            return EINVAL;
        u->discarded = true;
        u->status = -ENOENT;
        u->actual = 0;
        node_update_ready(n);
        return 0;
    }
    return EINVAL;
}

void usbfs_node_disconnect(usb_node *n) {
    gint64 now = g_get_monotonic_time();

    n->live = false;
    for (GList *l = n->urbs; l; l = l->next) {
        sim_urb *u = l->data;
        if (!u->discarded && u->ready_at > now) {
            u->status = -ESHUTDOWN;
            u->actual = 0;
            u->ready_at = now;
        }
    }
    /* off the bus, every URB is reapable: no more wake-ups (this drops the timer's node ref) */
    node_drop_ready_timer(n);
    for (unsigned i = 0; i < n->n_interfaces; i++)
        interface_set_owner(&n->interfaces[i], NULL);
    node_update_ready(n);
}

void usbfs_node_stop_timer(usb_node *n) {
    node_drop_ready_timer(n);
}

void usbfs_node_release(usb_node *n) {
    g_list_free_full(g_steal_pointer(&n->urbs), (GDestroyNotify) urb_free);
    for (unsigned i = 0; i < n->n_interfaces; i++)
        interface_set_owner(&n->interfaces[i], NULL);
    node_drop_ready_timer(n);
    if (n->ready_timer_fd >= 0)
        close(n->ready_timer_fd);
    n->ready_timer_fd = -1;
}

static gboolean usbfs_handle_ioctl(UMockdevIoctlBase *h, UMockdevIoctlClient *c, gpointer ud) {
    sim_bus *b = ud;
    gulong req = umockdev_ioctl_client_get_request(c);
    UMockdevIoctlData *arg = umockdev_ioctl_client_get_arg(c);
    long res = 0;
    int err;

    (void) h;
    g_mutex_lock(&b->lock);
    usb_node *n = client_node(b, c);
    if (!n)
        err = ENODEV;
    else if (req == USBDEVFS_REAPURBNDELAY || req == USBDEVFS_REAPURB)
        /* (REAPURB would block: libusb never uses it, and it must not block here) */
        err = usbfs_reap(n, c, arg);
    else if (!n->live)
        err = ENODEV;
    else if (req == USBDEVFS_SUBMITURB)
        err = usbfs_submit(n, c, arg);
    else if (req == USBDEVFS_DISCARDURB)
        err = usbfs_discard(n, c, arg);
    else if (req == USBDEVFS_CONTROL)
        err = usbfs_control(n, arg, &res);
    else
        err = usbfs_misc_ioctl(n, c, req, arg, &res);
    g_mutex_unlock(&b->lock);

    umockdev_ioctl_client_complete(c, err ? -1 : res, err);
    return TRUE;
}

UMockdevIoctlBase *usbfs_handler_new(sim_bus *b) {
    UMockdevIoctlBase *h = umockdev_ioctl_base_new();

    g_signal_connect(h, "handle-ioctl", G_CALLBACK(usbfs_handle_ioctl), b);
    g_signal_connect(h, "client-connected", G_CALLBACK(client_connected_cb), b);
    return h;
}
