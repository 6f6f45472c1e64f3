#!/usr/bin/env bash
# The proxy's workers and its configuration at run time, Linux peers on
# both sides (dpx on a TAP in a namespace of the test's own, $PROXY_LCORES lcores):
#   1. worker killed mid-transfer (`dpxctl proc kill` of every proxy
#      worker) -- each peer sees what Linux would show it:
#      A. a client pushing into a backend that reads nothing: the proxy's
#         client socket holds unread data -> the client is reset; the
#         backend, once it reads, gets every byte the proxy had queued and
#         then EOF;
#      B. a client that pauses while downloading: the proxy's backend socket
#         holds unread data -> the backend is reset; the client gets what
#         was queued toward it, then EOF;
#      C. an idle session: EOF on both sides;
#      then each worker is restarted with a new pid and new connections work;
#   2. config reload under load: downloads running through the reload
#      finish byte-exact; a backend the reload adds receives new sessions;
#   3. a bad reload is refused (exit 1, the error names the line) and
#      nothing changes.
# Usage: proxy_kill_reload_test.sh DPX DPXCTL PROXY_PEER
set -uo pipefail

DPX=$1
DPXCTL=$2
PEER=$3
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/proxy_common.sh"
dpx_require_root
dpx_setup pk

write_config() {  # BACKENDS-TOML-ARRAY-BODY
  cat >"$WORK/proxy.toml" <<EOF
[[frontend]]
name = "main"
listen = "$DPX_IP:8080"
pool = "web"

[[pool]]
name = "web"
backends = [$1]
EOF
}
TWO="{ address = \"$NET.20:9000\", name = \"b20\" }, { address = \"$NET.21:9000\", name = \"b21\" }"
write_config "$TWO"

dpx_start "$DPX" --run-seconds=600 --lcores="$PROXY_LCORES" --proxy-config="$WORK/proxy.toml"
proxy_linux_setup
backend_start b20 "$NET.20:9000"
backend_start b21 "$NET.21:9000"
wait_listen 8080
expect_ok "before anything: 20 requests" many 8080 --n=20

step "worker killed mid-transfer"
rm -f "$WORK/go"
peer push 8080 --tag=kA --stall=10 --timeout=60 --expect-end=ECONNRESET >"$WORK/A.out" 2>&1 &
A=$!
peer pullpaused 8080 --tag=kB --n=$((200 << 20)) --seed=21 --ready-file="$WORK/B.ready" \
  --go-file="$WORK/go" --expect-end=EOF >"$WORK/B.out" 2>&1 &
B=$!
peer idle 8080 --tag=kC --ready-file="$WORK/C.ready" --go-file="$WORK/go" --expect-end=EOF \
  >"$WORK/C.out" 2>&1 &
C=$!
for _ in $(seq 100); do [ -s "$WORK/B.ready" ] && [ -s "$WORK/C.ready" ] && break; sleep 0.05; done
[ -s "$WORK/B.ready" ] && [ -s "$WORK/C.ready" ] || die "clients B and C did not connect"
sleep 2   # A's and B's queues fill up
ctl conns
old=$(pshow '" ".join(str(w["pid"]) for w in sorted(d["workers"], key=lambda w: w["core"]))')
echo "workers before: $old"
[ "$(wc -w <<<"$old")" -eq "$PROXY_NCORES" ] || die "expected $PROXY_NCORES workers, seen '$old'"
for pid in $old; do
  ctl proc kill "$pid" >"$WORK/kill.out" 2>&1 || die "proc kill $pid: $(cat "$WORK/kill.out")"
  cat "$WORK/kill.out"
done
touch "$WORK/go"
for x in A B C; do
  eval "wait \$$x"; rc=$?
  echo "client $x: $(cat "$WORK/$x.out")"
  [ "$rc" -eq 0 ] || die "worker killed, client $x: $(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print("expected", d.get("expected"), "| seen", d.get("seen"))' "$(tail -1 "$WORK/$x.out")" 2>/dev/null || cat "$WORK/$x.out")"
done
# Backends: B's was reset (the proxy's backend socket had unread data); C's
# got EOF; A's reads (after its stall) every byte queued and then EOF.
found() { cat "$WORK/b20.log" "$WORK/b21.log" | grep "\"$1\""; }
for _ in $(seq 300); do
  [ -n "$(found kA)" ] && [ -n "$(found kB)" ] && [ -n "$(found kC)" ] && break
  sleep 0.1
done
echo "A's backend: $(found kA)"; echo "B's backend: $(found kB)"; echo "C's backend: $(found kC)"
found kB | grep -qE '"end": "(ECONNRESET|EPIPE)"' ||
  die "worker killed, B: expected B's backend to be reset (ECONNRESET/EPIPE), seen: $(found kB)"
found kC | grep -q '"end": "EOF"' || die "worker killed, C: expected C's backend to see EOF, seen: $(found kC)"
found kA | grep -q '"end": "EOF"' ||
  die "worker killed, A: expected A's backend to read what was queued, then EOF; seen: $(found kA)"

step "the workers come back with new pids; new connections work"
new=""
for _ in $(seq 100); do
  new=$(pshow '" ".join(str(w["pid"]) for w in sorted(d["workers"], key=lambda w: w["core"]))' 2>/dev/null)
  if [ "$(wc -w <<<"$new")" -eq "$PROXY_NCORES" ]; then
    same=""
    for p in $new; do grep -qw "$p" <<<"$old" && same=1; done
    [ -z "$same" ] && break
  fi
  sleep 0.1
done
echo "workers after: $new"
ctl proc list
for p in $new; do grep -qw "$p" <<<"$old" && die "expected new worker pids (old: $old), seen $new"; done
[ "$(wc -w <<<"$new")" -eq "$PROXY_NCORES" ] || die "expected $PROXY_NCORES workers after the restart, seen '$new'"
for p in $new; do
  ctl proc list | grep -qE "^$p +[0-9]+ +proxy-w[01] +running" || die "proc list: worker $p is not running"
done
wait_listen 8080
expect_ok "after the restart: 40 requests" many 8080 --n=40

step "config reload under load: 2 downloads held open across the reload"
rm -f "$WORK/go2"
for i in 1 2; do
  peer download 8080 --n=$((30 << 20)) --seed=$((30 + i)) --go-file="$WORK/go2" \
    --ready-file="$WORK/dl$i.ready" --timeout=120 >"$WORK/dl$i.out" 2>&1 &
  eval "DL$i=\$!"
done
for _ in $(seq 100); do [ -s "$WORK/dl1.ready" ] && [ -s "$WORK/dl2.ready" ] && break; sleep 0.05; done
[ -s "$WORK/dl1.ready" ] && [ -s "$WORK/dl2.ready" ] || die "the downloads did not start"
backend_start b22 "$NET.22:9000"
write_config "$TWO, { address = \"$NET.22:9000\", name = \"b22\" }"
ctl proxy reload >"$WORK/reload.out" 2>&1; rc=$?
cat "$WORK/reload.out"
[ "$rc" -eq 0 ] || die "reload adding b22: expected exit 0, seen $rc"
[ "$(pshow '[b["name"] for p in d["pools"] for b in p["backends"]]')" = "['b20', 'b21', 'b22']" ] ||
  die "after the reload: expected backends b20 b21 b22, seen $(pshow '[b["name"] for p in d["pools"] for b in p["backends"]]')"
expect_ok "30 requests after the reload" many 8080 --n=30
cp "$WORK/last.out" "$WORK/after.out"
n22=$(tail -1 "$WORK/after.out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["names"].get("b22",0))')
s22=$(pshow 'be["b22"]["sessions"]')
echo "b22 answered $n22 requests; proxy show b22 sessions $s22"
[ "$n22" -ge 1 ] || die "reload: expected the new backend b22 to receive new sessions, seen $n22 of 30"
[ "$s22" -eq "$n22" ] || die "reload: proxy show b22 sessions $s22, clients saw $n22"

step "a bad reload is refused, nothing changes"
pshow 'json.dumps({"f": [(f["name"], f["listen"], f["pool"], f["balance"]) for f in d["frontends"]], "p": [(p["name"], [(b["name"], b["address"], b["weight"]) for b in p["backends"]]) for p in d["pools"]]})' \
  >"$WORK/shape.before"
cat >"$WORK/bad.toml" <<EOF
[[frontend]]
name = "main"
listen = "$DPX_IP:8080"
pool = "web"
balance = "random"

[[pool]]
name = "web"
backends = [{ address = "$NET.21:9000", name = "b21" }]
EOF
ctl proxy reload "$WORK/bad.toml" >"$WORK/bad.out" 2>&1; rc=$?
cat "$WORK/bad.out"
[ "$rc" -eq 1 ] || die "bad reload: expected exit 1, seen $rc"
grep -qE "bad\.toml:5:[0-9]+: .*balance" "$WORK/bad.out" ||
  die "bad reload: expected an error naming bad.toml line 5 and 'balance', seen: $(cat "$WORK/bad.out")"
pshow 'json.dumps({"f": [(f["name"], f["listen"], f["pool"], f["balance"]) for f in d["frontends"]], "p": [(p["name"], [(b["name"], b["address"], b["weight"]) for b in p["backends"]]) for p in d["pools"]]})' \
  >"$WORK/shape.after"
cmp -s "$WORK/shape.before" "$WORK/shape.after" ||
  die "bad reload changed the config: expected $(cat "$WORK/shape.before"), seen $(cat "$WORK/shape.after")"
expect_ok "30 requests after the bad reload" many 8080 --n=30
tail -1 "$WORK/last.out" | python3 -c 'import json,sys; n=json.load(sys.stdin)["names"]; sys.exit(0 if n.get("b22",0) >= 1 and set(n) <= {"b20","b21","b22"} else 1)' ||
  die "bad reload: expected b20/b21/b22 to keep answering (b22 included), seen $(tail -1 "$WORK/last.out")"

step "the downloads held across both reloads finish byte-exact"
touch "$WORK/go2"
for i in 1 2; do
  eval "wait \$DL$i"; rc=$?
  echo "download $i: $(cat "$WORK/dl$i.out")"
  [ "$rc" -eq 0 ] || die "download $i across the reload: $(cat "$WORK/dl$i.out")"
done

dpx_stop
echo "PASS"
