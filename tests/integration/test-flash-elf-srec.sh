#!/bin/bash
# ELF executables and Motorola S-records made by the real toolchain (arm-none-eabi-gcc and ld:
# a vector table in flash and .data whose load address is in flash but runs from RAM;
# arm-none-eabi-objcopy -O srec; srecord's srec_cat) flash byte for byte what objcopy -O binary
# makes of the same ELF; a damaged one (a checksum, a truncated ELF) is refused before anything
# is erased.
. "$(dirname "$0")/lib.sh"

requires stdfu-sim stdfuctl python3 arm-none-eabi-gcc arm-none-eabi-objcopy srec_cat
PORT=1-1.1
cd "$T" || exit 1

cat >app.c <<'C'
/* A minimal Cortex-M0 application: a vector table, initialised data copied from flash. */
extern unsigned _sidata, _sdata, _edata, _estack;
volatile unsigned counter = 0x12345678u;
static const char version[] = "stdfu test app 1.0";
void reset(void);
__attribute__((section(".vectors"), used)) const void *vectors[] = { &_estack, reset };
void reset(void) {
    unsigned *s = &_sidata, *d = &_sdata;
    while (d < &_edata)
        *d++ = *s++;
    for (;;)
        counter += (unsigned char) version[counter & 15];
}
C
cat >app.ld <<'LD'
MEMORY {
    FLASH (rx) : ORIGIN = 0x08000000, LENGTH = 64K
    RAM (rwx)  : ORIGIN = 0x20000000, LENGTH = 16K
}
ENTRY(reset)
_estack = ORIGIN(RAM) + LENGTH(RAM);
SECTIONS {
    .text : { KEEP(*(.vectors)) *(.text*) *(.rodata*) . = ALIGN(4); } > FLASH
    _sidata = LOADADDR(.data);
    .data : { _sdata = .; *(.data*) . = ALIGN(4); _edata = .; } > RAM AT> FLASH
    .bss : { *(.bss*) *(COMMON) } > RAM
}
LD
arm-none-eabi-gcc -mcpu=cortex-m0 -mthumb -Os -nostdlib -T app.ld -o app.elf app.c \
    >gcc.log 2>&1
check "arm-none-eabi-gcc links the application" test -s app.elf
arm-none-eabi-objcopy -O binary app.elf app.bin
arm-none-eabi-objcopy -O srec app.elf app.srec
srec_cat app.bin -binary -offset 0x08000000 -o app-cat.srec >/dev/null 2>&1
srec_cat app.bin -binary -offset 0x08000000 -o app-s28.srec -address-length=3 >/dev/null 2>&1
check "its .data loads in flash and runs in RAM (PT_LOAD p_paddr != p_vaddr)" \
    eval 'arm-none-eabi-readelf -l app.elf | grep -q "0x20000000 0x080000"'
size=$(stat -c %s app.bin)

# flash_and_read FILE: flash FILE (in the bootloader, staying there), read the bytes back
flash_and_read() {
    local f=$1
    "$SIM" --report "$f.report" --device "port=$PORT,profile=f072,mode=bootloader,blank=1" -- \
        bash -c '"$0" flash "$1" --port '"$PORT"' --no-leave --json >"$1.json" 2>"$1.err" &&
                 "$0" -q read --port '"$PORT"' --address 0x08000000 --size '"$size"' -o "$1.read" \
                    --no-leave' "$CTL" "$f" >/dev/null 2>&1
}

for f in app.elf app.srec app-cat.srec app-s28.srec; do
    flash_and_read "$f"
    check "$f: flashed, read back as objcopy -O binary made it" cmp -s app.bin "$f.read"
done
check_eq "app.elf: format elf" elf "$(json app.elf.json "d['format']")"
check_eq "app.srec: format srec" srec "$(json app.srec.json "d['format']")"

# Damaged files: refused (exit 3) before anything is erased.
python3 - <<'PY'
lines = open("app.srec").read().splitlines()
i = next(i for i, l in enumerate(lines) if l.startswith("S3"))
l = lines[i]
lines[i] = l[:-2] + "%02X" % (int(l[-2:], 16) ^ 1)
open("bad-sum.srec", "w").write("\n".join(lines) + "\n")
lines = open("app-cat.srec").read().splitlines()
open("bad-count.srec", "w").write("\n".join(l for l in lines if not l.startswith("S3") or
                                             l != [x for x in lines if x.startswith("S3")][0]) + "\n")
d = open("app.elf", "rb").read()
open("bad.elf", "wb").write(d[:len(d) // 3])
PY
for f in bad-sum.srec bad-count.srec bad.elf; do
    "$SIM" --report "$f.report" --device "port=$PORT,profile=f072,mode=bootloader,blank=1" -- \
        "$CTL" flash "$f" --port "$PORT" --no-leave >"$f.log" 2>&1
    echo $? >"$f.rc"
    check_eq "$f: refused as a bad file (exit 3)" 3 "$(cat "$f.rc")"
    check_eq "$f: nothing erased" 0 "$(json "$f.report" "d['devices'][0]['counters']['erases']")"
done
check "bad-sum.srec: the error names the line and the checksum" \
    grep -q "line 2: bad checksum" bad-sum.srec.log
check "bad-count.srec: the error names the count record" grep -q "count record says" \
    bad-count.srec.log

finish
