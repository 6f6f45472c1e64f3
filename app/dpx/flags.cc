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

DEFINE_string(profile, "tap",
              "NIC profile: a built-in name (see below) or a path to a .toml file "
              "(format: docs/drivers-config.md)");
DEFINE_bool(check_config, false,
            "Dry run: parse and validate the profile with these flags applied, print the EAL "
            "argv and the port plan, exit 0 (or 2). Starts neither EAL nor ports");
DEFINE_string(ip, "", "Address of the first port, A.B.C.D/N (overrides the profile's ip)");
DEFINE_string(gateway, "",
              "Default gateway of the first port, A.B.C.D (overrides the profile's gateway)");
DEFINE_string(tap_iface, "",
              "Name of the TAP netdev to create (overrides iface= of the profile's tap port)");
DEFINE_string(lcores, "",
              "Lcores to run on, e.g. 0 or 0-1 or 0,2 (overrides eal.lcores); the first is the "
              "main lcore; one reactor and one rx/tx queue per lcore");
DEFINE_string(log_level, "info", "Log level: debug, info, warning or error");
DEFINE_uint32(mbufs, 0, "Mbuf pool size per port (overrides the profile's mbufs; 0 = profile)");
DEFINE_uint32(stats_interval_s, 0,
              "Log port and stack counters every N seconds (0 = never)");
DEFINE_uint32(run_seconds, 0, "Stop after N seconds (0 = run until SIGINT/SIGTERM)");
DEFINE_string(file_prefix, "",
              "EAL --file-prefix (overrides the profile's); give each dpx running at the same "
              "time its own");

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
    "ctl_socket", "proxy_config",
};

bool IsOurFlag(const std::string& name, gflags::CommandLineFlagInfo* info) {
  if (std::find_if(std::begin(kFlagOrder), std::end(kFlagOrder),
                   [&](const char* f) { return name == f; }) == std::end(kFlagOrder)) {
    return false;
  }
  return gflags::GetCommandLineFlagInfo(name.c_str(), info);
}

std::string Replaced(std::string_view s, char from, char to) {
  std::string out(s);
  std::replace(out.begin(), out.end(), from, to);
  return out;
}
std::string Dashed(std::string_view name) { return Replaced(name, '_', '-'); }

}  // namespace

absl::Status ParseFlags(int argc, char** argv, FlagAction* action) {
  *action = FlagAction::kRun;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--") {
      if (i + 1 < argc) {
        return absl::InvalidArgumentError(
            absl::StrFormat("unexpected argument '%s' (dpx takes only --flags; see --help)",
                            argv[i + 1]));
      }
      break;
    }
    if (arg.size() < 2 || arg[0] != '-') {
      return absl::InvalidArgumentError(absl::StrFormat(
          "unexpected argument '%s' (dpx takes only --flags; see --help)", arg));
    }
    std::string_view body = arg.substr(arg[1] == '-' ? 2 : 1);
    const size_t eq = body.find('=');
    const bool has_value = eq != std::string_view::npos;
    std::string name = Replaced(body.substr(0, eq), '-', '_');
    std::string value = has_value ? std::string(body.substr(eq + 1)) : "";

    if (name == "help" || name == "h" || name == "helpfull" || name == "helpshort") {
      *action = FlagAction::kHelp;
      continue;
    }
    if (name == "version") {
      *action = FlagAction::kVersion;
      continue;
    }
    gflags::CommandLineFlagInfo info;
    if (!IsOurFlag(name, &info)) {
      // --noBOOL
      if (absl::StartsWith(name, "no") && !has_value && IsOurFlag(name.substr(2), &info) &&
          info.type == "bool") {
        gflags::SetCommandLineOption(info.name.c_str(), "false");
        continue;
      }
      return absl::InvalidArgumentError(
          absl::StrFormat("unknown flag '%s' (see dpx --help)", arg));
    }
    if (info.type == "bool") {
      if (!has_value) value = "true";
    } else if (!has_value) {
      if (i + 1 >= argc) {
        return absl::InvalidArgumentError(
            absl::StrFormat("flag --%s needs a value", Dashed(name)));
      }
      value = argv[++i];
    }
    if (gflags::SetCommandLineOption(name.c_str(), value.c_str()).empty()) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "bad value '%s' for --%s (a %s)", value, Dashed(name),
          info.type == "uint32" ? "non-negative integer" : info.type));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateFlags() {
  LogLevel level;
  if (!ParseLogLevel(FLAGS_log_level, &level)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "bad value '%s' for --log-level (debug, info, warning or error)", FLAGS_log_level));
  }
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
  for (const char* f : kFlagOrder) {
    gflags::CommandLineFlagInfo info;
    if (!gflags::GetCommandLineFlagInfo(f, &info)) continue;
    std::string lhs = absl::StrCat("--", Dashed(f));
    if (info.type != "bool") absl::StrAppend(&lhs, "=", info.type == "string" ? "STR" : "N");
    absl::StrAppendFormat(&out, "  %-24s %s", lhs, info.description);
    if (info.type == "string" && !info.default_value.empty()) {
      absl::StrAppendFormat(&out, " [default: %s]", info.default_value);
    } else if (info.type != "string") {
      absl::StrAppendFormat(&out, " [default: %s]", info.default_value);
    }
    out += "\n";
  }
  absl::StrAppendFormat(&out, "  %-24s %s\n", "--help", "This text");
  absl::StrAppendFormat(&out, "  %-24s %s\n", "--version", "Version and DPDK build");
  out += "\nBuilt-in profiles (drivers-config/, compiled in):\n";
  for (const auto& e : EmbeddedProfiles()) {
    auto p = ParseProfile(e.text, absl::StrCat("embedded:", e.name, ".toml"));
    absl::StrAppendFormat(&out, "  %-12s %s%s\n", e.name,
                          p.ok() ? p->description : std::string("(invalid!)"),
                          std::string_view(e.name) == kDefaultProfile ? " [default]" : "");
  }
  return out;
}

}  // namespace dpx::app

#include <rte_version.h>

namespace dpx::app {
std::string VersionText() { return absl::StrCat("dpx 0.1.0 (", rte_version(), ")\n"); }
}  // namespace dpx::app
