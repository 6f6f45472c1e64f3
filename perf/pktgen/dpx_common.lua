-- dpx_common.lua: settings and code shared by syn_flood.lua, ack_flood.lua
-- and mixed_flood.lua (perf/pktgen/README.md). Not a script of its own: it
-- only returns a table of functions, and must sit in the same directory as
-- the flood scripts (copy it along with them).
--
-- How the scripts find it: pktgen runs a script file (`-f FILE` or `script
-- FILE` at the prompt) with luaL_loadfile (lua_dofile in its
-- lib/lua/lua_config.c) in a state that has Lua's standard libraries, so in
-- the script debug.getinfo(1, "S").source is "@" followed by the path pktgen
-- was given. Each script strips the "@" and the file name and runs
-- `dofile(<that directory>/dpx_common.lua)`. When the path has no directory
-- ("syn_flood.lua") or the chunk did not come from a file (source without
-- "@", e.g. a string sent to pktgen's Lua socket), the directory is empty and
-- dofile() opens "dpx_common.lua" in the current directory (pktgen's).
-- `require` is not used: it searches package.path, which does not contain
-- the scripts' directory.
--
-- Written against pktgen 23.x (app/lpktgenlib.c, app/cli-functions.c,
-- scripts/rfc2544.lua of https://github.com/pktgen/Pktgen-DPDK). The Lua API
-- has no call for TCP flags or sequence numbers; those go through the CLI
-- (see cli() below), and each Lua call is shown with its CLI equivalent.

local M = {}

-------------------------------------------------------------------------------
-- Settings of the test bed, shared by the three scripts. A script can
-- override any of them in its own settings (e.g. DPX_PORT = 81).
-------------------------------------------------------------------------------
M.DEFAULTS = {
  PORT         = "0",                  -- pktgen port cabled to dpx
  DPX_MAC      = "00:00:00:00:00:00",  -- dpx's port MAC: `dpxctl info` ("port0: ... mac ...")
  DPX_IP       = "203.0.113.10",       -- dpx's address: profile `ip` or `dpx --ip`
  DPX_PORT     = 80,                   -- a frontend's port (proxy config `listen`)
  PKTGEN_IP    = "203.0.113.1/24",     -- this port's own address = dpx's `gateway`

  -- Spoofed clients: RFC 2544's benchmarking block 198.18.0.0/15, off dpx's
  -- subnet, so dpx sends every reply to its gateway (this pktgen port) and
  -- needs one ARP entry, not one per client.
  SRC_IP_MIN   = "198.18.0.1",
  SRC_IP_MAX   = "198.19.255.254",
  SRC_PORT_MIN = 1024,
  SRC_PORT_MAX = 65535,

  QUIT_AT_END  = false,                -- true: leave pktgen when a script is done
}

-- Until DPX_MAC is set, every script refuses to send anything.
local PLACEHOLDER_MAC = "00:00:00:00:00:00"

-- The settings of one script: M.DEFAULTS, overridden by the script's own
-- table. NAME is the script's file name (messages, and the default CLI_FILE
-- "/tmp/dpx-pktgen-<name>.pkt", where cli() writes its commands).
function M.settings(name, own)
  local S = { NAME = name }
  for k, v in pairs(M.DEFAULTS) do S[k] = v end
  for k, v in pairs(own) do S[k] = v end
  S.CLI_FILE = S.CLI_FILE or ("/tmp/dpx-pktgen-" .. name:gsub("%.lua$", "") .. ".pkt")
  return S
end

-- false (and a message) while DPX_MAC is the placeholder: nothing is sent.
function M.ready(S)
  if S.DPX_MAC == PLACEHOLDER_MAC then
    print(S.NAME .. ": set DPX_MAC (dpxctl info on the dpx box) and DPX_IP first,"
      .. " in dpx_common.lua; nothing sent")
    return false
  end
  return true
end

-------------------------------------------------------------------------------
-- Helpers
-------------------------------------------------------------------------------

-- Run pktgen CLI commands. They are written to S.CLI_FILE and fed to
-- pktgen's command parser by pktgen.load() (lpktgenlib.c: pktgen_load ->
-- cli_execute_cmdfile), exactly as `load CLI_FILE` at the prompt would.
-- The file is kept so the same setup can be replayed by hand.
function M.cli(S, cmds)
  local f = assert(io.open(S.CLI_FILE, "w"))
  for _, c in ipairs(cmds) do f:write(c, "\n") end
  f:close()
  local ok, err = pcall(pktgen.load, S.CLI_FILE)
  if not ok then
    print("pktgen.load(" .. S.CLI_FILE .. ") failed: " .. tostring(err))
    print("type  load " .. S.CLI_FILE .. "  at the pktgen prompt, then run the script again")
  end
end

-- pktgen's hardware counters for S.PORT (rte_eth_stats via pktgen.portStats).
function M.totals(S)
  local t = pktgen.portStats(S.PORT, "port")
  local s = (t and t[tonumber(S.PORT)]) or {}
  return { tx = s.opackets or 0, rx = s.ipackets or 0, ierrors = s.ierrors or 0,
           oerrors = s.oerrors or 0, nombuf = s.rx_nombuf or 0, missed = s.imissed or 0 }
end

function M.fmt(n) return string.format("%.0f", n) end

-- One range field: fn is pktgen.range.<field>, set to start, min, max, inc
-- (range 0 <field> start|min|max|inc VALUE).
function M.range4(S, fn, start, min, max, inc)
  fn(S.PORT, "start", start); fn(S.PORT, "min", min); fn(S.PORT, "max", max); fn(S.PORT, "inc", inc)
end

-------------------------------------------------------------------------------
-- Setup
-------------------------------------------------------------------------------

-- Stop and reset the port, then the single-packet settings: pktgen's own
-- address (it answers dpx's ARP for the gateway only with input processing
-- on) and dpx as the peer. proto and size are optional (nil: left as reset).
function M.setup_port(S, proto, size)
  pktgen.stop(S.PORT)                               -- stop 0
  pktgen.reset(S.PORT)                              -- reset 0   (port back to defaults)
  pktgen.set_ipaddr(S.PORT, "src", S.PKTGEN_IP)     -- set 0 src ip 203.0.113.1/24
  pktgen.set_ipaddr(S.PORT, "dst", S.DPX_IP)        -- set 0 dst ip 203.0.113.10
  pktgen.set_mac(S.PORT, "dst", S.DPX_MAC)          -- set 0 dst mac xx:xx:xx:xx:xx:xx
  if proto then pktgen.set_proto(S.PORT, proto) end -- set 0 proto tcp
  pktgen.process(S.PORT, "enable")                  -- enable 0 process  (ARP replies, ping)
  if size then pktgen.set(S.PORT, "size", size) end -- set 0 size 64
  pktgen.set(S.PORT, "rate", S.RATE_PCT)            -- set 0 rate 10
  pktgen.set(S.PORT, "count", 0)                    -- set 0 count 0     (0 = until stopped)
end

-- Range settings, what is sent once range mode is on: to dpx (MAC, address)
-- from the spoofed sources, stepping through SRC_IP_* and SRC_PORT_*. The
-- optional r.proto (range 0 proto tcp), r.dst_port and r.size ({ start, min,
-- max, inc }: range 0 dst port ..., range 0 size ...) are set as well.
function M.setup_ranges(S, r)
  local R = pktgen.range
  if r.proto then R.ip_proto(S.PORT, r.proto) end
  M.range4(S, R.dst_mac, S.DPX_MAC, S.DPX_MAC, S.DPX_MAC, "00:00:00:00:00:00")  -- range 0 dst mac ...
  M.range4(S, R.dst_ip, S.DPX_IP, S.DPX_IP, S.DPX_IP, "0.0.0.0")                -- range 0 dst ip ...
  if r.dst_port then M.range4(S, R.dst_port, r.dst_port[1], r.dst_port[2], r.dst_port[3], r.dst_port[4]) end
  M.range4(S, R.src_ip, S.SRC_IP_MIN, S.SRC_IP_MIN, S.SRC_IP_MAX, "0.0.0.1")    -- range 0 src ip ...
  M.range4(S, R.src_port, S.SRC_PORT_MIN, S.SRC_PORT_MIN, S.SRC_PORT_MAX, 1)    -- range 0 src port ...
  if r.size then M.range4(S, R.pkt_size, r.size[1], r.size[2], r.size[3], r.size[4]) end
end

-- TCP header of range mode: the given flags only (list of urg ack psh rst
-- syn fin), sequence and acknowledgment numbers from seq and ack ({ start =,
-- min =, max =, inc = }). Only the CLI has these (cli-functions.c range_map
-- entries 42/43/46/47); it parses the numbers with atoi(), so keep them
-- below 2^31.
function M.tcp_range(S, flags, seq, ack)
  local p = "range " .. S.PORT .. " "
  local cmds = { p .. "tcp flag clr all" }
  for _, fl in ipairs(flags) do cmds[#cmds + 1] = p .. "tcp flag set " .. fl end
  for _, f in ipairs({ { "seq", seq }, { "ack", ack } }) do
    for _, k in ipairs({ "start", "min", "max", "inc" }) do
      cmds[#cmds + 1] = p .. "tcp " .. f[1] .. " " .. k .. " " .. f[2][k]
    end
  end
  M.cli(S, cmds)
end

-- One echo request first: dpx answers it, which makes dpx resolve this
-- port's address (its gateway) before the flood. Costs nothing if done.
function M.ping_gateway(S)
  pktgen.ping4(S.PORT)                              -- ping4 0
  pktgen.delay(500)
end

-------------------------------------------------------------------------------
-- Flood and results of one TCP stream (syn_flood.lua, ack_flood.lua)
-------------------------------------------------------------------------------

-- Everything before the flood: the port, range mode for TCP segments with
-- the given flags to DPX_IP:DPX_PORT, S.PKT_SIZE frames, seq and ack swept
-- as S.SEQ and S.ACK; range mode on; one ping.
function M.setup_tcp_flood(S, flags)
  M.setup_port(S, "tcp", S.PKT_SIZE)
  M.setup_ranges(S, { proto = "tcp",
    dst_port = { S.DPX_PORT, S.DPX_PORT, S.DPX_PORT, 0 },   -- range 0 dst port start 80 ...
    size     = { S.PKT_SIZE, S.PKT_SIZE, S.PKT_SIZE, 0 } }) -- range 0 size start 64 ...
  M.tcp_range(S, flags, S.SEQ, S.ACK)               -- range 0 tcp flag set syn, seq ..., ack ...
  pktgen.set_range(S.PORT, "on")                    -- enable 0 range
  M.ping_gateway(S)
end

-- Prints "<what>: dpx:port from sources, rate, duration", sends for
-- S.DURATION_S seconds (rates every S.REPORT_S seconds), stops and waits for
-- the last replies. Returns the port's totals before and after.
function M.flood(S, what)
  print(string.format("%s: %s:%d from %s-%s ports %d-%d, %s%% of line rate, %ds",
    what, S.DPX_IP, S.DPX_PORT, S.SRC_IP_MIN, S.SRC_IP_MAX, S.SRC_PORT_MIN, S.SRC_PORT_MAX,
    tostring(S.RATE_PCT), S.DURATION_S))
  local first = M.totals(S)
  local last = first
  pktgen.start(S.PORT)                              -- start 0
  for sec = 1, S.DURATION_S do
    pktgen.delay(1000)
    if S.REPORT_S > 0 and sec % S.REPORT_S == 0 then
      local now = M.totals(S)
      print(string.format("  %4ds  tx %12s pps  rx %12s pps", sec,
        M.fmt((now.tx - last.tx) / S.REPORT_S), M.fmt((now.rx - last.rx) / S.REPORT_S)))
      last = now
    end
  end
  pktgen.stop(S.PORT)                               -- stop 0
  pktgen.delay(1000)                                -- let the last replies arrive
  return first, M.totals(S)
end

-- "sent N <sent> (pps), received N packets (pps): <answered>", where
-- answered is a format with one %.1f for rx as a percentage of tx; then the
-- port's error counters.
function M.summary(S, first, stop, sent, answered)
  local tx, rx = stop.tx - first.tx, stop.rx - first.rx
  print(string.format("sent %s " .. sent .. " (%s pps), received %s packets (%s pps): " .. answered,
    M.fmt(tx), M.fmt(tx / S.DURATION_S), M.fmt(rx), M.fmt(rx / S.DURATION_S),
    tx > 0 and 100 * rx / tx or 0))
  M.port_errors(S, first, stop)
end

-- pktgen's own losses between two totals().
function M.port_errors(S, first, stop)
  local fmt = M.fmt
  print(string.format("pktgen port %s: rx errors %s, rx missed %s, rx no-mbuf %s, tx errors %s",
    S.PORT, fmt(stop.ierrors - first.ierrors), fmt(stop.missed - first.missed),
    fmt(stop.nombuf - first.nombuf), fmt(stop.oerrors - first.oerrors)))
end

function M.finish(S)
  if S.QUIT_AT_END then pktgen.quit() end
end

return M
