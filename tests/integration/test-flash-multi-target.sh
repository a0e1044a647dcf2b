#!/bin/bash
# A DfuSe file with targets for several alt settings: each target is written to its own alt,
# the main flash first and the option bytes (alt 1 on f407, the ROM resets to load them) last;
# the bytes counted are those written. A file naming an alt the device lacks is refused before
# anything is erased.
. "$(dirname "$0")/lib.sh"

[ -x "$SIM" ] && [ -x "$CTL" ] || skip_all "stdfu-sim or stdfuctl not built"
for tool in dfuse-pack python3; do
    command -v "$tool" >/dev/null || skip_all "$tool not installed"
done

PORT=1-1.1

res() { json_fields "$@"; }
dev() { sim_device "$1" "$PORT" "$2"; }

"$SIM" mkfw --version 2.0 --size 8192 -o "$T/fw.bin" >/dev/null
# USER 0xe7 (not the reset value 0xef), RDP 0xaa (level 0), nWRP 0x0fff: RM0090 3.7.1.
printf '\xe7\xaa\xff\xff\xff\xff\xff\xff\xff\x0f\xff\xff\xff\xff\xff\xff' >"$T/ob.bin"
# The option bytes' target first in the file: they are still written last.
dfuse-pack -b "0x1FFFC000@1:$T/ob.bin" -b "0x08000000@0:$T/fw.bin" "$T/both.dfu" >/dev/null

# Flash and option bytes in one run, then the option bytes read back through alt 1.
rc=0
"$SIM" --device "port=$PORT,profile=f407,mode=application" --report "$T/both.report.json" -- \
    sh -c "\"$CTL\" flash \"$T/both.dfu\" --port $PORT --json >\"$T/both.json\" 2>\"$T/both.err\" &&
           \"$CTL\" read --port $PORT --alt 1 -o \"$T/ob.read\" >/dev/null 2>\"$T/read.err\"" || rc=$?
check_eq "both: done, exit 0" "0 done" "$rc $(res "$T/both.json" 'r["outcome"],')"
[ "$rc" = 0 ] || sed 's/^/#   /' "$T/both.json" "$T/both.err" "$T/read.err"
check_eq "both: one attempt, 8192 + 16 bytes written" "1 0 8208" \
    "$(res "$T/both.json" 'r["attempts"], r["retries"], r["bytes_written"]')"
check_eq "both: the application runs version 2.0" "application 2.0" \
    "$(res "$T/both.json" 'r["final_mode"], r["running_version"]')"
check_eq "both: emulator agrees" "application 2.0" \
    "$(dev "$T/both.report.json" 'd["mode"] + " " + d["version"]')"
check_eq "both: the emulator took 8192 + 16 bytes" 8208 \
    "$(dev "$T/both.report.json" 'c["bytes_written"]')"
check_eq "both: the main flash holds the image" "$(sha256sum <"$T/fw.bin" | cut -d' ' -f1)" \
    "$(dev "$T/both.report.json" 'd["image_sha256"]')"
check "both: the option bytes read back as written" cmp "$T/ob.bin" "$T/ob.read"

# A target for an alt the device lacks (alt 7): refused as a whole before anything is erased.
"$SIM" --device "port=$PORT,profile=f407" --report "$T/pristine.json" -- true
pristine=$(dev "$T/pristine.json" 'd["flash_sha256"]')
dfuse-pack -b "0x08000000@0:$T/fw.bin" -b "0x1FFFC000@7:$T/ob.bin" "$T/alt7.dfu" >/dev/null
rc=0
"$SIM" --device "port=$PORT,profile=f407,mode=application" --report "$T/alt7.report.json" -- \
    "$CTL" flash "$T/alt7.dfu" --port "$PORT" --json >"$T/alt7.json" 2>"$T/alt7.err" || rc=$?
check_eq "alt 7: refused, exit 3" "3 image" "$rc $(res "$T/alt7.json" 'r["failure"],')"
check_eq "alt 7: the error names the alt" \
    "image refused, nothing erased: the file's target for alt 7 (16 bytes): the device has no alt setting 7" \
    "$(res "$T/alt7.json" 'r["error"],')"
check_eq "alt 7: nothing erased or written" "0 0" \
    "$(dev "$T/alt7.report.json" 'sum(c["erases_per_page"]), c["bytes_written"]' | tr -d '(),')"
check_eq "alt 7: flash unchanged, back in its application" "$pristine application 1.0" \
    "$(dev "$T/alt7.report.json" 'd["flash_sha256"] + " " + d["mode"] + " " + d["version"]')"
check_eq "alt 7: no bytes written in the JSON" 0 "$(res "$T/alt7.json" 'r["bytes_written"],')"

finish
