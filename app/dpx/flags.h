// dpx's command-line flags (gflags), and a strict parser over them: an
// unknown flag, a bad value or a stray argument is an error the caller
// prints as one line before exiting with status 2 -- nothing is started.
#pragma once

#include <cstdint>
#include <string>

#include <gflags/gflags.h>

#include "absl/status/status.h"
#include "profile_flags.h"
#include "strict_flags.h"

DECLARE_bool(check_config);
DECLARE_uint32(stats_interval_s);
DECLARE_uint32(run_seconds);
DECLARE_uint32(echo_port);
DECLARE_string(ctl_socket);
DECLARE_string(proxy_config);

namespace dpx::app {

// Parses argv into the FLAGS_* variables. Accepts --name=value,
// --name value, -name, --bool, --nobool; dashes and underscores in names
// are the same (--check-config == --check_config).
absl::Status ParseFlags(int argc, char** argv, FlagAction* action);

// Checks values that need more than a type (log level).
absl::Status ValidateFlags();

// The --help text: every dpx flag with its default, then the profiles.
std::string HelpText();
std::string VersionText();

}  // namespace dpx::app
