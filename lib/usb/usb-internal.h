/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Shared between the files of lib/usb, not part of the API. */

#include "usb/usb.h"

/* qsort() comparator: by port path in natural order. */
int stdfu_usb_info_compare(const void *a, const void *b);
