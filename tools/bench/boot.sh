#!/usr/bin/env bash
# Boot figures for docs/BOOT.md and docs/PPC64-FIGURES.md: medians of N runs of (a) QEMU starting and exiting a
# kernel that exits at once (exit=boot: the floor), (b) the suite's first protocol line and whole run.
# Usage: [ARCH=amd64|ppc64] [CPUS=1] tools/bench/boot.sh [N]   (after `make kernel runner ARCH=...`)
set -euo pipefail
n=${1:-5}
arch=${ARCH:-amd64}
cpus=${CPUS:-1}
k=build/$arch/lazymm.elf
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
case $arch in
amd64) floorcmd=(qemu-system-x86_64 -machine q35 -accel tcg -cpu max -m 512 -nodefaults -no-reboot -display none
  -monitor none -serial null -device isa-debug-exit,iobase=0xf4,iosize=0x04 -kernel "$k" -append exit=boot) ;;
ppc64) floorcmd=(qemu-system-ppc64 -machine pseries,x-vof=on -cpu power9 -accel tcg -m 512M -nodefaults -no-reboot
  -display none -monitor none -serial null -kernel "$k" -append exit=boot) ;;
*) echo "ARCH=$arch: want amd64 or ppc64" >&2; exit 2 ;;
esac
floor=$(for i in $(seq "$n"); do
  s=$(date +%s%N)
  "${floorcmd[@]}" 2>/dev/null || true
  echo $(( ($(date +%s%N) - s) / 1000000 ))
done | median)
boot=(); wall=()
for i in $(seq "$n"); do
  build/$arch/runner -arch "$arch" -cpus "$cpus" -kernel "$k" -json /tmp/lazymm-bench.json >/dev/null
  boot+=("$(grep -o '"boot_ms": [0-9]*' /tmp/lazymm-bench.json | grep -o '[0-9]*$')")
  wall+=("$(grep -o '"wall_ms": [0-9]*' /tmp/lazymm-bench.json | grep -o '[0-9]*$')")
done
echo "$arch, $cpus CPU(s), medians of $n"
echo "floor (QEMU start to exit, kernel exits at boot): ${floor} ms"
echo "first protocol line:                              $(printf '%s\n' "${boot[@]}" | median) ms"
echo "suite whole run:                                  $(printf '%s\n' "${wall[@]}" | median) ms"
