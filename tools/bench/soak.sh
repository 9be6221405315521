#!/usr/bin/env bash
# Soak: the torture scenario under every scheme, back to back, DURATION each (a Go duration: 90s, 10m,
# 1h), then every injected bug in its own boot, with the time each took to be caught.
# Usage: tools/bench/soak.sh DURATION [CPUS]   (after `make kernel runner`; make soak DURATION=...)
set -euo pipefail
d=${1:?usage: soak.sh DURATION [CPUS]}
cpus=${2:-4}
secs=$(go run ./tools/bench/seconds "$d")
fail=0
for s in refcount shootdown mmput-unlazy loaded-mm hazard exit-flush-unlazy no-active-mm; do
  start=$(date +%s)
  if build/amd64/runner -cpus "$cpus" -scheme "$s" -scenario torture -duration "$d" -timeout "$((secs + 120))s" \
      -json "/tmp/lazymm-soak-$s.json" >"/tmp/lazymm-soak-$s.txt"; then r=pass; else r=FAIL; fail=1; fi
  printf '%-18s torture %s  %4ds  %s\n' "$s" "$d" "$(( $(date +%s) - start ))" "$r"
  [ $r = pass ] || grep -E '^\s+\*' "/tmp/lazymm-soak-$s.txt" || true
done
build/amd64/runner -cpus "$cpus" -inject all -json /tmp/lazymm-soak-inject.json >/tmp/lazymm-soak-inject.txt || fail=1
python3 - <<'PY'
import json
r = json.load(open('/tmp/lazymm-soak-inject.json'))
for t in r['tests']:
    print('%-28s caught by %-14s after %5.0f ms: %s' % (t['name'], t.get('catch') or '-', t['ms'], 'yes' if t['as_expected'] else 'NO'))
PY
exit $fail
