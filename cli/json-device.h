/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The one shape of stdfuctl's --json output (docs/stdfuctl.schema.json, stdfuctl(1)): every
 * command prints one object {"schema": N, "command": "NAME", ...}, and a device is the same
 * object wherever it appears, with the same names and versions as "MAJOR.MINOR" ("1.2"). */

#include "bus.h"
#include "json-writer.h"

/* Bumped when a field changes meaning or goes away (new fields do not bump it). */
#define STDFUCTL_JSON_SCHEMA 1

/* Starts the command's object with "schema" and "command"; the caller adds its members and
 * ends it with json_end_object(). */
void json_begin_document(json_writer *w, FILE *f, const char *command);

/* The device object's members from stdfud's view of it (inside an object the caller opened). */
void json_device_members(json_writer *w, const device_props *p);
/* The same as a whole object. */
void json_device(json_writer *w, const device_props *p);

/* "0483:5750" from a vid and pid; buf >= 10 bytes. */
const char *stdfuctl_format_usb_id(uint16_t vid, uint16_t pid, char *buf);
