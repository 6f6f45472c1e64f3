// Logging for the appliance: one line per event, level-filtered, to stderr.
// Data-path code logs through DPX_LOG_RATELIMITED so a flood cannot stall a core.
#pragma once

#include <cstdint>
#include <string_view>

#include "absl/strings/str_format.h"

namespace dpx {

enum class LogLevel : int { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

void SetLogLevel(LogLevel level);
LogLevel GetLogLevel();
// Parses "debug", "info", "warning", "error"; false if unknown.
bool ParseLogLevel(std::string_view name, LogLevel* out);
void LogLine(LogLevel level, std::string_view msg);

template <typename... Args>
void Logf(LogLevel level, const absl::FormatSpec<Args...>& fmt, const Args&... args) {
  if (level >= GetLogLevel()) LogLine(level, absl::StrFormat(fmt, args...));
}

// Allows at most `burst` events per `interval_ns`, like the kernel's
// net_ratelimit(); counts what it suppressed.
class RateLimit {
 public:
  RateLimit(uint64_t interval_ns, uint32_t burst) : interval_ns_(interval_ns), burst_(burst) {}
  bool Allow(uint64_t now_ns);
  uint64_t suppressed() const { return suppressed_; }

 private:
  uint64_t interval_ns_;
  uint32_t burst_;
  uint64_t window_start_ = 0;
  uint32_t in_window_ = 0;
  uint64_t suppressed_ = 0;
};

}  // namespace dpx

#define DPX_LOG_DEBUG(...) ::dpx::Logf(::dpx::LogLevel::kDebug, __VA_ARGS__)
#define DPX_LOG_INFO(...) ::dpx::Logf(::dpx::LogLevel::kInfo, __VA_ARGS__)
#define DPX_LOG_WARN(...) ::dpx::Logf(::dpx::LogLevel::kWarning, __VA_ARGS__)
#define DPX_LOG_ERROR(...) ::dpx::Logf(::dpx::LogLevel::kError, __VA_ARGS__)
