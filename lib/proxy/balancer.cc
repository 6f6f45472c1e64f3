#include "proxy/balancer.h"

namespace dpx::proxy {

Balancer::Balancer(const PoolConfig& pool) {
  backends_.reserve(pool.backends.size());
  for (const BackendConfig& b : pool.backends) {
    Backend x;
    x.name = b.name;
    x.weight = b.weight == 0 ? 1 : b.weight;
    backends_.push_back(std::move(x));
  }
  up_count_ = backends_.size();
}

void Balancer::SetUp(int idx, bool up) {
  Backend& b = backends_[static_cast<size_t>(idx)];
  if (b.up == up) return;
  b.up = up;
  if (up) {
    ++up_count_;
  } else {
    --up_count_;
  }
  OnUpChanged(idx);
}

int Balancer::EffectiveAvoid(int avoid) const {
  if (avoid < 0 || static_cast<size_t>(avoid) >= backends_.size()) return -1;
  if (!backends_[static_cast<size_t>(avoid)].up || up_count_ < 2) return -1;
  return avoid;
}

// nginx's ngx_http_upstream_get_peer(): every eligible backend's current
// weight grows by its weight, the largest wins (the first on a tie) and
// pays back the total. Over total-weight picks each backend gets exactly
// its weight, interleaved.
template <typename Eligible>
int Balancer::SmoothWrrStep(Eligible eligible) {
  int best = -1;
  int64_t total = 0;
  for (size_t i = 0; i < backends_.size(); ++i) {
    Backend& b = backends_[i];
    if (!b.up || !eligible(i)) continue;
    b.current += b.weight;
    total += b.weight;
    if (best < 0 || b.current > backends_[static_cast<size_t>(best)].current) {
      best = static_cast<int>(i);
    }
  }
  if (best >= 0) backends_[static_cast<size_t>(best)].current -= total;
  return best;
}

int RoundRobinBalancer::DoPick(uint32_t, uint16_t, int avoid) {
  const int skip = EffectiveAvoid(avoid);
  return SmoothWrrStep([skip](size_t i) { return static_cast<int>(i) != skip; });
}

void RoundRobinBalancer::OnUpChanged(int idx) {
  // A backend coming back starts level, as nginx resets a peer's current
  // weight: it neither owes nor is owed picks from before.
  backends_[static_cast<size_t>(idx)].current = 0;
}

int LeastConnBalancer::DoPick(uint32_t, uint16_t, int avoid) {
  const int skip = EffectiveAvoid(avoid);
  // Lowest active / weight, compared as active_a * w_b < active_b * w_a.
  int best = -1;
  for (size_t i = 0; i < backends_.size(); ++i) {
    const Backend& b = backends_[i];
    if (!b.up || static_cast<int>(i) == skip) continue;
    if (best < 0) {
      best = static_cast<int>(i);
      continue;
    }
    const Backend& m = backends_[static_cast<size_t>(best)];
    if (uint64_t{b.active} * m.weight < uint64_t{m.active} * b.weight) best = static_cast<int>(i);
  }
  if (best < 0) return -1;
  const Backend& m = backends_[static_cast<size_t>(best)];
  const uint64_t ma = m.active, mw = m.weight;
  // Share the tie by smooth weighted round robin among the tied backends,
  // as nginx's least_conn does.
  return SmoothWrrStep([&](size_t i) {
    const Backend& b = backends_[i];
    return static_cast<int>(i) != skip && uint64_t{b.active} * mw == ma * b.weight;
  });
}

void LeastConnBalancer::OnUpChanged(int idx) { backends_[static_cast<size_t>(idx)].current = 0; }

MaglevBalancer::MaglevBalancer(const PoolConfig& pool)
    : Balancer(pool), table_size_(pool.maglev_table_size) {
  Rebuild();
}

void MaglevBalancer::Rebuild() {
  std::vector<MaglevBackend> in;
  in.reserve(backends_.size());
  for (const Backend& b : backends_) in.push_back({b.name, b.up ? b.weight : 0u});
  table_.Build(in, table_size_);
  dirty_ = false;
  ++rebuilds_;
}

const MaglevTable& MaglevBalancer::table() {
  if (dirty_) Rebuild();
  return table_;
}

int MaglevBalancer::DoPick(uint32_t client_addr_be, uint16_t, int avoid) {
  if (dirty_) Rebuild();
  const uint64_t h = MaglevClientHash(client_addr_be);
  const int skip = EffectiveAvoid(avoid);
  return skip < 0 ? table_.Lookup(h) : table_.LookupAvoiding(h, skip);
}

std::unique_ptr<Balancer> MakeBalancer(BalanceMode mode, const PoolConfig& pool) {
  switch (mode) {
    case BalanceMode::kRoundRobin:
      return std::make_unique<RoundRobinBalancer>(pool);
    case BalanceMode::kLeastConn:
      return std::make_unique<LeastConnBalancer>(pool);
    case BalanceMode::kMaglev:
      return std::make_unique<MaglevBalancer>(pool);
  }
  return nullptr;
}

}  // namespace dpx::proxy
