#!/bin/bash
# stdfud --metrics=DIR writes DIR/stdfu.prom for node_exporter's textfile collector. The real
# prometheus-node-exporter (only its textfile collector) reads the directory on 127.0.0.1, and
# its /metrics must carry stdfud's series with node_textfile_scrape_error 0: the file parses.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon-lib.sh"

requires stdfud stdfu-sim busctl dbus-daemon python3 curl
NODE_EXPORTER=$(command -v prometheus-node-exporter || command -v node_exporter) ||
    skip_all "prometheus-node-exporter is not installed (tools/install-deps)"

METRICS=$T/metrics
mkdir -p "$METRICS"
# 1-1.2's application wants other bytes than the rule's HID report to enter its bootloader:
# the attempt fails with the old application running and, with `retries: 0`, ends `failed`.
# 1-1.3 fails writing in its bootloader every time: never stranded, it waits in retry-wait
# (a long retry-delay keeps it there while the test runs).
sensor_manifest 1.2 "    retries: 0
    enter:
      method: hid-feature
      report: \"01 55\"
    timeouts:
      enter: 3" "settings:
  retry-delay: 600" || skip_all "stdfu-sim mkfw failed"
start_bus || skip_all "cannot start dbus-daemon"
SIM_ARGS=(--hub ppps
          --device port=1-1.1,profile=f072,mode=application,version=1.0,enter=hid-feature:0155
          --device port=1-1.2,profile=f072,mode=application,version=1.0,enter=hid-feature:0166
          --device port=1-1.3,profile=f072,mode=application,version=1.0,enter=hid-feature:0155,write-error-at=3,fault-times=always)
check "stdfud starts with --metrics=DIR" start_daemon --metrics="$METRICS"
check "1-1.1 is updated" wait_for 60 state_is 1-1.1 done
check "1-1.2 fails" wait_for 60 state_is 1-1.2 failed
check "1-1.3 waits to try again" wait_for 60 state_is 1-1.3 retry-wait

# metric NAME-AND-LABELS FILE: the value of the one series that starts so.
metric() { grep -F "$1" "$2" | grep -v '^#' | head -1 | awk '{print $NF}'; }
prom=$METRICS/stdfu.prom
has_final() { [ "$(metric 'stdfu_updates_total{outcome="failed"}' "$prom")" = 2 ] &&
              [ "$(metric 'stdfu_updates_total{outcome="done"}' "$prom")" = 1 ]; }
check "the file counts one update done and two failed (1-1.2, 1-1.3's attempt)" wait_for 10 has_final
check "no temporary file is left next to it" \
    test "$(find "$METRICS" -type f | wc -l)" = 1

# A broken drop-in: the old manifest stays, the errors are counted.
mkdir -p "$ETC/manifest.d"
echo "rules: [ {" >"$ETC/manifest.d/broken.yaml"
kill -HUP "$(daemon_pid)"
has_errors() { [ "$(metric 'stdfu_manifest_errors ' "$prom")" -ge 1 ] 2>/dev/null; }
check "the manifest errors are counted after a bad reload" wait_for 10 has_errors

# Idle: nothing changes, so the file is not written again.
sleep 2
before=$(stat -c %i.%Y "$prom")
sleep 2
check_eq "idle: the file is not rewritten" "$before" "$(stat -c %i.%Y "$prom")"

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$NODE_EXPORTER" --collector.disable-defaults --collector.textfile \
    --collector.textfile.directory="$METRICS" --web.listen-address="127.0.0.1:$port" \
    >"$T/node-exporter.log" 2>&1 &
EXTRA_PIDS+=($!)
scrape() { curl -sf "http://127.0.0.1:$port/metrics" >"$T/scrape.txt"; }
check "node_exporter serves /metrics" wait_for 20 scrape
check_eq "node_textfile_scrape_error is 0" 0 "$(metric 'node_textfile_scrape_error' "$T/scrape.txt")"
S=$T/scrape.txt
check "device info of 1-1.1: product, versions, state" grep -q \
    '^stdfu_device_info{mode="application",port="1-1.1",product="[^"]*",running_version="1.2",state="done",target_version="1.2"} 1$' "$S"
check "state series: 1-1.2 is failed" \
    grep -q '^stdfu_device_state{port="1-1.2",state="failed"} 1$' "$S"
check "state series: 1-1.2 is not done" \
    grep -q '^stdfu_device_state{port="1-1.2",state="done"} 0$' "$S"
check "state series: 1-1.3 is in retry-wait" \
    grep -q '^stdfu_device_state{port="1-1.3",state="retry-wait"} 1$' "$S"
check "state series: 1-1.3 is not failed" \
    grep -q '^stdfu_device_state{port="1-1.3",state="failed"} 0$' "$S"
check_eq "updates by outcome" "1 2 0" \
    "$(for o in done failed cancelled; do metric "stdfu_updates_total{outcome=\"$o\"}" "$S"; done | xargs)"
check_eq "attempts counter" 3 "$(metric 'stdfu_update_attempts_total ' "$S")"
check_eq "attempts of 1-1.1" 1 "$(metric 'stdfu_device_update_attempts_total{port="1-1.1"}' "$S")"
check "recovery steps are counted by step" grep -q '^stdfu_recovery_steps_total{step="power-cycle"} [0-9]' "$S"
check "last update duration in seconds" \
    python3 -c 'import sys; v = float(sys.argv[1]); sys.exit(not 0 < v < 600)' \
    "$(metric 'stdfu_device_last_update_duration_seconds{port="1-1.1"}' "$S")"
check "last update time is Unix time in seconds" \
    python3 -c 'import sys, time; v = float(sys.argv[1]); sys.exit(not time.time() - 600 < v <= time.time() + 1)' \
    "$(metric 'stdfu_device_last_update_timestamp_seconds{port="1-1.1"}' "$S")"
check "manifest errors" grep -q '^stdfu_manifest_errors [1-9]' "$S"
check "counters are typed counter" grep -q '^# TYPE stdfu_updates_total counter' "$S"
check "SIGTERM stops it" stop_daemon

finish
