#!/usr/bin/env bash
# The project's one test command, from nothing: Node, npm dependencies, the
# control-plane binaries (from cache or built), lint, types, unit tests, and
# e2e tests against a fresh local cluster that is torn down afterwards.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup-node.sh"
cd "$REPO_ROOT"

phase_start=$SECONDS
timing() { log "TIMING $1: $((SECONDS - phase_start))s"; phase_start=$SECONDS; }
total_start=$SECONDS

log "node $(node --version), npm $(npm --version 2>/dev/null)"
# Not `npm ci`: the registry mirror lacks some optional per-platform binaries of
# biome, which `npm ci` counts as lockfile drift. `npm install` follows the lock.
npm install --no-audit --no-fund --loglevel=error
timing "npm install"
bash hack/build-binaries.sh
timing "control-plane binaries"
bash hack/setup-prometheus.sh
timing "prometheus"
# The real node (ARF_REAL_NODE=0 for a kwok-only run where it cannot run).
if ((ARF_REAL_NODE)); then
  bash hack/setup-real-node.sh
  timing "real node packages"
  bash hack/build-images.sh
  timing "images (operator, pause, demo-service)"
fi

mkdir -p .tmp
status=0
failed_phases=()
check() { local name="$1"; shift; "$@" || { status=1; failed_phases+=("$name"); }; }
check lint npm run -s lint
check typecheck npm run -s typecheck
timing "lint and typecheck"
check "unit tests" npx vitest run --project unit --reporter=default --reporter=json --outputFile=.tmp/unit.json
timing "unit tests"
check "e2e tests" npx vitest run --project e2e --reporter=default --reporter=json --outputFile=.tmp/e2e.json
timing "e2e tests"

# One closing line that any CI can read, summed over both runs.
node -e '
  let passed = 0, failed = 0;
  for (const file of [".tmp/unit.json", ".tmp/e2e.json"]) {
    try {
      const r = JSON.parse(require("fs").readFileSync(file, "utf8"));
      passed += r.numPassedTests; failed += r.numFailedTests + (r.numTotalTestSuites === 0 ? 1 : 0);
    } catch { failed += 1; console.error(`no results in ${file}`); }
  }
  console.log(`${passed} passed, ${failed} failed`);
  if (passed === 0) process.exit(1);
' || status=1
log "TIMING total: $((SECONDS - total_start))s"
((status == 0)) || log "FAILED: ${failed_phases[*]:-summary}"
exit $status
