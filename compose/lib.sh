# Shell functions shared by compose/up and compose/down (sourced, not run). Each prints what it
# does on stderr with the prefix "trip:", so the scripts' stdout is the final report.
# Expects $here (compose/) and $root (the repository) to be set by the caller.

TRIP_REGISTRY_PROBE=${TRIP_REGISTRY_PROBE:-https://registry-1.docker.io/v2/}

trip_log() { printf 'trip: %s\n' "$*" >&2; }

# A scratch directory for logs and build contexts, removed on exit. Call once from the script
# itself (not in a command substitution); trip_tmp prints it.
trip_init_tmp() {
  TRIP_TMP=$(mktemp -d /tmp/trip-compose.XXXXXX)
  # shellcheck disable=SC2064
  trap "rm -rf '$TRIP_TMP'" EXIT
}
trip_tmp() { printf %s "$TRIP_TMP"; }

# Compose project names: what both docker-compose 1.29 and Compose v2 accept unchanged.
trip_check_project() {
  [[ $1 =~ ^[a-z0-9][a-z0-9_-]{0,62}$ ]] && return 0
  echo "trip: project name '$1' must be lowercase letters, digits, '-' or '_'" >&2
  return 1
}

# Finds the Docker daemon and a Compose (docker-compose 1.29 or the v2 plugin); sets TRIP_COMPOSE.
trip_need_tools() {
  command -v docker >/dev/null 2>&1 || { trip_log "docker CLI not found"; return 1; }
  docker info >/dev/null 2>&1 || { trip_log "Docker daemon not reachable (is it running? are you in the docker group?)"; return 1; }
  if command -v docker-compose >/dev/null 2>&1; then
    TRIP_COMPOSE=(docker-compose)
  elif docker compose version >/dev/null 2>&1; then
    TRIP_COMPOSE=(docker compose)
  else
    trip_log "neither docker-compose nor the docker compose plugin is installed"
    return 1
  fi
  export COMPOSE_FILE=${COMPOSE_FILE:-$here/docker-compose.yml}
}

# trip_compose PROJECT ARGS...
trip_compose() {
  local project=$1
  shift
  "${TRIP_COMPOSE[@]}" --project-name "$project" "$@"
}

trip_random_hex() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }

# Writes each secret that is absent; never overwrites one (the database keeps the password it
# was initialised with). Files 0644 in a 0700 directory: readable by the images' non-root users,
# not by other users of the host.
trip_make_secrets() {
  local dir=$1 made=()
  mkdir -p "$dir"
  chmod 700 "$dir"
  local f
  for f in trip-receiver.token mysql-root-password mysql-exporter-password grafana-admin-password \
    mysql-svc-user-password mysql-svc-place-password mysql-svc-review-password \
    mysql-svc-bookmark-password mysql-svc-nearspot-password; do
    if [[ ! -s $dir/$f ]]; then
      (umask 022 && trip_random_hex 24 >"$dir/$f.tmp" && mv "$dir/$f.tmp" "$dir/$f")
      made+=("$f")
    fi
  done
  if [[ ! -s $dir/mysqld-exporter.cnf || $dir/mysql-exporter-password -nt $dir/mysqld-exporter.cnf ]]; then
    (umask 022 && printf '[client]\nuser=exporter\npassword=%s\nhost=db-mysql\nport=3306\n' \
      "$(<"$dir/mysql-exporter-password")" >"$dir/mysqld-exporter.cnf")
    made+=(mysqld-exporter.cnf)
  fi
  if ((${#made[@]})); then
    trip_log "secrets: generated ${made[*]} in $dir"
  else
    trip_log "secrets: using those in $dir"
  fi
}

# True when a container registry answers within 5 s: its /v2/ endpoint replies (401 is normal)
# with the header Docker-Distribution-Api-Version, which a proxy's error page does not carry.
trip_registry_reachable() {
  local headers
  headers=$(curl -s -o /dev/null -D - --connect-timeout 3 --max-time 5 "$TRIP_REGISTRY_PROBE" 2>/dev/null) || true
  grep -qi '^docker-distribution-api-version: *registry/2' <<<"$headers"
}

trip_image_present() { docker image inspect "$1" >/dev/null 2>&1; }

trip_pull() {
  trip_log "pulling $1"
  timeout "${TRIP_PULL_TIMEOUT:-600}" docker pull -q "$1" >/dev/null 2>&1 && return 0
  trip_log "could not pull $1"
  return 1
}

# The debian:bookworm-slim base of every locally built image (debootstrap when absent), once.
trip_build_base() {
  [[ -n ${TRIP_BASE_READY:-} ]] && return 0
  local base=${TRIP_BASE_IMAGE:-debian:bookworm-slim}
  if ! trip_image_present "$base"; then
    if [[ ${registry:-0} == 1 ]] && trip_pull "$base"; then
      :
    else
      "$here/images/build-base" >&2
    fi
  fi
  TRIP_BASE_READY=1
}

# trip_build TAG CONTEXT_DIR: docker build with the classic builder (works without buildx).
# Docker's build cache makes a rebuild of an unchanged context take a second or two.
trip_build() {
  local tag=$1 ctx=$2 log t0
  log="$(trip_tmp)/build-${tag//[\/:]/_}.log"
  t0=$(date +%s)
  if ! DOCKER_BUILDKIT=0 docker build --force-rm --build-arg "BASE=${TRIP_BASE_IMAGE:-debian:bookworm-slim}" \
    --label trip.compose=1 -t "$tag" "$ctx" >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    trip_log "building $tag failed"
    return 1
  fi
  trip_log "image $tag ready ($(($(date +%s) - t0)) s)"
}

# trip_build_repo TAG DOCKERFILE PATH...: builds from the repository, sending only PATHs (and the
# Dockerfile) as the context, so build directories and .git never go to the daemon.
trip_build_repo() {
  local tag=$1 dockerfile=$2 log t0
  shift 2
  log="$(trip_tmp)/build-${tag//[\/:]/_}.log"
  t0=$(date +%s)
  local p files=("$@")
  for p in "$@"; do [[ $dockerfile == "$p"/* ]] && break; done
  [[ $dockerfile == "${p:-}"/* ]] || files+=("$dockerfile")
  if ! tar -C "$root" -c --exclude='build*' "${files[@]}" |
    DOCKER_BUILDKIT=0 docker build --force-rm --build-arg "BASE=${TRIP_BASE_IMAGE:-debian:bookworm-slim}" \
      --label trip.compose=1 -f "$dockerfile" -t "$tag" - >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    trip_log "building $tag failed"
    return 1
  fi
  trip_log "image $tag ready ($(($(date +%s) - t0)) s)"
}

# Prints the path of a cAdvisor binary: $TRIP_CADVISOR_BIN, one already built, or one built now
# with tests/support/build-cadvisor (needs Go and the Go module proxy). Fails when none.
trip_cadvisor_binary() {
  local b dir=${TRIP_BUILD_DIR:-$root/build}
  for b in "${TRIP_CADVISOR_BIN:-}" "$dir/cadvisor/cadvisor" "$root/build/cadvisor/cadvisor"; do
    [[ -n $b && -x $b ]] && { printf '%s\n' "$b"; return 0; }
  done
  [[ -x $root/tests/support/build-cadvisor ]] || return 1
  trip_log "cadvisor: building the real cAdvisor from its Go module (tests/support/build-cadvisor)"
  b=$("$root/tests/support/build-cadvisor" "$dir" 2>&2 | tail -n 1) || return 1
  [[ -x $b ]] && printf '%s\n' "$b"
}

# True when a cAdvisor binary exists or tests/support/build-cadvisor can make one (Go present).
trip_cadvisor_available() {
  local b dir=${TRIP_BUILD_DIR:-$root/build}
  for b in "${TRIP_CADVISOR_BIN:-}" "$dir/cadvisor/cadvisor" "$root/build/cadvisor/cadvisor"; do
    [[ -n $b && -x $b ]] && return 0
  done
  [[ -x $root/tests/support/build-cadvisor ]] || return 1
  command -v go >/dev/null 2>&1 || [[ -x /usr/local/go/bin/go || -x /usr/lib/go/bin/go ]]
}

# trip_build_cadvisor_image TAG: the binary (built first when needed), then its image. Run as a
# queued build, so the Go compile overlaps the apt-based builds.
trip_build_cadvisor_image() {
  local bin ctx
  bin=$(trip_cadvisor_binary) || { trip_log "cadvisor: could not build the binary"; return 1; }
  ctx=$(trip_tmp)/cadvisor
  mkdir -p "$ctx"
  cp "$here/images/cadvisor/Dockerfile" "$bin" "$ctx/"
  trip_build "$1" "$ctx"
}

# Prints a build context for the stand-in exporter image when the repository has one.
trip_standin_context() {
  [[ -f $here/images/cadvisor-standin/Dockerfile ]] || return 1
  printf '%s\n' "$here/images/cadvisor-standin"
}

# trip_containers PROJECT: "service status health" for each container of the project.
trip_containers() {
  local ids
  ids=$(docker ps -aq --filter "label=com.docker.compose.project=$1")
  [[ -n $ids ]] || return 0
  # shellcheck disable=SC2086
  docker inspect -f '{{index .Config.Labels "com.docker.compose.service"}} {{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' $ids
}

# trip_wait_healthy PROJECT TIMEOUT: waits until every container runs and is healthy (or has no
# healthcheck). Fails at once when one exits, or at TIMEOUT, printing the laggards' last logs.
trip_wait_healthy() {
  local project=$1 timeout=$2 t0 now lines bad last=""
  t0=$(date +%s)
  trip_log "waiting up to ${timeout} s for every service to be healthy"
  while :; do
    lines=$(trip_containers "$project" | sort)
    bad=$(awk '$2 != "running" || ($3 != "healthy" && $3 != "none")' <<<"$lines")
    now=$(date +%s)
    if [[ -n $lines && -z $bad ]]; then
      trip_log "all $(wc -l <<<"$lines") services healthy after $((now - t0)) s"
      return 0
    fi
    if [[ $bad != "$last" ]]; then
      trip_log "waiting for: $(awk '{printf "%s(%s/%s) ", $1, $2, $3}' <<<"$bad")"
      last=$bad
    fi
    if grep -Eq ' (exited|dead) |unhealthy' <<<"$bad" || ((now - t0 >= timeout)); then
      trip_log "not healthy after $((now - t0)) s:"
      local svc
      for svc in $(awk '{print $1}' <<<"$bad"); do
        printf '%s\n' "--- $svc (last log lines)" >&2
        docker logs --tail 15 "$(docker ps -aq --filter "label=com.docker.compose.project=$project" \
          --filter "label=com.docker.compose.service=$svc" | head -n 1)" 2>&1 | sed 's/^/    /' >&2
      done
      return 1
    fi
    sleep 2
  done
}

# The trip services, one image each from compose/services/Dockerfile, tagged
# ${TRIP_SERVICES_REPO:-trip-msa}/<service>:${TRIP_SERVICES_TAG:-dev}. One after the other, so
# that the four after the first take the compile stage from Docker's build cache. The context
# is what the top CMakeLists.txt reads plus services/, never build directories or .git.
TRIP_SERVICE_NAMES=(user place review bookmark nearspot)
trip_build_services() {
  local repo=${TRIP_SERVICES_REPO:-trip-msa} tag=${TRIP_SERVICES_TAG:-dev} ctx log t0 s p
  local paths=(CMakeLists.txt compose/services/Dockerfile)
  for p in cmake docker-client receiver services; do [[ -e $root/$p ]] && paths+=("$p"); done
  [[ -f $root/services/CMakeLists.txt ]] || { trip_log "services/ is missing: cannot build the trip services"; return 1; }
  t0=$(date +%s)
  ctx="$(trip_tmp)/services-context.tar"
  tar -C "$root" -c --exclude='build*' -f "$ctx" "${paths[@]}"
  for s in "${TRIP_SERVICE_NAMES[@]}"; do
    log="$(trip_tmp)/build-services-$s.log"
    if ! DOCKER_BUILDKIT=0 docker build --force-rm --build-arg "BASE=${TRIP_BASE_IMAGE:-debian:bookworm-slim}" \
      --build-arg "SERVICE=$s" --label trip.compose=1 -f compose/services/Dockerfile -t "$repo/$s:$tag" - \
      <"$ctx" >"$log" 2>&1; then
      tail -n 30 "$log" >&2
      trip_log "building $repo/$s:$tag failed"
      return 1
    fi
  done
  trip_log "images $repo/{$(IFS=,; printf %s "${TRIP_SERVICE_NAMES[*]}")}:$tag ready ($(($(date +%s) - t0)) s)"
}
