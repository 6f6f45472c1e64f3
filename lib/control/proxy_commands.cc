// proxy.show and proxy.reload: the running proxy (proxy_service.h).
#include "absl/strings/str_format.h"
#include "control/appliance_commands.h"
#include "control/proxy_service.h"

namespace dpx::control {

namespace {

absl::Status NoProxy() {
  return absl::FailedPreconditionError(
      "dpx runs no proxy (start it with --proxy-config=PATH)");
}

}  // namespace

void RegisterProxyCommands(ControlServer& server, const ControlTargets& t) {
  server.Register(
      "proxy.show",
      "the proxy: frontends, pools and backends (health, counters summed over cores), workers",
      [t](const Json& args, Responder& out) -> absl::StatusOr<Json> {
        Args a("proxy.show", args);
        if (auto st = a.Finish(); !st.ok()) return st;
        if (t.proxy == nullptr) return NoProxy();
        return t.proxy->Show(t.core_timeout, &out.stopping());
      });
  server.Register(
      "proxy.reload",
      "re-read the proxy config (args: path, default the file dpx started with) and apply it "
      "on every core; a bad file changes nothing",
      [t](const Json& args, Responder& out) -> absl::StatusOr<Json> {
        Args a("proxy.reload", args);
        auto path = a.OptString("path");
        if (!path.ok()) return path.status();
        if (auto st = a.Finish(); !st.ok()) return st;
        if (t.proxy == nullptr) return NoProxy();
        auto r = t.proxy->Reload(path->value_or(""), t.core_timeout, &out.stopping());
        if (!r.ok()) return r.status();
        Json errors = Json::array();
        for (const auto& e : r->errors) errors.push_back(e);
        return Json{{"path", r->path}, {"summary", r->summary}, {"errors", errors}};
      });
}

}  // namespace dpx::control
