// Health of one backend from its check results: the rise/fall state
// machine. Pure logic: the engine runs the TCP connect checks (a check is
// ok when the connect completes within timeout_ms), feeds each result to
// Report(), tells the balancers when a backend goes up or down, and logs
// the transitions Report() returns.
//
// The model is HAProxy's single health counter h in [0, rise + fall - 1]:
// the backend is up while h >= rise. A success while up, or one that brings
// h up to rise, sets h to rise + fall - 1 ("fully up"); a failure while
// h > rise decrements it and the backend stays up; a failure at h <= rise
// sets h to 0: down, or still down with the rise count restarted. So an up
// backend goes down after `fall` consecutive failures, a down one comes up
// after `rise` consecutive successes.
//
// Initial state: kUp by default, as HAProxy's default `init-state up`: a
// new backend takes sessions at once (h = rise) and its first check
// decides: one failure marks it down, one success makes it fully up (from
// then on `fall` consecutive failures are needed). So a dead backend in a
// fresh config is out after one check interval, and a live one is never
// held back waiting for `rise` checks. The other initial states are there
// for reloads and for operators who want proof first.
#pragma once

#include <cstdint>
#include <string>

namespace dpx::proxy {

enum class HealthTransition : uint8_t { kNone, kWentUp, kWentDown };
const char* HealthTransitionName(HealthTransition t);  // "none", "up", "down"

class HealthState {
 public:
  enum class Initial : uint8_t {
    kFullyUp,    // up; needs `fall` failures to go down
    kUp,         // up; the first failure takes it down (the default)
    kDown,       // down; the first success brings it up
    kFullyDown,  // down; needs `rise` successes to come up
  };

  // rise, fall >= 1 (0 is taken as 1).
  explicit HealthState(uint32_t rise, uint32_t fall, Initial initial = Initial::kUp);

  // Feeds one check result; returns the transition it caused, if any.
  HealthTransition Report(bool ok);

  // New rise/fall (a reload): keeps up/down; an up backend becomes fully
  // up, a down one fully down.
  void Reconfigure(uint32_t rise, uint32_t fall);

  bool up() const { return health_ >= rise_; }
  uint32_t rise() const { return rise_; }
  uint32_t fall() const { return fall_; }
  // HAProxy's counter, 0 .. rise + fall - 1.
  uint32_t health() const { return health_; }

  // Totals since construction.
  uint64_t checks_ok() const { return checks_ok_; }
  uint64_t checks_failed() const { return checks_failed_; }
  uint64_t transitions() const { return transitions_; }

  // For humans, like HAProxy's status column: "UP", "UP 1/3" (up, one
  // failure of the three that take it down), "DOWN", "DOWN 1/2" (down,
  // one success of the two that bring it up).
  std::string Describe() const;

 private:
  uint32_t max() const { return rise_ + fall_ - 1; }

  uint32_t rise_;
  uint32_t fall_;
  uint32_t health_;
  uint64_t checks_ok_ = 0;
  uint64_t checks_failed_ = 0;
  uint64_t transitions_ = 0;
};

}  // namespace dpx::proxy
