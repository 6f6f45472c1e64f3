#include "nstat_history.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"

namespace dpx::ctl {

int64_t RealtimeNs() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

namespace {
bool WritableDir(const std::string& dir) { return !dir.empty() && access(dir.c_str(), W_OK) == 0; }
}  // namespace

std::string HistoryPath(const std::string& flag, const std::string& socket_path) {
  if (!flag.empty()) return flag;
  if (const char* env = std::getenv("DPXCTL_HISTORY"); env != nullptr && *env) return env;
  const std::string file = absl::StrCat("dpxctl.nstat.", getuid());
  const size_t slash = socket_path.find_last_of('/');
  const std::string sock_dir = slash == std::string::npos ? "." : socket_path.substr(0, slash);
  if (WritableDir(sock_dir)) return absl::StrCat(sock_dir, "/", file);
  if (const char* xdg = std::getenv("XDG_RUNTIME_DIR"); xdg != nullptr && WritableDir(xdg)) {
    return absl::StrCat(xdg, "/", file);
  }
  return absl::StrCat("/tmp/", file);
}

std::optional<NstatHistory> LoadHistory(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  nlohmann::json j = nlohmann::json::parse(ss.str(), nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return std::nullopt;
  NstatHistory h;
  if (auto it = j.find("instance"); it != j.end() && it->is_string()) h.instance = *it;
  if (auto it = j.find("socket"); it != j.end() && it->is_string()) h.socket = *it;
  if (auto it = j.find("time_ns"); it != j.end() && it->is_number_integer()) h.time_ns = *it;
  auto vals = j.find("values");
  if (vals == j.end() || !vals->is_object()) return std::nullopt;
  for (auto it = vals->begin(); it != vals->end(); ++it) {
    if (it->is_number_integer()) h.values[it.key()] = it->get<int64_t>();
  }
  return h;
}

absl::Status SaveHistory(const std::string& path, const NstatHistory& h) {
  nlohmann::json j = {{"instance", h.instance}, {"socket", h.socket}, {"time_ns", h.time_ns}};
  j["values"] = h.values;
  const std::string text = j.dump() + "\n";
  const std::string tmp = absl::StrCat(path, ".", getpid(), ".tmp");
  const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot write history ", tmp, ": ", std::strerror(errno)));
  }
  const bool ok = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  close(fd);
  if (!ok || rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    unlink(tmp.c_str());
    return absl::UnavailableError(
        absl::StrCat("cannot write history ", path, ": ", std::strerror(err)));
  }
  return absl::OkStatus();
}

}  // namespace dpx::ctl
