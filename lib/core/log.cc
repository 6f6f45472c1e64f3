#include "core/log.h"

#include <atomic>
#include <cstdio>
#include <ctime>

namespace dpx {

namespace {
std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};

const char* LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return "DEBUG";
    case LogLevel::kInfo: return "INFO";
    case LogLevel::kWarning: return "WARN";
    case LogLevel::kError: return "ERROR";
  }
  return "?";
}
}  // namespace

void SetLogLevel(LogLevel level) { g_level.store(static_cast<int>(level)); }
LogLevel GetLogLevel() { return static_cast<LogLevel>(g_level.load(std::memory_order_relaxed)); }

bool ParseLogLevel(std::string_view name, LogLevel* out) {
  if (name == "debug") *out = LogLevel::kDebug;
  else if (name == "info") *out = LogLevel::kInfo;
  else if (name == "warning" || name == "warn") *out = LogLevel::kWarning;
  else if (name == "error") *out = LogLevel::kError;
  else return false;
  return true;
}

void LogLine(LogLevel level, std::string_view msg) {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  tm tmv;
  gmtime_r(&ts.tv_sec, &tmv);
  char stamp[32];
  strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tmv);
  // One fprintf per line so concurrent cores do not interleave inside a line.
  std::fprintf(stderr, "%s.%03ldZ dpx %s %.*s\n", stamp, ts.tv_nsec / 1000000, LevelName(level),
               static_cast<int>(msg.size()), msg.data());
}

bool RateLimit::Allow(uint64_t now_ns) {
  if (now_ns - window_start_ >= interval_ns_ || window_start_ == 0) {
    window_start_ = now_ns ? now_ns : 1;
    in_window_ = 0;
  }
  if (in_window_ < burst_) {
    ++in_window_;
    return true;
  }
  ++suppressed_;
  return false;
}

}  // namespace dpx
