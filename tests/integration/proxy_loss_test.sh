#!/usr/bin/env bash
# The proxy under 2% loss (both legs: the Linux side of the TAP drops 2% of
# what it sends and of what it receives; tc netem or nftables): 16 MB up
# and 16 MB down at the same time through dpx, SHA-256 compared; the loss
# rules did drop packets from dpx.
# Usage: proxy_loss_test.sh DPX DPXCTL PROXY_PEER
set -uo pipefail

DPX=$1
DPXCTL=$2
PEER=$3
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/proxy_common.sh"
dpx_require_root
command -v nft >/dev/null || { echo "SKIP: nft not installed"; exit 77; }
dpx_setup pl

cat >"$WORK/proxy.toml" <<EOF
[[frontend]]
name = "main"
listen = "$DPX_IP:8080"
pool = "two"

[[pool]]
name = "two"
backends = [{ address = "$NET.20:9000", name = "b20" }, { address = "$NET.21:9000", name = "b21" }]
EOF

dpx_start "$DPX" --run-seconds=600 --lcores="$PROXY_LCORES" --proxy-config="$WORK/proxy.toml"
proxy_linux_setup
backend_start b20 "$NET.20:9000"
backend_start b21 "$NET.21:9000"
wait_listen 8080

step "2% loss each way on the Linux side of the TAP"
dpx_linux_loss 2
echo "loss: $LOSS_HOW"

step "16 MB up and 16 MB down at once"
peer upload 8080 --n=$((16 << 20)) --seed=41 --timeout=120 >"$WORK/up.out" 2>&1 &
UP=$!
peer download 8080 --n=$((16 << 20)) --seed=42 --timeout=120 >"$WORK/down.out" 2>&1 &
DOWN=$!
wait $UP; rup=$?
wait $DOWN; rdown=$?
echo "upload: $(cat "$WORK/up.out")"
echo "download: $(cat "$WORK/down.out")"
[ "$rup" -eq 0 ] || die "upload under loss: $(cat "$WORK/up.out")"
[ "$rdown" -eq 0 ] || die "download under loss: $(cat "$WORK/down.out")"
read -r lost_out lost_in <<<"$(dpx_linux_loss_dropped)"
echo "dropped by the loss rules: $lost_out Linux->dpx (0 under netem), $lost_in dpx->Linux"
[ "$lost_in" -gt 0 ] || die "expected packets from dpx to be dropped, seen $lost_in: the test did not test dpx's recovery"
expect_ok "requests still answered under loss" many 8080 --n=50

dpx_stop
echo "PASS"
