# Shared by the proxy integration tests (proxy_*_test.sh); source after
# lib.sh, with DPX, DPXCTL and PEER (proxy_peer.py) set.
#   proxy_linux_setup             # backend addresses $NET.20 .. $NET.22 on the Linux side
#   backend_start NAME ADDR:PORT..# a proxy_peer.py server in NS, log $WORK/NAME.log
#   peer MODE PORT [args]         # a proxy_peer.py client in NS to $DPX_IP:PORT
#   expect_ok WHAT MODE PORT ...  # runs peer, dies with expected/seen unless it is ok;
#                                 # its output also in $WORK/last.out
#   ctl ARGS                      # dpxctl on this test's socket
#   pshow EXPR                    # evaluates EXPR over `dpxctl proxy show --json`:
#                                 # d (the result), fe["name"], be["backend name"]
#   wait_log NAME PYCOND          # waits (30 s) for a line of NAME's log with PYCOND true (r: the line)

# lcores for dpx. One by default: on this TAP (no multiq qdisc, so the TAP
# PMD's rte_flow RSS is disabled) the queue the kernel picks for a backend's
# SYN-ACK is not the one dpx's RSS-aware port picker computed, and with two
# lcores about half the proxy's backend connects time out (see
# proxy_multicore_test.sh, which runs two). DPX_PROXY_LCORES=0-1 overrides.
PROXY_LCORES=${DPX_PROXY_LCORES:-0}
PROXY_NCORES=$(python3 -c 'import sys; n=0
for p in sys.argv[1].split(","):
    a, _, b = p.partition("-"); n += int(b or a) - int(a) + 1
print(n)' "$PROXY_LCORES")

ctl() { "$DPXCTL" --socket="$CTL_SOCK" "$@"; }

proxy_linux_setup() {
  dpx_linux_up
  local i
  for i in 20 21 22; do dpx_linux_addr "$NET.$i"; done
  ip netns exec "$NS" ping -c 1 -W 2 "$DPX_IP" >/dev/null || die "dpx does not answer ping"
}

BACKEND_PIDS=""
backend_start() {
  local name=$1; shift
  local args=() l
  for l in "$@"; do args+=(--listen "$l"); done
  : >"$WORK/$name.log"
  ip netns exec "$NS" python3 "$PEER" serve --name "$name" "${args[@]}" --log "$WORK/$name.log" \
    >"$WORK/$name.out" 2>&1 &
  BACKEND_PIDS="$BACKEND_PIDS $!"
  disown $!   # killed with the namespace at exit, quietly
  for _ in $(seq 100); do grep -q serving "$WORK/$name.out" && return 0; sleep 0.05; done
  cat "$WORK/$name.out"
  die "backend $name did not start on $*"
}

peer() {
  local mode=$1 port=$2; shift 2
  ip netns exec "$NS" timeout 300 python3 "$PEER" "$mode" "$DPX_IP" "$port" "$@"
}

expect_ok() {
  local what=$1; shift
  local o
  o=$(peer "$@")
  local rc=$?
  echo "$o" | tee "$WORK/last.out"
  [ "$rc" -eq 0 ] || { echo "---- dpxctl proxy show"; ctl proxy show; echo "---- dpxctl stats"; ctl stats; }
  [ "$rc" -eq 0 ] || die "$what: $(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print("expected", d.get("expected"), "| seen", d.get("seen"))' "$(tail -1 <<<"$o")" 2>/dev/null || echo "client exited $rc: $o")"
  echo "ok: $what"
}

# The last JSON line of `dpxctl --json proxy show`, its result.
proxy_show_json() {
  ctl --json proxy show >"$WORK/show.json" 2>"$WORK/show.err" ||
    ctl proxy show --json >"$WORK/show.json" 2>"$WORK/show.err" ||
    die "dpxctl proxy show --json failed: $(cat "$WORK/show.err")"
}

pshow() {
  proxy_show_json
  python3 - "$WORK/show.json" "$1" <<'PY'
import json, sys
lines = [l for l in open(sys.argv[1]) if l.strip().startswith("{")]
d = json.loads(lines[-1])
d = d.get("result", d)
fe = {f["name"]: f for f in d.get("frontends", [])}
be = {}
for p in d.get("pools", []):
    for b in p.get("backends", []):
        be.setdefault(b["name"], b)
print(eval(sys.argv[2]))
PY
}

wait_log() {
  local name=$1 cond=$2
  for _ in $(seq 300); do
    python3 - "$WORK/$name.log" "$cond" <<'PY' && return 0
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if eval(sys.argv[2]):
        print("backend log:", l.strip())
        sys.exit(0)
sys.exit(1)
PY
    sleep 0.1
  done
  echo "---- $name's log"; cat "$WORK/$name.log"
  return 1
}

# Waits until `dpxctl conns -l` shows a listener on PORT on every core.
wait_listen() {
  local port=$1
  for _ in $(seq 100); do
    ctl conns -l 2>/dev/null | grep -qE "LISTEN .*:$port " && return 0
    sleep 0.1
  done
  ctl conns -l
  die "no proxy listener on port $port"
}
