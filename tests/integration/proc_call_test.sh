#!/usr/bin/env bash
# A simulated process on dpx talks to a real Linux peer over TAP, driven
# only by `dpxctl proc call` (and proc kill), as a Linux program would:
#   1. close: socket, bind, listen on dpx's address; a Linux client
#      connects and sends; the process accepts (--wait_ms), recvs what was
#      sent, sends a reply, closes: the client sees the reply and EOF (FIN);
#   2. close with unread data: the process reads only part of what came;
#      close() resets the connection (tcp_close: unread data -> RST,
#      TcpExtTCPAbortOnClose): the client sees ECONNRESET;
#   3. proc kill instead of close, the socket idle (everything read): the
#      exit closes it with a FIN: the client sees the reply and EOF, and the
#      kill reports 1 FIN;
#   4. proc kill with unread data: the exit resets it: ECONNRESET, and the
#      kill reports 1 RST.
# Usage: proc_call_test.sh DPX DPXCTL TCP_PEER
set -uo pipefail

DPX=$1
DPXCTL=$2
PEER=$3
. "$(dirname "$0")/lib.sh"
dpx_require_root
dpx_setup pc

ctl() { "$DPXCTL" --socket="$CTL_SOCK" "$@"; }
# call PID SYSCALL ARGS... [--wait_ms=N]: runs `dpxctl proc call`, prints
# the strace-like line, leaves it in $LINE; dpxctl must exit 0.
call() {
  LINE=$(ctl proc call "$@" 2>"$WORK/c.err")
  local rc=$?
  echo "  $LINE"
  [ "$rc" -eq 0 ] || die "dpxctl proc call $*: exit $rc: $(cat "$WORK/c.err")"
}
expect() {  # expect REGEX: $LINE must match
  [[ "$LINE" =~ $1 ]] || die "'$LINE' does not match /$1/"
}
counter() { ctl stats -a -s "$1" | awk -v c="$1" '$1 == c {print $2}'; }
spawn() {
  local out
  out=$(ctl proc spawn "$1") || die "proc spawn $1"
  awk '{print $2}' <<<"$out"
}
# peer PORT SEND NAME: a Linux client in the background; its JSON verdict
# goes to $WORK/NAME.out.
peer() {
  ip netns exec "$NS" python3 "$PEER" "$DPX_IP" "$1" --send="$2" --timeout=20 \
    >"$WORK/$3.out" 2>&1 &
  PEER_PID=$!
}
peer_result() {  # peer_result NAME: waits for the client, prints its verdict
  wait "$PEER_PID"
  cat "$WORK/$1.out"
}
# listen_and_accept PID PORT: socket/bind/listen, then accept once the
# client (already started) connects; the listener is fd 3, the connection 4.
listen_and_accept() {
  call "$1" socket
  expect '^socket\(AF_INET, SOCK_STREAM, IPPROTO_TCP\) = 3$'
  call "$1" bind 3 "$DPX_IP:$2"
  expect '= 0$'
  call "$1" listen 3 8
  expect '^listen\(3, 8\) = 0$'
}

dpx_start "$DPX" --run-seconds=150
dpx_linux_up
ip netns exec "$NS" ping -c 1 -W 2 "$DPX_IP" >/dev/null || die "dpx does not answer ping"

step "1. accept, recv, send, close: the client sees the bytes and the FIN"
P=$(spawn server1)
listen_and_accept "$P" 9001
call "$P" accept 3
expect '^accept\(3, \.\.\.\) = -1 EAGAIN \(Resource temporarily unavailable\)$'
peer 9001 "hello from linux" c1
call "$P" accept 3 --wait_ms=5000
expect '^accept\(3, \.\.\.\) = 4$'
call "$P" recv 4 100 --wait_ms=5000
expect '^recv\(4, "hello from linux", 100\) = 16$'
call "$P" recv 4 100
expect '= -1 EAGAIN'
call "$P" send 4 "hello from dpx"
expect '^send\(4, "hello from dpx", 14\) = 14$'
call "$P" close 4
expect '^close\(4\) = 0$'
peer_result c1
grep -q '"received": "hello from dpx", "end": "EOF"' "$WORK/c1.out" ||
  die "the client did not get the reply and a FIN"
call "$P" close 4
expect '^close\(4\) = -1 EBADF'

step "2. close with unread data: the client sees a reset"
abort0=$(counter TcpExtTCPAbortOnClose)
peer 9001 "0123456789" c2
call "$P" accept 3 --wait_ms=5000
expect '^accept\(3, \.\.\.\) = 4$'
call "$P" recv 4 4 --wait_ms=5000
expect '^recv\(4, "0123", 4\) = 4$'
call "$P" close 4
expect '= 0$'
peer_result c2
grep -q '"end": "ECONNRESET"' "$WORK/c2.out" || die "the client saw no reset"
abort1=$(counter TcpExtTCPAbortOnClose)
[ "$abort1" -eq $(( abort0 + 1 )) ] || die "TcpExtTCPAbortOnClose $abort0 -> $abort1, want +1"
echo "TcpExtTCPAbortOnClose $abort0 -> $abort1"
call "$P" close 3
expect '^close\(3\) = 0$'
call "$P" exit 0
expect '^exit\(0\) = 0$'

step "3. proc kill instead of close, nothing unread: FIN"
P=$(spawn server3)
listen_and_accept "$P" 9003
peer 9003 "idle" c3
call "$P" accept 3 --wait_ms=5000
expect '= 4$'
call "$P" recv 4 100 --wait_ms=5000
expect '^recv\(4, "idle", 100\) = 4$'
call "$P" send 4 "bye"
expect '= 3$'
ctl proc kill "$P" | tee "$WORK/kill3" || die "proc kill $P"
grep -qE "^closed: 5 fds, 2 sockets released, 0 still shared; 1 FIN, 0 RST, 1 orphans, " "$WORK/kill3" ||
  die "proc kill did not report 2 sockets and 1 FIN"
peer_result c3
grep -q '"received": "bye", "end": "EOF"' "$WORK/c3.out" || die "the client did not see bye and a FIN"
call "$P" socket
expect '= -1 ESRCH'

step "4. proc kill with unread data: RST"
P=$(spawn server4)
listen_and_accept "$P" 9004
peer 9004 "unread bytes" c4
call "$P" accept 3 --wait_ms=5000
expect '= 4$'
call "$P" recv 4 6 --wait_ms=5000
expect '^recv\(4, "unread", 6\) = 6$'
ctl proc kill "$P" | tee "$WORK/kill4" || die "proc kill $P"
grep -qE "^closed: 5 fds, 2 sockets released, 0 still shared; 0 FIN, 1 RST, " "$WORK/kill4" ||
  die "proc kill did not report 2 sockets and 1 RST"
peer_result c4
grep -q '"end": "ECONNRESET"' "$WORK/c4.out" || die "the client saw no reset"

dpx_stop
echo "PASS"
