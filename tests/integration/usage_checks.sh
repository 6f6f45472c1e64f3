# Shared by the command-line tests (cli_test.sh, dpxgen_cli_test.sh):
# source it after setting BIN (the executable) and PROG (its name in error
# lines). Gives WORK (removed on exit), PREFIX (an EAL file prefix that
# must never appear: nothing may start EAL), run, fail, pass,
# expect_usage_error and finish.
WORK=$(mktemp -d "${TMPDIR:-/tmp}/${PROG}cli.XXXXXX")
PREFIX=${PROG}cli$$
trap 'rm -rf "$WORK"; rm -rf "/var/run/dpdk/$PREFIX" 2>/dev/null' EXIT

failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
pass() { echo "ok:   $*"; }

# run ARGS...: runs BIN, leaves status in $rc, output in $WORK/{out,err}
run() {
  "$BIN" "$@" >"$WORK/out" 2>"$WORK/err" </dev/null
  rc=$?
}

# expect_usage_error DESCRIPTION PATTERN ARGS...: exit 2, one stderr line
# "PROG: error: ..." matching PATTERN, empty stdout, EAL not started.
expect_usage_error() {
  local what=$1 pattern=$2
  shift 2
  run --file-prefix="$PREFIX" "$@"
  local lines
  lines=$(wc -l <"$WORK/err")
  if [ "$rc" -ne 2 ]; then
    fail "$what: exit $rc, want 2 (stderr: $(head -c 300 "$WORK/err"))"
  elif [ "$lines" -ne 1 ]; then
    fail "$what: $lines stderr lines, want 1:"; sed 's/^/      /' "$WORK/err"
  elif ! grep -qE "^$PROG: error: .*$pattern" "$WORK/err"; then
    fail "$what: error line does not match /$pattern/: $(cat "$WORK/err")"
  elif [ -s "$WORK/out" ]; then
    fail "$what: unexpected stdout: $(head -c 300 "$WORK/out")"
  elif [ -e "/var/run/dpdk/$PREFIX" ]; then
    fail "$what: EAL was started (/var/run/dpdk/$PREFIX exists)"
  else
    pass "$what -> exit 2: $(cat "$WORK/err")"
  fi
}

finish() {
  if [ "$failures" -ne 0 ]; then
    echo "$failures check(s) failed"
    exit 1
  fi
  echo "all checks passed"
}
