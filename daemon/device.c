/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "device.h"

#include <errno.h>
#include <string.h>

#include "dbus-util.h"
#include "metrics.h"
#include "usb/usb.h"
#include "util/log.h"
#include "util/string-table.h"

/* At most ~10 progress PropertiesChanged per second and device. */
#define PROGRESS_SIGNAL_INTERVAL_USEC (100 * USEC_PER_MSEC)

#define PROPERTY_BIT(p) (1u << (p))
#define PROGRESS_BITS (PROPERTY_BIT(DEVICE_PROPERTY_PROGRESS) | \
                       PROPERTY_BIT(DEVICE_PROPERTY_BYTES_DONE) | \
                       PROPERTY_BIT(DEVICE_PROPERTY_BYTES_TOTAL))

struct DeviceTable {
    Daemon *daemon;
    Device *devices;
    unsigned n_devices;
};

struct Device {
    DeviceTable *table;
    Device *next;
    char *port;
    char *object_path;

    /* What udev says; cleared when absent. facts' strings are the ones below. */
    DeviceFacts facts;
    char *product, *serial, *syspath;
    char *hidraw_node, *hidraw_syspath;

    /* What the daemon says. */
    char *running_version;
    char *target_version;
    char *rule;
    JobState state;
    unsigned progress;          /* percent */
    uint64_t bytes_done, bytes_total;
    unsigned attempt;
    char *last_error;
    usec_t last_update;         /* CLOCK_REALTIME of the last finished update, 0 if none */
    usec_t next_attempt;        /* CLOCK_REALTIME of the next automatic attempt, 0 if none */

    /* The policy's. */
    Job *job;
    DeviceResume *resume;
    bool blocked;
    bool vanished_flashing;
    char *claim;
    sd_event_source *settle_timer;
    DeviceSettledFn settled;

    /* PropertiesChanged: marked properties, sent from a defer source (once per iteration) or,
     * for progress, from a timer. */
    unsigned changed;
    sd_event_source *emit_source;
    usec_t last_progress_signal;
    sd_event_source *progress_timer;
};

static const char *const device_mode_table[_DEVICE_MODE_MAX] = {
    [DEVICE_ABSENT] = "absent",
    [DEVICE_APPLICATION] = "application",
    [DEVICE_BOOTLOADER] = "bootloader",
};

const char *device_mode_to_string(DeviceMode m) {
    return TABLE_NAME(device_mode_table, m, "unknown");
}

static const char *const device_property_table[_DEVICE_PROPERTY_MAX] = {
    [DEVICE_PROPERTY_PRODUCT] = "Product",
    [DEVICE_PROPERTY_USB_ID] = "UsbId",
    [DEVICE_PROPERTY_MODE] = "Mode",
    [DEVICE_PROPERTY_SERIAL] = "Serial",
    [DEVICE_PROPERTY_RUNNING_VERSION] = "RunningVersion",
    [DEVICE_PROPERTY_TARGET_VERSION] = "TargetVersion",
    [DEVICE_PROPERTY_RULE] = "Rule",
    [DEVICE_PROPERTY_STATE] = "State",
    [DEVICE_PROPERTY_PROGRESS] = "Progress",
    [DEVICE_PROPERTY_BYTES_DONE] = "BytesDone",
    [DEVICE_PROPERTY_BYTES_TOTAL] = "BytesTotal",
    [DEVICE_PROPERTY_ATTEMPT] = "Attempt",
    [DEVICE_PROPERTY_LAST_ERROR] = "LastError",
    [DEVICE_PROPERTY_LAST_UPDATE] = "LastUpdate",
    [DEVICE_PROPERTY_NEXT_ATTEMPT] = "NextAttempt",
};

const char *device_property_to_string(DeviceProperty p) {
    return TABLE_NAME(device_property_table, p, NULL);
}

DeviceResume *device_resume_free(DeviceResume *r) {
    if (!r)
        return NULL;
    sd_event_source_disable_unref(r->timer);
    job_spec_done(&r->spec);
    return mfree(r);
}

/* ---- PropertiesChanged ----------------------------------------------------------------------- */

static void emit_bits(Device *dev, unsigned bits) {
    Daemon *d = dev->table->daemon;
    char *names[_DEVICE_PROPERTY_MAX + 1];
    size_t n = 0;

    for (DeviceProperty p = 0; p < _DEVICE_PROPERTY_MAX; p++)
        if (bits & PROPERTY_BIT(p))
            names[n++] = (char *) device_property_to_string(p);
    names[n] = NULL;
    if (bits & PROGRESS_BITS)
        dev->last_progress_signal = now_monotonic();
    if (n > 0)
        bus_device_emit_changed(d, dev->object_path, names);
}

static int on_emit(sd_event_source *s, void *userdata) {
    Device *dev = userdata;
    (void) s;
    device_flush_changes(dev);
    return 0;
}

static int on_progress_timer(sd_event_source *s, uint64_t usec, void *userdata) {
    Device *dev = userdata;
    (void) s, (void) usec;
    dev->progress_timer = sd_event_source_disable_unref(dev->progress_timer);
    unsigned bits = dev->changed & PROGRESS_BITS;
    dev->changed &= ~PROGRESS_BITS;
    emit_bits(dev, bits);
    return 0;
}

void device_flush_changes(Device *dev) {
    unsigned bits = dev->changed;
    dev->changed = 0;
    if (dev->emit_source)
        (void) sd_event_source_set_enabled(dev->emit_source, SD_EVENT_OFF);
    /* Whatever goes out now carries the latest progress too. */
    dev->progress_timer = sd_event_source_disable_unref(dev->progress_timer);
    emit_bits(dev, bits);
}

static void schedule_emit(Device *dev) {
    sd_event *e = dev->table->daemon->event;
    int r = 0;

    if (!e)
        return;
    if (!dev->emit_source) {
        r = sd_event_add_defer(e, &dev->emit_source, on_emit, dev);
        if (r >= 0)
            (void) sd_event_source_set_description(dev->emit_source, "device-properties");
    }
    if (r >= 0)
        r = sd_event_source_set_enabled(dev->emit_source, SD_EVENT_ONESHOT);
    if (r < 0)
        device_flush_changes(dev);
}

/* Progress alone waits for the throttle interval; anything else goes out this iteration and
 * takes the progress along. */
static void schedule_progress(Device *dev) {
    sd_event *e = dev->table->daemon->event;
    usec_t due = dev->last_progress_signal + PROGRESS_SIGNAL_INTERVAL_USEC;

    if (dev->progress_timer || (dev->changed & ~PROGRESS_BITS))
        return; /* the pending emission carries the latest values */
    if (!e || now_monotonic() >= due) {
        schedule_emit(dev);
        return;
    }
    if (sd_event_add_time(e, &dev->progress_timer, CLOCK_MONOTONIC, due, 0, on_progress_timer,
                          dev) < 0)
        schedule_emit(dev);
}

static void mark(Device *dev, DeviceProperty p) {
    dev->changed |= PROPERTY_BIT(p);
    if (PROPERTY_BIT(p) & PROGRESS_BITS)
        schedule_progress(dev);
    else {
        schedule_emit(dev);
        metrics_changed(dev->table->daemon);
    }
}

static void set_string_property(Device *dev, char **field, const char *value, DeviceProperty p) {
    int r = free_and_strdup(field, value);
    if (r < 0)
        log_oom();
    else if (r > 0)
        mark(dev, p);
}

/* ---- the table ------------------------------------------------------------------------------- */

int device_table_new(DeviceTable **ret, Daemon *d) {
    DeviceTable *t = calloc(1, sizeof *t);
    if (!t)
        return -ENOMEM;
    t->daemon = d;
    *ret = t;
    return 0;
}

static void device_clear_udev(Device *dev) {
    dev->facts = (DeviceFacts) { .port = dev->port, .mode = DEVICE_ABSENT };
    dev->product = mfree(dev->product);
    dev->serial = mfree(dev->serial);
    dev->syspath = mfree(dev->syspath);
    dev->hidraw_node = mfree(dev->hidraw_node);
    dev->hidraw_syspath = mfree(dev->hidraw_syspath);
}

static Device *device_free(Device *dev) {
    if (!dev)
        return NULL;
    device_clear_udev(dev);
    sd_event_source_disable_unref(dev->emit_source);
    sd_event_source_disable_unref(dev->progress_timer);
    sd_event_source_disable_unref(dev->settle_timer);
    free(dev->port);
    free(dev->object_path);
    free(dev->running_version);
    free(dev->target_version);
    free(dev->rule);
    free(dev->last_error);
    free(dev->claim);
    device_resume_free(dev->resume);
    return mfree(dev);
}

DeviceTable *device_table_free(DeviceTable *t) {
    if (!t)
        return NULL;
    while (t->devices) {
        Device *dev = t->devices;
        t->devices = dev->next;
        device_free(dev);
    }
    return mfree(t);
}

Device *device_table_first(DeviceTable *t) {
    return t->devices;
}
Device *device_next(Device *dev) {
    return dev->next;
}
unsigned device_table_count(DeviceTable *t) {
    return t->n_devices;
}

Device *device_table_find(DeviceTable *t, const char *port) {
    for (Device *dev = t->devices; dev; dev = dev->next)
        if (streq(dev->port, port))
            return dev;
    return NULL;
}

Device *device_table_find_path(DeviceTable *t, const char *object_path) {
    for (Device *dev = t->devices; dev; dev = dev->next)
        if (streq(dev->object_path, object_path))
            return dev;
    return NULL;
}

static void device_table_link(DeviceTable *t, Device *dev) {
    Device **p = &t->devices;
    while (*p && strverscmp((*p)->port, dev->port) < 0)
        p = &(*p)->next;
    dev->next = *p;
    *p = dev;
    t->n_devices++;
}

int device_table_ensure(DeviceTable *t, const char *port, Device **ret) {
    Device *dev = device_table_find(t, port);
    if (dev) {
        *ret = dev;
        return 0;
    }
    if (!stdfu_usb_port_is_valid(port))
        return -EINVAL;
    dev = calloc(1, sizeof *dev);
    if (!dev)
        return -ENOMEM;
    dev->table = t;
    dev->port = strdup(port);
    int r = dev->port ? device_object_path_of_port(port, &dev->object_path) : -ENOMEM;
    if (r < 0) {
        device_free(dev);
        return r;
    }
    dev->state = JOB_IDLE;
    dev->facts = (DeviceFacts) { .port = dev->port, .mode = DEVICE_ABSENT };
    device_table_link(t, dev);
    bus_manager_emit_device_added(t->daemon, dev);
    daemon_update_status(t->daemon);
    *ret = dev;
    return 0;
}

void device_table_remove(DeviceTable *t, Device *dev) {
    bus_manager_emit_device_removed(t->daemon, dev);
    metrics_changed(t->daemon);
    for (Device **p = &t->devices; *p; p = &(*p)->next)
        if (*p == dev) {
            *p = dev->next;
            t->n_devices--;
            break;
        }
    device_free(dev);
}

/* ---- reading --------------------------------------------------------------------------------- */

Daemon *device_daemon(Device *dev) { return dev->table->daemon; }
const char *device_port(Device *dev) { return dev->port; }
const char *device_object_path(Device *dev) { return dev->object_path; }
const DeviceFacts *device_facts(Device *dev) { return &dev->facts; }
DeviceMode device_mode(Device *dev) { return dev->facts.mode; }
const char *device_hidraw_node(Device *dev) { return dev->hidraw_node; }
const char *device_hidraw_syspath(Device *dev) { return dev->hidraw_syspath; }
const char *device_running_version(Device *dev) { return dev->running_version; }
const char *device_target_version(Device *dev) { return dev->target_version; }
const char *device_rule(Device *dev) { return dev->rule; }
JobState device_state(Device *dev) { return dev->state; }
unsigned device_progress(Device *dev) { return dev->progress; }
uint64_t device_bytes_done(Device *dev) { return dev->bytes_done; }
uint64_t device_bytes_total(Device *dev) { return dev->bytes_total; }
unsigned device_attempt(Device *dev) { return dev->attempt; }
const char *device_last_error(Device *dev) { return dev->last_error; }
usec_t device_last_update(Device *dev) { return dev->last_update; }
usec_t device_next_attempt(Device *dev) { return dev->next_attempt; }

/* ---- what udev says -------------------------------------------------------------------------- */

int device_set_facts(Device *dev, const DeviceFacts *f) {
    const DeviceFacts old = dev->facts;
    bool incarnation = old.mode != f->mode || !streq_ptr(old.syspath, f->syspath);
    char *product = NULL, *serial = NULL, *syspath = NULL;

    if ((f->product && !(product = strdup(f->product))) ||
        (f->serial && !(serial = strdup(f->serial))) ||
        (f->syspath && !(syspath = strdup(f->syspath)))) {
        free(product), free(serial), free(syspath);
        return log_oom();
    }
    if (old.mode != f->mode)
        mark(dev, DEVICE_PROPERTY_MODE);
    if (old.vid != f->vid || old.pid != f->pid)
        mark(dev, DEVICE_PROPERTY_USB_ID);
    if (!streq_ptr(old.product, f->product))
        mark(dev, DEVICE_PROPERTY_PRODUCT);
    if (!streq_ptr(old.serial, f->serial))
        mark(dev, DEVICE_PROPERTY_SERIAL);
    if (incarnation) {
        /* Another incarnation: its hidraw node is announced again. */
        dev->hidraw_node = mfree(dev->hidraw_node);
        dev->hidraw_syspath = mfree(dev->hidraw_syspath);
    }
    free_and_replace(dev->product, product);
    free_and_replace(dev->serial, serial);
    free_and_replace(dev->syspath, syspath);
    dev->facts = *f;
    dev->facts.port = dev->port;
    dev->facts.product = dev->product;
    dev->facts.serial = dev->serial;
    dev->facts.syspath = dev->syspath;
    return incarnation;
}

void device_clear_facts(Device *dev) {
    const DeviceFacts absent = { .mode = DEVICE_ABSENT };
    (void) device_set_facts(dev, &absent);
}

void device_set_hidraw(Device *dev, const char *node, const char *syspath) {
    if (free_and_strdup(&dev->hidraw_node, node) < 0 ||
        free_and_strdup(&dev->hidraw_syspath, syspath) < 0)
        log_oom();
}

/* ---- what the daemon says -------------------------------------------------------------------- */

void device_set_running_version(Device *dev, const char *version) {
    set_string_property(dev, &dev->running_version, version, DEVICE_PROPERTY_RUNNING_VERSION);
}

void device_set_target_version(Device *dev, const char *version) {
    set_string_property(dev, &dev->target_version, version, DEVICE_PROPERTY_TARGET_VERSION);
}

void device_set_rule(Device *dev, const char *name) {
    /* "" and NULL are both "none" on D-Bus: no signal for the one becoming the other. */
    set_string_property(dev, &dev->rule, name && *name ? name : NULL, DEVICE_PROPERTY_RULE);
}

void device_set_error(Device *dev, const char *error) {
    set_string_property(dev, &dev->last_error, error, DEVICE_PROPERTY_LAST_ERROR);
}

void device_set_state(Device *dev, JobState state) {
    if (dev->state == state)
        return;
    /* A second State before the first went out: send the first (with the values of its
     * moment), so that every state is seen. */
    if (dev->changed & PROPERTY_BIT(DEVICE_PROPERTY_STATE))
        device_flush_changes(dev);
    dev->state = state;
    mark(dev, DEVICE_PROPERTY_STATE);
}

void device_set_progress(Device *dev, unsigned percent, uint64_t done, uint64_t total) {
    if (dev->progress != percent) {
        dev->progress = percent;
        mark(dev, DEVICE_PROPERTY_PROGRESS);
    }
    if (dev->bytes_done != done) {
        dev->bytes_done = done;
        mark(dev, DEVICE_PROPERTY_BYTES_DONE);
    }
    if (dev->bytes_total != total) {
        dev->bytes_total = total;
        mark(dev, DEVICE_PROPERTY_BYTES_TOTAL);
    }
}

void device_set_attempt(Device *dev, unsigned attempt) {
    if (dev->attempt == attempt)
        return;
    dev->attempt = attempt;
    mark(dev, DEVICE_PROPERTY_ATTEMPT);
}

void device_set_last_update(Device *dev, usec_t when) {
    if (dev->last_update == when)
        return;
    dev->last_update = when;
    mark(dev, DEVICE_PROPERTY_LAST_UPDATE);
}

void device_set_next_attempt(Device *dev, usec_t when) {
    if (dev->next_attempt == when)
        return;
    dev->next_attempt = when;
    mark(dev, DEVICE_PROPERTY_NEXT_ATTEMPT);
}

/* ---- the policy's bookkeeping ---------------------------------------------------------------- */

Job *device_job(Device *dev) { return dev->job; }
void device_set_job(Device *dev, Job *job) { dev->job = job; }
DeviceResume *device_resume(Device *dev) { return dev->resume; }
bool device_blocked(Device *dev) { return dev->blocked; }
void device_set_blocked(Device *dev, bool blocked) { dev->blocked = blocked; }
bool device_vanished_flashing(Device *dev) { return dev->vanished_flashing; }
void device_set_vanished_flashing(Device *dev, bool b) { dev->vanished_flashing = b; }
const char *device_claim(Device *dev) { return dev->claim; }

int device_set_claim(Device *dev, const char *why) {
    if (!why) {
        dev->claim = mfree(dev->claim);
        return 0;
    }
    return free_and_strdup(&dev->claim, why);
}

void device_set_resume(Device *dev, DeviceResume *r) {
    if (dev->resume == r)
        return;
    device_resume_free(dev->resume);
    dev->resume = r;
}

static int on_settle_timer(sd_event_source *s, uint64_t usec, void *userdata) {
    Device *dev = userdata;
    DeviceSettledFn done = dev->settled;
    (void) s, (void) usec;
    device_settle_stop(dev);
    if (done)
        done(dev);
    return 0;
}

int device_settle(Device *dev, usec_t timeout_usec, DeviceSettledFn done) {
    sd_event *e = dev->table->daemon->event;
    if (dev->settle_timer)
        return 0;
    if (!e)
        return -ENXIO;
    int r = sd_event_add_time_relative(e, &dev->settle_timer, CLOCK_MONOTONIC, timeout_usec, 0,
                                       on_settle_timer, dev);
    if (r < 0)
        return r;
    dev->settled = done;
    return 0;
}

bool device_settling(Device *dev) {
    return dev->settle_timer;
}

void device_settle_stop(Device *dev) {
    dev->settle_timer = sd_event_source_disable_unref(dev->settle_timer);
    dev->settled = NULL;
}
