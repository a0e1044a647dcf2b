/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Authorization of the methods that change something, through polkit (as fwupd does): the
 * daemon asks org.freedesktop.PolicyKit1 whether the caller may do the action
 * (io.stdfu1.update, io.stdfu1.cancel, io.stdfu1.reload; conf/io.stdfu1.policy). Where polkit
 * is not on the bus, only root and the group stdfu are allowed (bus_check_privileged). */

#include <systemd/sd-bus.h>

#define STDFU_ACTION_UPDATE "io.stdfu1.update"
#define STDFU_ACTION_CANCEL "io.stdfu1.cancel"
#define STDFU_ACTION_RELOAD "io.stdfu1.reload"

/* Call first in a method handler, and return what it returns unless it is 0:
 *   0   allowed: go on with the method;
 *   1   asked polkit: the handler returns 1 now and is called again with the same message
 *       when the answer is in (the main loop never waits for polkit, which may be prompting
 *       a user for a password when the call allows interactive authorization);
 *   <0  refused: an AccessDenied error naming the action is set. */
int authorize(sd_bus_message *m, const char *action_id, sd_bus_error *error);
