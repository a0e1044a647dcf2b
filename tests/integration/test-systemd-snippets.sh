#!/bin/bash
# The small integration files agree with each other and with the tools that read them:
# - stdfu.sysusers, run by systemd-sysusers into a scratch root, creates user and group stdfu;
# - stdfu.tmpfiles, run by systemd-tmpfiles into it, creates the manifest directories;
# - the unit runs as that user and group; the udev rules give that user (and no group) the
#   device nodes; the D-Bus policy names the group (the admin group);
# - 70-stdfu.rules: every line parses with the keys and operators of udev(7) (Debian 12's
#   udevadm has no `verify`; it is used too when present), and evaluated against sample
#   devices the rules grant exactly the intended nodes (the evaluator below models udev's
#   matching of ACTION, SUBSYSTEM(S), ENV{}, ATTR(S){} and GOTO/LABEL, nothing more).
. "$(dirname "$0")/lib.sh"

skip_check() {
    _tap_n=$((_tap_n + 1))
    echo "ok $_tap_n - $1 # SKIP $2"
}

sysusers=$SRCDIR/systemd/stdfu.sysusers
tmpfiles=$SRCDIR/systemd/stdfu.tmpfiles
unit=$SRCDIR/systemd/stdfud.service
rules=$SRCDIR/conf/70-stdfu.rules
policy=$SRCDIR/conf/io.stdfu1.conf

# ---- sysusers and tmpfiles, applied to a scratch root ------------------------------------
R=$T/root
mkdir -p "$R/etc" "$R/usr/lib/sysusers.d" "$R/usr/lib/tmpfiles.d"
cp "$sysusers" "$R/usr/lib/sysusers.d/stdfu.conf"
cp "$tmpfiles" "$R/usr/lib/tmpfiles.d/stdfu.conf"

if command -v systemd-sysusers >/dev/null; then
    check "systemd-sysusers accepts stdfu.sysusers" \
        bash -c 'systemd-sysusers --root="$1" >"$2" 2>&1 || { sed "s/^/#   /" "$2"; false; }' \
        _ "$R" "$T/sysusers.log"
    gid=$(awk -F: '$1 == "stdfu" { print $3 }' "$R/etc/group" 2>/dev/null)
    check "it creates the system group stdfu" test -n "$gid"
    check_eq "it creates the system user stdfu in group stdfu, no login shell" \
        "stdfu:$gid:nologin" \
        "$(awk -F: '$1 == "stdfu" { n = split($7, s, "/"); print $1 ":" $4 ":" s[n] }' \
            "$R/etc/passwd" 2>/dev/null)"
    check "the ids are system ids (below 1000)" test -n "$gid" -a "${gid:-1000}" -lt 1000
else
    skip_check "systemd-sysusers accepts stdfu.sysusers" "systemd-sysusers not installed"
fi

if command -v systemd-tmpfiles >/dev/null; then
    check "systemd-tmpfiles accepts stdfu.tmpfiles" \
        bash -c 'systemd-tmpfiles --root="$1" --create >"$2" 2>&1 ||
                 { sed "s/^/#   /" "$2"; false; }' _ "$R" "$T/tmpfiles.log"
    check_eq "it creates /etc/stdfu/manifest.d, root-owned, mode 755" "755 0 0" \
        "$(stat -c '%a %u %g' "$R/etc/stdfu/manifest.d" 2>/dev/null)"
else
    skip_check "systemd-tmpfiles accepts stdfu.tmpfiles" "systemd-tmpfiles not installed"
fi

# ---- one user, one group, everywhere --------------------------------------------------------
check_eq "the unit runs as the sysusers user" \
    "$(awk '$1 == "u" { print $2 }' "$sysusers")" "$(sed -n 's/^User=//p' "$unit")"
check_eq "the unit's group is the sysusers group" \
    "$(awk '$1 == "g" { print $2 }' "$sysusers")" "$(sed -n 's/^Group=//p' "$unit")"
check_eq "every OWNER= of the udev rules is the unit's user stdfu" "stdfu" \
    "$(grep -v '^[[:space:]]*#' "$rules" | grep -o 'OWNER="[^"]*"' | sort -u | cut -d'"' -f2)"
# Device access is the daemon's alone: the admin group (operators, on D-Bus) gets no node.
check_eq "the udev rules set no GROUP= (operators in group stdfu get no device node)" "" \
    "$(grep -v '^[[:space:]]*#' "$rules" | grep -o 'GROUP="[^"]*"')"
check_eq "the udev rules give no group or others write access (modes 0600, 0644 only)" "" \
    "$(grep -v '^[[:space:]]*#' "$rules" | grep -o 'MODE="[^"]*"' | grep -v -e 0600 -e 0644)"
if [ -e "$policy" ]; then
    check "the D-Bus policy grants something to group stdfu" grep -q 'group="stdfu"' "$policy"
else
    skip_check "the D-Bus policy grants something to group stdfu" "conf/io.stdfu1.conf not written yet"
fi

# ---- udev rules ----------------------------------------------------------------------------
cat >"$T/udev-rules.py" <<'EOF'
import re, sys

MATCH_ONLY = {"ACTION", "DEVPATH", "KERNEL", "KERNELS", "SUBSYSTEM", "SUBSYSTEMS", "DRIVER",
              "DRIVERS", "ATTRS", "CONST", "TAGS", "TEST", "PROGRAM", "RESULT"}
ASSIGN_ONLY = {"OWNER", "GROUP", "MODE", "SECLABEL", "RUN", "LABEL", "GOTO", "IMPORT", "OPTIONS"}
BOTH = {"NAME", "SYMLINK", "ATTR", "SYSCTL", "ENV", "TAG"}
NEEDS_ATTR = {"ATTR", "ATTRS", "SYSCTL", "ENV", "CONST", "IMPORT", "SECLABEL"}
MAY_ATTR = NEEDS_ATTR | {"TEST", "RUN"}
TOKEN = re.compile(r'\s*([A-Z_]+)(?:\{([^}]*)\})?\s*(==|!=|\+=|-=|:=|=)\s*"((?:[^"\\]|\\.)*)"\s*(,|$)')

def parse(path):
    """[(line number, [(key, attr, op, value)])]; raises ValueError naming the line."""
    rules, pending, start = [], "", 0
    for n, raw in enumerate(open(path), 1):
        line = raw.rstrip("\n")
        if not pending:
            start = n
        if line.endswith("\\"):
            pending += line[:-1]
            continue
        line, pending = pending + line, ""
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        rules.append((start, tokens(path, start, line)))
    return rules

def tokens(path, n, line):
    out, pos = [], 0
    while pos < len(line):
        m = TOKEN.match(line, pos)
        if not m:
            raise ValueError(f"{path}:{n}: cannot parse at: {line[pos:].strip()!r}")
        key, attr, op, value, _ = m.groups()
        where = f"{path}:{n}: {key}"
        if key not in MATCH_ONLY | ASSIGN_ONLY | BOTH:
            raise ValueError(f"{where}: unknown key")
        if key in MATCH_ONLY and op not in ("==", "!="):
            raise ValueError(f"{where}: match key with assignment {op}")
        if key in ASSIGN_ONLY and op in ("==", "!="):
            raise ValueError(f"{where}: assignment key with match {op}")
        if key in NEEDS_ATTR and not attr:
            raise ValueError(f"{where}: needs {{attribute}}")
        if attr is not None and key not in MAY_ATTR:
            raise ValueError(f"{where}: takes no {{attribute}}")
        if key == "MODE" and not re.fullmatch(r"0?[0-7]{3}", value):
            raise ValueError(f"{where}: not an octal mode: {value}")
        if key in ("ATTR", "ATTRS") and attr in ("idVendor", "idProduct") \
                and not re.fullmatch(r"[0-9a-f]{4}", value):
            raise ValueError(f"{where}: USB ids are 4 lower-case hex digits in sysfs: {value}")
        out.append((key, attr, op, value))
        pos = m.end()
    if not any(op not in ("==", "!=") for _, _, op, _ in out):
        raise ValueError(f"{path}:{n}: rule without any assignment")
    return out

def check(path):
    rules = parse(path)
    labels = {v for _, toks in rules for k, _, _, v in toks if k == "LABEL"}
    for n, toks in rules:
        for k, _, _, v in toks:
            if k == "GOTO" and v not in labels:
                raise ValueError(f"{path}:{n}: GOTO to missing LABEL {v}")
    return rules

def evaluate(rules, dev):
    """What the rules assign to dev = {action, subsystem, env, attrs, parents: [(subsystem,
    attrs)]}: {key: value} of OWNER/GROUP/MODE."""
    import fnmatch
    got, goto = {}, None
    for _, toks in rules:
        if goto:
            if any(k == "LABEL" and v == goto for k, _, _, v in toks):
                goto = None
            continue
        def one(key, attr, value, parent=None):
            pat = lambda s: s is not None and fnmatch.fnmatchcase(s, value)
            if key == "ACTION": return pat(dev["action"])
            if key == "SUBSYSTEM": return pat(dev["subsystem"])
            if key == "ENV": return pat(dev["env"].get(attr))
            if key == "ATTR": return pat(dev["attrs"].get(attr))
            raise ValueError(f"evaluator does not model {key}")
        matched = True
        parent_keys = [(k, a, op, v) for k, a, op, v in toks if k in ("SUBSYSTEMS", "ATTRS")]
        for k, a, op, v in toks:
            if op in ("==", "!=") and k not in ("SUBSYSTEMS", "ATTRS"):
                if one(k, a, v) != (op == "=="):
                    matched = False
        if parent_keys and matched:
            # udev: all parent keys of a rule must match on one and the same ancestor (or self).
            chain = [(dev["subsystem"], dev["attrs"])] + dev["parents"]
            def fits(sub, attrs):
                for k, a, op, v in parent_keys:
                    s = sub if k == "SUBSYSTEMS" else attrs.get(a)
                    import fnmatch as f
                    if (s is not None and f.fnmatchcase(s, v)) != (op == "=="):
                        return False
                return True
            matched = any(fits(s, a) for s, a in chain)
        if not matched:
            continue
        for k, a, op, v in toks:
            if k in ("OWNER", "GROUP", "MODE") and op in ("=", ":="):
                got[k] = v
            if k == "GOTO":
                goto = v
    return got

if __name__ == "__main__":
    import json
    if sys.argv[1] == "check":
        try:
            rules = check(sys.argv[2])
        except ValueError as e:
            print(f"#   {e}")
            sys.exit(1)
        print(len(rules))
    elif sys.argv[1] == "eval":
        dev = json.loads(sys.argv[3])
        dev.setdefault("env", {}); dev.setdefault("attrs", {}); dev.setdefault("parents", [])
        got = evaluate(check(sys.argv[2]), dev)
        print(" ".join(f"{k}={got[k]}" for k in sorted(got)) or "-")
EOF

py() { python3 "$T/udev-rules.py" "$@"; }
if ! command -v python3 >/dev/null; then
    skip_check "70-stdfu.rules parses as udev rules" "python3 not installed"
    finish; exit
fi
check "70-stdfu.rules parses as udev rules (keys, operators, modes, ids, GOTO targets)" \
    bash -c 'n=$(python3 "$1" check "$2") || { echo "$n"; false; }' _ "$T/udev-rules.py" "$rules"

# The template for local ids in the header comment must itself be valid and effective.
grep '^#   SUBSYSTEM==' "$rules" | sed 's/^#   //' >"$T/template.rules"
check_eq "the commented template holds two rules (usb_device and hidraw)" 2 \
    "$(wc -l <"$T/template.rules")"
check "the commented template parses as udev rules" \
    bash -c 'n=$(python3 "$1" check "$2") || { echo "$n"; false; }' _ "$T/udev-rules.py" \
    "$T/template.rules"

# Negative control: the parser refuses what udev would refuse.
printf 'SUBSYSTEM=="usb", ATTR{idVendor}=="0483", MODE=="0660"\n' >"$T/bad1.rules"
printf 'SUBSYSTEM=="usb", GROUP="stdfu", GOTO="nowhere"\n' >"$T/bad2.rules"
printf 'SUBSYSTEM=="usb", ATTRS{idVendor}="0483", GROUP="stdfu"\n' >"$T/bad3.rules"
for bad in bad1 bad2 bad3; do
    check "the parser refuses $bad ($(cat "$T/$bad.rules"))" \
        bash -c '! python3 "$1" check "$2" >/dev/null' _ "$T/udev-rules.py" "$T/$bad.rules"
done

if command -v udevadm >/dev/null && udevadm verify --help >/dev/null 2>&1; then
    check "udevadm verify accepts 70-stdfu.rules" udevadm verify "$rules"
else
    skip_check "udevadm verify accepts 70-stdfu.rules" "no udevadm verify here (systemd < 253)"
fi

# What the rules grant, per device.
usb_dev() {  # VID PID CLASS
    printf '{"action":"add","subsystem":"usb","env":{"DEVTYPE":"usb_device"},'
    printf '"attrs":{"idVendor":"%s","idProduct":"%s","bDeviceClass":"%s"}}' "$1" "$2" "$3"
}
usb_intf() {  # VID PID: as if the interface carried the ids, to show DEVTYPE decides
    printf '{"action":"add","subsystem":"usb","env":{"DEVTYPE":"usb_interface"},'
    printf '"attrs":{"idVendor":"%s","idProduct":"%s","bInterfaceClass":"fe"}}' "$1" "$2"
}
hidraw() {  # VID PID: the usb_device two levels up (hidraw -> hid -> interface -> device)
    printf '{"action":"add","subsystem":"hidraw","parents":[["hid",{}],'
    printf '["usb",{"bInterfaceClass":"03"}],["usb",{"idVendor":"%s","idProduct":"%s"}]]}' "$1" "$2"
}
grants() {  # DESCRIPTION EXPECTED RULES DEVICE-JSON
    check_eq "$1" "$2" "$(py eval "$3" "$4")"
}
grants "ROM bootloader 0483:df11: user stdfu, 0600" "MODE=0600 OWNER=stdfu" "$rules" \
    "$(usb_dev 0483 df11 00)"
grants "application 0483:5750: user stdfu, 0600" "MODE=0600 OWNER=stdfu" "$rules" \
    "$(usb_dev 0483 5750 00)"
grants "its hidraw node: user stdfu, 0600" "MODE=0600 OWNER=stdfu" "$rules" \
    "$(hidraw 0483 5750)"
grants "a hub (class 09): user stdfu writes, the group only reads (0644)" "MODE=0644 OWNER=stdfu" "$rules" \
    "$(usb_dev 05e3 0610 09)"
grants "an unrelated device (046d:c52b): untouched" "-" "$rules" "$(usb_dev 046d c52b 00)"
grants "an unrelated hidraw node: untouched" "-" "$rules" "$(hidraw 046d c52b)"
grants "another ST device (0483:3748, ST-LINK): untouched" "-" "$rules" "$(usb_dev 0483 3748 ef)"
grants "a usb_interface, even with ids 0483:df11: untouched (no node)" "-" "$rules" \
    "$(usb_intf 0483 df11)"
grants "remove events: untouched" "-" "$rules" \
    "$(usb_dev 0483 df11 00 | sed 's/"add"/"remove"/')"
sed 's/1234/cafe/; s/abcd/0001/' "$T/template.rules" >"$T/local.rules"
grants "the template, filled in with cafe:0001, grants its usb_device" "MODE=0600 OWNER=stdfu" \
    "$T/local.rules" "$(usb_dev cafe 0001 00)"
grants "the template, filled in with cafe:0001, grants its hidraw node" "MODE=0600 OWNER=stdfu" \
    "$T/local.rules" "$(hidraw cafe 0001)"

finish
