/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A plain text table for the human output of status and history: a header row, columns as
 * wide as their widest cell, two spaces between columns. Empty cells show "-". */

#include <stdbool.h>
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

/* The last column (an error) goes under its row, wrapped, when the width leaves it too little
 * room, instead of being cut. */
void table_set_wrap_last(table *t, bool wrap);
/* Cells of column get color(cell) (an SGR sequence, NULL: none) when colours are on. */
void table_set_color(table *t, size_t column, const char *(*color)(const char *cell));

/* Prints the table. max_width > 0 (a terminal's width): no line is longer; the widest columns
 * shrink first (down to 6 or their header), a cut cell ends in an ellipsis, and the last column
 * wraps under the row (table_set_wrap_last) or is cut. colors: table_set_color's. */
void table_print_full(const table *t, FILE *f, unsigned max_width, bool colors);
void table_print(const table *t, FILE *f, unsigned max_width);
/* On stdout: cut to the terminal's width, coloured where it can (NO_COLOR: never). */
void table_print_stdout(const table *t);
