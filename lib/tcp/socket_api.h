// The non-blocking TCP socket API for code running on the socket's core
// (Linux tcp.c / af_inet.c semantics). A socket is a Tcb*; every call
// returns >= 0 or a negative errno as Linux gives it. Readiness is pushed
// through the callback as edge-triggered kEv* bits (EPOLLIN/OUT/ERR/HUP/
// RDHUP values). lib/socket (files, fd tables, processes) builds on this.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tcp/tcb.h"

struct rte_mbuf;

namespace dpx::tcp {

class TcpStack;

// SOL_SOCKET / IPPROTO_TCP option names (Linux values).
inline constexpr int kSolSocket = 1;
inline constexpr int kIpprotoTcp = 6;
inline constexpr int kSoSndbuf = 7, kSoRcvbuf = 8, kSoKeepalive = 9, kSoLinger = 13, kSoError = 4;
inline constexpr int kTcpNodelay = 1, kTcpMaxseg = 2, kTcpKeepidle = 4, kTcpKeepintvl = 5,
                     kTcpKeepcnt = 6, kTcpSyncnt = 7, kTcpLinger2 = 8, kTcpCork = 3;
// send() flags (Linux values).
inline constexpr int kMsgDontwait = 0x40, kMsgMore = 0x8000;
inline constexpr int kShutRd = 0, kShutWr = 1, kShutRdWr = 2;

struct Linger {
  int l_onoff;
  int l_linger;
};

Tcb* TcpSocket(TcpStack& st, TcpCallback cb = nullptr, void* user_ctx = nullptr);
void TcpSetCallback(Tcb* sk, TcpCallback cb, void* user_ctx);
int TcpBind(Tcb* sk, uint32_t addr_be, uint16_t port);  // port host order
int TcpListen(Tcb* sk, int backlog);
// Returns the child in *out (0) or -EAGAIN / -EINVAL.
int TcpAccept(Tcb* sk, Tcb** out);
int TcpConnect(Tcb* sk, uint32_t daddr_be, uint16_t dport);  // -EINPROGRESS on success
ptrdiff_t TcpSend(Tcb* sk, const void* buf, size_t len);      // copies in
// send(2) with flags: kMsgMore holds the data like TCP_CORK for this call
// (tcp_push with MSG_MORE: no PSH, TCP_NAGLE_CORK); kMsgDontwait is a no-op
// (always non-blocking); other bits -EOPNOTSUPP.
ptrdiff_t TcpSendFlags(Tcb* sk, const void* buf, size_t len, int flags);
// Zero-copy: takes ownership of `m` (a chain of payload) on success (returns
// its length); on error the caller keeps it.
ptrdiff_t TcpSendMbuf(Tcb* sk, rte_mbuf* m);
ptrdiff_t TcpRecv(Tcb* sk, void* buf, size_t len);  // 0 at EOF, -EAGAIN
// Zero-copy: hands out the next in-order segment (payload only) or nullptr
// with *err set (0 at EOF, -EAGAIN, -ENOTCONN, ...).
rte_mbuf* TcpRecvMbuf(Tcb* sk, int* err);
int TcpShutdown(Tcb* sk, int how);
// close(): Linux inet_release + __tcp_close (lib/tcp/close.cc). Always 0;
// the handle must not be used by the caller afterwards (the socket lives
// on as an orphan until the close sequence ends).
// SO_LINGER {1, N>0}: close() returns at once, but the close completes
// asynchronously, as Linux's blocking sk_stream_wait_close would: the
// socket keeps its callback until the state leaves FIN_WAIT1/CLOSING/
// LAST_ACK (or closes) or N seconds pass, then the callback gets kEvCloseDone
// exactly once and is detached. Expiry does not abort the connection.
// Without linger, with {1,0}, or when nothing is left to wait for, no
// kEvCloseDone is delivered.
int TcpClose(Tcb* sk);
// close() by a process that is exiting (inet_release with PF_EXITING): the
// linger time is ignored (no wait, no kEvCloseDone); {1,0} still aborts.
int TcpCloseExiting(Tcb* sk);
int TcpSetsockopt(Tcb* sk, int level, int name, const void* val, size_t len);
int TcpGetsockopt(Tcb* sk, int level, int name, void* val, size_t* len);
// Convenience
int TcpSockError(Tcb* sk);  // SO_ERROR: returns and clears (positive errno)
size_t TcpReadable(const Tcb* sk);
bool TcpWritable(const Tcb* sk);

}  // namespace dpx::tcp
