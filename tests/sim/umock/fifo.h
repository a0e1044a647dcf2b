/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Device nodes as FIFOs, so that a client's poll() tells the truth.
 *
 * umockdev makes device nodes regular files (always readable and writable for poll()), so
 * libusb, which waits for POLLOUT on a usbfs fd before reaping URBs, would spin. A FIFO that the
 * harness keeps open read-write instead gives readiness it controls:
 *   usbfs:  POLLOUT <=> the pipe is not full; the harness fills it while no URB is reapable
 *           and drains it when one is.
 *   hidraw: POLLIN <=> the pipe holds bytes; the harness writes input reports into it and the
 *           client's read() (not emulated) reads them from the pipe. */

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct sim_fifo {
    int fd;        /* harness end, O_RDWR | O_NONBLOCK; -1 when closed */
    bool writable; /* usbfs: current POLLOUT state */
} sim_fifo;

#define SIM_FIFO_NULL ((sim_fifo) { .fd = -1 })

/* Creates the FIFO at path (replacing what is there, creating parent directories) and opens it.
 * writable=false starts it full (no POLLOUT). */
int sim_fifo_create(sim_fifo *f, const char *path, bool writable);
void sim_fifo_close(sim_fifo *f);

/* usbfs readiness: POLLOUT on or off. No-op when unchanged. */
void sim_fifo_set_writable(sim_fifo *f, bool writable);

/* hidraw: bytes in the pipe, a whole report appended at once, the oldest bytes taken out. */
int sim_fifo_queued(const sim_fifo *f);
int sim_fifo_push(sim_fifo *f, const void *data, size_t size);
ssize_t sim_fifo_pop(sim_fifo *f, void *buf, size_t size);
