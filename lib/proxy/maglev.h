// Maglev consistent hashing (Eisenbud et al., "Maglev: A Fast and Reliable
// Software Network Load Balancer", NSDI'16, section 3.4), with weights.
//
// A lookup table of M entries (M prime) maps a key hash to a backend. Each
// backend i has a permutation of 0..M-1 given by two hashes of its name,
//   offset_i = h1(name) mod M,  skip_i = h2(name) mod (M-1) + 1,
//   permutation_i[j] = (offset_i + j * skip_i) mod M,
// and the backends take turns claiming their next unclaimed preferred slot
// until the table is full. A weighted backend takes a turn in proportion to
// its weight (backend i takes a turn in round r while r * w_i >= its quota,
// which then grows by max w: Envoy's weighted Maglev), so its share of the
// table is its share of the total weight.
//
// Determinism: h1, h2 and the client hash are SipHash-2-4 with the fixed
// keys below (never random), over the backend's name bytes and the client
// address's four network-order bytes. Turns are taken in order of backend
// name (bytewise), not config order. So every appliance with the same set
// of (name, weight, up) and the same M builds the same table, on any
// machine, and the same client goes to the same backend through all of
// them. Changing any of the constants changes every table: the golden
// fingerprint test guards them.
//
// Disruption: when a backend leaves, its entries go to the others and few
// other entries move (the paper measures this; tests/unit/proxy checks it).
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "absl/types/span.h"
#include "tcp/siphash.h"

namespace dpx::proxy {

// "dpx-maglev-ofs/1", "dpx-maglev-skp/1", "dpx-maglev-cli/1" as little-endian
// 64-bit pairs.
inline constexpr tcp::SipKey kMaglevOffsetKey{0x6c67616d2d787064ULL, 0x312f73666f2d7665ULL};
inline constexpr tcp::SipKey kMaglevSkipKey{0x6c67616d2d787064ULL, 0x312f706b732d7665ULL};
inline constexpr tcp::SipKey kMaglevClientKey{0x6c67616d2d787064ULL, 0x312f696c632d7665ULL};

uint64_t MaglevOffsetHash(std::string_view backend_name);
uint64_t MaglevSkipHash(std::string_view backend_name);
// Hash of a client IPv4 address (network order, as the data path holds it).
uint64_t MaglevClientHash(uint32_t client_addr_be);

struct MaglevBackend {
  std::string_view name;  // unique among the backends of one table
  uint32_t weight = 1;    // 0 = takes no entries (down)
};

class MaglevTable {
 public:
  static constexpr int16_t kEmpty = -1;

  // One backend's permutation and turn weight, for Populate.
  struct Permutation {
    uint32_t offset = 0;  // < size
    uint32_t skip = 1;    // 1..size-1
    uint32_t weight = 1;  // 0 = no turns
    int16_t index = 0;    // what Lookup returns for its entries
  };

  // Builds the table over `backends`: Lookup returns indices into it.
  // `size` must be prime (ProxyConfig checks; a non-prime size still gives
  // a full table but a skewed one). At most 32767 backends.
  void Build(absl::Span<const MaglevBackend> backends, uint32_t size);

  // The paper's populate step over explicit permutations taken in the
  // given order (Build computes them from names). Exposed for tests.
  void Populate(std::vector<Permutation> perms, uint32_t size);

  uint32_t size() const { return static_cast<uint32_t>(entries_.size()); }
  // True when no backend has weight > 0 (every lookup returns -1).
  bool empty() const { return entries_.empty() || entries_[0] == kEmpty; }
  int entry(uint32_t slot) const { return entries_[slot]; }
  const std::vector<int16_t>& entries() const { return entries_; }

  // The backend for a key hash, or -1 when the table is empty.
  int Lookup(uint64_t key_hash) const {
    return entries_.empty() ? -1 : entries_[key_hash % entries_.size()];
  }
  // As Lookup, but when that entry is `avoid` walks on to the next slot that
  // is not (a deterministic second choice for a retry); returns `avoid`
  // only when it is the only backend in the table.
  int LookupAvoiding(uint64_t key_hash, int avoid) const;
  int LookupClient(uint32_t client_addr_be) const {
    return Lookup(MaglevClientHash(client_addr_be));
  }

  // SipHash-2-4 (kMaglevOffsetKey) of the entries as little-endian int16
  // (-1 for an empty slot): equal fingerprints
  // mean equal tables. For golden tests and for operators comparing
  // appliances.
  uint64_t Fingerprint() const;

 private:
  std::vector<int16_t> entries_;
};

}  // namespace dpx::proxy
