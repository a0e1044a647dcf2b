/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "jobs.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>

#include "util/log.h"

/* Messages between the main loop and a worker, one per SEQPACKET datagram. */
typedef enum MsgType {
    MSG_STATE,    /* worker -> main */
    MSG_PROGRESS,
    MSG_ATTEMPT,
    MSG_RESULT,
    MSG_EVENT,    /* main -> worker */
    MSG_WAKE,
} MsgType;

typedef struct Msg {
    MsgType type;
    JobState state;
    unsigned attempt;
    uint64_t done, total;
    union {
        JobResult result;
        JobDeviceEvent event;
    };
} Msg;

struct Job {
    JobQueue *queue;
    Job *next;
    JobSpec spec;
    void *userdata;

    /* Main-thread view, updated from the worker's messages. */
    JobState state;
    uint64_t done, total;
    unsigned attempt;
    JobResult result;
    bool running;

    int fd_main, fd_worker;     /* the socket pair; -EBADF while not running */
    sd_event_source *source;
    pthread_t thread;
    atomic_bool cancel;
};

struct JobQueue {
    sd_event *event;
    unsigned parallel;
    JobRunner runner;
    void *runner_userdata;
    JobQueueCallbacks cb;
    void *userdata;
    Job *jobs;                  /* in queue order */
    unsigned n_running;
    sd_event_source *dispatch_source; /* starts queued jobs from the loop, never re-entrantly */
};

void job_spec_done(JobSpec *s) {
    free(s->port);
    free(s->rule_name);
    free(s->target_version);
    free(s->from_version);
    stdfu_manifest_unref(s->manifest);
    stdfu_image_free(s->own_image);
    free(s->file_data);
    *s = (JobSpec) {};
}

int job_queue_new(JobQueue **ret, sd_event *event, unsigned parallel, JobRunner runner,
                  void *runner_userdata, const JobQueueCallbacks *cb, void *userdata) {
    JobQueue *q = calloc(1, sizeof *q);
    if (!q)
        return -ENOMEM;
    q->event = sd_event_ref(event);
    q->parallel = MAX(parallel, 1u);
    q->runner = runner;
    q->runner_userdata = runner_userdata;
    if (cb)
        q->cb = *cb;
    q->userdata = userdata;
    *ret = q;
    return 0;
}

static void job_close_channel(Job *j) {
    j->source = sd_event_source_disable_unref(j->source);
    if (j->fd_main >= 0)
        close(j->fd_main);
    if (j->fd_worker >= 0)
        close(j->fd_worker);
    j->fd_main = j->fd_worker = -EBADF;
}

static void send_msg(int fd, const Msg *m, bool may_drop) {
    for (;;) {
        ssize_t n = send(fd, m, sizeof *m, MSG_NOSIGNAL | (may_drop ? MSG_DONTWAIT : 0));
        if (n >= 0 || errno != EINTR)
            return; /* EAGAIN on a droppable message: progress is lossy by design */
    }
}

/* Stops a running worker without reporting: used when the daemon shuts down, so that the
 * state journal still says where the job was and the next start resumes it. */
static void job_stop_worker(Job *j) {
    if (!j->running)
        return;
    atomic_store(&j->cancel, true);
    /* Shutting the socket down wakes a waiting worker (EOF) and makes its sends fail instead
     * of blocking while we join it. */
    (void) shutdown(j->fd_main, SHUT_RDWR);
    pthread_join(j->thread, NULL);
    j->running = false;
    j->queue->n_running--;
    job_close_channel(j);
}

static void job_unlink(Job *j) {
    for (Job **p = &j->queue->jobs; *p; p = &(*p)->next)
        if (*p == j) {
            *p = j->next;
            break;
        }
}

static void job_free(Job *j) {
    job_stop_worker(j);
    job_close_channel(j);
    job_spec_done(&j->spec);
    free(j);
}

JobQueue *job_queue_free(JobQueue *q) {
    if (!q)
        return NULL;
    while (q->jobs) {
        Job *j = q->jobs;
        q->jobs = j->next;
        job_free(j);
    }
    sd_event_source_disable_unref(q->dispatch_source);
    sd_event_unref(q->event);
    free(q);
    return NULL;
}

void job_queue_set_runner(JobQueue *q, JobRunner runner, void *userdata) {
    q->runner = runner;
    q->runner_userdata = userdata;
}

unsigned job_queue_running(JobQueue *q) {
    return q->n_running;
}

unsigned job_queue_pending(JobQueue *q) {
    unsigned n = 0;
    for (Job *j = q->jobs; j; j = j->next)
        n += j->state == JOB_QUEUED;
    return n;
}

Job *job_queue_find(JobQueue *q, const char *port) {
    for (Job *j = q->jobs; j; j = j->next)
        if (streq(j->spec.port, port))
            return j;
    return NULL;
}

static void job_finish(Job *j) {
    /* Results the runner did not make (cancelled while queued, a broken worker) end where the
     * job was. */
    if (!job_state_is_active(j->result.phase))
        j->result.phase = j->state;
    if (!j->result.finished)
        j->result.finished = now_realtime();
    if (!j->result.started)
        j->result.started = j->result.finished;
    j->state = job_state_of_outcome(j->result.outcome);
    if (j->queue->cb.finished)
        j->queue->cb.finished(j, j->queue->userdata);
}

static void *worker_main(void *p) {
    Job *j = p;
    JobResult r = { .outcome = _JOB_OUTCOME_INVALID };

    j->queue->runner(j, &j->spec, &r, j->queue->runner_userdata);
    if (!job_outcome_to_string(r.outcome)) {
        r.outcome = JOB_OUTCOME_FAILED;
        snprintf(r.error, sizeof r.error, "update engine returned without an outcome");
    }
    Msg m = { .type = MSG_RESULT, .result = r };
    send_msg(j->fd_worker, &m, false);
    return NULL;
}

static void job_queue_dispatch(JobQueue *q);

static void job_handle_result(Job *j, const JobResult *r) {
    pthread_join(j->thread, NULL);
    j->running = false;
    j->queue->n_running--;
    job_close_channel(j);
    j->result = *r;
    j->result.error[sizeof j->result.error - 1] = '\0';
    if (atomic_load(&j->cancel) && r->outcome != JOB_OUTCOME_DONE) {
        j->result.outcome = JOB_OUTCOME_CANCELLED;
        if (!j->result.error[0])
            snprintf(j->result.error, sizeof j->result.error, "cancelled");
    }
    JobQueue *q = j->queue;
    job_finish(j);   /* may release j */
    job_queue_dispatch(q);
}

static int on_worker_message(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
    Job *j = userdata;
    Msg m;
    (void) s;

    for (;;) {
        ssize_t n = recv(fd, &m, sizeof m, MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return 0;
        if (n != (ssize_t) sizeof m) {
            /* The worker went away without a result: cannot happen unless it crashed. */
            JobResult r = { .outcome = JOB_OUTCOME_FAILED };
            snprintf(r.error, sizeof r.error, "worker channel broke (revents 0x%x)", revents);
            job_handle_result(j, &r);
            return 0;
        }
        switch (m.type) {
        case MSG_STATE:
            if (job_state_is_active(m.state))
                j->state = m.state;
            break;
        case MSG_PROGRESS:
            j->done = m.done;
            j->total = m.total;
            break;
        case MSG_ATTEMPT:
            j->attempt = MAX(j->spec.first_attempt, 1u) + MAX(m.attempt, 1u) - 1;
            break;
        case MSG_RESULT:
            job_handle_result(j, &m.result);
            return 0;   /* j may be gone */
        default:
            continue;
        }
        if (j->queue->cb.changed)
            j->queue->cb.changed(j, j->queue->userdata);
    }
}

static int job_start(Job *j) {
    int fds[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) < 0)
        return -errno;
    j->fd_main = fds[0];
    j->fd_worker = fds[1];
    int r = sd_event_add_io(j->queue->event, &j->source, j->fd_main, EPOLLIN, on_worker_message, j);
    if (r < 0) {
        job_close_channel(j);
        return r;
    }
    (void) sd_event_source_set_description(j->source, "job-worker");

    /* Workers never take signals: the main loop handles them through sd-event. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    r = -pthread_create(&j->thread, NULL, worker_main, j);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (r < 0) {
        job_close_channel(j);
        return r;
    }
    j->running = true;
    j->queue->n_running++;
    j->state = JOB_ENTERING;
    j->attempt = MAX(j->spec.first_attempt, 1u);
    return 0;
}

static void job_queue_dispatch(JobQueue *q) {
    for (Job *j = q->jobs; j && q->n_running < q->parallel;) {
        Job *next = j->next;
        if (j->state == JOB_QUEUED) {
            int r = job_start(j);
            if (r < 0) {
                j->result = (JobResult) { .outcome = JOB_OUTCOME_FAILED };
                snprintf(j->result.error, sizeof j->result.error,
                         "could not start a worker thread: %s", strerror(-r));
                job_finish(j);
            } else if (q->cb.changed)
                q->cb.changed(j, q->userdata);
        }
        j = next;
    }
}

static int on_dispatch(sd_event_source *s, void *userdata) {
    (void) s;
    job_queue_dispatch(userdata);
    return 0;
}

/* Jobs start from the event loop: job_queue_add() and friends never call back into the
 * caller before they return. */
static void job_queue_schedule(JobQueue *q) {
    int r;
    if (q->dispatch_source)
        r = sd_event_source_set_enabled(q->dispatch_source, SD_EVENT_ONESHOT);
    else {
        r = sd_event_add_defer(q->event, &q->dispatch_source, on_dispatch, q);
        if (r >= 0)
            r = sd_event_source_set_enabled(q->dispatch_source, SD_EVENT_ONESHOT);
    }
    if (r < 0)
        log_error_errno(r, "Cannot schedule the job queue: %m");
}

void job_queue_set_parallel(JobQueue *q, unsigned parallel) {
    q->parallel = MAX(parallel, 1u);
    job_queue_schedule(q);
}

int job_queue_add(JobQueue *q, JobSpec *spec, void *userdata, Job **ret) {
    if (!spec->port)
        return -EINVAL;
    if (job_queue_find(q, spec->port))
        return -EBUSY;

    Job *j = calloc(1, sizeof *j);
    if (!j)
        return -ENOMEM;
    j->queue = q;
    j->userdata = userdata;
    j->spec = *spec;
    *spec = (JobSpec) {};
    j->state = JOB_QUEUED;
    j->fd_main = j->fd_worker = -EBADF;
    atomic_init(&j->cancel, false);

    Job **tail = &q->jobs;
    while (*tail)
        tail = &(*tail)->next;
    *tail = j;

    if (ret)
        *ret = j;
    job_queue_schedule(q);
    return 0;
}

int job_cancel(Job *j) {
    if (job_state_is_ended(j->state))
        return -EALREADY;
    atomic_store(&j->cancel, true);
    if (j->running) {
        send_msg(j->fd_main, &(Msg) { .type = MSG_WAKE }, true);
        return 0;
    }
    j->result = (JobResult) { .outcome = JOB_OUTCOME_CANCELLED };
    snprintf(j->result.error, sizeof j->result.error, "cancelled before it started");
    job_finish(j);
    return 0;
}

void job_forward_event(Job *j, const JobDeviceEvent *ev) {
    if (!j->running)
        return;
    Msg m = { .type = MSG_EVENT, .event = *ev };
    send_msg(j->fd_main, &m, true);
}

void job_take_spec(Job *j, JobSpec *ret) {
    *ret = j->spec;
    j->spec = (JobSpec) {};
    j->spec.port = ret->port ? strdup(ret->port) : NULL; /* the queue still finds it by port */
}

void job_release(Job *j) {
    if (!j || j->running)
        return;
    job_unlink(j);
    job_free(j);
}

const char *job_port(Job *j) {
    return j->spec.port;
}
JobState job_state(Job *j) {
    return j->state;
}
const JobSpec *job_spec(Job *j) {
    return &j->spec;
}
void job_progress(Job *j, uint64_t *done, uint64_t *total) {
    *done = j->done;
    *total = j->total;
}
unsigned job_attempt(Job *j) {
    return j->attempt;
}
const JobResult *job_result(Job *j) {
    return &j->result;
}
void *job_get_userdata(Job *j) {
    return j->userdata;
}
void job_set_userdata(Job *j, void *userdata) {
    j->userdata = userdata;
}

/* ---- worker side ---------------------------------------------------------------------- */

void job_report_state(Job *j, JobState state) {
    send_msg(j->fd_worker, &(Msg) { .type = MSG_STATE, .state = state }, false);
}

void job_report_progress(Job *j, uint64_t done, uint64_t total) {
    send_msg(j->fd_worker, &(Msg) { .type = MSG_PROGRESS, .done = done, .total = total }, true);
}

void job_report_attempt(Job *j, unsigned attempt) {
    send_msg(j->fd_worker, &(Msg) { .type = MSG_ATTEMPT, .attempt = attempt }, false);
}

bool job_is_cancelled(Job *j) {
    return atomic_load(&j->cancel);
}

const atomic_bool *job_cancel_flag(Job *j) {
    return &j->cancel;
}

int job_wait_event(Job *j, usec_t timeout, JobDeviceEvent *ret) {
    usec_t deadline = timeout == USEC_INFINITY ? USEC_INFINITY : now_monotonic() + timeout;

    for (;;) {
        if (job_is_cancelled(j))
            return -ECANCELED;
        usec_t now = now_monotonic();
        if (deadline != USEC_INFINITY && now >= deadline)
            return 0;
        int ms = deadline == USEC_INFINITY ? -1 : (int) DIV_ROUND_UP(deadline - now, USEC_PER_MSEC);
        struct pollfd p = { .fd = j->fd_worker, .events = POLLIN };
        int r = poll(&p, 1, ms);
        if (r < 0 && errno != EINTR)
            return -errno;
        if (r <= 0)
            continue;

        Msg m;
        ssize_t n = recv(j->fd_worker, &m, sizeof m, MSG_DONTWAIT);
        if (n == 0)
            return -ECANCELED; /* main side closed: the daemon is going away */
        if (n != (ssize_t) sizeof m)
            continue;
        if (m.type == MSG_EVENT) {
            *ret = m.event;
            return 1;
        }
        /* MSG_WAKE: loop and look at the cancel flag. */
    }
}
