/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* /io/stdfu1/device/<escaped port>, interface io.stdfu1.Device: one object per device, served
 * by one fallback vtable that finds the Device from the object path. */

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>

#include "daemon.h"
#include "dbus-util.h"
#include "devices.h"
#include "util/log.h"

/* At most ~10 progress PropertiesChanged per second and device. */
#define PROGRESS_SIGNAL_INTERVAL_USEC (100 * USEC_PER_MSEC)

static int get_string(sd_bus *bus, const char *path, const char *interface, const char *property,
                      sd_bus_message *reply, void *userdata, sd_bus_error *error) {
    Device *dev = userdata;
    const char *s = NULL;
    (void) bus, (void) path, (void) interface, (void) error;

    if (streq(property, "Port"))
        s = dev->port;
    else if (streq(property, "Product"))
        s = dev->product;
    else if (streq(property, "Serial"))
        s = dev->serial;
    else if (streq(property, "Mode"))
        s = device_mode_to_string(dev->mode);
    else if (streq(property, "RunningVersion"))
        s = dev->running_version;
    else if (streq(property, "TargetVersion"))
        s = dev->target_version;
    else if (streq(property, "State"))
        s = job_state_to_string(dev->state);
    else if (streq(property, "LastError"))
        s = dev->last_error;
    return sd_bus_message_append_basic(reply, 's', s ? s : "");
}

static int get_usb_id(sd_bus *bus, const char *path, const char *interface, const char *property,
                      sd_bus_message *reply, void *userdata, sd_bus_error *error) {
    Device *dev = userdata;
    char id[16] = "";
    (void) bus, (void) path, (void) interface, (void) property, (void) error;
    if (dev->mode != DEVICE_ABSENT)
        snprintf(id, sizeof id, "%04x:%04x", dev->vid, dev->pid);
    return sd_bus_message_append_basic(reply, 's', id);
}

static const sd_bus_vtable device_vtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_PROPERTY("Port", "s", get_string, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("Product", "s", get_string, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("UsbId", "s", get_usb_id, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("Mode", "s", get_string, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("Serial", "s", get_string, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("RunningVersion", "s", get_string, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("TargetVersion", "s", get_string, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("State", "s", get_string, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("Progress", "u", NULL, offsetof(Device, progress),
                    SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("BytesDone", "t", NULL, offsetof(Device, bytes_done),
                    SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("BytesTotal", "t", NULL, offsetof(Device, bytes_total),
                    SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("Attempt", "u", NULL, offsetof(Device, attempt),
                    SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("LastError", "s", get_string, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("LastUpdate", "t", NULL, offsetof(Device, last_update),
                    SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_VTABLE_END,
};

static int find_device(sd_bus *bus, const char *path, const char *interface, void *userdata,
                       void **found, sd_bus_error *error) {
    Daemon *d = userdata;
    (void) bus, (void) interface, (void) error;
    Device *dev = device_table_find_path(d->devices, path);
    if (!dev)
        return 0;
    *found = dev;
    return 1;
}

static int enumerate_devices(sd_bus *bus, const char *prefix, void *userdata, char ***nodes,
                             sd_bus_error *error) {
    Daemon *d = userdata;
    size_t n = 0;
    (void) bus, (void) prefix, (void) error;

    char **l = calloc(device_table_count(d->devices) + 1, sizeof *l);
    if (!l)
        return -ENOMEM;
    for (Device *dev = device_table_first(d->devices); dev; dev = dev->next) {
        l[n] = strdup(dev->object_path);
        if (!l[n]) {
            while (n > 0)
                free(l[--n]);
            free(l);
            return -ENOMEM;
        }
        n++;
    }
    *nodes = l;
    return 0;
}

int bus_device_register(Daemon *d) {
    int r = sd_bus_add_fallback_vtable(d->bus, &d->device_slot, STDFU_DEVICE_PREFIX,
                                       STDFU_DEVICE_IFACE, device_vtable, find_device, d);
    if (r < 0)
        return log_error_errno(r, "Failed to register device objects: %m");
    r = sd_bus_add_node_enumerator(d->bus, NULL, STDFU_DEVICE_PREFIX, enumerate_devices, d);
    if (r < 0)
        return log_error_errno(r, "Failed to register device enumerator: %m");
    return 0;
}

static void emit_strv(Device *dev, char **names) {
    Daemon *d = device_table_daemon(dev->table);
    if (!d->bus || !names[0])
        return;
    int r = sd_bus_emit_properties_changed_strv(d->bus, dev->object_path, STDFU_DEVICE_IFACE, names);
    if (r < 0)
        log_debug_errno(r, "%s: cannot emit PropertiesChanged: %m", dev->port);
}

void bus_device_emit_changed(Device *dev, const char *property, ...) {
    char *names[24];
    size_t n = 0;
    va_list ap;

    va_start(ap, property);
    for (const char *p = property; p && n < ELEMENTSOF(names) - 1; p = va_arg(ap, const char *))
        names[n++] = (char *) p;
    va_end(ap);
    names[n] = NULL;
    emit_strv(dev, names);
    dev->last_progress_signal = now_monotonic();
}

static void emit_progress_now(Device *dev) {
    static const char *const names[] = { "Progress", "BytesDone", "BytesTotal", NULL };
    emit_strv(dev, (char **) names);
    dev->last_progress_signal = now_monotonic();
}

static int on_progress_timer(sd_event_source *s, uint64_t usec, void *userdata) {
    Device *dev = userdata;
    (void) s, (void) usec;
    dev->progress_timer = sd_event_source_disable_unref(dev->progress_timer);
    emit_progress_now(dev);
    return 0;
}

void bus_device_emit_progress(Device *dev) {
    Daemon *d = device_table_daemon(dev->table);
    usec_t now = now_monotonic();

    if (dev->progress_timer)
        return; /* the pending one will carry the latest values */
    if (now >= dev->last_progress_signal + PROGRESS_SIGNAL_INTERVAL_USEC) {
        emit_progress_now(dev);
        return;
    }
    int r = sd_event_add_time(d->event, &dev->progress_timer, CLOCK_MONOTONIC,
                              dev->last_progress_signal + PROGRESS_SIGNAL_INTERVAL_USEC, 0,
                              on_progress_timer, dev);
    if (r < 0)
        emit_progress_now(dev);
}
