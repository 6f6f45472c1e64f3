// proxy.show, proxy.reload and the proxy's stats counters over two cores on
// the in-memory wire: core 0 (10.0.0.1) holds the client and the backend
// listener, core 1 (10.0.0.2) the proxy worker that takes the session; both
// cores run a worker listening on 0.0.0.0:8080, as dpx does.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <rte_errno.h>
#include <rte_mbuf.h>

#include "control/appliance_commands.h"
#include "control/control_server.h"
#include "control/proxy_service.h"
#include "core/clock.h"
#include "core/counters.h"
#include "core/reactor.h"
#include "net/ip_stack.h"
#include "net/ipv4_addr.h"
#include "net/wire.h"
#include "socket/process.h"
#include "tcp/socket_api.h"
#include "tcp/tcp_stack.h"

namespace dpx::control {
namespace {

using namespace std::chrono_literals;

constexpr uint32_t kIpA = Ipv4Addr(10, 0, 0, 1);
constexpr uint32_t kIpB = Ipv4Addr(10, 0, 0, 2);

constexpr const char* kConfig = R"(# proxy for the unit test
[[frontend]]
name = "web"
listen = "0.0.0.0:8080"
pool = "app"

[[pool]]
name = "app"
backends = [{ address = "10.0.0.1:9000" }]
)";

struct Lines : Responder {
  std::vector<Json> lines;
  std::atomic<bool> stop{false};
  bool Send(const Json& l) override {
    lines.push_back(l);
    return true;
  }
  const std::atomic<bool>& stopping() const override { return stop; }
};

class ProxyCommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/dpxproxytest.XXXXXX";
    dir_ = mkdtemp(tmpl);
    path_ = dir_ + "/proxy.toml";
    Write(path_, kConfig);
    pool_ = rte_pktmbuf_pool_create("proxy_ctl_pool", 8191, 256, 0, RTE_PKTMBUF_HEADROOM + 2048,
                                    SOCKET_ID_ANY);
    ASSERT_NE(pool_, nullptr) << rte_strerror(rte_errno);
    ra_ = std::make_unique<Reactor>(0, &clock_, &mib_a_);
    rb_ = std::make_unique<Reactor>(1, &clock_, &mib_b_);
    WireConfig w;
    w.a.mac = {{0x02, 0, 0, 0, 0, 0x0a}};
    w.b.mac = {{0x02, 0, 0, 0, 0, 0x0b}};
    w.capture = false;
    wire_ = std::make_unique<Wire>(clock_, pool_, w);
    IpStackConfig ca, cb;
    ca.ip = kIpA;
    cb.ip = kIpB;
    ca.prefix_len = cb.prefix_len = 24;
    ipa_ = std::make_unique<IpStack>(*ra_, wire_->a(), pool_, ca);
    ipb_ = std::make_unique<IpStack>(*rb_, wire_->b(), pool_, cb);
    ipa_->AttachToReactor();
    ipb_->AttachToReactor();
    tcp::TcpStackConfig ta, tb;
    ta.shared = tb.shared = &shared_;
    ta.core_index = 0;
    tb.core_index = 1;
    ta.secret_seed = 1;
    tb.secret_seed = 2;
    a_ = std::make_unique<tcp::TcpStack>(*ra_, *ipa_, ta);
    b_ = std::make_unique<tcp::TcpStack>(*rb_, *ipb_, tb);
    pt_ = std::make_unique<sock::ProcessTable>(
        std::vector<sock::CoreStack>{{ra_.get(), a_.get()}, {rb_.get(), b_.get()}});

    auto cfg = proxy::LoadProxyConfigFile(path_);
    ASSERT_TRUE(cfg.ok()) << cfg.status();
    proxy_ = std::make_unique<ProxyService>(
        *cfg, path_, *pt_,
        std::vector<ProxyCoreTarget>{{ra_.get(), a_.get(), {}}, {rb_.get(), b_.get(), {}}});
    ASSERT_TRUE(proxy_->Start().ok());

    ControlTargets t;
    t.cores = {ControlCore{ra_.get(), {a_.get()}}, ControlCore{rb_.get(), {b_.get()}}};
    t.procs = pt_.get();
    t.proxy = proxy_.get();
    t.version = "test";
    t.instance = "test-1";
    t.core_timeout = 2000ms;
    RegisterApplianceCommands(server_, t);
  }

  void TearDown() override {
    StopCores();
    proxy_.reset();
    pt_.reset();
    a_.reset();
    b_.reset();
    ipa_.reset();
    ipb_.reset();
    wire_.reset();
    ra_.reset();
    rb_.reset();
    rte_mempool_free(pool_);
    std::system(("rm -rf " + dir_).c_str());
  }

  static void Write(const std::string& path, const std::string& text) {
    std::ofstream(path) << text;
  }

  void StartCores() {
    stop_ = false;
    driver_ = std::thread([this] {
      while (!stop_) {
        ra_->RunOnce();
        rb_->RunOnce();
      }
    });
  }
  void StopCores() {
    stop_ = true;
    if (driver_.joinable()) driver_.join();
  }
  void Run(uint64_t ns) { RunVirtualUntil(clock_, {ra_.get(), rb_.get()}, clock_.NowNs() + ns); }

  Json Do(const std::string& line) {
    Lines out;
    server_.HandleLine(line, out);
    return out.lines.back();
  }

  std::string dir_, path_;
  VirtualClock clock_{1'000'000'000};
  Counters mib_a_, mib_b_;
  rte_mempool* pool_ = nullptr;
  std::unique_ptr<Reactor> ra_, rb_;
  std::unique_ptr<Wire> wire_;
  std::unique_ptr<IpStack> ipa_, ipb_;
  tcp::TcpShared shared_;
  std::unique_ptr<tcp::TcpStack> a_, b_;
  std::unique_ptr<sock::ProcessTable> pt_;
  std::unique_ptr<ProxyService> proxy_;
  ControlServer server_;
  std::atomic<bool> stop_{false};
  std::thread driver_;
};

TEST_F(ProxyCommandsTest, ShowsCountersOfARealSessionAndReloadsOnlyGoodConfigs) {
  // A session: client (core 0) -> 10.0.0.2:8080 (core 1's worker) -> backend 10.0.0.1:9000.
  tcp::Tcb* bl = tcp::TcpSocket(*a_);
  ASSERT_EQ(tcp::TcpBind(bl, 0, 9000), 0);
  ASSERT_EQ(tcp::TcpListen(bl, 16), 0);
  tcp::Tcb* cl = tcp::TcpSocket(*a_);
  ASSERT_EQ(tcp::TcpConnect(cl, kIpB, 8080), -EINPROGRESS);
  Run(200'000'000);
  ASSERT_EQ(tcp::TcpSend(cl, "hello", 5), 5);
  Run(200'000'000);
  tcp::Tcb* be = nullptr;
  ASSERT_EQ(tcp::TcpAccept(bl, &be), 0);
  char buf[16] = {};
  ASSERT_EQ(tcp::TcpRecv(be, buf, sizeof(buf)), 5);
  EXPECT_EQ(std::string(buf, 5), "hello");
  ASSERT_EQ(tcp::TcpSend(be, "world!", 6), 6);
  Run(200'000'000);
  ASSERT_EQ(tcp::TcpRecv(cl, buf, sizeof(buf)), 6);

  StartCores();
  Json show = Do(R"({"cmd": "proxy.show"})");
  ASSERT_EQ(show["ok"], true) << show;
  const Json& r = show["result"];
  ASSERT_EQ(r["frontends"].size(), 1u);
  const Json& fe = r["frontends"][0];
  EXPECT_EQ(fe["name"], "web");
  EXPECT_EQ(fe["listen"], "0.0.0.0:8080");
  EXPECT_EQ(fe["pool"], "app");
  EXPECT_EQ(fe["balance"], "roundrobin");
  EXPECT_EQ(fe["sessions"], 1);
  EXPECT_EQ(fe["active"], 1);
  EXPECT_EQ(fe["bytes_in"], 5);
  EXPECT_EQ(fe["bytes_out"], 6);
  for (const char* k : {"resets_sent", "resets_received", "connect_failures", "no_backend"})
    EXPECT_EQ(fe[k], 0) << k;
  ASSERT_EQ(r["pools"].size(), 1u);
  const Json& b = r["pools"][0]["backends"][0];
  EXPECT_EQ(r["pools"][0]["name"], "app");
  EXPECT_EQ(b["name"], "10.0.0.1:9000");
  EXPECT_EQ(b["address"], "10.0.0.1:9000");
  EXPECT_EQ(b["weight"], 1);
  EXPECT_EQ(b["health"], "UP");
  EXPECT_EQ(b["sessions"], 1);
  EXPECT_EQ(b["bytes_in"], 6);
  EXPECT_EQ(b["bytes_out"], 5);
  ASSERT_EQ(r["workers"].size(), 2u);
  for (int c = 0; c < 2; ++c) {
    EXPECT_EQ(r["workers"][c]["core"], c);
    auto p = pt_->Find(r["workers"][c]["pid"].get<int>());
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(p->name(), "proxy-w" + std::to_string(c));
  }
  const std::string table = FormatProxyTable(r);
  EXPECT_NE(table.find("web"), std::string::npos) << table;

  // stats carries the proxy's counters.
  Json stats = Do(R"({"cmd": "stats"})");
  ASSERT_EQ(stats["ok"], true) << stats;
  EXPECT_EQ(stats["result"]["counters"]["Proxy.web.sessions"], 1);
  EXPECT_EQ(stats["result"]["counters"]["ProxyBackend.app.10.0.0.1:9000.bytes_out"], 5);

  // A bad file: refused with file:line, nothing changes.
  const std::string bad = dir_ + "/bad.toml";
  Write(bad, std::string(kConfig) + "\n[[frontend]]\nname = \"api\"\nlisten = \"0.0.0.0:8081\"\n"
                                    "pool = \"app\"\nbalance = \"fastest\"\n");
  Json rl = Do(R"({"cmd": "proxy.reload", "args": {"path": ")" + bad + R"("}})");
  ASSERT_EQ(rl["ok"], false) << rl;
  EXPECT_NE(rl["error"].get<std::string>().find("bad.toml:15"), std::string::npos) << rl;
  show = Do(R"({"cmd": "proxy.show"})");
  EXPECT_EQ(show["result"]["frontends"].size(), 1u);

  // A good one (the default path): a frontend added, the pool changed;
  // the established session carries on.
  Write(path_, std::string(kConfig) +
                   "\n[[frontend]]\nname = \"api\"\nlisten = \"0.0.0.0:8081\"\npool = \"app\"\n"
                   "balance = \"leastconn\"\n");
  rl = Do(R"({"cmd": "proxy.reload"})");
  ASSERT_EQ(rl["ok"], true) << rl;
  EXPECT_EQ(rl["result"]["path"], path_);
  EXPECT_NE(rl["result"]["summary"].get<std::string>().find("+api"), std::string::npos) << rl;
  EXPECT_TRUE(rl["result"]["errors"].empty()) << rl;
  show = Do(R"({"cmd": "proxy.show"})");
  ASSERT_EQ(show["result"]["frontends"].size(), 2u);
  EXPECT_EQ(show["result"]["frontends"][1]["name"], "api");
  EXPECT_EQ(show["result"]["frontends"][1]["balance"], "leastconn");
  EXPECT_EQ(show["result"]["frontends"][0]["active"], 1);
  StopCores();

  // The new frontend takes sessions; the old session still moves bytes.
  tcp::Tcb* c2 = tcp::TcpSocket(*a_);
  ASSERT_EQ(tcp::TcpConnect(c2, kIpB, 8081), -EINPROGRESS);
  Run(200'000'000);
  ASSERT_EQ(tcp::TcpSend(cl, "again", 5), 5);
  Run(200'000'000);
  ASSERT_EQ(tcp::TcpRecv(be, buf, sizeof(buf)), 5);
  Json now = proxy_->ShowNow();
  EXPECT_EQ(now["frontends"][1]["sessions"], 1) << now.dump();
  EXPECT_EQ(now["frontends"][0]["bytes_in"], 10) << now.dump();
  tcp::TcpClose(cl);
  tcp::TcpClose(c2);
  tcp::TcpClose(be);
  tcp::TcpClose(bl);
  Run(1'000'000'000);
}

TEST_F(ProxyCommandsTest, KilledWorkerIsReplacedAndListensAgain) {
  StartCores();
  Json show = Do(R"({"cmd": "proxy.show"})");
  const int pid = show["result"]["workers"][1]["pid"].get<int>();
  Json k = Do(R"({"cmd": "proc.kill", "args": {"pid": )" + std::to_string(pid) + "}}");
  ASSERT_EQ(k["ok"], true) << k;
  Json after;
  for (int i = 0; i < 100; ++i) {
    after = Do(R"({"cmd": "proxy.show"})");
    if (after["result"]["workers"][1]["pid"] != pid) break;
    std::this_thread::sleep_for(10ms);
  }
  const int npid = after["result"]["workers"][1]["pid"].get<int>();
  EXPECT_NE(npid, pid);
  StopCores();
  auto p = pt_->Find(npid);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->name(), "proxy-w1");
  // The new worker listens: a client gets through to the backend listener.
  tcp::Tcb* bl = tcp::TcpSocket(*a_);
  ASSERT_EQ(tcp::TcpBind(bl, 0, 9000), 0);
  ASSERT_EQ(tcp::TcpListen(bl, 16), 0);
  tcp::Tcb* cl = tcp::TcpSocket(*a_);
  ASSERT_EQ(tcp::TcpConnect(cl, kIpB, 8080), -EINPROGRESS);
  Run(300'000'000);
  tcp::Tcb* be = nullptr;
  EXPECT_EQ(tcp::TcpAccept(bl, &be), 0);
  tcp::TcpClose(cl);
  if (be != nullptr) tcp::TcpClose(be);
  tcp::TcpClose(bl);
  Run(1'000'000'000);
}

}  // namespace
}  // namespace dpx::control
