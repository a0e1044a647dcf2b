#!/bin/bash
# stdfud never strands a device by its own failures (issue 10): an attempt that leaves the
# device in its bootloader goes to retry-wait and is tried again until it succeeds; a job
# record that cannot be read still names its port, so that device gets a fresh job (from the
# rule with its bootloader id and port, adopting or not; State no-rule when there is none) and
# D-Bus says what happened; with no place for the job record no update starts (Manager
# JobsRefused says why).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon-lib.sh"

requires stdfud stdfuctl busctl dbus-daemon gdbus python3

sensor_manifest 1.2 "    retries: 0" "settings:
  retry-delay: 1
  retry-delay-max: 2" || skip_all "stdfu-sim mkfw failed"
start_bus || skip_all "cannot start dbus-daemon"

# Damaged records from before: garbage, a directory, a symlink; 1-1.9 is not plugged in, 1-3
# comes later, in its bootloader.
mkdir -p "$STATE/jobs"
printf 'garbage\n\x01\x02' >"$STATE/jobs/1-1.1"
mkdir "$STATE/jobs/1-1.2"
ln -s /etc/passwd "$STATE/jobs/1-1.9"
printf 'stdfu-job 2\nport=1-3\nph' >"$STATE/jobs/1-3"

# An UpdateFile job whose kept image no longer matches its SHA-256: it must not wait forever.
mkdir -p "$STATE/images"
printf 'not the image' >"$STATE/images/1-1.4"
printf 'stdfu-job 2\nport=1-1.4\nrule=file\nsha256=%s\ntarget-version=9.9\nphase=writing\nattempt=1\nkept-image=1\nimage-address=0x08000000\n' \
    "$(printf 'the image' | sha256sum | cut -d' ' -f1)" >"$STATE/jobs/1-1.4"

SIM_ARGS=(--hub ppps --control "$T/ctl.sock" --report "$T/report.json"
          --device port=1-1.1,profile=f072,mode=application,version=1.0
          --device port=1-1.2,profile=f072,mode=application,version=1.0
          --device port=1-1.3,profile=f072,mode=application,version=1.0,write-error-at=3
          --device port=1-1.4,profile=f072,mode=application,version=1.0)
check "stdfud starts over damaged job records" start_daemon
check "1-1.1 (a garbage record) gets a fresh job and is done" wait_for 60 state_is 1-1.1 done
check "1-1.2 (a directory as record) too" wait_for 60 state_is 1-1.2 done
check "the damaged records are set aside, and go when their port's fresh job is over" \
    test ! -e "$STATE/jobs/.1-1.1.damaged" -a ! -e "$STATE/jobs/.1-1.2.damaged" \
         -a -L "$STATE/jobs/.1-1.9.damaged" -a -f "$STATE/jobs/.1-3.damaged"
check "D-Bus shows the problem: LastError of 1-1.9 names its record" \
    grep -q 'jobs/1-1.9 could not be read (a symbolic link)' <(dprop 1-1.9 LastError)

# ---- 1-1.4: the kept image fails its SHA-256 ---------------------------------------------------
check "1-1.4's resumed UpdateFile job ends; the manifest's rule updates it instead" \
    wait_for 60 state_is 1-1.4 done
check "the history has the failed file job with the reason" python3 - \
    <(bctl --json=short call io.stdfu1 /io/stdfu1 io.stdfu1.Manager GetHistory) <<'PY'
import json, sys
h = json.load(open(sys.argv[1]))["data"][0]
sys.exit(0 if any(e[0] == "1-1.4" and e[1] == "failed" and "SHA-256 does not match" in e[6]
                  for e in h) else 1)
PY
check "its kept image is gone" test ! -e "$STATE/images/1-1.4"

# ---- 1-1.3: one errWRITE, no retries in the rule: left in its bootloader, never given up ----
check "1-1.3's attempt fails with the device left in its bootloader: retry-wait" \
    wait_for 60 grep -q '1-1.3: attempt 1 failed with the device left in its bootloader' \
    "$T/daemon.log"
check "the next attempt (the rule allows no retries) brings it to done" \
    wait_for 60 state_is 1-1.3 done
check_eq "it took attempt 2" 'u 2' "$(dprop 1-1.3 Attempt)"
check_eq "the history counts the attempts: 1 failed (writing, errWRITE), 2 done" \
    "failed:1:writing:errWRITE done:2" \
    "$("$CTL" --bus "$BUS" history --json 1-1.3 | python3 -c 'import json, sys
print(*(":".join([e["outcome"], str(e["attempts"])] +
                 ([e["phase"], e["error"].split()[0]] if e["outcome"] != "done" else []))
        for e in json.load(sys.stdin)["updates"]))')"

# ---- 1-1.5: its bootloader re-enumerates within a second during the erase --------------------
# A minute between attempts: only "the device is back already" can resume it in time.
sensor_manifest_for_image 1.2 "    retries: 0" "settings:
  retry-delay: 60"
check "the manifest with a long retry-delay is loaded" grep -q '^()$' <(gcall Reload)
sim_ctl "add port=1-1.5,profile=f072,mode=application,version=1.0,slow-erase=50" >/dev/null
check "1-1.5 starts erasing" wait_for 30 state_is 1-1.5 erasing
sim_ctl "unplug 1-1.5" >/dev/null
sleep 0.3
sim_ctl "plug 1-1.5" >/dev/null
check "it is done without a Reload or a minute's wait" wait_for 25 state_is 1-1.5 done
check_eq "by its next attempt, started when the bootloader was back" 'u 2' \
    "$(dprop 1-1.5 Attempt)"

# ---- 1-3: a damaged record, its device in a bootloader no rule has ---------------------------
# The rule does not adopt bootloaders; the record proves stdfud was updating 1-3, so the rule
# whose bootloader id and port match would flash it. Here none matches: State says so.
sensor_manifest_for_image 1.2 "    retries: 0
    port: \"1-1.*\"" "settings:
  retry-delay: 1"
check "a manifest whose rule has only the hub's ports is loaded" grep -q '^()$' <(gcall Reload)
sim_ctl "add port=1-3,profile=f072,blank=1" >/dev/null
check "1-3 in its bootloader shows no-rule" wait_for 20 state_is 1-3 no-rule
check "its LastError names the damaged record and the missing rule" \
    grep -q 'jobs/1-3 could not be read.*no rule of the manifest has the bootloader id 0483:df11' \
    <(dprop 1-3 LastError)
status_rc=0; "$CTL" --bus "$BUS" status --json >"$T/status.json" || status_rc=$?
check_eq "stdfuctl status exits 13 (someone must act) while 1-3 is no-rule" 13 "$status_rc"
check "its JSON summary counts the device as no_rule" python3 -c '
import json, sys
sys.exit(0 if json.load(open(sys.argv[1]))["summary"]["no_rule"] == 1 else 1)' "$T/status.json"
sensor_manifest_for_image 1.2 "    retries: 0" "settings:
  retry-delay: 1"
check "the manifest changes: every port is the rule's" grep -q '^()$' <(gcall Reload)
check "1-3 gets its job from the rule, which does not adopt, and is done" \
    wait_for 60 state_is 1-3 done
check "its claim is over: the damaged record is gone" test ! -e "$STATE/jobs/.1-3.damaged"

# ---- no place for the job record: no update starts ------------------------------------------
check_eq "Manager.JobsRefused is empty while records can be written" 's ""' \
    "$(mprop JobsRefused)"
stdbuf -oL gdbus monitor --address "$BUS" --dest io.stdfu1 --object-path /io/stdfu1 \
    >"$T/manager.mon" 2>/dev/null &
EXTRA_PIDS+=($!)
wait_for 10 grep -q 'is owned by' "$T/manager.mon"
rm -rf "$STATE/jobs"
check "Update with the state directory's jobs/ gone is refused, saying why" \
    grep -q 'Cannot write the job record of 1-1.1 .*no update starts without it' \
    <(gcall Update 1-1.1 "{'force': <true>}")
check "LastError says so too" grep -q 'Cannot write the job record' <(dprop 1-1.1 LastError)
check "the device keeps running its application, untouched" state_is 1-1.1 done
check "Manager.JobsRefused says why new jobs are refused" \
    grep -q "Job records cannot be written in $STATE/jobs (No such file or directory)" \
    <(mprop JobsRefused)
check "with PropertiesChanged" wait_for 10 grep -q "'JobsRefused': <'Job records cannot" \
    "$T/manager.mon"
check "stdfuctl status shows it under the table" \
    grep -q '^New updates are refused: Job records cannot be written' \
    <("$CTL" --bus "$BUS" status 2>&1)
check "and status --json in jobs_refused, for fleet agents" python3 -c '
import json, sys
r = json.load(sys.stdin)["jobs_refused"]
sys.exit(0 if r and r.startswith("Job records cannot be written") else 1)' \
    < <("$CTL" --bus "$BUS" status --json 2>/dev/null)
mkdir "$STATE/jobs"
check "with jobs/ back, Update is accepted" grep -q '^()$' <(gcall Update 1-1.1 "{'force': <true>}")
check_eq "and JobsRefused is empty again" 's ""' "$(mprop JobsRefused)"
check_eq "status --json's jobs_refused is null again" None \
    "$("$CTL" --bus "$BUS" status --json 2>/dev/null | python3 -c 'import json, sys
print(json.load(sys.stdin)["jobs_refused"])')"
check "1-1.1 is done" wait_for 60 state_is 1-1.1 done
check "SIGTERM stops it" stop_daemon
check_eq "1-1.3 runs 1.2" "application 1.2" \
    "$(report_dev "$T/report.json" 1-1.3 'd["mode"] + " " + d["version"]')"
check_eq "1-3, blank before, runs 1.2" "application 1.2" \
    "$(report_dev "$T/report.json" 1-3 'd["mode"] + " " + d["version"]')"
finish
