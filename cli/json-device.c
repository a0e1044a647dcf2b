/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "json-device.h"

#include "stdfuctl.h"

void json_begin_document(json_writer *w, FILE *f, const char *command) {
    json_init(w, f);
    json_begin_object(w);
    json_kv_uint(w, "schema", STDFUCTL_JSON_SCHEMA);
    json_kv_string(w, "command", command);
}

static void kv_string_or_null(json_writer *w, const char *key, const char *s) {
    json_kv_string(w, key, s && *s ? s : NULL);
}

void json_device_members(json_writer *w, const device_props *p) {
    char ts[64];

    json_kv_string(w, "port", p->port);
    kv_string_or_null(w, "object_path", p->object_path);
    kv_string_or_null(w, "mode", p->mode);
    kv_string_or_null(w, "usb_id", p->usb_id);
    kv_string_or_null(w, "product", p->product);
    kv_string_or_null(w, "serial", p->serial);
    kv_string_or_null(w, "running_version", p->running_version);
    kv_string_or_null(w, "target_version", p->target_version);
    kv_string_or_null(w, "rule", p->rule);
    kv_string_or_null(w, "state", p->state);
    json_kv_uint(w, "progress", p->progress);
    json_kv_uint(w, "bytes_done", p->bytes_done);
    json_kv_uint(w, "bytes_total", p->bytes_total);
    json_kv_uint(w, "attempt", p->attempt);
    kv_string_or_null(w, "last_error", p->last_error);
    json_key(w, "last_update_usec");
    if (p->last_update)
        json_uint(w, p->last_update);
    else
        json_null(w);
    json_kv_string(w, "last_update", stdfuctl_format_timestamp_utc(p->last_update, ts, sizeof ts));
}

void json_device(json_writer *w, const device_props *p) {
    json_begin_object(w);
    json_device_members(w, p);
    json_end_object(w);
}

const char *stdfuctl_format_usb_id(uint16_t vid, uint16_t pid, char *buf) {
    snprintf(buf, 10, "%04x:%04x", vid, pid);
    return buf;
}
