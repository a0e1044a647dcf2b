/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A plain text table for the human output of status and history: a header row, columns as
 * wide as their widest cell, two spaces between columns. Empty cells show "-". */

#include <stddef.h>
#include <stdio.h>

#include "util/macro.h"

typedef struct table table;

/* headers: n_columns (1 to 16) column titles. NULL on out of memory. */
table *table_new(size_t n_columns, const char *const *headers);
table *table_free(table *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(table *, table_free);

/* Appends a row of n_columns cells (copied; NULL or "" shows "-"). */
int table_add_row(table *t, const char *const *cells);
size_t table_rows(const table *t);

/* Prints the table. max_width > 0 (a terminal's width): the last column is cut so that no
 * line is longer, ending in "..." where it was cut. */
void table_print(const table *t, FILE *f, unsigned max_width);
/* The same on stdout, cut to the terminal's width when stdout is one. */
void table_print_stdout(const table *t);
