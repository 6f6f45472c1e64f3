// Per-core counters with Linux's names (see mib.def). Each core increments
// its own array with plain adds; readers sum across cores. No atomics on
// the data path: a reader may see a value one increment stale, never torn
// (aligned 64-bit stores are atomic on x86-64 and arm64).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace dpx {

enum class Mib : uint16_t {
#define DPX_MIB(group, name) group##_##name,
#include "core/mib.def"
#undef DPX_MIB
  kCount
};

inline constexpr size_t kMibCount = static_cast<size_t>(Mib::kCount);

struct MibInfo {
  const char* group;  // "TcpExt"
  const char* name;   // "TCPAbortOnClose"
};

const MibInfo& MibInfoOf(Mib m);
// "TcpExtTCPAbortOnClose", as nstat prints it.
std::string MibNstatName(Mib m);
// Finds a counter by its nstat name or "Group.Name"; false if unknown.
bool MibByName(std::string_view name, Mib* out);

class alignas(64) Counters {
 public:
  void Inc(Mib m, int64_t by = 1) { v_[static_cast<size_t>(m)] += by; }
  void Dec(Mib m, int64_t by = 1) { v_[static_cast<size_t>(m)] -= by; }
  int64_t Get(Mib m) const { return v_[static_cast<size_t>(m)]; }
  void Reset() {
    for (auto& x : v_) x = 0;
  }

 private:
  int64_t v_[kMibCount] = {};
};

// Owns one Counters block per core and sums them on read.
class CounterSet {
 public:
  explicit CounterSet(unsigned cores);
  unsigned cores() const { return static_cast<unsigned>(per_core_.size()); }
  Counters& core(unsigned i) { return *per_core_[i]; }
  const Counters& core(unsigned i) const { return *per_core_[i]; }
  int64_t Sum(Mib m) const;
  // Every counter, summed, in mib.def order.
  std::vector<int64_t> Snapshot() const;

 private:
  std::vector<std::unique_ptr<Counters>> per_core_;
};

// The non-zero counters of a set, summed over cores, by nstat name:
// "A=1 B=2" (aligned=false, joined by `sep`) or "  A    1" lines (aligned).
std::string NonZeroCounters(const CounterSet& set, const char* sep, bool aligned);

}  // namespace dpx
