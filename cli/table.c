/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "table.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "stdfuctl.h"

#define TABLE_MAX_COLUMNS 16

struct table {
    size_t n_columns, n_rows; /* rows include the header */
    char **cells;             /* n_rows * n_columns */
    bool wrap_last;
    size_t color_column;
    const char *(*color)(const char *cell);
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

/* No column is cut below this, nor below its header ("1-1.10" stays whole). */
#define MIN_COLUMN_WIDTH 6
/* A wrapped last column under the row gets at least this much room before it goes there. */
#define MIN_LAST_WIDTH 24

static size_t min_width(const table *t, size_t c) {
    return MAX(strlen(t->cells[c]), (size_t) MIN_COLUMN_WIDTH);
}

/* Cuts the widest column by one until the line fits (or nothing more can be cut). */
static void shrink(const table *t, size_t *width, size_t n, size_t max) {
    for (;;) {
        size_t total = 0, widest = n;
        for (size_t c = 0; c < n; c++) {
            total += width[c] + 2;
            if (width[c] > min_width(t, c) && (widest == n || width[c] > width[widest]))
                widest = c;
        }
        if (total <= max || widest == n)
            return;
        width[widest]--;
    }
}

static void print_cell(FILE *f, const char *s, size_t width, bool pad, const char *color) {
    size_t len = strlen(s);
    if (color)
        fputs(color, f);
    if (len <= width)
        fprintf(f, "%-*s", pad ? (int) width : 0, s);
    else if (width > 0)
        fprintf(f, "%.*s%s", (int) width - 1, s, stdfuctl_ellipsis());
    if (color)
        fputs("\033[0m", f);
}

/* The last cell on lines of its own under the row, indented, broken at spaces. */
static void print_wrapped(FILE *f, const char *s, size_t max) {
    size_t room = max > 8 ? max - 4 : 4;
    while (*s) {
        size_t n = strlen(s);
        if (n > room) {
            n = room;
            while (n > 0 && s[n] != ' ')
                n--;
            if (n == 0)
                n = room;
        }
        fprintf(f, "    %.*s\n", (int) n, s);
        s += n;
        while (*s == ' ')
            s++;
    }
}

void table_set_wrap_last(table *t, bool wrap) {
    t->wrap_last = wrap;
}

void table_set_color(table *t, size_t column, const char *(*color)(const char *cell)) {
    t->color_column = column;
    t->color = color;
}

void table_print_full(const table *t, FILE *f, unsigned max_width, bool colors) {
    size_t width[TABLE_MAX_COLUMNS], n = t->n_columns, last = n - 1;
    bool wrap = false;

    for (size_t c = 0; c < n; c++) {
        width[c] = 0;
        for (size_t r = 0; r < t->n_rows; r++)
            width[c] = MAX(width[c], strlen(t->cells[r * n + c]));
    }
    if (max_width > 0) {
        /* The columns before the last shrink first, leaving the last some room. A last
         * column that still does not fit goes whole under its row if it may (then the others
         * have the whole width again), or is cut. */
        size_t natural[TABLE_MAX_COLUMNS];
        memcpy(natural, width, sizeof natural);
        size_t before = 0, room = MIN(width[last], (size_t) MIN_LAST_WIDTH);
        shrink(t, width, last, max_width > room ? max_width - room : 0);
        for (size_t c = 0; c < last; c++)
            before += width[c] + 2;
        if (before + width[last] > max_width && t->wrap_last) {
            wrap = true;
            memcpy(width, natural, sizeof natural);
            shrink(t, width, last, max_width + 2); /* no separator after the last shown */
        } else if (before + width[last] > max_width)
            width[last] = before < max_width ? max_width - before : 0;
    }
    for (size_t r = 0; r < t->n_rows; r++) {
        const char *const *row = (const char *const *) t->cells + r * n;
        size_t end = wrap ? last : n;
        for (size_t c = 0; c < end; c++) {
            const char *color = colors && r > 0 && t->color && c == t->color_column
                                    ? t->color(row[c]) : NULL;
            print_cell(f, row[c], width[c], c + 1 < end, color);
            fputs(c + 1 < end ? "  " : "\n", f);
        }
        if (wrap && r > 0 && !streq(row[last], "-"))
            print_wrapped(f, row[last], max_width);
    }
}

void table_print(const table *t, FILE *f, unsigned max_width) {
    table_print_full(t, f, max_width, false);
}

void table_print_stdout(const table *t) {
    struct winsize ws = {};
    unsigned width = 0;

    if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) >= 0)
        width = ws.ws_col;
    table_print_full(t, stdout, width, stdfuctl_use_colors(STDOUT_FILENO));
}
