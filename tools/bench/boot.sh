#!/usr/bin/env bash
# Boot figures for the README: medians of N runs of (a) QEMU starting and exiting a kernel that exits
# at once (exit=boot: the floor), (b) the smoke suite's first protocol line and whole run.
# Usage: tools/bench/boot.sh [N]   (after `make kernel runner`)
set -euo pipefail
n=${1:-5}
k=build/amd64/lazymm.elf
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
floor=$(for i in $(seq "$n"); do
  s=$(date +%s%N)
  qemu-system-x86_64 -machine q35 -accel tcg -cpu max -m 512 -nodefaults -no-reboot -display none -monitor none \
    -serial null -device isa-debug-exit,iobase=0xf4,iosize=0x04 -kernel "$k" -append exit=boot || true
  echo $(( ($(date +%s%N) - s) / 1000000 ))
done | median)
boot=(); wall=()
for i in $(seq "$n"); do
  build/amd64/runner -kernel "$k" -json /tmp/lazymm-bench.json >/dev/null
  boot+=("$(grep -o '"boot_ms": [0-9]*' /tmp/lazymm-bench.json | grep -o '[0-9]*$')")
  wall+=("$(grep -o '"wall_ms": [0-9]*' /tmp/lazymm-bench.json | grep -o '[0-9]*$')")
done
echo "floor (QEMU start to exit, kernel exits at boot): ${floor} ms"
echo "first protocol line:                              $(printf '%s\n' "${boot[@]}" | median) ms"
echo "smoke suite whole run:                            $(printf '%s\n' "${wall[@]}" | median) ms"
