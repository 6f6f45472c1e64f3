// lib/control: the request protocol, the unix-socket server, the core
// calls, and the appliance's commands over two cores on the in-memory wire
// (a client stack owned by a process on core 0, a server stack on core 1).
// The cores run on a driver thread, as lcores would, while the test plays
// the control server's client thread.
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <rte_errno.h>
#include <rte_mbuf.h>

#include "control/appliance_commands.h"
#include "control/control_client.h"
#include "control/control_server.h"
#include "control/core_call.h"
#include "control/protocol.h"
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

// ---------------------------------------------------------------- protocol

TEST(Protocol, ParsesRequestsAndRefusesMalformedOnes) {
  auto r = ParseRequest(R"({"cmd": "proc.show", "args": {"pid": 100}})");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->cmd, "proc.show");
  EXPECT_EQ(r->args["pid"], 100);
  r = ParseRequest(R"({"cmd": "stats"})");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->args.is_object());

  struct Bad {
    const char* line;
    const char* text;
  } bad[] = {
      {"{bad", "malformed JSON"},
      {"[1]", "not a array"},
      {"{}", "no \"cmd\""},
      {R"({"cmd": 1})", "must be a string, not integer"},
      {R"({"cmd": "x", "args": [1]})", "must be an object, not array"},
      {R"({"cmd": "x", "extra": 1})", "unknown request key 'extra'"},
  };
  for (const Bad& b : bad) {
    auto p = ParseRequest(b.line);
    ASSERT_FALSE(p.ok()) << b.line;
    EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(p.status().message().find(b.text), std::string::npos)
        << b.line << " -> " << p.status().message();
  }
}

TEST(Protocol, ArgsAreTypedAndStrict) {
  Json j = Json::parse(R"({"pid": 7, "name": "web", "on": true, "words": ["a", "b"], "x": 1})");
  Args a("t", j);
  EXPECT_EQ(*a.Int("pid"), 7);
  EXPECT_EQ(*a.String("name"), "web");
  EXPECT_TRUE(*a.Bool("on", false));
  EXPECT_EQ(a.StringList("words")->size(), 2u);
  EXPECT_FALSE(a.OptInt("none")->has_value());
  auto fin = a.Finish();
  EXPECT_FALSE(fin.ok());
  EXPECT_NE(fin.message().find("unknown argument 'x'"), std::string::npos) << fin;

  Args b("t", j);
  EXPECT_EQ(b.String("pid").status().message(), "t: argument 'pid' must be a string, not integer");
  EXPECT_EQ(b.Int("name").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(b.Int("missing").status().message(), "t: missing argument 'missing' (an integer)");
  EXPECT_EQ(b.IntIn("pid", 1, 5).status().message(), "t: argument 'pid' is 7, not in 1..5");

  EXPECT_STREQ(ErrorCodeName(absl::StatusCode::kNotFound), "not_found");
  EXPECT_STREQ(ErrorCodeName(absl::StatusCode::kDeadlineExceeded), "timeout");
  Json e = ErrorLine(absl::NotFoundError("no process 9"));
  EXPECT_EQ(e["ok"], false);
  EXPECT_EQ(e["error"], "no process 9");
  EXPECT_EQ(e["code"], "not_found");
}

// ---------------------------------------------------------------- server

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/dpxctltest.XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() { std::system(("rm -rf " + path_).c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

struct Lines : Responder {
  std::vector<Json> lines;
  std::atomic<bool> stop{false};
  bool Send(const Json& l) override {
    lines.push_back(l);
    return true;
  }
  const std::atomic<bool>& stopping() const override { return stop; }
  const Json& final_line() const { return lines.back(); }
};

void RegisterTestCommands(ControlServer& s) {
  s.Register("count", "streams n data lines", [](const Json& args, Responder& out)
                                                  -> absl::StatusOr<Json> {
    Args a("count", args);
    auto n = a.IntIn("n", 0, 1000);
    if (!n.ok()) return n.status();
    if (auto st = a.Finish(); !st.ok()) return st;
    for (int64_t i = 0; i < *n; ++i) out.Send(Json{{"i", i}});
    return Json{{"n", *n}};
  });
  s.Register("throw", "a handler bug", [](const Json&, Responder&) -> absl::StatusOr<Json> {
    throw std::runtime_error("boom");
  });
}

TEST(ControlServer, SocketModeStreamingErrorsAndCleanup) {
  TempDir dir;
  const std::string path = dir.path() + "/run/dpx/dpx.sock";  // directories made 0700
  ControlServer server;
  RegisterTestCommands(server);
  ASSERT_TRUE(server.Listen(path).ok());
  ASSERT_TRUE(server.Start().ok());
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(stat((dir.path() + "/run/dpx").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);

  // A second server on the path of a live one is refused, naming it.
  ControlServer second;
  absl::Status in_use = second.Listen(path);
  EXPECT_EQ(in_use.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(in_use.message().find("in use by a running dpx (pid " + std::to_string(getpid())),
            std::string::npos)
      << in_use;

  ControlClient c;
  ASSERT_TRUE(c.Connect(path).ok());
  std::vector<Json> data;
  auto f = c.Call("count", Json{{"n", 3}}, [&](const Json& j) { data.push_back(j); }, 5000);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ((*f)["ok"], true);
  EXPECT_EQ((*f)["result"]["n"], 3);
  ASSERT_EQ(data.size(), 3u);
  EXPECT_EQ(data[2]["i"], 2);

  // Errors keep the connection usable.
  for (const char* line : {"{not json", R"({"cmd": "nope"})", R"({"cmd": "count", "args": {"n": "3"}})",
                           R"({"cmd": "throw"})"}) {
    auto e = c.CallRaw(line, nullptr, 5000);
    ASSERT_TRUE(e.ok()) << line;
    EXPECT_EQ((*e)["ok"], false) << line;
    EXPECT_TRUE((*e)["error"].is_string());
  }
  auto h = c.Call("help", Json::object(), nullptr, 5000);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ((*h)["result"]["commands"].size(), 3u);  // help, count, throw

  server.Stop();
  EXPECT_NE(stat(path.c_str(), &st), 0) << "the socket outlived Stop()";
  ControlClient gone;
  EXPECT_EQ(gone.Connect(path).code(), absl::StatusCode::kUnavailable);
}

TEST(ControlServer, ReplacesAStaleSocketAndRefusesOtherFiles) {
  TempDir dir;
  const std::string path = dir.path() + "/dpx.sock";
  {  // a socket file nobody listens on: what a killed dpx leaves
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::snprintf(a.sun_path, sizeof(a.sun_path), "%s", path.c_str());
    ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    close(fd);
  }
  ControlServer server;
  EXPECT_TRUE(server.Listen(path).ok());
  server.Stop();

  const std::string file = dir.path() + "/plain";
  ASSERT_EQ(std::system(("touch " + file).c_str()), 0);
  ControlServer other;
  absl::Status st = other.Listen(file);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("is not a socket"), std::string::npos) << st;
}

// ---------------------------------------------------------------- core calls

TEST(CoreCall, AnswersFromTheCoreAndTimesOutWhenItDoesNotRun) {
  VirtualClock clock(1'000'000'000);
  Counters mib;
  Reactor r(3, &clock, &mib);
  // Nobody runs the reactor: a clear timeout, no hang.
  auto t0 = std::chrono::steady_clock::now();
  auto v = CallOnCore<int>(r, [](Reactor&) { return 1; }, 100ms);
  EXPECT_EQ(v.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(v.status().message(), "lcore 3 did not answer within 100 ms");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
  r.RunOnce();  // the late message runs (and is freed) on the core

  std::atomic<bool> stop{false};
  std::thread core([&] {
    while (!stop) r.RunOnce();
  });
  auto w = CallOnCore<unsigned>(r, [](Reactor& rr) { return rr.core_id(); }, 5000ms);
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(*w, 3u);
  std::atomic<bool> cancel{true};
  auto c = CallOnCore<int>(r, [](Reactor&) {
    return 1;
  }, 5000ms, &cancel);
  EXPECT_TRUE(c.ok() || c.status().code() == absl::StatusCode::kCancelled);
  stop = true;
  core.join();
}

// ---------------------------------------------------------------- appliance commands

constexpr uint32_t kIpA = Ipv4Addr(10, 0, 0, 1);
constexpr uint32_t kIpB = Ipv4Addr(10, 0, 0, 2);
constexpr uint16_t kPort = 5000;
constexpr int kConns = 3000;

class ApplianceCommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pool_ = rte_pktmbuf_pool_create("ctl_pool", 65535, 256, 0, RTE_PKTMBUF_HEADROOM + 2048,
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
    ta.ehash_buckets = tb.ehash_buckets = 8192;
    tb.sysctl.somaxconn = 65535;
    tb.sysctl.tcp_max_syn_backlog = 65535;
    a_ = std::make_unique<tcp::TcpStack>(*ra_, *ipa_, ta);
    b_ = std::make_unique<tcp::TcpStack>(*rb_, *ipb_, tb);
    pt_ = std::make_unique<sock::ProcessTable>(
        std::vector<sock::CoreStack>{{ra_.get(), a_.get()}, {rb_.get(), b_.get()}});
    worker_ = *pt_->Spawn("worker", 0);

    // kConns connections from A (owned by worker) to B's listener.
    tcp::Tcb* l = tcp::TcpSocket(*b_);
    ASSERT_EQ(tcp::TcpBind(l, 0, kPort), 0);
    ASSERT_EQ(tcp::TcpListen(l, 65535), 0);
    worker_->fds().set_max_fds(kConns + 16);
    for (int i = 0; i < kConns; ++i) {
      tcp::Tcb* c = tcp::TcpSocket(*a_);
      ASSERT_EQ(tcp::TcpConnect(c, kIpB, kPort), -EINPROGRESS);
      ASSERT_GE(pt_->InstallFd(*worker_, pt_->NewFile(0, c)), 3);
      if (i % 256 == 255) Run(2'000'000);
    }
    Run(1'000'000'000);
    tcp::Tcb* child = nullptr;
    while (tcp::TcpAccept(l, &child) == 0) ++accepted_;
    ASSERT_EQ(accepted_, kConns);

    ControlTargets t;
    t.cores = {ControlCore{ra_.get(), {a_.get()}}, ControlCore{rb_.get(), {b_.get()}}};
    t.procs = pt_.get();
    t.version = "test";
    t.instance = "test-1";
    t.core_timeout = 2000ms;
    RegisterApplianceCommands(server_, t);
    // The cores, as lcores: polling until the test ends.
    driver_ = std::thread([this] {
      while (!stop_) {
        ra_->RunOnce();
        rb_->RunOnce();
      }
    });
  }

  void TearDown() override {
    StopCores();
    pt_.reset();
    a_.reset();
    b_.reset();
    ipa_.reset();
    ipb_.reset();
    wire_.reset();
    ra_.reset();
    rb_.reset();
    rte_mempool_free(pool_);
  }

  void StopCores() {
    stop_ = true;
    if (driver_.joinable()) driver_.join();
  }

  void Run(uint64_t ns) { RunVirtualUntil(clock_, {ra_.get(), rb_.get()}, clock_.NowNs() + ns); }

  struct Reply {
    std::vector<Json> lines;
    const Json& final_line() const { return lines.back(); }
  };
  Reply Do(const std::string& line) {
    Lines out;
    server_.HandleLine(line, out);
    return Reply{std::move(out.lines)};
  }

  VirtualClock clock_{1'000'000'000};
  Counters mib_a_, mib_b_;
  rte_mempool* pool_ = nullptr;
  std::unique_ptr<Reactor> ra_, rb_;
  std::unique_ptr<Wire> wire_;
  std::unique_ptr<IpStack> ipa_, ipb_;
  tcp::TcpShared shared_;
  std::unique_ptr<tcp::TcpStack> a_, b_;
  std::unique_ptr<sock::ProcessTable> pt_;
  std::shared_ptr<sock::Process> worker_;
  int accepted_ = 0;
  ControlServer server_;
  std::atomic<bool> stop_{false};
  std::thread driver_;
};

TEST_F(ApplianceCommandsTest, ConnsStreamInBoundedChunksFromEveryCore) {
  Reply out = Do(R"({"cmd": "conns", "args": {"filter": ["state", "established"], "chunk": 100}})");
  ASSERT_EQ(out.final_line()["ok"], true) << out.final_line();
  EXPECT_EQ(out.final_line()["result"]["count"], 2 * kConns);
  size_t rows = 0, owned = 0;
  std::set<int> cores;
  for (size_t i = 0; i + 1 < out.lines.size(); ++i) {
    const Json& r = out.lines[i]["rows"];
    EXPECT_LE(r.size(), 100u);
    for (const Json& row : r) {
      EXPECT_EQ(row["state"], "ESTAB");
      cores.insert(row["core"].get<int>());
      if (row.contains("pid")) {
        EXPECT_EQ(row["pid"], worker_->pid());
        EXPECT_EQ(row["comm"], "worker");
        ++owned;
      }
    }
    rows += r.size();
  }
  EXPECT_EQ(rows, 2u * kConns);
  EXPECT_EQ(owned, static_cast<size_t>(kConns));  // A's ends; B's children have no owner
  EXPECT_EQ(cores, (std::set<int>{0, 1}));
  EXPECT_GE(out.lines.size(), 2u * kConns / 100);

  Reply pid = Do(R"({"cmd": "conns", "args": {"filter": ["pid", ")" +
                 std::to_string(worker_->pid()) + R"("]}})");
  EXPECT_EQ(pid.final_line()["result"]["count"], kConns);

  Reply sum = Do(R"({"cmd": "conns", "args": {"summary": true}})");
  ASSERT_EQ(sum.final_line()["ok"], true);
  EXPECT_EQ(sum.final_line()["result"]["summary"]["estab"], 2 * kConns);
  EXPECT_EQ(sum.final_line()["result"]["summary"]["listen"], 1);

  Reply bad = Do(R"({"cmd": "conns", "args": {"filter": ["state", "bogus"]}})");
  EXPECT_EQ(bad.final_line()["code"], "usage");
}

TEST_F(ApplianceCommandsTest, SysctlSetReachesEveryCoreAndBadValuesChangeNothing) {
  Reply set = Do(R"({"cmd": "sysctl.set", "args": {"name": "net.ipv4.tcp_fin_timeout", "value": "23"}})");
  ASSERT_EQ(set.final_line()["ok"], true) << set.final_line();
  EXPECT_EQ(set.final_line()["result"]["old"], "60");
  Reply get = Do(R"({"cmd": "sysctl.get", "args": {"name": "net.ipv4.tcp_fin_timeout"}})");
  EXPECT_EQ(get.final_line()["result"]["per_core"], Json::array({"23", "23"}));
  for (const char* v : {"0", "x", "1 2", ""}) {
    Reply bad = Do(std::string(R"({"cmd": "sysctl.set", "args": {"name": "net.ipv4.tcp_fin_timeout", "value": ")") +
                   v + R"("}})");
    EXPECT_EQ(bad.final_line()["ok"], false) << v;
    EXPECT_EQ(bad.final_line()["code"], "usage") << v;
  }
  Reply unknown = Do(R"({"cmd": "sysctl.set", "args": {"name": "net.nope", "value": "1"}})");
  EXPECT_EQ(unknown.final_line()["code"], "not_found");
  get = Do(R"({"cmd": "sysctl.get", "args": {"name": "net.ipv4.tcp_fin_timeout"}})");
  EXPECT_EQ(get.final_line()["result"]["per_core"], Json::array({"23", "23"}));
  StopCores();
  EXPECT_EQ(a_->sysctl().tcp_fin_timeout, 23u);
  EXPECT_EQ(b_->sysctl().tcp_fin_timeout, 23u);
}

TEST_F(ApplianceCommandsTest, ProcShowKillAndAbort) {
  const std::string pid = std::to_string(worker_->pid());
  Reply list = Do(R"({"cmd": "proc.list"})");
  ASSERT_EQ(list.final_line()["ok"], true);
  EXPECT_EQ(list.final_line()["result"]["procs"][0]["fds"], kConns + 3);

  Reply show = Do(R"({"cmd": "proc.show", "args": {"pid": )" + pid + R"(, "max_fds": 10}})");
  ASSERT_EQ(show.final_line()["ok"], true) << show.final_line();
  const Json& r = show.final_line()["result"];
  EXPECT_EQ(r["fds_open"], kConns + 3);
  EXPECT_EQ(r["fds"].size(), 10u);
  EXPECT_EQ(r["truncated"], true);
  EXPECT_EQ(r["fds"][3]["conn"]["state"], "ESTAB");

  // ss -K of one of the worker's connections, found by its 4-tuple.
  const Json& conn = r["fds"][3]["conn"];
  Reply k = Do(R"({"cmd": "kill", "args": {"local": )" + conn["local"].dump() + R"(, "peer": )" +
               conn["peer"].dump() + "}}");
  ASSERT_EQ(k.final_line()["ok"], true) << k.final_line();
  EXPECT_EQ(k.final_line()["result"]["core"], 0);
  Reply again = Do(R"({"cmd": "kill", "args": {"local": )" + conn["local"].dump() +
                   R"(, "peer": )" + conn["peer"].dump() + "}}");
  EXPECT_EQ(again.final_line()["code"], "not_found");

  Reply kill = Do(R"({"cmd": "proc.kill", "args": {"pid": )" + pid + "}}");
  ASSERT_EQ(kill.final_line()["ok"], true) << kill.final_line();
  const Json& res = kill.final_line()["result"];
  EXPECT_EQ(res["state"], "dead");
  EXPECT_EQ(res["exit_signal"], 9);
  EXPECT_EQ(res["closed"]["fds"], kConns + 3);
  EXPECT_EQ(res["closed"]["released"], kConns);
  // The aborted one was already closed: no FIN for it.
  EXPECT_EQ(res["closed"]["fins"], kConns - 1);

  Reply dead = Do(R"({"cmd": "proc.kill", "args": {"pid": )" + pid + "}}");
  EXPECT_EQ(dead.final_line()["code"], "refused");
  Reply none = Do(R"({"cmd": "proc.show", "args": {"pid": 424242}})");
  EXPECT_EQ(none.final_line()["code"], "not_found");
}

TEST_F(ApplianceCommandsTest, ProcCallWaitsForEagainAndACoreThatStopsTimesOut) {
  Reply sp = Do(R"({"cmd": "proc.spawn", "args": {"name": "srv", "core": 1}})");
  ASSERT_EQ(sp.final_line()["ok"], true) << sp.final_line();
  const std::string pid = sp.final_line()["result"]["pid"].dump();
  auto call = [&](const std::string& words, int wait_ms = 0) -> Reply {
    return Do(R"({"cmd": "proc.call", "args": {"pid": )" + pid + R"(, "call": )" + words +
              (wait_ms ? ", \"wait_ms\": " + std::to_string(wait_ms) : std::string()) + "}}");
  };
  EXPECT_EQ(call(R"(["socket"])").final_line()["result"]["ret"], 3);
  EXPECT_EQ(call(R"(["bind", "3", "10.0.0.2:6000"])").final_line()["result"]["ret"], 0);
  EXPECT_EQ(call(R"(["listen", "3"])").final_line()["result"]["ret"], 0);
  Reply eagain = call(R"(["accept", "3"])");
  EXPECT_EQ(eagain.final_line()["ok"], true);
  EXPECT_EQ(eagain.final_line()["result"]["errno"], "EAGAIN");
  auto t0 = std::chrono::steady_clock::now();
  Reply waited = call(R"(["accept", "3"])", 300);
  EXPECT_EQ(waited.final_line()["result"]["errno"], "EAGAIN");
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 300ms);
  EXPECT_GT(waited.final_line()["result"]["attempts"].get<int>(), 1);
  EXPECT_EQ(call(R"(["bind", "3"])").final_line()["code"], "usage");

  // A core that stops answering: an error within the core timeout.
  StopCores();
  t0 = std::chrono::steady_clock::now();
  Reply stats = Do(R"({"cmd": "stats"})");
  EXPECT_EQ(stats.final_line()["code"], "timeout") << stats.final_line();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
}

}  // namespace
}  // namespace dpx::control
