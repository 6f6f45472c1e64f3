#include "proxy/maglev.h"

#include <algorithm>
#include <cstring>
#include <numeric>

namespace dpx::proxy {

uint64_t MaglevOffsetHash(std::string_view backend_name) {
  return tcp::SipHash24(kMaglevOffsetKey, backend_name.data(), backend_name.size());
}

uint64_t MaglevSkipHash(std::string_view backend_name) {
  return tcp::SipHash24(kMaglevSkipKey, backend_name.data(), backend_name.size());
}

uint64_t MaglevClientHash(uint32_t client_addr_be) {
  uint8_t bytes[4];  // network order on every host: the value is stored as on the wire
  std::memcpy(bytes, &client_addr_be, sizeof(bytes));
  return tcp::SipHash24(kMaglevClientKey, bytes, sizeof(bytes));
}

void MaglevTable::Build(absl::Span<const MaglevBackend> backends, uint32_t size) {
  std::vector<size_t> order(backends.size());
  std::iota(order.begin(), order.end(), size_t{0});
  // Turns in name order, so the table does not depend on the config's order.
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return backends[a].name < backends[b].name; });
  std::vector<Permutation> perms;
  perms.reserve(backends.size());
  for (size_t i : order) {
    Permutation p;
    p.offset = size == 0 ? 0 : static_cast<uint32_t>(MaglevOffsetHash(backends[i].name) % size);
    p.skip =
        size <= 1 ? 1 : static_cast<uint32_t>(MaglevSkipHash(backends[i].name) % (size - 1)) + 1;
    p.weight = backends[i].weight;
    p.index = static_cast<int16_t>(i);
    perms.push_back(p);
  }
  Populate(std::move(perms), size);
}

void MaglevTable::Populate(std::vector<Permutation> perms, uint32_t size) {
  entries_.assign(size, kEmpty);
  std::erase_if(perms, [](const Permutation& p) { return p.weight == 0; });
  if (perms.empty() || size == 0) return;
  uint64_t max_weight = 0;
  for (const Permutation& p : perms) max_weight = std::max<uint64_t>(max_weight, p.weight);

  struct Turn {
    uint64_t pos;    // next preferred slot: offset + j * skip (mod size)
    uint64_t quota;  // takes a turn in round r while r * weight >= quota
  };
  std::vector<Turn> turns(perms.size());
  for (size_t i = 0; i < perms.size(); ++i) turns[i] = {perms[i].offset % size, 0};

  uint32_t filled = 0;
  for (uint64_t round = 1; filled < size; ++round) {
    for (size_t i = 0; i < perms.size() && filled < size; ++i) {
      const Permutation& p = perms[i];
      Turn& t = turns[i];
      if (round * p.weight < t.quota) continue;
      t.quota += max_weight;
      // Walk the permutation to the first slot nobody has claimed. With a
      // prime size every skip visits every slot; for any other size a
      // permutation can cycle early, so fall back to the next free slot.
      // (pos, skip < size, so one conditional subtraction replaces mod.)
      const uint64_t skip = p.skip % size;
      auto advance = [size](uint64_t pos, uint64_t by) {
        pos += by;
        return pos >= size ? pos - size : pos;
      };
      uint32_t steps = 0;
      while (entries_[t.pos] != kEmpty && steps < size) {
        t.pos = advance(t.pos, skip);
        ++steps;
      }
      while (entries_[t.pos] != kEmpty) t.pos = advance(t.pos, 1);
      entries_[t.pos] = p.index;
      t.pos = advance(t.pos, skip);
      ++filled;
    }
  }
}

int MaglevTable::LookupAvoiding(uint64_t key_hash, int avoid) const {
  if (entries_.empty()) return -1;
  const size_t n = entries_.size();
  size_t slot = key_hash % n;
  for (size_t i = 0; i < n; ++i) {
    const int e = entries_[slot];
    if (e != avoid) return e;
    slot = slot + 1 == n ? 0 : slot + 1;
  }
  return avoid;
}

uint64_t MaglevTable::Fingerprint() const {
  std::vector<uint8_t> bytes(entries_.size() * 2);
  for (size_t i = 0; i < entries_.size(); ++i) {
    const uint16_t v = static_cast<uint16_t>(entries_[i]);
    bytes[2 * i] = static_cast<uint8_t>(v);
    bytes[2 * i + 1] = static_cast<uint8_t>(v >> 8);
  }
  return tcp::SipHash24(kMaglevOffsetKey, bytes.data(), bytes.size());
}

}  // namespace dpx::proxy
