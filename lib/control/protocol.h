// The control socket's protocol, shared by the server (dpx) and the client
// (dpxctl). Over a unix stream socket, one JSON object per line:
//
//   request   {"cmd": "sysctl.get", "args": {"name": "net.ipv4.tcp_fin_timeout"}}
//   response  zero or more data lines, e.g. {"rows": [...]} for `conns`,
//             then exactly one final line that has "ok":
//             {"ok": true, "result": {...}}
//             {"ok": false, "error": "unknown sysctl 'x'", "code": "not_found"}
//
// A connection may carry any number of requests, one after the other.
// Error codes: usage (malformed request, unknown command, bad or missing
// argument), not_found (pid, sysctl, connection), refused (the request is
// valid but the state does not allow it: a process already exiting),
// timeout (a core did not answer in time), busy (a core's inbox is full),
// stopping (dpx is shutting down), failed (anything else).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace dpx::control {

// Keys keep their insertion order, so output reads in the order it was built.
using Json = nlohmann::ordered_json;

// Longest request line the server reads (bytes, newline excluded).
inline constexpr size_t kMaxRequestLine = 1 << 20;

struct Request {
  std::string cmd;
  Json args = Json::object();
};

// Parses one request line. InvalidArgument (with what is wrong) for bad
// JSON, a non-object, a missing or non-string "cmd", a non-object "args",
// or any other top-level key.
absl::StatusOr<Request> ParseRequest(std::string_view line);
// The request as one line (newline included).
std::string EncodeRequest(std::string_view cmd, const Json& args);

// One JSON line (newline included); invalid UTF-8 in strings is replaced.
std::string EncodeLine(const Json& j);

// Final lines.
Json OkLine(Json result);
Json ErrorLine(const absl::Status& st);
// The protocol's name for a status code ("usage", "not_found", ...).
const char* ErrorCodeName(absl::StatusCode code);

// Typed access to a request's "args", strict: a value of the wrong type is
// InvalidArgument naming the argument and both types; Finish() rejects
// arguments the command does not take.
class Args {
 public:
  Args(std::string cmd, const Json& args) : cmd_(std::move(cmd)), args_(args) {}

  absl::StatusOr<int64_t> Int(const char* name);  // required
  absl::StatusOr<std::optional<int64_t>> OptInt(const char* name);
  absl::StatusOr<std::string> String(const char* name);  // required
  absl::StatusOr<std::optional<std::string>> OptString(const char* name);
  absl::StatusOr<bool> Bool(const char* name, bool dflt);
  absl::StatusOr<std::vector<std::string>> StringList(const char* name);  // required, non-empty
  absl::StatusOr<std::vector<std::string>> OptStringList(const char* name);  // may be empty
  // Integer within [lo, hi] (required / optional).
  absl::StatusOr<int64_t> IntIn(const char* name, int64_t lo, int64_t hi);
  absl::StatusOr<std::optional<int64_t>> OptIntIn(const char* name, int64_t lo, int64_t hi);
  // InvalidArgument if args has a key none of the accessors asked for.
  absl::Status Finish() const;

 private:
  const Json* Lookup(const char* name);
  absl::Status TypeError(const char* name, const char* want, const Json& got) const;

  std::string cmd_;
  const Json& args_;
  std::vector<std::string> seen_;
};

// JSON type names as users read them: "integer", "string", "object"...
const char* JsonTypeName(const Json& j);

}  // namespace dpx::control
