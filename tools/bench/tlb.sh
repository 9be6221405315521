#!/usr/bin/env bash
# TLB-shootdown figures of scenario munmap-shootdown: per CPU count and TLB mode (pcid, nopcid), the
# counters of one run and the medians over N boots of each run's median 1-page and 64-page shootdown
# (TSC cycles and microseconds, from unmap to the last flush acknowledged).
# Usage: tools/bench/tlb.sh [N] [runner flags...]   (after `make kernel runner`; CPUS_LIST="2 4 8")
set -euo pipefail
n=${1:-5}; shift || true
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
get() { python3 -c "import json; r=json.load(open('$1')); t=next(t for t in r['tests'] if t['name']=='$2'); print(t['outcome'] if '$3'=='outcome' else t['metrics'].get('$3', 0))"; }
printf '%-5s %-7s %-8s %5s %6s %6s %6s %9s %11s %9s %10s %10s %10s %10s\n' \
  cpus mode outcome ipis lazy range full cr3_flush cr3_noflush catchups 1p_cyc 64p_cyc 1p_us 64p_us
for cpus in ${CPUS_LIST:-2 4 8}; do
  declare -A c1 c64 u1 u64 last
  for i in $(seq "$n"); do
    if ! build/amd64/runner -cpus "$cpus" -scenario munmap-shootdown -timeout 120s -json /tmp/lazymm-tlb.json "$@" >/tmp/lazymm-tlb.txt; then
      echo "run $i at $cpus CPUs failed:" >&2; cat /tmp/lazymm-tlb.txt >&2; exit 1
    fi
    for mode in nopcid pcid; do
      name=mm/munmap-shootdown/$mode
      last[$mode]="$(get /tmp/lazymm-tlb.json $name outcome)"
      [ "${last[$mode]}" = pass ] || continue
      for k in flush_ipis lazy_skipped range_flushes full_flushes cr3_flush cr3_noflush lazy_catchups; do last[$mode.$k]=$(get /tmp/lazymm-tlb.json $name $k); done
      c1[$mode]+="$(get /tmp/lazymm-tlb.json $name shootdown_1p_cycles) "; c64[$mode]+="$(get /tmp/lazymm-tlb.json $name shootdown_64p_cycles) "
      u1[$mode]+="$(get /tmp/lazymm-tlb.json $name shootdown_1p_us) "; u64[$mode]+="$(get /tmp/lazymm-tlb.json $name shootdown_64p_us) "
    done
  done
  for mode in nopcid pcid; do
    if [ "${last[$mode]}" != pass ]; then printf '%-5s %-7s %-8s\n' "$cpus" "$mode" "${last[$mode]}"; continue; fi
    printf '%-5s %-7s %-8s %5s %6s %6s %6s %9s %11s %9s %10s %10s %10s %10s\n' "$cpus" "$mode" pass \
      "${last[$mode.flush_ipis]}" "${last[$mode.lazy_skipped]}" "${last[$mode.range_flushes]}" "${last[$mode.full_flushes]}" \
      "${last[$mode.cr3_flush]}" "${last[$mode.cr3_noflush]}" "${last[$mode.lazy_catchups]}" \
      "$(tr ' ' '\n' <<<"${c1[$mode]}" | grep . | median)" "$(tr ' ' '\n' <<<"${c64[$mode]}" | grep . | median)" \
      "$(tr ' ' '\n' <<<"${u1[$mode]}" | grep . | median)" "$(tr ' ' '\n' <<<"${u64[$mode]}" | grep . | median)"
  done
  unset c1 c64 u1 u64 last
done
