#!/usr/bin/env bash
# powernv9 boot figures for docs/PPC64-FIGURES.md: medians of N boots, one at a time, each timed from
# QEMU's start: (a) the kernel's first console line, which it prints right after skiboot entered it
# (skiboot's time to enter the kernel), (b) lazymm's first protocol line (the LZ1 boot line) and (c)
# the exit of the same boot, a smoke test; then (d) the floor: a boot with exit=boot, which powers off
# before the runtime starts, to QEMU's exit (as tools/bench/boot.sh's).
# Usage: tools/bench/boot_powernv.sh [N]   (after `make kernel ARCH=ppc64`)
set -euo pipefail
n=${1:-5}
k=build/ppc64/lazymm.elf
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
qemu=(qemu-system-ppc64 -machine powernv9 -cpu power9 -accel tcg -m 2048 -nodefaults -no-reboot -display none
  -monitor none -serial stdio -device ipmi-bmc-sim,id=bmc0 -device isa-ipmi-bt,bmc=bmc0,irq=10 -kernel "$k")
enter=(); proto=(); whole=(); floor=()
for i in $(seq "$n"); do
  s=$(date +%s%N); first=0; lz=0
  while IFS= read -r line; do
    [[ $first == 0 && $line == lazymm:* ]] && first=$(ms "$s")
    [[ $lz == 0 && $line == LZ1\ boot* ]] && lz=$(ms "$s")
  done < <("${qemu[@]}" -append tests=smoke/goroutines 2>/dev/null)
  whole+=("$(ms "$s")"); enter+=("$first"); proto+=("$lz")
  s=$(date +%s%N)
  "${qemu[@]}" -append exit=boot >/dev/null 2>&1 || true
  floor+=("$(ms "$s")")
done
a=$(printf '%s\n' "${enter[@]}" | median); b=$(printf '%s\n' "${proto[@]}" | median)
echo "powernv9, 1 CPU, medians of $n"
echo "skiboot: QEMU start to the kernel's first line:  ${a} ms"
echo "lazymm's first protocol line (from QEMU start):  ${b} ms (the kernel's share: $((b - a)) ms)"
echo "whole boot (smoke/goroutines, to QEMU's exit):   $(printf '%s\n' "${whole[@]}" | median) ms"
echo "exit=boot floor (QEMU start to exit):            $(printf '%s\n' "${floor[@]}" | median) ms"
echo "ratio skiboot / first protocol line:             $(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.2f", a / b}')"
echo "per boot (first line, protocol line): $(paste -d, <(printf '%s\n' "${enter[@]}") <(printf '%s\n' "${proto[@]}") | tr '\n' ' ')"
