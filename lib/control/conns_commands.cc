// conns (ss-like rows or the ss -s summary) and kill (ss -K).
//
// Rows stream: for each core and each of its stacks a ConnDumper is made
// on that core and advanced one bounded chunk per message (at most `chunk`
// rows, at most ConnDumper's visit budget of sockets), so dumping a million
// connections costs each core a few thousand short messages and never a
// stall. Each chunk goes to the client as a data line {"rows": [...]}
// before the next is asked for; a client that stops reading stops the dump.
#include <cerrno>
#include <map>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "control/appliance_commands.h"
#include "control/conn_json.h"
#include "control/core_call.h"
#include "core/reactor.h"
#include "socket/file.h"
#include "socket/process.h"
#include "tcp/conn_dump.h"
#include "tcp/tcp_abort.h"
#include "tcp/tcp_stack.h"

namespace dpx::control {

namespace {

constexpr int64_t kDefaultChunk = 1024;

// Names of owners, looked up once per pid for a whole dump.
class CommCache {
 public:
  explicit CommCache(sock::ProcessTable* pt) : pt_(pt) {}
  const std::string& Get(int pid) {
    auto it = names_.find(pid);
    if (it != names_.end()) return it->second;
    std::string name;
    if (pt_ != nullptr) {
      if (auto p = pt_->Find(pid)) name = p->name();
    }
    return names_.emplace(pid, std::move(name)).first->second;
  }

 private:
  sock::ProcessTable* pt_;
  std::map<int, std::string> names_;
};

struct Chunk {
  std::vector<tcp::ConnRow> rows;
  bool more = false;
};

absl::StatusOr<Json> DumpRows(const ControlTargets& t, const tcp::ConnFilter& filter,
                              size_t chunk, Responder& out) {
  CommCache comm(t.procs);
  const tcp::OwnerFn owner = t.procs != nullptr ? &sock::SockOwner : nullptr;
  uint64_t total = 0;
  for (size_t ci = 0; ci < t.cores.size(); ++ci) {
    if (filter.core >= 0 && static_cast<size_t>(filter.core) != ci) continue;
    const ControlCore& core = t.cores[ci];
    for (tcp::TcpStack* st : core.stacks) {
      // Made and advanced on the core only; freed wherever the last
      // reference goes (it holds no pointer into the tables).
      auto dumper = std::make_shared<std::unique_ptr<tcp::ConnDumper>>();
      bool more = true;
      while (more) {
        auto c = CallOnCore<Chunk>(
            *core.reactor,
            [dumper, st, filter, owner, chunk](Reactor&) {
              if (!*dumper) *dumper = std::make_unique<tcp::ConnDumper>(*st, filter, owner);
              Chunk ch;
              ch.rows.reserve(chunk);
              ch.more = (*dumper)->Next(&ch.rows, chunk);
              return ch;
            },
            t.core_timeout, &out.stopping());
        if (!c.ok()) return c.status();
        more = c->more;
        if (c->rows.empty()) continue;
        Json rows = Json::array();
        for (const tcp::ConnRow& r : c->rows) {
          rows.push_back(ConnRowToJson(r, r.pid > 0 ? comm.Get(r.pid) : std::string()));
        }
        total += c->rows.size();
        if (!out.Send(Json{{"rows", rows}})) {
          return absl::CancelledError("the client went away");
        }
      }
    }
  }
  return Json{{"count", total}};
}

absl::StatusOr<Json> Summary(const ControlTargets& t, Responder& out) {
  tcp::ConnSummary sum;
  for (const ControlCore& core : t.cores) {
    for (tcp::TcpStack* st : core.stacks) {
      auto s = std::make_shared<std::unique_ptr<tcp::ConnSummarizer>>();
      while (true) {
        struct Step {
          bool more;
          tcp::ConnSummary sum;
        };
        auto step = CallOnCore<Step>(
            *core.reactor,
            [s, st](Reactor&) {
              if (!*s) *s = std::make_unique<tcp::ConnSummarizer>(*st);
              Step r;
              r.more = (*s)->Step();
              r.sum = (*s)->summary();
              return r;
            },
            t.core_timeout, &out.stopping());
        if (!step.ok()) return step.status();
        if (!step->more) {
          sum += step->sum;
          break;
        }
      }
    }
  }
  Json j = ConnSummaryToJson(sum);
  j["text"] = tcp::FormatConnSummary(sum);
  return Json{{"summary", j}};
}

}  // namespace

void RegisterConnsCommands(ControlServer& server, const ControlTargets& t) {
  server.Register(
      "conns",
      "the connection table like ss: {filter: [ss words], all, listening, summary, chunk}; "
      "streams {rows: [...]} lines",
      [t](const Json& args, Responder& out) -> absl::StatusOr<Json> {
        Args a("conns", args);
        auto all = a.Bool("all", false);
        if (!all.ok()) return all.status();
        auto listening = a.Bool("listening", false);
        if (!listening.ok()) return listening.status();
        auto summary = a.Bool("summary", false);
        if (!summary.ok()) return summary.status();
        auto chunk = a.OptIntIn("chunk", 1, 65536);
        if (!chunk.ok()) return chunk.status();
        auto words = a.OptStringList("filter");
        if (!words.ok()) return words.status();
        if (auto st = a.Finish(); !st.ok()) return st;
        if (*summary) return Summary(t, out);
        const uint32_t dflt = *all         ? tcp::kSsAllStates
                              : *listening ? tcp::kSsListeningStates
                                           : tcp::kSsDefaultStates;
        auto filter = tcp::ParseConnFilter(*words, dflt);
        if (!filter.ok()) {
          return filter.status();
        }
        if (filter->core >= static_cast<int>(t.cores.size())) {
          return absl::InvalidArgumentError(absl::StrFormat(
              "conns: core %d does not exist (cores 0-%d)", filter->core, t.cores.size() - 1));
        }
        return DumpRows(t, *filter, static_cast<size_t>(chunk->value_or(kDefaultChunk)), out);
      });

  server.Register(
      "kill",
      "aborts one connection like ss -K: {local: \"A:P\", peer: \"A:P\"} (a listener: peer "
      "\"*:*\")",
      [t](const Json& args, Responder& out) -> absl::StatusOr<Json> {
        Args a("kill", args);
        auto local = a.String("local");
        if (!local.ok()) return local.status();
        auto peer = a.String("peer");
        if (!peer.ok()) return peer.status();
        if (auto st = a.Finish(); !st.ok()) return st;
        uint32_t laddr, raddr;
        uint16_t lport, rport;
        if (!ParseAddrPort(*local, &laddr, &lport) || lport == 0) {
          return absl::InvalidArgumentError(
              absl::StrCat("kill: bad local address '", *local, "' (want A.B.C.D:PORT)"));
        }
        if (!ParseAddrPort(*peer, &raddr, &rport)) {
          return absl::InvalidArgumentError(absl::StrCat(
              "kill: bad peer address '", *peer, "' (want A.B.C.D:PORT, or *:* for a listener)"));
        }
        // The flow lives on the core RSS gave it; ask every core, only the
        // owner finds it.
        std::vector<std::vector<tcp::TcpStack*>> stacks;
        for (const ControlCore& c : t.cores) stacks.push_back(c.stacks);
        auto res = CallOnCores<int>(
            Reactors(t),
            [stacks, laddr, lport, raddr, rport](Reactor&, size_t i) {
              int rc = -ENOENT;
              for (tcp::TcpStack* s : stacks[i]) {
                if (tcp::TcpAbort(*s, laddr, lport, raddr, rport) == 0) rc = 0;
              }
              return rc;
            },
            t.core_timeout, &out.stopping());
        if (!res.ok()) return res.status();
        for (size_t i = 0; i < res->size(); ++i) {
          if ((*res)[i] == 0) {
            return Json{{"local", tcp::FormatAddrPort(laddr, lport)},
                        {"peer", tcp::FormatAddrPort(raddr, rport)},
                        {"core", i},
                        {"aborted", true}};
          }
        }
        return absl::NotFoundError(absl::StrFormat("no connection %s %s", *local, *peer));
      });
}

}  // namespace dpx::control
