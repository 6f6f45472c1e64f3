// A TCP echo service on the dpx stack (RFC 862 style, any port): what the
// integration tier uses to move real bytes between Linux and dpx, and what
// an operator can point a client at to check a deployment end to end.
// One listener per core (flows reach a core by RSS, like SO_REUSEPORT);
// bytes are echoed without copying (the received mbufs are sent back), and
// reading stops while the send side is full, so a slow reader bounds memory.
// A FIN from the client becomes shutdown(SHUT_WR) after the last echoed
// byte; the socket is closed when both directions are done.
#pragma once

#include <cstdint>

#include "absl/status/status.h"
#include "tcp/tcb.h"

struct rte_mbuf;

namespace dpx::tcp {
class TcpStack;
}

namespace dpx::app {

struct EchoStats {
  uint64_t accepted = 0;
  uint64_t closed = 0;
  uint64_t bytes = 0;
  uint64_t errors = 0;  // sessions that ended with a socket error (reset, timeout)
};

class EchoService {
 public:
  EchoService(tcp::TcpStack& stack, uint16_t port) : stack_(stack), port_(port) {}
  ~EchoService();
  EchoService(const EchoService&) = delete;
  EchoService& operator=(const EchoService&) = delete;

  // Listens on 0.0.0.0:port.
  absl::Status Start();
  const EchoStats& stats() const { return stats_; }
  uint16_t port() const { return port_; }

 private:
  struct Conn;
  static void OnListener(tcp::Tcb* sk, uint32_t events, void* ctx);
  static void OnConn(tcp::Tcb* sk, uint32_t events, void* ctx);
  void AcceptAll();
  void Pump(Conn* c);
  void Finish(Conn* c);

  tcp::TcpStack& stack_;
  uint16_t port_;
  tcp::Tcb* listener_ = nullptr;
  EchoStats stats_;
  uint64_t live_ = 0;
};

}  // namespace dpx::app
