#include "proxy/config.h"

#include <toml++/toml.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <sstream>
#include <type_traits>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "net/ipv4_addr.h"

namespace dpx::proxy {

namespace {

// Debian's absl has its own string_view type (not std::string_view); these
// convert at the boundary.
absl::string_view AV(std::string_view s) { return absl::string_view(s.data(), s.size()); }
std::string_view SV(absl::string_view s) { return std::string_view(s.data(), s.size()); }

constexpr const char* kBalanceNames[] = {"roundrobin", "leastconn", "maglev"};
constexpr const char* kFailureNames[] = {"reset", "close"};

std::string TypeName(const toml::node& n) {
  std::ostringstream os;
  os << n.type();
  return os.str();
}

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

bool IsPrime(uint32_t n) {
  if (n < 2) return false;
  if (n % 2 == 0) return n == 2;
  for (uint32_t d = 3; uint64_t{d} * d <= n; d += 2) {
    if (n % d == 0) return false;
  }
  return true;
}

// Frontend and pool names: [A-Za-z0-9_.-], 1..64. Backend names may also
// hold ':' (their default is "ADDR:PORT").
bool ValidName(std::string_view s, bool allow_colon) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    if (absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.') {
      continue;
    }
    if (allow_colon && c == ':') continue;
    return false;
  }
  return true;
}

// Parsing context: names the source file in every error.
class Reader {
 public:
  explicit Reader(std::string file) : file_(std::move(file)) {}

  absl::Status Error(const toml::source_region& r, std::string_view key,
                     std::string_view msg) const {
    std::string where = file_;
    if (r.begin.line > 0) {
      absl::StrAppend(&where, ":", r.begin.line);
      if (r.begin.column > 0) absl::StrAppend(&where, ":", r.begin.column);
    }
    return absl::InvalidArgumentError(absl::StrFormat("%s: %s: %s", where, AV(key), AV(msg)));
  }

  absl::Status CheckKeys(const toml::table& t, std::string_view path,
                         std::initializer_list<std::string_view> known) const {
    for (auto&& [k, v] : t) {
      const std::string_view name = k.str();
      if (std::find(known.begin(), known.end(), name) != known.end()) continue;
      const std::string full =
          path.empty() ? std::string(name) : absl::StrCat(AV(path), ".", AV(name));
      std::string hint;
      size_t best = 3;  // suggest only close matches
      for (std::string_view cand : known) {
        const size_t d = EditDistance(name, cand);
        if (d < best) {
          best = d;
          hint = absl::StrFormat(" (did you mean \"%s\"?)", AV(cand));
        }
      }
      std::vector<std::string> names(known.begin(), known.end());
      return Error(k.source(), full,
                   absl::StrCat("unknown key", hint, "; known here: ", absl::StrJoin(names, ", ")));
    }
    return absl::OkStatus();
  }

  absl::Status String(const toml::node& n, std::string_view key, std::string* out) const {
    const auto* s = n.as_string();
    if (s == nullptr) {
      return Error(n.source(), key, absl::StrCat("must be a string, got ", TypeName(n)));
    }
    *out = s->get();
    return absl::OkStatus();
  }

  absl::Status UInt(const toml::node& n, std::string_view key, int64_t lo, int64_t hi,
                    uint32_t* out) const {
    const auto* i = n.as_integer();
    if (i == nullptr) {
      return Error(n.source(), key, absl::StrCat("must be an integer, got ", TypeName(n)));
    }
    if (i->get() < lo || i->get() > hi) {
      return Error(n.source(), key,
                   absl::StrFormat("must be in [%d, %d], got %d", lo, hi, i->get()));
    }
    *out = static_cast<uint32_t>(i->get());
    return absl::OkStatus();
  }

  absl::Status Table(const toml::node& n, std::string_view key, const toml::table** out) const {
    *out = n.as_table();
    if (*out == nullptr) {
      return Error(n.source(), key, absl::StrCat("must be a table, got ", TypeName(n)));
    }
    return absl::OkStatus();
  }

  absl::Status Name(const toml::node& n, std::string_view key, bool allow_colon,
                    std::string* out) const {
    if (auto st = String(n, key, out); !st.ok()) return st;
    if (!ValidName(*out, allow_colon)) {
      return Error(n.source(), key,
                   absl::StrFormat("\"%s\" is not a valid name: 1-64 characters of "
                                   "[A-Za-z0-9_.-]%s",
                                   *out, allow_colon ? " and ':'" : ""));
    }
    return absl::OkStatus();
  }

  absl::Status Missing(const toml::node& table, std::string_view key, std::string_view what) const {
    return Error(table.source(), key, absl::StrCat("missing: ", AV(what)));
  }

  const std::string& file() const { return file_; }

 private:
  std::string file_;
};

#define PROXY_CONFIG_RETURN_IF_ERROR(expr)                \
  do {                                                    \
    if (absl::Status _st = (expr); !_st.ok()) return _st; \
  } while (0)

// Where things were written, for the checks that need the whole file.
struct FrontendSrc {
  toml::source_region table, name, listen, pool;
};
struct BackendSrc {
  toml::source_region table, name, address;
};
struct PoolSrc {
  toml::source_region table, name, backends, maglev;
  bool maglev_given = false;
  std::vector<BackendSrc> backends_src;
};

absl::Status ParseSettings(const Reader& r, const toml::table& t, ProxySettings* s) {
  PROXY_CONFIG_RETURN_IF_ERROR(r.CheckKeys(
      t, "proxy", {"workers", "max_sessions", "sndbuf_high_water", "sndbuf_low_water"}));
  if (const toml::node* n = t.get("workers")) {
    PROXY_CONFIG_RETURN_IF_ERROR(r.UInt(*n, "proxy.workers", 0, kMaxWorkers, &s->workers));
  }
  if (const toml::node* n = t.get("max_sessions")) {
    PROXY_CONFIG_RETURN_IF_ERROR(
        r.UInt(*n, "proxy.max_sessions", 0, kMaxMaxSessions, &s->max_sessions));
  }
  if (const toml::node* n = t.get("sndbuf_high_water")) {
    PROXY_CONFIG_RETURN_IF_ERROR(r.UInt(*n, "proxy.sndbuf_high_water", kMinSndbufHighWater,
                                        kMaxSndbufHighWater, &s->sndbuf_high_water));
  }
  s->sndbuf_low_water = s->sndbuf_high_water / 2;
  if (const toml::node* n = t.get("sndbuf_low_water")) {
    PROXY_CONFIG_RETURN_IF_ERROR(
        r.UInt(*n, "proxy.sndbuf_low_water", 0, kMaxSndbufHighWater, &s->sndbuf_low_water));
    if (s->sndbuf_low_water >= s->sndbuf_high_water) {
      return r.Error(n->source(), "proxy.sndbuf_low_water",
                     absl::StrFormat("must be below sndbuf_high_water (%d), got %d",
                                     s->sndbuf_high_water, s->sndbuf_low_water));
    }
  }
  return absl::OkStatus();
}

absl::Status ParseFrontend(const Reader& r, const toml::table& t, size_t index, FrontendConfig* f,
                           FrontendSrc* src) {
  const std::string path = absl::StrFormat("frontend[%d]", index);
  auto key = [&](std::string_view k) { return absl::StrCat(path, ".", AV(k)); };
  src->table = t.source();
  PROXY_CONFIG_RETURN_IF_ERROR(
      r.CheckKeys(t, path,
                  {"name", "listen", "backlog", "pool", "balance", "connect_timeout_ms",
                   "idle_timeout_ms", "connect_retries", "on_backend_failure"}));
  const toml::node* n = t.get("name");
  if (n == nullptr) return r.Missing(t, key("name"), "every [[frontend]] needs a name");
  PROXY_CONFIG_RETURN_IF_ERROR(r.Name(*n, key("name"), false, &f->name));
  src->name = n->source();

  n = t.get("listen");
  if (n == nullptr) {
    return r.Missing(t, key("listen"), "the address to listen on, \"ADDR:PORT\"");
  }
  std::string s;
  PROXY_CONFIG_RETURN_IF_ERROR(r.String(*n, key("listen"), &s));
  std::string why;
  if (!ParseEndpoint(s, &f->listen, &why)) {
    return r.Error(n->source(), key("listen"), absl::StrFormat("\"%s\": %s", s, why));
  }
  if (Ipv4IsMulticast(f->listen.addr_be) || Ipv4IsLimitedBroadcast(f->listen.addr_be) ||
      Ipv4IsLoopback(f->listen.addr_be)) {
    return r.Error(n->source(), key("listen"),
                   absl::StrFormat("\"%s\": must be 0.0.0.0 or a unicast address of the "
                                   "appliance (not loopback, multicast or broadcast)",
                                   s));
  }
  src->listen = n->source();

  if ((n = t.get("backlog"))) {
    PROXY_CONFIG_RETURN_IF_ERROR(r.UInt(*n, key("backlog"), 1, kMaxBacklog, &f->backlog));
  }
  n = t.get("pool");
  if (n == nullptr) return r.Missing(t, key("pool"), "the name of the [[pool]] to connect to");
  PROXY_CONFIG_RETURN_IF_ERROR(r.Name(*n, key("pool"), false, &f->pool));
  src->pool = n->source();

  if ((n = t.get("balance"))) {
    PROXY_CONFIG_RETURN_IF_ERROR(r.String(*n, key("balance"), &s));
    if (!ParseBalanceMode(s, &f->balance)) {
      return r.Error(
          n->source(), key("balance"),
          absl::StrFormat("must be one of roundrobin, leastconn, maglev, got \"%s\"", s));
    }
  }
  if ((n = t.get("connect_timeout_ms"))) {
    PROXY_CONFIG_RETURN_IF_ERROR(r.UInt(*n, key("connect_timeout_ms"), kMinConnectTimeoutMs,
                                        kMaxConnectTimeoutMs, &f->connect_timeout_ms));
  }
  if ((n = t.get("idle_timeout_ms"))) {
    PROXY_CONFIG_RETURN_IF_ERROR(
        r.UInt(*n, key("idle_timeout_ms"), 0, kMaxIdleTimeoutMs, &f->idle_timeout_ms));
    if (f->idle_timeout_ms != 0 && f->idle_timeout_ms < kMinIdleTimeoutMs) {
      return r.Error(n->source(), key("idle_timeout_ms"),
                     absl::StrFormat("must be 0 (no idle timeout) or in [%d, %d], got %d",
                                     kMinIdleTimeoutMs, kMaxIdleTimeoutMs, f->idle_timeout_ms));
    }
  }
  if ((n = t.get("connect_retries"))) {
    PROXY_CONFIG_RETURN_IF_ERROR(
        r.UInt(*n, key("connect_retries"), 0, kMaxConnectRetries, &f->connect_retries));
  }
  if ((n = t.get("on_backend_failure"))) {
    PROXY_CONFIG_RETURN_IF_ERROR(r.String(*n, key("on_backend_failure"), &s));
    if (s == "reset") {
      f->on_backend_failure = BackendFailureAction::kReset;
    } else if (s == "close") {
      f->on_backend_failure = BackendFailureAction::kClose;
    } else {
      return r.Error(n->source(), key("on_backend_failure"),
                     absl::StrFormat("must be \"reset\" or \"close\", got \"%s\"", s));
    }
  }
  return absl::OkStatus();
}

absl::Status ParseHealth(const Reader& r, const toml::table& t, const std::string& path,
                         HealthCheckConfig* h) {
  auto key = [&](std::string_view k) { return absl::StrCat(path, ".", AV(k)); };
  PROXY_CONFIG_RETURN_IF_ERROR(r.CheckKeys(t, path, {"interval_ms", "timeout_ms", "rise", "fall"}));
  h->enabled = true;
  if (const toml::node* n = t.get("interval_ms")) {
    PROXY_CONFIG_RETURN_IF_ERROR(r.UInt(*n, key("interval_ms"), kMinHealthIntervalMs,
                                        kMaxHealthIntervalMs, &h->interval_ms));
  }
  if (const toml::node* n = t.get("timeout_ms")) {
    PROXY_CONFIG_RETURN_IF_ERROR(
        r.UInt(*n, key("timeout_ms"), kMinHealthTimeoutMs, kMaxHealthIntervalMs, &h->timeout_ms));
    if (h->timeout_ms > h->interval_ms) {
      return r.Error(n->source(), key("timeout_ms"),
                     absl::StrFormat("must not exceed interval_ms (%d), got %d", h->interval_ms,
                                     h->timeout_ms));
    }
  } else {
    h->timeout_ms = std::min(h->timeout_ms, h->interval_ms);
  }
  if (const toml::node* n = t.get("rise")) {
    PROXY_CONFIG_RETURN_IF_ERROR(r.UInt(*n, key("rise"), 1, kMaxRiseFall, &h->rise));
  }
  if (const toml::node* n = t.get("fall")) {
    PROXY_CONFIG_RETURN_IF_ERROR(r.UInt(*n, key("fall"), 1, kMaxRiseFall, &h->fall));
  }
  return absl::OkStatus();
}

absl::Status ParseBackend(const Reader& r, const toml::node& node, const std::string& path,
                          BackendConfig* b, BackendSrc* src) {
  auto key = [&](std::string_view k) { return absl::StrCat(path, ".", AV(k)); };
  const toml::table* t = node.as_table();
  if (t == nullptr) {
    return r.Error(node.source(), path,
                   absl::StrCat("must be a table {address = \"ADDR:PORT\", weight = N}, got ",
                                TypeName(node)));
  }
  src->table = t->source();
  PROXY_CONFIG_RETURN_IF_ERROR(r.CheckKeys(*t, path, {"address", "weight", "name"}));
  const toml::node* n = t->get("address");
  if (n == nullptr) return r.Missing(*t, key("address"), "the backend's \"ADDR:PORT\"");
  std::string s;
  PROXY_CONFIG_RETURN_IF_ERROR(r.String(*n, key("address"), &s));
  std::string why;
  if (!ParseEndpoint(s, &b->endpoint, &why)) {
    return r.Error(n->source(), key("address"), absl::StrFormat("\"%s\": %s", s, why));
  }
  const uint32_t a = b->endpoint.addr_be;
  if (a == kIpv4Any || Ipv4IsMulticast(a) || Ipv4IsLimitedBroadcast(a) || Ipv4IsLoopback(a) ||
      Ipv4IsZeronet(a)) {
    return r.Error(n->source(), key("address"),
                   absl::StrFormat("\"%s\": a backend must be a unicast address reachable from "
                                   "the appliance's ports (not 0.0.0.0/8, loopback, multicast "
                                   "or broadcast; dpx has no loopback interface)",
                                   s));
  }
  src->address = n->source();
  b->name = FormatEndpoint(b->endpoint);
  src->name = n->source();
  if ((n = t->get("name"))) {
    PROXY_CONFIG_RETURN_IF_ERROR(r.Name(*n, key("name"), true, &b->name));
    src->name = n->source();
  }
  if ((n = t->get("weight"))) {
    PROXY_CONFIG_RETURN_IF_ERROR(r.UInt(*n, key("weight"), 1, kMaxWeight, &b->weight));
  }
  return absl::OkStatus();
}

absl::Status ParsePool(const Reader& r, const toml::table& t, size_t index, PoolConfig* p,
                       PoolSrc* src) {
  const std::string path = absl::StrFormat("pool[%d]", index);
  auto key = [&](std::string_view k) { return absl::StrCat(path, ".", AV(k)); };
  src->table = t.source();
  PROXY_CONFIG_RETURN_IF_ERROR(
      r.CheckKeys(t, path, {"name", "backends", "health", "maglev_table_size"}));
  const toml::node* n = t.get("name");
  if (n == nullptr) return r.Missing(t, key("name"), "every [[pool]] needs a name");
  PROXY_CONFIG_RETURN_IF_ERROR(r.Name(*n, key("name"), false, &p->name));
  src->name = n->source();

  n = t.get("backends");
  if (n == nullptr) {
    return r.Missing(t, key("backends"),
                     "a pool needs at least one backend: backends = [{address = \"ADDR:PORT\"}]");
  }
  const toml::array* arr = n->as_array();
  if (arr == nullptr) {
    return r.Error(n->source(), key("backends"),
                   absl::StrCat("must be an array of tables [{address = \"ADDR:PORT\", "
                                "weight = N}, ...], got ",
                                TypeName(*n)));
  }
  src->backends = n->source();
  if (arr->empty()) {
    return r.Error(n->source(), key("backends"), "must list at least one backend");
  }
  if (arr->size() > kMaxBackendsPerPool) {
    return r.Error(
        n->source(), key("backends"),
        absl::StrFormat("at most %d backends per pool, got %d", kMaxBackendsPerPool, arr->size()));
  }
  for (size_t i = 0; i < arr->size(); ++i) {
    BackendConfig b;
    BackendSrc bs;
    PROXY_CONFIG_RETURN_IF_ERROR(
        ParseBackend(r, *arr->get(i), absl::StrFormat("%s[%d]", key("backends"), i), &b, &bs));
    p->backends.push_back(std::move(b));
    src->backends_src.push_back(bs);
  }

  if ((n = t.get("health"))) {
    const toml::table* ht;
    PROXY_CONFIG_RETURN_IF_ERROR(r.Table(*n, key("health"), &ht));
    PROXY_CONFIG_RETURN_IF_ERROR(ParseHealth(r, *ht, key("health"), &p->health));
  }
  if ((n = t.get("maglev_table_size"))) {
    PROXY_CONFIG_RETURN_IF_ERROR(r.UInt(*n, key("maglev_table_size"), kMinMaglevTableSize,
                                        kMaxMaglevTableSize, &p->maglev_table_size));
    if (!IsPrime(p->maglev_table_size)) {
      return r.Error(n->source(), key("maglev_table_size"),
                     absl::StrFormat("must be a prime number (e.g. 65537, 131071, 262139), "
                                     "got %d",
                                     p->maglev_table_size));
    }
    src->maglev = n->source();
    src->maglev_given = true;
  }
  return absl::OkStatus();
}

// Checks that need the whole file: names, references, listen conflicts.
absl::Status CrossCheck(const Reader& r, const ProxyConfig& c, const std::vector<FrontendSrc>& fsrc,
                        const std::vector<PoolSrc>& psrc) {
  absl::flat_hash_map<std::string, size_t> pools;
  for (size_t i = 0; i < c.pools.size(); ++i) {
    const PoolConfig& p = c.pools[i];
    auto [it, fresh] = pools.emplace(p.name, i);
    if (!fresh) {
      return r.Error(psrc[i].name, absl::StrFormat("pool[%d].name", i),
                     absl::StrFormat("duplicate pool name \"%s\" (first defined as pool[%d])",
                                     p.name, it->second));
    }
    absl::flat_hash_map<std::string, size_t> names;
    absl::flat_hash_map<uint64_t, size_t> addrs;
    for (size_t j = 0; j < p.backends.size(); ++j) {
      const BackendConfig& b = p.backends[j];
      auto [nit, nfresh] = names.emplace(b.name, j);
      if (!nfresh) {
        return r.Error(psrc[i].backends_src[j].name,
                       absl::StrFormat("pool[%d].backends[%d].name", i, j),
                       absl::StrFormat("duplicate backend name \"%s\" in pool \"%s\" (first: "
                                       "backends[%d])",
                                       b.name, p.name, nit->second));
      }
      const uint64_t ak = (uint64_t{b.endpoint.addr_be} << 16) | b.endpoint.port;
      auto [ait, afresh] = addrs.emplace(ak, j);
      if (!afresh) {
        return r.Error(psrc[i].backends_src[j].address,
                       absl::StrFormat("pool[%d].backends[%d].address", i, j),
                       absl::StrFormat("duplicate backend address %s in pool \"%s\" (first: "
                                       "backends[%d]); use weight to give it a larger share",
                                       FormatEndpoint(b.endpoint), p.name, ait->second));
      }
    }
    const uint64_t need = uint64_t{kMaglevEntriesPerBackend} * p.backends.size();
    if (p.maglev_table_size < need) {
      const toml::source_region& where = psrc[i].maglev_given ? psrc[i].maglev : psrc[i].backends;
      return r.Error(
          where, absl::StrFormat("pool[%d].maglev_table_size", i),
          absl::StrFormat("%d entries is too small for %d backends: Maglev needs at "
                          "least %d per backend (a prime >= %d)",
                          p.maglev_table_size, p.backends.size(), kMaglevEntriesPerBackend, need));
    }
  }
  absl::flat_hash_map<std::string, size_t> fronts;
  for (size_t i = 0; i < c.frontends.size(); ++i) {
    const FrontendConfig& f = c.frontends[i];
    auto [it, fresh] = fronts.emplace(f.name, i);
    if (!fresh) {
      return r.Error(fsrc[i].name, absl::StrFormat("frontend[%d].name", i),
                     absl::StrFormat("duplicate frontend name \"%s\" (first defined as "
                                     "frontend[%d])",
                                     f.name, it->second));
    }
    if (!pools.contains(f.pool)) {
      std::vector<std::string> known;
      for (const PoolConfig& p : c.pools) known.push_back(p.name);
      return r.Error(fsrc[i].pool, absl::StrFormat("frontend[%d].pool", i),
                     absl::StrFormat("unknown pool \"%s\" (pools: %s)", f.pool,
                                     known.empty() ? "none" : absl::StrJoin(known, ", ")));
    }
    for (size_t j = 0; j < i; ++j) {
      const FrontendConfig& g = c.frontends[j];
      if (g.listen.port != f.listen.port) continue;
      if (g.listen.addr_be == f.listen.addr_be || g.listen.addr_be == kIpv4Any ||
          f.listen.addr_be == kIpv4Any) {
        return r.Error(fsrc[i].listen, absl::StrFormat("frontend[%d].listen", i),
                       absl::StrFormat("%s overlaps frontend \"%s\" listening on %s",
                                       FormatEndpoint(f.listen), g.name, FormatEndpoint(g.listen)));
      }
    }
  }
  return absl::OkStatus();
}

template <typename T>
void AppendNames(std::string* out, char sign, const std::vector<T>& v) {
  for (const auto& x : v) {
    if constexpr (std::is_same_v<T, std::string>) {
      absl::StrAppend(out, " ", std::string(1, sign), x);
    } else {
      absl::StrAppend(out, " ", std::string(1, sign), x.name);
    }
  }
}

}  // namespace

const char* BalanceModeName(BalanceMode mode) { return kBalanceNames[static_cast<size_t>(mode)]; }

bool ParseBalanceMode(std::string_view name, BalanceMode* out) {
  for (size_t i = 0; i < std::size(kBalanceNames); ++i) {
    if (name == kBalanceNames[i]) {
      *out = static_cast<BalanceMode>(i);
      return true;
    }
  }
  return false;
}

const char* BackendFailureActionName(BackendFailureAction action) {
  return kFailureNames[static_cast<size_t>(action)];
}

std::string FormatEndpoint(const Endpoint& ep) {
  return absl::StrCat(FormatIpv4(ep.addr_be), ":", ep.port);
}

bool ParseEndpoint(std::string_view text, Endpoint* out, std::string* why) {
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    *why = "must be \"ADDR:PORT\" (an IPv4 address, a colon and a port)";
    return false;
  }
  const std::string_view addr = text.substr(0, colon);
  const std::string_view port = text.substr(colon + 1);
  uint32_t be;
  if (!ParseIpv4(addr, &be)) {
    *why = absl::StrFormat("\"%s\" is not a dotted-quad IPv4 address (dpx does no DNS)", AV(addr));
    return false;
  }
  uint32_t p = 0;
  if (port.empty() || port.size() > 5 ||
      !std::all_of(port.begin(), port.end(),
                   [](char c) { return absl::ascii_isdigit(static_cast<unsigned char>(c)); }) ||
      !absl::SimpleAtoi(AV(port), &p) || p < 1 || p > 65535) {
    *why = absl::StrFormat("port \"%s\" must be a number in [1, 65535]", AV(port));
    return false;
  }
  out->addr_be = be;
  out->port = static_cast<uint16_t>(p);
  return true;
}

int PoolConfig::FindBackend(std::string_view backend_name) const {
  for (size_t i = 0; i < backends.size(); ++i) {
    if (backends[i].name == backend_name) return static_cast<int>(i);
  }
  return -1;
}

const FrontendConfig* ProxyConfig::FindFrontend(std::string_view name) const {
  for (const FrontendConfig& f : frontends) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

const PoolConfig* ProxyConfig::FindPool(std::string_view name) const {
  for (const PoolConfig& p : pools) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

absl::StatusOr<ProxyConfig> ParseProxyConfig(absl::string_view text, absl::string_view filename) {
  const std::string file(filename);
  Reader r(file);
  toml::table root;
  try {
    root = toml::parse(SV(text), SV(filename));
  } catch (const toml::parse_error& e) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s:%d:%d: TOML syntax: %s", file, e.source().begin.line,
                        e.source().begin.column, AV(e.description())));
  }
  ProxyConfig c;
  c.source = file;
  PROXY_CONFIG_RETURN_IF_ERROR(r.CheckKeys(root, "", {"proxy", "frontend", "pool"}));

  if (const toml::node* n = root.get("proxy")) {
    const toml::table* t;
    PROXY_CONFIG_RETURN_IF_ERROR(r.Table(*n, "proxy", &t));
    PROXY_CONFIG_RETURN_IF_ERROR(ParseSettings(r, *t, &c.settings));
  }

  std::vector<PoolSrc> psrc;
  if (const toml::node* n = root.get("pool")) {
    const toml::array* arr = n->as_array();
    if (arr == nullptr || !arr->is_array_of_tables()) {
      return r.Error(n->source(), "pool", "must be an array of tables: write [[pool]]");
    }
    if (arr->size() > kMaxPools) {
      return r.Error(n->source(), "pool",
                     absl::StrFormat("at most %d pools, got %d", kMaxPools, arr->size()));
    }
    for (size_t i = 0; i < arr->size(); ++i) {
      PoolConfig p;
      PoolSrc s;
      PROXY_CONFIG_RETURN_IF_ERROR(ParsePool(r, *arr->get(i)->as_table(), i, &p, &s));
      c.pools.push_back(std::move(p));
      psrc.push_back(std::move(s));
    }
  }

  std::vector<FrontendSrc> fsrc;
  const toml::node* fnode = root.get("frontend");
  if (fnode == nullptr) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s:1: frontend: missing: a proxy config needs at least one [[frontend]]", file));
  }
  const toml::array* farr = fnode->as_array();
  if (farr == nullptr || !farr->is_array_of_tables()) {
    return r.Error(fnode->source(), "frontend", "must be an array of tables: write [[frontend]]");
  }
  if (farr->size() > kMaxFrontends) {
    return r.Error(fnode->source(), "frontend",
                   absl::StrFormat("at most %d frontends, got %d", kMaxFrontends, farr->size()));
  }
  for (size_t i = 0; i < farr->size(); ++i) {
    FrontendConfig f;
    FrontendSrc s;
    PROXY_CONFIG_RETURN_IF_ERROR(ParseFrontend(r, *farr->get(i)->as_table(), i, &f, &s));
    c.frontends.push_back(std::move(f));
    fsrc.push_back(s);
  }
  PROXY_CONFIG_RETURN_IF_ERROR(CrossCheck(r, c, fsrc, psrc));
  return c;
}

absl::StatusOr<ProxyConfig> LoadProxyConfigFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(absl::StrFormat("%s: cannot open: %s", path, std::strerror(errno)));
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) {
    return absl::DataLossError(absl::StrFormat("%s: read error", path));
  }
  const std::string text = ss.str();
  return ParseProxyConfig(text, path);
}

std::string FormatProxyConfig(const ProxyConfig& c) {
  std::string out;
  const ProxySettings& s = c.settings;
  absl::StrAppendFormat(&out,
                        "[proxy]\nworkers = %d\nmax_sessions = %d\nsndbuf_high_water = %d\n"
                        "sndbuf_low_water = %d\n",
                        s.workers, s.max_sessions, s.sndbuf_high_water, s.sndbuf_low_water);
  for (const FrontendConfig& f : c.frontends) {
    absl::StrAppendFormat(&out,
                          "\n[[frontend]]\nname = \"%s\"\nlisten = \"%s\"\nbacklog = %d\n"
                          "pool = \"%s\"\nbalance = \"%s\"\nconnect_timeout_ms = %d\n"
                          "idle_timeout_ms = %d\nconnect_retries = %d\n"
                          "on_backend_failure = \"%s\"\n",
                          f.name, FormatEndpoint(f.listen), f.backlog, f.pool,
                          BalanceModeName(f.balance), f.connect_timeout_ms, f.idle_timeout_ms,
                          f.connect_retries, BackendFailureActionName(f.on_backend_failure));
  }
  for (const PoolConfig& p : c.pools) {
    absl::StrAppendFormat(&out, "\n[[pool]]\nname = \"%s\"\nmaglev_table_size = %d\n", p.name,
                          p.maglev_table_size);
    if (p.health.enabled) {
      absl::StrAppendFormat(&out,
                            "health = { interval_ms = %d, timeout_ms = %d, rise = %d, fall = %d "
                            "}\n",
                            p.health.interval_ms, p.health.timeout_ms, p.health.rise,
                            p.health.fall);
    }
    out += "backends = [\n";
    for (const BackendConfig& b : p.backends) {
      absl::StrAppendFormat(&out, "  { name = \"%s\", address = \"%s\", weight = %d },\n", b.name,
                            FormatEndpoint(b.endpoint), b.weight);
    }
    out += "]\n";
  }
  return out;
}

bool PoolDiff::RebuildBalancer() const {
  return !backends_added.empty() || !backends_removed.empty() || !backends_changed.empty() ||
         backends_reordered || maglev_table_size_changed;
}

bool ConfigDiff::empty() const {
  return frontends_added.empty() && frontends_removed.empty() && frontends_changed.empty() &&
         pools_added.empty() && pools_removed.empty() && pools_changed.empty() && !settings_changed;
}

std::string ConfigDiff::Summary() const {
  if (empty()) return "no changes";
  std::vector<std::string> parts;
  if (!frontends_added.empty() || !frontends_removed.empty() || !frontends_changed.empty()) {
    std::string s = "frontends";
    AppendNames(&s, '+', frontends_added);
    AppendNames(&s, '-', frontends_removed);
    for (const FrontendDiff& f : frontends_changed) {
      std::vector<std::string> what;
      if (f.listen_changed) what.push_back("listen");
      if (f.backlog_changed) what.push_back("backlog");
      if (f.pool_changed) what.push_back("pool");
      if (f.balance_changed) what.push_back("balance");
      if (f.timeouts_changed) what.push_back("timeouts");
      absl::StrAppend(&s, " ~", f.name, "(", absl::StrJoin(what, ","), ")");
    }
    parts.push_back(std::move(s));
  }
  if (!pools_added.empty() || !pools_removed.empty() || !pools_changed.empty()) {
    std::string s = "pools";
    AppendNames(&s, '+', pools_added);
    AppendNames(&s, '-', pools_removed);
    for (const PoolDiff& p : pools_changed) {
      std::vector<std::string> what;
      for (const auto& b : p.backends_added) what.push_back("+" + b);
      for (const auto& b : p.backends_removed) what.push_back("-" + b);
      for (const auto& b : p.backends_changed) what.push_back("~" + b);
      if (p.backends_reordered) what.push_back("order");
      if (p.health_changed) what.push_back("health");
      if (p.maglev_table_size_changed) what.push_back("maglev_table_size");
      absl::StrAppend(&s, " ~", p.name, "(", absl::StrJoin(what, " "), ")");
    }
    parts.push_back(std::move(s));
  }
  if (settings_changed) parts.push_back("proxy ~settings");
  return absl::StrJoin(parts, "; ");
}

ConfigDiff DiffConfig(const ProxyConfig& o, const ProxyConfig& n) {
  ConfigDiff d;
  d.settings_changed = !(o.settings == n.settings);
  for (const FrontendConfig& f : o.frontends) {
    if (n.FindFrontend(f.name) == nullptr) d.frontends_removed.push_back(f.name);
  }
  for (const FrontendConfig& f : n.frontends) {
    const FrontendConfig* old = o.FindFrontend(f.name);
    if (old == nullptr) {
      d.frontends_added.push_back(f.name);
      continue;
    }
    if (*old == f) continue;
    FrontendDiff fd;
    fd.name = f.name;
    fd.listen_changed = !(old->listen == f.listen);
    fd.backlog_changed = old->backlog != f.backlog;
    fd.pool_changed = old->pool != f.pool;
    fd.balance_changed = old->balance != f.balance;
    fd.timeouts_changed = old->connect_timeout_ms != f.connect_timeout_ms ||
                          old->idle_timeout_ms != f.idle_timeout_ms ||
                          old->connect_retries != f.connect_retries ||
                          old->on_backend_failure != f.on_backend_failure;
    d.frontends_changed.push_back(std::move(fd));
  }
  for (const PoolConfig& p : o.pools) {
    if (n.FindPool(p.name) == nullptr) d.pools_removed.push_back(p.name);
  }
  for (const PoolConfig& p : n.pools) {
    const PoolConfig* old = o.FindPool(p.name);
    if (old == nullptr) {
      d.pools_added.push_back(p.name);
      continue;
    }
    if (*old == p) continue;
    PoolDiff pd;
    pd.name = p.name;
    pd.health_changed = !(old->health == p.health);
    pd.maglev_table_size_changed = old->maglev_table_size != p.maglev_table_size;
    for (const BackendConfig& b : old->backends) {
      if (p.FindBackend(b.name) < 0) pd.backends_removed.push_back(b.name);
    }
    std::vector<std::string> kept_old_order, kept_new_order;
    for (const BackendConfig& b : old->backends) {
      if (p.FindBackend(b.name) >= 0) kept_old_order.push_back(b.name);
    }
    for (const BackendConfig& b : p.backends) {
      const int oi = old->FindBackend(b.name);
      if (oi < 0) {
        pd.backends_added.push_back(b.name);
        continue;
      }
      kept_new_order.push_back(b.name);
      if (!(old->backends[static_cast<size_t>(oi)] == b)) pd.backends_changed.push_back(b.name);
    }
    pd.backends_reordered = kept_old_order != kept_new_order;
    d.pools_changed.push_back(std::move(pd));
  }
  return d;
}

#undef PROXY_CONFIG_RETURN_IF_ERROR

}  // namespace dpx::proxy
