/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "authorize.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include "dbus-util.h"
#include "util/log.h"
#include "util/macro.h"

/* An interactive check waits for a person typing a password; a plain one for polkitd only. */
#define INTERACTIVE_TIMEOUT_USEC (300ULL * 1000 * 1000)

typedef enum Verdict {
    VERDICT_PENDING,
    VERDICT_ALLOWED,
    VERDICT_DENIED,
    VERDICT_CHALLENGE, /* allowed after authentication, which the call did not allow */
    VERDICT_NO_POLKIT, /* polkit is not on this bus: the group check decides */
    VERDICT_FAILED,    /* polkit answered with an error */
} Verdict;

/* One question to polkit, from the call until the re-dispatched method takes its answer. */
typedef struct Query {
    sd_bus_message *message; /* the method call, referenced while the query lives */
    Verdict verdict;
    struct Query *next;
} Query;

/* The queries of the main loop's bus. Only the main thread handles D-Bus calls. */
static Query *queries;

static Query *query_find(sd_bus_message *m) {
    for (Query *q = queries; q; q = q->next)
        if (q->message == m)
            return q;
    return NULL;
}

static void query_free(Query *q) {
    for (Query **p = &queries; *p; p = &(*p)->next)
        if (*p == q) {
            *p = q->next;
            break;
        }
    sd_bus_message_unref(q->message);
    free(q);
}

static Verdict verdict_from_reply(sd_bus_message *reply) {
    const sd_bus_error *e = sd_bus_message_get_error(reply);
    int authorized = 0, challenge = 0;

    if (e) {
        if (sd_bus_error_has_names(e, SD_BUS_ERROR_SERVICE_UNKNOWN,
                                   SD_BUS_ERROR_NAME_HAS_NO_OWNER))
            return VERDICT_NO_POLKIT;
        log_warning("polkit CheckAuthorization failed: %s: %s", e->name, strna(e->message));
        return VERDICT_FAILED;
    }
    if (sd_bus_message_enter_container(reply, 'r', "bba{ss}") < 0 ||
        sd_bus_message_read(reply, "bb", &authorized, &challenge) < 0) {
        log_warning("polkit CheckAuthorization: unexpected reply");
        return VERDICT_FAILED;
    }
    return authorized ? VERDICT_ALLOWED : challenge ? VERDICT_CHALLENGE : VERDICT_DENIED;
}

/* polkit answered: keep the verdict and hand the method call to the bus again. */
static int on_check_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
    Query *q = userdata;
    (void) ret_error;

    q->verdict = verdict_from_reply(reply);
    int r = sd_bus_enqueue_for_read(sd_bus_message_get_bus(q->message), q->message);
    if (r < 0) {
        log_warning_errno(r, "Cannot dispatch %s again after authorization: %m",
                          strna(sd_bus_message_get_member(q->message)));
        query_free(q);
    }
    return 1;
}

/* CheckAuthorization(subject (sa{sv}), action_id s, details a{ss}, flags u, cancellation s),
 * the subject being the caller's unique bus name: polkitd resolves it to a process and user. */
static int ask_polkit(sd_bus_message *m, const char *action_id, Query *q) {
    sd_bus *bus = sd_bus_message_get_bus(m);
    sd_bus_message *call = NULL;
    bool interactive = sd_bus_message_get_allow_interactive_authorization(m) > 0;

    int r = sd_bus_message_new_method_call(bus, &call, "org.freedesktop.PolicyKit1",
                                           "/org/freedesktop/PolicyKit1/Authority",
                                           "org.freedesktop.PolicyKit1.Authority",
                                           "CheckAuthorization");
    if (r >= 0)
        r = sd_bus_message_append(call, "(sa{sv})sa{ss}us", "system-bus-name", 1, "name", "s",
                                  sd_bus_message_get_sender(m), action_id, 0,
                                  (uint32_t) (interactive ? 1 : 0), "");
    /* polkitd is started by bus activation on a real system bus. */
    if (r >= 0)
        r = sd_bus_message_set_auto_start(call, true);
    if (r >= 0)
        r = sd_bus_call_async(bus, NULL, call, on_check_reply, q,
                              interactive ? INTERACTIVE_TIMEOUT_USEC : 0);
    sd_bus_message_unref(call);
    return r;
}

static int verdict_to_result(Query *q, const char *action_id, sd_bus_error *error) {
    sd_bus_message *m = q->message;
    const char *member = strna(sd_bus_message_get_member(m));

    switch (q->verdict) {
    case VERDICT_ALLOWED:
        return 0;
    case VERDICT_NO_POLKIT:
        return bus_check_privileged(m, error);
    case VERDICT_CHALLENGE:
        return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                 "%s needs an administrator's authentication (polkit action "
                                 "%s), %s.", member, action_id,
                                 sd_bus_message_get_allow_interactive_authorization(m) > 0
                                     ? "and no authentication agent gave it"
                                     : "and the call did not allow interactive authorization");
    case VERDICT_FAILED:
        return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                 "Cannot ask polkit whether %s is authorized (action %s).",
                                 member, action_id);
    default:
        return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                 "%s is not authorized (polkit action %s).", member, action_id);
    }
}

int authorize(sd_bus_message *m, const char *action_id, sd_bus_error *error) {
    Query *q = query_find(m);

    /* The second dispatch of the call: polkit has answered. */
    if (q && q->verdict != VERDICT_PENDING) {
        int r = verdict_to_result(q, action_id, error);
        query_free(q);
        return r;
    }
    if (q)
        return 1;

    q = calloc(1, sizeof *q);
    if (!q)
        return -ENOMEM;
    q->message = sd_bus_message_ref(m);
    q->verdict = VERDICT_PENDING;
    q->next = queries;
    queries = q;
    int r = ask_polkit(m, action_id, q);
    if (r < 0) {
        query_free(q);
        return sd_bus_error_set_errnof(error, r, "Cannot ask polkit about action %s: %m",
                                       action_id);
    }
    return 1;
}
