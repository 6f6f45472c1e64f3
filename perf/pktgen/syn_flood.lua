-- syn_flood.lua: a SYN flood against one dpx frontend, for pktgen-dpdk.
--
-- Usage (on the pktgen box, never towards a network you do not own):
--   1. Edit the test bed's settings in dpx_common.lua (they apply to all
--      three flood scripts): at least DPX_MAC (the scripts refuse to run
--      with the placeholder), DPX_IP and DPX_PORT. Keep dpx_common.lua in
--      the same directory as this script.
--   2. Start pktgen with it:
--        sudo pktgen -l 1-5 -n 4 --file-prefix pg -a 0000:3b:00.0 -a 0000:3b:00.1 \
--            -- -T -P -m "[2:3].0, [4:5].1" -f perf/pktgen/syn_flood.lua
--      or, at a running pktgen's prompt:  script perf/pktgen/syn_flood.lua
--   3. Watch dpx meanwhile:  dpxctl stats -d 'TcpExt*' 'Tcp*' 'Drop*'
--      (perf/pktgen/README.md says what each counter should do).
--
-- What it sends: TCP SYNs (no options, 64-byte frames by default) to
-- DPX_IP:DPX_PORT from SRC_IP_MIN..SRC_IP_MAX and SRC_PORT_MIN..SRC_PORT_MAX,
-- at RATE_PCT % of the link for DURATION_S seconds, then prints pktgen's
-- totals. Every SYN that dpx answers comes back as a SYN-ACK (a SYN cookie
-- once the SYN queue is full), so pktgen's rx rate is the rate dpx sustains.
--
-- About "random": pktgen's range mode walks each field from min to max by
-- its increment and wraps (app/pktgen-range.c). The two source ranges have
-- lengths 131070 and 64512, so about 1.4e9 (address, port) pairs go by
-- before one repeats: every SYN is a new flow to dpx, spread by RSS over its
-- cores. pktgen's true random option ("set <port> rnd <idx> <off> <mask>")
-- overwrites bits after the checksums are computed (pktgen_rnd_bits_apply in
-- app/pktgen-random.c), so dpx would drop every packet as DropTCP_CSUM.

-- dpx_common.lua is loaded from this script's own directory: pktgen loads
-- the script with luaL_loadfile, so debug.getinfo(1, "S").source is "@"
-- plus its path; without "@" or a directory, from the current directory.
local src = debug.getinfo(1, "S").source
local C = dofile((src:sub(1, 1) == "@" and src:sub(2):match("^(.*[/\\])") or "") .. "dpx_common.lua")

-- This flood's settings. The test bed's (DPX_MAC, DPX_IP, DPX_PORT, ...)
-- are in dpx_common.lua's DEFAULTS; any of them can be overridden here.
local S = C.settings("syn_flood.lua", {
  RATE_PCT   = 10,       -- % of line rate (100 = line rate)
  PKT_SIZE   = 64,       -- frame size with CRC, 64..1518
  DURATION_S = 30,       -- seconds of flood
  REPORT_S   = 5,        -- print rates every N seconds (0: never)
  -- TCP: the ISN walks through 1..2^31-1; ack 0.
  SEQ = { start = 1, min = 1, max = 2147483647, inc = 1000003 },
  ACK = { start = 0, min = 0, max = 0,          inc = 0 },
  -- CLI_FILE = "/tmp/dpx-pktgen-syn_flood.pkt",  -- CLI commands written here
})

if not C.ready(S) then return end
C.setup_tcp_flood(S, { "syn" })                  -- range 0 tcp flag set syn, ...

local first, stop = C.flood(S, "SYN flood")
C.summary(S, first, stop, "SYNs", "dpx answered %.1f%%")
print("(rx missed / no-mbuf above 0: pktgen's rx side, not dpx, is the limit)")
print("on dpx: dpxctl stats -d 'TcpExt*' 'Tcp*' 'Drop*'   and   dpxctl conns -s")
C.finish(S)
