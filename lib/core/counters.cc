#include "core/counters.h"

#include <string_view>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace dpx {

namespace {
constexpr MibInfo kInfo[] = {
#define DPX_MIB(group, name) {#group, #name},
#include "core/mib.def"
#undef DPX_MIB
};
static_assert(sizeof(kInfo) / sizeof(kInfo[0]) == kMibCount);
}  // namespace

const MibInfo& MibInfoOf(Mib m) { return kInfo[static_cast<size_t>(m)]; }

std::string MibNstatName(Mib m) {
  const MibInfo& i = MibInfoOf(m);
  return absl::StrCat(i.group, i.name);
}

bool MibByName(std::string_view name, Mib* out) {
  for (size_t i = 0; i < kMibCount; ++i) {
    const MibInfo& info = kInfo[i];
    if (name == absl::StrCat(info.group, info.name) ||
        name == absl::StrCat(info.group, ".", info.name)) {
      *out = static_cast<Mib>(i);
      return true;
    }
  }
  return false;
}

CounterSet::CounterSet(unsigned cores) {
  per_core_.reserve(cores);
  for (unsigned i = 0; i < cores; ++i) per_core_.push_back(std::make_unique<Counters>());
}

int64_t CounterSet::Sum(Mib m) const {
  int64_t s = 0;
  for (const auto& c : per_core_) s += c->Get(m);
  return s;
}

std::vector<int64_t> CounterSet::Snapshot() const {
  std::vector<int64_t> out(kMibCount, 0);
  for (const auto& c : per_core_)
    for (size_t i = 0; i < kMibCount; ++i) out[i] += c->Get(static_cast<Mib>(i));
  return out;
}

std::string NonZeroCounters(const CounterSet& set, const char* sep, bool aligned) {
  std::vector<std::string> parts;
  const std::vector<int64_t> snap = set.Snapshot();
  for (size_t i = 0; i < snap.size(); ++i) {
    if (snap[i] == 0) continue;
    const std::string name = MibNstatName(static_cast<Mib>(i));
    parts.push_back(aligned ? absl::StrFormat("  %-32s %d", name, snap[i])
                            : absl::StrFormat("%s=%d", name, snap[i]));
  }
  return absl::StrJoin(parts, sep);
}

}  // namespace dpx
