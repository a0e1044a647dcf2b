#!/usr/bin/env python3
"""The fault matrix of test-fault-matrix.sh, from fault-matrix.tsv.

  fault-matrix.py plan TSV OUTDIR [SLICE]   one file OUTDIR/batch-N.tsv per emulator run
  fault-matrix.py judge BATCH REPORT RESULTS [WATCH-LOG]  one line per cell: VERDICT, cell, end state, why
  fault-matrix.py watch BUS CTL-SOCKET PORT=STATE=ACTION...  (stdin: gdbus monitor)
  fault-matrix.py table VERDICTS...         the matrix as TAP comments

A cell passes when its device ends in one of these (the emulator's report says which):
  target           its application runs the target version (stdfud: done, or idle after a
                   restart found it current; no job record left)
  app-intact       its application runs the old version: the attempt failed before the flash
                   was touched, or the flash was restored (stdfuctl: a non-zero exit; stdfud:
                   failed or retry-wait)
  read-protected   the ROM refuses to touch a read-protected part (the report says so)
  needs-power-cycle  off or gone after leave with the image written, no hub port to switch
                   (stdfuctl: exit 7; stdfud: State needs-power-cycle, job kept)
  job-kept         stdfud only: not running an application, State retry-wait, the job in the
                   journal (it will try again by itself); test-fault-matrix.sh takes a device
                   whose attempts keep failing when it is back in retry-wait after a later
                   attempt, never in the middle of one
  reported         stdfuctl only, persistent faults only: a non-zero exit naming the fault
                   (the caller is the one to retry); a transient fault must reach the target
Anything else fails: a device without its application that nothing will retry.
"""
import json, os, re, signal, socket, subprocess, sys, threading, time

PORTS = ([f"1-1.{i}" for i in range(1, 8)] + [f"1-2.{i}" for i in range(1, 8)] +
         [f"1-{i}" for i in range(3, 12)])
PROFILES = ("f072", "f407")
TARGET = "2.0"


def read_table(path):
    rows = []
    for line in open(path):
        if line.startswith("#") or not line.strip():
            continue
        name, phase, kind, where, spec, todo = line.rstrip("\n").split("\t")
        rows.append(dict(name=name, phase=phase, kind=kind, where=where, spec=spec, todo=todo))
    return rows


def plan(tsv, outdir, slice_re=""):
    rx = re.compile(slice_re) if slice_re else None
    groups = {}
    for row in read_table(tsv):
        doors = ["ctl", "daemon"] if row["where"] == "both" else \
                ["daemon"] if row["where"] == "own" else [row["where"]]
        for door in doors:
            for prof in PROFILES:
                cell = f"{prof}/{door}/{row['phase']}/{row['name']}"
                if rx and not rx.search(cell):
                    continue
                if row["where"] == "own":
                    group = {"kill": "own-kill", "full": "own-full"}.get(row["spec"], "own")
                else:
                    group = "emu-" + door
                groups.setdefault(group, []).append(dict(row, cell=cell, profile=prof, door=door))
    n = 0
    for group, cells in sorted(groups.items()):
        # A full state directory: one device per run, its crash must not strike another cell.
        size = 1 if group == "own-full" else 15 if group.startswith("own") else 23
        for i in range(0, len(cells), size):
            n += 1
            with open(os.path.join(outdir, f"batch-{n}.tsv"), "w") as f:
                hub_ports, root_ports = PORTS[:14], PORTS[14:]
                for cell in cells[i:i + size]:
                    # root-port: a port of the root hub, which cannot switch its power
                    spec = ",".join(k for k in cell["spec"].split(",") if k != "root-port")
                    if spec != cell["spec"] or not hub_ports:
                        port = root_ports.pop(0)
                    else:
                        port = hub_ports.pop(0)
                    if cell["where"] != "own":
                        mode = "mode=application,version=1.0"
                    elif cell["spec"].startswith("record:"):
                        spec, mode = "", "blank=1"
                    else:
                        spec, mode = "", "mode=application,version=1.0"
                    dev = ",".join(x for x in (f"port={port},profile={cell['profile']}", mode, spec) if x)
                    f.write("\t".join((group, cell["cell"], port, dev, cell["phase"], cell["kind"],
                                       cell["spec"], cell["todo"])) + "\n")
            print(f"batch-{n}.tsv {group}")


def judge(batch, report, results, watchlog=None):
    try:
        struck = open(watchlog).read() if watchlog else ""
    except OSError:
        struck = ""
    devs = {d["port"]: d for d in json.load(open(report))["devices"]}
    res = {}
    for line in open(results):
        port, *rest = line.rstrip("\n").split("\t")
        res[port] = rest
    for line in open(batch):
        group, cell, port, dev, phase, kind, spec, todo = line.rstrip("\n").split("\t")
        d = devs.get(port, {})
        door = cell.split("/")[1]
        r = res.get(port, ["?"])
        mode, version, plugged = d.get("mode"), d.get("version"), d.get("plugged", True)
        if door != "ctl" and len(r) >= 5:
            # stdfud cells: the device as the emulator saw it when the State was read
            mode, version, plugged = r[2], (None if r[3] == "-" else r[3]), r[4] == "plugged"
        running = mode == "application" and plugged
        end, why = None, ""
        if door == "ctl":
            rc = r[0]
            why = f"exit {rc}"
            if running and version == TARGET and rc == "0":
                end = "target"
            elif running and version == "1.0" and rc != "0":
                end = "app-intact"
            elif d.get("read_protected") and rc != "0":
                end = "read-protected"
            elif rc == "7" and not running:
                end = "needs-power-cycle"
            elif kind == "persistent" and rc in ("5", "6", "8"):
                end = "reported"
        else:
            state, kept = (r + ["?", "?"])[:2]
            why = f"State {state}, job {'kept' if kept == '1' else 'none'}"
            if running and version == TARGET and state in ("done", "idle", "cancelled") \
                    and kept == "0":
                end = "target"
            elif running and version == "1.0" and state in ("failed", "retry-wait", "cancelled"):
                end = "app-intact"
            elif d.get("read_protected") and state in ("failed", "retry-wait"):
                end = "read-protected"
            elif state == "needs-power-cycle" and kept == "1" and not running:
                end = "needs-power-cycle"
            elif state == "retry-wait" and kept == "1" and not running:
                end = "job-kept"
        action = "kill" if spec == "full" else spec
        # A full state directory: stdfud refuses the job before it touches the device (no erase
        # without its record on disk), so the kill mid-write has nothing to strike.
        if spec == "full" and door != "ctl" and running and version == "1.0" and \
                r[1:2] != ["1"] and f" kill {port} at {phase}" not in struck:
            end, why = "refused", f"{why}: the job was refused, the device untouched"
        elif action in ("kill", "cancel", "unplug") and f" {action} {port} at {phase}" not in struck:
            end, why = "NOT-STRUCK", f"the {action} at {phase} never happened ({why})"
            print("\t".join(("FAIL", cell, end, why, todo)))
            continue
        known = todo != "-" and (":" not in todo.split()[0] or todo.startswith(door + ":"))
        if end is None:
            where = "gone" if not plugged else mode
            end = f"STRANDED({where} {version})"
            verdict = "TODO" if known else "FAIL"
        else:
            verdict = "FIXED" if known else "PASS"
        print("\t".join((verdict, cell, end, why, todo)))


def watch(bus, ctl_sock, actions):
    wanted = {}
    for a in actions:
        port, state, action = a.split("=")
        wanted[(port, state)] = action

    def port_of(path):
        return re.sub(r"_([0-9a-f]{2})", lambda m: chr(int(m.group(1), 16)), path.rsplit("/", 1)[1])

    def control(line):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(ctl_sock)
        s.sendall((line + "\n").encode())
        s.shutdown(socket.SHUT_WR)
        return s.recv(4096).decode().strip()

    def owner_pid():
        out = subprocess.run(["busctl", f"--address={bus}", "call", "org.freedesktop.DBus",
                              "/org/freedesktop/DBus", "org.freedesktop.DBus",
                              "GetConnectionUnixProcessID", "s", "io.stdfu1"],
                             capture_output=True, text=True).stdout.split()
        return int(out[1]) if len(out) == 2 else None

    announced, last = False, {}
    start = time.monotonic()
    for line in sys.stdin:
        if not announced and ("is owned by" in line or "does not have an owner" in line):
            print("monitoring", flush=True)
            announced = True
        m = re.match(r"(/io/stdfu1/device/\S+): org.freedesktop.DBus.Properties.PropertiesChanged "
                     r".*'State': <'([a-z-]+)'>", line)
        if not m:
            continue
        key = (port_of(m.group(1)), m.group(2))
        last[key[0]] = key[1]
        action = wanted.pop(key, None)
        if action is None:
            continue
        port = key[0]
        if action == "kill":
            pid = owner_pid()
            if pid:
                os.kill(pid, signal.SIGKILL)
            # The same kill strikes the devices that are at their own kill's phase right now.
            for other in [k for k, a in wanted.items() if a == "kill" and last.get(k[0]) == k[1]]:
                del wanted[other]
                print(f"{time.monotonic() - start:.1f}s kill {other[0]} at {other[1]}", flush=True)
            last.clear()
        elif action == "cancel":
            subprocess.run(["busctl", f"--address={bus}", "call", "io.stdfu1", "/io/stdfu1",
                            "io.stdfu1.Manager", "Cancel", "s", port], capture_output=True)
        elif action == "unplug":  # in a thread: the other cells' phases go on meanwhile
            def replug(port=port):
                control(f"unplug {port}")
                time.sleep(0.5)
                control(f"plug {port}")
            threading.Thread(target=replug).start()
        print(f"{time.monotonic() - start:.1f}s {action} {port} at {key[1]}", flush=True)
        if not wanted:
            break


def table(files):
    cells = {}
    for f in files:
        for line in open(f):
            verdict, cell, end, why, todo = line.rstrip("\n").split("\t")
            prof, door, phase, name = cell.split("/")
            cells[(door, phase, name, prof)] = (verdict, end)
    order = ["enter", "entering", "erase", "erasing", "write", "writing", "verify", "verifying",
             "leave", "leaving", "wait", "waiting", "resume"]
    rows = sorted({k[:3] for k in cells},
                  key=lambda k: (k[0], order.index(k[1]) if k[1] in order else 99, k[2]))
    print(f"# {'door':6} {'phase':9} {'fault':20} {'f072':28} {'f407':28}")
    for door, phase, name in rows:
        cols = []
        for prof in PROFILES:
            v = cells.get((door, phase, name, prof))
            cols.append("-" if v is None else (v[1] if v[0] in ("PASS", "FIXED") else f"{v[0]}:{v[1]}"))
        print(f"# {door:6} {phase:9} {name:20} {cols[0]:28} {cols[1]:28}")


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "plan":
        plan(*args)
    elif cmd == "judge":
        judge(*args)
    elif cmd == "watch":
        watch(args[0], args[1], args[2:])
    elif cmd == "table":
        table(args)
    else:
        sys.exit(f"unknown command {cmd}")
