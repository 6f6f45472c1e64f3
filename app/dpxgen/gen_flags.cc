#include "gen_flags.h"

#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "core/log.h"
#include "tcp/sysctl_table.h"


DEFINE_string(mode, "cps",
              "cps: connect, request, response, close; rps: keep-alive requests on "
              "--concurrency connections; bulk: stream for --duration-s; hold: open --count "
              "connections and keep them idle");
DEFINE_string(target, "", "Where the client connects: A.B.C.D:PORT or A.B.C.D:LO-HI (round robin "
              "over the ports, more 4-tuples). Empty: no client side");
DEFINE_string(listen, "", "Server side: listen on PORT or LO-HI (dpx's backends). Empty: none");
DEFINE_uint64(rate, 0, "New connections per second (cps, hold, --hold); 0 = as fast as "
              "--concurrency allows");
DEFINE_uint32(concurrency, 64, "cps/bulk: connections in flight; rps: connections open");
DEFINE_uint64(count, 0, "cps: connections to run (0 = until --duration-s); hold: to open");
DEFINE_uint32(req_bytes, 100, "Request size (bytes)");
DEFINE_uint32(resp_bytes, 1000, "Response size (bytes)");
DEFINE_string(close, "client", "cps: who closes first, client or server");
DEFINE_string(bulk_dir, "down", "bulk: down (server -> client) or up (client -> server)");
DEFINE_uint64(hold, 0, "Idle connections to open before the measured phase (any mode)");
DEFINE_string(flood, "none",
              "Also send a stateless flood at --target while the run lasts: syn (SYNs from random "
              "ports) or ack (ACKs for flows that do not exist); none: off");
DEFINE_uint64(flood_pps, 100000, "Flood packets per second");
DEFINE_uint32(duration_s, 10, "Measured phase length (0 = until --count or a signal; hold: "
              "how long to hold, 0 = until SIGINT/SIGTERM)");
DEFINE_uint32(hold_timeout_s, 600, "Give up when the held connections are not all open after "
              "this long");
DEFINE_uint32(drain_s, 5, "After the run: close everything and wait up to this long for the "
              "sockets to go");
DEFINE_bool(static_arp, true,
            "Pin the neighbour once resolved (ip neigh ... nud permanent): a load generator on a "
            "point-to-point link must not lose its peer to an unanswered probe under overload");
DEFINE_uint32(link_wait_s, 10, "How long to wait for the link (memif: dpx must be running)");
DEFINE_uint32(progress_ms, 1000, "Progress line on stderr every N ms (0 = none)");
DEFINE_string(sysctl, "net.ipv4.ip_local_port_range=1024 65535",
              "TCP sysctls for the generator's stack, NAME=VALUE[,NAME=VALUE...] (Linux names, "
              "as `dpxctl sysctl`)");

namespace dpx::app {

namespace {

constexpr const char* kFlagOrder[] = {
    "mode",       "target",   "listen",       "rate",      "concurrency", "count",
    "req_bytes",  "resp_bytes", "close",      "bulk_dir",  "hold",        "duration_s",
    "hold_timeout_s", "drain_s", "progress_ms", "flood", "flood_pps", "sysctl",  "thash_entries", "profile",
    "ip",         "gateway",  "tap_iface",    "lcores",    "mbufs",       "file_prefix",
    "link_wait_s", "static_arp", "log_level",
};

absl::Status PortRange(absl::string_view s, const char* flag, std::vector<uint16_t>* out) {
  std::vector<absl::string_view> lohi = absl::StrSplit(s, absl::MaxSplits('-', 1));
  uint32_t lo = 0, hi = 0;
  if (!absl::SimpleAtoi(lohi[0], &lo) || (lohi.size() == 2 && !absl::SimpleAtoi(lohi[1], &hi)))
    return absl::InvalidArgumentError(absl::StrFormat("bad port '%s' in --%s", s, flag));
  if (lohi.size() == 1) hi = lo;
  if (lo == 0 || hi > 65535 || lo > hi)
    return absl::InvalidArgumentError(
        absl::StrFormat("bad port range '%s' in --%s (1-65535, LO <= HI)", s, flag));
  for (uint32_t p = lo; p <= hi; ++p) out->push_back(static_cast<uint16_t>(p));
  return absl::OkStatus();
}

}  // namespace

absl::Status ParseGenFlags(int argc, char** argv, FlagAction* action) {
  // The generator's own default: the other end of dpx's memif profile.
  gflags::SetCommandLineOptionWithMode("profile", "memif-client", gflags::SET_FLAGS_DEFAULT);
  if (auto st = ParseStrictFlags(argc, argv, kFlagOrder, "dpxgen", action); !st.ok()) return st;
  return ValidateCommonFlags();
}

absl::StatusOr<Profile> GenProfileFromFlags() {
  auto p = ProfileFromFlags();
  if (!p.ok()) return p.status();
  if (p->cores() != 1 || p->ports.size() != 1)
    return absl::InvalidArgumentError(absl::StrFormat(
        "dpxgen runs one lcore on one port; profile %s has %d lcore(s) and %d port(s) "
        "(use --lcores=N)", p->name, p->cores(), p->ports.size()));
  return p;
}

absl::StatusOr<gen::GenConfig> GenConfigFromFlags() {
  gen::GenConfig c;
  if (FLAGS_mode == "cps") c.mode = gen::Mode::kCps;
  else if (FLAGS_mode == "rps") c.mode = gen::Mode::kRps;
  else if (FLAGS_mode == "bulk") c.mode = gen::Mode::kBulk;
  else if (FLAGS_mode == "hold") c.mode = gen::Mode::kHold;
  else
    return absl::InvalidArgumentError(
        absl::StrFormat("bad value '%s' for --mode (cps, rps, bulk or hold)", FLAGS_mode));
  if (FLAGS_close == "client") c.closer = gen::Closer::kClient;
  else if (FLAGS_close == "server") c.closer = gen::Closer::kServer;
  else return absl::InvalidArgumentError("bad value for --close (client or server)");
  if (FLAGS_bulk_dir == "down") c.bulk_dir = gen::BulkDir::kDown;
  else if (FLAGS_bulk_dir == "up") c.bulk_dir = gen::BulkDir::kUp;
  else return absl::InvalidArgumentError("bad value for --bulk-dir (down or up)");

  if (!FLAGS_target.empty()) {
    std::vector<absl::string_view> hp = absl::StrSplit(FLAGS_target, absl::MaxSplits(':', 1));
    if (hp.size() != 2)
      return absl::InvalidArgumentError(
          absl::StrFormat("bad --target '%s' (A.B.C.D:PORT or A.B.C.D:LO-HI)", FLAGS_target));
    uint32_t host = 0;
    if (auto st = ParseIpv4Host(std::string(hp[0]), &host); !st.ok())
      return absl::InvalidArgumentError(absl::StrCat("--target: ", st.message()));
    c.target_be = __builtin_bswap32(host);
    if (auto st = PortRange(hp[1], "target", &c.target_ports); !st.ok()) return st;
  }
  if (!FLAGS_listen.empty()) {
    if (auto st = PortRange(FLAGS_listen, "listen", &c.listen_ports); !st.ok()) return st;
  }
  c.client = !c.target_ports.empty();
  if (!c.client && c.listen_ports.empty())
    return absl::InvalidArgumentError("nothing to do: give --target (client), --listen (server) "
                                      "or both");
  if (c.mode == gen::Mode::kHold && c.client && FLAGS_count == 0)
    return absl::InvalidArgumentError("--mode=hold needs --count (connections to open)");
  if (FLAGS_concurrency == 0) return absl::InvalidArgumentError("--concurrency must be >= 1");
  if ((c.mode == gen::Mode::kCps || c.mode == gen::Mode::kRps) &&
      (FLAGS_req_bytes == 0 || FLAGS_resp_bytes == 0))
    return absl::InvalidArgumentError("--req-bytes and --resp-bytes must be >= 1 in cps/rps");
  if (c.mode == gen::Mode::kBulk && FLAGS_req_bytes == 0)
    return absl::InvalidArgumentError("--req-bytes must be >= 1 (bulk starts with a request)");
  if (c.mode == gen::Mode::kCps && FLAGS_count == 0 && FLAGS_duration_s == 0)
    return absl::InvalidArgumentError("cps needs --count or --duration-s");
  c.rate = FLAGS_rate;
  c.concurrency = FLAGS_concurrency;
  c.count = FLAGS_count;
  c.req_bytes = FLAGS_req_bytes;
  c.resp_bytes = FLAGS_resp_bytes;
  c.hold = FLAGS_hold;
  return c;
}

absl::Status ApplySysctlFlag(tcp::TcpSysctls* sysctls) {
  if (FLAGS_sysctl.empty()) return absl::OkStatus();
  for (absl::string_view kv : absl::StrSplit(FLAGS_sysctl, ',', absl::SkipEmpty())) {
    std::vector<absl::string_view> nv = absl::StrSplit(kv, absl::MaxSplits('=', 1));
    if (nv.size() != 2)
      return absl::InvalidArgumentError(absl::StrFormat("--sysctl: '%s' is not NAME=VALUE", kv));
    if (auto st = tcp::SysctlSet(sysctls, nv[0], nv[1]); !st.ok())
      return absl::InvalidArgumentError(absl::StrCat("--sysctl: ", st.message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<gen::FloodKind> FloodFromFlags() {
  if (FLAGS_flood == "none") return gen::FloodKind::kNone;
  if (FLAGS_flood == "syn") return gen::FloodKind::kSyn;
  if (FLAGS_flood == "ack") return gen::FloodKind::kAck;
  return absl::InvalidArgumentError(
      absl::StrFormat("bad value '%s' for --flood (none, syn or ack)", FLAGS_flood));
}

std::string GenHelpText() {
  std::string out =
      "dpxgen: stateful TCP load on the dpx stack, client and server in one process (like TRex "
      "ASTF).\nThe client connects to --target (dpx's frontends), the server answers on "
      "--listen (dpx's\nbackends). A progress line on stderr; at the end one JSON line on stdout "
      "(rates, latency\np50/p99/p999, errors, resets). With --hold or --mode=hold, a JSON line "
      "{\"event\":\"hold_done\"}\nis printed once the idle connections are open.\n\n"
      "Usage: dpxgen --target=198.51.100.2:80 --listen=8080 --mode=cps --duration-s=10\n\n"
      "Exit status: 0 ok; 1 runtime failure (EAL, link, hold timeout); 2 bad flags; 3 the run "
      "saw errors\n(connect failures, resets, short responses).\n\nFlags:\n";
  out += StrictFlagsHelp(kFlagOrder);
  out += ProfileListHelp();
  return out;
}

}  // namespace dpx::app
