#!/usr/bin/env bash
# The proxy's data path with real Linux peers on both sides: dpx on a TAP in
# a namespace of the test's own ($PROXY_LCORES lcores, see proxy_common.sh), Linux
# clients from $NET.1, Linux backends (proxy_peer.py servers) on $NET.20 and
# $NET.21 (distinct hosts to dpx):
#   1. many small requests: 500 short connections, all answered, round
#      robin across both backends (what the clients saw and proxy show agree);
#   2. 100 MB each way, SHA-256 compared;
#   3. half-close: the client shuts its write side, still reads the whole
#      response;
#   4. backend closes first: the client sees EOF after all the data; after
#      a backend's SHUT_WR the client's direction still reaches it;
#   5. client RST -> the backend sees ECONNRESET; backend RST -> the client
#      sees ECONNRESET;
#   6. backend down (refused): the client is reset (on_backend_failure =
#      "reset") or closed ("close"), connect_failures counted;
#   7. black-holed backend (nftables drops its SYNs): connect timeouts, then
#      retries to the other backend: every client answered;
#   8. slow reader of 50 MB: dpx's queues for the session stay under the
#      backpressure bound and dpx's RSS grows by less than 64 MiB;
#   9. at the end no session is left active.
# Usage: proxy_test.sh DPX DPXCTL PROXY_PEER
set -uo pipefail

DPX=$1
DPXCTL=$2
PEER=$3
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/proxy_common.sh"
dpx_require_root
command -v nft >/dev/null || { echo "SKIP: nft not installed"; exit 77; }
dpx_setup px
HIGH=262144
RMEM_MAX=1048576

cat >"$WORK/proxy.toml" <<EOF
[proxy]
sndbuf_high_water = $HIGH

[[frontend]]
name = "main"
listen = "$DPX_IP:8080"
pool = "two"
connect_timeout_ms = 2000

[[frontend]]
name = "down-reset"
listen = "$DPX_IP:8081"
pool = "dead"
connect_retries = 1
on_backend_failure = "reset"

[[frontend]]
name = "down-close"
listen = "$DPX_IP:8082"
pool = "dead"
connect_retries = 0
on_backend_failure = "close"

[[frontend]]
name = "blackhole"
listen = "$DPX_IP:8083"
pool = "hole"
connect_timeout_ms = 300
connect_retries = 2

[[pool]]
name = "two"
backends = [{ address = "$NET.20:9000", name = "b20" }, { address = "$NET.21:9000", name = "b21" }]

[[pool]]
name = "dead"
backends = [{ address = "$NET.20:9001", name = "dead20" }]

[[pool]]
name = "hole"
backends = [{ address = "$NET.22:9000", name = "hole22" }, { address = "$NET.21:9000", name = "b21h" }]
EOF

dpx_start "$DPX" --run-seconds=600 --lcores="$PROXY_LCORES" --proxy-config="$WORK/proxy.toml"
proxy_linux_setup
backend_start b20 "$NET.20:9000"
backend_start b21 "$NET.21:9000"
for p in 8080 8081 8082 8083; do wait_listen $p; done
ctl proc list
nworkers=$(pshow 'len(d["workers"])')
[ "$nworkers" -eq "$PROXY_NCORES" ] || die "proxy show: $nworkers workers, expected $PROXY_NCORES (one per lcore)"
for c in $(seq 0 $((PROXY_NCORES - 1))); do
  ctl proc list | grep -qE "proxy-w$c +running" || die "proc list: no running proxy-w$c"
done

step "many small requests: 500 short connections through frontend main"
s0=$(pshow 'fe["main"]["sessions"]'); b20_0=$(pshow 'be["b20"]["sessions"]'); b21_0=$(pshow 'be["b21"]["sessions"]')
expect_ok "500 short requests" many 8080 --n=500 --parallel=4
cp "$WORK/last.out" "$WORK/many.out"
read -r c20 c21 <<<"$(tail -1 "$WORK/many.out" | python3 -c 'import json,sys; n=json.load(sys.stdin)["names"]; print(n.get("b20",0), n.get("b21",0))')"
ds=$(( $(pshow 'fe["main"]["sessions"]') - s0 ))
d20=$(( $(pshow 'be["b20"]["sessions"]') - b20_0 )); d21=$(( $(pshow 'be["b21"]["sessions"]') - b21_0 ))
echo "clients saw b20 $c20, b21 $c21; proxy show: frontend +$ds sessions, b20 +$d20, b21 +$d21"
[ "$ds" -eq 500 ] || die "frontend main sessions moved by $ds, expected 500"
[ "$d20" -eq "$c20" ] && [ "$d21" -eq "$c21" ] ||
  die "proxy show backends (b20 +$d20, b21 +$d21) disagree with what clients saw (b20 $c20, b21 $c21)"
diff=$(( c20 > c21 ? c20 - c21 : c21 - c20 ))
# Round robin per core: each core's split is even to within one.
[ "$diff" -le "$PROXY_NCORES" ] ||
  die "round robin: b20 $c20 vs b21 $c21, expected within $PROXY_NCORES of each other ($PROXY_NCORES cores)"

step "100 MB each way, SHA-256 compared"
expect_ok "100 MB upload (client -> backend)" upload 8080 --n=$((100 << 20)) --seed=11 --timeout=120
expect_ok "100 MB download (backend -> client)" download 8080 --n=$((100 << 20)) --seed=12 --timeout=120

step "half-close: the client shuts its write side after 4 MB, reads a 16 MB response"
expect_ok "half-close" half 8080 --req=$((4 << 20)) --n=$((16 << 20)) --seed=13

step "backend closes first"
expect_ok "backend closes after 8 MB: client gets all of it, then EOF" download 8080 --n=$((8 << 20)) --seed=14
expect_ok "backend SHUT_WR after 1 MB: client reads to EOF, still sends" sourcehalf 8080 \
  --n=$((1 << 20)) --seed=15 --tag=sh1
wait_log b20 'r.get("tag") == "sh1" and r["received"] == "after-eof sh1\n" and r["end"] == "EOF"' ||
  wait_log b21 'r.get("tag") == "sh1" and r["received"] == "after-eof sh1\n" and r["end"] == "EOF"' ||
  die "backend SHUT_WR: expected the backend to receive 'after-eof sh1' then EOF; seen: see the logs above"

step "client RST: the backend sees ECONNRESET"
expect_ok "client resets" clientrst 8080 --tag=crst1
wait_log b20 'r.get("tag") == "crst1"' >/dev/null || wait_log b21 'r.get("tag") == "crst1"' >/dev/null ||
  die "client RST: the backend never reported the connection's end"
grep -h '"crst1"' "$WORK/b20.log" "$WORK/b21.log"
grep -h '"crst1"' "$WORK/b20.log" "$WORK/b21.log" | grep -q '"end": "ECONNRESET"' ||
  die "client RST: expected the backend to see ECONNRESET, seen $(grep -h '"crst1"' "$WORK/b20.log" "$WORK/b21.log")"
echo "ok: the backend saw ECONNRESET"

step "backend RST: the client sees ECONNRESET"
expect_ok "backend resets" read 8080 --send='RST\n' --expect-end=ECONNRESET

step "backend down (connection refused)"
f0=$(pshow 'be["dead20"]["connect_failures"]'); nb0=$(pshow 'fe["down-reset"]["no_backend"]')
expect_ok "on_backend_failure = reset: the client is reset" read 8081 --expect-end=ECONNRESET
expect_ok "on_backend_failure = close: the client gets EOF, no data" read 8082 --expect-end=EOF --expect-bytes=0
f1=$(pshow 'be["dead20"]["connect_failures"]'); nb1=$(pshow 'fe["down-reset"]["no_backend"]')
nbc=$(pshow 'fe["down-close"]["no_backend"]')
echo "dead20 connect_failures $f0 -> $f1; down-reset no_backend $nb0 -> $nb1; down-close no_backend $nbc"
# down-reset: 1 + connect_retries(1) = 2 attempts; down-close: 1.
[ $((f1 - f0)) -eq 3 ] || die "backend down: connect_failures moved by $((f1 - f0)), expected 3 (2 + 1 attempts)"
[ $((nb1 - nb0)) -eq 1 ] || die "backend down: down-reset no_backend moved by $((nb1 - nb0)), expected 1"
[ "$nbc" -eq 1 ] || die "backend down: down-close no_backend is $nbc, expected 1"

step "black-holed backend: nftables drops SYNs to $NET.22:9000"
ip netns exec "$NS" nft -f - <<NFT || die "nft: cannot install the black hole"
table inet dpxhole {
  chain in {
    type filter hook input priority 0;
    ip daddr $NET.22 tcp dport 9000 counter drop
  }
}
NFT
expect_ok "6 requests through the pool with the black hole" many 8083 --n=6 --parallel=1 --timeout=30
cp "$WORK/last.out" "$WORK/hole.out"
tail -1 "$WORK/hole.out" | grep -q '"names": {"b21": 6}' ||
  die "black hole: expected all 6 answered by b21, seen $(tail -1 "$WORK/hole.out")"
to=$(pshow 'be["hole22"]["connect_timeouts"]'); cf=$(pshow 'be["hole22"]["connect_failures"]')
hs=$(pshow 'be["b21h"]["sessions"]'); hsess=$(pshow 'be["hole22"]["sessions"]')
echo "hole22: connect_timeouts $to, connect_failures $cf, sessions $hsess; b21h sessions $hs"
[ "$to" -ge 1 ] || die "black hole: expected hole22 connect_timeouts >= 1 (round robin must pick it), seen $to"
[ "$cf" -ge "$to" ] || die "black hole: connect_failures $cf < connect_timeouts $to"
[ "$hsess" -eq 0 ] || die "black hole: hole22 has $hsess sessions, expected 0"
[ "$hs" -eq 6 ] || die "black hole: b21h sessions $hs, expected 6"
ip netns exec "$NS" nft delete table inet dpxhole

step "slow reader: 50 MB to a client that pauses 4 s, then reads at 16 MB/s"
ctl sysctl -w "net.ipv4.tcp_rmem=4096 131072 $RMEM_MAX" || die "sysctl tcp_rmem"
rss0=$(dpx_rss_kb)
peer slowread 8080 --n=$((50 << 20)) --seed=16 --pause=4 --rate=$((16 << 20)) \
  --ready-file="$WORK/slow.ready" --timeout=120 >"$WORK/slow.out" 2>&1 &
SLOW=$!
for _ in $(seq 100); do [ -s "$WORK/slow.ready" ] && break; sleep 0.05; done
[ -s "$WORK/slow.ready" ] || die "slow reader did not connect"
sleep 2.5
ctl --json conns >"$WORK/conns.json" || die "dpxctl conns"
rss1=$(dpx_rss_kb)
# Every ESTAB socket's queues: the session's client side (send) and backend side (receive).
qsum=$(python3 - "$WORK/conns.json" <<'PY'
import json, sys
t = 0
for l in open(sys.argv[1]):
    d = json.loads(l)
    for r in d.get("rows", []):
        if r.get("state") == "ESTAB":
            t += r.get("recv_q", 0) + r.get("send_q", 0)
print(t)
PY
)
bound=$((HIGH + RMEM_MAX + (512 << 10)))
echo "while the client pauses: queued in dpx $qsum bytes (bound $bound); RSS $rss0 -> $rss1 KiB"
[ "$qsum" -le "$bound" ] ||
  die "slow reader: expected dpx to queue <= $bound bytes (high water + rmem + slack), seen $qsum"
wait "$SLOW"; rc=$?
cat "$WORK/slow.out"
[ "$rc" -eq 0 ] || die "slow reader: $(cat "$WORK/slow.out")"
rss2=$(dpx_rss_kb)
growth=$(( (rss2 > rss1 ? rss2 : rss1) - rss0 ))
echo "RSS before $rss0 KiB, paused $rss1 KiB, after $rss2 KiB: growth $growth KiB"
[ "$growth" -lt $((64 << 10)) ] || die "slow reader: expected RSS growth < 65536 KiB, seen $growth KiB"

step "no session left active"
for _ in $(seq 100); do [ "$(pshow 'sum(f["active"] for f in d["frontends"])')" -eq 0 ] && break; sleep 0.1; done
pshow 'json.dumps(d["frontends"])'
[ "$(pshow 'sum(f["active"] for f in d["frontends"])')" -eq 0 ] ||
  die "expected 0 active sessions at the end, seen $(pshow '[(f["name"], f["active"]) for f in d["frontends"]]')"

dpx_stop
echo "PASS"
