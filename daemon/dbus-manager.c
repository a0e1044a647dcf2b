/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* /io/stdfu1, interface io.stdfu1.Manager. */

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>

#include "authorize.h"
#include "daemon.h"
#include "dbus-util.h"
#include "device.h"
#include "jobs.h"
#include "policy.h"
#include "rules.h"
#include "state.h"
#include "util/config.h"
#include "util/log.h"

/* Larger than any STM32's flash (2 MiB) with room for container formats. */
#define MAX_FIRMWARE_FILE_SIZE (16u * 1024 * 1024)

static int reply_error(sd_bus_error *error, const stdfu_error *err) {
    const char *name;
    switch (err->code) {
    case -EBUSY: name = STDFU_ERROR_BUSY; break;
    case -EALREADY: name = STDFU_ERROR_NOTHING_TO_DO; break;
    case -EINVAL: name = SD_BUS_ERROR_INVALID_ARGS; break;
    case -ENOMEM: name = SD_BUS_ERROR_NO_MEMORY; break;
    default: name = STDFU_ERROR_FAILED; break;
    }
    return sd_bus_error_set(error, name, err->message[0] ? err->message : strerror(-err->code));
}

/* The "device" argument: a port path ("1-1.4") or a device object path. */
static int find_device_arg(Daemon *d, const char *arg, Device **ret, sd_bus_error *error) {
    Device *dev = NULL;
    if (arg[0] == '/')
        dev = device_table_find_path(d->devices, arg);
    else
        dev = device_table_find(d->devices, arg);
    if (!dev)
        return sd_bus_error_setf(error, STDFU_ERROR_NO_SUCH_DEVICE,
                                 "No device \"%.64s%s\" (give a port path such as 1-1.4 or a "
                                 "device object path; see ListDevices).",
                                 arg, strlen(arg) > 64 ? "..." : "");
    *ret = dev;
    return 0;
}

/* The end of a method that answers one array: closed, sent (when r says all went well), freed. */
static int send_array_reply(sd_bus_message *reply, int r) {
    if (r >= 0)
        r = sd_bus_message_close_container(reply);
    if (r >= 0)
        r = sd_bus_send(NULL, reply, NULL);
    sd_bus_message_unref(reply);
    return r;
}

static int method_list_devices(sd_bus_message *m, void *userdata, sd_bus_error *error) {
    Daemon *d = userdata;
    sd_bus_message *reply = NULL;
    (void) error;

    int r = sd_bus_message_new_method_return(m, &reply);
    if (r >= 0)
        r = sd_bus_message_open_container(reply, 'a', "(so)");
    for (Device *dev = device_table_first(d->devices); r >= 0 && dev; dev = device_next(dev))
        r = sd_bus_message_append(reply, "(so)", device_port(dev), device_object_path(dev));
    return send_array_reply(reply, r);
}

/* The start of a method on one device (s device[, a{sv} options]): authorized for action, the
 * arguments read, the device found. Non-zero: return it (an error, or the authorization's
 * pending answer). */
static int device_method_begin(sd_bus_message *m, Daemon *d, const char *action,
                               const BusOption *options, Device **ret, sd_bus_error *error) {
    const char *device;
    int r = authorize(m, action, error);
    if (r != 0)
        return r;
    r = sd_bus_message_read(m, "s", &device);
    if (r < 0)
        return r;
    if (options) {
        r = bus_read_options(m, options, error);
        if (r < 0)
            return r;
    }
    return find_device_arg(d, device, ret, error);
}

/* The end of it: the policy's answer r (with err) as the reply. */
static int device_method_end(sd_bus_message *m, int r, const stdfu_error *err,
                             sd_bus_error *error) {
    if (r < 0)
        return reply_error(error, err);
    return sd_bus_reply_method_return(m, NULL);
}

static int method_update(sd_bus_message *m, void *userdata, sd_bus_error *error) {
    Daemon *d = userdata;
    bool force = false;
    const BusOption options[] = { { "force", 'b', &force }, {} };
    stdfu_error err = {};
    Device *dev;

    int r = device_method_begin(m, d, STDFU_ACTION_UPDATE, options, &dev, error);
    if (r != 0)
        return r;
    return device_method_end(m, policy_queue_update(d, dev, force, &err), &err, error);
}

/* Reads the caller's firmware from its fd. Only regular files: reading a pipe or socket could
 * block the main loop for as long as the caller likes. pread() leaves the caller's offset. */
static int read_firmware_fd(int fd, void **ret, size_t *ret_size, sd_bus_error *error) {
    struct stat st;
    int flags = fcntl(fd, F_GETFL);

    if (flags < 0 || fstat(fd, &st) < 0)
        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                 "The firmware file descriptor is not usable: %s", strerror(errno));
    if (!S_ISREG(st.st_mode))
        return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS,
                                "The firmware file descriptor must refer to a regular file.");
    if ((flags & O_ACCMODE) == O_WRONLY)
        return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS,
                                "The firmware file descriptor is not open for reading.");
    if (st.st_size <= 0 || (uint64_t) st.st_size > MAX_FIRMWARE_FILE_SIZE)
        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                 "The firmware file has %lld bytes; it must have 1 to %u.",
                                 (long long) st.st_size, MAX_FIRMWARE_FILE_SIZE);

    size_t size = (size_t) st.st_size, done = 0;
    uint8_t *buf = malloc(size);
    if (!buf)
        return -ENOMEM;
    while (done < size) {
        ssize_t n = pread(fd, buf + done, size - done, (off_t) done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            free(buf);
            return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                     "Cannot read the firmware file: %s",
                                     n < 0 ? strerror(errno) : "it shrank while being read");
        }
        done += (size_t) n;
    }
    *ret = buf;
    *ret_size = size;
    return 0;
}

static int method_update_file(sd_bus_message *m, void *userdata, sd_bus_error *error) {
    Daemon *d = userdata;
    const char *device;
    FileRequest req = {};
    uint32_t address = UINT32_MAX;
    const char *format = NULL;
    const BusOption options[] = { { "force", 'b', &req.force }, { "version", 's', &req.version },
                                  { "address", 'u', &address }, { "format", 's', &format }, {} };
    stdfu_error err = {};
    Device *dev;
    int fd, r;

    r = authorize(m, STDFU_ACTION_UPDATE, error);
    if (r != 0)
        return r;
    r = sd_bus_message_read(m, "sh", &device, &fd);
    if (r < 0)
        return r;
    r = bus_read_options(m, options, error);
    if (r < 0)
        return r;
    if (req.version && req.version[0] == '\0')
        req.version = NULL;
    req.has_address = address != UINT32_MAX;
    req.address = address;
    /* auto (the default): the data has no name, so it is never taken as a raw binary. */
    if (format && format[0] && stdfu_image_format_from_string(format, &req.format) < 0)
        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                 "Option \"format\": \"%.32s\" is not one of auto, dfuse, dfu, "
                                 "bin, hex, srec, elf.", format);
    r = find_device_arg(d, device, &dev, error);
    if (r < 0)
        return r;
    r = read_firmware_fd(fd, &req.data, &req.size, error);
    if (r < 0)
        return r;
    return device_method_end(m, policy_queue_update_file(d, dev, &req, &err), &err, error);
}

static int method_cancel(sd_bus_message *m, void *userdata, sd_bus_error *error) {
    Daemon *d = userdata;
    stdfu_error err = {};
    Device *dev;

    int r = device_method_begin(m, d, STDFU_ACTION_CANCEL, NULL, &dev, error);
    if (r != 0)
        return r;
    return device_method_end(m, policy_cancel(d, dev, &err), &err, error);
}

static int method_reload(sd_bus_message *m, void *userdata, sd_bus_error *error) {
    Daemon *d = userdata;
    int r = authorize(m, STDFU_ACTION_RELOAD, error);
    if (r != 0)
        return r;
    r = daemon_reload(d);
    if (r < 0)
        return sd_bus_error_setf(error, STDFU_ERROR_FAILED,
                                 "The manifest has errors, the previous one stays in force: %s",
                                 d->manifest_errors && d->manifest_errors[0]
                                     ? d->manifest_errors[0] : strerror(-r));
    return sd_bus_reply_method_return(m, NULL);
}

static int method_get_history(sd_bus_message *m, void *userdata, sd_bus_error *error) {
    Daemon *d = userdata;
    sd_bus_message *reply = NULL;
    size_t n = 0;
    const stdfu_history_entry *h = stdfu_state_history(d->state, &n);
    (void) error;

    int r = sd_bus_message_new_method_return(m, &reply);
    if (r >= 0)
        r = sd_bus_message_open_container(reply, 'a', "(sssssssttusts)");
    for (size_t i = 0; r >= 0 && i < n; i++)
        r = sd_bus_message_append(reply, "(sssssssttusts)", h[i].port,
                                  job_outcome_to_string(h[i].outcome), h[i].from_version,
                                  h[i].to_version, h[i].rule, h[i].sha256, h[i].error,
                                  (uint64_t) h[i].started_usec, (uint64_t) h[i].finished_usec,
                                  (uint32_t) h[i].attempts, job_state_to_string(h[i].phase),
                                  (uint64_t) h[i].bytes_written, h[i].recovery);
    return send_array_reply(reply, r);
}

/* One getter per property. */
#define MANAGER_GETTER(name, sig, expr)                                                          \
    static int get_##name(sd_bus *bus, const char *path, const char *interface,                 \
                          const char *property, sd_bus_message *reply, void *userdata,          \
                          sd_bus_error *error) {                                                \
        Daemon *d = userdata;                                                                   \
        (void) d, (void) bus, (void) path, (void) interface, (void) property, (void) error;     \
        return sd_bus_message_append(reply, sig, (expr));                                       \
    }

MANAGER_GETTER(state, "s", d->stopping ? "stopping" : d->ready ? "running" : "starting")
MANAGER_GETTER(version, "s", STDFU_VERSION)
MANAGER_GETTER(devices, "u", device_table_count(d->devices))
MANAGER_GETTER(updating_count, "u", job_queue_running(d->jobs))
MANAGER_GETTER(queued_count, "u", job_queue_pending(d->jobs))
MANAGER_GETTER(parallel, "u", d->settings.parallel)
MANAGER_GETTER(jobs_refused, "s", d->jobs_refused ? d->jobs_refused : "")

static int get_rules(sd_bus *bus, const char *path, const char *interface, const char *property,
                     sd_bus_message *reply, void *userdata, sd_bus_error *error) {
    Daemon *d = userdata;
    size_t n = d->manifest ? stdfu_manifest_n_rules(d->manifest) : 0;
    (void) bus, (void) path, (void) interface, (void) property, (void) error;

    int r = sd_bus_message_open_container(reply, 'a', "s");
    for (size_t i = 0; r >= 0 && i < n; i++)
        r = sd_bus_message_append_basic(reply, 's', stdfu_manifest_rule(d->manifest, i)->name);
    return r < 0 ? r : sd_bus_message_close_container(reply);
}

static int get_manifest_errors(sd_bus *bus, const char *path, const char *interface,
                               const char *property, sd_bus_message *reply, void *userdata,
                               sd_bus_error *error) {
    Daemon *d = userdata;
    (void) bus, (void) path, (void) interface, (void) property, (void) error;
    return sd_bus_message_append_strv(reply, d->manifest_errors);
}

static const sd_bus_vtable manager_vtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_PROPERTY("Version", "s", get_version, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("State", "s", get_state, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("Devices", "u", get_devices, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("UpdatingCount", "u", get_updating_count, 0,
                    SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("QueuedCount", "u", get_queued_count, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("Parallel", "u", get_parallel, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("ManifestErrors", "as", get_manifest_errors, 0,
                    SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("Rules", "as", get_rules, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("JobsRefused", "s", get_jobs_refused, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_METHOD_WITH_ARGS("ListDevices", SD_BUS_NO_ARGS, SD_BUS_RESULT("a(so)", devices),
                            method_list_devices, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("Update", SD_BUS_ARGS("s", device, "a{sv}", options),
                            SD_BUS_NO_RESULT, method_update, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("UpdateFile", SD_BUS_ARGS("s", device, "h", fd, "a{sv}", options),
                            SD_BUS_NO_RESULT, method_update_file, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("Cancel", SD_BUS_ARGS("s", device), SD_BUS_NO_RESULT, method_cancel,
                            SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("Reload", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, method_reload,
                            SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("GetHistory", SD_BUS_NO_ARGS,
                            SD_BUS_RESULT("a(sssssssttusts)", history), method_get_history,
                            SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_SIGNAL_WITH_ARGS("DeviceAdded", SD_BUS_ARGS("s", port, "o", device), 0),
    SD_BUS_SIGNAL_WITH_ARGS("DeviceRemoved", SD_BUS_ARGS("s", port, "o", device), 0),
    SD_BUS_SIGNAL_WITH_ARGS("UpdateFinished", SD_BUS_ARGS("s", port, "s", outcome, "s", error), 0),
    SD_BUS_VTABLE_END,
};
int bus_manager_register(Daemon *d) {
    int r = sd_bus_add_object_vtable(d->bus, NULL, STDFU_MANAGER_PATH, STDFU_MANAGER_IFACE,
                                     manager_vtable, d);
    if (r < 0)
        return log_error_errno(r, "Failed to register %s: %m", STDFU_MANAGER_PATH);
    return 0;
}

void bus_manager_emit_device_added(Daemon *d, Device *dev) {
    if (d->bus)
        (void) sd_bus_emit_signal(d->bus, STDFU_MANAGER_PATH, STDFU_MANAGER_IFACE, "DeviceAdded",
                                  "so", device_port(dev), device_object_path(dev));
}

void bus_manager_emit_device_removed(Daemon *d, Device *dev) {
    if (d->bus)
        (void) sd_bus_emit_signal(d->bus, STDFU_MANAGER_PATH, STDFU_MANAGER_IFACE, "DeviceRemoved",
                                  "so", device_port(dev), device_object_path(dev));
}

void bus_manager_emit_update_finished(Daemon *d, const char *port, const char *outcome,
                                      const char *error) {
    if (d->bus)
        (void) sd_bus_emit_signal(d->bus, STDFU_MANAGER_PATH, STDFU_MANAGER_IFACE,
                                  "UpdateFinished", "sss", port, outcome, error ? error : "");
}

void bus_manager_emit_changed(Daemon *d, const char *property, ...) {
    char *names[16];
    size_t n = 0;
    va_list ap;

    if (!d->bus)
        return;
    va_start(ap, property);
    for (const char *p = property; p && n < ELEMENTSOF(names) - 1; p = va_arg(ap, const char *))
        names[n++] = (char *) p;
    va_end(ap);
    names[n] = NULL;
    (void) sd_bus_emit_properties_changed_strv(d->bus, STDFU_MANAGER_PATH, STDFU_MANAGER_IFACE,
                                               names);
}
