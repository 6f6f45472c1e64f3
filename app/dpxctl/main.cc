// dpxctl: flags (gflags, parsed strictly like dpx's own), short options
// of each subcommand (-a, -d, -w, -s ...), --help, dispatch.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "dpxctl.h"
#include "socket/syscalls.h"

DEFINE_string(socket, "/run/dpx/dpx.sock",
              "dpx's control socket (dpx --ctl-socket); $DPXCTL_SOCKET overrides the default");
DEFINE_bool(json, false, "Print dpx's answer as it comes: JSON, one object per line");
DEFINE_uint32(timeout_ms, 120000, "Give up on an answer after this long (0: wait forever)");
DEFINE_bool(all, false, "stats: zeros too; sysctl: list; conns: every state (ss -a)");
DEFINE_bool(delta, false, "stats: changes since the last `dpxctl stats` (nstat)");
DEFINE_bool(no_update, false, "stats: leave the history as it is (nstat -s)");
DEFINE_bool(reset, false, "stats: start the history afresh, print totals (nstat -r)");
DEFINE_string(history, "", "stats: the history file (default: see `dpxctl help stats`)");
DEFINE_bool(write, false, "sysctl: set NAME=VALUE (sysctl -w)");
DEFINE_bool(listening, false, "conns: listeners only (ss -l)");
DEFINE_bool(summary, false, "conns: counts by state (ss -s)");
DEFINE_int32(core, -1, "proc spawn: the process's home core (default 0)");
DEFINE_uint32(nofile, 0, "proc spawn: RLIMIT_NOFILE (default dpx's, 1024)");
DEFINE_uint32(wait_ms, 0,
              "proc call: repeat a call that fails with EAGAIN until it succeeds or N ms pass");
DEFINE_int32(signal, 9, "proc kill: the signal (every signal kills a simulated process)");
DEFINE_uint32(max_fds, 0, "proc show: list at most N fds (default 10000)");

namespace dpx::ctl {

namespace {

struct FlagDoc {
  const char* name;
  const char* commands;  // where it applies ("" = everywhere)
};

constexpr FlagDoc kFlags[] = {
    {"socket", ""},           {"json", ""},          {"timeout_ms", ""},
    {"all", "stats sysctl conns"}, {"delta", "stats"}, {"no_update", "stats"},
    {"reset", "stats"},       {"history", "stats"},  {"write", "sysctl"},
    {"listening", "conns"},   {"summary", "conns"},  {"core", "proc"},
    {"nofile", "proc"},       {"wait_ms", "proc"},   {"signal", "proc"},
    {"max_fds", "proc"},
};

// Short options per subcommand, like the tools they imitate.
const std::map<std::string, std::map<char, std::string>>& ShortOptions() {
  static const auto* m = new std::map<std::string, std::map<char, std::string>>{
      {"stats", {{'a', "all"}, {'d', "delta"}, {'s', "no_update"}, {'r', "reset"}}},
      {"sysctl", {{'a', "all"}, {'w', "write"}}},
      {"conns", {{'a', "all"}, {'l', "listening"}, {'s', "summary"}}},
  };
  return *m;
}

constexpr const char* kHelp = R"(dpxctl: talk to a running dpx over its control socket.

Usage: dpxctl [--socket=PATH] [--json] [--timeout_ms=N] COMMAND [ARGS...]

Commands:
  info                          the appliance: pid, version, lcores, ports
  stats [-a] [-d] [-s] [-r] [PATTERN...]
                                counters by their nstat names, summed over
                                cores (zeros hidden unless -a), the sockstat
                                line and per-port statistics; -d: changes
                                since the last `dpxctl stats` (history kept
                                per user, like nstat); -s: keep the history;
                                -r: reset it; PATTERNs (globs) pick counters
  sysctl [-a]                   every TCP tunable: name = value, with help
  sysctl NAME...                one tunable's value
  sysctl -w NAME=VALUE...       set on every core; a bad value changes nothing
  conns [-a|-l] [FILTER...]     the connection table like `ss -tano`: state,
                                queues, addresses, owner pid/fd, timer, core;
                                FILTER as ss: state NAME, exclude NAME,
                                src|dst ADDR[/LEN][:PORT], sport|dport OP PORT,
                                pid N, core N
  conns -s                      counts by state, like `ss -s`
  kill LOCAL PEER               abort one connection (RST), like `ss -K`;
                                a listener: kill ADDR:PORT '*:*'
  proc [list]                   every process: pid, ppid, name, state, fds
  proc show PID                 its fds and the sockets behind them
  proc spawn NAME [--core=N] [--nofile=N]
                                a new process (fds 0-2 taken); prints its pid
  proc fork PID [NAME]          fork(): the child shares every open file
  proc exit PID [CODE]          exit(CODE): closes its fds as Linux do_exit
                                does; waits until reaped; prints what it
                                closed (fds, sockets released, still shared,
                                FINs, RSTs, orphans, TIME_WAITs)
  proc kill PID [--signal=N]    the same, killed by signal N (default 9)
  proc call PID SYSCALL ARGS... [--wait_ms=N]
                                the process makes one socket call; prints it
                                as strace does: `accept(3, ...) = 4` or
                                `= -1 EAGAIN (...)`. A call that fails is
                                still exit status 0. --wait_ms repeats a call
                                that gives EAGAIN until it succeeds or N ms
                                pass (scripts wait for accept/recv this way)
  proxy [show]                  the proxy (dpx --proxy-config): frontends,
                                backends with health (DOWN if down on any
                                core) and counters summed over cores, and
                                the worker pid of each core; --json prints
                                {"frontends":[...],"pools":[...],"workers":[...]}
  proxy reload [PATH]           re-read the proxy config (default: the file
                                dpx started with) and apply it on every core;
                                established sessions are untouched. A bad
                                file: the error names file:line, exit 1, the
                                running config is kept. Prints what changed
  commands                      the commands dpx serves (protocol names)
  raw JSON                      send one request line as is (protocol tests)
  help                          this text

Calls for `proc call`:
{SYSCALLS}
Examples:
  dpxctl stats                          # non-zero counters
  dpxctl stats -d 'Tcp*'                # TCP counters that moved since last time
  dpxctl sysctl net.ipv4.tcp_fin_timeout
  dpxctl sysctl -w net.ipv4.tcp_fin_timeout=30
  dpxctl sysctl -w 'net.ipv4.tcp_rmem=4096 131072 6291456'
  dpxctl conns state established dport :443
  dpxctl conns -a pid 100
  dpxctl kill 10.0.0.2:80 10.0.0.1:41000
  pid=$(dpxctl proc spawn web | awk '{print $2}')
  dpxctl proc call $pid socket                       # socket(...) = 3
  dpxctl proc call $pid bind 3 10.0.0.2:8080
  dpxctl proc call $pid listen 3 128
  dpxctl proc call $pid accept 3 --wait_ms=5000      # waits for a client
  dpxctl proc call $pid recv 4 100
  dpxctl proc call $pid send 4 hello
  dpxctl proc call $pid setsockopt 4 SO_LINGER 1 0
  dpxctl proc kill $pid                              # what it closed
  dpxctl --json proc list
  dpxctl proxy show                                  # frontends, backends, workers
  dpxctl proxy reload                                # after editing the config

Flags:
{FLAGS}
Exit status:
  0  ok (also for a `proc call` whose system call returned -1)
  1  dpx refused or failed the request (bad value, unknown pid, unknown
     command, a core that did not answer in time)
  2  usage error (bad flags or arguments; nothing was sent)
  3  dpx could not be reached (no socket, connection refused or broken,
     no answer within --timeout_ms)
)";

std::string FlagsHelp() {
  std::string out;
  for (const FlagDoc& f : kFlags) {
    gflags::CommandLineFlagInfo info;
    if (!gflags::GetCommandLineFlagInfo(f.name, &info)) continue;
    std::string lhs = absl::StrCat("--", f.name);
    if (info.type != "bool") absl::StrAppend(&lhs, "=", info.type == "string" ? "STR" : "N");
    absl::StrAppendFormat(&out, "  %-18s %s", lhs, info.description);
    if (info.type != "bool" && !info.default_value.empty()) {
      absl::StrAppendFormat(&out, " [default: %s]", info.default_value);
    }
    out += "\n";
  }
  return out;
}

std::string Indent(const std::string& text) {
  std::string out;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string::npos) nl = text.size();
    absl::StrAppend(&out, "  ", text.substr(start, nl - start), "\n");
    start = nl + 1;
  }
  return out;
}

std::string HelpText() {
  return absl::StrReplaceAll(kHelp,
                             {{"{SYSCALLS}", Indent(sock::SyscallUsage())}, {"{FLAGS}", FlagsHelp()}});
}

bool IsNumber(absl::string_view s) {
  int64_t v;
  return absl::SimpleAtoi(s, &v);
}

bool KnownFlag(const std::string& name, gflags::CommandLineFlagInfo* info) {
  for (const FlagDoc& f : kFlags)
    if (name == f.name) return gflags::GetCommandLineFlagInfo(name.c_str(), info);
  return false;
}

// Parses argv strictly: unknown flags, missing values and bad values are
// usage errors. Flags may come anywhere; "--" ends them.
bool Parse(int argc, char** argv, Invocation* inv, bool* help, std::string* err) {
  *help = false;
  bool flags_done = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (flags_done || arg.size() < 2 || arg[0] != '-' || IsNumber(arg)) {
      inv->words.push_back(arg);
      continue;
    }
    if (arg == "--") {
      flags_done = true;
      continue;
    }
    if (arg[1] != '-') {
      // Short options of the subcommand: -a, -ad, -w ...
      const std::string sub = inv->words.empty() ? "" : inv->words[0];
      if (arg == "-h") {
        *help = true;
        continue;
      }
      auto it = ShortOptions().find(sub);
      bool all_known = it != ShortOptions().end();
      for (size_t k = 1; all_known && k < arg.size(); ++k)
        all_known = it->second.count(arg[k]) != 0;
      if (all_known) {
        for (size_t k = 1; k < arg.size(); ++k) {
          const std::string& name = it->second.at(arg[k]);
          gflags::SetCommandLineOption(name.c_str(), "true");
          inv->flags.insert(name);
        }
        continue;
      }
      // -name=value works as --name=value (gflags style).
    }
    std::string body = arg.substr(arg[1] == '-' ? 2 : 1);
    const size_t eq = body.find('=');
    const bool has_value = eq != std::string::npos;
    std::string name = body.substr(0, eq);
    std::replace(name.begin(), name.end(), '-', '_');
    std::string value = has_value ? body.substr(eq + 1) : "";
    if (name == "help" || name == "h" || name == "helpfull") {
      *help = true;
      continue;
    }
    gflags::CommandLineFlagInfo info;
    if (!KnownFlag(name, &info)) {
      if (absl::StartsWith(name, "no") && !has_value && KnownFlag(name.substr(2), &info) &&
          info.type == "bool") {
        gflags::SetCommandLineOption(info.name.c_str(), "false");
        inv->flags.insert(info.name);
        continue;
      }
      *err = absl::StrFormat("unknown flag '%s'", arg);
      return false;
    }
    if (info.type == "bool") {
      if (!has_value) value = "true";
    } else if (!has_value) {
      if (i + 1 >= argc) {
        *err = absl::StrFormat("flag --%s needs a value", name);
        return false;
      }
      value = argv[++i];
    }
    if (gflags::SetCommandLineOption(name.c_str(), value.c_str()).empty()) {
      *err = absl::StrFormat("bad value '%s' for --%s (%s)", value, name,
                             info.type == "uint32"  ? "a non-negative integer"
                             : info.type == "int32" ? "an integer"
                                                    : info.type.c_str());
      return false;
    }
    inv->flags.insert(name);
  }
  return true;
}

// A flag given to a subcommand it does not apply to is a mistake worth
// reporting (`dpxctl conns --wait_ms=5` did not wait for anything).
bool FlagsApply(const Invocation& inv, std::string* err) {
  const std::string sub = inv.words.empty() ? "" : inv.words[0];
  for (const std::string& f : inv.flags) {
    for (const FlagDoc& d : kFlags) {
      if (f != d.name || d.commands[0] == '\0') continue;
      std::vector<std::string> cmds;
      for (absl::string_view c : absl::StrSplit(d.commands, ' ')) cmds.emplace_back(c);
      if (std::find(cmds.begin(), cmds.end(), sub) == cmds.end()) {
        *err = absl::StrFormat("--%s does not apply to '%s' (only to: %s)", f,
                               sub.empty() ? "(no command)" : sub, d.commands);
        return false;
      }
    }
  }
  return true;
}

}  // namespace

int UsageError(const std::string& msg) {
  std::fprintf(stderr, "dpxctl: error: %s (see dpxctl --help)\n", msg.c_str());
  return kExitUsage;
}

}  // namespace dpx::ctl

int main(int argc, char** argv) {
  using namespace dpx::ctl;
  gflags::SetUsageMessage("talk to a running dpx; see dpxctl --help");
  if (const char* env = std::getenv("DPXCTL_SOCKET"); env != nullptr && *env) {
    gflags::SetCommandLineOption("socket", env);
  }
  Invocation inv;
  bool help = false;
  std::string err;
  if (!Parse(argc, argv, &inv, &help, &err)) return UsageError(err);
  if (help || (!inv.words.empty() && inv.words[0] == "help")) {
    std::fputs(HelpText().c_str(), stdout);
    return kExitOk;
  }
  if (inv.words.empty()) return UsageError("no command given");
  if (!FlagsApply(inv, &err)) return UsageError(err);
  if (FLAGS_socket.empty()) return UsageError("--socket is empty");
  const std::string& cmd = inv.words[0];
  if (cmd == "info") return CmdInfo(inv);
  if (cmd == "stats") return CmdStats(inv);
  if (cmd == "sysctl") return CmdSysctl(inv);
  if (cmd == "conns") return CmdConns(inv);
  if (cmd == "kill") return CmdKill(inv);
  if (cmd == "proc") return CmdProc(inv);
  if (cmd == "proxy") return CmdProxy(inv);
  if (cmd == "raw") return CmdRaw(inv);
  if (cmd == "commands") return CmdCommands(inv);
  return UsageError(absl::StrFormat("unknown command '%s'", cmd));
}
