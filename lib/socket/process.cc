#include "socket/process.h"

#include <algorithm>
#include <cerrno>

#include "absl/strings/str_cat.h"
#include "core/log.h"
#include "core/object_pool.h"
#include "core/reactor.h"
#include "tcp/socket_api.h"
#include "tcp/tcp_stack.h"

namespace dpx::sock {

const char* ProcStateName(ProcState s) {
  switch (s) {
    case ProcState::kRunning: return "running";
    case ProcState::kExiting: return "exiting";
    case ProcState::kDead: return "dead";
  }
  return "?";
}

void ExitCounts::Add(const ExitCounts& o) {
  fds += o.fds;
  released += o.released;
  shared += o.shared;
  fins += o.fins;
  rsts += o.rsts;
  orphans += o.orphans;
  time_waits += o.time_waits;
  max_closes_per_iteration = std::max(max_closes_per_iteration, o.max_closes_per_iteration);
  max_poll_gap_ns = std::max(max_poll_gap_ns, o.max_poll_gap_ns);
  max_batch_ns = std::max(max_batch_ns, o.max_batch_ns);
}

struct ProcessTable::PerCore {
  ObjectPool<File> files;
  std::atomic<uint64_t> in_use{0};
};

// An exit in progress on the home core: where the fd walk is, and the files
// whose last reference went, per core of their socket.
struct ProcessTable::ExitJob {
  int next_fd = 0;
  std::vector<std::vector<File*>> release;  // per core, in fd order
  ExitCounts counts;                        // the walk's part
};

namespace {

struct FnMessage : Message {
  std::function<void()> task;
};

void RunFn(Reactor&, Message* m) {
  auto* f = static_cast<FnMessage*>(m);
  f->task();
  delete f;
}

bool PostFn(Reactor& target, std::function<void()> fn) {
  auto* m = new FnMessage;
  m->fn = &RunFn;
  m->task = std::move(fn);
  if (target.Post(target, m)) return true;
  delete m;
  return false;
}

}  // namespace

ProcessTable::ProcessTable(std::vector<CoreStack> cores, ProcessTableConfig cfg)
    : cores_(std::move(cores)), cfg_(cfg) {
  for (size_t i = 0; i < cores_.size(); ++i) per_core_.push_back(std::make_unique<PerCore>());
  if (cfg_.exit_closes_per_iteration == 0) cfg_.exit_closes_per_iteration = 1;
  if (cfg_.exit_fds_per_iteration == 0) cfg_.exit_fds_per_iteration = 1;
}

ProcessTable::~ProcessTable() = default;

absl::StatusOr<std::shared_ptr<Process>> ProcessTable::Spawn(std::string name, unsigned home_core,
                                                            int ppid, uint32_t nofile) {
  if (home_core >= cores_.size())
    return absl::InvalidArgumentError(
        absl::StrCat("core ", home_core, " does not exist (cores 0-", cores_.size() - 1, ")"));
  if (nofile == 0) nofile = cfg_.default_nofile;
  if (nofile < 3 || nofile > cfg_.max_nofile)
    return absl::InvalidArgumentError(
        absl::StrCat("nofile ", nofile, " is out of range 3-", cfg_.max_nofile));
  if (name.empty() || name.size() > 15)  // TASK_COMM_LEN
    return absl::InvalidArgumentError("a process name is 1 to 15 characters");
  std::lock_guard<std::mutex> lock(mu_);
  const int pid = next_pid_++;
  std::shared_ptr<Process> p(new Process(pid, ppid, std::move(name), home_core, nofile));
  p->start_ns_ = cores_[home_core].reactor->clock().NowNs();
  // stdin, stdout, stderr: the fd table starts at 3 for sockets, as a
  // program started from a shell sees it. The table is empty and nobody
  // else knows the process yet, so any thread may fill it.
  for (int i = 0; i < 3; ++i) p->fds_.Alloc(File::Stdio());
  procs_[pid] = p;
  return p;
}

std::shared_ptr<Process> ProcessTable::Find(int pid) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = procs_.find(pid);
  return it == procs_.end() ? nullptr : it->second;
}

std::vector<std::shared_ptr<Process>> ProcessTable::List() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::shared_ptr<Process>> out;
  out.reserve(procs_.size());
  for (const auto& [pid, p] : procs_) out.push_back(p);
  return out;
}

bool ProcessTable::RunOnHome(int pid, std::function<void(Process&)> fn) {
  std::shared_ptr<Process> p = Find(pid);
  if (!p) return false;
  return PostFn(*cores_[p->home_core()].reactor, [p, fn = std::move(fn)] { fn(*p); });
}

bool ProcessTable::RunOnCore(unsigned core, std::function<void()> fn) {
  if (core >= cores_.size()) return false;
  return PostFn(*cores_[core].reactor, std::move(fn));
}

void ProcessTable::SendCore(unsigned from, unsigned to, std::function<void()> fn) {
  if (from == to) {
    cores_[to].reactor->Defer(std::move(fn));
    return;
  }
  auto* m = new FnMessage;
  m->fn = &RunFn;
  m->task = std::move(fn);
  if (cores_[from].reactor->Post(*cores_[to].reactor, m)) return;
  // The target's inbox is full: try again on the next iteration.
  std::function<void()> again = std::move(m->task);
  delete m;
  cores_[from].reactor->Defer(
      [this, from, to, again = std::move(again)]() mutable { SendCore(from, to, std::move(again)); });
}

// ---------------------------------------------------------------- files

File* ProcessTable::NewFile(unsigned core, tcp::Tcb* sk) {
  PerCore& pc = *per_core_[core];
  File* f = pc.files.New();
  if (f == nullptr) return nullptr;
  pc.in_use.fetch_add(1, std::memory_order_relaxed);
  f->stack = cores_[core].tcp;
  f->sk = sk;
  f->core = static_cast<uint16_t>(core);
  tcp::TcpSetCallback(sk, &File::OnEvent, f);
  return f;
}

void ProcessTable::Release(File* f, bool exiting) {
  // sock_close -> inet_release -> tcp_close. The application's callback
  // takes the socket over, so a lingering close still reports completion.
  tcp::Tcb* sk = f->sk;
  tcp::TcpSetCallback(sk, f->app_cb, f->app_ctx);
  if (exiting) tcp::TcpCloseExiting(sk);
  else tcp::TcpClose(sk);
  PerCore& pc = *per_core_[f->core];
  pc.files.Delete(f);
  pc.in_use.fetch_sub(1, std::memory_order_relaxed);
}

uint64_t ProcessTable::files_in_use(unsigned core) const {
  return per_core_[core]->in_use.load(std::memory_order_relaxed);
}

void ProcessTable::Fput(const Process& holder, File* f, bool exiting) {
  if (f == File::Stdio()) return;
  if (--f->refs > 0) return;  // __fput only for the last reference
  if (f->core == holder.home_core()) {
    Release(f, exiting);
  } else {
    SendCore(holder.home_core(), f->core, [this, f, exiting] { Release(f, exiting); });
  }
}

int ProcessTable::InstallFd(Process& p, File* f, int min_fd) {
  const int fd = p.fds_.Alloc(f, min_fd);
  if (fd >= 0 && f != File::Stdio() && f->owner_pid.load(std::memory_order_relaxed) == 0) {
    f->owner_fd.store(fd, std::memory_order_relaxed);
    f->owner_pid.store(p.pid(), std::memory_order_relaxed);
  }
  return fd;
}

namespace {
// The fd that shows as a file's owner went away: nobody is shown (a
// process that still holds it by another fd is not looked up; ss would).
void DropOwner(const Process& p, int fd, File* f) {
  if (f == File::Stdio()) return;
  if (f->owner_pid.load(std::memory_order_relaxed) == p.pid() &&
      f->owner_fd.load(std::memory_order_relaxed) == fd) {
    f->owner_pid.store(0, std::memory_order_relaxed);
    f->owner_fd.store(-1, std::memory_order_relaxed);
  }
}
}  // namespace

int ProcessTable::Close(Process& p, int fd) {
  // close_fd -> filp_close -> fput.
  File* f = p.fds_.Clear(fd);
  if (f == nullptr) return -EBADF;
  DropOwner(p, fd, f);
  Fput(p, f, /*exiting=*/false);
  return 0;
}

int ProcessTable::Dup(Process& p, int fd) {
  File* f = p.fds_.Get(fd);
  if (f == nullptr) return -EBADF;
  const int nfd = p.fds_.Alloc(f);
  if (nfd >= 0 && f != File::Stdio()) ++f->refs;
  return nfd;
}

int ProcessTable::Dup2(Process& p, int oldfd, int newfd) {
  // ksys_dup3 / do_dup2.
  File* f = p.fds_.Get(oldfd);
  if (f == nullptr) return -EBADF;
  if (newfd < 0 || static_cast<uint32_t>(newfd) >= p.fds_.max_fds()) return -EBADF;
  if (oldfd == newfd) return newfd;
  if (f != File::Stdio()) ++f->refs;
  File* old = p.fds_.Replace(newfd, f);
  if (old != nullptr) {
    DropOwner(p, newfd, old);
    Fput(p, old, false);  // filp_close of what was there
  }
  return newfd;
}

absl::StatusOr<std::shared_ptr<Process>> ProcessTable::Fork(Process& parent, std::string name) {
  if (parent.state() != ProcState::kRunning)
    return absl::FailedPreconditionError(absl::StrCat("process ", parent.pid(), " is not running"));
  std::shared_ptr<Process> child;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const int pid = next_pid_++;
    child.reset(new Process(pid, parent.pid(), name.empty() ? parent.name() : std::move(name),
                            parent.home_core(), parent.fds_.max_fds()));
    child->start_ns_ = cores_[parent.home_core()].reactor->now_ns();
    procs_[pid] = child;
  }
  // dup_fd: the same file at the same fd, one more reference each.
  for (int fd = parent.fds_.NextOpen(0); fd >= 0; fd = parent.fds_.NextOpen(fd + 1)) {
    File* f = parent.fds_.Get(fd);
    child->fds_.Replace(fd, f);
    if (f != File::Stdio()) ++f->refs;
  }
  return child;
}

// ---------------------------------------------------------------- exit

bool ProcessTable::Exit(Process& p, int code, int signal, std::function<void(Process&)> done) {
  if (p.state() != ProcState::kRunning) return false;
  // exit_signals: PF_EXITING. Nothing new reaches the fd table from here on.
  p.state_.store(ProcState::kExiting, std::memory_order_release);
  p.exit_code_ = code;
  p.exit_signal_ = signal;
  p.exit_start_ns_ = cores_[p.home_core()].reactor->now_ns();
  if (done) p.on_reaped_.push_back(std::move(done));
  DPX_LOG_INFO("process %d (%s) exiting (%s %d), %u fds open", p.pid(), p.name().c_str(),
               signal ? "signal" : "code", signal ? signal : code, p.fds_.open_count());
  auto job = std::make_shared<ExitJob>();
  job->release.resize(cores_.size());
  std::shared_ptr<Process> self = Find(p.pid());
  cores_[p.home_core()].reactor->Defer([this, self, job] { ExitWalk(self, job); });
  return true;
}

void ProcessTable::OnReaped(Process& p, std::function<void(Process&)> done) {
  if (p.state() == ProcState::kDead) {
    done(p);
    return;
  }
  p.on_reaped_.push_back(std::move(done));
}

// close_files: the fd table in fd order, a bounded slice per iteration
// (cond_resched). Each slot is dropped; a last reference queues the file's
// release (____fput as task_work) for the core of its socket.
void ProcessTable::ExitWalk(std::shared_ptr<Process> p, std::shared_ptr<ExitJob> job) {
  FdTable& t = p->fds_;
  uint32_t n = 0;
  int fd = t.NextOpen(job->next_fd);
  for (; fd >= 0 && n < cfg_.exit_fds_per_iteration; fd = t.NextOpen(fd + 1), ++n) {
    File* f = t.Clear(fd);
    ++job->counts.fds;
    if (f == File::Stdio()) continue;
    DropOwner(*p, fd, f);
    if (--f->refs == 0) {
      job->release[f->core].push_back(f);
      ++job->counts.released;
    } else {
      ++job->counts.shared;  // another process holds it: nothing happens
    }
  }
  const unsigned home = p->home_core();
  if (fd >= 0) {
    job->next_fd = fd;
    cores_[home].reactor->Defer([this, p, job] { ExitWalk(p, job); });
    return;
  }
  p->exit_counts_.Add(job->counts);
  unsigned with_work = 0;
  for (const auto& l : job->release) with_work += l.empty() ? 0 : 1;
  p->exit_cores_pending_ = with_work;
  if (with_work == 0) {
    Reap(*p);
    return;
  }
  // task_work_run is LIFO: the highest fd is released first (6.18).
  for (unsigned c = 0; c < cores_.size(); ++c) {
    if (job->release[c].empty()) continue;
    std::vector<File*> files(job->release[c].rbegin(), job->release[c].rend());
    job->release[c].clear();
    SendCore(home, c, [this, c, p, files = std::move(files)]() mutable {
      CloseBatch(c, p, std::move(files), 0, ExitCounts{});
    });
  }
}

namespace {
// A socket that close() takes from an open state sends a FIN unless it was
// reset (unread data, SO_LINGER 0, tcp_check_oom): __tcp_close's branches.
bool WasOpen(uint8_t before) {
  using namespace tcp;
  return before == TCP_ESTABLISHED || before == TCP_CLOSE_WAIT || before == TCP_SYN_RECV;
}
}  // namespace

// One core's share of an exit: a bounded number of closes per iteration,
// then the counts go home.
void ProcessTable::CloseBatch(unsigned core, std::shared_ptr<Process> p, std::vector<File*> files,
                              size_t next, ExitCounts counts) {
  Reactor& reactor = *cores_[core].reactor;
  if (next == 0) reactor.TakeWindowMaxGap();  // the gaps of this exit start here
  const uint64_t batch_start = reactor.clock().NowNs();
  const size_t end = std::min(files.size(), next + cfg_.exit_closes_per_iteration);
  for (size_t i = next; i < end; ++i) {
    File* f = files[i];
    tcp::TcpStack& fst = *f->stack;
    auto& fslot = fst.shared().core[fst.config().core_index];
    const uint8_t before = f->sk->c.state;
    const int64_t rsts0 = fst.mib().Get(Mib::Tcp_OutRsts);
    const int64_t orph0 = fslot.orphans.load(std::memory_order_relaxed);
    const int64_t tw0 = fslot.tw.load(std::memory_order_relaxed);
    Release(f, /*exiting=*/true);
    const int64_t rsts = fst.mib().Get(Mib::Tcp_OutRsts) - rsts0;
    counts.rsts += static_cast<uint64_t>(rsts);
    counts.fins += WasOpen(before) && rsts == 0 ? 1 : 0;
    counts.orphans += static_cast<uint64_t>(std::max<int64_t>(0, fslot.orphans.load(std::memory_order_relaxed) - orph0));
    counts.time_waits += static_cast<uint64_t>(std::max<int64_t>(0, fslot.tw.load(std::memory_order_relaxed) - tw0));
  }
  counts.max_closes_per_iteration = std::max<uint64_t>(counts.max_closes_per_iteration, end - next);
  counts.max_batch_ns = std::max(counts.max_batch_ns, reactor.clock().NowNs() - batch_start);
  const unsigned home = p->home_core();
  if (end < files.size()) {
    cores_[core].reactor->Defer([this, core, p, files = std::move(files), end, counts]() mutable {
      CloseBatch(core, p, std::move(files), end, counts);
    });
    return;
  }
  counts.max_poll_gap_ns = std::max(counts.max_poll_gap_ns, reactor.TakeWindowMaxGap());
  SendCore(core, home, [this, p, counts] { CoreDone(p, counts); });
}

void ProcessTable::CoreDone(std::shared_ptr<Process> p, const ExitCounts& c) {
  p->exit_counts_.Add(c);
  if (--p->exit_cores_pending_ == 0) Reap(*p);
}

// release_task: the process is dead; its children go to pid 1; it is kept
// (like a zombie nobody waits for) for the operator, the latest dead_kept.
void ProcessTable::Reap(Process& p) {
  p.exit_end_ns_ = cores_[p.home_core()].reactor->clock().NowNs();
  const ExitCounts& c = p.exit_counts_;
  DPX_LOG_INFO(
      "process %d (%s) reaped: %lu fds, %lu sockets closed (%lu FIN, %lu RST, %lu orphans, %lu "
      "TIME_WAIT), %lu still held elsewhere",
      p.pid(), p.name().c_str(), static_cast<unsigned long>(c.fds),
      static_cast<unsigned long>(c.released), static_cast<unsigned long>(c.fins),
      static_cast<unsigned long>(c.rsts), static_cast<unsigned long>(c.orphans),
      static_cast<unsigned long>(c.time_waits), static_cast<unsigned long>(c.shared));
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [pid, q] : procs_)
      if (q->ppid() == p.pid()) q->ppid_.store(1, std::memory_order_relaxed);
    dead_order_.push_back(p.pid());
    while (dead_order_.size() > cfg_.dead_kept) {
      procs_.erase(dead_order_.front());
      dead_order_.pop_front();
    }
  }
  p.state_.store(ProcState::kDead, std::memory_order_release);
  auto cbs = std::move(p.on_reaped_);
  p.on_reaped_.clear();
  for (auto& cb : cbs) cb(p);
}

}  // namespace dpx::sock
