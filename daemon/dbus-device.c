/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* /io/stdfu1/device/<escaped port>, interface io.stdfu1.Device: one object per device, served
 * by one fallback vtable that finds the Device from the object path. */

#include <errno.h>
#include <stdio.h>

#include "daemon.h"
#include "dbus-util.h"
#include "device.h"
#include "util/log.h"

/* One getter per property, each a line: the values live in the opaque Device (device.c). */
#define GETTER(name, type, ctype, expr)                                                          \
    static int get_##name(sd_bus *bus, const char *path, const char *interface,                 \
                          const char *property, sd_bus_message *reply, void *userdata,          \
                          sd_bus_error *error) {                                                \
        Device *dev = userdata;                                                                 \
        ctype v = (expr);                                                                       \
        (void) bus, (void) path, (void) interface, (void) property, (void) error;               \
        return sd_bus_message_append_basic(reply, type, &v);                                    \
    }
#define STRING_GETTER(name, expr)                                                                \
    static int get_##name(sd_bus *bus, const char *path, const char *interface,                 \
                          const char *property, sd_bus_message *reply, void *userdata,          \
                          sd_bus_error *error) {                                                \
        Device *dev = userdata;                                                                 \
        const char *s = (expr);                                                                 \
        (void) bus, (void) path, (void) interface, (void) property, (void) error;               \
        return sd_bus_message_append_basic(reply, 's', s ? s : "");                             \
    }

STRING_GETTER(port, device_port(dev))
STRING_GETTER(product, device_facts(dev)->product)
STRING_GETTER(mode, device_mode_to_string(device_mode(dev)))
STRING_GETTER(serial, device_facts(dev)->serial)
STRING_GETTER(running_version, device_running_version(dev))
STRING_GETTER(target_version, device_target_version(dev))
STRING_GETTER(rule, device_rule(dev))
STRING_GETTER(state, job_state_to_string(device_state(dev)))
STRING_GETTER(last_error, device_last_error(dev))
GETTER(progress, 'u', uint32_t, device_progress(dev))
GETTER(bytes_done, 't', uint64_t, device_bytes_done(dev))
GETTER(bytes_total, 't', uint64_t, device_bytes_total(dev))
GETTER(attempt, 'u', uint32_t, device_attempt(dev))
GETTER(last_update, 't', uint64_t, device_last_update(dev))
GETTER(next_attempt, 't', uint64_t, device_next_attempt(dev))

static int get_usb_id(sd_bus *bus, const char *path, const char *interface, const char *property,
                      sd_bus_message *reply, void *userdata, sd_bus_error *error) {
    const DeviceFacts *f = device_facts(userdata);
    char id[16] = "";
    (void) bus, (void) path, (void) interface, (void) property, (void) error;
    if (f->mode != DEVICE_ABSENT)
        snprintf(id, sizeof id, "%04x:%04x", f->vid, f->pid);
    return sd_bus_message_append_basic(reply, 's', id);
}

#define CHANGES SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE
static const sd_bus_vtable device_vtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_PROPERTY("Port", "s", get_port, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("Product", "s", get_product, 0, CHANGES),
    SD_BUS_PROPERTY("UsbId", "s", get_usb_id, 0, CHANGES),
    SD_BUS_PROPERTY("Mode", "s", get_mode, 0, CHANGES),
    SD_BUS_PROPERTY("Serial", "s", get_serial, 0, CHANGES),
    SD_BUS_PROPERTY("RunningVersion", "s", get_running_version, 0, CHANGES),
    SD_BUS_PROPERTY("TargetVersion", "s", get_target_version, 0, CHANGES),
    SD_BUS_PROPERTY("Rule", "s", get_rule, 0, CHANGES),
    SD_BUS_PROPERTY("State", "s", get_state, 0, CHANGES),
    SD_BUS_PROPERTY("Progress", "u", get_progress, 0, CHANGES),
    SD_BUS_PROPERTY("BytesDone", "t", get_bytes_done, 0, CHANGES),
    SD_BUS_PROPERTY("BytesTotal", "t", get_bytes_total, 0, CHANGES),
    SD_BUS_PROPERTY("Attempt", "u", get_attempt, 0, CHANGES),
    SD_BUS_PROPERTY("LastError", "s", get_last_error, 0, CHANGES),
    SD_BUS_PROPERTY("LastUpdate", "t", get_last_update, 0, CHANGES),
    SD_BUS_PROPERTY("NextAttempt", "t", get_next_attempt, 0, CHANGES),
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
    for (Device *dev = device_table_first(d->devices); dev; dev = device_next(dev)) {
        l[n] = strdup(device_object_path(dev));
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

void bus_device_emit_changed(Daemon *d, const char *path, char **names) {
    if (!d->bus || !names[0])
        return;
    int r = sd_bus_emit_properties_changed_strv(d->bus, path, STDFU_DEVICE_IFACE, names);
    if (r < 0)
        log_debug_errno(r, "%s: cannot emit PropertiesChanged: %m", path);
}
