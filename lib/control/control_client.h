// The client side of the control socket (protocol.h), what dpxctl uses:
// connect, send one request, read data lines until the final one.
#pragma once

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "control/protocol.h"

namespace dpx::control {

class ControlClient {
 public:
  ControlClient() = default;
  ~ControlClient();
  ControlClient(const ControlClient&) = delete;
  ControlClient& operator=(const ControlClient&) = delete;

  // Unavailable (with the path and why) when nothing answers there.
  absl::Status Connect(const std::string& path);

  // Sends the request; calls `on_data` for every data line and returns the
  // final line ({"ok": ...}). Unavailable if the connection breaks or the
  // server says something that is not a JSON object; DeadlineExceeded if
  // no line comes within timeout_ms (0: wait forever).
  absl::StatusOr<Json> Call(const std::string& cmd, const Json& args,
                            const std::function<void(const Json&)>& on_data, int timeout_ms);
  // The same with a request line as given (tests send malformed ones).
  absl::StatusOr<Json> CallRaw(const std::string& line,
                               const std::function<void(const Json&)>& on_data, int timeout_ms);

 private:
  absl::StatusOr<std::string> ReadLine(int timeout_ms);
  int fd_ = -1;
  std::string path_;
  std::string buf_;
};

}  // namespace dpx::control
