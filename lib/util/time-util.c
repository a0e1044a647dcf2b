/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "util/time-util.h"

#include <errno.h>
#include <time.h>

static usec_t timespec_to_usec(const struct timespec *ts) {
    return (usec_t) ts->tv_sec * USEC_PER_SEC + (usec_t) ts->tv_nsec / 1000;
}

usec_t now_monotonic(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return timespec_to_usec(&ts);
}

usec_t now_realtime(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return timespec_to_usec(&ts);
}

void sleep_until(usec_t until) {
    struct timespec ts = {
        .tv_sec = (time_t) (until / USEC_PER_SEC),
        .tv_nsec = (long) (until % USEC_PER_SEC) * 1000,
    };
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}
