// A strict command-line parser over gflags for dpx's executables: only the
// program's own flags (a list), --name=value or --name value, --bool and
// --nobool, dashes and underscores alike (--run-seconds == --run_seconds).
// An unknown flag, a bad value or a stray argument is an error the caller
// prints as one line before exiting with status 2.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/types/span.h"

namespace dpx::app {

enum class FlagAction { kRun, kHelp, kVersion };

// `own`: the program's flags, in --help order; `prog` names it in errors.
absl::Status ParseStrictFlags(int argc, char** argv, absl::Span<const char* const> own,
                              const char* prog, FlagAction* action);

// One "  --name=N   description [default: x]" line per flag of `own`.
std::string StrictFlagsHelp(absl::Span<const char* const> own);

}  // namespace dpx::app
