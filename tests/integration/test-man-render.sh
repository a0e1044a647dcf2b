#!/bin/bash
# Every man page in man/ renders without a single groff or man warning, and has a NAME line
# that makewhatis/mandb can index (lexgrog), so `man -k` finds it.
. "$(dirname "$0")/lib.sh"

shopt -s nullglob
pages=("$SRCDIR"/man/*.[1-8])
[ ${#pages[@]} -gt 0 ] || skip_all "no man pages in man/ yet"

render() {
    local page=$1 err=$T/render.err
    if command -v man >/dev/null; then
        # -Z: stop after troff, so warnings of every pass show and nothing is paged.
        LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z "$page" \
            >/dev/null 2>"$err" || { cat "$err"; return 1; }
    else
        groff -man -ww -Tutf8 -z "$page" 2>"$err" || { cat "$err"; return 1; }
    fi
    if [ -s "$err" ]; then
        sed 's/^/#   /' "$err"
        return 1
    fi
}

# The section in the file name matches the .TH line, and the title is the file's name.
th_matches() {
    local page=$1 name section
    name=$(basename "$page"); section=${name##*.}; name=${name%.*}
    awk -v n="$name" -v s="$section" '
        $1 == ".TH" { t = $2; gsub(/"/, "", t); gsub(/\\-/, "-", t); found = 1
                      exit !(toupper(t) == toupper(n) && $3 == s) }
        END { if (!found) exit 1 }' "$page"
}

quiet() { "$@" >/dev/null; }

for page in "${pages[@]}"; do
    rel=${page#"$SRCDIR"/}
    check "$rel renders without warnings" render "$page"
    check "$rel has a .TH line naming it and its section" th_matches "$page"
    if command -v lexgrog >/dev/null; then
        check "$rel has a NAME section mandb can index" quiet lexgrog "$page"
    fi
done
finish
