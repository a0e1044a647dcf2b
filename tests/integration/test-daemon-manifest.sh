#!/bin/bash
# stdfud and its manifest: a bad manifest shows up in ManifestErrors (file:line:column) while
# the last good one stays in force; reload by inotify, by SIGHUP and by the Reload method; a
# daemon started on a bad manifest runs with no rules and says why; a manifest directory that
# does not exist at start is watched once it is created; settings: metrics-directory turns the
# metrics on, moves and stops them, and --metrics wins over it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon-lib.sh"

requires stdfud busctl dbus-daemon gdbus python3

mkdir -p "$ETC"
cp -r "$SRCDIR/tests/fixtures/manifests/good/." "$ETC/"
cp -r "$SRCDIR/tests/fixtures/manifests/firmware" "$T/firmware"

start_bus || skip_all "cannot start dbus-daemon"
check "stdfud starts on the good manifest" start_daemon
GOOD_RULES=$(mprop Rules)
check "the good manifest's rules are in force" grep -q '"sensor-left"' <<<"$GOOD_RULES"
check_eq "no manifest errors" 'as 0' "$(mprop ManifestErrors)"

errors_mention() { mprop ManifestErrors | grep -q "$1"; }
no_errors() { [ "$(mprop ManifestErrors)" = 'as 0' ]; }
reloads() { grep -c 'Reloading the manifest' "$T/daemon.log"; }

# ---- a bad drop-in, noticed by inotify -------------------------------------------------------
sed 's|\.\./firmware|../../firmware|' "$SRCDIR/tests/fixtures/manifests/bad/unknown-keys.yaml" \
    >"$ETC/manifest.d/50-bad.yaml"
check "inotify: the bad drop-in shows in ManifestErrors with line and column" \
    wait_for 10 errors_mention "50-bad.yaml:6:5: unknown key \\\\\"aplication\\\\\""
check_eq "the last good rules stay in force" "$GOOD_RULES" "$(mprop Rules)"
check_eq "the daemon still runs" 's "running"' "$(mprop State)"

# ---- Reload method and SIGHUP while it is still bad ------------------------------------------
check "Reload fails with io.stdfu1.Error.Failed naming the file" \
    grep -q 'io.stdfu1.Error.Failed: .*50-bad.yaml:' <(gcall Reload)
before=$(reloads)
kill -HUP "$DAEMON_PID"
reloaded() { [ "$(reloads)" -gt "$before" ]; } # counted at each try, not once before it
check "SIGHUP reloads" wait_for 10 reloaded
check "after SIGHUP the errors are still shown" errors_mention 50-bad.yaml
check_eq "and the good rules still in force" "$GOOD_RULES" "$(mprop Rules)"

# ---- fixed: the errors go away ---------------------------------------------------------------
rm "$ETC/manifest.d/50-bad.yaml"
check "inotify: removing the bad drop-in clears ManifestErrors" wait_for 10 no_errors
check "Reload succeeds" grep -q '^()$' <(gcall Reload)

# A change of the main file (a rule less) is seen as well.
python3 - "$ETC/manifest.yaml" <<'PY'
import re, sys
p = sys.argv[1]
s = open(p).read()
s = s[:s.index("  # A gadget with its own HID report")]
open(p, "w").write(s)
PY
gadget_gone() { ! mprop Rules | grep -q '"gadget"'; }
check "inotify: a rule removed from the main manifest is gone" wait_for 10 gadget_gone
check "SIGTERM stops it" stop_daemon

# ---- started on a bad manifest ---------------------------------------------------------------
printf 'rules:\n  - name: [oops\n' >"$ETC/manifest.yaml"
check "stdfud starts on a broken manifest" start_daemon
check "ManifestErrors names the main file" errors_mention "manifest.yaml:"
check_eq "no rules are in force" 'as 0' "$(mprop Rules)"
check_eq "State is running" 's "running"' "$(mprop State)"
check "SIGTERM stops it" stop_daemon

# ---- the manifest directory does not exist at start ------------------------------------------
cp "$SRCDIR/tests/fixtures/manifests/good/manifest.yaml" "$ETC/manifest.yaml"
rm -rf "$ETC/manifest.d"
kiosk_in_force() { mprop Rules | grep -q '"kiosk.printer_2"'; }
kiosk_gone() { ! kiosk_in_force; }
check "stdfud starts without a manifest directory" start_daemon
check "the main file's rules are in force" grep -q '"gadget"' <(mprop Rules)
check "no kiosk rule yet" kiosk_gone
mkdir "$ETC/manifest.d"
cp "$SRCDIR/tests/fixtures/manifests/good/manifest.d/10-extra.yaml" "$ETC/manifest.d/"
check "inotify: a drop-in in the directory created later is loaded" wait_for 10 kiosk_in_force
check_eq "no manifest errors" 'as 0' "$(mprop ManifestErrors)"
# and the directory is watched from then on, also when it is removed and made again
rm -r "$ETC/manifest.d"
check "inotify: the directory removed, its rule is gone" wait_for 10 kiosk_gone
mkdir "$ETC/manifest.d.new"
cp "$SRCDIR/tests/fixtures/manifests/good/manifest.d/10-extra.yaml" "$ETC/manifest.d.new/"
mv "$ETC/manifest.d.new" "$ETC/manifest.d"
check "inotify: a directory moved into place is loaded" wait_for 10 kiosk_in_force

# ---- settings: metrics-directory ------------------------------------------------------------
mkdir -p "$T/m1" "$T/m2" "$T/cli"
printf 'settings:\n  metrics-directory: %s\n' "$T/m1" >"$ETC/manifest.d/90-metrics.yaml"
check "Reload with a metrics-directory setting" grep -q '^()$' <(gcall Reload)
check "the metrics are written there" wait_for 10 test -s "$T/m1/stdfu.prom"
check "in the textfile format" grep -q '^stdfu_manifest_errors 0$' "$T/m1/stdfu.prom"
printf 'settings:\n  metrics-directory: %s\n' "$T/m2" >"$ETC/manifest.d/90-metrics.yaml"
check "Reload with another directory" grep -q '^()$' <(gcall Reload)
check "the metrics move there" wait_for 10 test -s "$T/m2/stdfu.prom"
check "and the old file is gone" test ! -e "$T/m1/stdfu.prom"
rm "$ETC/manifest.d/90-metrics.yaml"
check "Reload without the setting" grep -q '^()$' <(gcall Reload)
check "the metrics are off, their file removed" test ! -e "$T/m2/stdfu.prom"
check "SIGTERM stops it" stop_daemon

printf 'settings:\n  metrics-directory: %s\n' "$T/m1" >"$ETC/manifest.d/90-metrics.yaml"
check "stdfud starts with --metrics=DIR and the setting" start_daemon --metrics="$T/cli"
check "--metrics wins over the manifest" wait_for 10 test -s "$T/cli/stdfu.prom"
check "nothing goes to the manifest's directory" test ! -e "$T/m1/stdfu.prom"
check "SIGTERM stops it" stop_daemon
finish
