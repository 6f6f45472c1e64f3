// dpxctl: the operator's command line for a running dpx (docs/dpxctl.md).
// Shared between main.cc (flags, argument parsing, help) and commands.cc
// (one function per subcommand: the request it sends and how it prints
// the answer).
#pragma once

#include <functional>
#include <set>
#include <string>
#include <vector>

#include <gflags/gflags.h>

#include "control/protocol.h"

DECLARE_string(socket);
DECLARE_bool(json);
DECLARE_uint32(timeout_ms);
DECLARE_bool(all);
DECLARE_bool(delta);
DECLARE_bool(no_update);
DECLARE_bool(reset);
DECLARE_string(history);
DECLARE_bool(write);
DECLARE_bool(listening);
DECLARE_bool(summary);
DECLARE_int32(core);
DECLARE_uint32(nofile);
DECLARE_uint32(wait_ms);
DECLARE_int32(signal);
DECLARE_uint32(max_fds);

namespace dpx::ctl {

using control::Json;

// Exit status (documented in --help and docs/dpxctl.md).
inline constexpr int kExitOk = 0;
inline constexpr int kExitRefused = 1;      // dpx refused or failed the request
inline constexpr int kExitUsage = 2;        // bad command line
inline constexpr int kExitUnreachable = 3;  // no dpx answers on the socket

// A parsed command line: positional words (the subcommand first) and the
// flags the user gave (gflags names).
struct Invocation {
  std::vector<std::string> words;
  std::set<std::string> flags;
  bool given(const std::string& flag) const { return flags.count(flag) != 0; }
};

// Prints "dpxctl: error: MSG" and a hint; returns kExitUsage.
int UsageError(const std::string& msg);

// Sends one request to dpx. Data lines go to on_data; the final line's
// "result" to on_result when ok (its return value is the exit status). With
// --json every line is printed as it came instead. Errors print one line on
// stderr: 1 when dpx refused, 3 when it could not be reached.
using DataFn = std::function<void(const Json&)>;
using ResultFn = std::function<int(const Json&)>;
int Request(const std::string& cmd, const Json& args, const DataFn& on_data,
            const ResultFn& on_result);
// The same, but the caller gets the final line whatever --json says
// (stats -d adds client-side deltas to it).
int RequestFinal(const std::string& cmd, const Json& args, const DataFn& on_data,
                 const std::function<int(const Json& final_line)>& on_final);

int CmdInfo(const Invocation& inv);
int CmdStats(const Invocation& inv);
int CmdSysctl(const Invocation& inv);
int CmdConns(const Invocation& inv);
int CmdKill(const Invocation& inv);
int CmdProc(const Invocation& inv);
int CmdProxy(const Invocation& inv);
int CmdRaw(const Invocation& inv);
int CmdCommands(const Invocation& inv);

}  // namespace dpx::ctl
