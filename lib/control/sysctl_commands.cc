// sysctl.list, sysctl.get, sysctl.set. Every core's TcpStacks hold their
// own TcpSysctls: a read is answered by core 0, a write is validated once
// (on core 0, against a copy of its values) and only then applied to every
// stack on every core, each on its own core.
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "control/appliance_commands.h"
#include "control/core_call.h"
#include "core/reactor.h"
#include "tcp/sysctl_table.h"
#include "tcp/tcp_stack.h"

namespace dpx::control {

namespace {

absl::Status NoStacks() { return absl::FailedPreconditionError("dpx runs no TCP stack"); }

}  // namespace

void RegisterSysctlCommands(ControlServer& server, const ControlTargets& t) {
  server.Register(
      "sysctl.list", "every TCP tunable with its value and a line of help",
      [t](const Json& args, Responder& out) -> absl::StatusOr<Json> {
        Args a("sysctl.list", args);
        if (auto st = a.Finish(); !st.ok()) return st;
        if (t.cores.empty() || t.cores[0].stacks.empty()) return NoStacks();
        tcp::TcpStack* st0 = t.cores[0].stacks[0];
        using Rows = std::vector<std::pair<tcp::SysctlDesc, std::string>>;
        auto rows = CallOnCore<Rows>(
            *t.cores[0].reactor,
            [st0](Reactor&) {
              Rows r;
              for (tcp::SysctlDesc& d : tcp::SysctlList()) {
                auto v = tcp::SysctlGet(st0->sysctl(), d.name);
                r.emplace_back(std::move(d), v.ok() ? *v : std::string("?"));
              }
              return r;
            },
            t.core_timeout, &out.stopping());
        if (!rows.ok()) return rows.status();
        Json list = Json::array();
        for (const auto& [d, v] : *rows) {
          list.push_back(Json{{"name", d.name}, {"value", v}, {"help", d.help}});
        }
        return Json{{"sysctls", list}};
      });

  server.Register(
      "sysctl.get",
      "one tunable's value: {name}; read on every core (per_core), which must agree",
      [t](const Json& args, Responder& out) -> absl::StatusOr<Json> {
        Args a("sysctl.get", args);
        auto name = a.String("name");
        if (!name.ok()) return name.status();
        if (auto st = a.Finish(); !st.ok()) return st;
        if (t.cores.empty() || t.cores[0].stacks.empty()) return NoStacks();
        const std::string n = *name;
        std::vector<std::vector<tcp::TcpStack*>> stacks;
        for (const ControlCore& c : t.cores) stacks.push_back(c.stacks);
        auto v = CallOnCores<absl::StatusOr<std::string>>(
            Reactors(t),
            [stacks, n](Reactor&, size_t i) -> absl::StatusOr<std::string> {
              if (stacks[i].empty()) return absl::NotFoundError("no stack");
              return tcp::SysctlGet(stacks[i][0]->sysctl(), n);
            },
            t.core_timeout, &out.stopping());
        if (!v.ok()) return v.status();
        if (!v->front().ok()) return v->front().status();
        Json per_core = Json::array();
        for (const auto& x : *v) per_core.push_back(x.ok() ? *x : std::string("?"));
        return Json{{"name", n}, {"value", *v->front()}, {"per_core", per_core}};
      });

  server.Register(
      "sysctl.set",
      "sets a tunable on every core: {name, value}; a bad value changes nothing",
      [t](const Json& args, Responder& out) -> absl::StatusOr<Json> {
        Args a("sysctl.set", args);
        auto name = a.String("name");
        if (!name.ok()) return name.status();
        auto value = a.String("value");
        if (!value.ok()) return value.status();
        if (auto st = a.Finish(); !st.ok()) return st;
        if (t.cores.empty() || t.cores[0].stacks.empty()) return NoStacks();
        const std::string n = *name, v = *value;

        // Validate once, against a copy of core 0's values: nothing changes
        // anywhere unless the value is good.
        tcp::TcpStack* st0 = t.cores[0].stacks[0];
        struct Check {
          absl::Status status;
          std::string old_value;
        };
        auto check = CallOnCore<Check>(
            *t.cores[0].reactor,
            [st0, n, v](Reactor&) {
              Check c;
              tcp::TcpSysctls copy = st0->sysctl();
              auto old = tcp::SysctlGet(copy, n);
              if (old.ok()) c.old_value = *old;
              c.status = tcp::SysctlSet(&copy, n, v);
              return c;
            },
            t.core_timeout, &out.stopping());
        if (!check.ok()) return check.status();
        if (!check->status.ok()) return check->status;

        std::vector<std::vector<tcp::TcpStack*>> stacks;
        for (const ControlCore& c : t.cores) stacks.push_back(c.stacks);
        auto applied = CallOnCores<absl::Status>(
            Reactors(t),
            [stacks, n, v](Reactor&, size_t i) {
              for (tcp::TcpStack* s : stacks[i]) {
                if (absl::Status st = tcp::SysctlSet(&s->sysctl(), n, v); !st.ok()) return st;
              }
              return absl::OkStatus();
            },
            t.core_timeout, &out.stopping());
        if (!applied.ok()) {
          return absl::Status(applied.status().code(),
                              absl::StrCat(applied.status().message(),
                                           " (the value may be set on some cores only)"));
        }
        for (size_t i = 0; i < applied->size(); ++i) {
          if (!(*applied)[i].ok()) {
            return absl::InternalError(absl::StrFormat("core %d refused %s=%s: %s", i, n, v,
                                                       (*applied)[i].message()));
          }
        }
        auto now = CallOnCore<absl::StatusOr<std::string>>(
            *t.cores[0].reactor, [st0, n](Reactor&) { return tcp::SysctlGet(st0->sysctl(), n); },
            t.core_timeout, &out.stopping());
        if (!now.ok()) return now.status();
        if (!now->ok()) return now->status();
        return Json{{"name", n}, {"value", **now}, {"old", check->old_value},
                    {"cores", t.cores.size()}};
      });
}

}  // namespace dpx::control
