# Shared by the integration tests: a network namespace of the test's own,
# dpx inside it on a TAP device, the Linux side of the TAP configured, and
# cleanup of everything on exit. Source it, then:
#   dpx_require_root                  # exit 77 (meson: skipped) if not root
#   dpx_setup NAME                    # names: NS, IFACE, PREFIX, NET, DPX_IP, LINUX_IP, WORK,
#                                     # CTL_SOCK (dpx's control socket, inside $WORK)
#   dpx_start DPX [dpx flags...]      # runs dpx in NS (--ctl-socket=$CTL_SOCK), waits until it runs
#   dpx_linux_up                      # LINUX_IP/24 on the Linux side, link up
#   dpx_stop                          # SIGINT, waits, checks exit 0; summary in $WORK/out
#   die MSG                           # prints dpx's output and fails
# Everything stays inside the namespace; all of it is removed on exit.

dpx_require_root() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "SKIP: needs root (network namespaces and TAP devices)"
    exit 77
  fi
  local tool
  for tool in ip ping tc python3; do
    command -v "$tool" >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }
  done
  [ -c /dev/net/tun ] || { echo "SKIP: /dev/net/tun missing"; exit 77; }
}

dpx_setup() {
  local tag=$1
  ID=$$
  NS=dpx$tag-$ID
  IFACE=dpx$tag$((ID % 100000))          # <= 15 characters
  PREFIX=dpx$tag$ID                       # EAL --file-prefix
  NET=10.$(( (ID >> 8) & 255 )).$(( ID & 255 ))
  DPX_IP=$NET.2
  LINUX_IP=$NET.1
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/dpx$tag.XXXXXX")
  # Never the default /run/dpx/dpx.sock: tests must not meet each other or
  # an operator's dpx there.
  CTL_SOCK=$WORK/ctl/dpx.sock
  DPX_PID=""
  trap dpx_cleanup EXIT
  trap 'exit 1' INT TERM
}

dpx_cleanup() {
  local rc=$?
  if [ -n "$DPX_PID" ] && kill -0 "$DPX_PID" 2>/dev/null; then
    kill -TERM "$DPX_PID" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$DPX_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$DPX_PID" 2>/dev/null
  fi
  if ip netns list | grep -qw "$NS"; then
    for pid in $(ip netns pids "$NS" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
    ip netns del "$NS"
  fi
  rm -rf "/var/run/dpdk/$PREFIX" "$WORK"
  exit $rc
}

die() {
  echo "FAIL: $*"
  echo "---- dpx stdout ----"; cat "$WORK/out" 2>/dev/null
  echo "---- dpx stderr ----"; tail -50 "$WORK/err" 2>/dev/null
  exit 1
}
step() { echo "== $*"; }

dpx_start() {
  local dpx=$1; shift
  step "namespace $NS, dpx on TAP $IFACE as $DPX_IP/24 (gateway $LINUX_IP)"
  ip netns add "$NS" || die "ip netns add $NS"
  ip -n "$NS" link set lo up
  : >"$WORK/out"; : >"$WORK/err"
  ip netns exec "$NS" "$dpx" --tap-iface="$IFACE" --ip="$DPX_IP/24" --gateway="$LINUX_IP" \
    --file-prefix="$PREFIX" --ctl-socket="$CTL_SOCK" "$@" >"$WORK/out" 2>"$WORK/err" </dev/null &
  DPX_PID=$!
  for _ in $(seq 150); do
    kill -0 "$DPX_PID" 2>/dev/null || die "dpx exited during start-up"
    if grep -q 'running on' "$WORK/err" && ip -n "$NS" link show "$IFACE" >/dev/null 2>&1; then
      break
    fi
    sleep 0.1
  done
  grep -q 'running on' "$WORK/err" || die "dpx did not start within 15 s"
  DPX_MAC=$(grep -oE 'port0: ethdev .* mac ([0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}' "$WORK/err" |
            grep -oE '([0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}$' | tr 'A-F' 'a-f')
  [ -n "$DPX_MAC" ] || die "no port MAC in dpx's start-up log"
}

dpx_linux_up() {
  step "Linux side: $LINUX_IP/24 on $IFACE"
  ip -n "$NS" addr add "$LINUX_IP/24" dev "$IFACE" || die "ip addr add"
  ip -n "$NS" link set "$IFACE" up || die "ip link set up"
  LINUX_MAC=$(ip -n "$NS" -o link show "$IFACE" |
              grep -oE 'link/ether ([0-9a-f]{2}:){5}[0-9a-f]{2}' | awk '{print $2}')
}

dpx_stop() {
  step "stopping dpx (SIGINT)"
  kill -INT "$DPX_PID"
  for _ in $(seq 100); do kill -0 "$DPX_PID" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$DPX_PID" 2>/dev/null && die "dpx did not stop within 10 s of SIGINT"
  wait "$DPX_PID"
  local rc=$?
  DPX_PID=""
  [ "$rc" -eq 0 ] || die "dpx exited with $rc"
}

# Loss on the Linux side of the TAP, both ways: Linux drops PERCENT% of
# what it sends to dpx (tc netem where the kernel has sch_netem, else an
# nftables rule; this machine's kernel is built without netem) and PERCENT%
# of what dpx sends before its TCP sees it (nftables input hook), so both
# stacks must recover. Sets LOSS_HOW.
dpx_linux_loss() {
  local pct=$1 egress
  command -v nft >/dev/null || die "nft (nftables) is needed for packet loss"
  if ip netns exec "$NS" tc qdisc add dev "$IFACE" root netem loss "$pct%" 2>/dev/null; then
    egress="tc netem loss $pct%"
  else
    egress="nftables, no sch_netem in this kernel"
    ip netns exec "$NS" nft -f - <<NFT || die "nft: cannot install the egress loss rule"
table inet dpxloss {
  chain out {
    type filter hook output priority 0;
    oifname "$IFACE" numgen random mod 100 < $pct counter drop
  }
}
NFT
  fi
  ip netns exec "$NS" nft -f - <<NFT || die "nft: cannot install the ingress loss rule"
table inet dpxloss {
  chain in {
    type filter hook input priority 0;
    iifname "$IFACE" numgen random mod 100 < $pct counter drop
  }
}
NFT
  LOSS_HOW="Linux->dpx $pct% ($egress), dpx->Linux $pct% (nftables input)"
}

# Packets the nftables loss rules dropped: "OUT IN" (OUT is 0 under netem).
dpx_linux_loss_dropped() {
  local table out in
  table=$(ip netns exec "$NS" nft list table inet dpxloss 2>/dev/null)
  out=$(grep 'oifname' <<<"$table" | grep -oE 'counter packets [0-9]+' | awk '{print $3}')
  in=$(grep 'iifname' <<<"$table" | grep -oE 'counter packets [0-9]+' | awk '{print $3}')
  echo "${out:-0} ${in:-0}"
}

# Value of counter NAME (nstat name) in dpx's summary, or empty.
dpx_counter() { awk -v c="$1" '$1 == c {print $2}' "$WORK/out"; }

# Another address on the Linux side of the TAP (e.g. $NET.20 for a backend:
# a distinct host to dpx). Removed with the namespace.
dpx_linux_addr() {
  ip -n "$NS" addr add "$1/24" dev "$IFACE" || die "ip addr add $1/24"
}

# dpx's resident memory (VmRSS) in KiB.
dpx_rss_kb() { awk '$1 == "VmRSS:" {print $2}' "/proc/$DPX_PID/status"; }
