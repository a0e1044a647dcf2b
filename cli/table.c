/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "table.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define TABLE_MAX_COLUMNS 16

struct table {
    size_t n_columns, n_rows; /* rows include the header */
    char **cells;             /* n_rows * n_columns */
};

table *table_new(size_t n_columns, const char *const *headers) {
    if (n_columns == 0 || n_columns > TABLE_MAX_COLUMNS)
        return NULL;
    table *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->n_columns = n_columns;
    if (table_add_row(t, headers) < 0)
        return table_free(t);
    return t;
}

table *table_free(table *t) {
    if (!t)
        return NULL;
    for (size_t i = 0; i < t->n_rows * t->n_columns; i++)
        free(t->cells[i]);
    free(t->cells);
    free(t);
    return NULL;
}

int table_add_row(table *t, const char *const *cells) {
    char **l = realloc(t->cells, (t->n_rows + 1) * t->n_columns * sizeof *l);
    if (!l)
        return -ENOMEM;
    t->cells = l;
    char **row = l + t->n_rows * t->n_columns;
    for (size_t c = 0; c < t->n_columns; c++) {
        row[c] = strdup(cells[c] && *cells[c] ? cells[c] : "-");
        if (!row[c]) {
            while (c > 0)
                free(row[--c]);
            return -ENOMEM;
        }
    }
    t->n_rows++;
    return 0;
}

size_t table_rows(const table *t) {
    return t->n_rows - 1;
}

static void print_last_cell(FILE *f, const char *s, size_t used, unsigned max_width) {
    size_t len = strlen(s);
    if (max_width == 0 || used + len <= max_width || used + 4 > max_width) {
        fprintf(f, "%s\n", s);
        return;
    }
    fprintf(f, "%.*s...\n", (int) (max_width - used - 3), s);
}

void table_print(const table *t, FILE *f, unsigned max_width) {
    size_t width[TABLE_MAX_COLUMNS];

    for (size_t c = 0; c < t->n_columns; c++) {
        width[c] = 0;
        for (size_t r = 0; r < t->n_rows; r++)
            width[c] = MAX(width[c], strlen(t->cells[r * t->n_columns + c]));
    }
    for (size_t r = 0; r < t->n_rows; r++) {
        size_t used = 0;
        for (size_t c = 0; c + 1 < t->n_columns; c++) {
            fprintf(f, "%-*s  ", (int) width[c], t->cells[r * t->n_columns + c]);
            used += width[c] + 2;
        }
        print_last_cell(f, t->cells[r * t->n_columns + t->n_columns - 1], used, max_width);
    }
}

void table_print_stdout(const table *t) {
    struct winsize ws = {};
    unsigned width = 0;

    if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) >= 0)
        width = ws.ws_col;
    table_print(t, stdout, width);
}
