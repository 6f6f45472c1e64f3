// dpx: the appliance. Flags and the profile are checked before anything
// starts: a mistake is one line on stderr and exit status 2. Then EAL, the
// ports, one reactor per lcore, until SIGINT/SIGTERM or --run-seconds; then
// a summary on stdout.
#include <cstdio>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "appliance.h"
#include "core/log.h"
#include "flags.h"
#include "proxy/config.h"

namespace {

constexpr int kExitRuntime = 1;
constexpr int kExitUsage = 2;

int Fail(int code, absl::string_view msg) {
  std::fprintf(stderr, "dpx: error: %.*s\n", static_cast<int>(msg.size()), msg.data());
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace dpx;
  app::FlagAction action;
  if (auto st = app::ParseFlags(argc, argv, &action); !st.ok()) {
    return Fail(kExitUsage, st.message());
  }
  if (action == app::FlagAction::kHelp) {
    std::fputs(app::HelpText().c_str(), stdout);
    return 0;
  }
  if (action == app::FlagAction::kVersion) {
    std::fputs(app::VersionText().c_str(), stdout);
    return 0;
  }
  if (auto st = app::ValidateFlags(); !st.ok()) return Fail(kExitUsage, st.message());
  LogLevel level = LogLevel::kInfo;
  ParseLogLevel(FLAGS_log_level, &level);
  SetLogLevel(level);

  absl::StatusOr<Profile> profile = app::ProfileFromFlags();
  if (!profile.ok()) return Fail(kExitUsage, profile.status().message());

  // The proxy config, checked whole before anything starts.
  std::optional<proxy::ProxyConfig> proxy_config;
  if (!FLAGS_proxy_config.empty()) {
    auto pc = proxy::LoadProxyConfigFile(FLAGS_proxy_config);
    if (!pc.ok()) return Fail(kExitUsage, pc.status().message());
    proxy_config = std::move(*pc);
  }

  if (FLAGS_check_config) {
    std::fputs(DescribePlan(*profile, "dpx").c_str(), stdout);
    if (proxy_config.has_value()) {
      std::printf("proxy config %s: %zu frontend(s), %zu pool(s)\n", FLAGS_proxy_config.c_str(),
                  proxy_config->frontends.size(), proxy_config->pools.size());
    }
    std::printf("check-config: OK (dry run: EAL and ports not started)\n");
    return 0;
  }

  app::Appliance::InstallSignalHandlers();
  app::RunOptions opts;
  opts.run_seconds = FLAGS_run_seconds;
  opts.stats_interval_s = FLAGS_stats_interval_s;
  opts.echo_port = static_cast<uint16_t>(FLAGS_echo_port);
  opts.ctl_socket = FLAGS_ctl_socket;
  opts.proxy_config = std::move(proxy_config);
  opts.proxy_config_path = FLAGS_proxy_config;
  opts.thash_entries = FLAGS_thash_entries;
  app::Appliance appliance(std::move(*profile), opts);
  if (auto st = appliance.Start(argv[0]); !st.ok()) {
    appliance.Shutdown();
    return Fail(kExitRuntime, st.message());
  }
  appliance.Run();
  appliance.Shutdown();
  appliance.PrintSummary(stdout);
  return 0;
}
