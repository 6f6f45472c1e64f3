#!/usr/bin/env bash
# dpx and dpxctl over the control socket (real binaries, dpx on TAP in a
# namespace of the test's own, two lcores):
#   1. the socket is mode 0600 in a 0700 directory; a second dpx on the same
#      path is refused before it starts anything ("in use by ... pid");
#   2. proc spawn; the Linux side opens a connection to dpx's echo port and
#      `conns` shows it ESTAB with the right addresses; conns -s counts it;
#   3. stats: a counter moved (TcpPassiveOpens), -d shows the delta since
#      the previous `dpxctl stats`, and only that;
#   4. sysctl -w then get reads it back on every core; bad values (out of
#      range, not a number, unknown name) are refused and change nothing;
#   5. proc kill of a spawned process holding a listener and an accepted
#      connection reports what it closed (5 fds, 2 sockets, a FIN) and the
#      Linux peer sees the FIN;
#   6. kill LOCAL PEER (ss -K) resets a connection: the Linux peer sees
#      ECONNRESET;
#   7. malformed requests -- bad JSON, not an object, unknown command, wrong
#      argument types, missing arguments, unknown pid -- are refused (non-zero
#      exit, an error line) and dpx still answers afterwards;
#   8. dpxctl's exit codes: 2 for usage errors, 3 when nothing listens;
#   9. DPDK telemetry answers /dpx/stats, /dpx/sockstat, /dpx/ports and
#      /dpx/procs with the same data;
#  10. dpx stops cleanly and removes its socket.
# Usage: dpxctl_test.sh DPX DPXCTL TCP_PEER
set -uo pipefail

DPX=$1
DPXCTL=$2
PEER=$3
. "$(dirname "$0")/lib.sh"
dpx_require_root
dpx_setup ctl
ECHO=7007

ctl() { "$DPXCTL" --socket="$CTL_SOCK" "$@"; }
# run WANT_RC DESCRIPTION dpxctl-args...: output in $WORK/c.out, $WORK/c.err
run() {
  local want=$1 what=$2
  shift 2
  ctl "$@" >"$WORK/c.out" 2>"$WORK/c.err"
  local rc=$?
  if [ "$rc" -ne "$want" ]; then
    echo "---- stdout"; cat "$WORK/c.out"; echo "---- stderr"; cat "$WORK/c.err"
    die "$what: dpxctl $* exited $rc, want $want"
  fi
  echo "ok: $what (exit $rc)"
}
json_get() { python3 -c "import json,sys; d=json.loads(sys.stdin.readlines()[-1]); print($1)"; }

dpx_start "$DPX" --run-seconds=200 --lcores=0-1 --echo-port=$ECHO
dpx_linux_up
ip netns exec "$NS" ping -c 1 -W 2 "$DPX_IP" >/dev/null || die "dpx does not answer ping"

step "control socket: mode 0600, directory 0700"
[ -S "$CTL_SOCK" ] || die "no socket at $CTL_SOCK"
mode=$(stat -c %a "$CTL_SOCK")
[ "$mode" = 600 ] || die "socket mode $mode, want 600"
dmode=$(stat -c %a "$(dirname "$CTL_SOCK")")
[ "$dmode" = 700 ] || die "socket directory mode $dmode, want 700"
echo "socket $mode, directory $dmode"

step "a second dpx on the same socket is refused before it starts"
ip netns exec "$NS" "$DPX" --tap-iface="${IFACE}b" --ip="$NET.9/24" --gateway="$LINUX_IP" \
  --file-prefix="${PREFIX}b" \
  --ctl-socket="$CTL_SOCK" --run-seconds=5 >"$WORK/second.out" 2>"$WORK/second.err" </dev/null
rc=$?
cat "$WORK/second.err" | tail -2
[ "$rc" -eq 1 ] || die "second dpx exited $rc, want 1"
grep -q "in use by a running dpx (pid $DPX_PID)" "$WORK/second.err" ||
  die "second dpx's error does not name the running one (pid $DPX_PID)"
[ -S "$CTL_SOCK" ] || die "the second dpx removed the first one's socket"
rm -rf "/var/run/dpdk/${PREFIX}b"

run 0 "info" info
cat "$WORK/c.out"
grep -q "lcores: 0 1 (2 cores)" "$WORK/c.out" || die "info does not show two lcores"

step "proc spawn"
run 0 "proc spawn" proc spawn web
cat "$WORK/c.out"
WEB=$(awk '{print $2}' "$WORK/c.out")
[[ "$WEB" =~ ^[0-9]+$ ]] || die "no pid from proc spawn"
run 0 "proc list" proc list
cat "$WORK/c.out"
grep -qE "^$WEB +1 +web +running +0 +3 " "$WORK/c.out" || die "proc list does not show $WEB with 3 fds"

step "stats baseline, then a Linux connection to the echo port"
run 0 "stats (baseline for -d)" stats
opens0=$(awk '$1 == "TcpPassiveOpens" {print $2}' "$WORK/c.out")
ip netns exec "$NS" python3 "$PEER" "$DPX_IP" $ECHO --hold --timeout=60 \
  --name-file="$WORK/held" >"$WORK/held.out" 2>&1 &
HELD=$!
for _ in $(seq 50); do [ -s "$WORK/held" ] && break; sleep 0.1; done
[ -s "$WORK/held" ] || die "the Linux client did not connect"
HELD_LOCAL=$(cat "$WORK/held")
echo "Linux client $HELD_LOCAL -> $DPX_IP:$ECHO"

step "conns shows it ESTAB with the right addresses"
found=""
for _ in $(seq 30); do
  run 0 "conns" conns state established
  if grep -qE "^ESTAB +0 +0 +$DPX_IP:$ECHO +$HELD_LOCAL " "$WORK/c.out"; then found=1; break; fi
  sleep 0.1
done
cat "$WORK/c.out"
[ -n "$found" ] || die "conns does not show ESTAB $DPX_IP:$ECHO $HELD_LOCAL"
run 0 "conns --json" --json conns -a
grep -q "\"peer\":\"$HELD_LOCAL\"" "$WORK/c.out" || die "conns --json has no row for $HELD_LOCAL"
tail -1 "$WORK/c.out" | grep -q '"ok":true' || die "conns --json does not end with ok"
run 0 "conns -l" conns -l
grep -qE "^LISTEN .* 0\.0\.0\.0:$ECHO " "$WORK/c.out" || die "conns -l shows no echo listener"
grep -q ESTAB "$WORK/c.out" && die "conns -l shows an established connection"
run 0 "conns -s" conns -s
cat "$WORK/c.out"
grep -qE "^TCP: +[0-9]+ \(estab 1," "$WORK/c.out" || die "conns -s does not count 1 established"
run 1 "conns with a bad filter" conns state nonsense
cat "$WORK/c.err"

step "stats: counters moved; -d shows the change since the last call"
run 0 "stats -d" stats -d
cat "$WORK/c.out"
d_opens=$(awk '$1 == "TcpPassiveOpens" {print $2}' "$WORK/c.out")
[ "${d_opens:-0}" -eq 1 ] || die "stats -d: TcpPassiveOpens moved by '${d_opens:-0}', want 1"
grep -q "^sockstat: TCP: inuse" "$WORK/c.out" || die "stats has no sockstat line"
grep -qE "^port0 \(" "$WORK/c.out" || die "stats has no port line"
run 0 "stats" stats
opens1=$(awk '$1 == "TcpPassiveOpens" {print $2}' "$WORK/c.out")
[ "$opens1" -eq $(( ${opens0:-0} + 1 )) ] || die "TcpPassiveOpens $opens1, want ${opens0:-0} + 1"
run 0 "stats -d right after" stats -d TcpPassiveOpens
grep -q TcpPassiveOpens "$WORK/c.out" && die "stats -d shows TcpPassiveOpens moving again"
run 0 "stats -a" stats -a
grep -qE "^TcpExtTCPAbortOnClose +0$" "$WORK/c.out" || die "stats -a hides zero counters"
run 0 "stats --json" --json stats
[ "$(json_get 'd["result"]["counters"]["TcpPassiveOpens"]' <"$WORK/c.out")" = "$opens1" ] ||
  die "stats --json disagrees"

step "sysctl: set, read back on every core; bad values refused, nothing changed"
run 0 "sysctl list" sysctl
grep -qE "^net.ipv4.tcp_fin_timeout = 60 +# " "$WORK/c.out" || die "sysctl list lacks tcp_fin_timeout = 60 with help"
run 0 "sysctl -w" sysctl -w net.ipv4.tcp_fin_timeout=17
grep -qx "net.ipv4.tcp_fin_timeout = 17" "$WORK/c.out" || die "sysctl -w did not print the new value"
run 0 "sysctl get" sysctl net.ipv4.tcp_fin_timeout
grep -qx "net.ipv4.tcp_fin_timeout = 17" "$WORK/c.out" || die "sysctl get does not read 17 back"
run 0 "sysctl get --json" --json sysctl net.ipv4.tcp_fin_timeout
[ "$(json_get '",".join(d["result"]["per_core"])' <"$WORK/c.out")" = "17,17" ] ||
  die "not every core has 17: $(cat "$WORK/c.out")"
run 0 "sysctl -w a vector" sysctl -w "net.ipv4.tcp_rmem=4096 65536 1048576"
run 0 "sysctl get a vector" sysctl net.ipv4.tcp_rmem
grep -qxP "net.ipv4.tcp_rmem = 4096\t65536\t1048576" "$WORK/c.out" || die "tcp_rmem not read back"
for bad in "net.ipv4.tcp_fin_timeout=0" "net.ipv4.tcp_fin_timeout=abc" \
           "net.ipv4.tcp_fin_timeout=" "net.ipv4.tcp_rmem=1 2" "net.ipv4.tcp_rmem=3 2 1" \
           "net.ipv4.no_such_thing=1"; do
  run 1 "sysctl -w '$bad' refused" sysctl -w "$bad"
  cat "$WORK/c.err"
done
run 2 "sysctl -w without =" sysctl -w net.ipv4.tcp_fin_timeout
run 0 "sysctl get after refusals" --json sysctl net.ipv4.tcp_fin_timeout
[ "$(json_get '",".join(d["result"]["per_core"])' <"$WORK/c.out")" = "17,17" ] ||
  die "a refused value changed something: $(cat "$WORK/c.out")"
run 0 "sysctl get tcp_rmem after refusals" sysctl net.ipv4.tcp_rmem
grep -qxP "net.ipv4.tcp_rmem = 4096\t65536\t1048576" "$WORK/c.out" || die "tcp_rmem changed"
run 0 "sysctl -w back" sysctl -w net.ipv4.tcp_fin_timeout=60 "net.ipv4.tcp_rmem=4096 131072 33554432"

step "proc kill of a process holding a listener and a connection"
run 0 "socket" proc call "$WEB" socket
grep -q "= 3$" "$WORK/c.out" || die "socket() did not return 3: $(cat "$WORK/c.out")"
run 0 "bind" proc call "$WEB" bind 3 "$DPX_IP:8080"
run 0 "listen" proc call "$WEB" listen 3 16
# The listener lives on web's core (0); with two lcores a SYN RSS steers to
# core 1 is refused there, so the client tries again from another port.
ip netns exec "$NS" python3 "$PEER" "$DPX_IP" 8080 --timeout=20 --retry-refused=30 \
  >"$WORK/web.out" 2>&1 &
WEBPEER=$!
run 0 "accept (waits)" proc call "$WEB" accept 3 --wait_ms=5000
grep -q "= 4$" "$WORK/c.out" || die "accept did not return 4: $(cat "$WORK/c.out")"
run 0 "proc show" proc show "$WEB"
cat "$WORK/c.out"
grep -qE "^3 +socket +0 +1 +LISTEN " "$WORK/c.out" || die "proc show: fd 3 is not the listener"
grep -qE "^4 +socket +0 +1 +ESTAB .* $DPX_IP:8080 " "$WORK/c.out" || die "proc show: fd 4 is not ESTAB"
run 0 "conns pid" conns pid "$WEB"
grep -q "users:((\"web\",pid=$WEB,fd=4))" "$WORK/c.out" || die "conns does not show web's fd 4"
run 0 "proc kill" proc kill "$WEB"
cat "$WORK/c.out"
grep -qE "^process $WEB \(web\) killed by signal 9" "$WORK/c.out" || die "proc kill: no exit line"
grep -qE "^closed: 5 fds, 2 sockets released, 0 still shared; 1 FIN, 0 RST, 1 orphans, 0 TIME_WAIT$" \
  "$WORK/c.out" || die "proc kill did not report 5 fds, 2 sockets, 1 FIN, 1 orphan"
wait "$WEBPEER"
cat "$WORK/web.out"
grep -q '"end": "EOF"' "$WORK/web.out" || die "the Linux peer of the killed process saw no FIN"
run 0 "proc list after kill" proc list
grep -qE "^$WEB +1 +web +dead " "$WORK/c.out" || die "proc list does not show $WEB dead"
run 1 "proc kill of a dead process" proc kill "$WEB"
cat "$WORK/c.err"
grep -q "is dead already" "$WORK/c.err" || die "killing a dead process: wrong error"

step "kill LOCAL PEER resets a connection (ss -K)"
ip netns exec "$NS" python3 "$PEER" "$DPX_IP" $ECHO --send=ping --timeout=20 \
  --name-file="$WORK/victim" >"$WORK/victim.out" 2>&1 &
VICTIM=$!
for _ in $(seq 50); do [ -s "$WORK/victim" ] && break; sleep 0.1; done
sleep 0.3
run 0 "kill" kill "$DPX_IP:$ECHO" "$(cat "$WORK/victim")"
cat "$WORK/c.out"
wait "$VICTIM"
cat "$WORK/victim.out"
grep -q '"end": "ECONNRESET"' "$WORK/victim.out" || die "the killed connection's peer saw no RST"
run 1 "kill of a connection that does not exist" kill "$DPX_IP:$ECHO" "$LINUX_IP:1"

step "malformed requests are refused; dpx keeps answering"
python3 - "$CTL_SOCK" >"$WORK/raw.out" 2>&1 <<'PY' || die "raw protocol checks failed: $(cat "$WORK/raw.out")"
import json, socket, sys
path = sys.argv[1]
cases = [
    (b'{bad json\n', "usage", "malformed JSON"),
    (b'[1, 2]\n', "usage", "JSON object"),
    (b'"stats"\n', "usage", "JSON object"),
    (b'{"args": {}}\n', "usage", 'no "cmd"'),
    (b'{"cmd": 5}\n', "usage", "must be a string"),
    (b'{"cmd": "nope"}\n', "usage", "unknown command 'nope'"),
    (b'{"cmd": "stats", "args": []}\n', "usage", "must be an object"),
    (b'{"cmd": "stats", "args": {"x": 1}}\n', "usage", "unknown argument 'x'"),
    (b'{"cmd": "proc.show", "args": {"pid": "100"}}\n', "usage", "must be an integer, not string"),
    (b'{"cmd": "proc.show", "args": {}}\n', "usage", "missing argument 'pid'"),
    (b'{"cmd": "proc.show", "args": {"pid": 999999}}\n', "not_found", "no process 999999"),
    (b'{"cmd": "proc.kill", "args": {"pid": 999999}}\n', "not_found", "no process 999999"),
    (b'{"cmd": "proc.call", "args": {"pid": 999999, "call": ["socket"]}}\n', "not_found", "no process"),
    (b'{"cmd": "proc.call", "args": {"pid": 1, "call": "socket"}}\n', "usage", "array of strings"),
    (b'{"cmd": "proc.spawn", "args": {"name": "x", "core": 7}}\n', "usage", "not in 0..1"),
    (b'{"cmd": "sysctl.set", "args": {"name": "net.ipv4.tcp_fin_timeout", "value": 5}}\n', "usage", "must be a string"),
    (b'{"cmd": "sysctl.get", "args": {"name": "nope"}}\n', "not_found", "unknown sysctl"),
    (b'{"cmd": "conns", "args": {"filter": "state"}}\n', "usage", "array of strings"),
    (b'{"cmd": "kill", "args": {"local": "1.2.3", "peer": "*:*"}}\n', "usage", "bad local address"),
]
bad = 0
s = socket.socket(socket.AF_UNIX)
s.connect(path)
f = s.makefile("rb")
for req, code, text in cases:
    s.sendall(req)        # all on one connection: an error does not end it
    line = f.readline()
    try:
        r = json.loads(line)
    except ValueError:
        print("NOT JSON:", line); bad += 1; continue
    ok = r.get("ok") is False and r.get("code") == code and text in r.get("error", "")
    print("ok  " if ok else "BAD ", req.decode().strip(), "->", line.decode().strip())
    bad += not ok
s.sendall(b'{"cmd": "info"}\n')
r = json.loads(f.readline())
print("info after the errors:", "ok" if r.get("ok") else r)
bad += not r.get("ok")
sys.exit(1 if bad else 0)
PY
cat "$WORK/raw.out"
run 1 "raw unknown command" raw '{"cmd": "nope"}'
run 1 "unknown pid" proc show 999999
run 1 "proc call of an unknown pid" proc call 999999 socket
run 2 "unknown subcommand" frobnicate
run 2 "unknown flag" stats --frob
run 2 "flag of another command" conns --wait_ms=5
run 2 "bad syscall" proc call 100 bind 3 nowhere
run 2 "bad pid" proc show abc
"$DPXCTL" --socket="$WORK/nothing.sock" info >/dev/null 2>"$WORK/c.err"
rc=$?
[ "$rc" -eq 3 ] || die "dpxctl against no socket exited $rc, want 3"
echo "ok: no dpx there -> exit 3: $(cat "$WORK/c.err")"
run 0 "info still answers" info
ip netns exec "$NS" ping -c 1 -W 2 "$DPX_IP" >/dev/null || die "dpx stopped answering ping"

step "DPDK telemetry: the same counters, sockstat, ports and processes under /dpx/"
TEL=/var/run/dpdk/$PREFIX/dpdk_telemetry.v2
if [ -S "$TEL" ]; then
  python3 - "$TEL" "$WEB" >"$WORK/tel.out" 2>&1 <<'PY' || die "telemetry: $(cat "$WORK/tel.out")"
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(sys.argv[1])
json.loads(s.recv(16384))  # the greeting
def ask(cmd):
    s.send(cmd.encode())
    return json.loads(s.recv(1 << 16))[cmd.split(",")[0]]
stats, ss, ports, procs = ask("/dpx/stats"), ask("/dpx/sockstat"), ask("/dpx/ports"), ask("/dpx/procs")
print("TcpPassiveOpens", stats.get("TcpPassiveOpens"), "sockstat", ss, "ports", list(ports), "procs", procs)
assert stats.get("TcpPassiveOpens", 0) >= 3, stats
assert ss["inuse"] >= 2, ss
assert "0" in ports and ports["0"]["rx_packets"] > 0, ports
assert procs[sys.argv[2]]["name"] == "web" and procs[sys.argv[2]]["state"] == "dead", procs
PY
  cat "$WORK/tel.out"
else
  echo "no telemetry socket at $TEL (EAL telemetry off); skipped"
fi

kill "$HELD" 2>/dev/null
dpx_stop
[ -e "$CTL_SOCK" ] && die "dpx left its control socket behind"
echo "control socket removed at exit"
echo "PASS"
