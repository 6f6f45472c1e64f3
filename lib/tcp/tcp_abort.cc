// ss -K: Linux tcp_abort (net/ipv4/tcp.c, 6.x) with the lookup of
// inet_diag_find_one_icsk (established table, then the listener).
#include "tcp/tcp_abort.h"

#include <cerrno>

#include <rte_byteorder.h>

#include "tcp/tcp_stack.h"
#include "tcp/time_wait.h"

namespace dpx::tcp {

namespace {

// tcp_need_reset.
constexpr bool NeedReset(TcpState s) {
  return TcpStateIn(s, TCPF_ESTABLISHED | TCPF_CLOSE_WAIT | TCPF_FIN_WAIT1 | TCPF_FIN_WAIT2 |
                           TCPF_SYN_RECV);
}

// inet_csk_reqsk_queue_drop for a SYN_RECV child still on its listener's
// SYN queue: unlinked and freed; no packet, no counter.
bool DropRequest(TcpStack& st, Tcb* tp) {
  ListenQueue* lq = tp->parent->lq;
  if (lq == nullptr) return false;
  for (Tcb** pp = &lq->syn_q; *pp; pp = &(*pp)->q_next) {
    if (*pp != tp) continue;
    *pp = tp->q_next;
    --lq->syn_qlen;
    tp->q_next = nullptr;
    tp->parent = nullptr;
    st.SetState(tp, TCP_CLOSE);  // SYN_RECV -> CLOSE: unhash, no counter
    st.ScheduleFree(tp);
    return true;
  }
  return false;
}

}  // namespace

int TcpAbort(TcpStack& st, uint32_t laddr_be, uint16_t lport, uint32_t raddr_be, uint16_t rport) {
  const uint16_t sport = rte_cpu_to_be_16(lport), dport = rte_cpu_to_be_16(rport);
  Tcb* tp = nullptr;
  if (SockCommon* s = st.table().Lookup(laddr_be, sport, raddr_be, dport)) {
    if (s->kind == SockKind::kTimeWait) {  // inet_twsk_deschedule_put
      TwKill(st, reinterpret_cast<TwSock*>(s));
      return 0;
    }
    tp = reinterpret_cast<Tcb*>(s);
  } else if (raddr_be == 0 && rport == 0) {
    // A listener, named by its own address and port (the exact one: the
    // socket cookie check of inet_diag_find_one_icsk).
    Tcb* l = st.table().LookupListener(laddr_be, sport);
    if (l != nullptr && l->c.saddr == laddr_be) tp = l;
  }
  if (tp == nullptr || tp->flag(SOCK_ON_FREEQ)) return -ENOENT;

  if (tp->state() == TCP_SYN_RECV && tp->parent != nullptr && !tp->flag(SOCK_IN_ACCEPTQ)) {
    // TCP_NEW_SYN_RECV in Linux: a request socket.
    if (!DropRequest(st, tp)) return -ENOENT;
    st.FlushEvents();
    return 0;
  }
  // "Avoid closing the same socket twice."
  if (tp->state() == TCP_CLOSE) return -ENOENT;
  if (tp->state() == TCP_LISTEN) {
    st.SetState(tp, TCP_CLOSE);
    st.ListenStop(tp);
  }
  if (NeedReset(tp->state())) st.SendActiveReset(tp);
  // tcp_done_with_error: sk_err, tcp_write_queue_purge, tcp_done, then
  // sk_error_report unless orphaned.
  tp->sk_err = ECONNABORTED;
  tp->write_queue.Purge();
  tp->rtx_queue.Purge();
  tp->packets_out = tp->retrans_out = 0;
  tp->wmem_queued = 0;
  st.MemReconcile(tp);
  const bool dead = tp->flag(SOCK_DEAD);
  st.Done(tp);
  if (!dead) st.PostEvent(tp, kEvErr);
  st.FlushEvents();
  return 0;
}

}  // namespace dpx::tcp
