#!/bin/sh
# Syntax check of the pktgen Lua scripts in this directory and of
# dpx_common.lua, the file they share (and load at run time).
#
# pktgen is not installed here (it is not in Debian), so the scripts cannot
# run; this only makes sure they parse. It compiles each with `luac -p`
# (Debian: package lua5.4 gives luac5.4; lua5.3 gives luac5.3) or, with only
# a Lua interpreter, with loadfile(). Neither present: prints
# "skipped: no luac" and exits 77 (a skip for meson). It installs nothing.
#
# Usage: perf/pktgen/check.sh        exit 0: all parse, 1: a syntax error, 77: skipped
set -eu

dir=$(cd "$(dirname "$0")" && pwd)
scripts="dpx_common.lua syn_flood.lua ack_flood.lua mixed_flood.lua"

# pktgen 23.x and later embed Lua 5.3/5.4: prefer those.
checker="" mode=""
for c in luac5.4 luac5.3 luac luac5.2 luac5.1; do
    if command -v "$c" >/dev/null 2>&1; then checker=$c mode=luac; break; fi
done
if [ -z "$checker" ]; then
    for c in lua5.4 lua5.3 lua lua5.2 lua5.1; do
        if command -v "$c" >/dev/null 2>&1; then checker=$c mode=lua; break; fi
    done
fi
if [ -z "$checker" ]; then
    echo "skipped: no luac"
    exit 77  # meson's SKIP
fi

status=0
for s in $scripts; do
    f="$dir/$s"
    if [ "$mode" = luac ]; then
        out=$("$checker" -p "$f" 2>&1) || { echo "FAIL $s: $out"; status=1; continue; }
    else
        # loadfile() compiles without running (the scripts need pktgen's
        # `pktgen` table to run).
        # The path goes in the environment: a file argument would be run.
        out=$(LUA_CHECK_FILE="$f" "$checker" -e \
            "local f, e = loadfile(os.getenv('LUA_CHECK_FILE')); if not f then io.stderr:write(e, '\\n'); os.exit(1) end" \
            </dev/null 2>&1) || { echo "FAIL $s: $out"; status=1; continue; }
    fi
    echo "ok   $s ($checker)"
done
exit $status
