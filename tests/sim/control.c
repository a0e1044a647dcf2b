/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "control.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "spec.h"
#include "util/log.h"
#include "util/macro.h"

#include <glib-unix.h> /* after util/macro.h: see umock/internal.h */
#include <glib.h>
#include "util/parse-util.h"

#define POWER_CYCLE_DEFAULT_MS 500u

/* ---- commands --------------------------------------------------------------------------- */

typedef struct power_cycle {
    sim_bus *bus;
    char *port;
    sim_reply_fn reply;
    void *userdata;
} power_cycle;

static gboolean power_cycle_on(gpointer userdata) {
    power_cycle *pc = userdata;
    char err[256], answer[300] = "ok";

    if (sim_bus_set_power(pc->bus, pc->port, true, err, sizeof err) < 0)
        snprintf(answer, sizeof answer, "error: %s", err);
    pc->reply(pc->userdata, answer);
    g_free(pc->port);
    g_free(pc);
    return G_SOURCE_REMOVE;
}

static int cmd_power_cycle(sim_bus *b, char **argv, int argc, sim_reply_fn reply, void *ud,
                           char *err, size_t err_size) {
    uint32_t ms = POWER_CYCLE_DEFAULT_MS;

    if (argc == 3 && parse_u32(argv[2], &ms) < 0) {
        snprintf(err, err_size, "bad delay '%s': expected milliseconds", argv[2]);
        return -EINVAL;
    }
    int r = sim_bus_set_power(b, argv[1], false, err, err_size);
    if (r < 0)
        return r;
    power_cycle *pc = g_new0(power_cycle, 1);
    *pc = (power_cycle) { b, g_strdup(argv[1]), reply, ud };
    g_timeout_add(ms, power_cycle_on, pc);
    return 1; /* answered later */
}

static int cmd_fault(sim_bus *b, char **argv, int argc, char *err, size_t err_size) {
    for (int i = 2; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (!eq || eq == argv[i]) {
            snprintf(err, err_size, "expected KEY=VALUE, got '%s'", argv[i]);
            return -EINVAL;
        }
        *eq = '\0';
        int r = sim_bus_fault(b, argv[1], argv[i], eq + 1, err, err_size);
        if (r < 0)
            return r;
    }
    return 0;
}

static int cmd_add(sim_bus *b, const char *spec_text, char *port_out, size_t port_size,
                   char *err, size_t err_size) {
    sim_device_spec spec;
    int r;

    sim_spec_init(&spec);
    r = sim_spec_parse(&spec, spec_text, err, err_size);
    if (r < 0)
        return r;
    if (!spec.has_port &&
        sim_bus_next_free_port(b, spec.config.port, sizeof spec.config.port) < 0) {
        snprintf(err, err_size, "no free port left");
        return -ENOSPC;
    }
    r = sim_bus_add_device(b, &spec.config, err, err_size);
    if (r >= 0)
        g_strlcpy(port_out, spec.config.port, port_size);
    return r;
}

static const char *const usage_text =
    "commands: plug PORT | unplug PORT | power-on PORT | power-off PORT | "
    "power-cycle PORT [MS] | fault PORT KEY=VALUE... | add SPEC | status";

/* Returns 0 (answer "ok" + extra), 1 (answered later) or a negative errno (err). */
static int command_dispatch(sim_bus *b, char **argv, int argc, sim_reply_fn reply, void *ud,
                            GString *extra, char *err, size_t err_size) {
    const char *cmd = argv[0];
    bool port_cmd = streq(cmd, "plug") || streq(cmd, "unplug") || streq(cmd, "power-on") ||
                    streq(cmd, "power-off");

    if (port_cmd && argc == 2) {
        if (streq(cmd, "plug"))
            return sim_bus_plug(b, argv[1], err, err_size);
        if (streq(cmd, "unplug"))
            return sim_bus_unplug(b, argv[1], err, err_size);
        return sim_bus_set_power(b, argv[1], streq(cmd, "power-on"), err, err_size);
    }
    if (streq(cmd, "power-cycle") && (argc == 2 || argc == 3))
        return cmd_power_cycle(b, argv, argc, reply, ud, err, err_size);
    if (streq(cmd, "fault") && argc >= 3)
        return cmd_fault(b, argv, argc, err, err_size);
    if (streq(cmd, "add") && argc == 2) {
        char port[32];
        int r = cmd_add(b, argv[1], port, sizeof port, err, err_size);
        if (r >= 0)
            g_string_append_printf(extra, " %s", port);
        return r;
    }
    if (streq(cmd, "status") && argc == 1) {
        g_autofree char *lines = sim_bus_status(b);
        g_string_prepend(extra, lines);
        return 0;
    }
    if (streq(cmd, "help") && argc == 1) {
        g_string_append_printf(extra, "%s\n", usage_text);
        return 0;
    }
    snprintf(err, err_size, "unknown command or wrong arguments: '%s' (%s)", cmd, usage_text);
    return -EINVAL;
}

void sim_command_run(sim_bus *b, const char *line, sim_reply_fn reply, void *userdata) {
    g_auto(GStrv) argv = NULL;
    g_autoptr(GString) extra = g_string_new(NULL);
    g_autofree char *copy = g_strstrip(g_strdup(line));
    char err[400] = "";
    int argc = 0, r;

    argv = g_strsplit_set(copy, " \t\r", -1);
    /* g_strsplit_set leaves empty strings between repeated separators: squeeze them out */
    for (char **in = argv, **out = argv;; in++) {
        if (*in && !**in) {
            g_free(*in);
            continue;
        }
        *out++ = *in;
        if (!*in)
            break;
        argc++;
    }
    if (argc == 0) {
        reply(userdata, "error: empty command");
        return;
    }
    log_debug("control: %s", line);
    r = command_dispatch(b, argv, argc, reply, userdata, extra, err, sizeof err);
    if (r == 1)
        return;
    if (r < 0) {
        g_autofree char *text = g_strdup_printf("error: %s", err[0] ? err : strerror(-r));
        reply(userdata, text);
        return;
    }
    /* status lines come before "ok", anything after the command on the "ok" line */
    g_autofree char *text = extra->len && extra->str[0] != ' '
                                ? g_strdup_printf("%sok", extra->str)
                                : g_strdup_printf("ok%s", extra->str);
    reply(userdata, text);
}

/* ---- the socket --------------------------------------------------------------------------- */

struct sim_control {
    sim_bus *bus;
    char *path;
    int fd;
    guint source;
};

typedef struct control_conn {
    gint refs;
    sim_control *control;
    int fd;
    guint source;
    GString *in;
    bool busy;   /* a command is running; the next waits for its answer */
    bool closed;
} control_conn;

static void conn_unref(control_conn *c) {
    if (!g_atomic_int_dec_and_test(&c->refs))
        return;
    close(c->fd);
    g_string_free(c->in, true);
    g_free(c);
}

static void conn_next(control_conn *c);

static void conn_reply(void *userdata, const char *text) {
    control_conn *c = userdata;

    if (!c->closed) {
        g_autofree char *line = g_strdup_printf("%s\n", text);
        size_t len = strlen(line);
        for (size_t done = 0; done < len;) {
            ssize_t n = send(c->fd, line + done, len - done, MSG_NOSIGNAL);
            if (n <= 0)
                break;
            done += (size_t) n;
        }
    }
    c->busy = false;
    conn_next(c);
    conn_unref(c);
}

/* Runs the next complete line, one command at a time, in order. */
static void conn_next(control_conn *c) {
    char *nl;

    if (c->busy || c->closed || !(nl = memchr(c->in->str, '\n', c->in->len)))
        return;
    g_autofree char *line = g_strndup(c->in->str, (gsize) (nl - c->in->str));
    g_string_erase(c->in, 0, nl - c->in->str + 1);
    c->busy = true;
    g_atomic_int_inc(&c->refs);
    sim_command_run(c->control->bus, line, conn_reply, c);
}

static gboolean conn_readable(gint fd, GIOCondition cond, gpointer userdata) {
    control_conn *c = userdata;
    char buf[1024];

    (void) cond;
    ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return G_SOURCE_CONTINUE;
    if (n <= 0) {
        c->closed = true;
        c->source = 0;
        conn_unref(c);
        return G_SOURCE_REMOVE;
    }
    g_string_append_len(c->in, buf, n);
    conn_next(c);
    return G_SOURCE_CONTINUE;
}

static gboolean control_accept(gint fd, GIOCondition cond, gpointer userdata) {
    sim_control *ctl = userdata;

    (void) cond;
    int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
    if (cfd < 0)
        return G_SOURCE_CONTINUE;
    control_conn *c = g_new0(control_conn, 1);
    c->refs = 1;
    c->control = ctl;
    c->fd = cfd;
    c->in = g_string_new(NULL);
    c->source = g_unix_fd_add(cfd, G_IO_IN | G_IO_HUP | G_IO_ERR, conn_readable, c);
    return G_SOURCE_CONTINUE;
}

int sim_control_start(sim_bus *b, const char *path, sim_control **ret) {
    struct sockaddr_un sa = { .sun_family = AF_UNIX };

    if (strlen(path) >= sizeof sa.sun_path)
        return log_error_errno(ENAMETOOLONG, "Control socket path too long: %s", path);
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return log_error_errno(errno, "Cannot create the control socket: %m");
    (void) unlink(path);
    if (bind(fd, (struct sockaddr *) &sa, sizeof sa) < 0 || listen(fd, 16) < 0) {
        int r = log_error_errno(errno, "Cannot listen on %s: %m", path);
        close(fd);
        return r;
    }
    sim_control *ctl = g_new0(sim_control, 1);
    ctl->bus = b;
    ctl->path = g_strdup(path);
    ctl->fd = fd;
    ctl->source = g_unix_fd_add(fd, G_IO_IN, control_accept, ctl);
    *ret = ctl;
    return 0;
}

void sim_control_stop(sim_control *c) {
    if (!c)
        return;
    g_source_remove(c->source);
    close(c->fd);
    (void) unlink(c->path);
    g_free(c->path);
    g_free(c);
}
