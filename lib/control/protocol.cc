#include "control/protocol.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace dpx::control {

const char* JsonTypeName(const Json& j) {
  switch (j.type()) {
    case Json::value_t::null: return "null";
    case Json::value_t::object: return "object";
    case Json::value_t::array: return "array";
    case Json::value_t::string: return "string";
    case Json::value_t::boolean: return "boolean";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned: return "integer";
    case Json::value_t::number_float: return "number";
    case Json::value_t::binary: return "binary";
    case Json::value_t::discarded: return "invalid";
  }
  return "unknown";
}

absl::StatusOr<Request> ParseRequest(std::string_view line) {
  if (line.size() > kMaxRequestLine) {
    return absl::InvalidArgumentError(
        absl::StrFormat("request line of %d bytes; the limit is %d", line.size(), kMaxRequestLine));
  }
  Json j;
  try {
    j = Json::parse(line.begin(), line.end());
  } catch (const Json::parse_error& e) {
    // e.what(): "[json.exception.parse_error.101] parse error at line 1, column 2: ..."
    std::string what = e.what();
    if (auto p = what.find("] "); p != std::string::npos) what = what.substr(p + 2);
    return absl::InvalidArgumentError(absl::StrCat("malformed JSON: ", what));
  }
  if (!j.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a request is a JSON object {\"cmd\": ..., \"args\": {...}}, not a ", JsonTypeName(j)));
  }
  Request req;
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.key() != "cmd" && it.key() != "args") {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown request key '", it.key(), "' (a request has cmd and args)"));
    }
  }
  auto cmd = j.find("cmd");
  if (cmd == j.end()) return absl::InvalidArgumentError("request has no \"cmd\"");
  if (!cmd->is_string()) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"cmd\" must be a string, not ", JsonTypeName(*cmd)));
  }
  req.cmd = cmd->get<std::string>();
  if (auto args = j.find("args"); args != j.end()) {
    if (args->is_null()) {
      req.args = Json::object();
    } else if (!args->is_object()) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"args\" must be an object, not ", JsonTypeName(*args)));
    } else {
      req.args = *args;
    }
  }
  return req;
}

std::string EncodeLine(const Json& j) {
  std::string s = j.dump(-1, ' ', false, Json::error_handler_t::replace);
  s.push_back('\n');
  return s;
}

std::string EncodeRequest(std::string_view cmd, const Json& args) {
  Json j = Json::object();
  j["cmd"] = std::string(cmd);
  j["args"] = args.is_null() ? Json::object() : args;
  return EncodeLine(j);
}

const char* ErrorCodeName(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange: return "usage";
    case absl::StatusCode::kNotFound: return "not_found";
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kAlreadyExists: return "refused";
    case absl::StatusCode::kDeadlineExceeded: return "timeout";
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kResourceExhausted: return "busy";
    case absl::StatusCode::kCancelled: return "stopping";
    default: return "failed";
  }
}

Json OkLine(Json result) {
  Json j = Json::object();
  j["ok"] = true;
  j["result"] = std::move(result);
  return j;
}

Json ErrorLine(const absl::Status& st) {
  Json j = Json::object();
  j["ok"] = false;
  j["error"] = std::string(st.message());
  j["code"] = ErrorCodeName(st.code());
  return j;
}

// ---- Args ----

const Json* Args::Lookup(const char* name) {
  seen_.emplace_back(name);
  auto it = args_.find(name);
  if (it == args_.end() || it->is_null()) return nullptr;
  return &*it;
}

absl::Status Args::TypeError(const char* name, const char* want, const Json& got) const {
  return absl::InvalidArgumentError(absl::StrFormat("%s: argument '%s' must be %s, not %s", cmd_,
                                                    name, want, JsonTypeName(got)));
}

absl::StatusOr<std::optional<int64_t>> Args::OptInt(const char* name) {
  const Json* v = Lookup(name);
  if (v == nullptr) return std::optional<int64_t>();
  if (v->is_number_integer()) return std::optional<int64_t>(v->get<int64_t>());
  if (v->is_number_unsigned()) {
    const uint64_t u = v->get<uint64_t>();
    if (u > static_cast<uint64_t>(INT64_MAX)) {
      return absl::InvalidArgumentError(
          absl::StrFormat("%s: argument '%s' is too large", cmd_, name));
    }
    return std::optional<int64_t>(static_cast<int64_t>(u));
  }
  return TypeError(name, "an integer", *v);
}

absl::StatusOr<int64_t> Args::Int(const char* name) {
  auto v = OptInt(name);
  if (!v.ok()) return v.status();
  if (!v->has_value()) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: missing argument '%s' (an integer)", cmd_, name));
  }
  return **v;
}

absl::StatusOr<std::optional<int64_t>> Args::OptIntIn(const char* name, int64_t lo, int64_t hi) {
  auto v = OptInt(name);
  if (!v.ok() || !v->has_value()) return v;
  if (**v < lo || **v > hi) {
    return absl::InvalidArgumentError(absl::StrFormat("%s: argument '%s' is %d, not in %d..%d",
                                                      cmd_, name, **v, lo, hi));
  }
  return v;
}

absl::StatusOr<int64_t> Args::IntIn(const char* name, int64_t lo, int64_t hi) {
  auto v = OptIntIn(name, lo, hi);
  if (!v.ok()) return v.status();
  if (!v->has_value()) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: missing argument '%s' (an integer)", cmd_, name));
  }
  return **v;
}

absl::StatusOr<std::optional<std::string>> Args::OptString(const char* name) {
  const Json* v = Lookup(name);
  if (v == nullptr) return std::optional<std::string>();
  if (!v->is_string()) return TypeError(name, "a string", *v);
  return std::optional<std::string>(v->get<std::string>());
}

absl::StatusOr<std::string> Args::String(const char* name) {
  auto v = OptString(name);
  if (!v.ok()) return v.status();
  if (!v->has_value()) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: missing argument '%s' (a string)", cmd_, name));
  }
  return **v;
}

absl::StatusOr<bool> Args::Bool(const char* name, bool dflt) {
  const Json* v = Lookup(name);
  if (v == nullptr) return dflt;
  if (!v->is_boolean()) return TypeError(name, "a boolean", *v);
  return v->get<bool>();
}

absl::StatusOr<std::vector<std::string>> Args::StringList(const char* name) {
  const Json* v = Lookup(name);
  if (v == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: missing argument '%s' (an array of strings)", cmd_, name));
  }
  if (!v->is_array()) return TypeError(name, "an array of strings", *v);
  std::vector<std::string> out;
  for (const Json& e : *v) {
    if (!e.is_string()) return TypeError(name, "an array of strings", e);
    out.push_back(e.get<std::string>());
  }
  if (out.empty()) {
    return absl::InvalidArgumentError(absl::StrFormat("%s: argument '%s' is empty", cmd_, name));
  }
  return out;
}

absl::StatusOr<std::vector<std::string>> Args::OptStringList(const char* name) {
  const Json* v = Lookup(name);
  std::vector<std::string> out;
  if (v == nullptr) return out;
  if (!v->is_array()) return TypeError(name, "an array of strings", *v);
  for (const Json& e : *v) {
    if (!e.is_string()) return TypeError(name, "an array of strings", e);
    out.push_back(e.get<std::string>());
  }
  return out;
}

absl::Status Args::Finish() const {
  for (auto it = args_.begin(); it != args_.end(); ++it) {
    if (std::find(seen_.begin(), seen_.end(), it.key()) == seen_.end()) {
      std::string known;
      for (const auto& s : seen_) absl::StrAppend(&known, known.empty() ? "" : ", ", s);
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s: unknown argument '%s'%s", cmd_, it.key(),
          known.empty() ? " (it takes none)" : absl::StrCat(" (it takes: ", known, ")")));
    }
  }
  return absl::OkStatus();
}

}  // namespace dpx::control
