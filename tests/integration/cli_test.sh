#!/usr/bin/env bash
# dpx's command line without starting anything:
#   - `dpx --check-config` passes on every profile in drivers-config/ (by
#     path and by built-in name), printing the EAL argv and the port plan;
#   - bad flags and bad profiles: exit status 2, exactly one error line on
#     stderr, nothing on stdout, and no EAL started (no runtime directory);
#   - --help lists the flags.
# Usage: cli_test.sh DPX DRIVERS_CONFIG_DIR
set -uo pipefail

DPX=$1
PROFILES=$2
BIN=$DPX PROG=dpx
# shellcheck source=usage_checks.sh
. "$(dirname "$0")/usage_checks.sh"

# ---- --check-config on every profile ----
shopt -s nullglob
profiles=("$PROFILES"/*.toml)
[ ${#profiles[@]} -ge 8 ] || fail "expected >= 8 profiles in $PROFILES, found ${#profiles[@]}"
for f in "${profiles[@]}"; do
  name=$(basename "$f" .toml)
  for spec in "$f" "$name"; do
    run --check-config --profile="$spec" --file-prefix="$PREFIX"
    if [ "$rc" -eq 0 ] && grep -q '^check-config: OK' "$WORK/out" &&
       grep -q '^eal argv: ' "$WORK/out" && grep -q '^port ' "$WORK/out" &&
       [ ! -e "/var/run/dpdk/$PREFIX" ]; then
      pass "--check-config --profile=$spec"
    else
      fail "--check-config --profile=$spec: exit $rc"; sed 's/^/      /' "$WORK/out" "$WORK/err"
    fi
  done
done
# The dry run shows what the real-NIC profiles need from the host.
run --check-config --profile=ixgbe
grep -q 'vfio-pci' "$WORK/out" && grep -q -- '-a 0000:' "$WORK/out" &&
  pass "ixgbe plan names vfio-pci and -a PCI" || fail "ixgbe plan: $(cat "$WORK/out")"
run --check-config --profile=mlx5
grep -q 'bifurcated' "$WORK/out" && pass "mlx5 plan says bifurcated" || fail "mlx5 plan: $(cat "$WORK/out")"
# Flags are applied before the dry run.
run --check-config --tap-iface=dpxcheck0 --ip=10.55.0.2/24 --gateway=10.55.0.1 --lcores=0-1
if [ "$rc" -eq 0 ] && grep -q 'iface=dpxcheck0' "$WORK/out" && grep -q 'ip 10.55.0.2/24' "$WORK/out" &&
   grep -q -- '-l 0-1' "$WORK/out" && grep -q 'queues: 2 rx + 2 tx' "$WORK/out"; then
  pass "--check-config applies --tap-iface/--ip/--gateway/--lcores"
else
  fail "overrides in --check-config: exit $rc"; sed 's/^/      /' "$WORK/out" "$WORK/err"
fi

# ---- --help ----
run --help
if [ "$rc" -eq 0 ]; then
  missing=""
  for flag in profile check-config ip gateway tap-iface lcores log-level mbufs \
              stats-interval-s run-seconds file-prefix; do
    grep -q -- "--$flag" "$WORK/out" || missing="$missing --$flag"
  done
  [ -z "$missing" ] && pass "--help lists every flag" || fail "--help lacks:$missing"
else
  fail "--help: exit $rc"
fi

# ---- bad flags ----
expect_usage_error "unknown flag" "unknown flag '--bogus-flag'" --bogus-flag
expect_usage_error "stray argument" "unexpected argument 'extra'" extra
expect_usage_error "non-numeric --mbufs" "--mbufs" --mbufs=lots
expect_usage_error "bad --ip" "--ip" --ip=300.1.1.1/24
expect_usage_error "--ip without prefix" "--ip" --ip=10.1.1.2
expect_usage_error "gateway off subnet" "gateway" --ip=10.1.1.2/24 --gateway=10.9.9.1
expect_usage_error "bad --log-level" "--log-level" --log-level=chatty
expect_usage_error "bad --lcores" "--lcores" --lcores=3-1
expect_usage_error "flag without value" "needs a value" --profile
expect_usage_error "--tap-iface too long" "--tap-iface" --tap-iface=averyveryverylongname

# ---- bad profiles ----
expect_usage_error "unknown profile name" "no such built-in profile" --profile=nosuchnic
expect_usage_error "missing profile file" "cannot read" --profile="$WORK/missing.toml"
cp "$PROFILES/tap.toml" "$WORK/bad_offload.toml"
sed -i 's/"tx_tcp_cksum"/"tx_warp_drive"/' "$WORK/bad_offload.toml"
line=$(grep -n tx_warp_drive "$WORK/bad_offload.toml" | cut -d: -f1)
expect_usage_error "bad offload in profile" "bad_offload.toml:$line: port\[0\]\.offloads\[[0-9]\]: unknown offload" \
  --profile="$WORK/bad_offload.toml"
printf '[eal]\nargs = ["--no-huge"]\nhugepages = false\n[[port]]\ndriver = "tap"\ndevice = "net_tap0"\nip = "10.1.0.2/24"\nmtu = "big"\n' \
  >"$WORK/bad_type.toml"
expect_usage_error "bad type in profile" "bad_type.toml:8: port\[0\]\.mtu: must be an integer" \
  --profile="$WORK/bad_type.toml"
printf 'this is not toml\n' >"$WORK/garbage.toml"
expect_usage_error "TOML syntax error" "garbage.toml:1: TOML syntax" --profile="$WORK/garbage.toml"
# --check-config fails the same way on a bad profile.
expect_usage_error "--check-config on a bad profile" "bad_type.toml:8" --check-config \
  --profile="$WORK/bad_type.toml"

finish
