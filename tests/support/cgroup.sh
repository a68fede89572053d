# cgroup.sh: a container's cgroup values for the shell tests, read from the cgroup v1 files on a
# v1 host and from the v2 files on a v2 host (docs/docker-engine.md says which is proven where).
# Source it; every function takes a container name or id and prints one value.
#   cg_cpu ID          v1 cpu.shares, v2 cpu.weight
#   cg_cpu_want SHARES what cg_cpu shows for a container given SHARES CpuShares (v2: runc's weight)
#   cg_mem ID          memory limit in bytes: v1 memory.limit_in_bytes, v2 memory.max (max: -1)
#   cg_memsw ID        memory + swap, Docker's MemorySwap: v1 memory.memsw.limit_in_bytes,
#                      v2 memory.max + memory.swap.max (either max: -1)
#   cg_cpu_quota ID    CFS quota in us: v1 cpu.cfs_quota_us, v2 cpu.max's first field (max: -1)
# The directory comes from /proc/<init pid>/cgroup, so any cgroup parent or driver works.

cg_version() { [[ -f /sys/fs/cgroup/cgroup.controllers ]] && echo 2 || echo 1; }

# cg_dir ID CTRL: the container's cgroup directory (CTRL: the v1 controller; ignored on v2).
cg_dir() {
  local id pid path
  id=$(docker inspect -f '{{.Id}}' "$1") || return 1
  pid=$(docker inspect -f '{{.State.Pid}}' "$1") || return 1
  if [[ $(cg_version) == 2 ]]; then
    path=$(awk -F: '$1 == "0" {print $3}' "/proc/$pid/cgroup" 2>/dev/null)
    echo "/sys/fs/cgroup${path:-/system.slice/docker-$id.scope}"
  else
    path=$(awk -F: -v c="$2" '{n = split($2, a, ","); for (i = 1; i <= n; i++) if (a[i] == c) print $3}' \
      "/proc/$pid/cgroup" 2>/dev/null)
    echo "/sys/fs/cgroup/$2${path:-/docker/$id}"
  fi
}

# cg_read FILE: its first field, "max" as -1.
cg_read() {
  local v
  read -r v _ <"$1" || return 1
  [[ $v == max ]] && v=-1
  echo "$v"
}

cg_cpu() {
  if [[ $(cg_version) == 2 ]]; then cg_read "$(cg_dir "$1" cpu)/cpu.weight"; else cg_read "$(cg_dir "$1" cpu)/cpu.shares"; fi
}

cg_cpu_want() {
  if [[ $(cg_version) == 2 && $1 != 0 ]]; then echo $((1 + (($1 - 2) * 9999) / 262142)); else echo "$1"; fi
}

cg_mem() {
  if [[ $(cg_version) == 2 ]]; then cg_read "$(cg_dir "$1" memory)/memory.max"; else cg_read "$(cg_dir "$1" memory)/memory.limit_in_bytes"; fi
}

cg_memsw() {
  local dir mem swap
  dir=$(cg_dir "$1" memory) || return 1
  if [[ $(cg_version) == 1 ]]; then
    cg_read "$dir/memory.memsw.limit_in_bytes"
    return
  fi
  mem=$(cg_read "$dir/memory.max") && swap=$(cg_read "$dir/memory.swap.max") || return 1
  if ((mem < 0 || swap < 0)); then echo -1; else echo $((mem + swap)); fi
}

cg_cpu_quota() {
  if [[ $(cg_version) == 2 ]]; then cg_read "$(cg_dir "$1" cpu)/cpu.max"; else cg_read "$(cg_dir "$1" cpu)/cpu.cfs_quota_us"; fi
}
