# Shared helpers of the end-to-end tests (sourced, not run). Requires bash, curl, jq.
# Every process a test starts is recorded with e2e_spawn and killed by e2e_cleanup; every
# container it creates is named "$E2E_PREFIX..." and labelled trip.test=1 and e2e.run=$E2E_RUN,
# and e2e_cleanup removes exactly those.

E2E_RUN=${E2E_RUN:-$$}
E2E_PREFIX=${E2E_PREFIX:-trip-e2e-$E2E_RUN-}
E2E_PIDS=()
E2E_T0=$(date +%s.%N)

e2e_log() { printf '[e2e %6.1fs] %s\n' "$(e2e_since "$E2E_T0")" "$*"; }
e2e_fail() {
  printf '[e2e] FAIL: %s\n' "$*" >&2
  exit 1
}

# Seconds (with decimals) from $1 (epoch seconds) to $2 (default: now).
e2e_since() {
  local now=${2:-$(date +%s.%N)}
  awk -v a="$1" -v b="$now" 'BEGIN { printf "%.1f", b - a }'
}

# e2e_require TOOL...: a missing tool fails the test under CI=true and skips it (exit 77) otherwise.
e2e_require() {
  local missing=() t
  for t in "$@"; do
    command -v "$t" >/dev/null 2>&1 || missing+=("$t")
  done
  ((${#missing[@]} == 0)) && return 0
  if [[ ${CI:-} == true ]]; then
    e2e_fail "missing ${missing[*]} (CI=true: a missing dependency fails; tools/deps installs them)"
  fi
  echo "[e2e] SKIP: missing ${missing[*]}"
  exit 77
}

e2e_require_docker() {
  if docker version --format '{{.Server.APIVersion}}' >/dev/null 2>&1; then
    return 0
  fi
  if [[ ${CI:-} == true ]]; then
    e2e_fail "the Docker daemon is not reachable (CI=true: this fails)"
  fi
  echo "[e2e] SKIP: the Docker daemon is not reachable"
  exit 77
}

# A TCP port no socket uses at the moment on 127.0.0.1 (tests/support/ports.sh).
# shellcheck source=../support/ports.sh
source "$(dirname "${BASH_SOURCE[0]}")/../support/ports.sh"
e2e_free_port() { free_port || e2e_fail "no free port found"; }

# e2e_spawn LOGFILE CMD...: starts CMD in the background, output to LOGFILE; sets E2E_LAST_PID.
e2e_spawn() {
  local log=$1
  shift
  "$@" >"$log" 2>&1 &
  E2E_LAST_PID=$!
  E2E_PIDS+=("$E2E_LAST_PID")
}

# e2e_wait TIMEOUT_S DESCRIPTION CMD...: polls CMD every 0.2 s until it succeeds.
e2e_wait() {
  local timeout=$1 what=$2
  shift 2
  local deadline
  deadline=$(awk -v t="$timeout" -v n="$(date +%s.%N)" 'BEGIN { printf "%.3f", n + t }')
  until "$@" >/dev/null 2>&1; do
    if awk -v d="$deadline" -v n="$(date +%s.%N)" 'BEGIN { exit !(n > d) }'; then
      e2e_fail "timed out after ${timeout}s waiting for: $what"
    fi
    sleep 0.2
  done
}

# e2e_watchdog SECONDS: sends this shell SIGTERM after SECONDS, so that its EXIT trap still cleans
# up before a harness (ctest's TIMEOUT) would kill it outright.
e2e_watchdog() {
  local main=$$
  (
    sleep "$1" &
    sp=$!
    trap 'kill "$sp" 2>/dev/null; exit 0' TERM
    wait "$sp" || exit 0
    echo "[e2e] FAIL: watchdog: still running after $1 s" >&2
    kill -TERM "$main" 2>/dev/null
  ) &
  E2E_PIDS+=("$!")
}

e2e_http_ok() { curl -fsS -m 2 -o /dev/null "$1"; }

# Kills every process started with e2e_spawn (TERM, then KILL) and removes this run's containers.
e2e_cleanup() {
  local pid ids
  for pid in "${E2E_PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${E2E_PIDS[@]}"; do
    for _ in 1 2 3 4 5 6 7 8 9 10; do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.2
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  ids=$(docker ps -aq --filter "label=e2e.run=$E2E_RUN" --filter "label=trip.test=1" \
        --filter "name=^$E2E_PREFIX" 2>/dev/null || true)
  if [[ -n $ids ]]; then
    # shellcheck disable=SC2086
    docker rm -f $ids >/dev/null 2>&1 || true
  fi
}

# --- Docker ---------------------------------------------------------------------------------

# e2e_run_container SUFFIX [docker run options...]: runs $TRIP_TEST_IMAGE detached as
# "$E2E_PREFIX$SUFFIX", the workload port published on 127.0.0.1; prints the container id.
e2e_run_container() {
  local suffix=$1
  shift
  docker run -d --name "$E2E_PREFIX$suffix" --label trip.test=1 --label "e2e.run=$E2E_RUN" \
    -p 127.0.0.1::8000 "$@" "${TRIP_TEST_IMAGE:-trip-workload:test}"
}

# The workload URL of container $1 (published port).
e2e_workload_url() {
  local hp
  hp=$(docker port "$1" 8000/tcp | head -n1) || return 1
  echo "http://$hp"
}

e2e_inspect() { docker inspect -f "$2" "$1"; }

# A container's cgroup values, from the v1 files on a v1 host and the v2 files on a v2 host
# (tests/support/cgroup.sh: cg_cpu is cpu.weight on v2; compare with cg_cpu_want SHARES).
# shellcheck source=../support/cgroup.sh
source "$(dirname "${BASH_SOURCE[0]}")/../support/cgroup.sh"
e2e_cgroup_shares() { cg_cpu "$1"; }
e2e_cgroup_memlimit() { cg_mem "$1"; }

# --- Prometheus ---------------------------------------------------------------------------------

# e2e_alert_state PROM_URL ALERTNAME CONTAINER: prints firing, pending or nothing.
e2e_alert_state() {
  curl -fsS -m 2 "$1/api/v1/alerts" |
    jq -r --arg a "$2" --arg n "$3" \
      '.data.alerts[] | select(.labels.alertname == $a and .labels.name == $n) | .state' | head -n1
}
