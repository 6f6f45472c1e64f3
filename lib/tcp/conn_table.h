// Per-core connection tables (Linux inet_hashinfo): the established hash
// (ehash) keyed by 4-tuple and the listener table keyed by local port.
//
// Chains are linked through SockCommon::hash_next, a 32-bit *handle* rather
// than a pointer, and a bucket is a 4-byte handle. Handles:
//   0                      end of chain
//   1 .. 0x7fffffff        a full socket (Tcb): index + 1 into a registry of
//                          pointers kept here (8 bytes per hashed Tcb)
//   0x80000000 | index     a TIME_WAIT mini-socket: its slot in TwSlab
// TIME_WAIT mini-sockets (time_wait.h) live in the same buckets as full
// sockets; Lookup returns the SockCommon and the caller dispatches on kind.
// The 4-byte link is what lets a mini-socket (with its 24-byte timer) fit in
// 64 bytes, and halves the bucket array.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "tcp/tcb.h"

namespace dpx::tcp {

// Index-addressable pool of 64-byte slots for TIME_WAIT mini-sockets (per
// core, no locks). Memory comes in 1 MiB chunks aligned to 1 MiB, carved
// lazily (untouched pages stay untouched); slot 0 of each chunk is the chunk
// header (its number), so a pointer maps back to its index without a search.
class TwSlab {
 public:
  static constexpr size_t kSlotBytes = 64;
  static constexpr unsigned kChunkShift = 14;  // slots per chunk: 16384
  static constexpr size_t kChunkSlots = size_t{1} << kChunkShift;
  static constexpr size_t kChunkBytes = kChunkSlots * kSlotBytes;  // 1 MiB

  TwSlab() = default;
  ~TwSlab();
  TwSlab(const TwSlab&) = delete;
  TwSlab& operator=(const TwSlab&) = delete;

  void* Allocate();  // nullptr when the system allocator fails
  void Free(void* p);
  uint32_t IndexOf(const void* p) const;
  void* At(uint32_t idx) const {
    return chunks_[idx >> kChunkShift] + (idx & (kChunkSlots - 1)) * kSlotBytes;
  }

  size_t in_use() const { return in_use_; }
  size_t capacity() const { return capacity_; }
  size_t bytes_reserved() const { return chunks_.size() * kChunkBytes; }
  size_t peak_in_use() const { return peak_; }

 private:
  struct FreeSlot {
    FreeSlot* next;
  };
  std::vector<char*> chunks_;
  FreeSlot* free_ = nullptr;
  char* bump_ = nullptr;
  char* bump_end_ = nullptr;
  size_t in_use_ = 0;
  size_t capacity_ = 0;
  size_t peak_ = 0;
};

class ConnTable {
 public:
  static constexpr uint32_t kTwHandle = 0x80000000u;

  // `buckets` is rounded up to a power of two (>= 16).
  explicit ConnTable(size_t buckets, uint32_t hash_seed = 0x9e3779b9u);

  // All addresses and ports in network order; (saddr, sport) local.
  SockCommon* Lookup(uint32_t saddr, uint16_t sport, uint32_t daddr, uint16_t dport) const;
  void Insert(SockCommon* sk);  // no duplicate check: use Lookup first
  bool Remove(SockCommon* sk);  // either kind

  // Listeners by local port (network order); addr 0 = INADDR_ANY. An exact
  // address match wins over a wildcard (Linux compute_score).
  Tcb* LookupListener(uint32_t daddr_local, uint16_t port) const;
  void InsertListener(Tcb* sk);
  bool RemoveListener(Tcb* sk);

  // The mini-socket slots (time_wait.cc allocates there, then Insert()s).
  TwSlab& tw_slab() { return tw_; }
  const TwSlab& tw_slab() const { return tw_; }

  size_t size() const { return count_; }
  size_t buckets() const { return mask_ + 1; }
  size_t listeners() const { return listener_count_; }
  // Bytes of the bucket arrays and the full-socket handle registry.
  size_t index_bytes() const {
    return (ehash_.capacity() + lhash_.capacity() + full_free_.capacity()) * sizeof(uint32_t) +
           full_.capacity() * sizeof(SockCommon*);
  }

  template <typename Fn>
  void ForEachListener(Fn&& fn) const {
    for (uint32_t head : lhash_)
      for (uint32_t h = head; h != 0;) {
        SockCommon* s = Deref(h);
        h = s->hash_next;
        fn(reinterpret_cast<Tcb*>(s));
      }
  }
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    for (uint32_t head : ehash_)
      for (uint32_t h = head; h != 0;) {
        SockCommon* s = Deref(h);
        h = s->hash_next;  // fn may remove s
        fn(s);
      }
  }
  // One bucket at a time, for walks that resume by bucket index across
  // reactor iterations (conn_dump.cc, like inet_diag's cb->args).
  size_t listener_buckets() const { return lhash_.size(); }
  template <typename Fn>
  void ForEachInBucket(size_t b, Fn&& fn) const {
    for (uint32_t h = ehash_[b]; h != 0;) {
      SockCommon* s = Deref(h);
      h = s->hash_next;
      fn(s);
    }
  }
  template <typename Fn>
  void ForEachListenerInBucket(size_t b, Fn&& fn) const {
    for (uint32_t h = lhash_[b]; h != 0;) {
      SockCommon* s = Deref(h);
      h = s->hash_next;
      fn(reinterpret_cast<Tcb*>(s));
    }
  }

 private:
  size_t Bucket(uint32_t saddr, uint16_t sport, uint32_t daddr, uint16_t dport) const;
  SockCommon* Deref(uint32_t h) const {
    return (h & kTwHandle) ? static_cast<SockCommon*>(tw_.At(h & ~kTwHandle)) : full_[h - 1];
  }
  uint32_t HandleFor(SockCommon* sk);  // registers a full socket
  bool Unlink(uint32_t* head, SockCommon* sk);

  std::vector<uint32_t> ehash_;
  size_t mask_;
  uint32_t seed_;
  size_t count_ = 0;
  std::vector<uint32_t> lhash_;  // 256 buckets by port
  size_t listener_count_ = 0;
  std::vector<SockCommon*> full_;    // handle - 1 -> full socket
  std::vector<uint32_t> full_free_;  // free registry indexes
  TwSlab tw_;
};

}  // namespace dpx::tcp
