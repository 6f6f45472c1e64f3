#include "strict_flags.h"

#include <algorithm>
#include <string_view>

#include <gflags/gflags.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace dpx::app {

namespace {

bool IsOwnFlag(absl::Span<const char* const> own, const std::string& name,
               gflags::CommandLineFlagInfo* info) {
  if (std::find_if(own.begin(), own.end(), [&](const char* f) { return name == f; }) == own.end())
    return false;
  return gflags::GetCommandLineFlagInfo(name.c_str(), info);
}

std::string Replaced(std::string_view s, char from, char to) {
  std::string out(s);
  std::replace(out.begin(), out.end(), from, to);
  return out;
}
std::string Dashed(std::string_view name) { return Replaced(name, '_', '-'); }

}  // namespace

absl::Status ParseStrictFlags(int argc, char** argv, absl::Span<const char* const> own,
                              const char* prog, FlagAction* action) {
  *action = FlagAction::kRun;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--") {
      if (i + 1 < argc) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "unexpected argument '%s' (%s takes only --flags; see --help)", argv[i + 1], prog));
      }
      break;
    }
    if (arg.size() < 2 || arg[0] != '-') {
      return absl::InvalidArgumentError(absl::StrFormat(
          "unexpected argument '%s' (%s takes only --flags; see --help)", arg, prog));
    }
    std::string_view body = arg.substr(arg[1] == '-' ? 2 : 1);
    const size_t eq = body.find('=');
    const bool has_value = eq != std::string_view::npos;
    std::string name = Replaced(body.substr(0, eq), '-', '_');
    std::string value = has_value ? std::string(body.substr(eq + 1)) : "";

    if (name == "help" || name == "h" || name == "helpfull" || name == "helpshort") {
      *action = FlagAction::kHelp;
      continue;
    }
    if (name == "version") {
      *action = FlagAction::kVersion;
      continue;
    }
    gflags::CommandLineFlagInfo info;
    if (!IsOwnFlag(own, name, &info)) {
      // --noBOOL
      if (absl::StartsWith(name, "no") && !has_value && IsOwnFlag(own, name.substr(2), &info) &&
          info.type == "bool") {
        gflags::SetCommandLineOption(info.name.c_str(), "false");
        continue;
      }
      return absl::InvalidArgumentError(
          absl::StrFormat("unknown flag '%s' (see %s --help)", arg, prog));
    }
    if (info.type == "bool") {
      if (!has_value) value = "true";
    } else if (!has_value) {
      if (i + 1 >= argc) {
        return absl::InvalidArgumentError(
            absl::StrFormat("flag --%s needs a value", Dashed(name)));
      }
      value = argv[++i];
    }
    if (gflags::SetCommandLineOption(name.c_str(), value.c_str()).empty()) {
      const bool num = info.type == "uint32" || info.type == "uint64";
      return absl::InvalidArgumentError(absl::StrFormat(
          "bad value '%s' for --%s (a %s)", value, Dashed(name),
          num ? "non-negative integer" : info.type));
    }
  }
  return absl::OkStatus();
}

std::string StrictFlagsHelp(absl::Span<const char* const> own) {
  std::string out;
  for (const char* f : own) {
    gflags::CommandLineFlagInfo info;
    if (!gflags::GetCommandLineFlagInfo(f, &info)) continue;
    std::string lhs = absl::StrCat("--", Dashed(f));
    if (info.type != "bool") absl::StrAppend(&lhs, "=", info.type == "string" ? "STR" : "N");
    absl::StrAppendFormat(&out, "  %-24s %s", lhs, info.description);
    if (info.type != "string" || !info.default_value.empty())
      absl::StrAppendFormat(&out, " [default: %s]", info.default_value);
    out += "\n";
  }
  absl::StrAppendFormat(&out, "  %-24s %s\n", "--help", "This text");
  absl::StrAppendFormat(&out, "  %-24s %s\n", "--version", "Version and DPDK build");
  return out;
}

}  // namespace dpx::app
