#!/usr/bin/env bash
# dpxgen's command line without starting anything: --help lists the modes
# and flags; every bad flag or combination exits 2 with exactly one error
# line on stderr that names the problem, nothing on stdout, and no EAL
# started (no runtime directory for its file prefix).
# Usage: dpxgen_cli_test.sh DPXGEN
set -uo pipefail

GEN=$1
BIN=$GEN PROG=dpxgen
# shellcheck source=usage_checks.sh
. "$(dirname "$0")/usage_checks.sh"

T=(--target=198.51.100.2:80 --listen=8080)
expect_usage_error "unknown flag" "unknown flag '--nope'" --nope
expect_usage_error "bad mode" "bad value 'flood' for --mode" "${T[@]}" --mode=flood
expect_usage_error "bad target" "bad --target" --target=198.51.100.2
expect_usage_error "bad target address" "--target" --target=300.1.1.1:80
expect_usage_error "bad port range" "bad port range '90-80' in --target" --target=198.51.100.2:90-80
expect_usage_error "nothing to do" "nothing to do" --mode=cps
expect_usage_error "hold needs a count" "--mode=hold needs --count" "${T[@]}" --mode=hold
expect_usage_error "cps needs an end" "cps needs --count or --duration-s" "${T[@]}" --duration-s=0
expect_usage_error "zero concurrency" "--concurrency must be >= 1" "${T[@]}" --concurrency=0
expect_usage_error "bad closer" "--close" "${T[@]}" --close=both
expect_usage_error "bad flood" "bad value 'udp' for --flood" "${T[@]}" --flood=udp
expect_usage_error "flood needs a target" "--flood needs --target" --listen=8080 --flood=syn
expect_usage_error "bad sysctl" "--sysctl" "${T[@]}" --sysctl=net.ipv4.tcp_fin_timeout=-5
expect_usage_error "sysctl without value" "is not NAME=VALUE" "${T[@]}" --sysctl=net.ipv4.tcp_tw_reuse
expect_usage_error "two lcores" "runs one lcore" "${T[@]}" --lcores=0-1
expect_usage_error "unknown profile" "profile" "${T[@]}" --profile=nosuch
expect_usage_error "negative rate" "non-negative integer" "${T[@]}" --rate=-1

run --help
if [ "$rc" -eq 0 ] && grep -q -- "--mode=STR" "$WORK/out" && grep -q -- "--flood=STR" "$WORK/out" &&
   grep -q "memif-client .*\[default\]" "$WORK/out"; then
  pass "--help lists the flags and the default profile"
else
  fail "--help (exit $rc): $(head -c 300 "$WORK/out")"
fi

finish
