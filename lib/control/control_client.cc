#include "control/control_client.h"

#include <cerrno>
#include <chrono>
#include <cstring>

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace dpx::control {

ControlClient::~ControlClient() {
  if (fd_ >= 0) close(fd_);
}

absl::Status ControlClient::Connect(const std::string& path) {
  sockaddr_un addr;
  std::memset(&addr, 0, sizeof(addr));
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr.sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat("bad control socket path '", path, "'"));
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return absl::UnavailableError(absl::StrCat("socket: ", std::strerror(errno)));
  if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    const int err = errno;
    close(fd_);
    fd_ = -1;
    std::string hint;
    if (err == ENOENT || err == ECONNREFUSED) hint = " (is dpx running? see --socket)";
    if (err == EACCES) hint = " (the socket is mode 0600: run as the user dpx runs as)";
    return absl::UnavailableError(
        absl::StrFormat("cannot connect to %s: %s%s", path, std::strerror(err), hint));
  }
  path_ = path;
  return absl::OkStatus();
}

absl::StatusOr<std::string> ControlClient::ReadLine(int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    if (size_t nl = buf_.find('\n'); nl != std::string::npos) {
      std::string line = buf_.substr(0, nl);
      buf_.erase(0, nl + 1);
      return line;
    }
    int wait = -1;
    if (timeout_ms > 0) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        return absl::DeadlineExceededError(
            absl::StrFormat("no answer from dpx within %d ms", timeout_ms));
      }
      wait = static_cast<int>(left.count());
    }
    pollfd pfd{fd_, POLLIN, 0};
    const int n = poll(&pfd, 1, wait);
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::UnavailableError(absl::StrCat("poll: ", std::strerror(errno)));
    }
    if (n == 0) continue;  // the deadline check above ends it
    char chunk[65536];
    const ssize_t r = recv(fd_, chunk, sizeof(chunk), 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      return absl::UnavailableError(
          absl::StrCat("reading from ", path_, ": ", std::strerror(errno)));
    }
    if (r == 0) {
      return absl::UnavailableError(
          absl::StrCat("dpx closed the connection (", path_, ") before answering"));
    }
    buf_.append(chunk, static_cast<size_t>(r));
  }
}

absl::StatusOr<Json> ControlClient::Call(const std::string& cmd, const Json& args,
                                         const std::function<void(const Json&)>& on_data,
                                         int timeout_ms) {
  return CallRaw(EncodeRequest(cmd, args), on_data, timeout_ms);
}

absl::StatusOr<Json> ControlClient::CallRaw(const std::string& line,
                                            const std::function<void(const Json&)>& on_data,
                                            int timeout_ms) {
  if (fd_ < 0) return absl::FailedPreconditionError("not connected");
  std::string out = line;
  if (out.empty() || out.back() != '\n') out.push_back('\n');
  size_t off = 0;
  while (off < out.size()) {
    const ssize_t n = send(fd_, out.data() + off, out.size() - off, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::UnavailableError(
          absl::StrCat("writing to ", path_, ": ", std::strerror(errno)));
    }
    off += static_cast<size_t>(n);
  }
  while (true) {
    absl::StatusOr<std::string> l = ReadLine(timeout_ms);
    if (!l.ok()) return l.status();
    Json j;
    try {
      j = Json::parse(*l);
    } catch (const Json::parse_error& e) {
      return absl::UnavailableError(absl::StrCat("dpx sent a line that is not JSON: ", e.what()));
    }
    if (!j.is_object()) {
      return absl::UnavailableError("dpx sent a line that is not a JSON object");
    }
    if (j.contains("ok")) return j;
    if (on_data) on_data(j);
  }
}

}  // namespace dpx::control
