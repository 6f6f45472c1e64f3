-- ack_flood.lua: an ACK flood for connections that do not exist, for pktgen-dpdk.
--
-- Usage (on the pktgen box, never towards a network you do not own):
--   1. Set DPX_MAC, DPX_IP and DPX_PORT in dpx_common.lua (shared by the
--      three scripts, which refuse to run with the placeholder MAC).
--   2. sudo pktgen -l 1-5 -n 4 --file-prefix pg -a 0000:3b:00.0 -a 0000:3b:00.1 \
--          -- -T -P -m "[2:3].0, [4:5].1" -f perf/pktgen/ack_flood.lua
--      or, at a running pktgen's prompt:  script perf/pktgen/ack_flood.lua
--   3. Watch dpx:  dpxctl stats -d 'Tcp*' 'TcpExt*' 'Drop*'
--
-- What it sends: pure ACKs (ACK flag only, no payload, 64-byte frames by
-- default) to DPX_IP:DPX_PORT from spoofed addresses and ports, with
-- sequence and acknowledgment numbers that walk the 0..2^31-1 space in large
-- odd steps: segments of flows dpx has never seen.
--
-- What dpx must do (its TCP follows Linux): a segment that matches no
-- connection is answered by tcp_v4_send_reset's RST (seq = the segment's
-- ack, no ACK flag), or dropped, never accepted:
--   * DPX_PORT with a listener: the ACK is checked as a SYN cookie only if
--     the listener's SYN queue overflowed in the last 120 s (e.g. right after
--     syn_flood.lua) or net.ipv4.tcp_syncookies = 2; it fails
--     (TcpExtSyncookiesFailed) and gets an RST. Otherwise: RST at once.
--   * a port with no listener (override DPX_PORT below): RST.
--   In both cases TcpOutRsts rises one for one with the ACKs: like Linux,
--   dpx does not rate-limit resets for segments matching no socket. The
--   rate limits are elsewhere: challenge ACKs (RFC 5961, TcpExtTCPChallengeACK)
--   and duplicate ACKs for out-of-window segments of an EXISTING connection
--   are limited per socket by net.ipv4.tcp_invalid_ratelimit (500 ms by
--   default; TcpExtTCPACKSkippedSeq / ...Challenge count the ones skipped),
--   and ICMP errors by icmp_msgs_per_sec/burst (IcmpOutRateLimitGlobal).
--   No connection may appear: TcpPassiveOpens and TcpCurrEstab must not move.
-- pktgen's rx rate is therefore the rate at which dpx answers.
--
-- Range mode is a sweep, not random (see syn_flood.lua's header for why).

-- pktgen gives the script's path as debug.getinfo(1, "S").source, after an
-- "@": dpx_common.lua is loaded from that directory, or from the current
-- one if there is no "@" or no directory (see dpx_common.lua's header).
local src = debug.getinfo(1, "S").source
local C = dofile((src:sub(1, 1) == "@" and src:sub(2):match("^(.*[/\\])") or "") .. "dpx_common.lua")

-- Settings; dpx_common.lua's DEFAULTS (DPX_MAC, DPX_IP, ...) apply unless
-- overridden here.
local S = C.settings("ack_flood.lua", {
  -- DPX_PORT = 81,      -- a closed port: the no-listener RST path
  RATE_PCT   = 10,       -- % of line rate (100 = line rate)
  PKT_SIZE   = 64,       -- frame size with CRC, 64..1518 (above 64: payload)
  DURATION_S = 30,       -- seconds of flood
  REPORT_S   = 5,        -- print rates every N seconds (0: never)
  -- Sequence / acknowledgment numbers: start, min, max, increment.
  SEQ = { start = 7,  min = 0, max = 2147483647, inc = 2654435 },
  ACK = { start = 11, min = 0, max = 2147483647, inc = 1999993 },
})

if not C.ready(S) then return end
C.setup_tcp_flood(S, { "ack" })                  -- range 0 tcp flag set ack, ...

local first, stop = C.flood(S, "ACK flood")
C.summary(S, first, stop, "ACKs", "%.1f%% answered (RSTs)")
print("on dpx: dpxctl stats -d 'Tcp*' 'TcpExt*' 'Drop*'   (TcpOutRsts ~ ACKs received;")
print("        TcpPassiveOpens, TcpCurrEstab unchanged)")
C.finish(S)
