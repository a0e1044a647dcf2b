#!/bin/bash
# stdfuctl(1), each command's --help and the bash completion stay true to the options the code
# takes. For every command: each long option its --help lists is one getopt accepts, appears
# in its help's Usage line, its man page OPTIONS subsection (--bus and --help: the global
# options) and SYNOPSIS line, and its completion; and each option the man page names for the
# command is one its --help lists; the same for the global options. (test-man-options.sh does
# the same for stdfud(8).)
. "$(dirname "$0")/lib.sh"

requires stdfuctl python3
page=$SRCDIR/man/stdfuctl.1
completion_file=$SRCDIR/cli/stdfuctl.bash-completion
[ -e "$page" ] || skip_all "man/stdfuctl.1 missing"

COMMANDS=$("$CTL" --help | sed -n '/^Commands:/,/^$/p' | awk 'NF > 1 { print $1 }')
check "stdfuctl --help lists commands" test -n "$COMMANDS"

# sections CMD: "help", "usage", "man", "synopsis" and "completion" lines, each with the long
# options found there (space-separated).
sections() {
    python3 - "$1" "$T/$1.help" "$page" "$completion_file" <<'PY'
import re, sys
cmd, help_file, page, completion = sys.argv[1:]
opt = re.compile(r"(?<![\w-])--[a-z][a-z-]*")
def opts(text):
    return " ".join(sorted(set(opt.findall(text))))
help_text = open(help_file).read()
usage = help_text.split("\n\n", 1)[0]
listed = help_text.split("Options:\n", 1)[1] if "Options:\n" in help_text else ""
listed = "\n".join(l for l in listed.splitlines() if re.match(r"\s+(-\w, )?--", l))
man = re.sub(r"\\f[BIRP]", "", open(page).read().replace("\\-", "-"))
synopsis = man.split(".SH SYNOPSIS", 1)[1].split(".SH ", 1)[0]
line = next((b for b in synopsis.split(".br") if re.search(r"^\.B %s$" % re.escape(cmd), b, re.M)),
            "")
options = man.split(".SH OPTIONS", 1)[1].split("\n.SH ", 1)[0]
sub = re.search(r"^\.SS %s\n(.*?)(?=^\.SS |\Z)" % re.escape(cmd), options, re.M | re.S)
glob = re.search(r"^\.SS Global options\n(.*?)(?=^\.SS |\Z)", options, re.M | re.S).group(1)
comp = open(completion).read()
case = re.search(r"^\s+%s\)\s*(?:\n\s*)?opts=\"([^\"]*)\"" % re.escape(cmd), comp, re.M)
# A short alias in the Usage line or synopsis ("-o FILE") stands for its long option.
aliases = dict(re.findall(r"^\s+(-\w), (--[a-z][a-z-]*)", listed, re.M))
def with_aliases(text):
    return text + " " + " ".join(l for s, l in aliases.items()
                                 if re.search(r"(?<![\w-])%s\b" % s, text))
print("help", opts(listed))
print("usage", opts(with_aliases(usage)))
print("man", opts(sub.group(1) if sub else ""))
print("global", opts(glob))
print("synopsis", opts(with_aliases(line)))
print("completion", opts(case.group(1) if case else ""))
PY
}

# takes_argument CMD OPTION: whether --help shows OPTION with a value after it.
takes_argument() {
    grep -qE -- "(^|[ ,])$2[ =]([A-Z]|system)" "$T/$1.help"
}

# accepted CMD OPTION: getopt knows OPTION (a value, if any, may still be refused; --help after
# it ends the command before it does anything).
accepted() {
    local arg=$2
    takes_argument "$1" "$2" && arg="$2=x"
    timeout 10 "$CTL" "$1" "$arg" --help >/dev/null 2>"$T/err" </dev/null
    ! grep -qE "unrecognized option|requires an argument|doesn't allow an argument" "$T/err"
}

in_list() {
    [[ " $2 " == *" $1 "* ]]
}

# The global options: `stdfuctl --help` and stdfuctl(1) name the same, and stdfuctl takes them.
"$CTL" --help | sed -n '/^Global options:/,/^$/p' >"$T/global.help"
global_help=$(grep -oE -- '--[a-z][a-z-]*' "$T/global.help" | sort -u)
global_man=$(sed -n '/^\.SS Global options/,/^\.SS /p' "$page" | sed 's/\\-/-/g' |
    grep -oE -- '--[a-z][a-z-]*' | sort -u)
check "stdfuctl --help lists global options" test -n "$global_help"
check_eq "stdfuctl(1) documents the global options --help lists" "$global_help" "$global_man"
for o in $global_help; do
    arg=$o
    grep -qE -- "^ +(-[a-z], )?$o [a-z]" "$T/global.help" && arg="$o=system"
    # Before a command: an option stdfuctl does not take as global goes to the command,
    # which refuses it.
    timeout 10 "$CTL" "$arg" list --help >/dev/null 2>"$T/err" </dev/null
    check "global $o is accepted" test "$(grep -cE "unrecognized option|argument" "$T/err")" = 0
done

for cmd in $COMMANDS; do
    "$CTL" "$cmd" --help >"$T/$cmd.help" 2>&1
    check "stdfuctl $cmd --help exits 0" test $? -eq 0
    sections "$cmd" >"$T/$cmd.sections"
    get() { sed -n "s/^$1 //p" "$T/$cmd.sections"; }
    help=$(get help) usage=$(get usage) man=$(get man) global=$(get global)
    synopsis=$(get synopsis) completion=$(get completion)
    check "stdfuctl $cmd --help lists options" test -n "$help"
    for o in $help; do
        check "$cmd $o (from --help) is accepted" accepted "$cmd" "$o"
        check "$cmd $o is in its completion" in_list "$o" "$completion"
        case $o in
            --help) continue ;;
            --bus) check "$cmd $o is in stdfuctl(1)'s global options" in_list "$o" "$global"
                   continue ;;
        esac
        check "$cmd $o is in its --help usage line" in_list "$o" "$usage"
        check "$cmd $o is in stdfuctl(1)'s $cmd options" in_list "$o" "$man"
        check "$cmd $o is in stdfuctl(1)'s $cmd synopsis" in_list "$o" "$synopsis"
    done
    for o in $man $synopsis; do
        check "$cmd $o (from stdfuctl(1)) is in its --help" in_list "$o" "$help"
    done
done
finish
