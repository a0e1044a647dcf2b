/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The connection to stdfud, what its errors mean for a user, and its Device properties. */
#include "bus.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/log.h"
#include "util/macro.h"
#include "util/string-table.h"

/* The global --bus option. The CLI is one short-lived process, so a file-level setting is the
 * simplest way for main.c to hand it to every command. */
static const char *bus_spec = "system";
static char bus_description[300];

int stdfuctl_bus_set(const char *spec) {
    if (!spec || !*spec)
        return -EINVAL;
    /* An address is TRANSPORT:KEY=VALUE[,...] (unix:path=..., tcp:host=...). */
    if (!streq(spec, "system") && !streq(spec, "session") &&
        (!strchr(spec, ':') || !strchr(spec, '=')))
        return -EINVAL;
    bus_spec = spec;
    return 0;
}

const char *stdfuctl_bus_describe(void) {
    if (streq(bus_spec, "system"))
        return "the system bus";
    if (streq(bus_spec, "session"))
        return "the session bus";
    snprintf(bus_description, sizeof bus_description, "the bus %s", bus_spec);
    return bus_description;
}

int stdfuctl_oom(void) {
    log_oom();
    return STDFU_EXIT_FAILURE;
}

static int open_address(const char *address, sd_bus **ret) {
    sd_bus *bus = NULL;
    int r = sd_bus_new(&bus);
    if (r < 0)
        return r;
    r = sd_bus_set_address(bus, address);
    if (r >= 0)
        r = sd_bus_set_bus_client(bus, true);
    if (r >= 0)
        r = sd_bus_start(bus);
    if (r < 0) {
        sd_bus_unref(bus);
        return r;
    }
    *ret = bus;
    return 0;
}

int stdfuctl_bus_open_or_exit(sd_bus **ret) {
    int r;

    if (streq(bus_spec, "system"))
        r = sd_bus_open_system(ret);
    else if (streq(bus_spec, "session"))
        r = sd_bus_open_user(ret);
    else
        r = open_address(bus_spec, ret);
    if (r == -EINVAL && !streq(bus_spec, "system") && !streq(bus_spec, "session")) {
        log_error("--bus: '%s' is not system, session or a D-Bus address such as "
                  "unix:path=/run/dbus/system_bus_socket.", bus_spec);
        return STDFU_EXIT_USAGE;
    }
    if (r < 0) {
        log_error("Cannot connect to %s: %s (is dbus running?)", stdfuctl_bus_describe(),
                  strerror(-r));
        return STDFU_EXIT_NO_DAEMON;
    }
    return STDFU_EXIT_OK;
}

/* ---- errors ----------------------------------------------------------------------------- */

static bool daemon_absent(const sd_bus_error *e, int r) {
    if (sd_bus_error_has_names(e, SD_BUS_ERROR_SERVICE_UNKNOWN, SD_BUS_ERROR_NAME_HAS_NO_OWNER,
                               SD_BUS_ERROR_DISCONNECTED))
        return true;
    return !sd_bus_error_is_set(e) && (r == -ECONNRESET || r == -ENOTCONN || r == -ESHUTDOWN);
}

int stdfuctl_bus_error_to_exit(const sd_bus_error *e, int r, const char *method) {
    if (daemon_absent(e, r))
        return STDFU_EXIT_NO_DAEMON;
    if (sd_bus_error_has_name(e, SD_BUS_ERROR_ACCESS_DENIED) ||
        (!sd_bus_error_is_set(e) && (r == -EACCES || r == -EPERM)))
        return STDFU_EXIT_ACCESS_DENIED;
    if (sd_bus_error_has_name(e, STDFU_ERROR_NO_SUCH_DEVICE))
        return STDFU_EXIT_NO_DEVICE;
    if (sd_bus_error_has_name(e, STDFU_ERROR_BUSY))
        return STDFU_EXIT_BUSY;
    if (method && streq(method, "UpdateFile") &&
        sd_bus_error_has_name(e, SD_BUS_ERROR_INVALID_ARGS))
        return STDFU_EXIT_BAD_FILE;
    return STDFU_EXIT_FAILURE;
}

static bool denied_by_daemon(const sd_bus_error *e) {
    return sd_bus_error_is_set(e) && e->message && *e->message &&
           strncmp(e->message, "Rejected send message", strlen("Rejected send message")) != 0;
}

const char *stdfuctl_bus_error_message(const sd_bus_error *e, int r, const char *method,
                                       const char *device, char *buf, size_t size) {
    char where[300] = "";

    if (device)
        snprintf(where, sizeof where, "%s: ", device);
    switch (stdfuctl_bus_error_to_exit(e, r, method)) {
    case STDFU_EXIT_NO_DAEMON:
        snprintf(buf, size, "stdfud is not running on %s (%s not found)",
                 stdfuctl_bus_describe(), STDFU_BUS_NAME);
        return buf;
    case STDFU_EXIT_ACCESS_DENIED:
        /* stdfud's own refusal says who decided (the polkit action, or its group fallback);
         * dbus-daemon's policy ("Rejected send message, ...") says nothing a user can act on. */
        if (!denied_by_daemon(e)) {
            snprintf(buf, size, "permission denied: %s needs root or group stdfu",
                     method ? method : "this");
            return buf;
        }
        snprintf(buf, size, "permission denied: %s", e->message);
        break;
    default:
        if (sd_bus_error_is_set(e) && e->message && *e->message)
            snprintf(buf, size, "%s%s", where, e->message);
        else if (sd_bus_error_is_set(e))
            snprintf(buf, size, "%s%s failed: %s", where, method ? method : "call", e->name);
        else
            snprintf(buf, size, "%s%s failed: %s", where, method ? method : "call",
                     strerror(-r));
        break;
    }
    /* The daemon's sentences end with a period; ours do not. */
    size_t n = strlen(buf);
    if (n > 0 && buf[n - 1] == '.')
        buf[n - 1] = '\0';
    return buf;
}

int stdfuctl_bus_error_or_exit(const sd_bus_error *e, int r, const char *method,
                               const char *device) {
    char buf[1024];
    log_error("%s", stdfuctl_bus_error_message(e, r, method, device, buf, sizeof buf));
    return stdfuctl_bus_error_to_exit(e, r, method);
}

int stdfuctl_call_manager_or_exit(sd_bus *bus, const char *method, const char *device,
                                  sd_bus_message **reply, const char *types, ...) {
    sd_bus_error error = SD_BUS_ERROR_NULL;
    va_list ap;
    int r;

    va_start(ap, types);
    r = sd_bus_call_methodv(bus, STDFU_BUS_NAME, STDFU_MANAGER_PATH, STDFU_MANAGER_IFACE, method,
                            &error, reply, types, ap);
    va_end(ap);
    if (r < 0) {
        r = stdfuctl_bus_error_or_exit(&error, r, method, device);
        sd_bus_error_free(&error);
        return r;
    }
    return STDFU_EXIT_OK;
}

/* ---- device properties ------------------------------------------------------------------ */

void device_props_done(device_props *p) {
    free(p->object_path);
    free(p->port);
    free(p->product);
    free(p->usb_id);
    free(p->mode);
    free(p->serial);
    free(p->running_version);
    free(p->target_version);
    free(p->rule);
    free(p->state);
    free(p->last_error);
    *p = (device_props) {};
}

typedef struct prop_field {
    const char *name;
    char type; /* 's', 'u' or 't' */
    size_t offset;
    int bit;
} prop_field;

static const prop_field device_fields[] = {
    { "Port", 's', offsetof(device_props, port), DEVICE_PROP_OTHER },
    { "Product", 's', offsetof(device_props, product), DEVICE_PROP_OTHER },
    { "UsbId", 's', offsetof(device_props, usb_id), DEVICE_PROP_OTHER },
    { "Mode", 's', offsetof(device_props, mode), DEVICE_PROP_OTHER },
    { "Serial", 's', offsetof(device_props, serial), DEVICE_PROP_OTHER },
    { "RunningVersion", 's', offsetof(device_props, running_version), DEVICE_PROP_OTHER },
    { "TargetVersion", 's', offsetof(device_props, target_version), DEVICE_PROP_OTHER },
    { "Rule", 's', offsetof(device_props, rule), DEVICE_PROP_OTHER },
    { "State", 's', offsetof(device_props, state), DEVICE_PROP_STATE },
    { "LastError", 's', offsetof(device_props, last_error), DEVICE_PROP_OTHER },
    { "Progress", 'u', offsetof(device_props, progress), DEVICE_PROP_PROGRESS },
    { "BytesDone", 't', offsetof(device_props, bytes_done), DEVICE_PROP_PROGRESS },
    { "BytesTotal", 't', offsetof(device_props, bytes_total), DEVICE_PROP_PROGRESS },
    { "Attempt", 'u', offsetof(device_props, attempt), DEVICE_PROP_OTHER },
    { "LastUpdate", 't', offsetof(device_props, last_update), DEVICE_PROP_OTHER },
};

static const prop_field *find_field(const char *name) {
    for (size_t i = 0; i < ELEMENTSOF(device_fields); i++)
        if (streq(device_fields[i].name, name))
            return &device_fields[i];
    return NULL;
}

/* Reads the variant's value into the field; returns the field's bit if the value changed. */
static int read_field(sd_bus_message *m, const prop_field *f, device_props *p) {
    char sig[2] = { f->type, 0 };
    void *ptr = (uint8_t *) p + f->offset;
    int r = sd_bus_message_enter_container(m, 'v', sig);
    if (r < 0)
        return r == -ENXIO ? -EBADMSG : r;

    int changed = 0;
    if (f->type == 's') {
        const char *s;
        char **dst = ptr;
        r = sd_bus_message_read_basic(m, 's', &s);
        if (r >= 0 && !streq_ptr(*dst, s)) {
            char *copy = strdup(s);
            if (!copy)
                return -ENOMEM;
            free(*dst);
            *dst = copy;
            changed = f->bit;
        }
    } else if (f->type == 'u') {
        uint32_t v;
        r = sd_bus_message_read_basic(m, 'u', &v);
        if (r >= 0 && *(uint32_t *) ptr != v) {
            *(uint32_t *) ptr = v;
            changed = f->bit;
        }
    } else {
        uint64_t v;
        r = sd_bus_message_read_basic(m, 't', &v);
        if (r >= 0 && *(uint64_t *) ptr != v) {
            *(uint64_t *) ptr = v;
            changed = f->bit;
        }
    }
    if (r < 0)
        return r;
    r = sd_bus_message_exit_container(m);
    return r < 0 ? r : changed;
}

int device_props_read(sd_bus_message *m, device_props *p) {
    int changed = 0, r;

    r = sd_bus_message_enter_container(m, 'a', "{sv}");
    if (r < 0)
        return r;
    while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
        const char *name;
        r = sd_bus_message_read_basic(m, 's', &name);
        if (r < 0)
            return r;
        const prop_field *f = find_field(name);
        r = f ? read_field(m, f, p) : sd_bus_message_skip(m, "v");
        if (r < 0)
            return r;
        if (f)
            changed |= r;
        r = sd_bus_message_exit_container(m);
        if (r < 0)
            return r;
    }
    if (r < 0)
        return r;
    r = sd_bus_message_exit_container(m);
    return r < 0 ? r : changed;
}

int device_props_get_or_exit(sd_bus *bus, const char *object_path, device_props *p) {
    sd_bus_error error = SD_BUS_ERROR_NULL;
    sd_bus_message *reply = NULL;
    int r;

    r = sd_bus_call_method(bus, STDFU_BUS_NAME, object_path, "org.freedesktop.DBus.Properties",
                           "GetAll", &error, &reply, "s", STDFU_DEVICE_IFACE);
    if (r < 0) {
        r = stdfuctl_bus_error_or_exit(&error, r, "GetAll", object_path);
        sd_bus_error_free(&error);
        return r;
    }
    r = device_props_read(reply, p);
    sd_bus_message_unref(reply);
    if (r < 0) {
        log_error("stdfud sent unexpected properties for %s: %s", object_path, strerror(-r));
        return STDFU_EXIT_FAILURE;
    }
    if (!p->object_path && !(p->object_path = strdup(object_path))) {
        log_oom();
        return STDFU_EXIT_FAILURE;
    }
    return STDFU_EXIT_OK;
}

void device_props_list_free(device_props *l, size_t n) {
    for (size_t i = 0; l && i < n; i++)
        device_props_done(&l[i]);
    free(l);
}

static int compare_ports(const void *a, const void *b) {
    const device_props *x = a, *y = b;
    return strverscmp(x->port ? x->port : "", y->port ? y->port : "");
}

/* GetAll of one device; 0 with nothing added when the object is gone already. */
static int list_add_device(sd_bus *bus, const char *path, device_props *p, bool *ret_found) {
    sd_bus_error error = SD_BUS_ERROR_NULL;
    sd_bus_message *reply = NULL;
    int r;

    r = sd_bus_call_method(bus, STDFU_BUS_NAME, path, "org.freedesktop.DBus.Properties",
                           "GetAll", &error, &reply, "s", STDFU_DEVICE_IFACE);
    if (r < 0) {
        *ret_found = false;
        if (sd_bus_error_has_names(&error, SD_BUS_ERROR_UNKNOWN_OBJECT,
                                   SD_BUS_ERROR_UNKNOWN_INTERFACE)) {
            sd_bus_error_free(&error);
            return STDFU_EXIT_OK;
        }
        r = stdfuctl_bus_error_or_exit(&error, r, "GetAll", path);
        sd_bus_error_free(&error);
        return r;
    }
    r = device_props_read(reply, p);
    sd_bus_message_unref(reply);
    if (r < 0 || !(p->object_path = strdup(path))) {
        log_error("Cannot read the properties of %s: %s", path, strerror(r < 0 ? -r : ENOMEM));
        return STDFU_EXIT_FAILURE;
    }
    *ret_found = true;
    return STDFU_EXIT_OK;
}

int device_props_list_or_exit(sd_bus *bus, device_props **ret, size_t *ret_n) {
    sd_bus_message *reply = NULL;
    device_props *l = NULL;
    const char *port, *path;
    size_t n = 0;
    int r, code;

    code = stdfuctl_call_manager_or_exit(bus, "ListDevices", NULL, &reply, NULL);
    if (code != STDFU_EXIT_OK)
        return code;
    r = sd_bus_message_enter_container(reply, 'a', "(so)");
    while (r >= 0 && code == STDFU_EXIT_OK &&
           (r = sd_bus_message_read(reply, "(so)", &port, &path)) > 0) {
        device_props *nl = realloc(l, (n + 1) * sizeof *nl);
        bool found = false;
        if (!nl) {
            r = -ENOMEM;
            break;
        }
        l = nl;
        l[n] = (device_props) {};
        code = list_add_device(bus, path, &l[n], &found);
        if (found && !l[n].port && !(l[n].port = strdup(port)))
            r = -ENOMEM;
        if (found)
            n++;
        else
            device_props_done(&l[n]);
    }
    sd_bus_message_unref(reply);
    if (r < 0 && code == STDFU_EXIT_OK) {
        log_error("Cannot read stdfud's device list: %s", strerror(-r));
        code = STDFU_EXIT_FAILURE;
    }
    if (code != STDFU_EXIT_OK) {
        device_props_list_free(l, n);
        return code;
    }
    if (n > 1)
        qsort(l, n, sizeof *l, compare_ports);
    *ret = l;
    *ret_n = n;
    return STDFU_EXIT_OK;
}

bool device_state_is_active(const char *state) {
    static const char *const active[] = {
        "queued", "entering", "erasing", "writing", "verifying", "leaving", "waiting", "recovering",
    };
    return TABLE_INDEX(active, state) >= 0;
}

bool device_props_match(const device_props *p, const char *arg) {
    return streq_ptr(p->port, arg) || streq_ptr(p->object_path, arg);
}

int stdfuctl_outcome_to_exit(const char *outcome) {
    if (streq_ptr(outcome, "done"))
        return STDFU_EXIT_OK;
    if (streq_ptr(outcome, "needs-power-cycle"))
        return STDFU_EXIT_NEEDS_POWER_CYCLE;
    if (streq_ptr(outcome, "cancelled"))
        return STDFU_EXIT_CANCELLED;
    if (streq_ptr(outcome, "failed"))
        return STDFU_EXIT_UPDATE_FAILED;
    if (streq_ptr(outcome, "refused")) /* the image does not fit the device: as flash says */
        return STDFU_EXIT_BAD_FILE;
    return STDFU_EXIT_FAILURE;
}

const char *stdfuctl_format_timestamp(uint64_t usec, char *buf, size_t size) {
    time_t t = (time_t) (usec / 1000000);
    struct tm tm;

    if (usec == 0 || !localtime_r(&t, &tm) || strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm) == 0)
        snprintf(buf, size, "-");
    return buf;
}

const char *stdfuctl_format_timestamp_utc(uint64_t usec, char *buf, size_t size) {
    time_t t = (time_t) (usec / 1000000);
    struct tm tm;

    if (usec == 0 || !gmtime_r(&t, &tm) || strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        return NULL;
    return buf;
}
