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
. "$(dirname "$0")/lib.sh"
dpx_require_root
dpx_setup it
dpx_start "$DPX" --run-seconds=90 --stats-interval-s=1
echo "dpx port MAC: $DPX_MAC"
dpx_linux_up
echo "Linux side MAC: $LINUX_MAC"

step "ping $DPX_IP from Linux"
ip netns exec "$NS" ping -c 3 -i 0.3 -W 2 "$DPX_IP" | tee "$WORK/ping"
grep -q '3 received' "$WORK/ping" || die "ping: expected 3 of 3 replies"

step "Linux's neighbour entry for dpx"
ip -n "$NS" neigh show "$DPX_IP" dev "$IFACE" | tee "$WORK/neigh"
grep -q "lladdr $DPX_MAC" "$WORK/neigh" || die "Linux did not learn dpx's MAC $DPX_MAC"
grep -qE 'FAILED|INCOMPLETE' "$WORK/neigh" && die "Linux's entry for dpx is not usable"

dpx_stop
cat "$WORK/out"

step "dpx's ARP entry for the Linux side and its counters"
grep -E "^ +[0-9]+ +port0 +$LINUX_IP +$LINUX_MAC +(REACHABLE|STALE|DELAY|PROBE)" "$WORK/out" ||
  die "dpx's summary has no usable ARP entry $LINUX_IP -> $LINUX_MAC"
for counter in IcmpInEchos IcmpOutEchoReps; do
  value=$(dpx_counter "$counter")
  [ -n "$value" ] && [ "$value" -ge 3 ] || die "counter $counter is '${value:-absent}', want >= 3"
  echo "$counter = $value"
done
grep -q 'stopped by SIGINT' "$WORK/out" || die "summary does not say SIGINT stopped dpx"

echo "PASS"
