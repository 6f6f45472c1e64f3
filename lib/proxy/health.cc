#include "proxy/health.h"

#include <algorithm>

#include "absl/strings/str_format.h"

namespace dpx::proxy {

const char* HealthTransitionName(HealthTransition t) {
  switch (t) {
    case HealthTransition::kNone:
      return "none";
    case HealthTransition::kWentUp:
      return "up";
    case HealthTransition::kWentDown:
      return "down";
  }
  return "?";
}

HealthState::HealthState(uint32_t rise, uint32_t fall, Initial initial)
    : rise_(std::max(rise, 1u)), fall_(std::max(fall, 1u)), health_(0) {
  switch (initial) {
    case Initial::kFullyUp:
      health_ = max();
      break;
    case Initial::kUp:
      health_ = rise_;
      break;
    case Initial::kDown:
      health_ = rise_ - 1;
      break;
    case Initial::kFullyDown:
      health_ = 0;
      break;
  }
}

HealthTransition HealthState::Report(bool ok) {
  const bool was_up = up();
  if (ok) {
    ++checks_ok_;
    if (health_ < max()) {
      ++health_;
      if (health_ >= rise_) health_ = max();  // up now (or still): fully up
    }
  } else {
    ++checks_failed_;
    if (health_ > rise_) {
      --health_;  // still up
    } else {
      health_ = 0;  // down, or the rise count starts over
    }
  }
  if (up() == was_up) return HealthTransition::kNone;
  ++transitions_;
  return up() ? HealthTransition::kWentUp : HealthTransition::kWentDown;
}

void HealthState::Reconfigure(uint32_t rise, uint32_t fall) {
  const bool was_up = up();
  rise_ = std::max(rise, 1u);
  fall_ = std::max(fall, 1u);
  health_ = was_up ? max() : 0;
}

std::string HealthState::Describe() const {
  if (up()) {
    if (health_ == max()) return "UP";
    return absl::StrFormat("UP %d/%d", max() - health_, fall_);
  }
  if (health_ == 0) return "DOWN";
  return absl::StrFormat("DOWN %d/%d", health_, rise_);
}

}  // namespace dpx::proxy
