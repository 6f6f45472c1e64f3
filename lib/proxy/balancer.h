// Choosing a backend of a pool for a new session.
//
// One Balancer per (core, frontend): the engine on each core owns its own
// instances and nothing is shared or locked. A balancer sees the pool's
// backends by index (PoolConfig::backends order), their weights and their
// up/down state; down backends get no new picks and when none is up Pick
// returns -1. Sessions already on a backend that goes down are not touched
// (the engine decides what to do with them; by default they carry on).
//
//   roundrobin  smooth weighted round robin, as nginx: over any window the
//               picks follow the weights and are spread out (5,1,1 gives
//               a a b a c a a, not a a a a a b c).
//   leastconn   the up backend with the fewest active sessions per unit of
//               weight (active / weight); ties are shared by smooth
//               weighted round robin among the tied backends, so idle
//               pools still follow the weights. Counts come from
//               OnSessionStart / OnSessionEnd.
//   maglev      Maglev consistent hash of the client address (the port is
//               ignored): the same client goes to the same backend, on
//               every core and every appliance with the same pool, and a
//               backend going down moves only its own clients (maglev.h).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "proxy/config.h"
#include "proxy/maglev.h"

namespace dpx::proxy {

class Balancer {
 public:
  explicit Balancer(const PoolConfig& pool);
  virtual ~Balancer() = default;
  Balancer(const Balancer&) = delete;
  Balancer& operator=(const Balancer&) = delete;

  virtual BalanceMode mode() const = 0;

  // A backend index for a new session from client_addr_be (network order)
  // : client_port (host order), or -1 when no backend is up. `avoid` is for
  // a retry after a failed connect: when another backend is up, the pick
  // is not `avoid` (maglev: the next table slot's backend, so retries are
  // deterministic too); when `avoid` is the only one up, it is returned.
  int Pick(uint32_t client_addr_be, uint16_t client_port, int avoid = -1) {
    if (up_count_ == 0) return -1;
    return DoPick(client_addr_be, client_port, avoid);
  }

  // Up/down from health checks (or an operator). Backends start up.
  void SetUp(int idx, bool up);
  bool IsUp(int idx) const { return backends_[static_cast<size_t>(idx)].up; }

  // Session accounting, for every mode (leastconn picks by it; the others
  // keep it for stats). Call OnSessionStart when a session is given the
  // backend (before the connect completes) and OnSessionEnd exactly once
  // when it leaves it (connect failed, or the session ended).
  void OnSessionStart(int idx) { ++backends_[static_cast<size_t>(idx)].active; }
  void OnSessionEnd(int idx) {
    uint32_t& a = backends_[static_cast<size_t>(idx)].active;
    if (a > 0) --a;
  }
  uint32_t active(int idx) const { return backends_[static_cast<size_t>(idx)].active; }

  size_t size() const { return backends_.size(); }
  size_t up_count() const { return up_count_; }
  uint32_t weight(int idx) const { return backends_[static_cast<size_t>(idx)].weight; }
  const std::string& name(int idx) const { return backends_[static_cast<size_t>(idx)].name; }

 protected:
  struct Backend {
    std::string name;
    uint32_t weight = 1;
    bool up = true;
    uint32_t active = 0;
    int64_t current = 0;  // smooth weighted round robin state
  };

  virtual int DoPick(uint32_t client_addr_be, uint16_t client_port, int avoid) = 0;
  virtual void OnUpChanged(int /*idx*/) {}

  // One step of smooth weighted round robin over the up backends for which
  // `eligible(i)` holds; -1 if none.
  template <typename Eligible>
  int SmoothWrrStep(Eligible eligible);
  // `avoid` if it is a real, up backend and another is up; else -1.
  int EffectiveAvoid(int avoid) const;

  std::vector<Backend> backends_;
  size_t up_count_ = 0;
};

class RoundRobinBalancer final : public Balancer {
 public:
  explicit RoundRobinBalancer(const PoolConfig& pool) : Balancer(pool) {}
  BalanceMode mode() const override { return BalanceMode::kRoundRobin; }

 private:
  int DoPick(uint32_t client_addr_be, uint16_t client_port, int avoid) override;
  void OnUpChanged(int idx) override;
};

class LeastConnBalancer final : public Balancer {
 public:
  explicit LeastConnBalancer(const PoolConfig& pool) : Balancer(pool) {}
  BalanceMode mode() const override { return BalanceMode::kLeastConn; }

 private:
  int DoPick(uint32_t client_addr_be, uint16_t client_port, int avoid) override;
  void OnUpChanged(int idx) override;
};

class MaglevBalancer final : public Balancer {
 public:
  explicit MaglevBalancer(const PoolConfig& pool);
  BalanceMode mode() const override { return BalanceMode::kMaglev; }

  // The table as it is now (rebuilt first if up/down changed since).
  const MaglevTable& table();
  // Table builds so far (one at construction, then one per Pick after any
  // up/down change: a burst of health changes costs one rebuild).
  uint64_t rebuilds() const { return rebuilds_; }

 private:
  int DoPick(uint32_t client_addr_be, uint16_t client_port, int avoid) override;
  void OnUpChanged(int /*idx*/) override { dirty_ = true; }
  void Rebuild();

  uint32_t table_size_;
  MaglevTable table_;
  bool dirty_ = true;
  uint64_t rebuilds_ = 0;
};

std::unique_ptr<Balancer> MakeBalancer(BalanceMode mode, const PoolConfig& pool);

}  // namespace dpx::proxy
