#include "flags.h"

#include <algorithm>
#include <string_view>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "core/log.h"
#include "net/port_profile.h"

DEFINE_bool(check_config, false,
            "Dry run: parse and validate the profile with these flags applied, print the EAL "
            "argv and the port plan, exit 0 (or 2). Starts neither EAL nor ports");
DEFINE_uint32(stats_interval_s, 0,
              "Log port and stack counters every N seconds (0 = never)");
DEFINE_uint32(run_seconds, 0, "Stop after N seconds (0 = run until SIGINT/SIGTERM)");

DEFINE_uint32(echo_port, 0,
              "Run a TCP echo service on this port on every lcore (0 = off); checks a "
              "deployment end to end and carries the integration tests' traffic");

DEFINE_string(ctl_socket, "/run/dpx/dpx.sock",
              "Control socket (unix, mode 0600) that dpxctl talks to; its directory is created "
              "mode 0700 if missing; removed at exit. Empty: no control socket");


DEFINE_string(proxy_config, "",
              "Run the TCP proxy from this config file (TOML, docs/proxy-config.md): a worker "
              "process proxy-w<core> on every lcore listening on every frontend; checked before "
              "anything starts (a bad file: exit 2); `dpxctl proxy reload` re-reads it. "
              "Empty: no proxy");

namespace dpx::app {

namespace {

// --help order.
constexpr const char* kFlagOrder[] = {
    "profile", "check_config", "ip",     "gateway",          "tap_iface",   "lcores",
    "mbufs",   "log_level",    "run_seconds", "stats_interval_s", "file_prefix", "echo_port",
    "ctl_socket", "proxy_config", "thash_entries",
};

}  // namespace

absl::Status ParseFlags(int argc, char** argv, FlagAction* action) {
  return ParseStrictFlags(argc, argv, kFlagOrder, "dpx", action);
}

absl::Status ValidateFlags() {
  if (auto st = ValidateCommonFlags(); !st.ok()) return st;
  if (FLAGS_echo_port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrFormat("bad value %d for --echo-port (1-65535, or 0 for off)", FLAGS_echo_port));
  }
  return absl::OkStatus();
}

std::string HelpText() {
  std::string out =
      "dpx: DPDK TCP/IP appliance. Brings up the ports of a NIC profile, one reactor per "
      "lcore,\nanswers ARP and ping on the configured address, and serves dpxctl on --ctl-socket\n"
      "(docs/dpxctl.md).\n\n"
      "Usage: dpx [--flag=value ...]\n\n"
      "Exit status: 0 ok; 1 runtime failure (EAL, ports, control socket in use, a proxy\n"
      "listener that cannot open); 2 bad flags, profile or proxy config.\n"
      "SIGINT/SIGTERM stop dpx cleanly; it then prints counters, the proxy table and the ARP\n"
      "table.\n\n"
      "Flags:\n";
  out += StrictFlagsHelp(kFlagOrder);
  out += ProfileListHelp();
  return out;
}

}  // namespace dpx::app

#include <rte_version.h>

namespace dpx::app {
std::string VersionText() { return absl::StrCat("dpx 0.1.0 (", rte_version(), ")\n"); }
}  // namespace dpx::app
