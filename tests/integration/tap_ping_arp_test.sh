#!/usr/bin/env bash
# The real dpx on a TAP device, Linux as its peer, all inside a network
# namespace this test makes (nothing leaves it):
#   1. ip netns add dpxit-PID; dpx runs in it and creates TAP dpxtPID;
#   2. the Linux side of the TAP gets 10.A.B.1/24, dpx has 10.A.B.2/24 with
#      10.A.B.1 as its gateway;
#   3. Linux pings dpx (3 of 3 replies);
#   4. ARP both ways: Linux's neighbour table has dpx's MAC for 10.A.B.2,
#      and dpx's final summary (after SIGINT) has Linux's MAC for 10.A.B.1;
#   5. dpx exits 0 on SIGINT and prints its counters.
# Everything made here (namespace, TAP, dpx, EAL runtime dir, temp files) is
# removed on exit, pass or fail. Needs root; exits 77 (meson: skipped)
# otherwise.
# Usage: tap_ping_arp_test.sh DPX
set -uo pipefail

DPX=$1
if [ "$(id -u)" -ne 0 ]; then
  echo "SKIP: needs root (network namespaces and TAP devices)"
  exit 77
fi
for tool in ip ping; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }
done
[ -c /dev/net/tun ] || { echo "SKIP: /dev/net/tun missing"; exit 77; }

ID=$$
NS=dpxit-$ID
IFACE=dpxt$ID                      # <= 15 characters
PREFIX=dpxit$ID                    # EAL --file-prefix: /var/run/dpdk/$PREFIX
NET=10.$(( (ID >> 8) & 255 )).$(( ID & 255 ))
DPX_IP=$NET.2
LINUX_IP=$NET.1
WORK=$(mktemp -d "${TMPDIR:-/tmp}/dpxit.XXXXXX")
DPX_PID=""

cleanup() {
  local rc=$?
  if [ -n "$DPX_PID" ] && kill -0 "$DPX_PID" 2>/dev/null; then
    kill -TERM "$DPX_PID" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$DPX_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$DPX_PID" 2>/dev/null
  fi
  # Anything else still running in our own namespace, by pid.
  if ip netns list | grep -qw "$NS"; then
    for pid in $(ip netns pids "$NS" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
    ip netns del "$NS"
  fi
  rm -rf "/var/run/dpdk/$PREFIX" "$WORK"
  exit $rc
}
trap cleanup EXIT
trap 'exit 1' INT TERM

die() {
  echo "FAIL: $*"
  echo "---- dpx stdout ----"; cat "$WORK/out" 2>/dev/null
  echo "---- dpx stderr ----"; cat "$WORK/err" 2>/dev/null
  exit 1
}
step() { echo "== $*"; }

step "namespace $NS, dpx on TAP $IFACE as $DPX_IP/24 (gateway $LINUX_IP)"
ip netns add "$NS" || die "ip netns add $NS"
ip -n "$NS" link set lo up
: >"$WORK/out"; : >"$WORK/err"
ip netns exec "$NS" "$DPX" --tap-iface="$IFACE" --ip="$DPX_IP/24" --gateway="$LINUX_IP" \
  --run-seconds=90 --file-prefix="$PREFIX" --stats-interval-s=1 >"$WORK/out" 2>"$WORK/err" </dev/null &
DPX_PID=$!

step "waiting for dpx to bring $IFACE up"
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
echo "dpx port MAC: $DPX_MAC"

step "Linux side: $LINUX_IP/24 on $IFACE"
ip -n "$NS" addr add "$LINUX_IP/24" dev "$IFACE" || die "ip addr add"
ip -n "$NS" link set "$IFACE" up || die "ip link set up"
LINUX_MAC=$(ip -n "$NS" -o link show "$IFACE" | grep -oE 'link/ether ([0-9a-f]{2}:){5}[0-9a-f]{2}' |
            awk '{print $2}')
echo "Linux side MAC: $LINUX_MAC"

step "ping $DPX_IP from Linux"
ip netns exec "$NS" ping -c 3 -i 0.3 -W 2 "$DPX_IP" | tee "$WORK/ping"
grep -q '3 received' "$WORK/ping" || die "ping: expected 3 of 3 replies"

step "Linux's neighbour entry for dpx"
ip -n "$NS" neigh show "$DPX_IP" dev "$IFACE" | tee "$WORK/neigh"
grep -q "lladdr $DPX_MAC" "$WORK/neigh" || die "Linux did not learn dpx's MAC $DPX_MAC"
grep -qE 'FAILED|INCOMPLETE' "$WORK/neigh" && die "Linux's entry for dpx is not usable"

step "stopping dpx (SIGINT)"
kill -INT "$DPX_PID"
for _ in $(seq 100); do kill -0 "$DPX_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$DPX_PID" 2>/dev/null && die "dpx did not stop within 10 s of SIGINT"
wait "$DPX_PID"
rc=$?
DPX_PID=""
[ "$rc" -eq 0 ] || die "dpx exited with $rc"
cat "$WORK/out"

step "dpx's ARP entry for the Linux side and its counters"
grep -E "^ +[0-9]+ +port0 +$LINUX_IP +$LINUX_MAC +(REACHABLE|STALE|DELAY|PROBE)" "$WORK/out" ||
  die "dpx's summary has no usable ARP entry $LINUX_IP -> $LINUX_MAC"
for counter in IcmpInEchos IcmpOutEchoReps; do
  value=$(awk -v c="$counter" '$1 == c {print $2}' "$WORK/out")
  [ -n "$value" ] && [ "$value" -ge 3 ] || die "counter $counter is '${value:-absent}', want >= 3"
  echo "$counter = $value"
done
grep -q 'stopped by SIGINT' "$WORK/out" || die "summary does not say SIGINT stopped dpx"

echo "PASS"
