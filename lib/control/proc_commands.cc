// proc.list, proc.show, proc.spawn, proc.fork, proc.exit, proc.kill and
// proc.call: the simulated processes that own sockets (lib/socket).
//
// A process's fd table belongs to its home core, so everything that reads
// or changes it is a message to that core; exit and kill answer when the
// process is reaped (every core has closed its share), with what the exit
// closed. proc.call runs one socket system call (sock::Syscall) and, with
// wait_ms, repeats a call that returned EAGAIN until it succeeds or the
// time is up, so a script can wait for accept() or recv().
#include <cerrno>
#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "control/appliance_commands.h"
#include "control/conn_json.h"
#include "control/core_call.h"
#include "core/reactor.h"
#include "socket/file.h"
#include "socket/process.h"
#include "socket/syscalls.h"
#include "tcp/conn_dump.h"
#include "tcp/tcp_stack.h"

namespace dpx::control {

namespace {

using sock::Process;
using sock::ProcessTable;
using sock::ProcState;
using Clock = std::chrono::steady_clock;

constexpr int64_t kDefaultExitTimeoutMs = 60000;
constexpr int kShowFdsPerMessage = 4096;
constexpr int64_t kDefaultShowMaxFds = 10000;

absl::Status NoProcesses() {
  return absl::FailedPreconditionError("dpx runs no process table");
}

absl::Status NoSuchPid(int64_t pid) {
  return absl::NotFoundError(absl::StrFormat("no process %d (proc list shows them)", pid));
}

// Why RunOnHome/Syscall refused: the pid is unknown, or the inbox is full.
absl::Status PostFailed(const ProcessTable& pt, int64_t pid) {
  if (pt.Find(static_cast<int>(pid)) == nullptr) return NoSuchPid(pid);
  return absl::UnavailableError(
      absl::StrFormat("the home core of process %d has a full inbox; try again", pid));
}

Json ExitCountsJson(const sock::ExitCounts& c) {
  return Json{{"fds", c.fds},
              {"released", c.released},
              {"shared", c.shared},
              {"fins", c.fins},
              {"rsts", c.rsts},
              {"orphans", c.orphans},
              {"time_waits", c.time_waits},
              {"max_closes_per_iteration", c.max_closes_per_iteration},
              {"max_poll_gap_ns", c.max_poll_gap_ns},
              {"max_batch_ns", c.max_batch_ns}};
}

// What any thread may read about a process (fds only on its home core).
Json ProcJson(const Process& p) {
  Json j = Json::object();
  j["pid"] = p.pid();
  j["ppid"] = p.ppid();
  j["name"] = p.name();
  const ProcState st = p.state();
  j["state"] = sock::ProcStateName(st);
  j["core"] = p.home_core();
  if (st == ProcState::kDead) {
    j["exit_code"] = p.exit_code();
    j["exit_signal"] = p.exit_signal();
    j["exit_ms"] = static_cast<double>(p.exit_end_ns() - p.exit_start_ns()) / 1e6;
    j["closed"] = ExitCountsJson(p.exit_counts());
  }
  return j;
}

absl::StatusOr<ProcessTable*> Table(const ControlTargets& t) {
  if (t.procs == nullptr) return NoProcesses();
  return t.procs;
}

// ---- proc.list ----

absl::StatusOr<Json> List(const ControlTargets& t, const Json& args, Responder& out) {
  Args a("proc.list", args);
  if (auto st = a.Finish(); !st.ok()) return st;
  auto pt = Table(t);
  if (!pt.ok()) return pt.status();
  std::vector<std::shared_ptr<Process>> procs = (*pt)->List();
  // Open fds are the home core's to read: one message per core for all its
  // processes.
  std::vector<std::vector<std::shared_ptr<Process>>> by_core(t.cores.size());
  for (auto& p : procs) {
    if (p->home_core() < by_core.size()) by_core[p->home_core()].push_back(p);
  }
  std::map<int, std::pair<uint32_t, uint32_t>> fds;  // pid -> open, max
  for (size_t c = 0; c < by_core.size(); ++c) {
    if (by_core[c].empty()) continue;
    using Counts = std::vector<std::pair<int, std::pair<uint32_t, uint32_t>>>;
    auto list = by_core[c];
    auto counts = CallOnCore<Counts>(
        *t.cores[c].reactor,
        [list](Reactor&) {
          Counts r;
          for (const auto& p : list) {
            r.push_back({p->pid(), {p->fds().open_count(), p->fds().max_fds()}});
          }
          return r;
        },
        t.core_timeout, &out.stopping());
    if (!counts.ok()) return counts.status();
    for (const auto& [pid, n] : *counts) fds[pid] = n;
  }
  Json rows = Json::array();
  for (const auto& p : procs) {
    Json j = ProcJson(*p);
    if (auto it = fds.find(p->pid()); it != fds.end()) {
      j["fds"] = it->second.first;
      j["nofile"] = it->second.second;
    }
    rows.push_back(j);
  }
  return Json{{"procs", rows}};
}

// ---- proc.show ----

struct FdInfo {
  int fd = -1;
  bool socket = false;
  unsigned core = 0;
  uint32_t refs = 0;
  bool has_row = false;
  tcp::ConnRow row;
};

struct FdPage {
  std::vector<FdInfo> fds;
  int next = -1;  // the next open fd, -1 when the table is done
  uint32_t open = 0;
  uint32_t max = 0;
};

absl::StatusOr<Json> Show(const ControlTargets& t, const Json& args, Responder& out) {
  Args a("proc.show", args);
  auto pid = a.IntIn("pid", 1, INT32_MAX);
  if (!pid.ok()) return pid.status();
  auto max_fds = a.OptIntIn("max_fds", 1, INT32_MAX);
  if (!max_fds.ok()) return max_fds.status();
  if (auto st = a.Finish(); !st.ok()) return st;
  auto pt = Table(t);
  if (!pt.ok()) return pt.status();
  std::shared_ptr<Process> p = (*pt)->Find(static_cast<int>(*pid));
  if (p == nullptr) return NoSuchPid(*pid);
  const size_t limit = static_cast<size_t>(max_fds->value_or(kDefaultShowMaxFds));
  const unsigned home = p->home_core();
  if (home >= t.cores.size()) return absl::InternalError("process on a core dpx does not run");

  std::vector<FdInfo> fds;
  uint32_t open = 0, max = 0;
  bool truncated = false;
  int from = 0;
  while (from >= 0) {
    const size_t want = std::min<size_t>(kShowFdsPerMessage, limit - fds.size());
    auto page = CallOnCore<FdPage>(
        *t.cores[home].reactor,
        [p, from, want, home](Reactor&) {
          FdPage pg;
          pg.open = p->fds().open_count();
          pg.max = p->fds().max_fds();
          int fd = p->fds().NextOpen(from);
          for (; fd >= 0 && pg.fds.size() < want; fd = p->fds().NextOpen(fd + 1)) {
            sock::File* f = p->fds().Get(fd);
            FdInfo i;
            i.fd = fd;
            if (f != nullptr && f->is_socket()) {
              i.socket = true;
              i.core = f->core;
              i.refs = f->refs;
              // A socket of this core is read here; one on another core is
              // looked up there afterwards (by its owner, below).
              if (f->core == home) {
                i.has_row = true;
                i.row = tcp::ConnRowOf(*f->stack, &f->sk->c, &sock::SockOwner);
              }
            }
            pg.fds.push_back(i);
          }
          pg.next = fd;
          return pg;
        },
        t.core_timeout, &out.stopping());
    if (!page.ok()) return page.status();
    open = page->open;
    max = page->max;
    for (FdInfo& i : page->fds) fds.push_back(std::move(i));
    from = page->next;
    if (from >= 0 && fds.size() >= limit) {
      truncated = true;
      break;
    }
  }

  // Sockets on other cores: their rows come from those cores' tables, by
  // the owner the socket records (the first process and fd that held it).
  std::set<unsigned> remote;
  for (const FdInfo& i : fds)
    if (i.socket && !i.has_row) remote.insert(i.core);
  std::map<int, tcp::ConnRow> remote_rows;  // fd -> row
  for (unsigned c : remote) {
    if (c >= t.cores.size()) continue;
    tcp::ConnFilter filter;
    filter.pid = p->pid();
    for (tcp::TcpStack* st : t.cores[c].stacks) {
      auto dumper = std::make_shared<std::unique_ptr<tcp::ConnDumper>>();
      bool more = true;
      while (more) {
        struct Chunk {
          std::vector<tcp::ConnRow> rows;
          bool more;
        };
        auto ch = CallOnCore<Chunk>(
            *t.cores[c].reactor,
            [dumper, st, filter](Reactor&) {
              if (!*dumper) *dumper = std::make_unique<tcp::ConnDumper>(*st, filter, &sock::SockOwner);
              Chunk r;
              r.more = (*dumper)->Next(&r.rows, 1024);
              return r;
            },
            t.core_timeout, &out.stopping());
        if (!ch.ok()) return ch.status();
        more = ch->more;
        for (const tcp::ConnRow& r : ch->rows) remote_rows[r.fd] = r;
      }
    }
  }

  Json j = ProcJson(*p);
  j["fds_open"] = open;
  j["nofile"] = max;
  Json list = Json::array();
  uint64_t sockets = 0;
  for (FdInfo& i : fds) {
    Json f = Json::object();
    f["fd"] = i.fd;
    if (!i.socket) {
      f["type"] = i.fd <= 2 ? "stdio" : "file";
    } else {
      ++sockets;
      f["type"] = "socket";
      f["core"] = i.core;
      f["refs"] = i.refs;
      if (!i.has_row) {
        if (auto it = remote_rows.find(i.fd); it != remote_rows.end()) {
          i.row = it->second;
          i.has_row = true;
        }
      }
      if (i.has_row) f["conn"] = ConnRowToJson(i.row, std::string());
    }
    list.push_back(f);
  }
  j["sockets"] = sockets;
  j["fds"] = list;
  j["truncated"] = truncated;
  return j;
}

// ---- proc.spawn / proc.fork ----

absl::StatusOr<Json> Spawn(const ControlTargets& t, const Json& args) {
  Args a("proc.spawn", args);
  auto name = a.String("name");
  if (!name.ok()) return name.status();
  auto core = a.OptIntIn("core", 0, static_cast<int64_t>(t.cores.size()) - 1);
  if (!core.ok()) return core.status();
  auto nofile = a.OptIntIn("nofile", 3, UINT32_MAX);
  if (!nofile.ok()) return nofile.status();
  auto ppid = a.OptIntIn("ppid", 1, INT32_MAX);
  if (!ppid.ok()) return ppid.status();
  if (auto st = a.Finish(); !st.ok()) return st;
  auto pt = Table(t);
  if (!pt.ok()) return pt.status();
  auto p = (*pt)->Spawn(*name, static_cast<unsigned>(core->value_or(0)),
                        static_cast<int>(ppid->value_or(1)),
                        static_cast<uint32_t>(nofile->value_or(0)));
  if (!p.ok()) return p.status();
  Json j = ProcJson(**p);
  j["nofile"] = nofile->value_or((*pt)->config().default_nofile);
  return j;
}

absl::StatusOr<Json> Fork(const ControlTargets& t, const Json& args, Responder& out) {
  Args a("proc.fork", args);
  auto pid = a.IntIn("pid", 1, INT32_MAX);
  if (!pid.ok()) return pid.status();
  auto name = a.OptString("name");
  if (!name.ok()) return name.status();
  if (auto st = a.Finish(); !st.ok()) return st;
  auto pt = Table(t);
  if (!pt.ok()) return pt.status();
  ProcessTable* table = *pt;
  auto done = std::make_shared<Completion<absl::StatusOr<std::shared_ptr<Process>>>>();
  const std::string child_name = name->value_or("");
  if (!table->RunOnHome(static_cast<int>(*pid), [table, done, child_name](Process& p) {
        done->Set(table->Fork(p, child_name));
      })) {
    return PostFailed(*table, *pid);
  }
  auto r = done->Wait(Clock::now() + t.core_timeout, &out.stopping());
  if (!r.has_value()) {
    return absl::DeadlineExceededError(absl::StrFormat(
        "the home core of process %d did not answer within %d ms", *pid, t.core_timeout.count()));
  }
  if (!r->ok()) return r->status();
  Json j = ProcJson(***r);
  j["parent"] = *pid;
  return j;
}

// ---- proc.exit / proc.kill ----

absl::StatusOr<Json> Exit(const ControlTargets& t, const Json& args, Responder& out, bool kill) {
  const char* cmd = kill ? "proc.kill" : "proc.exit";
  Args a(cmd, args);
  auto pid = a.IntIn("pid", 1, INT32_MAX);
  if (!pid.ok()) return pid.status();
  int code = 0, signal = 0;
  if (kill) {
    auto sig = a.OptIntIn("signal", 1, 64);
    if (!sig.ok()) return sig.status();
    signal = static_cast<int>(sig->value_or(9));
  } else {
    auto c = a.OptIntIn("code", 0, 255);
    if (!c.ok()) return c.status();
    code = static_cast<int>(c->value_or(0));
  }
  auto timeout = a.OptIntIn("timeout_ms", 1, INT32_MAX);
  if (!timeout.ok()) return timeout.status();
  if (auto st = a.Finish(); !st.ok()) return st;
  auto pt = Table(t);
  if (!pt.ok()) return pt.status();
  ProcessTable* table = *pt;
  std::shared_ptr<Process> proc = table->Find(static_cast<int>(*pid));
  if (proc == nullptr) return NoSuchPid(*pid);

  // Set on the home core: the reaped process, or why exit was refused.
  auto done = std::make_shared<Completion<absl::Status>>();
  if (!table->RunOnHome(static_cast<int>(*pid), [table, done, code, signal](Process& p) {
        const ProcState st = p.state();
        if (!table->Exit(p, code, signal, [done](Process&) { done->Set(absl::OkStatus()); })) {
          done->Set(absl::FailedPreconditionError(absl::StrFormat(
              "process %d (%s) is %s already", p.pid(), p.name(), sock::ProcStateName(st))));
        }
      })) {
    return PostFailed(*table, *pid);
  }
  const int64_t wait_ms = timeout->value_or(std::max<int64_t>(kDefaultExitTimeoutMs,
                                                               t.core_timeout.count()));
  auto r = done->Wait(Clock::now() + std::chrono::milliseconds(wait_ms), &out.stopping());
  if (!r.has_value()) {
    return absl::DeadlineExceededError(absl::StrFormat(
        "process %d is still exiting after %d ms (proc show %d follows it)", *pid, wait_ms, *pid));
  }
  if (!r->ok()) return *r;
  return ProcJson(*proc);
}

// ---- proc.call ----

Json SyscallJson(const sock::SyscallReq& req, const sock::SyscallResult& res,
                 const std::vector<std::string>& words) {
  Json j = Json::object();
  j["call"] = absl::StrJoin(words, " ");
  j["ret"] = res.ret;
  if (res.ret < 0) j["errno"] = sock::ErrnoName(static_cast<int>(-res.ret));
  j["line"] = sock::FormatSyscall(req, res);
  if (req.op == sock::Sys::kRecv && res.ret >= 0) j["data"] = res.data;
  if (req.op == sock::Sys::kGetsockopt && res.ret >= 0) {
    j["val"] = res.val_len > 4 ? Json::array({res.val[0], res.val[1]}) : Json(res.val[0]);
    j["val_len"] = res.val_len;
  }
  return j;
}

absl::StatusOr<Json> Call(const ControlTargets& t, const Json& args, Responder& out) {
  Args a("proc.call", args);
  auto pid = a.IntIn("pid", 1, INT32_MAX);
  if (!pid.ok()) return pid.status();
  auto words = a.StringList("call");
  if (!words.ok()) return words.status();
  auto wait_ms = a.OptIntIn("wait_ms", 0, INT32_MAX);
  if (!wait_ms.ok()) return wait_ms.status();
  auto timeout = a.OptIntIn("timeout_ms", 1, INT32_MAX);
  if (!timeout.ok()) return timeout.status();
  if (auto st = a.Finish(); !st.ok()) return st;
  auto pt = Table(t);
  if (!pt.ok()) return pt.status();
  absl::StatusOr<sock::SyscallReq> req = sock::ParseSyscall(*words);
  if (!req.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("proc.call: ", req.status().message()));
  }
  // exit() answers once the process is reaped: give it the exit's time.
  const int64_t call_timeout = timeout->value_or(
      req->op == sock::Sys::kExit ? std::max<int64_t>(kDefaultExitTimeoutMs, t.core_timeout.count())
                                  : t.core_timeout.count());
  const auto retry_until = Clock::now() + std::chrono::milliseconds(wait_ms->value_or(0));
  int attempts = 0;
  auto pause = std::chrono::milliseconds(5);
  while (true) {
    ++attempts;
    auto done = std::make_shared<Completion<sock::SyscallResult>>();
    if (!sock::Syscall(**pt, static_cast<int>(*pid), *req,
                       [done](const sock::SyscallResult& r) { done->Set(r); })) {
      return PostFailed(**pt, *pid);
    }
    auto r = done->Wait(Clock::now() + std::chrono::milliseconds(call_timeout), &out.stopping());
    if (!r.has_value()) {
      if (out.stopping().load()) return absl::CancelledError("dpx is stopping");
      return absl::DeadlineExceededError(absl::StrFormat(
          "process %d: %s did not complete within %d ms", *pid, (*words)[0], call_timeout));
    }
    if (r->ret == -EAGAIN && Clock::now() < retry_until && !out.stopping().load()) {
      std::this_thread::sleep_for(std::min<Clock::duration>(pause, retry_until - Clock::now()));
      pause = std::min(pause * 2, std::chrono::milliseconds(50));
      continue;
    }
    Json j = SyscallJson(*req, *r, *words);
    j["pid"] = *pid;
    j["attempts"] = attempts;
    return j;
  }
}

}  // namespace

void RegisterProcCommands(ControlServer& server, const ControlTargets& t) {
  server.Register("proc.list", "every process (the latest dead ones too) with its open fds",
                  [t](const Json& args, Responder& out) { return List(t, args, out); });
  server.Register("proc.show",
                  "one process: {pid, max_fds}: its fds and the sockets behind them",
                  [t](const Json& args, Responder& out) { return Show(t, args, out); });
  server.Register("proc.spawn", "a new process owning fds 0-2: {name, core, nofile, ppid}",
                  [t](const Json& args, Responder&) { return Spawn(t, args); });
  server.Register("proc.fork", "fork(): the child shares every open file: {pid, name}",
                  [t](const Json& args, Responder& out) { return Fork(t, args, out); });
  server.Register("proc.exit",
                  "exit(code): closes every fd as do_exit does, answers when reaped with what "
                  "it closed: {pid, code, timeout_ms}",
                  [t](const Json& args, Responder& out) { return Exit(t, args, out, false); });
  server.Register("proc.kill",
                  "kill -SIGNAL (default 9): the exit path of proc.exit: {pid, signal, "
                  "timeout_ms}",
                  [t](const Json& args, Responder& out) { return Exit(t, args, out, true); });
  server.Register("proc.call",
                  "one socket system call made by the process: {pid, call: [words], wait_ms, "
                  "timeout_ms}; wait_ms retries EAGAIN",
                  [t](const Json& args, Responder& out) { return Call(t, args, out); });
}

}  // namespace dpx::control
