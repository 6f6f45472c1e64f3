#include "gen/load_gen.h"

#include <algorithm>
#include <cerrno>
#include <limits>

#include <rte_mbuf.h>

#include "absl/strings/str_format.h"
#include "core/reactor.h"
#include "tcp/socket_api.h"
#include "tcp/tcp_stack.h"

namespace dpx::gen {

using tcp::Tcb;

namespace {
constexpr uint64_t kForever = std::numeric_limits<uint64_t>::max();
constexpr unsigned kMaxOpensPerPoll = 256;      // keeps one poll short
constexpr unsigned kMaxClosesPerPoll = 64;      // CloseAll: at most this many per poll...
constexpr uint64_t kClosesPerSecond = 100'000;  // ... and this many per second
constexpr uint64_t kMaxPendingHandshakes = 512;  // hold without a rate: self-clocked
alignas(64) char g_pattern[16384];
}  // namespace

const char* ModeName(Mode m) {
  switch (m) {
    case Mode::kCps: return "cps";
    case Mode::kRps: return "rps";
    case Mode::kBulk: return "bulk";
    case Mode::kHold: return "hold";
  }
  return "?";
}

struct LoadGen::Conn {
  LoadGen* g = nullptr;
  Tcb* sk = nullptr;
  Role role = Role::kClient;
  bool connected = false;
  bool answered = false;    // cps: the whole response arrived
  uint64_t t0 = 0;          // request (or connect) start, ns
  uint64_t want = 0;        // bytes still expected of the current message
  uint64_t to_send = 0;     // bytes still to queue
  Conn* prev = nullptr;
  Conn* next = nullptr;
};

void LoadGen::Link(Conn* c) {
  c->next = conns_;
  if (conns_ != nullptr) conns_->prev = c;
  conns_ = c;
}

void LoadGen::Unlink(Conn* c) {
  if (c->prev != nullptr) c->prev->next = c->next;
  else conns_ = c->next;
  if (c->next != nullptr) c->next->prev = c->prev;
}

void LoadGen::CloseAll() {
  holding_ = measuring_ = false;
  closing_ = true;
  close_tokens_ = 0;
  last_ns_ = stack_.reactor().now_ns();
}

LoadGen::LoadGen(tcp::TcpStack& stack, GenConfig cfg) : stack_(stack), cfg_(std::move(cfg)) {
  std::fill(std::begin(g_pattern), std::end(g_pattern), 'x');
}

LoadGen::~LoadGen() {
  while (conns_ != nullptr) End(conns_);
  for (Tcb* l : listeners_) tcp::TcpClose(l);
}

absl::Status LoadGen::StartServer() {
  for (uint16_t port : cfg_.listen_ports) {
    Tcb* l = tcp::TcpSocket(stack_, &LoadGen::OnListener, this);
    if (l == nullptr) return absl::ResourceExhaustedError("no socket for a listener");
    if (int r = tcp::TcpBind(l, 0, port); r < 0) {
      tcp::TcpClose(l);
      return absl::UnavailableError(absl::StrFormat("bind port %d: errno %d", port, -r));
    }
    if (int r = tcp::TcpListen(l, 65535); r < 0) {
      tcp::TcpClose(l);
      return absl::UnavailableError(absl::StrFormat("listen port %d: errno %d", port, -r));
    }
    listeners_.push_back(l);
  }
  return absl::OkStatus();
}

void LoadGen::StartHold() {
  hold_target_ = cfg_.mode == Mode::kHold ? cfg_.count : cfg_.hold;
  holding_ = hold_target_ > 0;
  last_ns_ = stack_.reactor().now_ns();
}

bool LoadGen::hold_done() const { return stats_.held >= hold_target_; }

void LoadGen::StartMeasure() {
  holding_ = false;
  const uint64_t held = stats_.held, lc = stats_.live_client, ls = stats_.live_server;
  stats_ = GenStats();
  stats_.held = held;
  stats_.live_client = lc;
  stats_.live_server = ls;
  measuring_ = cfg_.client && cfg_.mode != Mode::kHold;
  stopping_ = closing_ = false;
  started_ = 0;
  tokens_ = 0;
  last_ns_ = stack_.reactor().now_ns();
}

bool LoadGen::finished() const {
  return cfg_.mode == Mode::kCps && cfg_.count != 0 && started_ >= cfg_.count && inflight_ == 0;
}

unsigned LoadGen::Poll() {
  if (closing_) {
    // Paced: each close costs the peer several packets, and a burst of a
    // million would overflow both rings and turn into retransmissions.
    const uint64_t now = stack_.reactor().now_ns();
    close_tokens_ = std::min(static_cast<double>(kMaxClosesPerPoll),
                             close_tokens_ + static_cast<double>(now - last_ns_) * 1e-9 *
                                                 static_cast<double>(kClosesPerSecond));
    last_ns_ = now;
    unsigned n = 0;
    while (conns_ != nullptr && close_tokens_ >= 1.0) {
      End(conns_);
      close_tokens_ -= 1.0;
      ++n;
    }
    return n;
  }
  if (holding_ && cfg_.mode == Mode::kHold && hold_done()) holding_ = false;  // held: no refills
  if (!holding_ && !measuring_) return 0;
  const uint64_t now = stack_.reactor().now_ns();
  const double dt = static_cast<double>(now - last_ns_) * 1e-9;
  last_ns_ = now;
  double budget = kMaxOpensPerPoll;
  if (cfg_.rate != 0) {
    // A token bucket holding at most 2 ms of connections.
    const double cap = std::max(1.0, static_cast<double>(cfg_.rate) * 0.002);
    tokens_ = std::min(cap, tokens_ + dt * static_cast<double>(cfg_.rate));
    budget = std::min(budget, tokens_);
  }
  unsigned opened = 0;
  if (holding_) {
    const uint64_t pending = stats_.live_client - stats_.held - inflight_;
    while (opened < budget && stats_.live_client - inflight_ < hold_target_ &&
           (cfg_.rate != 0 || pending + opened < kMaxPendingHandshakes)) {
      if (!Open(Role::kHoldClient)) break;
      ++opened;
    }
  } else {
    const uint64_t limit = cfg_.mode == Mode::kCps ? cfg_.count : cfg_.concurrency;
    while (opened < budget && inflight_ < cfg_.concurrency && (limit == 0 || started_ < limit)) {
      if (!Open(Role::kClient)) break;
      ++opened;
      ++started_;
    }
  }
  if (cfg_.rate != 0) tokens_ -= opened;
  return opened;
}

bool LoadGen::Open(Role role) {
  if (cfg_.target_ports.empty()) return false;
  auto* c = new Conn;
  c->g = this;
  c->role = role;
  c->t0 = stack_.reactor().now_ns();
  c->sk = tcp::TcpSocket(stack_, &LoadGen::OnConn, c);
  if (c->sk == nullptr) {
    ++stats_.no_port;
    delete c;
    return false;
  }
  const uint16_t port = cfg_.target_ports[next_port_++ % cfg_.target_ports.size()];
  const int r = tcp::TcpConnect(c->sk, cfg_.target_be, port);
  if (r != -EINPROGRESS) {
    ++stats_.no_port;
    tcp::TcpSetCallback(c->sk, nullptr, nullptr);
    tcp::TcpClose(c->sk);
    delete c;
    return false;
  }
  Link(c);
  ++stats_.opened;
  ++stats_.live_client;
  if (role == Role::kClient) ++inflight_;
  return true;
}

void LoadGen::OnListener(Tcb* sk, uint32_t events, void* ctx) {
  if (events & tcp::kEvIn) static_cast<LoadGen*>(ctx)->Accept(sk);
}

void LoadGen::Accept(Tcb* listener) {
  Tcb* child = nullptr;
  while (tcp::TcpAccept(listener, &child) == 0) {
    auto* c = new Conn;
    c->g = this;
    c->sk = child;
    c->role = Role::kServer;
    c->connected = true;
    c->want = cfg_.req_bytes;
    Link(c);
    ++stats_.accepted;
    ++stats_.live_server;
    tcp::TcpSetCallback(child, &LoadGen::OnConn, c);
    Drive(c, tcp::kEvIn);  // data may have come with the handshake
  }
}

void LoadGen::OnConn(Tcb* /*sk*/, uint32_t events, void* ctx) {
  auto* c = static_cast<Conn*>(ctx);
  c->g->Drive(c, events);
}

void LoadGen::Drive(Conn* c, uint32_t events) {
  if (events & tcp::kEvErr) {
    Fail(c, tcp::TcpSockError(c->sk));
    return;
  }
  if (c->role == Role::kServer) {
    DriveServer(c);
    return;
  }
  if (!c->connected) {
    const tcp::TcpState st = c->sk->state();
    if (st == tcp::TCP_SYN_SENT) return;
    if (st == tcp::TCP_CLOSE) {
      Fail(c, ECONNREFUSED);
      return;
    }
    c->connected = true;
    ++stats_.established;
    if (c->role == Role::kHoldClient) {
      ++stats_.held;
    } else if (cfg_.mode == Mode::kBulk && cfg_.bulk_dir == BulkDir::kUp) {
      c->to_send = kForever;
    } else {
      c->to_send = cfg_.req_bytes;
      c->want = cfg_.mode == Mode::kBulk ? kForever : cfg_.resp_bytes;
      if (cfg_.mode == Mode::kRps) {
        c->t0 = stack_.reactor().now_ns();
        if (stopping_) c->to_send = c->want = 0;  // connected after the end: stays idle
        else ++outstanding_;
      }
    }
  }
  if (c->role == Role::kHoldClient) {
    bool eof = false;
    if (!Receive(c, &eof)) return;
    if (eof) End(c);  // the far side closed a held connection
    return;
  }
  DriveClient(c);
}

// Reads what is there; answers and closes as the mode says.
void LoadGen::DriveClient(Conn* c) {
  if (!Transmit(c)) return;
  bool eof = false;
  if (!Receive(c, &eof)) return;
  if (cfg_.mode == Mode::kCps && c->answered) {
    if (cfg_.closer == Closer::kClient || eof) {
      ++stats_.completed;
      End(c);
    }
    return;
  }
  if (eof) {
    ++stats_.errors;  // the far side closed before the exchange ended
    End(c);
    return;
  }
  if (!Transmit(c)) return;  // rps: the next request
}

void LoadGen::DriveServer(Conn* c) {
  bool eof = false;
  if (!Receive(c, &eof)) return;
  if (!Transmit(c)) return;
  if (eof) {
    End(c);  // the client is done (or it closed a held connection)
    return;
  }
  if (cfg_.mode == Mode::kCps && cfg_.closer == Closer::kServer && c->answered && c->to_send == 0)
    End(c);  // FIN rides after the queued response
}

// Consumes received bytes against the current message; a complete request
// (server) queues its answer, a complete response (client) is timed.
bool LoadGen::Receive(Conn* c, bool* eof) {
  while (true) {
    int err = 0;
    rte_mbuf* m = tcp::TcpRecvMbuf(c->sk, &err);
    if (m == nullptr) {
      if (err == 0) {
        *eof = true;
      } else if (err != -EAGAIN) {
        Fail(c, -err);
        return false;
      }
      return true;
    }
    uint64_t n = rte_pktmbuf_pkt_len(m);
    rte_pktmbuf_free(m);
    stats_.bytes_rx += n;
    if (c->role == Role::kHoldClient || c->want == kForever) continue;
    while (n > 0) {
      if (c->want == 0) {
        // Bytes beyond the expected message (bulk up to a server, or a
        // misbehaving peer): counted, not answered.
        if (c->role == Role::kServer && (cfg_.mode == Mode::kRps)) {
          c->want = cfg_.req_bytes;
        } else {
          break;
        }
      }
      const uint64_t take = std::min(n, c->want);
      c->want -= take;
      n -= take;
      if (c->want != 0) continue;
      if (c->role == Role::kServer) {
        c->answered = true;
        if (cfg_.mode == Mode::kBulk) {
          c->to_send = cfg_.bulk_dir == BulkDir::kDown ? kForever : 0;
          c->want = kForever;  // bulk up: the rest is the stream
        } else {
          c->to_send += cfg_.resp_bytes;
          if (cfg_.mode == Mode::kRps) c->want = cfg_.req_bytes;
        }
      } else {
        const uint64_t now = stack_.reactor().now_ns();
        stats_.latency.Record(now - c->t0);
        if (cfg_.mode == Mode::kRps) {
          ++stats_.requests;
          --outstanding_;
          c->t0 = now;
          if (!stopping_) {
            c->to_send = cfg_.req_bytes;
            c->want = cfg_.resp_bytes;
            ++outstanding_;
          }
        } else {
          c->answered = true;
        }
      }
    }
  }
}

bool LoadGen::Transmit(Conn* c) {
  while (c->to_send > 0) {
    const size_t chunk = static_cast<size_t>(std::min<uint64_t>(c->to_send, sizeof(g_pattern)));
    const ptrdiff_t n = tcp::TcpSend(c->sk, g_pattern, chunk);
    if (n == -EAGAIN) return true;  // kEvOut brings us back
    if (n < 0) {
      Fail(c, static_cast<int>(-n));
      return false;
    }
    stats_.bytes_tx += static_cast<uint64_t>(n);
    if (c->to_send != kForever) c->to_send -= static_cast<uint64_t>(n);
    if (static_cast<size_t>(n) < chunk) return true;
  }
  return true;
}

void LoadGen::Fail(Conn* c, int err) {
  if (!c->connected) {
    ++stats_.connect_failed;
  } else if (err == ECONNRESET || err == EPIPE) {
    ++stats_.resets;
  } else {
    ++stats_.errors;
  }
  End(c);
}

void LoadGen::End(Conn* c) {
  tcp::TcpSetCallback(c->sk, nullptr, nullptr);  // no event may reach a freed Conn
  tcp::TcpClose(c->sk);
  Unlink(c);
  switch (c->role) {
    case Role::kServer:
      --stats_.live_server;
      break;
    case Role::kHoldClient:
      --stats_.live_client;
      if (c->connected) --stats_.held;
      break;
    default:
      --stats_.live_client;
      --inflight_;
      if (cfg_.mode == Mode::kRps && c->connected && c->want != 0) --outstanding_;
      break;
  }
  delete c;
}

}  // namespace dpx::gen
