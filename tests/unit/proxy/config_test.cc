// ParseProxyConfig: the full example, defaults, errors that name
// file:line:column and the key for each kind of mistake, the canonical
// form, and DiffConfig.
#include "proxy/config.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "net/ipv4_addr.h"

namespace dpx::proxy {
namespace {

// Raw strings below start with a newline for readability; drop it so the
// first line of text is line 1.
std::string T(const char* s) {
  std::string t(s);
  if (!t.empty() && t[0] == '\n') t.erase(0, 1);
  return t;
}

absl::StatusOr<ProxyConfig> Parse(const std::string& text) {
  return ParseProxyConfig(text, "t.toml");
}

std::string ErrorOf(const std::string& text) {
  auto c = Parse(text);
  if (c.ok()) return "(parsed fine)";
  return std::string(c.status().message());
}

// The example of docs/proxy-config.md.
const char* kFull = R"(
[proxy]
workers = 4
max_sessions = 200000
sndbuf_high_water = 524288
sndbuf_low_water = 131072

[[frontend]]
name = "web"
listen = "10.1.1.2:80"
backlog = 1024
pool = "web-servers"
balance = "leastconn"
connect_timeout_ms = 3000
idle_timeout_ms = 600000
connect_retries = 3
on_backend_failure = "close"

[[frontend]]
name = "api"
listen = "0.0.0.0:8443"
pool = "api-servers"
balance = "maglev"

[[pool]]
name = "web-servers"
backends = [
  { address = "10.2.0.11:8080", weight = 3 },
  { address = "10.2.0.12:8080", weight = 1, name = "web-b" },
]
health = { interval_ms = 1000, timeout_ms = 500, rise = 2, fall = 3 }

[[pool]]
name = "api-servers"
maglev_table_size = 131071
backends = [
  { address = "10.2.1.1:9000" },
  { address = "10.2.1.2:9000" },
  { address = "10.2.1.3:9000" },
]
)";

TEST(ProxyConfig, ParsesTheFullExample) {
  auto c = Parse(T(kFull));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->source, "t.toml");
  EXPECT_EQ(c->settings.workers, 4u);
  EXPECT_EQ(c->settings.max_sessions, 200000u);
  EXPECT_EQ(c->settings.sndbuf_high_water, 524288u);
  EXPECT_EQ(c->settings.sndbuf_low_water, 131072u);
  ASSERT_EQ(c->frontends.size(), 2u);
  const FrontendConfig& web = c->frontends[0];
  EXPECT_EQ(web.name, "web");
  EXPECT_EQ(web.listen.addr_be, Ipv4Addr(10, 1, 1, 2));
  EXPECT_EQ(web.listen.port, 80);
  EXPECT_EQ(web.backlog, 1024u);
  EXPECT_EQ(web.pool, "web-servers");
  EXPECT_EQ(web.balance, BalanceMode::kLeastConn);
  EXPECT_EQ(web.connect_timeout_ms, 3000u);
  EXPECT_EQ(web.idle_timeout_ms, 600000u);
  EXPECT_EQ(web.connect_retries, 3u);
  EXPECT_EQ(web.on_backend_failure, BackendFailureAction::kClose);
  const FrontendConfig& api = c->frontends[1];
  EXPECT_EQ(api.listen.addr_be, kIpv4Any);
  EXPECT_EQ(api.listen.port, 8443);
  EXPECT_EQ(api.balance, BalanceMode::kMaglev);

  ASSERT_EQ(c->pools.size(), 2u);
  const PoolConfig& wp = c->pools[0];
  EXPECT_EQ(wp.name, "web-servers");
  ASSERT_EQ(wp.backends.size(), 2u);
  EXPECT_EQ(wp.backends[0].name, "10.2.0.11:8080");  // the address by default
  EXPECT_EQ(wp.backends[0].endpoint.addr_be, Ipv4Addr(10, 2, 0, 11));
  EXPECT_EQ(wp.backends[0].endpoint.port, 8080);
  EXPECT_EQ(wp.backends[0].weight, 3u);
  EXPECT_EQ(wp.backends[1].name, "web-b");
  EXPECT_EQ(wp.FindBackend("web-b"), 1);
  EXPECT_EQ(wp.FindBackend("nope"), -1);
  EXPECT_TRUE(wp.health.enabled);
  EXPECT_EQ(wp.health.interval_ms, 1000u);
  EXPECT_EQ(wp.health.timeout_ms, 500u);
  EXPECT_EQ(wp.health.rise, 2u);
  EXPECT_EQ(wp.health.fall, 3u);
  EXPECT_EQ(wp.maglev_table_size, kDefaultMaglevTableSize);
  const PoolConfig& ap = c->pools[1];
  EXPECT_FALSE(ap.health.enabled);
  EXPECT_EQ(ap.maglev_table_size, 131071u);
  EXPECT_EQ(c->FindPool("api-servers"), &c->pools[1]);
  EXPECT_EQ(c->FindFrontend("api"), &c->frontends[1]);
  EXPECT_EQ(c->FindFrontend("web-servers"), nullptr);
}

TEST(ProxyConfig, MinimalConfigGetsTheDocumentedDefaults) {
  auto c = Parse(T(R"(
[[frontend]]
name = "f"
listen = "10.0.0.1:80"
pool = "p"

[[pool]]
name = "p"
backends = [{ address = "10.0.0.9:80" }]
)"));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->settings.workers, 0u);
  EXPECT_EQ(c->settings.max_sessions, 1000000u);
  EXPECT_EQ(c->settings.sndbuf_high_water, 262144u);
  EXPECT_EQ(c->settings.sndbuf_low_water, 131072u);
  const FrontendConfig& f = c->frontends[0];
  EXPECT_EQ(f.backlog, 511u);
  EXPECT_EQ(f.balance, BalanceMode::kRoundRobin);
  EXPECT_EQ(f.connect_timeout_ms, 5000u);
  EXPECT_EQ(f.idle_timeout_ms, 300000u);
  EXPECT_EQ(f.connect_retries, 2u);
  EXPECT_EQ(f.on_backend_failure, BackendFailureAction::kReset);
  const PoolConfig& p = c->pools[0];
  EXPECT_EQ(p.backends[0].weight, 1u);
  EXPECT_FALSE(p.health.enabled);
  EXPECT_EQ(p.maglev_table_size, 65537u);
}

TEST(ProxyConfig, HealthTableWithNoKeysTurnsChecksOnWithDefaults) {
  auto c = Parse(T(R"(
[[frontend]]
name = "f"
listen = "10.0.0.1:80"
pool = "p"
[[pool]]
name = "p"
health = {}
backends = [{ address = "10.0.0.9:80" }]
)"));
  ASSERT_TRUE(c.ok()) << c.status();
  const HealthCheckConfig& h = c->pools[0].health;
  EXPECT_TRUE(h.enabled);
  EXPECT_EQ(h.interval_ms, 2000u);
  EXPECT_EQ(h.timeout_ms, 1000u);
  EXPECT_EQ(h.rise, 2u);
  EXPECT_EQ(h.fall, 3u);
}

TEST(ProxyConfig, ShortHealthIntervalClampsTheDefaultTimeout) {
  auto c = Parse(T(R"(
[[frontend]]
name = "f"
listen = "10.0.0.1:80"
pool = "p"
[[pool]]
name = "p"
backends = [{ address = "10.0.0.9:80" }]
[pool.health]
interval_ms = 300
)"));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->pools[0].health.interval_ms, 300u);
  EXPECT_EQ(c->pools[0].health.timeout_ms, 300u);
}

TEST(ProxyConfig, BackendsAsAnArrayOfTablesWorkToo) {
  auto c = Parse(T(R"(
[[frontend]]
name = "f"
listen = "10.0.0.1:80"
pool = "p"
[[pool]]
name = "p"
[[pool.backends]]
address = "10.0.0.9:80"
weight = 5
[[pool.backends]]
address = "10.0.0.10:80"
)"));
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->pools[0].backends.size(), 2u);
  EXPECT_EQ(c->pools[0].backends[0].weight, 5u);
}

// One mistake per case: the error names the file, the line, and the key.
struct BadCase {
  const char* what;
  const char* text;
  const char* expect;  // a prefix: "t.toml:LINE:COL: key: "
  const char* also;    // and somewhere in the message
};

const char* kPool = R"(
[[pool]]
name = "p"
backends = [{ address = "10.0.0.9:80" }]
)";

std::string WithPool(const char* frontend) { return T(frontend) + T(kPool); }

class BadConfig : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadConfig, NamesLineAndKey) {
  const BadCase& c = GetParam();
  const std::string err = ErrorOf(c.text);
  std::printf("%-15s %s\n", c.what, err.c_str());  // as the operator sees it
  EXPECT_EQ(err.rfind(c.expect, 0), 0u) << c.what << ": got \"" << err << "\"";
  EXPECT_NE(err.find(c.also), std::string::npos) << c.what << ": got \"" << err << "\"";
}

// Kept alive for the parameter pointers.
const std::string kBad[] = {
    // 0: typo in a frontend key
    WithPool(R"(
[[frontend]]
name = "f"
listen = "10.0.0.1:80"
pool = "p"
conect_timeout_ms = 100
)"),
    // 1: unknown balance
    WithPool(R"(
[[frontend]]
name = "f"
listen = "10.0.0.1:80"
pool = "p"
balance = "random"
)"),
    // 2: bad port
    WithPool(R"(
[[frontend]]
name = "f"
listen = "10.0.0.1:70000"
pool = "p"
)"),
    // 3: hostname
    WithPool(R"(
[[frontend]]
name = "f"
listen = "example.com:80"
pool = "p"
)"),
    // 4: unknown pool
    WithPool(R"(
[[frontend]]
name = "f"
listen = "10.0.0.1:80"
pool = "q"
)"),
    // 5: duplicate frontend names
    WithPool(R"(
[[frontend]]
name = "f"
listen = "10.0.0.1:80"
pool = "p"
[[frontend]]
name = "f"
listen = "10.0.0.1:81"
pool = "p"
)"),
    // 6: weight out of range
    T(R"(
[[frontend]]
name = "f"
listen = "10.0.0.1:80"
pool = "p"
[[pool]]
name = "p"
backends = [
  { address = "10.0.0.9:80", weight = 1 },
  { address = "10.0.0.10:80", weight = 0 },
]
)"),
    // 7: no backends
    T(R"(
[[frontend]]
name = "f"
listen = "10.0.0.1:80"
pool = "p"
[[pool]]
name = "p"
backends = []
)"),
    // 8: timeout out of range
    WithPool(R"(
[[frontend]]
name = "f"
listen = "10.0.0.1:80"
pool = "p"
connect_timeout_ms = 0
)"),
    // 9: TOML syntax error
    WithPool(R"(
[[frontend]]
name = "f"
listen = "10.0.0.1:80
pool = "p"
)"),
    // 10: wrong type
    WithPool(R"(
[[frontend]]
name = "f"
listen = "10.0.0.1:80"
pool = "p"
backlog = "lots"
)"),
    // 11: duplicate pool names
    T(R"(
[[frontend]]
name = "f"
listen = "10.0.0.1:80"
pool = "p"
[[pool]]
name = "p"
backends = [{ address = "10.0.0.9:80" }]
[[pool]]
name = "p"
backends = [{ address = "10.0.0.10:80" }]
)"),
    // 12: duplicate backend address
    T(R"(
[[frontend]]
name = "f"
listen = "10.0.0.1:80"
pool = "p"
[[pool]]
name = "p"
backends = [
  { address = "10.0.0.9:80" },
  { address = "10.0.0.9:80", name = "again" },
]
)"),
    // 13: unknown key in health, with a suggestion
    T(R"(
[[frontend]]
name = "f"
listen = "10.0.0.1:80"
pool = "p"
[[pool]]
name = "p"
backends = [{ address = "10.0.0.9:80" }]
health = { interval_ms = 1000, rize = 2 }
)"),
    // 14: health timeout above the interval
    T(R"(
[[frontend]]
name = "f"
listen = "10.0.0.1:80"
pool = "p"
[[pool]]
name = "p"
backends = [{ address = "10.0.0.9:80" }]
health = { interval_ms = 1000, timeout_ms = 2000 }
)"),
    // 15: two frontends on one port, one of them on 0.0.0.0
    WithPool(R"(
[[frontend]]
name = "a"
listen = "10.0.0.1:80"
pool = "p"
[[frontend]]
name = "b"
listen = "0.0.0.0:80"
pool = "p"
)"),
    // 16: no frontend at all
    T(kPool),
    // 17: missing listen
    WithPool(R"(
[[frontend]]
name = "f"
pool = "p"
)"),
    // 18: backend missing address
    T(R"(
[[frontend]]
name = "f"
listen = "10.0.0.1:80"
pool = "p"
[[pool]]
name = "p"
backends = [{ weight = 2 }]
)"),
    // 19: maglev table size not prime
    T(R"(
[[frontend]]
name = "f"
listen = "10.0.0.1:80"
pool = "p"
[[pool]]
name = "p"
maglev_table_size = 65536
backends = [{ address = "10.0.0.9:80" }]
)"),
    // 20: unknown top-level table
    T(R"(
[frontends]
x = 1
)"),
    // 21: [frontend] instead of [[frontend]]
    T(R"(
[frontend]
name = "f"
)"),
    // 22: low water not below high water
    T(R"(
[proxy]
sndbuf_high_water = 65536
sndbuf_low_water = 65536
)"),
    // 23: backend on loopback
    T(R"(
[[frontend]]
name = "f"
listen = "10.0.0.1:80"
pool = "p"
[[pool]]
name = "p"
backends = [{ address = "127.0.0.1:80" }]
)"),
    // 24: idle timeout between 0 and the minimum
    WithPool(R"(
[[frontend]]
name = "f"
listen = "10.0.0.1:80"
pool = "p"
idle_timeout_ms = 5
)"),
    // 25: bad on_backend_failure
    WithPool(R"(
[[frontend]]
name = "f"
listen = "10.0.0.1:80"
pool = "p"
on_backend_failure = "drop"
)"),
    // 26: bad name
    WithPool(R"(
[[frontend]]
name = "my frontend"
listen = "10.0.0.1:80"
pool = "p"
)"),
    // 27: float where an integer belongs
    WithPool(R"(
[[frontend]]
name = "f"
listen = "10.0.0.1:80"
pool = "p"
connect_retries = 1.5
)"),
};

const BadCase kBadCases[] = {
    {"typo", kBad[0].c_str(),
     "t.toml:5:1: frontend[0].conect_timeout_ms: ", "did you mean \"connect_timeout_ms\""},
    {"balance", kBad[1].c_str(), "t.toml:5:11: frontend[0].balance: ", "\"random\""},
    {"port", kBad[2].c_str(), "t.toml:3:10: frontend[0].listen: ", "[1, 65535]"},
    {"hostname", kBad[3].c_str(), "t.toml:3:10: frontend[0].listen: ", "no DNS"},
    {"unknown pool", kBad[4].c_str(),
     "t.toml:4:8: frontend[0].pool: ", "unknown pool \"q\" (pools: p)"},
    {"dup frontend", kBad[5].c_str(),
     "t.toml:6:8: frontend[1].name: ", "duplicate frontend name \"f\""},
    {"weight", kBad[6].c_str(),
     "t.toml:9:40: pool[0].backends[1].weight: ", "must be in [1, 256], got 0"},
    {"no backends", kBad[7].c_str(), "t.toml:7:12: pool[0].backends: ", "at least one backend"},
    {"connect timeout", kBad[8].c_str(),
     "t.toml:5:22: frontend[0].connect_timeout_ms: ", "[10, 300000]"},
    {"syntax", kBad[9].c_str(), "t.toml:3:", "TOML syntax"},
    {"type", kBad[10].c_str(),
     "t.toml:5:11: frontend[0].backlog: ", "must be an integer, got string"},
    {"dup pool", kBad[11].c_str(), "t.toml:9:8: pool[1].name: ", "duplicate pool name \"p\""},
    {"dup address", kBad[12].c_str(),
     "t.toml:9:15: pool[0].backends[1].address: ", "duplicate backend address 10.0.0.9:80"},
    {"health typo", kBad[13].c_str(),
     "t.toml:8:32: pool[0].health.rize: ", "did you mean \"rise\""},
    {"health timeout", kBad[14].c_str(),
     "t.toml:8:45: pool[0].health.timeout_ms: ", "must not exceed interval_ms (1000)"},
    {"listen overlap", kBad[15].c_str(),
     "t.toml:7:10: frontend[1].listen: ", "overlaps frontend \"a\""},
    {"no frontend", kBad[16].c_str(), "t.toml:1: frontend: ", "at least one [[frontend]]"},
    {"no listen", kBad[17].c_str(), "t.toml:1:1: frontend[0].listen: ", "missing"},
    {"no address", kBad[18].c_str(), "t.toml:7:13: pool[0].backends[0].address: ", "missing"},
    {"maglev size", kBad[19].c_str(), "t.toml:7:21: pool[0].maglev_table_size: ", "prime"},
    {"top-level", kBad[20].c_str(), "t.toml:1:2: frontends: ", "did you mean \"frontend\""},
    {"not array", kBad[21].c_str(), "t.toml:1:1: frontend: ", "write [[frontend]]"},
    {"low water", kBad[22].c_str(),
     "t.toml:3:20: proxy.sndbuf_low_water: ", "below sndbuf_high_water"},
    {"loopback", kBad[23].c_str(), "t.toml:7:25: pool[0].backends[0].address: ", "loopback"},
    {"idle", kBad[24].c_str(),
     "t.toml:5:19: frontend[0].idle_timeout_ms: ", "0 (no idle timeout) or in [1000, 86400000]"},
    {"failure action", kBad[25].c_str(),
     "t.toml:5:22: frontend[0].on_backend_failure: ", "\"reset\" or \"close\""},
    {"name", kBad[26].c_str(), "t.toml:2:8: frontend[0].name: ", "not a valid name"},
    {"float", kBad[27].c_str(),
     "t.toml:5:19: frontend[0].connect_retries: ", "must be an integer, got floating-point"},
};

INSTANTIATE_TEST_SUITE_P(All, BadConfig, ::testing::ValuesIn(kBadCases));

TEST(ProxyConfig, TooSmallMaglevTableForTheBackends) {
  std::string text = T(R"(
[[frontend]]
name = "f"
listen = "10.0.0.1:80"
pool = "p"
[[pool]]
name = "p"
maglev_table_size = 101
backends = [{ address = "10.0.0.9:80" }, { address = "10.0.0.10:80" }]
)");
  const std::string err = ErrorOf(text);
  EXPECT_EQ(err.rfind("t.toml:7:21: pool[0].maglev_table_size: ", 0), 0u) << err;
  EXPECT_NE(err.find("at least 100 per backend"), std::string::npos) << err;
}

TEST(ProxyConfig, CanonicalFormParsesBackToTheSameConfig) {
  auto c = Parse(T(kFull));
  ASSERT_TRUE(c.ok()) << c.status();
  const std::string canon = FormatProxyConfig(*c);
  auto again = ParseProxyConfig(canon, "canon.toml");
  ASSERT_TRUE(again.ok()) << again.status() << "\n" << canon;
  EXPECT_EQ(again->settings, c->settings);
  EXPECT_EQ(again->frontends, c->frontends);
  EXPECT_EQ(again->pools, c->pools);
  EXPECT_TRUE(DiffConfig(*c, *again).empty());
  EXPECT_EQ(FormatProxyConfig(*again), canon);
}

TEST(ProxyConfig, LoadsAFileAndNamesAMissingOne) {
  const std::string path = ::testing::TempDir() + "/dpx_proxy_config_test.toml";
  {
    std::ofstream out(path);
    out << T(kFull);
  }
  auto c = LoadProxyConfigFile(path);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->source, path);
  std::remove(path.c_str());
  auto missing = LoadProxyConfigFile(path);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(std::string(missing.status().message()).find(path), std::string::npos);
}

// Every complete example in docs/proxy-config.md parses.
TEST(ProxyConfig, TheDocumentedExamplesParse) {
  const std::string path = std::string(DPX_SOURCE_ROOT) + "/docs/proxy-config.md";
  std::ifstream in(path);
  ASSERT_TRUE(in) << path;
  std::string line, block;
  bool inside = false;
  int parsed = 0;
  while (std::getline(in, line)) {
    if (!inside && line == "```toml") {
      inside = true;
      block.clear();
    } else if (inside && line == "```") {
      inside = false;
      if (block.find("[[frontend]]") == std::string::npos) continue;  // a fragment
      auto c = ParseProxyConfig(block, "proxy-config.md");
      EXPECT_TRUE(c.ok()) << c.status() << "\n" << block;
      ++parsed;
    } else if (inside) {
      block += line + "\n";
    }
  }
  EXPECT_GE(parsed, 2);
}

TEST(ProxyConfig, EndpointParsing) {
  Endpoint e;
  std::string why;
  EXPECT_TRUE(ParseEndpoint("192.168.0.1:65535", &e, &why));
  EXPECT_EQ(e.port, 65535);
  EXPECT_EQ(FormatEndpoint(e), "192.168.0.1:65535");
  EXPECT_FALSE(ParseEndpoint("192.168.0.1", &e, &why));
  EXPECT_FALSE(ParseEndpoint("192.168.0.1:0", &e, &why));
  EXPECT_FALSE(ParseEndpoint("192.168.0.1:+80", &e, &why));
  EXPECT_FALSE(ParseEndpoint("192.168.0.1:", &e, &why));
  EXPECT_FALSE(ParseEndpoint("192.168.0:80", &e, &why));
  EXPECT_FALSE(ParseEndpoint("[::1]:80", &e, &why));
}

// Diff: by name; what changed in each.
TEST(ProxyConfigDiff, NamesAddedRemovedAndChanged) {
  auto a = Parse(T(kFull));
  ASSERT_TRUE(a.ok()) << a.status();
  ProxyConfig b = *a;
  EXPECT_TRUE(DiffConfig(*a, b).empty());
  EXPECT_EQ(DiffConfig(*a, b).Summary(), "no changes");

  // web: new port and timeouts; api removed; new frontend "ssh".
  b.frontends[0].listen.port = 8080;
  b.frontends[0].idle_timeout_ms = 1000;
  b.frontends.erase(b.frontends.begin() + 1);
  FrontendConfig ssh;
  ssh.name = "ssh";
  ssh.listen = {Ipv4Addr(10, 1, 1, 2), 22};
  ssh.pool = "web-servers";
  b.frontends.push_back(ssh);
  // web-servers: one backend re-weighted, one removed, one added; health.
  b.pools[0].backends[0].weight = 5;
  b.pools[0].backends.erase(b.pools[0].backends.begin() + 1);
  b.pools[0].backends.push_back({"web-c", {Ipv4Addr(10, 2, 0, 13), 8080}, 1});
  b.pools[0].health.fall = 5;
  // api-servers removed, new pool.
  b.pools.erase(b.pools.begin() + 1);
  PoolConfig np;
  np.name = "new";
  np.backends.push_back({"n1", {Ipv4Addr(10, 3, 0, 1), 1}, 1});
  b.pools.push_back(np);
  b.settings.max_sessions = 7;

  const ConfigDiff d = DiffConfig(*a, b);
  EXPECT_FALSE(d.empty());
  EXPECT_EQ(d.frontends_added, std::vector<std::string>{"ssh"});
  EXPECT_EQ(d.frontends_removed, std::vector<std::string>{"api"});
  ASSERT_EQ(d.frontends_changed.size(), 1u);
  EXPECT_EQ(d.frontends_changed[0].name, "web");
  EXPECT_TRUE(d.frontends_changed[0].listen_changed);
  EXPECT_TRUE(d.frontends_changed[0].timeouts_changed);
  EXPECT_FALSE(d.frontends_changed[0].pool_changed);
  EXPECT_FALSE(d.frontends_changed[0].balance_changed);
  EXPECT_FALSE(d.frontends_changed[0].backlog_changed);
  EXPECT_EQ(d.pools_added, std::vector<std::string>{"new"});
  EXPECT_EQ(d.pools_removed, std::vector<std::string>{"api-servers"});
  ASSERT_EQ(d.pools_changed.size(), 1u);
  const PoolDiff& pd = d.pools_changed[0];
  EXPECT_EQ(pd.name, "web-servers");
  EXPECT_EQ(pd.backends_added, std::vector<std::string>{"web-c"});
  EXPECT_EQ(pd.backends_removed, std::vector<std::string>{"web-b"});
  EXPECT_EQ(pd.backends_changed, std::vector<std::string>{"10.2.0.11:8080"});
  EXPECT_TRUE(pd.health_changed);
  EXPECT_FALSE(pd.backends_reordered);
  EXPECT_TRUE(pd.RebuildBalancer());
  EXPECT_TRUE(d.settings_changed);
  EXPECT_EQ(d.Summary(),
            "frontends +ssh -api ~web(listen,timeouts); pools +new -api-servers "
            "~web-servers(+web-c -web-b ~10.2.0.11:8080 health); proxy ~settings");
}

TEST(ProxyConfigDiff, HealthOnlyChangeKeepsTheBalancerAndReorderRebuildsIt) {
  auto a = Parse(T(kFull));
  ASSERT_TRUE(a.ok()) << a.status();
  ProxyConfig b = *a;
  b.pools[0].health.interval_ms = 5000;
  ConfigDiff d = DiffConfig(*a, b);
  ASSERT_EQ(d.pools_changed.size(), 1u);
  EXPECT_TRUE(d.pools_changed[0].health_changed);
  EXPECT_FALSE(d.pools_changed[0].RebuildBalancer());
  EXPECT_TRUE(d.frontends_changed.empty());

  ProxyConfig c = *a;
  std::swap(c.pools[1].backends[0], c.pools[1].backends[2]);
  d = DiffConfig(*a, c);
  ASSERT_EQ(d.pools_changed.size(), 1u);
  EXPECT_TRUE(d.pools_changed[0].backends_reordered);
  EXPECT_TRUE(d.pools_changed[0].backends_changed.empty());
  EXPECT_TRUE(d.pools_changed[0].RebuildBalancer());
  EXPECT_EQ(d.Summary(), "pools ~api-servers(order)");
}

TEST(ProxyConfigDiff, FrontendMovedToAnotherPool) {
  auto a = Parse(T(kFull));
  ASSERT_TRUE(a.ok()) << a.status();
  ProxyConfig b = *a;
  b.frontends[1].pool = "web-servers";
  b.frontends[1].balance = BalanceMode::kRoundRobin;
  const ConfigDiff d = DiffConfig(*a, b);
  ASSERT_EQ(d.frontends_changed.size(), 1u);
  EXPECT_EQ(d.frontends_changed[0].name, "api");
  EXPECT_TRUE(d.frontends_changed[0].pool_changed);
  EXPECT_TRUE(d.frontends_changed[0].balance_changed);
  EXPECT_FALSE(d.frontends_changed[0].listen_changed);
  EXPECT_TRUE(d.pools_changed.empty());
}

}  // namespace
}  // namespace dpx::proxy
