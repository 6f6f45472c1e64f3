#include "echo_service.h"

#include <cerrno>

#include <rte_mbuf.h>

#include "absl/strings/str_format.h"
#include "core/log.h"
#include "tcp/socket_api.h"
#include "tcp/tcp_stack.h"

namespace dpx::app {

using tcp::Tcb;

struct EchoService::Conn {
  EchoService* svc = nullptr;
  Tcb* sk = nullptr;
  rte_mbuf* pending = nullptr;  // received, not yet accepted by the send side
  bool eof = false;             // the client's FIN has been read
  bool shut_wr = false;
};

EchoService::~EchoService() {
  // Sockets die with their stack; the listener is closed so a stack that
  // outlives the service stops accepting.
  if (listener_ != nullptr) tcp::TcpClose(listener_);
}

absl::Status EchoService::Start() {
  listener_ = tcp::TcpSocket(stack_, &EchoService::OnListener, this);
  if (listener_ == nullptr) return absl::ResourceExhaustedError("echo: no socket");
  if (int rc = tcp::TcpBind(listener_, 0, port_); rc < 0)
    return absl::InternalError(absl::StrFormat("echo: bind port %d: errno %d", port_, -rc));
  if (int rc = tcp::TcpListen(listener_, 4096); rc < 0)
    return absl::InternalError(absl::StrFormat("echo: listen: errno %d", -rc));
  return absl::OkStatus();
}

void EchoService::OnListener(Tcb* /*sk*/, uint32_t events, void* ctx) {
  if (events & tcp::kEvIn) static_cast<EchoService*>(ctx)->AcceptAll();
}

void EchoService::AcceptAll() {
  Tcb* child = nullptr;
  while (tcp::TcpAccept(listener_, &child) == 0) {
    auto* c = new Conn;
    c->svc = this;
    c->sk = child;
    ++stats_.accepted;
    ++live_;
    tcp::TcpSetCallback(child, &EchoService::OnConn, c);
    Pump(c);  // data may have arrived with the handshake
  }
}

void EchoService::OnConn(Tcb* /*sk*/, uint32_t events, void* ctx) {
  auto* c = static_cast<Conn*>(ctx);
  if (events & (tcp::kEvErr)) {
    ++c->svc->stats_.errors;
    c->svc->Finish(c);
    return;
  }
  c->svc->Pump(c);
}

void EchoService::Pump(Conn* c) {
  while (true) {
    if (c->pending == nullptr && !c->eof) {
      int err = 0;
      c->pending = tcp::TcpRecvMbuf(c->sk, &err);
      if (c->pending == nullptr) {
        if (err == 0) {
          c->eof = true;
        } else if (err != -EAGAIN) {
          ++stats_.errors;
          Finish(c);
          return;
        } else {
          break;  // nothing to read now
        }
      }
    }
    if (c->pending != nullptr) {
      const uint32_t len = rte_pktmbuf_pkt_len(c->pending);
      const ptrdiff_t sent = tcp::TcpSendMbuf(c->sk, c->pending);
      if (sent == -EAGAIN) break;  // send side full: stop reading (backpressure)
      if (sent < 0) {
        ++stats_.errors;
        Finish(c);
        return;
      }
      c->pending = nullptr;
      stats_.bytes += len;
      continue;
    }
    // EOF read and everything echoed: half-close our side once.
    if (c->eof && !c->shut_wr) {
      tcp::TcpShutdown(c->sk, tcp::kShutWr);
      c->shut_wr = true;
    }
    break;
  }
  if (c->eof && c->shut_wr) Finish(c);
}

void EchoService::Finish(Conn* c) {
  if (c->pending != nullptr) rte_pktmbuf_free(c->pending);
  tcp::TcpSetCallback(c->sk, nullptr, nullptr);  // no event may reach a freed Conn
  tcp::TcpClose(c->sk);  // FIN already queued; a reset socket just goes
  ++stats_.closed;
  --live_;
  delete c;
}

}  // namespace dpx::app
