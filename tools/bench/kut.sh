#!/usr/bin/env bash
# Boot speed side by side with kvm-unit-tests: per arch, N iterations, each running once (in an order
# that alternates between iterations, so host load hits every command alike):
#   lazymm first line   QEMU start to the first protocol line ("LZ1 ..."), the runner's own QEMU command
#                       line for the suite at CPUS (printed by the runner into a stub -qemu), killed there
#   lazymm floor        the same command with -append exit=boot: QEMU start to exit of a kernel that exits
#                       as soon as it is up
#   kvm-unit-tests      QEMU start to its test's first console line, and to its exit, on the same QEMU,
#                       machine, CPU model, RAM and -smp as lazymm's (plus the devices and firmware its own
#                       x86/run and powerpc/run give): amd64 x86/smptest.flat, ppc64 powerpc/smp.elf and
#                       powerpc/selftest.elf. x86 smptest's first line comes as its APs start (its "found N
#                       cpus" line, when all are up, is timed too); ppc64 smp's after it started them, as
#                       lazymm's boot line; selftest's without starting any (its CPUs are counted only)
# and prints the medians, the median of the per-iteration ratios lazymm / kvm-unit-tests of the first
# line, and the exact commands. The figures are taken by tools/bench/kut (a Go helper: the same
# timer and line reader for both sides; QEMU is killed after TIMEOUT).
#
# Usage (from the repository's root, after `make kernel runner` and `make kernel ARCH=ppc64`):
#   KUT=<built x86_64 tree> [KUT_PPC64=<built ppc64 tree>] [N=7] [CPUS=4] [ARCHES="amd64 ppc64"]
#   [TIMEOUT=60s] tools/bench/kut.sh
# Without KUT (or KUT_PPC64), or with a tree that lacks the test, that arch's kvm-unit-tests side is
# skipped (said so) and lazymm's figures are still printed. A path that does not exist: exit status 2.
#
# Building kvm-unit-tests (https://gitlab.com/kvm-unit-tests/kvm-unit-tests, also on GitHub as
# kvm-unit-tests/kvm-unit-tests), outside this repository:
#   x86_64:  git clone <url> kut && cd kut && ./configure && make -j2
#   ppc64:   apt-get install gcc-powerpc64-linux-gnu   (Debian/Ubuntu; big-endian, as lazymm's guest)
#            git clone <url> kut-ppc64 && cd kut-ppc64 &&
#            ./configure --arch=ppc64 --endian=big --cross-prefix=powerpc64-linux-gnu- && make -j2
set -euo pipefail

if [[ ${1:-} == -h || ${1:-} == --help ]]; then
  sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
  exit 0
fi
if (($#)); then
  echo "kut.sh: takes no arguments (settings are variables: KUT= KUT_PPC64= N= CPUS= ARCHES= TIMEOUT=); -h for help" >&2
  exit 2
fi
n=${N:-7}
cpus=${CPUS:-4}
timeout=${TIMEOUT:-60s}
die() { echo "kut.sh: $*" >&2; exit 2; }
[[ $n =~ ^[1-9][0-9]*$ ]] || die "N=$n: want a whole number of iterations, at least 1"
[[ $cpus =~ ^[1-9][0-9]*$ ]] || die "CPUS=$cpus: want a whole number of CPUs, at least 1"
[[ -f go.mod ]] && grep -q '^module lazymm$' go.mod || die "run from the lazymm repository's root"
for v in KUT KUT_PPC64; do
  if [[ -n ${!v:-} && ! -d ${!v} ]]; then
    die "$v=${!v}: no such directory (want a built kvm-unit-tests tree: ./configure && make)"
  fi
done
runner=build/amd64/runner
[[ -x $runner ]] || runner=build/ppc64/runner
[[ -x $runner ]] || die "no runner: run make kernel runner first"
arches=${ARCHES:-amd64 ppc64}
for arch in $arches; do
  case $arch in amd64 | ppc64) ;; *) die "ARCHES: $arch: want amd64 or ppc64" ;; esac
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/kut" ./tools/bench/kut
# a stub QEMU: the runner runs it with the command line it would give QEMU; it sits beside a link to
# QEMU's data directory, where the runner looks for the firmware it gives -bios
mkdir -p "$tmp/bin" "$tmp/share"
printf '#!/bin/sh\nprintf "%%s\\0" "$@" > "$KUT_ARGS"\n' > "$tmp/bin/qemu-args"
chmod +x "$tmp/bin/qemu-args"

# median of the numbers on stdin (-1: not seen, left out); n/a if none
median() {
  awk '$1 >= 0' | sort -g | awk '{a[NR]=$1} END {
    if (NR == 0) print "n/a"; else if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2] + a[NR/2+1]) / 2 }'
}
# the words as a shell would read them back (eval), quoted only where needed
quote() {
  local w out=()
  for w; do
    if [[ $w =~ ^[A-Za-z0-9_./,:=+@%-]+$ ]]; then out+=("$w"); else out+=("'${w//\'/\'\\\'\'}'"); fi
  done
  echo "${out[*]}"
}
loadavg() { cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown; }

# value of option $1 in the args that follow
opt() {
  local o=$1; shift
  while (($#)); do
    if [[ $1 == "$o" && $# -ge 2 ]]; then echo "$2"; return; fi
    shift
  done
}

# run LABEL -- CMD...: one timed run, its figures appended to $tmp/LABEL.{first,mark,wall}
run() {
  local label=$1 flags=() out first mark wall status fails line said
  shift
  while [[ $1 != -- ]]; do flags+=("$1"); shift; done
  shift
  out=$("$tmp/kut" -timeout "$timeout" "${flags[@]}" -log "$tmp/$label.log" -- "$@") || die "$label: $*: cannot run"
  read -r first mark wall status fails line <<<"$out"
  echo "$first" >>"$tmp/$label.first"
  echo "$mark" >>"$tmp/$label.mark"
  echo "$wall" >>"$tmp/$label.wall"
  echo "$line" >"$tmp/$label.line"
  said="the console was empty"
  [[ -s $tmp/$label.log ]] && said="the console ended: $(tail -n1 "$tmp/$label.log" | cut -c1-100)"
  case $status in
    timeout) echo "  warning: $label, iteration $i: killed at the timeout ($timeout)$( ((first < 0)) && echo ", no first line; $said")" >&2 ;;
    *) if ((first < 0)) && [[ $label != *-floor ]]; then
      echo "  warning: $label, iteration $i: no first line (status $status); $said" >&2
    fi ;;
  esac
  if ((fails > 0)); then echo "  warning: $label, iteration $i: $fails FAIL line(s): see the test's own run" >&2; fi
  if [[ -n ${okstatus[$label]:-} && $status != timeout && $status != "${okstatus[$label]}" ]]; then
    echo "  warning: $label, iteration $i: exit status $status, not ${okstatus[$label]} (a pass)" >&2
  fi
}

figures() { tr '\n' ' ' <"$1" | sed 's/ $//'; }

measure() {
  local arch=$1 tree=$2 treevar=$3 k=$tmp/$1-lazymm.elf qemu args=() floor=() i j
  local -a order=() kuts=()
  local -A cmd=() flags=()
  declare -gA okstatus=()
  qemu=qemu-system-x86_64
  [[ $arch == ppc64 ]] && qemu=qemu-system-ppc64
  command -v "$qemu" >/dev/null || die "$arch: no $qemu (make setup installs it)"
  # every iteration boots the same image, whatever rebuilds build/ meanwhile
  cp "build/$arch/lazymm.elf" "$k"

  rm -f "$tmp/args"
  ln -sfn "$(dirname "$(readlink -f "$(command -v "$qemu")")")/../share/qemu" "$tmp/share/qemu"
  KUT_ARGS=$tmp/args "$runner" -arch "$arch" -cpus "$cpus" -kernel "$k" -qemu "$tmp/bin/qemu-args" -timeout 10s \
    >"$tmp/runner.out" 2>&1 || true
  [[ -s $tmp/args ]] || { cat "$tmp/runner.out" >&2; die "$arch: the runner gave no QEMU command line"; }
  mapfile -d '' -t args <"$tmp/args"
  local lz=("$qemu" "${args[@]}")
  floor=("${lz[@]}")
  for ((j = 0; j < ${#floor[@]}; j++)); do
    if [[ ${floor[j]} == -append ]]; then floor[j + 1]+=" exit=boot"; break; fi
  done
  ((j < ${#floor[@]})) || floor+=(-append exit=boot)
  cmd[lazymm]=$(quote "${lz[@]}"); flags[lazymm]=$(quote -prefix "LZ1 " -stop)
  cmd[floor]=$(quote "${floor[@]}"); flags[floor]=""
  okstatus[$arch-floor]=1 # isa-debug-exit: exit_group(0)
  [[ $arch == ppc64 ]] && okstatus[$arch-floor]=0 # RTAS power-off
  order=(lazymm floor)

  # kvm-unit-tests on lazymm's machine: the same -m, -smp, -cpu and accelerator
  local mem smp cpu accel kskip=""
  mem=$(opt -m "${args[@]}"); smp=$(opt -smp "${args[@]}"); cpu=$(opt -cpu "${args[@]}"); accel=$(opt -accel "${args[@]}")
  local common=(-accel "$accel" -cpu "$cpu" -m "$mem" -smp "$smp" -nodefaults -no-reboot -display none
    -monitor none -serial stdio)
  if [[ -z $tree ]]; then
    kskip="kvm-unit-tests: skipped ($treevar= not set)"
  elif [[ $arch == amd64 ]]; then
    if [[ -f $tree/x86/smptest.flat ]]; then
      # x86/run's devices: pc-testdev and isa-debug-exit (the test's exit), pci-testdev
      cmd[kut-smptest]=$(quote "$qemu" -machine "$(opt -machine "${args[@]}")" "${common[@]}" -device pc-testdev \
        -device isa-debug-exit,iobase=0xf4,iosize=0x4 -device pci-testdev -kernel "$tree/x86/smptest.flat")
      flags[kut-smptest]=$(quote -mark "found ")
      okstatus[$arch-kut-smptest]=1 # isa-debug-exit: (0<<1)|1, report_summary() returned 0
      kuts=(kut-smptest)
      local bios
      bios=$(opt -bios "${args[@]}")
      if [[ -n $bios ]]; then # the same test on lazymm's firmware: the comparison of the kernels alone
        cmd[kut-smptest-$bios]=$(quote "$qemu" -machine "$(opt -machine "${args[@]}")" "${common[@]}" -device pc-testdev \
          -device isa-debug-exit,iobase=0xf4,iosize=0x4 -device pci-testdev -bios "$bios" -kernel "$tree/x86/smptest.flat")
        flags[kut-smptest-$bios]=${flags[kut-smptest]}
        okstatus[$arch-kut-smptest-$bios]=1
        kuts+=("kut-smptest-$bios")
      fi
    fi
  else
    # powerpc/run: its own firmware (boot_rom.bin), not VOF; the spectre capabilities TCG lacks, off
    local m=pseries
    [[ $accel == tcg ]] && m+=,cap-cfpc=broken,cap-sbbc=broken,cap-ibs=broken,cap-ccf-assist=off
    [[ $accel == kvm ]] && m+=,cap-ccf-assist=off
    if [[ -f $tree/powerpc/boot_rom.bin ]]; then
      for t in smp selftest; do
        [[ -f $tree/powerpc/$t.elf ]] || continue
        local extra=()
        [[ $t == selftest ]] && extra=(-append "setup smp=$cpus mem=$mem")
        cmd[kut-$t]=$(quote "$qemu" -machine "$m" -bios "$tree/powerpc/boot_rom.bin" "${common[@]}" \
          -kernel "$tree/powerpc/$t.elf" "${extra[@]}")
        flags[kut-$t]=""
        okstatus[$arch-kut-$t]=0 # RTAS power-off
        kuts+=("kut-$t")
      done
    fi
  fi
  if [[ -n $tree && ${#kuts[@]} == 0 ]]; then
    kskip="kvm-unit-tests: skipped ($treevar=$tree: no $([[ $arch == amd64 ]] && echo x86/smptest.flat || echo powerpc/smp.elf): not built, or not an $([[ $arch == amd64 ]] && echo x86_64 || echo ppc64) tree)"
  fi
  order+=("${kuts[@]}")

  local before
  before=$(loadavg)
  for ((i = 1; i <= n; i++)); do
    local this=("${order[@]}")
    if ((i % 2 == 0)); then # every other iteration in reverse
      this=()
      for ((j = ${#order[@]} - 1; j >= 0; j--)); do this+=("${order[j]}"); done
    fi
    for l in "${this[@]}"; do
      local c f
      eval "c=(${cmd[$l]})"
      eval "f=(${flags[$l]})"
      run "$arch-$l" "${f[@]}" -- "${c[@]}"
    done
    if ((${#kuts[@]})); then
      for l in "${kuts[@]}"; do
        local a b
        a=$(tail -n1 "$tmp/$arch-lazymm.first"); b=$(tail -n1 "$tmp/$arch-$l.first")
        if ((a >= 0 && b > 0)); then
          awk -v a="$a" -v b="$b" 'BEGIN {printf "%.3f\n", a / b}' >>"$tmp/$arch-$l.ratio"
        else
          echo -1 >>"$tmp/$arch-$l.ratio"
        fi
      done
    fi
  done

  local goal=1.15
  [[ $arch == ppc64 ]] && goal=1.5
  echo "== $arch, $cpus CPU(s): medians of $n interleaved iterations (host: $(nproc) cores; load average $before before, $(loadavg) after)"
  printf '  %-58s %6s ms   [%s]\n' "lazymm first protocol line (LZ1, the suite's boot)" \
    "$(median <"$tmp/$arch-lazymm.first")" "$(figures "$tmp/$arch-lazymm.first")"
  printf '  %-58s %6s ms   [%s]\n' "lazymm floor (exit=boot: QEMU start to exit)" \
    "$(median <"$tmp/$arch-floor.wall")" "$(figures "$tmp/$arch-floor.wall")"
  if [[ -n $kskip ]]; then echo "  $kskip"; fi
  for l in "${kuts[@]}"; do
    local t=${l#kut-}
    printf '  %-58s %6s ms   [%s]\n' "kvm-unit-tests $t first line" \
      "$(median <"$tmp/$arch-$l.first")" "$(figures "$tmp/$arch-$l.first")"
    if [[ $l == kut-smptest* ]]; then
      printf '  %-58s %6s ms   [%s]\n' "kvm-unit-tests $t all CPUs up (\"found N cpus\")" \
        "$(median <"$tmp/$arch-$l.mark")" "$(figures "$tmp/$arch-$l.mark")"
    fi
    printf '  %-58s %6s ms   [%s]\n' "kvm-unit-tests $t whole run" \
      "$(median <"$tmp/$arch-$l.wall")" "$(figures "$tmp/$arch-$l.wall")"
  done
  for l in "${kuts[@]}"; do
    local r verdict=""
    r=$(median <"$tmp/$arch-$l.ratio")
    if [[ $r != n/a ]]; then
      verdict=$(awk -v r="$r" -v g="$goal" 'BEGIN {print (r <= g) ? "within" : "over"}')
      r=$(awk -v r="$r" 'BEGIN {printf "%.2f", r}')
    fi
    printf '  %-58s %6s      [%s] (goal %s: %s)\n' "ratio lazymm / kvm-unit-tests ${l#kut-}, first line" \
      "$r" "$(figures "$tmp/$arch-$l.ratio")" "$goal" "${verdict:-n/a}"
  done
  echo "  first lines: lazymm: $(cut -c1-60 "$tmp/$arch-lazymm.line")"
  for l in "${kuts[@]}"; do echo "               ${l#kut-}: $(cut -c1-60 "$tmp/$arch-$l.line")"; done
  echo "  commands (lazymm's is the runner's, for -arch $arch -cpus $cpus, on a copy of its kernel taken at the start; killed at its first LZ1 line):"
  for l in "${order[@]}"; do
    c=${cmd[$l]//"$k"/build/$arch/lazymm.elf}
    if [[ -n ${tree:-} ]]; then c=${c//"$tree"/\$$treevar}; fi # no machine paths in the report
    echo "    ${l#kut-}: $c"
  done
}

for arch in $arches; do
  k=build/$arch/lazymm.elf
  if [[ ! -f $k ]]; then
    if [[ $arch == ppc64 && -z ${ARCHES:-} ]]; then
      echo "== ppc64: skipped (no $k: make kernel ARCH=ppc64)"
      continue
    fi
    die "$arch: no $k: run make kernel$([[ $arch == ppc64 ]] && echo " ARCH=ppc64") first"
  fi
  case $arch in
    amd64) measure amd64 "${KUT:-}" KUT ;;
    ppc64) measure ppc64 "${KUT_PPC64:-}" KUT_PPC64 ;;
  esac
done
