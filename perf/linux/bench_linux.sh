#!/usr/bin/env bash
# Linux-kernel side of the dpx benchmarks: HAProxy (Debian, TCP mode, one
# thread, pinned to CPU 0) is the proxy under test, in front of a kernel HTTP
# server (a second HAProxy answering every request itself with
# `http-request return`), driven by wrk / iperf3 / hold_clients.py. The load
# client and the backend share CPU 1. Everything runs in a private network
# namespace, on its loopback only, removed on exit.
#
# Usage: perf/linux/bench_linux.sh [--short] [BENCH...]
#   --short   a few seconds and tiny counts (CI smoke); default is the full run
#   BENCH     any of: tw_bytes idle_session_memory mass_close proxied_cps
#             proxied_cps_vs_sessions proxied_rps proxied_bulk (default: all)
# stdout: one JSON object per line; stderr: human logs.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PY=/usr/bin/python3
NS=dpxperf-lnx-$$
WORK=""
PIDS=()
PROXY_PID="" HOLD_PID=""

PROXY_CPU=0 LOAD_CPU=1
PROXY_IP=127.0.0.1 BACK_IP=127.0.0.2
WEB_PORT=8000 HOLD_PORT=8001 BULK_PORT=5201     # on the proxy
HTTP_PORT=8080 SINK_PORT=9000 IPERF_PORT=5202   # behind it
CPS_RESP_BYTES=1000 RPS_RESP_BYTES=100 REQ_BYTES=100
CPS_CONNS=64 RPS_CONNS=64
ALL_BENCHES="tw_bytes idle_session_memory mass_close proxied_cps proxied_cps_vs_sessions proxied_rps proxied_bulk"

full_scale() {
  CPS_SECS=15 CURVE_SECS=8 RPS_SECS=10 BULK_SECS=5
  SESSIONS_LIST="0 1000 4000 8000" MEM_LIST="1000 4000 8000" MEM_REPEAT=3 CLOSE_SESSIONS=8000
}
short_scale() {
  CPS_SECS=2 CURVE_SECS=1 RPS_SECS=2 BULK_SECS=1
  SESSIONS_LIST="0 200" MEM_LIST="200" MEM_REPEAT=1 CLOSE_SESSIONS=200
}

log() { echo "bench_linux: $*" >&2; }
die() { log "error: $*"; exit 1; }
# Foreground only: backgrounded, a function is a subshell and $! not the real pid.
nsx() { ip netns exec "$NS" "$@"; }
calc() { awk "BEGIN { printf \"%.${2:-1}f\", $1 }"; }

# emit BENCH VALUE UNIT [key=value...]: one JSON line on stdout. Values that
# look like numbers are written bare, the rest as strings; "tool" is $TOOL.
emit() {
  local bench=$1 value=$2 unit=$3 kv k v
  shift 3
  local line="{\"bench\":\"$bench\",\"impl\":\"linux\",\"value\":$value,\"unit\":\"$unit\",\"cores\":1"
  for kv in "$@"; do
    k=${kv%%=*} v=${kv#*=}
    if [[ $v =~ ^-?[0-9]+(\.[0-9]+)?$ ]]; then line+=",\"$k\":$v"; else line+=",\"$k\":\"$v\""; fi
  done
  echo "$line,\"tool\":\"$TOOL\"}"
}

# parse_kv "k=v k=v" ARRAY: fills the associative array named ARRAY.
parse_kv() {
  local -n kv_into=$2
  local kv
  # shellcheck disable=SC2034  # kv_into is a nameref
  for kv in $1; do kv_into[${kv%%=*}]=${kv#*=}; done
}

cleanup() {
  local pid
  for pid in "${PIDS[@]}" $(ip netns pids "$NS" 2>/dev/null); do
    kill -KILL "$pid" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  ip netns del "$NS" 2>/dev/null || true
  [ -n "$WORK" ] && rm -rf "$WORK"
}

setup_ns() {
  ip netns add "$NS"
  ip -n "$NS" link set lo up
  # Stock kernel defaults except: room for ephemeral ports, and TIME_WAIT
  # never dropped for lack of buckets (the kernel keeps every one, as dpx does).
  nsx sysctl -qw net.ipv4.ip_local_port_range="1024 65535" \
    net.ipv4.tcp_max_tw_buckets=2097152 net.ipv4.tcp_max_syn_backlog=8192
}

write_proxy_cfg() {
  cat >"$WORK/proxy.cfg" <<EOF
global
    nbthread 1
    maxconn $MAXCONN
defaults
    mode tcp
    maxconn $MAXCONN
    timeout connect 5s
    timeout client 1h
    timeout server 1h
listen web
    bind $PROXY_IP:$WEB_PORT
    server http $BACK_IP:$HTTP_PORT
listen hold
    bind $PROXY_IP:$HOLD_PORT
    server sink $BACK_IP:$SINK_PORT
listen bulk
    bind $PROXY_IP:$BULK_PORT
    server iperf $BACK_IP:$IPERF_PORT
EOF
}

# The backend answers GET / with CPS_RESP_BYTES on the wire and GET /s with
# RPS_RESP_BYTES (HAProxy 2.6 writes 85 and 65 bytes of headers respectively:
# status line, content-length, content-type, plus "connection: close" for /).
write_backend_cfg() {
  local big small
  big=$(head -c $((CPS_RESP_BYTES - 85)) /dev/zero | tr '\0' x)
  small=$(head -c $((RPS_RESP_BYTES - 65)) /dev/zero | tr '\0' x)
  cat >"$WORK/backend.cfg" <<EOF
global
    nbthread 1
    maxconn $MAXCONN
defaults
    mode http
    maxconn $MAXCONN
    timeout client 1h
    timeout http-request 10s
    timeout http-keep-alive 1h
frontend http
    bind $BACK_IP:$HTTP_PORT
    http-request return status 200 content-type text/plain string "$small" if { path /s }
    http-request return status 200 content-type text/plain string "$big"
EOF
}

# wait_listen PORT [LOG]: until something in the namespace listens on PORT.
wait_listen() {
  for _ in $(seq 200); do
    [ -n "$(nsx ss -Htln "sport = :$1")" ] && return 0
    sleep 0.05
  done
  [ -n "${2:-}" ] && tail -5 "$2" >&2
  die "nothing listens on port $1"
}

start_proxy() {
  ip netns exec "$NS" taskset -c $PROXY_CPU haproxy -f "$WORK/proxy.cfg" -db 2>>"$WORK/proxy.log" &
  PROXY_PID=$!
  PIDS+=("$PROXY_PID")
  wait_listen $WEB_PORT "$WORK/proxy.log"
}

stop_proxy() {
  [ -n "$PROXY_PID" ] || return 0
  kill "$PROXY_PID" 2>/dev/null || true
  wait "$PROXY_PID" 2>/dev/null || true
  PROXY_PID=""
}

start_backend() {
  ip netns exec "$NS" taskset -c $LOAD_CPU haproxy -f "$WORK/backend.cfg" -db 2>>"$WORK/backend.log" &
  PIDS+=($!)
  wait_listen $HTTP_PORT "$WORK/backend.log"
}

# hold_open N HOST PORT: N idle sessions from clients dialing HOST:PORT to the
# sink on BACK_IP:SINK_PORT (through the proxy when PORT is HOLD_PORT).
hold_open() {
  local ready="$WORK/hold.out"
  : >"$ready"
  ip netns exec "$NS" taskset -c $LOAD_CPU "$PY" "$HERE/hold_clients.py" -n "$1" \
    --listen "$BACK_IP:$SINK_PORT" --connect "$2:$3" >"$ready" &
  HOLD_PID=$!
  PIDS+=("$HOLD_PID")
  for _ in $(seq 1200); do
    grep -q '^ready' "$ready" && return 0
    kill -0 "$HOLD_PID" 2>/dev/null || die "hold_clients failed"
    sleep 0.05
  done
  die "hold_clients: $1 sessions not ready"
}

hold_release() {
  [ -n "$HOLD_PID" ] || return 0
  kill -TERM "$HOLD_PID" 2>/dev/null || true
  wait "$HOLD_PID" 2>/dev/null || true
  HOLD_PID=""
}

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# busy and total jiffies of CPU0 and CPU1, from /proc/stat
cpu_busy() { awk '/^cpu[01] / { printf "%d %d ", $2 + $3 + $4 + $7 + $8, $2 + $3 + $4 + $5 + $6 + $7 + $8 }' /proc/stat; }

# run_wrk CONNS SECS PATH [wrk args...]: fills the global array W with the
# lua script's RESULT fields plus rate (req/s), proxy_cpu (fraction of a core
# HAProxy's process used) and cpu0_busy / cpu1_busy (whole-core utilisation:
# loopback runs the receiver's TCP work in the sender's softirq, so part of
# the proxy's kernel cost lands on CPU 1); WF gets the key=value list to emit.
declare -A W
WF=()
run_wrk() {
  local conns=$1 secs=$2 path=$3 out t0 t1 c0 c1 k
  shift 3
  t0=$(cpu_ticks "$PROXY_PID")
  read -ra c0 <<<"$(cpu_busy)"
  # In the background and waited for, so that a signal stops the run at once.
  DPX_REQ_BYTES=$REQ_BYTES ip netns exec "$NS" taskset -c $LOAD_CPU wrk -t1 -c"$conns" \
    -d"${secs}s" --timeout 5s -s "$HERE/wrk_report.lua" "$@" \
    "http://$PROXY_IP:$WEB_PORT$path" >"$WORK/wrk.out" &
  PIDS+=($!)
  wait $!
  out=$(<"$WORK/wrk.out")
  t1=$(cpu_ticks "$PROXY_PID")
  read -ra c1 <<<"$(cpu_busy)"
  W=()
  parse_kv "$(sed -n 's/^RESULT //p' <<<"$out")" W
  [ -n "${W[requests]:-}" ] || die "wrk printed no result: $out"
  W[req_bytes]=$(awk '/^REQBYTES/ { print $2; exit }' <<<"$out")
  W[rate]=$(calc "${W[requests]} / (${W[duration_us]} / 1e6)")
  W[proxy_cpu]=$(calc "($t1 - $t0) / $CLK_TCK / (${W[duration_us]} / 1e6)" 3)
  W[cpu0_busy]=$(calc "(${c1[0]} - ${c0[0]}) / (${c1[1]} - ${c0[1]})" 3)
  W[cpu1_busy]=$(calc "(${c1[2]} - ${c0[2]}) / (${c1[3]} - ${c0[3]})" 3)
  W[duration_s]=$(calc "${W[duration_us]} / 1e6" 2)
  WF=(conns="$conns")
  for k in p50_us p99_us p999_us errors err_status duration_s proxy_cpu cpu0_busy cpu1_busy req_bytes; do
    WF+=("$k=${W[$k]}")
  done
}

# Warn when other work already keeps the CPUs busy: every figure would be low.
check_idle() {
  local a b busy
  read -ra a <<<"$(cpu_busy)"
  sleep 1
  read -ra b <<<"$(cpu_busy)"
  busy=$(calc "100 * (${b[0]} + ${b[2]} - ${a[0]} - ${a[2]}) / (${b[1]} + ${b[3]} - ${a[1]} - ${a[3]})" 0)
  if [ "$busy" -gt 10 ]; then
    log "warning: CPUs 0-1 are already ${busy}% busy before the run; figures will be low and noisy"
  fi
}

# ---------------------------------------------------------------- benches

bench_tw_bytes() {
  local TOOL=slabinfo
  local -A m
  parse_kv "$(nsx "$PY" "$HERE/kstat.py" mem)" m
  [ "${m[tw_objsize]}" -gt 0 ] || { log "tw_bytes: /proc/slabinfo not readable, skipped"; return; }
  emit tw_bytes "${m[tw_objsize]}" bytes/tw source=slabinfo_tw_sock_TCP_objsize
  log "tw_bytes: ${m[tw_objsize]} B per TIME_WAIT socket (tw_sock_TCP objsize)"
}

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# mem_delta N HOST PORT ARRAY: open N sessions, fill ARRAY with the growth of
# Slab, of the proxy's RSS and of the TCP slab objects, release them. The
# proxy is restarted first: a fresh process, whose pools and heap hold
# nothing from earlier sessions.
mem_delta() {
  local -n delta=$4
  local -A a b
  stop_proxy
  start_proxy
  parse_kv "$(nsx "$PY" "$HERE/kstat.py" mem "$PROXY_PID")" a
  hold_open "$1" "$2" "$3"
  sleep 0.5
  parse_kv "$(nsx "$PY" "$HERE/kstat.py" mem "$PROXY_PID")" b
  hold_release
  # shellcheck disable=SC2034,SC2154  # delta is a nameref; keys are not variables
  {
    delta[slab]=$((b[slab_bytes] - a[slab_bytes]))
    delta[rss]=$((b[rss_bytes] - a[rss_bytes]))
    delta[tcp_objs]=$((b[tcp_objs] - a[tcp_objs]))
  }
  sleep 1
}

# Memory per proxied idle session. Every socket lives in this one kernel: a
# session through HAProxy is 4 sockets (client, HAProxy's 2, sink). The same
# N sessions opened directly client->sink (2 sockets) measure the endpoints,
# so HAProxy's share = (Slab delta proxied - Slab delta direct + RSS delta) / N.
# Slab is machine-wide: the median of MEM_REPEAT rounds damps other work's noise.
# socket_slab_model_bytes is the same share from object sizes alone: per
# HAProxy socket one TCP, sock_inode_cache, dentry, filp and eventpoll_epi.
bench_idle_session_memory() {
  local TOOL="hold_clients.py+haproxy $HAPROXY_VER"
  local n per kernel_per rss_per all_per ends_per objs model
  local -A m
  parse_kv "$(nsx "$PY" "$HERE/kstat.py" mem)" m
  model=$((2 * (m[tcp_objsize] + m[sock_inode_objsize] + m[dentry_objsize] + m[filp_objsize] + m[epi_objsize])))
  for n in $MEM_LIST; do
    local kern=() rss=() all=() ends=() tcp=()
    for _ in $(seq "$MEM_REPEAT"); do
      local -A direct=() proxied=()
      mem_delta "$n" "$BACK_IP" "$SINK_PORT" direct
      mem_delta "$n" "$PROXY_IP" "$HOLD_PORT" proxied
      kern+=("$(calc "(${proxied[slab]} - ${direct[slab]}) / $n")")
      rss+=("$(calc "${proxied[rss]} / $n")")
      all+=("$(calc "(${proxied[slab]} + ${proxied[rss]}) / $n")")
      ends+=("$(calc "${direct[slab]} / $n")")
      tcp+=("$(calc "(${proxied[tcp_objs]} - ${direct[tcp_objs]}) / $n" 2)")
    done
    kernel_per=$(median "${kern[@]}") rss_per=$(median "${rss[@]}")
    all_per=$(median "${all[@]}") ends_per=$(median "${ends[@]}") objs=$(median "${tcp[@]}")
    per=$(calc "$kernel_per + $rss_per")
    emit idle_session_memory "$per" bytes/session sessions="$n" bytes_per_session="$per" \
      total_bytes="$(calc "$per * $n" 0)" kernel_bytes_per_session="$kernel_per" \
      haproxy_rss_per_session="$rss_per" all_4_sockets_bytes_per_session="$all_per" \
      endpoints_bytes_per_session="$ends_per" tcp_slab_objs_per_session="$objs" \
      tcp_sock_objsize="${m[tcp_objsize]}" socket_slab_model_bytes="$model" \
      rounds="$MEM_REPEAT" counts="haproxy_2_sockets_slab_plus_haproxy_rss"
    log "idle_session_memory N=$n: $per B/session (kernel $kernel_per [rounds: ${kern[*]}]" \
      "+ HAProxy RSS $rss_per); all 4 sockets + RSS: $all_per; endpoints alone: $ends_per;" \
      "TCP objs/session $objs; object-size model $model"
  done
}

# kill -9 HAProxy holding N sessions; time until the kernel closed its 2N
# sockets (they leave the TCP hash: FIN sent and ACKed, now TIME_WAIT).
bench_mass_close() {
  local TOOL="hold_clients.py+haproxy $HAPROXY_VER"
  local n=$CLOSE_SESSIONS
  local -A r
  hold_open "$n" "$PROXY_IP" "$HOLD_PORT"
  parse_kv "$(nsx taskset -c $LOAD_CPU "$PY" "$HERE/kstat.py" mass-close "$PROXY_PID" $((2 * n)))" r
  wait "$PROXY_PID" 2>/dev/null || true
  PROXY_PID=""
  hold_release
  local rate
  rate=$(calc "2 * $n / ${r[seconds]}")
  emit mass_close "$rate" closes/s sessions="$n" sockets=$((2 * n)) \
    duration_s="${r[seconds]}" peak_orphans="${r[peak_orphans]}" peak_tw="${r[peak_tw]}"
  log "mass_close N=$n: $((2 * n)) sockets closed in ${r[seconds]} s = $rate closes/s" \
    "(peak orphans ${r[peak_orphans]}, peak tw ${r[peak_tw]})"
  start_proxy
}

# Connections per second through HAProxy, each request on a new connection,
# with the TIME_WAIT sockets this churn created and reused, per second.
bench_proxied_cps() {
  local -A a b
  local created
  parse_kv "$(nsx "$PY" "$HERE/kstat.py" tw)" a
  run_wrk $CPS_CONNS "$CPS_SECS" / -H "Connection: close"
  parse_kv "$(nsx "$PY" "$HERE/kstat.py" tw)" b
  created=$(calc "(${b[tw_created]} - ${a[tw_created]}) / (${W[duration_us]} / 1e6)")
  emit proxied_cps "${W[rate]}" conn/s resp_bytes=$CPS_RESP_BYTES "${WF[@]}" \
    tw_created_per_s="$created" tw_at_end="${b[tw]}" \
    tw_recycled_per_s="$(calc "(${b[tw_recycled]} - ${a[tw_recycled]}) / (${W[duration_us]} / 1e6)")"
  log "proxied_cps: ${W[rate]} conn/s, p50/p99/p99.9 ${W[p50_us]}/${W[p99_us]}/${W[p999_us]} us," \
    "errors ${W[errors]}, HAProxy CPU ${W[proxy_cpu]} (busy: CPU0 ${W[cpu0_busy]}, CPU1 ${W[cpu1_busy]});" \
    "TIME_WAIT created $created/s, ${b[tw]} at the end"
}

bench_proxied_cps_vs_sessions() {
  local s
  for s in $SESSIONS_LIST; do
    [ "$s" -gt 0 ] && hold_open "$s" "$PROXY_IP" "$HOLD_PORT"
    run_wrk $CPS_CONNS "$CURVE_SECS" / -H "Connection: close"
    [ "$s" -gt 0 ] && hold_release
    emit proxied_cps_vs_sessions "${W[rate]}" conn/s sessions="$s" \
      resp_bytes=$CPS_RESP_BYTES "${WF[@]}"
    log "proxied_cps with $s idle sessions: ${W[rate]} conn/s (HAProxy CPU ${W[proxy_cpu]})"
  done
}

bench_proxied_rps() {
  run_wrk $RPS_CONNS "$RPS_SECS" /s
  emit proxied_rps "${W[rate]}" req/s resp_bytes=$RPS_RESP_BYTES "${WF[@]}"
  log "proxied_rps: ${W[rate]} req/s, p50/p99/p99.9 ${W[p50_us]}/${W[p99_us]}/${W[p999_us]} us," \
    "errors ${W[errors]}, HAProxy CPU ${W[proxy_cpu]} (busy: CPU0 ${W[cpu0_busy]}, CPU1 ${W[cpu1_busy]})"
}

# iperf3 CPU HOST PORT: Gbit/s received, one stream.
iperf3_gbps() {
  nsx taskset -c "$1" iperf3 -c "$2" -p "$3" -t "$BULK_SECS" -J |
    "$PY" -c 'import json,sys; print("%.2f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 1e9))'
}

bench_proxied_bulk() {
  local TOOL="iperf3+haproxy $HAPROXY_VER"
  local pid gbps direct
  ip netns exec "$NS" taskset -c $LOAD_CPU iperf3 -s -B $BACK_IP -p $IPERF_PORT >/dev/null 2>&1 &
  pid=$!
  PIDS+=("$pid")
  wait_listen $IPERF_PORT
  gbps=$(iperf3_gbps $LOAD_CPU $PROXY_IP $BULK_PORT)
  emit proxied_bulk "$gbps" Gbit/s streams=1 duration_s="$BULK_SECS"
  log "proxied_bulk: $gbps Gbit/s through HAProxy (iperf3 client and server on CPU $LOAD_CPU)"
  direct=$(iperf3_gbps $PROXY_CPU $BACK_IP $IPERF_PORT)
  emit proxied_bulk "$direct" Gbit/s streams=1 duration_s="$BULK_SECS" variant=no_proxy
  log "bulk without proxy: $direct Gbit/s (client CPU $PROXY_CPU, server CPU $LOAD_CPU)"
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

main() {
  local benches=() b start
  full_scale
  for b in "$@"; do
    case $b in
      --short) short_scale ;;
      -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
      *) [[ " $ALL_BENCHES " == *" $b "* ]] || die "unknown bench $b"; benches+=("$b") ;;
    esac
  done
  [ ${#benches[@]} -gt 0 ] || read -ra benches <<<"$ALL_BENCHES"
  [ "$(id -u)" -eq 0 ] || die "needs root (ip netns)"
  for b in haproxy wrk iperf3 taskset; do
    command -v $b >/dev/null || die "$b missing: run scripts/setup"
  done

  ulimit -n "$(ulimit -Hn)"
  # Each proxied session costs HAProxy 2 fds; keep 100 spare.
  MAXCONN=$((($(ulimit -n) - 100) / 2))
  CLK_TCK=$(getconf CLK_TCK)
  HAPROXY_VER=$(haproxy -v | awk 'NR == 1 { print $3 }' | cut -d- -f1)
  TOOL="wrk+haproxy $HAPROXY_VER"
  WORK=$(mktemp -d /tmp/dpxperf-lnx.XXXXXX)
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM

  setup_ns
  write_proxy_cfg
  write_backend_cfg
  start_backend
  start_proxy
  log "namespace $NS, HAProxy maxconn $MAXCONN, proxy on CPU $PROXY_CPU, load+backend on CPU $LOAD_CPU"
  check_idle
  start=$(date +%s)
  for b in "${benches[@]}"; do "bench_$b"; done
  log "done in $(($(date +%s) - start)) s"
}

main "$@"
