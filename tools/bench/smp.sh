#!/usr/bin/env bash
# SMP figures for the README: per CPU count, medians over N boots of the first protocol line, the
# IPI round trip and the all-CPU cross-call (smp/ipi-pingpong and smp/crosscall metrics).
# Usage: tools/bench/smp.sh [N]   (after `make kernel runner`)
set -euo pipefail
n=${1:-5}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
metric() { python3 -c "import json,sys; r=json.load(open('$1')); print(next((t['metrics'].get('$3',0) for t in r['tests'] if t['name']=='$2'), 0) if '$2' else r['$3'])"; }
printf '%-5s %10s %14s %12s %16s %14s\n' cpus boot_ms ipi_rtt_cyc ipi_rtt_ns xcall_all_cyc xcall_all_ns
for cpus in ${CPUS_LIST:-1 2 4 8}; do
  boot=(); rtt=(); rttns=(); xc=(); xcns=()
  for i in $(seq "$n"); do
    if ! build/amd64/runner -cpus "$cpus" -timeout 180s -json /tmp/lazymm-smp.json >/tmp/lazymm-smp.txt; then
      echo "run $i at $cpus CPUs failed:" >&2; grep -E '^\s+\*' /tmp/lazymm-smp.txt >&2 || true
    fi
    boot+=("$(metric /tmp/lazymm-smp.json '' boot_ms)")
    rtt+=("$(metric /tmp/lazymm-smp.json smp/ipi-pingpong rtt_cycles_median)")
    rttns+=("$(metric /tmp/lazymm-smp.json smp/ipi-pingpong rtt_ns_median)")
    xc+=("$(metric /tmp/lazymm-smp.json smp/crosscall all_cpus_cycles_median)")
    xcns+=("$(metric /tmp/lazymm-smp.json smp/crosscall all_cpus_ns_median)")
  done
  printf '%-5s %10s %14s %12s %16s %14s\n' "$cpus" \
    "$(printf '%s\n' "${boot[@]}" | median)" "$(printf '%s\n' "${rtt[@]}" | median)" "$(printf '%s\n' "${rttns[@]}" | median)" \
    "$(printf '%s\n' "${xc[@]}" | median)" "$(printf '%s\n' "${xcns[@]}" | median)"
done
