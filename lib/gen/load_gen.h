// The load generator's engine (app/dpxgen): client and server sides of
// stateful TCP load on one dpx TcpStack, like TRex ASTF. The client opens
// connections to the target (dpx's frontends) at a rate, the server side
// answers on its listen ports (dpx's backends), both in the same stack.
//
// Modes:
//   cps   connect, send req_bytes, the server answers resp_bytes, close
//         (the client or the server first, --close); latency = connect ->
//         whole response.
//   rps   `concurrency` keep-alive connections, request/response in a loop;
//         latency per request.
//   bulk  `concurrency` connections streaming for the run (down: server ->
//         client, up: client -> server); bytes counted at the receiver.
//   hold  open `count` connections and keep them idle.
// Any mode can first open `hold` idle connections (the background the
// measured phase runs against).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gen/latency_histogram.h"
#include "tcp/tcb.h"

namespace dpx::tcp {
class TcpStack;
}

namespace dpx::gen {

enum class Mode : uint8_t { kCps, kRps, kBulk, kHold };
enum class Closer : uint8_t { kClient, kServer };
enum class BulkDir : uint8_t { kDown, kUp };

const char* ModeName(Mode m);

struct GenConfig {
  Mode mode = Mode::kCps;
  // Client side: connections to target_be:target_ports[i], round robin.
  uint32_t target_be = 0;
  std::vector<uint16_t> target_ports;
  uint64_t rate = 0;           // new connections per second; 0: as concurrency allows
  uint32_t concurrency = 64;   // cps/bulk: in flight; rps: open connections
  uint64_t count = 0;          // cps: connections to run (0: until stopped); hold: to open
  uint32_t req_bytes = 100;
  uint32_t resp_bytes = 1000;
  Closer closer = Closer::kClient;
  BulkDir bulk_dir = BulkDir::kDown;
  uint64_t hold = 0;           // idle connections opened before the measured phase
  // Server side: listeners on these ports (empty: no server).
  std::vector<uint16_t> listen_ports;
  bool client = true;          // false: server side only
};

struct GenStats {
  uint64_t opened = 0;          // connect() calls that went out
  uint64_t established = 0;     // client connections that completed the handshake
  uint64_t completed = 0;       // cps: connections that got the whole response and closed
  uint64_t requests = 0;        // rps: responses received
  uint64_t connect_failed = 0;  // refused or timed out before ESTABLISHED
  uint64_t resets = 0;          // ECONNRESET/EPIPE after ESTABLISHED (either side)
  uint64_t errors = 0;          // other socket errors, short responses, early EOF
  uint64_t no_port = 0;         // connect() found no free 4-tuple / no socket
  uint64_t bytes_rx = 0, bytes_tx = 0;  // payload, both sides
  uint64_t accepted = 0;        // server side
  uint64_t held = 0;            // idle connections open (hold)
  uint64_t live_client = 0, live_server = 0;
  LatencyHistogram latency;
};

class LoadGen {
 public:
  LoadGen(tcp::TcpStack& stack, GenConfig cfg);
  ~LoadGen();
  LoadGen(const LoadGen&) = delete;
  LoadGen& operator=(const LoadGen&) = delete;

  // Listeners on the listen ports.
  absl::Status StartServer();
  // Phase 1: open `hold` idle connections (hold mode: `count`). Done when
  // hold_done().
  void StartHold();
  bool hold_done() const;
  // Phase 2: the measured load. Counters and latency restart here.
  void StartMeasure();
  // The measured phase ends: no new connections, no new requests; what is
  // in flight completes (quiet() says when).
  void StopMeasure() {
    measuring_ = false;
    stopping_ = true;
  }
  // Nothing in flight: cps connections done, rps responses all in.
  bool quiet() const { return inflight_ == 0 || (cfg_.mode == Mode::kRps && outstanding_ == 0) ||
                              cfg_.mode == Mode::kBulk; }
  // The reactor poller: opens connections as the rate and concurrency allow.
  unsigned Poll();
  // Closes every connection this side holds (client and server, FIN), paced
  // (100k a second) so a million closes do not overflow the rings in one
  // go; the listeners stay. closed_all() when done.
  void CloseAll();
  bool closed_all() const { return conns_ == nullptr; }

  const GenStats& stats() const { return stats_; }
  const GenConfig& config() const { return cfg_; }
  bool finished() const;  // cps with a count: every connection done

 private:
  struct Conn;
  enum class Role : uint8_t { kClient, kServer, kHoldClient, kHoldServer };
  static void OnListener(tcp::Tcb* sk, uint32_t events, void* ctx);
  static void OnConn(tcp::Tcb* sk, uint32_t events, void* ctx);
  void Accept(tcp::Tcb* listener);
  bool Open(Role role);
  void Drive(Conn* c, uint32_t events);
  void DriveClient(Conn* c);
  void DriveServer(Conn* c);
  bool Receive(Conn* c, bool* eof);  // false: the connection was ended
  bool Transmit(Conn* c);            // false: the connection was ended
  void Fail(Conn* c, int err);
  void End(Conn* c);

  void Link(Conn* c);
  void Unlink(Conn* c);

  tcp::TcpStack& stack_;
  GenConfig cfg_;
  Conn* conns_ = nullptr;  // every open connection (intrusive list)
  GenStats stats_;
  std::vector<tcp::Tcb*> listeners_;
  size_t next_port_ = 0;
  bool holding_ = false, measuring_ = false, stopping_ = false, closing_ = false;
  uint64_t outstanding_ = 0;   // rps: requests sent and not answered yet
  uint64_t hold_target_ = 0;
  uint64_t inflight_ = 0;      // measured-phase client connections open
  uint64_t started_ = 0;       // measured-phase connections opened
  double tokens_ = 0;
  double close_tokens_ = 0;
  uint64_t last_ns_ = 0;
};

}  // namespace dpx::gen
