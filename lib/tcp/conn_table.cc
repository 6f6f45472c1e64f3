#include "tcp/conn_table.h"

#include <bit>

namespace dpx::tcp {

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
}  // namespace

ConnTable::ConnTable(size_t buckets, uint32_t hash_seed)
    : ehash_(std::bit_ceil(buckets < 16 ? size_t{16} : buckets), nullptr),
      mask_(ehash_.size() - 1),
      seed_(hash_seed),
      lhash_(256, nullptr) {}

size_t ConnTable::Bucket(uint32_t saddr, uint16_t sport, uint32_t daddr, uint16_t dport) const {
  return Mix(saddr, daddr, (uint32_t{sport} << 16) | dport, seed_) & mask_;
}

SockCommon* ConnTable::Lookup(uint32_t saddr, uint16_t sport, uint32_t daddr,
                              uint16_t dport) const {
  for (SockCommon* s = ehash_[Bucket(saddr, sport, daddr, dport)]; s; s = s->hash_next)
    if (s->saddr == saddr && s->daddr == daddr && s->sport == sport && s->dport == dport)
      return s;
  return nullptr;
}

void ConnTable::Insert(SockCommon* sk) {
  SockCommon*& head = ehash_[Bucket(sk->saddr, sk->sport, sk->daddr, sk->dport)];
  sk->hash_next = head;
  head = sk;
  sk->hashed = 1;
  ++count_;
}

bool ConnTable::Remove(SockCommon* sk) {
  if (sk->hashed != 1) return false;
  for (SockCommon** pp = &ehash_[Bucket(sk->saddr, sk->sport, sk->daddr, sk->dport)]; *pp;
       pp = &(*pp)->hash_next) {
    if (*pp == sk) {
      *pp = sk->hash_next;
      sk->hash_next = nullptr;
      sk->hashed = 0;
      --count_;
      return true;
    }
  }
  return false;
}

Tcb* ConnTable::LookupListener(uint32_t daddr_local, uint16_t port) const {
  Tcb* wildcard = nullptr;
  for (SockCommon* s = lhash_[(port & 0xff) ^ (port >> 8)]; s; s = s->hash_next) {
    if (s->sport != port) continue;
    if (s->saddr == daddr_local) return reinterpret_cast<Tcb*>(s);
    if (s->saddr == 0 && !wildcard) wildcard = reinterpret_cast<Tcb*>(s);
  }
  return wildcard;
}

void ConnTable::InsertListener(Tcb* sk) {
  SockCommon*& head = lhash_[(sk->c.sport & 0xff) ^ (sk->c.sport >> 8)];
  sk->c.hash_next = head;
  head = &sk->c;
  sk->c.hashed = 2;
  ++listener_count_;
}

bool ConnTable::RemoveListener(Tcb* sk) {
  if (sk->c.hashed != 2) return false;
  for (SockCommon** pp = &lhash_[(sk->c.sport & 0xff) ^ (sk->c.sport >> 8)]; *pp;
       pp = &(*pp)->hash_next) {
    if (*pp == &sk->c) {
      *pp = sk->c.hash_next;
      sk->c.hash_next = nullptr;
      sk->c.hashed = 0;
      --listener_count_;
      return true;
    }
  }
  return false;
}

}  // namespace dpx::tcp
