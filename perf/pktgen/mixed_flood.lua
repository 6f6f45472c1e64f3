-- mixed_flood.lua: a stateless mixed flood (SYN, ACK, RST, UDP, ICMP) for pktgen-dpdk.
--
-- Usage (on the pktgen box, never towards a network you do not own):
--   1. In dpx_common.lua (next to this file), set at least DPX_MAC (the
--      scripts refuse to run with the placeholder), DPX_IP and DPX_PORT;
--      edit PHASES below if you want another mix.
--   2. sudo pktgen -l 1-5 -n 4 --file-prefix pg -a 0000:3b:00.0 -a 0000:3b:00.1 \
--          -- -T -P -m "[2:3].0, [4:5].1" -f perf/pktgen/mixed_flood.lua
--      or, at a running pktgen's prompt:  script perf/pktgen/mixed_flood.lua
--   3. Watch dpx:  dpxctl stats -d 'Tcp*' 'TcpExt*' 'Ip*' 'Icmp*' 'Drop*'
--
-- How it mixes: one pktgen port sends one stream at a time, and pktgen's
-- per-packet generators cannot vary the TCP flags or the protocol from one
-- packet to the next (range mode varies addresses, ports, seq/ack and size,
-- with one flag set and one protocol; sequence mode has up to 16 fixed
-- packets whose TCP flags the CLI cannot set). So the script cycles through
-- PHASES, each a stream of its own for `ms` milliseconds, until DURATION_S
-- is over: by default 2 s of SYNs, 2 s of ACKs with sizes 64..1518, 2 s of
-- RSTs, 2 s of UDP with sizes 64..1518 to a sweep of ports, 2 s of ICMP, again
-- and again. Shorter phases give a finer mix (each switch costs a stop and a
-- start, about a millisecond without traffic).
--
-- ICMP: pktgen's ICMP stream (proto icmp) sends ICMP *timestamp* requests
-- (type 13; pktgen_packet_ctor is called with type -1 for it), not echo
-- requests. Echo requests exist only as single `ping4` packets, so each
-- ICMP phase also sends PINGS of them. dpx answers echo requests and counts
-- timestamp requests as IcmpInMsgs + DropICMP_UNHANDLED. An echo-request
-- flood needs a pcap replayed by pktgen (-s 0:echo.pcap, `enable 0 pcap`).
--
-- What dpx must do, per phase (its TCP and ICMP follow Linux):
--   syn  SYN-ACK, or a SYN cookie once the SYN queue is full
--        (TcpExtTCPReqQFullDoCookies, TcpExtSyncookiesSent)
--   ack  an RST per segment (TcpOutRsts; no rate limit for segments that
--        match no socket); TcpExtSyncookiesFailed after a recent SYN flood
--   rst  nothing: an RST for no connection is dropped silently (TcpInSegs)
--   udp  no UDP in dpx: IpInUnknownProtos + DropIP_NOPROTO, and an ICMP
--        protocol unreachable rate-limited to icmp_msgs_per_sec (1000/s,
--        burst 50): IcmpOutDestUnreachs, IcmpOutRateLimitGlobal
--   icmp timestamp requests dropped (DropICMP_UNHANDLED); echo replies
--        (IcmpInEchos, IcmpOutEchoReps) for the pings
--
-- Range mode is a sweep, not random (see syn_flood.lua's header for why).

-- Load dpx_common.lua next to this script: debug.getinfo(1, "S").source is
-- "@" and the path pktgen loaded the script from; no "@" or no directory in
-- it means the current directory. (dpx_common.lua's header has the details.)
local src = debug.getinfo(1, "S").source
local C = dofile((src:sub(1, 1) == "@" and src:sub(2):match("^(.*[/\\])") or "") .. "dpx_common.lua")

-- Settings; those of the test bed (dpx_common.lua's DEFAULTS) can be
-- overridden here too, e.g. DPX_PORT, the port of the TCP phases.
local S = C.settings("mixed_flood.lua", {
  UDP_DPORT_MIN = 1,     -- UDP phase: destination ports swept
  UDP_DPORT_MAX = 65535,
  RATE_PCT   = 10,       -- % of line rate (100 = line rate), all phases
  SIZE_INC   = 37,       -- size step of the phases that sweep 64..1518
  PINGS      = 3,        -- echo requests at the start of each icmp phase
  DURATION_S = 60,       -- seconds in all
  -- TCP phases: sequence / acknowledgment numbers (start, min, max, inc).
  SEQ = { start = 7,  min = 0, max = 2147483647, inc = 2654435 },
  ACK = { start = 11, min = 0, max = 2147483647, inc = 1999993 },
})

-- The mix. proto: tcp|udp|icmp; flags: TCP flags (urg ack psh rst syn fin);
-- size_min..size_max: frame sizes with CRC (64..1518), swept by SIZE_INC.
local PHASES = {
  { name = "syn",  proto = "tcp",  flags = { "syn" }, size_min = 64, size_max = 64,   ms = 2000 },
  { name = "ack",  proto = "tcp",  flags = { "ack" }, size_min = 64, size_max = 1518, ms = 2000 },
  { name = "rst",  proto = "tcp",  flags = { "rst" }, size_min = 64, size_max = 64,   ms = 2000 },
  { name = "udp",  proto = "udp",                     size_min = 64, size_max = 1518, ms = 2000 },
  { name = "icmp", proto = "icmp",                    size_min = 64, size_max = 64,   ms = 2000 },
}

-- Configure one phase; pktgen must be stopped (range mode cannot be
-- switched on while sending).
local function setup_phase(ph)
  if ph.proto == "icmp" then
    -- Single-packet mode: range off, the main page's packet, proto icmp.
    pktgen.set_range(S.PORT, "off")               -- disable 0 range
    pktgen.set_proto(S.PORT, "icmp")              -- set 0 proto icmp
    pktgen.set(S.PORT, "size", ph.size_min)       -- set 0 size 64
    return
  end
  pktgen.set_proto(S.PORT, "tcp")                 -- single packet back to tcp (for ping4 setup)
  pktgen.range.ip_proto(S.PORT, ph.proto)         -- range 0 proto tcp|udp
  if ph.proto == "udp" then
    C.range4(S, pktgen.range.dst_port, S.UDP_DPORT_MIN, S.UDP_DPORT_MIN, S.UDP_DPORT_MAX, 1)
  else
    C.range4(S, pktgen.range.dst_port, S.DPX_PORT, S.DPX_PORT, S.DPX_PORT, 0)
  end
  local inc = (ph.size_max > ph.size_min) and S.SIZE_INC or 0
  C.range4(S, pktgen.range.pkt_size, ph.size_min, ph.size_min, ph.size_max, inc)  -- range 0 size ...
  if ph.proto == "tcp" then C.tcp_range(S, ph.flags or {}, S.SEQ, S.ACK) end
  pktgen.set_range(S.PORT, "on")                  -- enable 0 range
end

-------------------------------------------------------------------------------
-- Setup common to every phase
-------------------------------------------------------------------------------
if not C.ready(S) then return end
C.setup_port(S)                                   -- no proto or size: set per phase
C.setup_ranges(S, {})                             -- dpx as destination, spoofed sources
C.ping_gateway(S)

-------------------------------------------------------------------------------
-- Flood: cycle through the phases
-------------------------------------------------------------------------------
print(string.format("mixed flood: %s (port %d for TCP), %s%% of line rate, %ds, phases:",
  S.DPX_IP, S.DPX_PORT, tostring(S.RATE_PCT), S.DURATION_S))
for _, ph in ipairs(PHASES) do
  print(string.format("  %-5s %-4s %4d..%-4d bytes %5d ms", ph.name, ph.proto,
    ph.size_min, ph.size_max, ph.ms))
end

local per = {}                                    -- per-phase tx/rx/ms totals
for _, ph in ipairs(PHASES) do per[ph.name] = { tx = 0, rx = 0, ms = 0 } end

local first = C.totals(S)
local elapsed_ms = 0
local limit_ms = S.DURATION_S * 1000
while elapsed_ms < limit_ms do
  for _, ph in ipairs(PHASES) do
    if elapsed_ms >= limit_ms then break end
    local ms = math.min(ph.ms, limit_ms - elapsed_ms)
    setup_phase(ph)
    if ph.proto == "icmp" then
      for _ = 1, S.PINGS do pktgen.ping4(S.PORT); pktgen.delay(1) end   -- ping4 0
    end
    local before = C.totals(S)
    pktgen.start(S.PORT)                          -- start 0
    pktgen.delay(ms)
    pktgen.stop(S.PORT)                           -- stop 0
    pktgen.delay(5)                               -- replies in flight
    local after = C.totals(S)
    local acc = per[ph.name]
    acc.tx, acc.rx, acc.ms = acc.tx + after.tx - before.tx, acc.rx + after.rx - before.rx, acc.ms + ms
    elapsed_ms = elapsed_ms + ms
  end
  print(string.format("  %4ds done", math.floor(elapsed_ms / 1000)))
end
pktgen.set_range(S.PORT, "off")                   -- leave the port in single-packet mode
pktgen.delay(1000)

-------------------------------------------------------------------------------
-- Results
-------------------------------------------------------------------------------
local fmt = C.fmt
local stop = C.totals(S)
print(string.format("%-5s %14s %12s %14s %12s", "phase", "sent", "tx pps", "received", "rx pps"))
for _, ph in ipairs(PHASES) do
  local acc = per[ph.name]
  local s = acc.ms > 0 and acc.ms / 1000 or 1
  print(string.format("%-5s %14s %12s %14s %12s", ph.name, fmt(acc.tx), fmt(acc.tx / s),
    fmt(acc.rx), fmt(acc.rx / s)))
end
print(string.format("all   %14s %12s %14s %12s", fmt(stop.tx - first.tx),
  fmt((stop.tx - first.tx) / S.DURATION_S), fmt(stop.rx - first.rx),
  fmt((stop.rx - first.rx) / S.DURATION_S)))
C.port_errors(S, first, stop)
print("(rx per phase counts what came back while that phase ran: SYN-ACKs, RSTs,")
print(" rate-limited ICMP unreachables, echo replies; an rst phase should get ~0)")
print("on dpx: dpxctl stats -d 'Tcp*' 'TcpExt*' 'Ip*' 'Icmp*' 'Drop*'   and   dpxctl conns -s")
C.finish(S)
