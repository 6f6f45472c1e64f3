#!/usr/bin/env bash
# The proxy on two lcores (a worker per core), Linux peers on both sides:
# 300 short connections are all answered, and no backend connect fails.
# The proxy picks, for each backend connect, a local port whose reply the
# NIC steers back to the connecting core (RSS); if the port picker and the
# port's real steering disagree, the backend's SYN-ACK reaches the other
# core, which resets it, and the connect times out (connect_timeouts).
# The other proxy tests run one lcore by default (proxy_common.sh).
# Usage: proxy_multicore_test.sh DPX DPXCTL PROXY_PEER
set -uo pipefail

DPX=$1
DPXCTL=$2
PEER=$3
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/proxy_common.sh"
dpx_require_root
dpx_setup pm

cat >"$WORK/proxy.toml" <<EOF2
[[frontend]]
name = "main"
listen = "$DPX_IP:8080"
pool = "two"
connect_timeout_ms = 1000

[[pool]]
name = "two"
backends = [{ address = "$NET.20:9000", name = "b20" }, { address = "$NET.21:9000", name = "b21" }]
EOF2

dpx_start "$DPX" --run-seconds=600 --lcores=0-1 --proxy-config="$WORK/proxy.toml"
proxy_linux_setup
backend_start b20 "$NET.20:9000"
backend_start b21 "$NET.21:9000"
wait_listen 8080
workers=$(pshow '" ".join("%d:%d" % (w["core"], w["pid"]) for w in d["workers"])')
echo "workers (core:pid): $workers"
[ "$(wc -w <<<"$workers")" -eq 2 ] || die "expected 2 workers (one per lcore), seen '$workers'"

step "300 short connections over both cores"
expect_ok "300 short requests on 2 lcores" many 8080 --n=300 --parallel=4 --timeout=30
fails=$(pshow 'sum(b["connect_failures"] for p in d["pools"] for b in p["backends"])')
touts=$(pshow 'sum(b["connect_timeouts"] for p in d["pools"] for b in p["backends"])')
echo "backend connect failures $fails (timeouts $touts)"
[ "$fails" -eq 0 ] || die "expected 0 backend connect failures (live backends), seen $fails ($touts timeouts)"

dpx_stop
echo "PASS"
