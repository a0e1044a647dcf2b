/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "dbus-util.h"

#include <errno.h>
#include <grp.h>
#include <string.h>
#include <sys/types.h>

#include "daemon.h"
#include "util/macro.h"

int device_object_path_of_port(const char *port, char **ret) {
    return sd_bus_path_encode(STDFU_DEVICE_PREFIX, port, ret);
}

int device_port_from_object_path(const char *path, char **ret) {
    int r = sd_bus_path_decode(path, STDFU_DEVICE_PREFIX, ret);
    if (r < 0)
        return r;
    return r > 0 && *ret && **ret ? 0 : -ENXIO;
}

static bool gid_is_stdfu(gid_t gid) {
    struct group grp, *result = NULL;
    char buf[4096];
    /* Looked up at each call: the group may be created after the daemon started. */
    if (getgrnam_r(STDFU_GROUP, &grp, buf, sizeof buf, &result) != 0 || !result)
        return false;
    return grp.gr_gid == gid;
}

/* The caller's uid and groups as the bus daemon knows them (GetConnectionCredentials). This
 * works where /proc of the caller is hidden from us (ProtectProc=invisible, a different user),
 * which is where sd-bus finds supplementary groups otherwise. Returns the number of gids
 * stored, or a negative errno. */
static int query_bus_credentials(sd_bus_message *m, uid_t *ret_uid, gid_t *gids, size_t max) {
    sd_bus_message *reply = NULL;
    sd_bus_error error = SD_BUS_ERROR_NULL;
    const char *key;
    size_t n = 0;
    bool have_uid = false;
    int r;

    r = sd_bus_call_method(sd_bus_message_get_bus(m), "org.freedesktop.DBus",
                           "/org/freedesktop/DBus", "org.freedesktop.DBus",
                           "GetConnectionCredentials", &error, &reply, "s",
                           sd_bus_message_get_sender(m));
    sd_bus_error_free(&error);
    if (r < 0)
        return r;
    r = sd_bus_message_enter_container(reply, 'a', "{sv}");
    while (r >= 0 && (r = sd_bus_message_enter_container(reply, 'e', "sv")) > 0) {
        r = sd_bus_message_read(reply, "s", &key);
        if (r >= 0 && streq(key, "UnixUserID")) {
            uint32_t uid;
            r = sd_bus_message_read(reply, "v", "u", &uid);
            *ret_uid = (uid_t) uid;
            have_uid = r >= 0;
        } else if (r >= 0 && streq(key, "UnixGroupIDs")) {
            r = sd_bus_message_enter_container(reply, 'v', "au");
            if (r >= 0)
                r = sd_bus_message_enter_container(reply, 'a', "u");
            uint32_t gid;
            while (r >= 0 && (r = sd_bus_message_read_basic(reply, 'u', &gid)) > 0)
                if (n < max)
                    gids[n++] = (gid_t) gid;
            if (r >= 0)
                r = sd_bus_message_exit_container(reply);
            if (r >= 0)
                r = sd_bus_message_exit_container(reply);
        } else if (r >= 0)
            r = sd_bus_message_skip(reply, "v");
        if (r >= 0)
            r = sd_bus_message_exit_container(reply);
    }
    sd_bus_message_unref(reply);
    if (r < 0)
        return r;
    return have_uid ? (int) n : -ENODATA;
}

/* Fallback when the bus does not answer GetConnectionCredentials: sd-bus's own view. */
static int query_sd_bus_credentials(sd_bus_message *m, uid_t *ret_uid, gid_t *gids, size_t max) {
    sd_bus_creds *creds = NULL;
    const gid_t *supplementary = NULL;
    gid_t gid;
    size_t n = 0;

    int r = sd_bus_query_sender_creds(m, SD_BUS_CREDS_EUID | SD_BUS_CREDS_EGID |
                                         SD_BUS_CREDS_SUPPLEMENTARY_GIDS | SD_BUS_CREDS_AUGMENT,
                                      &creds);
    if (r < 0)
        return r;
    r = sd_bus_creds_get_euid(creds, ret_uid);
    if (r >= 0) {
        if (sd_bus_creds_get_egid(creds, &gid) >= 0 && n < max)
            gids[n++] = gid;
        int k = sd_bus_creds_get_supplementary_gids(creds, &supplementary);
        for (int i = 0; i < k && n < max; i++)
            gids[n++] = supplementary[i];
    }
    sd_bus_creds_unref(creds);
    return r < 0 ? r : (int) n;
}

int bus_check_privileged(sd_bus_message *m, sd_bus_error *error) {
    gid_t gids[256];
    uid_t uid = (uid_t) -1;

    int n = query_bus_credentials(m, &uid, gids, ELEMENTSOF(gids));
    if (n < 0)
        n = query_sd_bus_credentials(m, &uid, gids, ELEMENTSOF(gids));
    if (n < 0)
        return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                 "Cannot determine the caller's credentials: %s", strerror(-n));

    bool allowed = uid == 0;
    for (int i = 0; i < n && !allowed; i++)
        allowed = gid_is_stdfu(gids[i]);
    if (!allowed)
        return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                 "%s requires root or membership of group \"%s\".",
                                 sd_bus_message_get_member(m), STDFU_GROUP);
    return 0;
}

static const BusOption *find_option(const BusOption *options, const char *name) {
    for (const BusOption *o = options; o && o->name; o++)
        if (streq(o->name, name))
            return o;
    return NULL;
}

static int read_one_option(sd_bus_message *m, const BusOption *options, uint64_t *seen,
                           sd_bus_error *error) {
    const char *key, *contents;
    int r;

    r = sd_bus_message_read(m, "s", &key);
    if (r < 0)
        return r;
    const BusOption *o = find_option(options, key);
    if (!o)
        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Unknown option \"%.64s\".", key);
    uint64_t bit = UINT64_C(1) << (o - options);
    if (*seen & bit)
        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Option \"%s\" given twice.", key);
    *seen |= bit;

    r = sd_bus_message_peek_type(m, NULL, &contents);
    if (r < 0)
        return r;
    char want[2] = { o->type, 0 };
    if (!contents || !streq(contents, want))
        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                 "Option \"%s\" must be of type \"%s\", not \"%.32s\".", key, want,
                                 strna(contents));
    r = sd_bus_message_enter_container(m, 'v', want);
    if (r < 0)
        return r;
    if (o->type == 'b') {
        int b;
        r = sd_bus_message_read_basic(m, 'b', &b);
        if (r >= 0)
            *(bool *) o->ptr = b;
    } else
        r = sd_bus_message_read_basic(m, o->type, o->ptr);
    if (r < 0)
        return r;
    return sd_bus_message_exit_container(m);
}

int bus_read_options(sd_bus_message *m, const BusOption *options, sd_bus_error *error) {
    uint64_t seen = 0;
    int r;

    r = sd_bus_message_enter_container(m, 'a', "{sv}");
    if (r < 0)
        return r;
    for (;;) {
        r = sd_bus_message_enter_container(m, 'e', "sv");
        if (r < 0)
            return r;
        if (r == 0)
            break;
        r = read_one_option(m, options, &seen, error);
        if (r < 0)
            return r;
        r = sd_bus_message_exit_container(m);
        if (r < 0)
            return r;
    }
    return sd_bus_message_exit_container(m);
}
