// `ss -K` / SOCK_DESTROY for one core: Linux tcp_abort (net/ipv4/tcp.c),
// reached by 4-tuple as inet_diag_find_one_icsk does.
#pragma once

#include <cstdint>

namespace dpx::tcp {

class TcpStack;

// Aborts the socket with this 4-tuple on `st` (run on st's core). Addresses
// network order, ports host order; a listener is named by its own address
// and port with raddr_be == 0 and rport == 0 (as ss -K passes it).
//   * a full socket: sk_err = ECONNABORTED (the owner's callback gets
//     kEvErr|kEvHup..., SO_ERROR / TcpSockError reads ECONNABORTED), an RST
//     (R.) if tcp_need_reset(state) (ESTABLISHED, CLOSE_WAIT, FIN_WAIT1,
//     FIN_WAIT2, SYN_RECV), write and retransmit queues purged, tcp_done
//     (an orphan is freed). Counters: TcpOutRsts for the RST, TcpEstabResets
//     from ESTABLISHED/CLOSE_WAIT, TcpAttemptFails from SYN_SENT/SYN_RECV.
//   * a listener: tcp_set_state(CLOSE) + inet_csk_listen_stop (accept-queue
//     children get their RST, SYN_RECV requests are dropped), then as above
//     (no RST of its own); the owner sees ECONNABORTED.
//   * a SYN_RECV child not yet accepted (Linux's request socket):
//     inet_csk_reqsk_queue_drop: unlinked and freed, nothing sent, no counter.
//   * a TIME_WAIT mini-socket (either substate): inet_twsk_deschedule_put:
//     removed, nothing sent, no counter.
// Returns 0, or -ENOENT when nothing on this core has the 4-tuple (or the
// socket is already closed).
int TcpAbort(TcpStack& st, uint32_t laddr_be, uint16_t lport, uint32_t raddr_be, uint16_t rport);

}  // namespace dpx::tcp
