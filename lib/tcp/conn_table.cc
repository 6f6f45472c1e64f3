#include "tcp/conn_table.h"

#include <bit>
#include <cassert>
#include <new>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define DPX_TW_POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define DPX_TW_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define DPX_TW_POISON(p, n) ((void)(p), (void)(n))
#define DPX_TW_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

namespace dpx::tcp {

// ---------------------------------------------------------------- TwSlab

TwSlab::~TwSlab() {
  for (char* c : chunks_) {
    DPX_TW_UNPOISON(c, kChunkBytes);
    ::operator delete(c, std::align_val_t(kChunkBytes));
  }
}

void* TwSlab::Allocate() {
  void* p;
  if (free_ != nullptr) {
    FreeSlot* s = free_;
    DPX_TW_UNPOISON(s, kSlotBytes);
    free_ = s->next;
    p = s;
  } else {
    if (bump_ == bump_end_) {
      if (chunks_.size() >= (size_t{1} << (31 - kChunkShift))) return nullptr;  // handle space
      auto* c = static_cast<char*>(
          ::operator new(kChunkBytes, std::align_val_t(kChunkBytes), std::nothrow));
      if (c == nullptr) return nullptr;
      *reinterpret_cast<uint32_t*>(c) = static_cast<uint32_t>(chunks_.size());  // slot 0: header
      chunks_.push_back(c);
      DPX_TW_POISON(c + kSlotBytes, kChunkBytes - kSlotBytes);
      bump_ = c + kSlotBytes;
      bump_end_ = c + kChunkBytes;
      capacity_ += kChunkSlots - 1;
    }
    p = bump_;
    bump_ += kSlotBytes;
    DPX_TW_UNPOISON(p, kSlotBytes);
  }
  ++in_use_;
  if (in_use_ > peak_) peak_ = in_use_;
  return p;
}

void TwSlab::Free(void* p) {
  assert(in_use_ > 0);
  auto* s = static_cast<FreeSlot*>(p);
  s->next = free_;
  free_ = s;
  --in_use_;
  DPX_TW_POISON(reinterpret_cast<char*>(p) + sizeof(FreeSlot), kSlotBytes - sizeof(FreeSlot));
}

uint32_t TwSlab::IndexOf(const void* p) const {
  const auto a = reinterpret_cast<uintptr_t>(p);
  const char* base = reinterpret_cast<const char*>(a & ~(uintptr_t{kChunkBytes} - 1));
  const uint32_t chunk = *reinterpret_cast<const uint32_t*>(base);
  return (chunk << kChunkShift) | static_cast<uint32_t>((a - reinterpret_cast<uintptr_t>(base)) / kSlotBytes);
}

// ---------------------------------------------------------------- ConnTable

namespace {
// Linux inet_ehashfn uses jhash_3words with a boot secret; a multiplicative
// mix of the same three words is enough for a per-core table.
inline uint32_t Mix(uint32_t a, uint32_t b, uint32_t c, uint32_t seed) {
  uint64_t h = (uint64_t{a} * 0x9E3779B97F4A7C15ull) ^ (uint64_t{b} * 0xC2B2AE3D27D4EB4Full) ^
               (uint64_t{c} * 0x165667B19E3779F9ull) ^ seed;
  h ^= h >> 29;
  h *= 0xBF58476D1CE4E5B9ull;
  h ^= h >> 32;
  return static_cast<uint32_t>(h);
}
inline size_t LBucket(uint16_t port) { return (port & 0xff) ^ (port >> 8); }
}  // namespace

ConnTable::ConnTable(size_t buckets, uint32_t hash_seed)
    : ehash_(std::bit_ceil(buckets < 16 ? size_t{16} : buckets), 0u),
      mask_(ehash_.size() - 1),
      seed_(hash_seed),
      lhash_(256, 0u) {}

size_t ConnTable::Bucket(uint32_t saddr, uint16_t sport, uint32_t daddr, uint16_t dport) const {
  return Mix(saddr, daddr, (uint32_t{sport} << 16) | dport, seed_) & mask_;
}

uint32_t ConnTable::HandleFor(SockCommon* sk) {
  if (sk->kind == SockKind::kTimeWait) return kTwHandle | tw_.IndexOf(sk);
  uint32_t idx;
  if (!full_free_.empty()) {
    idx = full_free_.back();
    full_free_.pop_back();
    full_[idx] = sk;
  } else {
    idx = static_cast<uint32_t>(full_.size());
    full_.push_back(sk);
  }
  return idx + 1;
}

SockCommon* ConnTable::Lookup(uint32_t saddr, uint16_t sport, uint32_t daddr,
                              uint16_t dport) const {
  for (uint32_t h = ehash_[Bucket(saddr, sport, daddr, dport)]; h != 0;) {
    SockCommon* s = Deref(h);
    if (s->saddr == saddr && s->daddr == daddr && s->sport == sport && s->dport == dport)
      return s;
    h = s->hash_next;
  }
  return nullptr;
}

void ConnTable::Insert(SockCommon* sk) {
  uint32_t& head = ehash_[Bucket(sk->saddr, sk->sport, sk->daddr, sk->dport)];
  sk->hash_next = head;
  head = HandleFor(sk);
  sk->hashed = 1;
  ++count_;
}

// Unlinks `sk` from the chain at `head`; a full socket's handle goes back
// to the registry.
bool ConnTable::Unlink(uint32_t* head, SockCommon* sk) {
  for (uint32_t* pp = head; *pp != 0;) {
    const uint32_t h = *pp;
    SockCommon* s = Deref(h);
    if (s == sk) {
      *pp = sk->hash_next;
      sk->hash_next = 0;
      sk->hashed = 0;
      if (!(h & kTwHandle)) {
        full_[h - 1] = nullptr;
        full_free_.push_back(h - 1);
      }
      return true;
    }
    pp = &s->hash_next;
  }
  return false;
}

bool ConnTable::Remove(SockCommon* sk) {
  if (sk->hashed != 1) return false;
  if (!Unlink(&ehash_[Bucket(sk->saddr, sk->sport, sk->daddr, sk->dport)], sk)) return false;
  --count_;
  return true;
}

Tcb* ConnTable::LookupListener(uint32_t daddr_local, uint16_t port) const {
  Tcb* wildcard = nullptr;
  for (uint32_t h = lhash_[LBucket(port)]; h != 0;) {
    SockCommon* s = Deref(h);
    h = s->hash_next;
    if (s->sport != port) continue;
    if (s->saddr == daddr_local) return reinterpret_cast<Tcb*>(s);
    if (s->saddr == 0 && !wildcard) wildcard = reinterpret_cast<Tcb*>(s);
  }
  return wildcard;
}

void ConnTable::InsertListener(Tcb* sk) {
  uint32_t& head = lhash_[LBucket(sk->c.sport)];
  sk->c.hash_next = head;
  head = HandleFor(&sk->c);
  sk->c.hashed = 2;
  ++listener_count_;
}

bool ConnTable::RemoveListener(Tcb* sk) {
  if (sk->c.hashed != 2) return false;
  if (!Unlink(&lhash_[LBucket(sk->c.sport)], &sk->c)) return false;
  --listener_count_;
  return true;
}

}  // namespace dpx::tcp
