#include "control/proxy_service.h"

#include <algorithm>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "control/core_call.h"
#include "core/log.h"
#include "core/reactor.h"
#include "core/timer_kinds.h"
#include "core/timer_wheel.h"
#include "proxy/balancer.h"
#include "proxy/engine.h"
#include "proxy/health.h"
#include "socket/process.h"
#include "tcp/tcp_stack.h"

namespace dpx::control {

using proxy::Balancer;
using proxy::ConfigDiff;
using proxy::FrontendConfig;
using proxy::HealthState;
using proxy::PoolConfig;
using proxy::ProxyConfig;
using proxy::ProxyCounters;

namespace {

// The health-check timer of a pool on a core (the engine takes kAppFirst + 8).
constexpr uint16_t kHealthTimerKind = timer_kind::kAppFirst + 9;
// The first check of a pool runs this soon after start or reload.
constexpr uint64_t kFirstCheckMs = 100;

}  // namespace

struct PoolHealth;

struct ProxyService::Core {
  unsigned index = 0;
  ProxyCoreTarget t;
  sock::ProcessTable* pt = nullptr;
  ProxyConfig cfg;  // as applied on this core
  std::unique_ptr<proxy::ProxyEngine> engine;
  struct Fe {
    int id = -1;
    std::shared_ptr<Balancer> bal;
  };
  std::map<std::string, Fe> fes;
  std::map<std::string, std::shared_ptr<PoolHealth>> health;

  bool BackendUp(const std::string& pool, size_t i) const;
  std::shared_ptr<Balancer> NewBalancer(const FrontendConfig& fe) const;
  proxy::FrontendSpec Spec(const FrontendConfig& fe, const std::shared_ptr<Balancer>& bal) const;
  void ApplyHealth(const std::string& pool);
  void NewHealth(const PoolConfig& pool, const PoolHealth* old);
  void DropHealth(const std::string& pool);
  absl::Status AddFrontend(const FrontendConfig& fe);
  Json Collect() const;
};

struct PoolHealth : std::enable_shared_from_this<PoolHealth> {
  struct HealthTimer {
    Timer timer;  // first: the wheel hands back the Timer*
    PoolHealth* owner = nullptr;
  };
  HealthTimer tm;
  ProxyService::Core* core = nullptr;
  PoolConfig pool;
  std::vector<HealthState> states;
  std::vector<uint32_t> fails, oks;  // consecutive, for the log line

  ~PoolHealth() {
    if (tm.timer.armed()) core->t.reactor->timers().Cancel(&tm.timer);
  }

  void Arm(uint64_t ms) {
    tm.owner = this;
    tm.timer.kind = kHealthTimerKind;
    core->t.reactor->timers().ArmAfter(&tm.timer, ms * 1'000'000);
  }

  void Tick() {
    std::weak_ptr<PoolHealth> self = weak_from_this();
    for (size_t i = 0; i < pool.backends.size(); ++i) {
      core->engine->StartConnectCheck(pool.backends[i].endpoint, pool.health.timeout_ms,
                                      [self, i](bool ok) {
                                        if (auto ph = self.lock()) ph->Result(i, ok);
                                      });
    }
    Arm(pool.health.interval_ms);
  }

  void Result(size_t i, bool ok) {
    if (i >= states.size()) return;
    if (ok) {
      ++oks[i];
      fails[i] = 0;
    } else {
      ++fails[i];
      oks[i] = 0;
    }
    const proxy::HealthTransition tr = states[i].Report(ok);
    if (tr == proxy::HealthTransition::kNone) return;
    if (tr == proxy::HealthTransition::kWentDown) {
      DPX_LOG_WARN("proxy core %u: backend %s/%s DOWN (%u failed check%s)", core->index, pool.name,
                   pool.backends[i].name, fails[i], fails[i] == 1 ? "" : "s");
    } else {
      DPX_LOG_INFO("proxy core %u: backend %s/%s UP (%u successful check%s)", core->index,
                   pool.name, pool.backends[i].name, oks[i], oks[i] == 1 ? "" : "s");
    }
    core->ApplyHealth(pool.name);
  }
};

namespace {

void OnHealthTimer(Timer* t, void* /*ctx*/) {
  auto* ht = reinterpret_cast<PoolHealth::HealthTimer*>(t);
  ht->owner->Tick();
}

}  // namespace

bool ProxyService::Core::BackendUp(const std::string& pool, size_t i) const {
  auto it = health.find(pool);
  if (it == health.end() || !it->second->pool.health.enabled) return true;
  return i < it->second->states.size() ? it->second->states[i].up() : true;
}

std::shared_ptr<Balancer> ProxyService::Core::NewBalancer(const FrontendConfig& fe) const {
  const PoolConfig* pool = cfg.FindPool(fe.pool);
  std::shared_ptr<Balancer> bal = proxy::MakeBalancer(fe.balance, *pool);
  for (size_t i = 0; i < pool->backends.size(); ++i)
    bal->SetUp(static_cast<int>(i), BackendUp(fe.pool, i));
  return bal;
}

proxy::FrontendSpec ProxyService::Core::Spec(const FrontendConfig& fe,
                                             const std::shared_ptr<Balancer>& bal) const {
  proxy::FrontendSpec s = proxy::FrontendSpec::FromConfig(fe, *cfg.FindPool(fe.pool));
  // The hooks hold the balancer: sessions of an older generation (a reload)
  // still end on the balancer that started them.
  s.pick_avoiding = [bal](uint32_t addr, uint16_t port, int avoid) {
    return bal->Pick(addr, port, avoid);
  };
  s.on_session_start = [bal](int i) { bal->OnSessionStart(i); };
  s.on_session_end = [bal](int i) { bal->OnSessionEnd(i); };
  return s;
}

void ProxyService::Core::ApplyHealth(const std::string& pool) {
  for (auto& [name, fe] : fes) {
    const FrontendConfig* fc = cfg.FindFrontend(name);
    if (fc == nullptr || fc->pool != pool) continue;
    for (size_t i = 0; i < fe.bal->size(); ++i)
      fe.bal->SetUp(static_cast<int>(i), BackendUp(pool, i));
  }
}

void ProxyService::Core::NewHealth(const PoolConfig& pool, const PoolHealth* old) {
  auto ph = std::make_shared<PoolHealth>();
  ph->core = this;
  ph->pool = pool;
  for (const auto& b : pool.backends) {
    int j = old != nullptr ? old->pool.FindBackend(b.name) : -1;
    if (j >= 0) {
      HealthState s = old->states[static_cast<size_t>(j)];
      if (s.rise() != pool.health.rise || s.fall() != pool.health.fall)
        s.Reconfigure(pool.health.rise, pool.health.fall);
      ph->states.push_back(s);
      ph->fails.push_back(old->fails[static_cast<size_t>(j)]);
      ph->oks.push_back(old->oks[static_cast<size_t>(j)]);
    } else {
      ph->states.emplace_back(pool.health.rise, pool.health.fall);
      ph->fails.push_back(0);
      ph->oks.push_back(0);
    }
  }
  if (pool.health.enabled) ph->Arm(std::min<uint64_t>(kFirstCheckMs, pool.health.interval_ms));
  health[pool.name] = std::move(ph);
}

void ProxyService::Core::DropHealth(const std::string& pool) { health.erase(pool); }

absl::Status ProxyService::Core::AddFrontend(const FrontendConfig& fe) {
  std::shared_ptr<Balancer> bal = NewBalancer(fe);
  auto id = engine->AddFrontend(Spec(fe, bal));
  if (!id.ok()) {
    return absl::Status(id.status().code(),
                        absl::StrFormat("core %u: frontend %s (%s): %s", index, fe.name,
                                        proxy::FormatEndpoint(fe.listen), id.status().message()));
  }
  fes[fe.name] = Fe{*id, std::move(bal)};
  return absl::OkStatus();
}

namespace {

Json CountersJson(const ProxyCounters& c) {
  return Json{{"active", c.active},
              {"sessions", c.sessions},
              {"bytes_in", c.bytes_in},
              {"bytes_out", c.bytes_out},
              {"resets_sent", c.resets_sent},
              {"resets_received", c.resets_received},
              {"connect_failures", c.connect_failures},
              {"connect_timeouts", c.connect_timeouts},
              {"no_backend", c.no_backend}};
}

void Add(ProxyCounters& s, const ProxyCounters& c) {
  s.sessions += c.sessions;
  s.active += c.active;
  s.bytes_in += c.bytes_in;
  s.bytes_out += c.bytes_out;
  s.connect_attempts += c.connect_attempts;
  s.connect_failures += c.connect_failures;
  s.connect_timeouts += c.connect_timeouts;
  s.resets_sent += c.resets_sent;
  s.resets_received += c.resets_received;
  s.idle_timeouts += c.idle_timeouts;
  s.no_backend += c.no_backend;
  s.errors += c.errors;
  s.killed += c.killed;
}

uint64_t U(const Json& j, const char* k) {
  auto it = j.find(k);
  return it != j.end() && it->is_number() ? it->get<uint64_t>() : 0;
}

}  // namespace

// This core's share: {"pid", "frontends": {name: counters}, "pools": {name:
// [{counters..., "up"}]}}. Runs on the core (or with the cores stopped).
Json ProxyService::Core::Collect() const {
  Json j = Json::object();
  j["pid"] = engine ? engine->worker_pid() : 0;
  Json fj = Json::object();
  for (const auto& [name, fe] : fes) {
    auto c = engine->frontend_counters(fe.id);
    fj[name] = CountersJson(c ? *c : ProxyCounters{});
  }
  j["frontends"] = fj;
  Json pj = Json::object();
  for (const PoolConfig& pool : cfg.pools) {
    std::vector<ProxyCounters> sum(pool.backends.size());
    for (const auto& [name, fe] : fes) {
      const FrontendConfig* fc = cfg.FindFrontend(name);
      if (fc == nullptr || fc->pool != pool.name) continue;
      for (size_t i = 0; i < sum.size(); ++i)
        if (auto c = engine->backend_counters(fe.id, i)) Add(sum[i], *c);
    }
    Json rows = Json::array();
    for (size_t i = 0; i < sum.size(); ++i) {
      Json r = CountersJson(sum[i]);
      r["name"] = pool.backends[i].name;
      r["up"] = BackendUp(pool.name, i);
      rows.push_back(r);
    }
    pj[pool.name] = rows;
  }
  j["pools"] = pj;
  return j;
}

// ---------------------------------------------------------------- service

ProxyService::ProxyService(ProxyConfig config, std::string path, sock::ProcessTable& pt,
                           std::vector<ProxyCoreTarget> cores)
    : pt_(pt), targets_(std::move(cores)), config_(std::move(config)), path_(std::move(path)) {}

ProxyService::~ProxyService() {
  for (auto& c : cores_) {
    c->health.clear();  // cancels the timers
    c->engine.reset();  // closes listeners and sessions in the running worker
    c->fes.clear();
  }
}

absl::Status ProxyService::Start() {
  const ProxyConfig cfg = config();
  const unsigned n = static_cast<unsigned>(targets_.size());
  for (unsigned i = 0; i < n; ++i) {
    auto core = std::make_unique<Core>();
    core->index = i;
    core->t = targets_[i];
    core->pt = &pt_;
    core->cfg = cfg;
    core->t.reactor->timers().SetHandler(kHealthTimerKind, &OnHealthTimer, core.get());
    proxy::EngineConfig ec;
    ec.core = i;
    ec.limits = {cfg.settings.sndbuf_high_water, cfg.settings.sndbuf_low_water};
    ec.max_sessions =
        cfg.settings.max_sessions == 0 ? 0 : (cfg.settings.max_sessions + n - 1) / n;
    ec.rss = core->t.rss;
    ec.worker_name = absl::StrCat("proxy-w", i);
    // Two fds per session, and the listeners: RLIMIT_NOFILE follows
    // max_sessions (the fd table grows as used; no limit: fs.nr_open).
    ec.worker_nofile = ec.max_sessions == 0
                           ? pt_.config().max_nofile
                           : static_cast<uint32_t>(std::clamp<uint64_t>(
                                 2 * uint64_t{ec.max_sessions} + 4096, 1u << 20, pt_.config().max_nofile));
    ec.restart_on_exit = true;
    auto worker = pt_.Spawn(ec.worker_name, i, 1, ec.worker_nofile);
    if (!worker.ok()) return worker.status();
    core->engine =
        std::make_unique<proxy::ProxyEngine>(*core->t.stack, pt_, *worker, std::move(ec));
    Core* raw = core.get();
    cores_.push_back(std::move(core));
    for (const PoolConfig& p : cfg.pools) raw->NewHealth(p, nullptr);
    for (const FrontendConfig& fe : cfg.frontends) {
      if (auto st = raw->AddFrontend(fe); !st.ok()) return st;
    }
    DPX_LOG_INFO("proxy core %u: worker %s pid %d, %d frontend(s), rss ports %s", i,
                 absl::StrCat("proxy-w", i), raw->engine->worker_pid(), cfg.frontends.size(),
                 raw->t.rss.active() ? absl::StrFormat("on (%d queues)", raw->t.rss.queues)
                                     : std::string("off (any port)"));
  }
  return absl::OkStatus();
}

ProxyConfig ProxyService::config() const {
  std::lock_guard<std::mutex> lock(mu_);
  return config_;
}

std::string ProxyService::path() const {
  std::lock_guard<std::mutex> lock(mu_);
  return path_;
}

Json ProxyService::SumToJson(const ProxyConfig& cfg, const std::vector<Json>& per_core) {
  static const char* kFeKeys[] = {"active",          "sessions",         "bytes_in",
                                  "bytes_out",       "resets_sent",      "resets_received",
                                  "connect_failures", "no_backend"};
  static const char* kBeKeys[] = {"active",           "sessions",         "bytes_in",
                                  "bytes_out",        "connect_failures", "connect_timeouts",
                                  "resets_sent",      "resets_received"};
  Json out = Json::object();
  Json fes = Json::array();
  for (const FrontendConfig& fe : cfg.frontends) {
    Json j = Json::object();
    j["name"] = fe.name;
    j["listen"] = proxy::FormatEndpoint(fe.listen);
    j["pool"] = fe.pool;
    j["balance"] = proxy::BalanceModeName(fe.balance);
    for (const char* k : kFeKeys) {
      uint64_t s = 0;
      for (const Json& c : per_core) {
        auto it = c["frontends"].find(fe.name);
        if (it != c["frontends"].end()) s += U(*it, k);
      }
      j[k] = s;
    }
    fes.push_back(j);
  }
  out["frontends"] = fes;
  Json pools = Json::array();
  for (const PoolConfig& pool : cfg.pools) {
    Json bs = Json::array();
    for (size_t i = 0; i < pool.backends.size(); ++i) {
      const auto& b = pool.backends[i];
      Json j = Json::object();
      j["name"] = b.name;
      j["address"] = proxy::FormatEndpoint(b.endpoint);
      j["weight"] = b.weight;
      bool up = true;
      std::map<std::string, uint64_t> sums;
      for (const Json& c : per_core) {
        auto it = c["pools"].find(pool.name);
        if (it == c["pools"].end()) continue;
        for (const Json& row : *it) {
          if (row["name"] != b.name) continue;
          if (!row["up"].get<bool>()) up = false;
          for (const char* k : kBeKeys) sums[k] += U(row, k);
        }
      }
      j["health"] = up ? "UP" : "DOWN";
      for (const char* k : kBeKeys) j[k] = sums[k];
      bs.push_back(j);
    }
    pools.push_back(Json{{"name", pool.name}, {"backends", bs}});
  }
  out["pools"] = pools;
  Json workers = Json::array();
  for (size_t i = 0; i < per_core.size(); ++i)
    workers.push_back(Json{{"core", i}, {"pid", per_core[i]["pid"]}});
  out["workers"] = workers;
  return out;
}

absl::StatusOr<Json> ProxyService::Show(std::chrono::milliseconds timeout,
                                        const std::atomic<bool>* cancel) const {
  std::vector<Reactor*> rs;
  std::vector<const Core*> cs;
  for (const auto& c : cores_) {
    rs.push_back(c->t.reactor);
    cs.push_back(c.get());
  }
  const ProxyConfig cfg = config();
  auto per_core = CallOnCores<Json>(
      rs, [cs](Reactor&, size_t i) { return cs[i]->Collect(); }, timeout, cancel);
  if (!per_core.ok()) return per_core.status();
  return SumToJson(cfg, *per_core);
}

Json ProxyService::ShowNow() const {
  std::vector<Json> per_core;
  for (const auto& c : cores_) per_core.push_back(c->Collect());
  return SumToJson(config(), per_core);
}

namespace {

// Applies `n` (diff `d` from the core's config) on core `c`, on that core.
std::vector<std::string> ApplyOnCore(ProxyService::Core& c, const ProxyConfig& n,
                                     const ConfigDiff& d) {
  std::vector<std::string> errors;
  auto pool_diff = [&d](const std::string& name) -> const proxy::PoolDiff* {
    for (const auto& p : d.pools_changed)
      if (p.name == name) return &p;
    return nullptr;
  };
  c.cfg = n;
  // Pools: health states carried over by backend name.
  for (const auto& name : d.pools_removed) c.DropHealth(name);
  for (const auto& name : d.pools_added) c.NewHealth(*n.FindPool(name), nullptr);
  for (const auto& pd : d.pools_changed) {
    std::shared_ptr<PoolHealth> old = c.health[pd.name];
    c.health.erase(pd.name);  // cancels its timer; in-flight results are dropped
    c.NewHealth(*n.FindPool(pd.name), old.get());
  }
  // Frontends.
  for (const auto& name : d.frontends_removed) {
    auto it = c.fes.find(name);
    if (it == c.fes.end()) continue;
    if (auto st = c.engine->RemoveFrontend(it->second.id); !st.ok())
      errors.push_back(absl::StrFormat("core %u: remove %s: %s", c.index, name, st.message()));
    c.fes.erase(it);
  }
  for (const FrontendConfig& fe : n.frontends) {
    auto it = c.fes.find(fe.name);
    if (it == c.fes.end()) {
      if (auto st = c.AddFrontend(fe); !st.ok()) errors.push_back(std::string(st.message()));
      continue;
    }
    const proxy::FrontendDiff* fd = nullptr;
    for (const auto& f : d.frontends_changed)
      if (f.name == fe.name) fd = &f;
    const proxy::PoolDiff* pd = pool_diff(fe.pool);
    const bool rebuild = (pd != nullptr && pd->RebuildBalancer()) ||
                         (fd != nullptr && (fd->pool_changed || fd->balance_changed));
    if (fd == nullptr && !rebuild) continue;
    if (rebuild) it->second.bal = c.NewBalancer(fe);
    if (auto st = c.engine->UpdateFrontend(it->second.id, c.Spec(fe, it->second.bal)); !st.ok())
      errors.push_back(absl::StrFormat("core %u: frontend %s (%s): %s", c.index, fe.name,
                                       proxy::FormatEndpoint(fe.listen), st.message()));
  }
  for (const PoolConfig& p : n.pools) c.ApplyHealth(p.name);
  return errors;
}

}  // namespace

absl::StatusOr<ProxyReloadResult> ProxyService::Reload(const std::string& path,
                                                       std::chrono::milliseconds timeout,
                                                       const std::atomic<bool>* cancel) {
  std::lock_guard<std::mutex> reload_lock(reload_mu_);
  ProxyReloadResult r;
  r.path = path.empty() ? this->path() : path;
  auto next = proxy::LoadProxyConfigFile(r.path);
  if (!next.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(next.status().message(), " (config not changed)"));
  }
  const ProxyConfig old = config();
  const ConfigDiff diff = proxy::DiffConfig(old, *next);
  r.summary = diff.Summary();
  if (diff.settings_changed) {
    r.summary += " ([proxy] settings apply when dpx restarts)";
  }
  if (diff.empty()) return r;
  std::vector<Reactor*> rs;
  std::vector<Core*> cs;
  for (auto& c : cores_) {
    rs.push_back(c->t.reactor);
    cs.push_back(c.get());
  }
  auto shared_cfg = std::make_shared<const ProxyConfig>(*next);
  auto shared_diff = std::make_shared<const ConfigDiff>(diff);
  auto per_core = CallOnCores<std::vector<std::string>>(
      rs,
      [cs, shared_cfg, shared_diff](Reactor&, size_t i) {
        return ApplyOnCore(*cs[i], *shared_cfg, *shared_diff);
      },
      timeout, cancel);
  {
    // Once posted, the cores apply it whether or not they answered in time.
    std::lock_guard<std::mutex> lock(mu_);
    config_ = *next;
  }
  if (!per_core.ok()) {
    return absl::Status(per_core.status().code(),
                        absl::StrCat("reload of ", r.path, ": ", per_core.status().message(),
                                     " (the cores that answered run the new config)"));
  }
  for (const auto& errs : *per_core) r.errors.insert(r.errors.end(), errs.begin(), errs.end());
  DPX_LOG_INFO("proxy: reloaded %s: %s%s", r.path, r.summary,
               r.errors.empty() ? "" : absl::StrCat("; errors: ", absl::StrJoin(r.errors, "; ")));
  return r;
}

// ---------------------------------------------------------------- human output

std::string FormatProxyTable(const Json& show) {
  std::string s;
  absl::StrAppendFormat(&s, "%-12s %-21s %-10s %-10s %7s %9s %12s %12s %6s %6s %8s %6s\n",
                        "FRONTEND", "LISTEN", "POOL", "BALANCE", "ACTIVE", "SESSIONS", "BYTES_IN",
                        "BYTES_OUT", "RST_TX", "RST_RX", "CONNFAIL", "NOBACK");
  for (const Json& f : show["frontends"]) {
    absl::StrAppendFormat(&s, "%-12s %-21s %-10s %-10s %7d %9d %12d %12d %6d %6d %8d %6d\n",
                          f["name"].get<std::string>(), f["listen"].get<std::string>(),
                          f["pool"].get<std::string>(), f["balance"].get<std::string>(),
                          U(f, "active"), U(f, "sessions"), U(f, "bytes_in"), U(f, "bytes_out"),
                          U(f, "resets_sent"), U(f, "resets_received"), U(f, "connect_failures"),
                          U(f, "no_backend"));
  }
  s += "\n";
  absl::StrAppendFormat(&s, "%-12s %-21s %-21s %6s %-6s %7s %9s %12s %12s %8s %8s %6s %6s\n",
                        "POOL", "BACKEND", "ADDRESS", "WEIGHT", "HEALTH", "ACTIVE", "SESSIONS",
                        "BYTES_IN", "BYTES_OUT", "CONNFAIL", "TIMEOUTS", "RST_TX", "RST_RX");
  for (const Json& p : show["pools"]) {
    for (const Json& b : p["backends"]) {
      absl::StrAppendFormat(
          &s, "%-12s %-21s %-21s %6d %-6s %7d %9d %12d %12d %8d %8d %6d %6d\n",
          p["name"].get<std::string>(), b["name"].get<std::string>(),
          b["address"].get<std::string>(), U(b, "weight"), b["health"].get<std::string>(),
          U(b, "active"), U(b, "sessions"), U(b, "bytes_in"), U(b, "bytes_out"),
          U(b, "connect_failures"), U(b, "connect_timeouts"), U(b, "resets_sent"),
          U(b, "resets_received"));
    }
  }
  s += "\nworkers:";
  for (const Json& w : show["workers"])
    absl::StrAppendFormat(&s, " core %d pid %d;", U(w, "core"), U(w, "pid"));
  if (!s.empty() && s.back() == ';') s.pop_back();
  s += "\n";
  return s;
}

std::vector<std::pair<std::string, int64_t>> ProxyStatsCounters(const Json& show) {
  std::vector<std::pair<std::string, int64_t>> out;
  static const char* kFe[] = {"sessions",         "active",        "bytes_in",
                              "bytes_out",        "resets_sent",   "resets_received",
                              "connect_failures", "no_backend"};
  static const char* kBe[] = {"sessions",         "active",          "bytes_in",
                              "bytes_out",        "connect_failures", "connect_timeouts",
                              "resets_sent",      "resets_received"};
  for (const Json& f : show["frontends"]) {
    const std::string base = "Proxy." + f["name"].get<std::string>() + ".";
    for (const char* k : kFe) out.push_back({base + k, static_cast<int64_t>(U(f, k))});
  }
  for (const Json& p : show["pools"]) {
    for (const Json& b : p["backends"]) {
      const std::string base = absl::StrCat("ProxyBackend.", p["name"].get<std::string>(), ".",
                                            b["name"].get<std::string>(), ".");
      for (const char* k : kBe) out.push_back({base + k, static_cast<int64_t>(U(b, k))});
      out.push_back({base + "up", b["health"] == "UP" ? 1 : 0});
    }
  }
  return out;
}

}  // namespace dpx::control
