# ports.sh: a free TCP port on 127.0.0.1 for the shell tests. Source it.
#   free_port   prints a port no socket uses at the moment (any state, `ss -Htan`), picked at
#               random between 10000 and the low end of the kernel's ephemeral range; returns 1
#               when 200 tries found none. Outgoing connections and Docker's published ports take
#               theirs from that range, so a port picked there can be gone before the bind
#               (tests/support/ts_common.c's ts_free_port and bench.py pick the same way).

free_port() {
  local used p i low
  read -r low _ </proc/sys/net/ipv4/ip_local_port_range || low=32768
  ((low > 11000)) || low=65536
  used=$(ss -Htan 2>/dev/null | awk '{ n = split($4, a, ":"); print a[n] }')
  for ((i = 0; i < 200; i++)); do
    p=$((10000 + (RANDOM * 32768 + RANDOM) % (low - 10000)))
    grep -qx "$p" <<<"$used" || { echo "$p"; return 0; }
  done
  return 1
}
