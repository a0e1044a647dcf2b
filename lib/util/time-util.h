/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdint.h>

typedef uint64_t usec_t;

#define USEC_PER_MSEC ((usec_t) 1000)
#define USEC_PER_SEC ((usec_t) 1000000)
#define USEC_INFINITY ((usec_t) UINT64_MAX)

usec_t now_monotonic(void);
usec_t now_realtime(void);

/* Sleeps until the monotonic clock reaches `until` (returns at once if it has). */
void sleep_until(usec_t until);
