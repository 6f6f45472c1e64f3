#include "profile_flags.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/log.h"

DEFINE_string(profile, "tap",
              "NIC profile: a built-in name (see below) or a path to a .toml file "
              "(format: docs/drivers-config.md)");
DEFINE_string(ip, "", "Address of the first port, A.B.C.D/N (overrides the profile's ip)");
DEFINE_string(gateway, "",
              "Default gateway of the first port, A.B.C.D (overrides the profile's gateway)");
DEFINE_string(tap_iface, "",
              "Name of the TAP netdev to create (overrides iface= of the profile's tap port)");
DEFINE_string(lcores, "",
              "Lcores to run on, e.g. 0 or 0-1 or 0,2 (overrides eal.lcores); the first is the "
              "main lcore; one reactor and one rx/tx queue per lcore");
DEFINE_uint32(mbufs, 0, "Mbuf pool size per port (overrides the profile's mbufs; 0 = profile)");
DEFINE_string(file_prefix, "",
              "EAL --file-prefix (overrides the profile's); give each process running at the "
              "same time its own");
DEFINE_string(log_level, "info", "Log level: debug, info, warning or error");
DEFINE_uint32(thash_entries, 1u << 20,
              "Buckets of each core's TCP connection hash table (Linux thash_entries); "
              "rounded up to a power of two. Size it near the connections a core holds: "
              "4 bytes per bucket");

namespace dpx::app {

absl::StatusOr<Profile> ProfileFromFlags() {
  ProfileOverrides o;
  o.tap_iface = FLAGS_tap_iface;
  o.ip = FLAGS_ip;
  o.gateway = FLAGS_gateway;
  o.lcores = FLAGS_lcores;
  o.mbufs = FLAGS_mbufs;
  o.file_prefix = FLAGS_file_prefix;
  return LoadProfileWithOverrides(FLAGS_profile, o);
}

std::string ProfileListHelp() {
  std::string out = "\nBuilt-in profiles (drivers-config/, compiled in):\n";
  for (const auto& e : EmbeddedProfiles()) {
    auto p = ParseProfile(e.text, absl::StrCat("embedded:", e.name, ".toml"));
    absl::StrAppendFormat(&out, "  %-13s %s%s\n", e.name,
                          p.ok() ? p->description : std::string("(invalid!)"),
                          FLAGS_profile == e.name ? " [default]" : "");
  }
  return out;
}

absl::Status ValidateCommonFlags() {
  LogLevel level;
  if (!ParseLogLevel(FLAGS_log_level, &level)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "bad value '%s' for --log-level (debug, info, warning or error)", FLAGS_log_level));
  }
  if (FLAGS_thash_entries < 16 || FLAGS_thash_entries > (1u << 28)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "bad value %d for --thash-entries (16 to 268435456)", FLAGS_thash_entries));
  }
  return absl::OkStatus();
}

}  // namespace dpx::app
