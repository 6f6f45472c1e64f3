#!/usr/bin/env bash
# TCP between Linux and dpx over TAP, under loss:
#   1. dpx runs its echo service (--echo-port) in a namespace of the test's
#      own; Linux's side of the TAP drops 2% of the packets each way (tc
#      netem where the kernel has it, nftables otherwise);
#   2. a Linux client opens several connections, sends pseudo-random bytes
#      and reads the echo back at the same time (both directions), half-
#      closes, reads to EOF; every byte must come back intact (SHA-256);
#   3. dpx's counters show the work: passive opens, dpx's own
#      retransmissions, and the echo service's clean sessions and bytes.
# Usage: tcp_echo_test.sh DPX ECHO_CLIENT
set -uo pipefail

DPX=$1
CLIENT=$2
. "$(dirname "$0")/lib.sh"
dpx_require_root
dpx_setup echo
PORT=7007
SIZE=$((4 << 20))
CONNS=3

dpx_start "$DPX" --run-seconds=170 --echo-port=$PORT
dpx_linux_up
ip netns exec "$NS" ping -c 1 -W 2 "$DPX_IP" >/dev/null || die "dpx does not answer ping"

step "Linux drops 2% of the packets it sends to dpx"
dpx_linux_loss 2
echo "loss: $LOSS_HOW"

step "$CONNS connections x $((SIZE >> 20)) MiB each way through dpx's echo on port $PORT"
ip netns exec "$NS" timeout 150 python3 "$CLIENT" "$DPX_IP" "$PORT" --size=$SIZE \
  --conns=$CONNS --timeout=60 | tee "$WORK/client"
[ "${PIPESTATUS[0]}" -eq 0 ] || die "echo client: bytes lost or corrupted"

read -r lost_out lost_in <<<"$(dpx_linux_loss_dropped)"
echo "dropped by the loss rules: $lost_out Linux->dpx (0 under netem), $lost_in dpx->Linux"
[ "$lost_in" -gt 0 ] || die "no packet from dpx was dropped: the test did not test dpx's recovery"

dpx_stop
cat "$WORK/out"

step "dpx's counters"
opens=$(dpx_counter TcpPassiveOpens)
[ "${opens:-0}" -ge "$CONNS" ] || die "TcpPassiveOpens is '${opens:-absent}', want >= $CONNS"
retrans=$(dpx_counter TcpRetransSegs)
[ "${retrans:-0}" -gt 0 ] || die "TcpRetransSegs is '${retrans:-absent}': dpx repaired no loss?"
echo "TcpPassiveOpens = $opens, TcpRetransSegs = $retrans"
# Every session is gone (the server closed last: no TIME_WAIT on its side);
# only the listener remains.
grep -E "^sockstat: TCP: inuse 1 orphan 0 tw 0 alloc 1 mem [0-9]+$" "$WORK/out" ||
  die "sockstat does not show only the listener left"
grep -qE "echo service port $PORT: $CONNS accepted, $CONNS closed, $((SIZE * CONNS)) bytes echoed, 0 errors" \
  "$WORK/out" || die "echo summary does not show $CONNS clean sessions of $SIZE bytes"
echo "PASS"
