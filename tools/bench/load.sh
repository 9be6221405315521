#!/usr/bin/env bash
# No false failures under load: N runs of the same matrix at once, R rounds, on this machine (the
# figures in docs/RUNNER.md#under-load). Usage: tools/bench/load.sh [N [R [ARCH [MMU [CPUS]]]]]
# (defaults 3 5 amd64 "" 4); run after `make kernel runner` and `make kernel ARCH=ppc64`.
set -u
n=${1:-3} rounds=${2:-5} arch=${3:-amd64} mmu=${4:-} cpus=${5:-4}
out=$(mktemp -d)
flags=(-arch "$arch" -cpus "$cpus" -kernel "build/$arch/lazymm.elf" -matrix)
modeflag=-mmu
[ "$arch" = amd64 ] && modeflag=-tlb # amd64's modes are x86's TLB rules
[ -n "$mmu" ] && flags+=("$modeflag" "$mmu")
bad=0
for r in $(seq "$rounds"); do
  for i in $(seq "$n"); do
    (
      s=$(date +%s)
      build/amd64/runner "${flags[@]}" >"$out/$r-$i.txt" 2>&1
      rc=$?
      echo "round $r run $i: exit $rc, $(($(date +%s) - s)) s, load $(cut -d' ' -f1 /proc/loadavg): $(tail -1 "$out/$r-$i.txt")"
      exit $rc
    ) &
  done
  for j in $(jobs -p); do wait "$j" || bad=$((bad + 1)); done
done
echo "$arch${mmu:+ -mmu $mmu} -cpus $cpus -matrix, $n at once, $rounds rounds: $bad runs not as expected (consoles in $out)"
[ "$bad" = 0 ]
