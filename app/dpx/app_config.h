// The profile dpx runs: --profile (built-in name or file) with the
// command-line overrides applied and validated again.
#pragma once

#include "absl/status/statusor.h"
#include "net/port_profile.h"

namespace dpx::app {

absl::StatusOr<Profile> ProfileFromFlags();

}  // namespace dpx::app
