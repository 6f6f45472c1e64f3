// NIC profiles: every drivers-config/ profile (compiled in) parses and
// validates; each kind of mistake is rejected with the file, the line and
// the key.
#include <algorithm>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_join.h"
#include "net/port_profile.h"

namespace dpx {
namespace {

using ::testing::HasSubstr;

// A valid profile; tests replace one line (1-based) to break it.
const std::vector<std::string> kBase = {
    R"(name = "t")",                                        // 1
    R"([eal])",                                             // 2
    R"(args = ["--no-huge", "--no-shconf", "--no-pci"])",   // 3
    R"(lcores = "0")",                                      // 4
    R"(hugepages = false)",                                 // 5
    R"([[port]])",                                          // 6
    R"(driver = "tap")",                                    // 7
    R"(device = "net_tap0,iface=t0")",                      // 8
    R"(ip = "10.1.0.2/24")",                                // 9
    R"(gateway = "10.1.0.1")",                              // 10
    R"(mtu = 1500)",                                        // 11
    R"(rss_key = "symmetric")",                             // 12
    R"(offloads = ["rx_ipv4_cksum", "tx_tcp_cksum"])",      // 13
};

std::string With(int line, const std::string& text) {
  std::vector<std::string> v = kBase;
  v[static_cast<size_t>(line - 1)] = text;
  return absl::StrJoin(v, "\n") + "\n";
}

std::string Error(const std::string& text) {
  auto p = ParseProfile(text, "t.toml");
  if (p.ok()) return "(parsed OK)";
  return std::string(p.status().message());
}

TEST(ProfileTest, BaseIsValid) {
  auto p = ParseProfile(absl::StrJoin(kBase, "\n"), "t.toml");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->ports.size(), 1u);
  EXPECT_EQ(p->ports[0].ip, 0x0a010002u);
  EXPECT_EQ(p->ports[0].prefix_len, 24);
  EXPECT_EQ(p->ports[0].gateway, 0x0a010001u);
  EXPECT_EQ(p->ports[0].offloads.size(), 2u);
  EXPECT_NE(p->ports[0].rx_offloads, 0u);
  EXPECT_NE(p->ports[0].tx_offloads, 0u);
}

TEST(ProfileTest, EveryDriversConfigProfileParses) {
  std::vector<std::string> names;
  for (const auto& e : EmbeddedProfiles()) {
    names.push_back(e.name);
    auto p = LoadProfile(e.name);
    EXPECT_TRUE(p.ok()) << e.name << ": " << p.status();
    if (p.ok()) {
      EXPECT_FALSE(p->description.empty()) << e.name;
      EXPECT_FALSE(DescribePlan(*p, "dpx").empty());
    }
  }
  for (const char* want :
       {"tap", "af_packet", "memif", "ring", "ixgbe", "i40e", "ice", "mlx5"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), want), names.end())
        << "drivers-config/" << want << ".toml is not compiled in";
  }
}

TEST(ProfileTest, DefaultTapProfileRunsWithoutHugepages) {
  auto p = LoadProfile(kDefaultProfile);
  ASSERT_TRUE(p.ok()) << p.status();
  const std::vector<std::string> argv = EalArgv(*p, "dpx");
  const std::string joined = absl::StrJoin(argv, " ");
  EXPECT_THAT(joined, HasSubstr("--no-huge"));
  EXPECT_THAT(joined, HasSubstr("--no-shconf"));
  // DPDK 22.11 refuses --in-memory with --no-huge.
  EXPECT_THAT(joined, ::testing::Not(HasSubstr("--in-memory")));
  EXPECT_THAT(joined, HasSubstr("-l 0"));
  EXPECT_THAT(joined, HasSubstr("--vdev=net_tap0,iface=dpx0"));
  EXPECT_FALSE(p->eal.hugepages);
  EXPECT_EQ(p->cores(), 1u);
  EXPECT_EQ(p->ports[0].driver, DriverKind::kTap);
  EXPECT_EQ(p->ports[0].EthdevName(), "net_tap0");
}

TEST(ProfileTest, RealNicProfilesCarryTheirDriversNeeds) {
  for (const char* intel : {"ixgbe", "i40e", "ice"}) {
    auto p = LoadProfile(intel);
    ASSERT_TRUE(p.ok()) << p.status();
    EXPECT_TRUE(p->eal.hugepages) << intel;
    EXPECT_EQ(p->ports[0].kernel_driver, "vfio-pci") << intel;
    const auto argv = EalArgv(*p, "dpx");
    auto a = std::find(argv.begin(), argv.end(), "-a");
    ASSERT_NE(a, argv.end()) << intel;
    EXPECT_EQ(*(a + 1), p->ports[0].pci);
    EXPECT_THAT(DescribePlan(*p, "dpx"), HasSubstr("vfio-pci"));
  }
  auto m = LoadProfile("mlx5");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->ports[0].kernel_driver, "mlx5_core");
  EXPECT_THAT(absl::StrJoin(EalArgv(*m, "dpx"), " "), HasSubstr("-a 0000:3b:00.0,dv_flow_en=1"));
  EXPECT_THAT(DescribePlan(*m, "dpx"), HasSubstr("bifurcated"));
}

TEST(ProfileTest, UnknownKeyNamesLineAndKey) {
  EXPECT_THAT(Error(With(11, "mtuu = 1500")), HasSubstr("t.toml:11: port[0].mtuu: unknown key"));
  EXPECT_THAT(Error(With(4, "cores = \"0\"")), HasSubstr("t.toml:4: eal.cores: unknown key"));
  EXPECT_THAT(Error("colour = 1\n" + absl::StrJoin(kBase, "\n")),
              HasSubstr("t.toml:1: colour: unknown key"));
}

TEST(ProfileTest, WrongTypeNamesLineAndKey) {
  EXPECT_THAT(Error(With(11, "mtu = \"1500\"")),
              HasSubstr("t.toml:11: port[0].mtu: must be an integer, got string"));
  EXPECT_THAT(Error(With(5, "hugepages = \"no\"")),
              HasSubstr("t.toml:5: eal.hugepages: must be true or false"));
  EXPECT_THAT(Error(With(3, "args = \"--no-huge\"")),
              HasSubstr("t.toml:3: eal.args: must be an array of strings"));
  EXPECT_THAT(Error(With(13, "offloads = [1]")), HasSubstr("t.toml:13: port[0].offloads[0]"));
}

TEST(ProfileTest, BadOffloadNamesLineAndKey) {
  const std::string e = Error(With(13, R"(offloads = ["rx_ipv4_cksum", "tx_warp_drive"])"));
  EXPECT_THAT(e, HasSubstr("t.toml:13: port[0].offloads[1]: unknown offload \"tx_warp_drive\""));
  EXPECT_THAT(e, HasSubstr("tx_tcp_cksum"));  // lists the known ones
  EXPECT_THAT(Error(With(13, R"(offloads = ["tx_tcp_cksum", "tx_tcp_cksum"])")),
              HasSubstr("t.toml:13: port[0].offloads[1]: offload \"tx_tcp_cksum\" listed twice"));
}

TEST(ProfileTest, BadRssKeyLengthNamesLineAndKey) {
  EXPECT_THAT(Error(With(12, R"(rss_key = "6d5a6d5a6d5a")")),
              HasSubstr("t.toml:12: port[0].rss_key: hex key must be 40 bytes"));
  EXPECT_THAT(Error(With(12, R"(rss_key = "asymmetric")")), HasSubstr("t.toml:12: port[0].rss_key"));
  // 40 and 52 bytes are fine, with or without colons.
  std::string k40, k52;
  for (int i = 0; i < 40; ++i) k40 += i ? ":6d" : "6d";
  for (int i = 0; i < 52; ++i) k52 += "5a";
  EXPECT_EQ(Error(With(12, "rss_key = \"" + k40 + "\"")), "(parsed OK)");
  EXPECT_EQ(Error(With(12, "rss_key = \"" + k52 + "\"")), "(parsed OK)");
}

TEST(ProfileTest, BadIpNamesLineAndKey) {
  EXPECT_THAT(Error(With(9, R"(ip = "10.1.0.300/24")")),
              HasSubstr("t.toml:9: port[0].ip: \"10.1.0.300\" is not an IPv4 address"));
  EXPECT_THAT(Error(With(9, R"(ip = "10.1.0.2")")), HasSubstr("t.toml:9: port[0].ip"));
  EXPECT_THAT(Error(With(9, R"(ip = "10.1.0.2/33")")), HasSubstr("t.toml:9: port[0].ip"));
  EXPECT_THAT(Error(With(9, R"(ip = "10.1.0.0/24")")),
              HasSubstr("t.toml:9: port[0].ip: \"10.1.0.0/24\" is the network"));
  EXPECT_THAT(Error(With(9, R"(ip = "224.0.0.1/24")")), HasSubstr("t.toml:9: port[0].ip"));
  EXPECT_THAT(Error(With(10, R"(gateway = "10.2.0.1")")),
              HasSubstr("t.toml:10: port[0].gateway: 10.2.0.1 is outside the port's subnet"));
}

TEST(ProfileTest, OtherMistakes) {
  // TOML syntax errors carry toml++'s line.
  EXPECT_THAT(Error(With(11, "mtu = = 1500")), HasSubstr("t.toml:11: TOML syntax"));
  // DPDK 22.11: --in-memory with --no-huge is refused.
  EXPECT_THAT(Error(With(3, R"(args = ["--no-huge", "--in-memory"])")),
              HasSubstr("t.toml:3: eal.args[1]: DPDK 22.11 refuses --in-memory with --no-huge"));
  // Options dpx derives itself.
  EXPECT_THAT(Error(With(3, R"(args = ["--no-huge", "-l", "0"])")),
              HasSubstr("t.toml:3: eal.args[1]: '-l' is derived by dpx"));
  EXPECT_THAT(Error(With(4, R"(lcores = "1-0")")), HasSubstr("t.toml:4: eal.lcores"));
  EXPECT_THAT(Error(With(7, R"(driver = "e1000")")),
              HasSubstr("t.toml:7: port[0].driver: unknown driver \"e1000\""));
  EXPECT_THAT(Error(With(8, R"(device = "net_pcap0")")),
              HasSubstr("t.toml:8: port[0].device: vdev name \"net_pcap0\" must be net_tap<N>"));
  EXPECT_THAT(Error(With(8, R"(device = "net_tap0,iface=averyveryverylongname")")),
              HasSubstr("t.toml:8: port[0].device: iface"));
  EXPECT_THAT(Error(With(11, "rx_ring = 1000")),
              HasSubstr("t.toml:11: port[0].rx_ring: must be a power of two"));
  EXPECT_THAT(Error(With(11, "mbufs = 1024")), HasSubstr("t.toml:11: port[0].mbufs:"));
  EXPECT_THAT(Error(With(11, "queues_per_core = 0")),
              HasSubstr("t.toml:11: port[0].queues_per_core: must be in [1, 16]"));
  EXPECT_THAT(Error(With(6, "[port]")), HasSubstr("t.toml:6: port: must be an array of tables"));
  EXPECT_THAT(Error(With(11, R"(pci = "0000:3b:00.0")")),
              HasSubstr("t.toml:11: port[0].pci: only for PCI drivers"));
}

TEST(ProfileTest, RealNicMistakes) {
  const std::string intel =
      "[eal]\nargs = [\"--socket-mem=1024\"]\nhugepages = true\n[[port]]\n"
      "driver = \"ixgbe\"\npci = \"0000:3b:00.0\"\nkernel_driver = \"vfio-pci\"\n"
      "ip = \"192.0.2.2/24\"\n";
  auto ok = ParseProfile(intel, "i.toml");
  EXPECT_TRUE(ok.ok()) << ok.status();
  std::string bad = intel;
  bad.replace(bad.find("vfio-pci"), 8, "ixgbe");
  EXPECT_THAT(std::string(ParseProfile(bad, "i.toml").status().message()),
              HasSubstr("i.toml:7: port[0].kernel_driver: ixgbe needs the device bound to vfio-pci"));
  bad = intel;
  bad.replace(bad.find("0000:3b:00.0"), 12, "3b:00.0");
  EXPECT_THAT(std::string(ParseProfile(bad, "i.toml").status().message()),
              HasSubstr("i.toml:6: port[0].pci: \"3b:00.0\" is not a PCI address"));
  bad = intel;
  bad.replace(bad.find("pci = "), 0, "device = \"net_tap0\"\n");
  EXPECT_THAT(std::string(ParseProfile(bad, "i.toml").status().message()),
              HasSubstr("i.toml:6: port[0].device: driver ixgbe is a PCI device"));
  bad = intel;
  bad.replace(bad.find("\"--socket-mem=1024\""), 19, "\"--no-huge\"");
  bad.replace(bad.find("true"), 4, "false");
  EXPECT_THAT(std::string(ParseProfile(bad, "i.toml").status().message()),
              HasSubstr("i.toml:3: eal.hugepages: port[0] (ixgbe) does DMA from hugepage memory"));

  const std::string mlx =
      "[eal]\nargs = [\"--in-memory\"]\nhugepages = true\n[[port]]\ndriver = \"mlx5\"\n"
      "pci = \"0000:3b:00.0\"\nkernel_driver = \"vfio-pci\"\nip = \"192.0.2.2/24\"\n";
  EXPECT_THAT(std::string(ParseProfile(mlx, "m.toml").status().message()),
              HasSubstr("m.toml:7: port[0].kernel_driver: mlx5 is bifurcated"));
}

TEST(ProfileTest, Overrides) {
  auto p = LoadProfile("tap");
  ASSERT_TRUE(p.ok());
  ASSERT_TRUE(OverrideTapIface(&*p, "dpxt42").ok());
  EXPECT_EQ(p->ports[0].device, "net_tap0,iface=dpxt42");
  ASSERT_TRUE(OverrideIp(&*p, "10.7.0.2/24").ok());
  EXPECT_FALSE(ValidateProfile(*p).ok());  // the profile's gateway is now off-subnet
  EXPECT_THAT(std::string(ValidateProfile(*p).message()), HasSubstr("port[0].gateway"));
  ASSERT_TRUE(OverrideGateway(&*p, "10.7.0.1").ok());
  EXPECT_TRUE(ValidateProfile(*p).ok()) << ValidateProfile(*p);
  EXPECT_THAT(std::string(OverrideIp(&*p, "10.7.0.2").message()), HasSubstr("--ip"));
  EXPECT_FALSE(OverrideTapIface(&*p, "way-too-long-iface-name").ok());
  ASSERT_TRUE(OverrideLcores(&*p, "0-1").ok());
  EXPECT_EQ(p->cores(), 2u);
  EXPECT_EQ(p->QueuesOf(p->ports[0]), 2);
  ASSERT_TRUE(OverrideFilePrefix(&*p, "dpxit1").ok());
  const std::string argv = absl::StrJoin(EalArgv(*p, "dpx"), " ");
  EXPECT_THAT(argv, HasSubstr("--file-prefix=dpxit1"));
  EXPECT_THAT(argv, ::testing::Not(HasSubstr("--file-prefix=dpx ")));
  EXPECT_THAT(argv, HasSubstr("-l 0-1"));

  auto ring = LoadProfile("ring");
  ASSERT_TRUE(ring.ok());
  EXPECT_THAT(std::string(OverrideTapIface(&*ring, "x").message()), HasSubstr("no tap port"));
  EXPECT_THAT(std::string(LoadProfile("nosuch").status().message()), HasSubstr("built in: "));
  EXPECT_THAT(std::string(LoadProfile("/nonexistent/x.toml").status().message()),
              HasSubstr("cannot read"));
}

TEST(ProfileTest, SymmetricKey) {
  const auto k = SymmetricRssKey(52);
  ASSERT_EQ(k.size(), 52u);
  for (size_t i = 0; i < k.size(); i += 2) {
    EXPECT_EQ(k[i], 0x6d);
    EXPECT_EQ(k[i + 1], 0x5a);
  }
}

}  // namespace
}  // namespace dpx
