/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Control commands, from the --control socket (one per line, each answered with "ok" or
 * "error: ...", status lines before the "ok") and from scenario events:
 *
 *     plug PORT                  cable in: the device powers up (cold boot) if its port has power
 *     unplug PORT                cable out
 *     power-off PORT             port power off (through the hub's PORT_POWER on 1-1.N)
 *     power-on PORT              port power on
 *     power-cycle PORT [MS]      off, MS (default 500) later on; answered once on
 *     fault PORT KEY=VALUE...    set SPEC keys of a running device (faults, leave behaviour)
 *     add SPEC                   a new device (answered "ok PORT")
 *     status                     one line per device: PORT PROFILE MODE VERSION plugged|unplugged
 *                                devnum=N
 *
 * Everything runs on the main thread. */

#include "umock/umock.h"

/* text: the whole answer without the final newline; the last line is "ok..." or "error: ...". */
typedef void (*sim_reply_fn)(void *userdata, const char *text);

/* Runs one command; reply is called exactly once, maybe later from the main loop. */
void sim_command_run(sim_bus *b, const char *line, sim_reply_fn reply, void *userdata);

typedef struct sim_control sim_control;
int sim_control_start(sim_bus *b, const char *path, sim_control **ret);
void sim_control_stop(sim_control *c);
