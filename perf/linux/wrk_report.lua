-- wrk script for bench_linux.sh: pads every request to exactly
-- $DPX_REQ_BYTES bytes with an X-Pad header. Prints "REQBYTES n" from each
-- thread's init and, at the end, one line
--   RESULT requests=.. duration_us=.. p50_us=.. p99_us=.. p999_us=.. errors=..
-- (latency is wrk's: request written to response read, connect excluded).
local target = tonumber(os.getenv("DPX_REQ_BYTES") or "100")

function init(args)
  wrk.headers["X-Pad"] = "x"
  local pad = target - #wrk.format()
  wrk.headers["X-Pad"] = string.rep("x", math.max(1, 1 + pad))
  io.write(string.format("REQBYTES %d\n", #wrk.format()))
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d bytes=%d p50_us=%d p99_us=%d p999_us=%d " ..
    "errors=%d err_connect=%d err_read=%d err_write=%d err_timeout=%d err_status=%d\n",
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9),
    e.connect + e.read + e.write + e.timeout + e.status,
    e.connect, e.read, e.write, e.timeout, e.status))
end
