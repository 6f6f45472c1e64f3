// Processes that own sockets through fd tables, as Linux models them:
// spawn, fork (dup_fd: the child shares every open file), close/dup/dup2
// on fds, and exit (do_exit -> exit_files -> close_files, then the
// deferred __fput of each last reference, highest fd first as 6.18's LIFO
// task_work runs them) with SO_LINGER ignored (PF_EXITING).
//
// Threads: the pid map takes a mutex (control plane and supervisors, never
// per packet). Everything else about a process (its fd table, the
// references of the files it holds) belongs to its home core; calls marked
// "home core" must run there. Sockets may live on other cores: their
// release, and an exit's share of closes, reach those cores as one message
// per core. Exit is chunked: at most `exit_fds_per_iteration` fd slots and
// `exit_closes_per_iteration` socket closes per reactor iteration (Linux's
// cond_resched in close_files), so a core keeps polling while a process
// with a million sockets exits.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "socket/fd_table.h"
#include "socket/file.h"

namespace dpx {
class Reactor;
}
namespace dpx::tcp {
class TcpStack;
}

namespace dpx::sock {

enum class ProcState : uint8_t { kRunning, kExiting, kDead };
const char* ProcStateName(ProcState s);  // "running", "exiting", "dead"

// What an exit did, for the operator.
struct ExitCounts {
  uint64_t fds = 0;        // fd slots the exit dropped (sockets and stdio)
  uint64_t released = 0;   // last references: sockets closed
  uint64_t shared = 0;     // files another process still holds: nothing sent
  uint64_t fins = 0;       // closes that queued a FIN
  uint64_t rsts = 0;       // RSTs those closes sent (TcpOutRsts), listeners' children included
  uint64_t orphans = 0;    // sockets left finishing their close as orphans
  uint64_t time_waits = 0; // sockets that went to TIME_WAIT at close
  uint64_t max_closes_per_iteration = 0;  // the most closes one reactor iteration ran
  uint64_t max_poll_gap_ns = 0;  // the longest gap between two polls of a closing core (wall
                                 // clock: includes the OS preempting the core's thread)
  uint64_t max_batch_ns = 0;     // the longest slice of closes one iteration ran
  void Add(const ExitCounts& o);
};

class Process {
 public:
  int pid() const { return pid_; }
  int ppid() const { return ppid_.load(std::memory_order_relaxed); }
  const std::string& name() const { return name_; }
  unsigned home_core() const { return home_core_; }
  ProcState state() const { return state_.load(std::memory_order_acquire); }
  // Home core only.
  FdTable& fds() { return fds_; }
  const FdTable& fds() const { return fds_; }
  // Set once the process is dead (read after state() == kDead).
  int exit_code() const { return exit_code_; }
  int exit_signal() const { return exit_signal_; }  // 0 for exit(), 9 for kill
  const ExitCounts& exit_counts() const { return exit_counts_; }
  uint64_t start_ns() const { return start_ns_; }
  uint64_t exit_start_ns() const { return exit_start_ns_; }
  uint64_t exit_end_ns() const { return exit_end_ns_; }

 private:
  friend class ProcessTable;
  Process(int pid, int ppid, std::string name, unsigned home, uint32_t nofile)
      : pid_(pid), ppid_(ppid), name_(std::move(name)), home_core_(home), fds_(nofile) {}

  int pid_;
  std::atomic<int> ppid_;
  std::string name_;
  unsigned home_core_;
  std::atomic<ProcState> state_{ProcState::kRunning};
  FdTable fds_;
  int exit_code_ = 0;
  int exit_signal_ = 0;
  ExitCounts exit_counts_;
  uint64_t start_ns_ = 0, exit_start_ns_ = 0, exit_end_ns_ = 0;
  // exit bookkeeping (home core)
  unsigned exit_cores_pending_ = 0;
  std::vector<std::function<void(Process&)>> on_reaped_;
};

// One core's reactor and the TCP stack sockets made there use.
struct CoreStack {
  Reactor* reactor = nullptr;
  tcp::TcpStack* tcp = nullptr;
};

struct ProcessTableConfig {
  uint32_t exit_closes_per_iteration = 64;
  uint32_t exit_fds_per_iteration = 4096;
  uint32_t default_nofile = 1024;  // RLIMIT_NOFILE soft limit of a spawned process
  uint32_t max_nofile = 64u << 20; // the highest a process may ask for (fs.nr_open)
  size_t dead_kept = 256;          // reaped processes kept for `dpxctl proc`
};

class ProcessTable {
 public:
  explicit ProcessTable(std::vector<CoreStack> cores, ProcessTableConfig cfg = {});
  ~ProcessTable();
  ProcessTable(const ProcessTable&) = delete;
  ProcessTable& operator=(const ProcessTable&) = delete;

  unsigned cores() const { return static_cast<unsigned>(cores_.size()); }
  const CoreStack& core(unsigned i) const { return cores_[i]; }
  const ProcessTableConfig& config() const { return cfg_; }

  // ---- any thread ----
  // A new process with fds 0-2 taken (stdio), like a program started from
  // a shell. nofile 0: the default. InvalidArgument for a bad core/nofile.
  absl::StatusOr<std::shared_ptr<Process>> Spawn(std::string name, unsigned home_core,
                                                 int ppid = 1, uint32_t nofile = 0);
  std::shared_ptr<Process> Find(int pid) const;
  // Every process known, by pid (dead ones too, the latest `dead_kept`).
  std::vector<std::shared_ptr<Process>> List() const;
  // Runs fn(process) on its home core (a message). False if the pid is
  // unknown or the core's inbox is full.
  bool RunOnHome(int pid, std::function<void(Process&)> fn);
  // Runs fn on core `core` (a message); false if the inbox is full.
  bool RunOnCore(unsigned core, std::function<void()> fn);

  // ---- home core of the process ----
  // fork(): a child on the same home core sharing every open file.
  absl::StatusOr<std::shared_ptr<Process>> Fork(Process& parent, std::string name = "");
  // do_exit. False if the process is not running. `done` runs on the home
  // core once every core has closed its share and the process is reaped.
  bool Exit(Process& p, int code, int signal, std::function<void(Process&)> done = nullptr);
  // Registers `done` for when p is reaped (runs at once if it is dead).
  void OnReaped(Process& p, std::function<void(Process&)> done);

  // fd operations (Linux return values: >= 0 or -errno).
  int InstallFd(Process& p, File* f, int min_fd = 0);  // takes over one reference of f
  int Close(Process& p, int fd);                        // close(2)
  int Dup(Process& p, int fd);
  int Dup2(Process& p, int oldfd, int newfd);
  // Drops one of `holder`'s references; the last releases the socket on
  // its core (a message when that is not the holder's home core).
  // `exiting`: inet_release with PF_EXITING (linger ignored).
  void Fput(const Process& holder, File* f, bool exiting);

  // ---- socket core ----
  // Wraps `sk` (made on `core`) in a File with one reference; the socket's
  // events go to File::OnEvent.
  File* NewFile(unsigned core, tcp::Tcb* sk);
  // Closes f's socket and frees f (the last reference went).
  void Release(File* f, bool exiting);
  // Files alive on `core` (the count is the core's own; others may read it).
  uint64_t files_in_use(unsigned core) const;

 private:
  struct PerCore;
  struct ExitJob;
  void ExitWalk(std::shared_ptr<Process> p, std::shared_ptr<ExitJob> job);
  void CloseBatch(unsigned core, std::shared_ptr<Process> p, std::vector<File*> files,
                  size_t next, ExitCounts counts);
  void CoreDone(std::shared_ptr<Process> p, const ExitCounts& c);
  void Reap(Process& p);
  // Sends fn to core `to` from core `from` (retried from `from`'s reactor
  // while `to`'s inbox is full). from == to: deferred on that core.
  void SendCore(unsigned from, unsigned to, std::function<void()> fn);

  std::vector<CoreStack> cores_;
  ProcessTableConfig cfg_;
  std::vector<std::unique_ptr<PerCore>> per_core_;
  mutable std::mutex mu_;
  std::map<int, std::shared_ptr<Process>> procs_;
  std::deque<int> dead_order_;
  int next_pid_ = 100;
};

}  // namespace dpx::sock
