#!/bin/sh
# Debug aid: boot the kernel under TCG with QEMU's exec/interrupt trace
# and print the last functions executed before the first exception
# (brief section 9). Usage: scripts/trace.sh [extra qemu args]
set -e
k=${KERNEL:-build/gosv.elf}
log=${LOG:-/tmp/gosv-trace.log}
timeout 30 qemu-system-x86_64 -M microvm,pit=on,pic=off,rtc=on,isa-serial=on -accel tcg -cpu max -m ${MEM:-128} \
  -nodefaults -no-reboot -display none -serial stdio -device isa-debug-exit,iobase=0xf4,iosize=4 \
  -kernel "$k" -d exec,nochain,int,cpu_reset -D "$log" "$@" || true
first=$(grep -n 'check_exception\|^ *[0-9]*: v=' "$log" | head -1 | cut -d: -f1)
[ -n "$first" ] || first=$(wc -l < "$log")
head -n "$first" "$log" | grep -o '\] [^ ]*$' | uniq | tail -${N:-25}
grep -m3 -A2 ' v=' "$log" || true
