// The proxy's configuration: frontends (where dpx listens), backend pools
// (where it connects) and appliance-wide limits, read from a TOML file.
// docs/proxy-config.md is the operator's reference for every key, its
// default and its limits; the constants below are the same numbers.
//
// Parsing is all-or-nothing: ParseProxyConfig either returns a complete,
// validated config or one error naming file:line:column and the key, so a
// bad reload keeps the running config. Unknown keys are errors (a typo must
// not silently become a default).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace dpx::proxy {

enum class BalanceMode : uint8_t {
  kRoundRobin,  // smooth weighted round robin (nginx)
  kLeastConn,   // weighted least connections, ties by weighted round robin
  kMaglev,      // consistent hash of the client address (Maglev, NSDI'16)
};
// "roundrobin", "leastconn", "maglev".
const char* BalanceModeName(BalanceMode mode);
bool ParseBalanceMode(std::string_view name, BalanceMode* out);

// What the client sees when no backend could be connected (refused, timed
// out, or none up) after the retries.
enum class BackendFailureAction : uint8_t {
  kReset,  // RST the client (abort: unread data discarded)
  kClose,  // orderly close: FIN after anything already queued
};
// "reset", "close".
const char* BackendFailureActionName(BackendFailureAction action);

// An IPv4 address and TCP port. addr_be is network order like the rest of
// the data path; port is host order.
struct Endpoint {
  uint32_t addr_be = 0;
  uint16_t port = 0;
  friend bool operator==(const Endpoint&, const Endpoint&) = default;
};
// "10.0.0.1:80".
std::string FormatEndpoint(const Endpoint& ep);
// Strict "A.B.C.D:PORT", port 1..65535. On failure returns false and sets
// *why to a short reason.
bool ParseEndpoint(std::string_view text, Endpoint* out, std::string* why);

// Limits and defaults. docs/proxy-config.md repeats them.
inline constexpr uint32_t kDefaultBacklog = 511;
inline constexpr uint32_t kMaxBacklog = 65535;
inline constexpr uint32_t kDefaultConnectTimeoutMs = 5000;
inline constexpr uint32_t kMinConnectTimeoutMs = 10;
inline constexpr uint32_t kMaxConnectTimeoutMs = 300000;
inline constexpr uint32_t kDefaultIdleTimeoutMs = 300000;  // 0 = no idle timeout
inline constexpr uint32_t kMinIdleTimeoutMs = 1000;
inline constexpr uint32_t kMaxIdleTimeoutMs = 86400000;  // 24 h
inline constexpr uint32_t kDefaultConnectRetries = 2;
inline constexpr uint32_t kMaxConnectRetries = 10;
inline constexpr uint32_t kMaxWeight = 256;
inline constexpr uint32_t kMaxBackendsPerPool = 1024;
inline constexpr uint32_t kMaxFrontends = 256;
inline constexpr uint32_t kMaxPools = 256;
inline constexpr uint32_t kDefaultMaglevTableSize = 65537;
inline constexpr uint32_t kMinMaglevTableSize = 101;
inline constexpr uint32_t kMaxMaglevTableSize = 1048573;   // largest prime < 2^20
inline constexpr uint32_t kMaglevEntriesPerBackend = 100;  // M >= 100 N (the paper's advice)
inline constexpr uint32_t kDefaultHealthIntervalMs = 2000;
inline constexpr uint32_t kMinHealthIntervalMs = 100;
inline constexpr uint32_t kMaxHealthIntervalMs = 3600000;
inline constexpr uint32_t kDefaultHealthTimeoutMs = 1000;
inline constexpr uint32_t kMinHealthTimeoutMs = 10;
inline constexpr uint32_t kDefaultRise = 2;
inline constexpr uint32_t kDefaultFall = 3;
inline constexpr uint32_t kMaxRiseFall = 100;
inline constexpr uint32_t kDefaultWorkers = 0;  // one per data-path lcore
inline constexpr uint32_t kMaxWorkers = 128;
inline constexpr uint32_t kDefaultMaxSessions = 1000000;
inline constexpr uint32_t kMaxMaxSessions = 16000000;
inline constexpr uint32_t kDefaultSndbufHighWater = 256 * 1024;
inline constexpr uint32_t kMinSndbufHighWater = 4096;
inline constexpr uint32_t kMaxSndbufHighWater = 64 * 1024 * 1024;

// [proxy]: appliance-wide settings.
struct ProxySettings {
  // Proxy worker processes; 0 = one per data-path lcore.
  uint32_t workers = kDefaultWorkers;
  // Sessions (client+backend socket pairs) across the appliance; an accept
  // beyond it is reset. 0 = unlimited.
  uint32_t max_sessions = kDefaultMaxSessions;
  // Backpressure: stop reading one side while the other side's unsent +
  // unacknowledged bytes are above sndbuf_high_water; read again once they
  // fall to sndbuf_low_water. Default low = high / 2.
  uint32_t sndbuf_high_water = kDefaultSndbufHighWater;
  uint32_t sndbuf_low_water = kDefaultSndbufHighWater / 2;
  friend bool operator==(const ProxySettings&, const ProxySettings&) = default;
};

struct HealthCheckConfig {
  bool enabled = false;  // off when the pool has no `health` table
  uint32_t interval_ms = kDefaultHealthIntervalMs;
  uint32_t timeout_ms = kDefaultHealthTimeoutMs;  // <= interval_ms
  uint32_t rise = kDefaultRise;                   // consecutive successes to go up
  uint32_t fall = kDefaultFall;                   // consecutive failures to go down
  friend bool operator==(const HealthCheckConfig&, const HealthCheckConfig&) = default;
};

struct BackendConfig {
  // Identity: unique in the pool, the Maglev hash input and the name in
  // counters. Defaults to the address as written ("10.0.0.1:80").
  std::string name;
  Endpoint endpoint;
  uint32_t weight = 1;  // 1..kMaxWeight
  friend bool operator==(const BackendConfig&, const BackendConfig&) = default;
};

struct PoolConfig {
  std::string name;
  std::vector<BackendConfig> backends;  // at least one
  HealthCheckConfig health;
  uint32_t maglev_table_size = kDefaultMaglevTableSize;  // prime
  // Index of the backend named `name`, or -1.
  int FindBackend(std::string_view backend_name) const;
  friend bool operator==(const PoolConfig&, const PoolConfig&) = default;
};

struct FrontendConfig {
  std::string name;
  Endpoint listen;  // addr_be 0 = every address of the appliance
  uint32_t backlog = kDefaultBacklog;
  std::string pool;
  BalanceMode balance = BalanceMode::kRoundRobin;
  uint32_t connect_timeout_ms = kDefaultConnectTimeoutMs;
  uint32_t idle_timeout_ms = kDefaultIdleTimeoutMs;  // 0 = none
  // Further connect attempts after the first fails (refused or timed out),
  // each to another backend when the pool has one up.
  uint32_t connect_retries = kDefaultConnectRetries;
  BackendFailureAction on_backend_failure = BackendFailureAction::kReset;
  friend bool operator==(const FrontendConfig&, const FrontendConfig&) = default;
};

struct ProxyConfig {
  std::string source;  // the file name errors were reported against
  ProxySettings settings;
  std::vector<FrontendConfig> frontends;  // file order
  std::vector<PoolConfig> pools;          // file order

  const FrontendConfig* FindFrontend(std::string_view name) const;
  const PoolConfig* FindPool(std::string_view name) const;
};

// Parses and validates `text`. `filename` names the source in errors:
// "proxy.toml:12:7: frontend[1].balance: must be one of roundrobin, leastconn,
// maglev, got \"rr\"".
absl::StatusOr<ProxyConfig> ParseProxyConfig(absl::string_view text, absl::string_view filename);
// Reads the file and parses it; a read error is an error naming the path.
absl::StatusOr<ProxyConfig> LoadProxyConfigFile(const std::string& path);

// The config as canonical TOML with every key explicit (defaults filled
// in); parsing it gives the same config back. For `dpxctl` to show what is
// running.
std::string FormatProxyConfig(const ProxyConfig& config);

// What a reload changes, by name. "Changed" means present in both with
// different settings.
struct PoolDiff {
  std::string name;
  std::vector<std::string> backends_added;  // by backend name
  std::vector<std::string> backends_removed;
  std::vector<std::string> backends_changed;  // address or weight
  bool backends_reordered = false;            // kept backends in another order (indices move)
  bool health_changed = false;
  bool maglev_table_size_changed = false;
  // The balancer must be rebuilt: a backend added, removed, changed or
  // moved, or the table size changed. A health-only change keeps it.
  bool RebuildBalancer() const;
};

struct FrontendDiff {
  std::string name;
  bool listen_changed = false;  // close the old listener, open the new one
  bool backlog_changed = false;
  bool pool_changed = false;  // points at another pool
  bool balance_changed = false;
  bool timeouts_changed = false;  // connect/idle timeout, retries, on_backend_failure
};

struct ConfigDiff {
  std::vector<std::string> frontends_added;
  std::vector<std::string> frontends_removed;
  std::vector<FrontendDiff> frontends_changed;
  std::vector<std::string> pools_added;
  std::vector<std::string> pools_removed;
  std::vector<PoolDiff> pools_changed;
  bool settings_changed = false;

  bool empty() const;
  // One line for the log: "frontends +web -old ~api(listen); pools ~app(+b3 -b1); proxy ~"
  // or "no changes".
  std::string Summary() const;
};

ConfigDiff DiffConfig(const ProxyConfig& old_config, const ProxyConfig& new_config);

}  // namespace dpx::proxy
