// The engine's internal records: frontends (with their generations, one per
// reload), workers, listeners, sessions and connect checks. Only
// engine.cc and session.cc include this; the public API is engine.h.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "proxy/engine.h"
#include "proxy/splice.h"
#include "socket/process.h"

namespace dpx::proxy {

// What new sessions of a frontend use; sessions keep the generation they
// started with, so a reload never changes a running session.
struct ProxyEngine::FrontendGen {
  int id = -1;
  FrontendSpec spec;
  std::shared_ptr<ProxyCounters> counters;                       // the frontend's, across reloads
  std::vector<std::shared_ptr<ProxyCounters>> backend_counters;  // by spec.backends index
};

struct ProxyEngine::Frontend {
  int id = -1;
  std::shared_ptr<const FrontendGen> gen;
  Listener* listener = nullptr;  // in the current worker, when listening
};

// A listening socket of one worker.
struct ProxyEngine::Listener {
  ProxyEngine* eng = nullptr;
  Worker* w = nullptr;
  Frontend* fe = nullptr;
  sock::File* file = nullptr;
  tcp::Tcb* sk = nullptr;
  int fd = -1;
};

struct ProxyEngine::Worker {
  std::shared_ptr<sock::Process> proc;
  Session* sessions = nullptr;  // doubly linked through Session::prev/next
  size_t nsessions = 0;
  std::vector<std::unique_ptr<Listener>> listeners;
  bool reaped = false;
  bool listeners_pending = false;  // open once the workers before it are reaped
};

// One socket of a session: its file, its fd in the worker, the socket.
struct ProxyEngine::Side {
  sock::File* file = nullptr;
  tcp::Tcb* sk = nullptr;
  int fd = -1;
  uint32_t events = 0;  // kEvErr seen and not yet looked at
  bool open() const { return fd >= 0; }
};

struct ProxyEngine::Session {
  static constexpr int kTriedMax = 12;  // backends remembered for retries

  ProxyEngine* eng = nullptr;
  Worker* w = nullptr;
  std::shared_ptr<const FrontendGen> gen;
  Session* prev = nullptr;
  Session* next = nullptr;
  Side client;
  Side backend;
  SpliceDir c2b;
  SpliceDir b2c;
  TimerHook timer;              // connect timeout, then idle timeout
  uint64_t last_active_ns = 0;  // last byte moved (either way)
  uint32_t client_addr_be = 0;
  uint16_t client_port = 0;     // host order
  int backend_idx = -1;         // the backend being connected or connected
  int last_failed = -1;         // the backend whose connect failed last
  uint32_t attempts = 0;
  int16_t tried[kTriedMax] = {};
  uint8_t ntried = 0;
  bool connected = false;
  bool ended = false;  // End() ran: counters and hooks settled
  bool dead = false;   // to be freed once no call is inside it
  bool again = false;  // an event came while a call was inside: step again
  uint32_t depth = 0;

  ProxyCounters& fe_counters() const { return *gen->counters; }
  ProxyCounters* be_counters() const {
    return backend_idx >= 0 ? gen->backend_counters[static_cast<size_t>(backend_idx)].get()
                            : nullptr;
  }
};

struct ProxyEngine::Check {
  ProxyEngine* eng = nullptr;
  tcp::Tcb* sk = nullptr;
  TimerHook timer;
  std::function<void(bool)> done;
  Check* prev = nullptr;
  Check* next = nullptr;
};

// Runs fn (a step of session s) unless the session is dead or its worker
// no longer runs. Socket callbacks that arrive while a call is inside the
// session (the stack delivers events from inside socket calls made outside
// its own callbacks) only note that the session must step again. The
// session is freed when the outermost call leaves it dead.
template <typename Fn>
void ProxyEngine::WithSession(Session* s, Fn&& fn) {
  if (s->dead || !Running(s->w)) return;
  if (s->depth > 0) {
    s->again = true;
    return;
  }
  ++s->depth;
  fn();
  while (s->again && !s->dead && Running(s->w)) {
    s->again = false;
    Step(s);
  }
  --s->depth;
  if (s->dead) FreeSession(s);
}

}  // namespace dpx::proxy
