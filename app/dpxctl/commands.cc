// dpxctl's subcommands: the request each sends and how its answer prints
// (tables like ss, nstat and sysctl print them; --json prints the lines as
// they come).
#include <fnmatch.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "control/conn_json.h"
#include "control/control_client.h"
#include "control/proxy_service.h"
#include "dpxctl.h"
#include "nstat_history.h"
#include "socket/syscalls.h"
#include "tcp/conn_dump.h"

namespace dpx::ctl {

namespace {

void PrintLine(const Json& j) {
  std::fputs(control::EncodeLine(j).c_str(), stdout);
  std::fflush(stdout);
}

std::string Str(const Json& j, const char* key, const std::string& dflt = "") {
  auto it = j.find(key);
  if (it == j.end()) return dflt;
  if (it->is_string()) return it->get<std::string>();
  return it->dump();
}

int64_t Int(const Json& j, const char* key, int64_t dflt = 0) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number()) return dflt;
  return it->is_number_float() ? static_cast<int64_t>(it->get<double>()) : it->get<int64_t>();
}

int RefusedLine(const std::string& cmd, const Json& final_line) {
  std::fprintf(stderr, "dpxctl: %s: %s\n", cmd.c_str(), Str(final_line, "error", "failed").c_str());
  return kExitRefused;
}

bool ParsePid(const std::string& s, int64_t* pid) {
  return absl::SimpleAtoi(s, pid) && *pid > 0 && *pid <= INT32_MAX;
}

}  // namespace

int RequestFinal(const std::string& cmd, const Json& args, const DataFn& on_data,
                 const std::function<int(const Json&)>& on_final) {
  control::ControlClient client;
  if (absl::Status st = client.Connect(FLAGS_socket); !st.ok()) {
    std::fprintf(stderr, "dpxctl: %s\n", std::string(st.message()).c_str());
    return kExitUnreachable;
  }
  DataFn data = FLAGS_json ? DataFn(PrintLine) : on_data;
  // A call that waits (--wait_ms) may take that long on top.
  const int timeout = FLAGS_timeout_ms == 0
                          ? 0
                          : static_cast<int>(std::min<uint64_t>(
                                INT32_MAX, uint64_t{FLAGS_timeout_ms} + FLAGS_wait_ms));
  absl::StatusOr<Json> final_line = client.Call(cmd, args, data, timeout);
  if (!final_line.ok()) {
    std::fprintf(stderr, "dpxctl: %s\n", std::string(final_line.status().message()).c_str());
    return kExitUnreachable;
  }
  return on_final(*final_line);
}

int Request(const std::string& cmd, const Json& args, const DataFn& on_data,
            const ResultFn& on_result) {
  return RequestFinal(cmd, args, on_data, [&](const Json& f) {
    const bool ok = f.value("ok", false);
    if (FLAGS_json) {
      PrintLine(f);
      return ok ? kExitOk : kExitRefused;
    }
    if (!ok) return RefusedLine(cmd, f);
    return on_result(f.contains("result") ? f["result"] : Json::object());
  });
}

// ---------------------------------------------------------------- info

int CmdInfo(const Invocation& inv) {
  if (inv.words.size() != 1) return UsageError("info takes no arguments");
  return Request("info", Json::object(), nullptr, [](const Json& r) {
    std::printf("dpx pid %" PRId64 ": %s\n", Int(r, "pid"), Str(r, "version").c_str());
    std::vector<std::string> lcores;
    for (const Json& l : r.value("lcores", Json::array())) lcores.push_back(l.dump());
    std::printf("lcores: %s (%zu cores)\n", absl::StrJoin(lcores, " ").c_str(), lcores.size());
    for (const Json& p : r.value("ports", Json::array())) {
      std::printf("%s: %s (%s) mac %s, link %s, %" PRId64 " queue(s)\n", Str(p, "name").c_str(),
                  Str(p, "ethdev").c_str(), Str(p, "driver").c_str(), Str(p, "mac").c_str(),
                  Str(p, "link").c_str(), Int(p, "queues"));
    }
    std::printf("instance: %s\n", Str(r, "instance").c_str());
    return kExitOk;
  });
}

int CmdCommands(const Invocation& inv) {
  if (inv.words.size() != 1) return UsageError("commands takes no arguments");
  return Request("help", Json::object(), nullptr, [](const Json& r) {
    for (const Json& c : r.value("commands", Json::array())) {
      std::printf("%-14s %s\n", Str(c, "cmd").c_str(), Str(c, "help").c_str());
    }
    return kExitOk;
  });
}

// ---------------------------------------------------------------- stats

namespace {

// Port statistics as history entries: "port0.rx_packets".
std::vector<std::pair<std::string, int64_t>> PortValues(const Json& result) {
  std::vector<std::pair<std::string, int64_t>> out;
  for (const Json& p : result.value("ports", Json::array())) {
    auto st = p.find("stats");
    if (st == p.end() || !st->is_object()) continue;
    for (auto it = st->begin(); it != st->end(); ++it) {
      if (it->is_number()) out.emplace_back(Str(p, "name") + "." + it.key(), it->get<int64_t>());
    }
  }
  return out;
}

bool MatchesAny(const std::vector<std::string>& patterns, const std::string& name) {
  if (patterns.empty()) return true;
  for (const std::string& p : patterns)
    if (fnmatch(p.c_str(), name.c_str(), 0) == 0) return true;
  return false;
}

}  // namespace

int CmdStats(const Invocation& inv) {
  const std::vector<std::string> patterns(inv.words.begin() + 1, inv.words.end());
  return RequestFinal("stats", Json::object(), nullptr, [&](const Json& f) {
    if (!f.value("ok", false)) {
      if (FLAGS_json) {
        PrintLine(f);
        return kExitRefused;
      }
      return RefusedLine("stats", f);
    }
    Json result = f["result"];
    std::vector<std::pair<std::string, int64_t>> counters;
    for (auto it = result["counters"].begin(); it != result["counters"].end(); ++it) {
      counters.emplace_back(it.key(), it->get<int64_t>());
    }
    const auto ports = PortValues(result);

    // History, as nstat keeps it.
    const std::string hpath = HistoryPath(FLAGS_history, FLAGS_socket);
    std::optional<NstatHistory> old = FLAGS_reset ? std::nullopt : LoadHistory(hpath);
    const std::string instance = Str(result, "instance");
    const bool same = old.has_value() && old->instance == instance;
    const int64_t now = RealtimeNs();
    const double interval_s =
        same && now > old->time_ns ? static_cast<double>(now - old->time_ns) / 1e9 : 0.0;
    auto prev = [&](const std::string& name) -> int64_t {
      if (!same) return 0;
      auto it = old->values.find(name);
      return it == old->values.end() ? 0 : it->second;
    };
    if (!FLAGS_no_update) {
      NstatHistory h;
      h.instance = instance;
      h.socket = FLAGS_socket;
      h.time_ns = now;
      for (const auto& [n, v] : counters) h.values[n] = v;
      for (const auto& [n, v] : ports) h.values[n] = v;
      if (absl::Status st = SaveHistory(hpath, h); !st.ok()) {
        std::fprintf(stderr, "dpxctl: warning: %s\n", std::string(st.message()).c_str());
      }
    }

    if (FLAGS_json) {
      Json out = f;
      if (FLAGS_delta) {
        Json d = Json::object();
        for (const auto& [n, v] : counters) d[n] = v - prev(n);
        for (const auto& [n, v] : ports) d[n] = v - prev(n);
        out["result"]["deltas"] = d;
        out["result"]["interval_s"] = interval_s;
        out["result"]["history"] = same ? "used" : "none (totals since dpx started)";
      }
      PrintLine(out);
      return kExitOk;
    }

    std::string text;
    if (FLAGS_delta) {
      absl::StrAppendFormat(&text, "#dpx %s: changes over %s\n", instance,
                            same ? absl::StrFormat("%.1f s", interval_s)
                                 : std::string("dpx's life (no history for this dpx)"));
    } else {
      absl::StrAppendFormat(&text, "#dpx %s\n", instance);
    }
    for (const auto& [name, value] : counters) {
      if (!MatchesAny(patterns, name)) continue;
      const int64_t v = FLAGS_delta ? value - prev(name) : value;
      if (v == 0 && !FLAGS_all) continue;
      if (FLAGS_delta) {
        absl::StrAppendFormat(&text, "%-32s %-18d %10.1f\n", name, v,
                              interval_s > 0 ? static_cast<double>(v) / interval_s : 0.0);
      } else {
        absl::StrAppendFormat(&text, "%-32s %d\n", name, v);
      }
    }
    if (patterns.empty()) {
      absl::StrAppendFormat(&text, "sockstat: %s\n", Str(result, "sockstat_line"));
      for (const Json& p : result.value("ports", Json::array())) {
        const std::string name = Str(p, "name");
        auto st = p.find("stats");
        if (st == p.end()) {
          absl::StrAppendFormat(&text, "%s: stats unavailable: %s\n", name, Str(p, "stats_error"));
          continue;
        }
        auto v = [&](const char* k) {
          const int64_t x = Int(*st, k);
          return FLAGS_delta ? x - prev(name + "." + k) : x;
        };
        absl::StrAppendFormat(
            &text,
            "%s (%s, link %s): rx %d packets %d bytes, tx %d packets %d bytes, missed %d, "
            "errors rx %d tx %d, nombuf %d\n",
            name, Str(p, "ethdev"), Str(p, "link"), v("rx_packets"), v("rx_bytes"),
            v("tx_packets"), v("tx_bytes"), v("rx_missed"), v("rx_errors"), v("tx_errors"),
            v("rx_nombuf"));
      }
    }
    std::fputs(text.c_str(), stdout);
    return kExitOk;
  });
}

// ---------------------------------------------------------------- sysctl

int CmdSysctl(const Invocation& inv) {
  const std::vector<std::string> args(inv.words.begin() + 1, inv.words.end());
  if (FLAGS_write) {
    if (args.empty()) return UsageError("sysctl -w needs NAME=VALUE");
    std::vector<std::pair<std::string, std::string>> sets;
    for (const std::string& a : args) {
      const size_t eq = a.find('=');
      if (eq == std::string::npos || eq == 0) {
        return UsageError(absl::StrFormat("sysctl -w: '%s' is not NAME=VALUE", a));
      }
      sets.emplace_back(std::string(absl::StripAsciiWhitespace(a.substr(0, eq))),
                        std::string(absl::StripAsciiWhitespace(a.substr(eq + 1))));
    }
    int rc = kExitOk;
    for (const auto& [name, value] : sets) {
      const int r = Request("sysctl.set", Json{{"name", name}, {"value", value}}, nullptr,
                            [](const Json& res) {
                              std::printf("%s = %s\n", Str(res, "name").c_str(),
                                          Str(res, "value").c_str());
                              return kExitOk;
                            });
      if (r == kExitUnreachable) return r;
      if (r != kExitOk) rc = r;
    }
    return rc;
  }
  if (args.empty() || FLAGS_all) {
    if (!args.empty()) return UsageError("sysctl -a takes no names");
    return Request("sysctl.list", Json::object(), nullptr, [](const Json& res) {
      for (const Json& s : res.value("sysctls", Json::array())) {
        const std::string lhs = absl::StrFormat("%s = %s", Str(s, "name"), Str(s, "value"));
        std::printf("%-56s # %s\n", lhs.c_str(), Str(s, "help").c_str());
      }
      return kExitOk;
    });
  }
  int rc = kExitOk;
  for (const std::string& name : args) {
    const int r = Request("sysctl.get", Json{{"name", name}}, nullptr, [](const Json& res) {
      std::printf("%s = %s\n", Str(res, "name").c_str(), Str(res, "value").c_str());
      const std::string v = Str(res, "value");
      int core = 0;
      for (const Json& c : res.value("per_core", Json::array())) {
        if (c.is_string() && c.get<std::string>() != v) {
          std::fprintf(stderr, "dpxctl: warning: core %d has %s = %s\n", core,
                       Str(res, "name").c_str(), c.get<std::string>().c_str());
        }
        ++core;
      }
      return kExitOk;
    });
    if (r == kExitUnreachable) return r;
    if (r != kExitOk) rc = r;
  }
  return rc;
}

// ---------------------------------------------------------------- conns

int CmdConns(const Invocation& inv) {
  const std::vector<std::string> filter(inv.words.begin() + 1, inv.words.end());
  if (FLAGS_all && FLAGS_listening) return UsageError("conns: -a and -l together");
  if (FLAGS_summary) {
    if (!filter.empty()) return UsageError("conns -s takes no filter (ss -s counts everything)");
    return Request("conns", Json{{"summary", true}}, nullptr, [](const Json& res) {
      auto s = control::ConnSummaryFromJson(res.value("summary", Json::object()));
      if (!s.ok()) {
        std::fprintf(stderr, "dpxctl: %s\n", std::string(s.status().message()).c_str());
        return kExitUnreachable;
      }
      std::string text = tcp::FormatConnSummary(*s);
      if (!text.empty() && text.back() != '\n') text.push_back('\n');
      std::fputs(text.c_str(), stdout);
      return kExitOk;
    });
  }
  Json args = Json::object();
  args["filter"] = filter;
  if (FLAGS_all) args["all"] = true;
  if (FLAGS_listening) args["listening"] = true;
  bool header = false;
  auto print_header = [&] {
    if (header) return;
    header = true;
    std::printf("%s\n", tcp::FormatConnHeader().c_str());
  };
  bool bad_row = false;
  return Request(
      "conns", args,
      [&](const Json& line) {
        print_header();
        for (const Json& r : line.value("rows", Json::array())) {
          std::string comm;
          auto row = control::ConnRowFromJson(r, &comm);
          if (!row.ok()) {
            bad_row = true;
            continue;
          }
          std::printf("%s\n", tcp::FormatConnRow(*row, comm).c_str());
        }
        std::fflush(stdout);
      },
      [&](const Json&) {
        print_header();
        if (bad_row) {
          std::fprintf(stderr, "dpxctl: dpx sent malformed rows\n");
          return kExitUnreachable;
        }
        return kExitOk;
      });
}

int CmdKill(const Invocation& inv) {
  if (inv.words.size() != 3) return UsageError("kill takes LOCAL PEER (ADDR:PORT ADDR:PORT)");
  uint32_t a;
  uint16_t p;
  for (size_t i = 1; i < 3; ++i) {
    if (!control::ParseAddrPort(inv.words[i], &a, &p)) {
      return UsageError(absl::StrFormat("kill: '%s' is not ADDR:PORT", inv.words[i]));
    }
  }
  return Request("kill", Json{{"local", inv.words[1]}, {"peer", inv.words[2]}}, nullptr,
                 [](const Json& r) {
                   std::printf("aborted %s %s (core %" PRId64 ")\n", Str(r, "local").c_str(),
                               Str(r, "peer").c_str(), Int(r, "core"));
                   return kExitOk;
                 });
}

// ---------------------------------------------------------------- proc

namespace {

std::string ClosedText(const Json& c) {
  return absl::StrFormat(
      "closed: %d fds, %d sockets released, %d still shared; %d FIN, %d RST, %d orphans, "
      "%d TIME_WAIT",
      Int(c, "fds"), Int(c, "released"), Int(c, "shared"), Int(c, "fins"), Int(c, "rsts"),
      Int(c, "orphans"), Int(c, "time_waits"));
}

std::string ExitText(const Json& p) {
  const int64_t sig = Int(p, "exit_signal");
  return sig != 0 ? absl::StrFormat("killed by signal %d", sig)
                  : absl::StrFormat("exited with code %d", Int(p, "exit_code"));
}

int ProcList() {
  return Request("proc.list", Json::object(), nullptr, [](const Json& r) {
    std::printf("%-7s %-7s %-16s %-8s %-5s %-8s %s\n", "PID", "PPID", "NAME", "STATE", "CORE",
                "FDS", "EXIT");
    for (const Json& p : r.value("procs", Json::array())) {
      std::string exit;
      if (p.contains("closed")) exit = ExitText(p) + "; " + ClosedText(p["closed"]);
      std::printf("%-7" PRId64 " %-7" PRId64 " %-16s %-8s %-5" PRId64 " %-8s %s\n", Int(p, "pid"),
                  Int(p, "ppid"), Str(p, "name").c_str(), Str(p, "state").c_str(), Int(p, "core"),
                  p.contains("fds") ? std::to_string(Int(p, "fds")).c_str() : "-", exit.c_str());
    }
    return kExitOk;
  });
}

int ProcShow(int64_t pid) {
  Json args{{"pid", pid}};
  if (FLAGS_max_fds != 0) args["max_fds"] = FLAGS_max_fds;
  return Request("proc.show", args, nullptr, [](const Json& r) {
    std::printf("pid %" PRId64 " (%s) %s on core %" PRId64 ", ppid %" PRId64 ", %" PRId64
                " of %" PRId64 " fds open, %" PRId64 " sockets\n",
                Int(r, "pid"), Str(r, "name").c_str(), Str(r, "state").c_str(), Int(r, "core"),
                Int(r, "ppid"), Int(r, "fds_open"), Int(r, "nofile"), Int(r, "sockets"));
    if (r.contains("closed")) {
      std::printf("%s; %s\n", ExitText(r).c_str(), ClosedText(r["closed"]).c_str());
    }
    std::printf("%-6s %-7s %-5s %-5s %-11s %-6s %-6s %-22s %-22s %s\n", "FD", "TYPE", "CORE",
                "REFS", "State", "Recv-Q", "Send-Q", "Local Address:Port", "Peer Address:Port",
                "Timer");
    for (const Json& f : r.value("fds", Json::array())) {
      const std::string type = Str(f, "type");
      if (type != "socket") {
        std::printf("%-6" PRId64 " %s\n", Int(f, "fd"), type.c_str());
        continue;
      }
      std::string conn;
      if (auto c = f.find("conn"); c != f.end()) {
        auto row = control::ConnRowFromJson(*c, nullptr);
        conn = absl::StrFormat("%-11s %-6d %-6d %-22s %-22s %s", Str(*c, "state"),
                               Int(*c, "recv_q"), Int(*c, "send_q"), Str(*c, "local"),
                               Str(*c, "peer"), row.ok() ? tcp::FormatConnTimer(*row) : "");
      }
      std::printf("%-6" PRId64 " %-7s %-5" PRId64 " %-5" PRId64 " %s\n", Int(f, "fd"), "socket",
                  Int(f, "core"), Int(f, "refs"), conn.c_str());
    }
    if (r.value("truncated", false)) std::printf("... more fds (--max_fds)\n");
    return kExitOk;
  });
}

// --timeout_ms, when given, is also how long dpx waits for the call (or
// the exit) on its side; otherwise dpx's own limits apply (5 s per call,
// 60 s for an exit).
int ProcCall(int64_t pid, const std::vector<std::string>& call, bool timeout_given) {
  if (call.empty()) return UsageError("proc call PID SYSCALL ARGS...: no system call");
  if (auto req = sock::ParseSyscall(call); !req.ok()) {
    return UsageError(absl::StrCat("proc call: ", req.status().message()));
  }
  Json args{{"pid", pid}, {"call", call}};
  if (FLAGS_wait_ms != 0) args["wait_ms"] = FLAGS_wait_ms;
  if (timeout_given && FLAGS_timeout_ms != 0) args["timeout_ms"] = FLAGS_timeout_ms;
  return Request("proc.call", args, nullptr, [](const Json& r) {
    std::printf("%s\n", Str(r, "line").c_str());
    return kExitOk;
  });
}

}  // namespace

int CmdProc(const Invocation& inv) {
  const std::vector<std::string>& w = inv.words;
  const std::string sub = w.size() >= 2 ? w[1] : "list";
  auto need_pid = [&](int64_t* pid) {
    return w.size() >= 3 && ParsePid(w[2], pid);
  };
  auto only = [&](const char* flag, const char* where) -> std::string {
    return inv.given(flag) && sub != where ? absl::StrFormat("--%s applies to proc %s", flag, where)
                                           : "";
  };
  for (auto [flag, where] : {std::pair{"core", "spawn"}, std::pair{"nofile", "spawn"},
                             std::pair{"wait_ms", "call"}, std::pair{"signal", "kill"},
                             std::pair{"max_fds", "show"}}) {
    if (std::string e = only(flag, where); !e.empty()) return UsageError(e);
  }
  int64_t pid = 0;
  if (sub == "list") {
    if (w.size() > 2) return UsageError("proc list takes no arguments");
    return ProcList();
  }
  if (sub == "show") {
    if (!need_pid(&pid) || w.size() != 3) return UsageError("proc show PID");
    return ProcShow(pid);
  }
  if (sub == "spawn") {
    if (w.size() != 3) return UsageError("proc spawn NAME [--core=N] [--nofile=N]");
    Json args{{"name", w[2]}};
    if (inv.given("core")) args["core"] = FLAGS_core;
    if (inv.given("nofile")) args["nofile"] = FLAGS_nofile;
    return Request("proc.spawn", args, nullptr, [](const Json& r) {
      std::printf("pid %" PRId64 " (%s) on core %" PRId64 ", nofile %" PRId64 "\n",
                  Int(r, "pid"), Str(r, "name").c_str(), Int(r, "core"), Int(r, "nofile"));
      return kExitOk;
    });
  }
  if (sub == "fork") {
    if (!need_pid(&pid) || w.size() > 4) return UsageError("proc fork PID [NAME]");
    Json args{{"pid", pid}};
    if (w.size() == 4) args["name"] = w[3];
    return Request("proc.fork", args, nullptr, [](const Json& r) {
      std::printf("pid %" PRId64 " (%s) on core %" PRId64 ", child of %" PRId64 "\n",
                  Int(r, "pid"), Str(r, "name").c_str(), Int(r, "core"), Int(r, "parent"));
      return kExitOk;
    });
  }
  if (sub == "exit" || sub == "kill") {
    const bool kill = sub == "kill";
    if (!need_pid(&pid) || w.size() > (kill ? 3u : 4u)) {
      return UsageError(kill ? "proc kill PID [--signal=N]" : "proc exit PID [CODE]");
    }
    Json args{{"pid", pid}};
    if (inv.given("timeout_ms") && FLAGS_timeout_ms != 0) args["timeout_ms"] = FLAGS_timeout_ms;
    if (kill) {
      args["signal"] = FLAGS_signal;
    } else if (w.size() == 4) {
      int64_t code;
      if (!absl::SimpleAtoi(w[3], &code) || code < 0 || code > 255) {
        return UsageError("proc exit: CODE is 0-255");
      }
      args["code"] = code;
    }
    return Request(kill ? "proc.kill" : "proc.exit", args, nullptr, [](const Json& r) {
      std::printf("process %" PRId64 " (%s) %s, reaped in %.1f ms\n", Int(r, "pid"),
                  Str(r, "name").c_str(), ExitText(r).c_str(), r.value("exit_ms", 0.0));
      std::printf("%s\n", ClosedText(r.value("closed", Json::object())).c_str());
      return kExitOk;
    });
  }
  if (sub == "call") {
    if (!need_pid(&pid)) return UsageError("proc call PID SYSCALL ARGS...");
    return ProcCall(pid, std::vector<std::string>(w.begin() + 3, w.end()), inv.given("timeout_ms"));
  }
  return UsageError(absl::StrFormat("unknown proc command '%s' (list, show, spawn, fork, exit, "
                                    "kill, call)",
                                    sub));
}

// ---------------------------------------------------------------- raw

int CmdRaw(const Invocation& inv) {
  if (inv.words.size() != 2) return UsageError("raw takes one request line (quote it)");
  control::ControlClient client;
  if (absl::Status st = client.Connect(FLAGS_socket); !st.ok()) {
    std::fprintf(stderr, "dpxctl: %s\n", std::string(st.message()).c_str());
    return kExitUnreachable;
  }
  auto f = client.CallRaw(inv.words[1], PrintLine, static_cast<int>(FLAGS_timeout_ms));
  if (!f.ok()) {
    std::fprintf(stderr, "dpxctl: %s\n", std::string(f.status().message()).c_str());
    return kExitUnreachable;
  }
  PrintLine(*f);
  return f->value("ok", false) ? kExitOk : kExitRefused;
}

}  // namespace dpx::ctl

// ---------------------------------------------------------------- proxy

namespace dpx::ctl {

int CmdProxy(const Invocation& inv) {
  const std::string sub = inv.words.size() > 1 ? inv.words[1] : "show";
  if (sub == "show") {
    if (inv.words.size() > 2) return UsageError("proxy show takes no arguments");
    // --json: the result object itself, {"frontends":[...],"pools":[...],"workers":[...]}.
    return RequestFinal("proxy.show", Json::object(), nullptr, [](const Json& f) {
      if (!f.value("ok", false)) {
        if (FLAGS_json) {
          PrintLine(f);
          return kExitRefused;
        }
        return RefusedLine("proxy.show", f);
      }
      const Json r = f.contains("result") ? f["result"] : Json::object();
      if (FLAGS_json) {
        PrintLine(r);
      } else {
        std::fputs(control::FormatProxyTable(r).c_str(), stdout);
      }
      return kExitOk;
    });
  }
  if (sub == "reload") {
    if (inv.words.size() > 3) return UsageError("proxy reload takes at most one PATH");
    Json args = Json::object();
    if (inv.words.size() == 3) args["path"] = inv.words[2];
    return Request("proxy.reload", args, nullptr, [](const Json& r) {
      std::printf("reloaded %s: %s\n", Str(r, "path").c_str(), Str(r, "summary").c_str());
      int rc = kExitOk;
      for (const Json& e : r.value("errors", Json::array())) {
        std::fprintf(stderr, "dpxctl: proxy reload: %s\n", e.get<std::string>().c_str());
        rc = kExitRefused;
      }
      return rc;
    });
  }
  return UsageError(absl::StrFormat("unknown proxy command '%s' (show, reload)", sub));
}

}  // namespace dpx::ctl
