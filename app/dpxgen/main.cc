// dpxgen: the load generator. Flags and profile are checked first (a
// mistake: one line on stderr, exit 2). Then EAL, the port and the stack;
// then the run: open the held connections (--hold, or --mode=hold), run the
// measured phase, close everything and wait for the sockets to go, print
// the JSON summary on stdout.
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstring>

#include <rte_version.h>

#include "absl/strings/str_format.h"
#include "core/log.h"
#include "gen/load_gen.h"
#include "gen_flags.h"
#include "gen_runtime.h"
#include "gen_report.h"
#include "stop_signals.h"

namespace {

constexpr int kExitRuntime = 1;
constexpr int kExitUsage = 2;
constexpr int kExitErrors = 3;

std::atomic<bool> g_stop{false};
std::atomic<int> g_signals{0};

void OnSignal(int) {
  const int n = g_signals.fetch_add(1) + 1;
  g_stop.store(true, std::memory_order_relaxed);
  if (n > 1) std::_Exit(130);  // a second Ctrl-C: no drain
}

int Fail(int code, absl::string_view msg) {
  std::fprintf(stderr, "dpxgen: error: %.*s\n", static_cast<int>(msg.size()), msg.data());
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace dpx;
  app::FlagAction action;
  if (auto st = app::ParseGenFlags(argc, argv, &action); !st.ok())
    return Fail(kExitUsage, st.message());
  if (action == app::FlagAction::kHelp) {
    std::fputs(app::GenHelpText().c_str(), stdout);
    return 0;
  }
  if (action == app::FlagAction::kVersion) {
    std::printf("dpxgen 0.1.0 (%s)\n", rte_version());
    return 0;
  }
  LogLevel level = LogLevel::kInfo;
  ParseLogLevel(FLAGS_log_level, &level);
  SetLogLevel(level);
  auto profile = app::GenProfileFromFlags();
  if (!profile.ok()) return Fail(kExitUsage, profile.status().message());
  auto cfg = app::GenConfigFromFlags();
  if (!cfg.ok()) return Fail(kExitUsage, cfg.status().message());
  auto flood_kind = app::FloodFromFlags();
  if (!flood_kind.ok()) return Fail(kExitUsage, flood_kind.status().message());
  if (*flood_kind != gen::FloodKind::kNone && cfg->target_ports.empty())
    return Fail(kExitUsage, "--flood needs --target");
  tcp::TcpStackConfig tcfg;
  tcfg.ehash_buckets = FLAGS_thash_entries;
  // The generator is a test tool: it holds as many sockets as it is told to.
  tcfg.sysctl.tcp_max_orphans = 1u << 26;
  tcfg.sysctl.tcp_mem[0] = tcfg.sysctl.tcp_mem[1] = tcfg.sysctl.tcp_mem[2] = uint64_t{1} << 40;
  if (auto st = app::ApplySysctlFlag(&tcfg.sysctl); !st.ok()) return Fail(kExitUsage, st.message());

  app::InstallStopSignals(OnSignal);

  app::GenRuntime rt(std::move(*profile));
  if (auto st = rt.Start(argv[0], FLAGS_link_wait_s * 1000, tcfg); !st.ok())
    return Fail(kExitRuntime, st.message());
  gen::LoadGen gen(rt.tcp(), *cfg);
  if (auto st = gen.StartServer(); !st.ok()) return Fail(kExitRuntime, st.message());

  gen::Flood flood(rt.ip(), *flood_kind, cfg->target_be, cfg->target_ports, FLAGS_flood_pps);
  app::GenReport report(gen, rt, stdout);
  report.SetFlood(&flood);
  rt.reactor().AddPoller([&gen] { return gen.Poll(); });
  rt.reactor().AddPoller([&flood, &rt] { return flood.Poll(rt.reactor().now_ns()); });
  rt.reactor().AddPoller([&report] { return report.Step(g_stop.load(std::memory_order_relaxed)); });
  std::atomic<bool> done{false};
  report.OnDone([&done] { done.store(true); });
  report.Begin();
  rt.reactor().Run(done);
  report.PrintSummary();
  std::fprintf(stderr, "counters (nstat names, non-zero):\n%s\n",
               NonZeroCounters(rt.counters(), "\n", true).c_str());
  if (!report.ok()) return kExitRuntime;
  return report.clean() ? 0 : kExitErrors;
}
