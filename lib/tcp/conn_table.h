// Per-core connection tables (Linux inet_hashinfo): the established hash
// (ehash) keyed by 4-tuple, chained through SockCommon::hash_next (8 bytes
// per bucket, power-of-two bucket count fixed at init), and the listener
// table keyed by local port. TIME_WAIT mini-sockets (issue 4) start with a
// SockCommon whose kind is SockKind::kTimeWait and live in the same
// buckets; Lookup returns the SockCommon and the caller dispatches on kind.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "tcp/tcb.h"

namespace dpx::tcp {

class ConnTable {
 public:
  // `buckets` is rounded up to a power of two (>= 16).
  explicit ConnTable(size_t buckets, uint32_t hash_seed = 0x9e3779b9u);

  // All addresses and ports in network order; (saddr, sport) local.
  SockCommon* Lookup(uint32_t saddr, uint16_t sport, uint32_t daddr, uint16_t dport) const;
  void Insert(SockCommon* sk);  // no duplicate check: use Lookup first
  bool Remove(SockCommon* sk);

  // Listeners by local port (network order); addr 0 = INADDR_ANY. An exact
  // address match wins over a wildcard (Linux compute_score).
  Tcb* LookupListener(uint32_t daddr_local, uint16_t port) const;
  void InsertListener(Tcb* sk);
  bool RemoveListener(Tcb* sk);

  size_t size() const { return count_; }
  size_t buckets() const { return mask_ + 1; }
  size_t listeners() const { return listener_count_; }

  template <typename Fn>
  void ForEachListener(Fn&& fn) const {
    for (SockCommon* head : lhash_)
      for (SockCommon* s = head; s != nullptr;) {
        SockCommon* next = s->hash_next;
        fn(reinterpret_cast<Tcb*>(s));
        s = next;
      }
  }
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    for (SockCommon* head : ehash_)
      for (SockCommon* s = head; s != nullptr;) {
        SockCommon* next = s->hash_next;  // fn may remove s
        fn(s);
        s = next;
      }
  }

 private:
  size_t Bucket(uint32_t saddr, uint16_t sport, uint32_t daddr, uint16_t dport) const;

  std::vector<SockCommon*> ehash_;
  size_t mask_;
  uint32_t seed_;
  size_t count_ = 0;
  std::vector<SockCommon*> lhash_;  // 256 buckets by port
  size_t listener_count_ = 0;
};

}  // namespace dpx::tcp
