#include "net/port_profile.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <sstream>

#include <rte_ethdev.h>
#include <toml++/toml.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "core/timer_kinds.h"

namespace dpx {

namespace {

// Debian's absl has its own string_view type (not std::string_view); these
// convert at the boundary.
absl::string_view AV(std::string_view s) { return absl::string_view(s.data(), s.size()); }
std::string_view SV(absl::string_view s) { return std::string_view(s.data(), s.size()); }

struct DriverInfo {
  DriverKind kind;
  const char* name;
  const char* vdev;  // nullptr for PCI drivers
};

constexpr DriverInfo kDrivers[] = {
    {DriverKind::kTap, "tap", "net_tap"},
    {DriverKind::kAfPacket, "af_packet", "net_af_packet"},
    {DriverKind::kMemif, "memif", "net_memif"},
    {DriverKind::kRing, "ring", "net_ring"},
    {DriverKind::kNull, "null", "net_null"},
    {DriverKind::kIxgbe, "ixgbe", nullptr},
    {DriverKind::kI40e, "i40e", nullptr},
    {DriverKind::kIce, "ice", nullptr},
    {DriverKind::kMlx5, "mlx5", nullptr},
};

constexpr OffloadName kOffloads[] = {
    {"rx_ipv4_cksum", true, RTE_ETH_RX_OFFLOAD_IPV4_CKSUM},
    {"rx_tcp_cksum", true, RTE_ETH_RX_OFFLOAD_TCP_CKSUM},
    {"rx_udp_cksum", true, RTE_ETH_RX_OFFLOAD_UDP_CKSUM},
    {"rx_scatter", true, RTE_ETH_RX_OFFLOAD_SCATTER},
    {"tx_ipv4_cksum", false, RTE_ETH_TX_OFFLOAD_IPV4_CKSUM},
    {"tx_tcp_cksum", false, RTE_ETH_TX_OFFLOAD_TCP_CKSUM},
    {"tx_udp_cksum", false, RTE_ETH_TX_OFFLOAD_UDP_CKSUM},
    {"tx_tcp_tso", false, RTE_ETH_TX_OFFLOAD_TCP_TSO},
    {"tx_multi_segs", false, RTE_ETH_TX_OFFLOAD_MULTI_SEGS},
};

// EAL options dpx derives from the profile itself; a profile's eal.args
// must not set them.
constexpr const char* kDerivedEalOptions[] = {
    "-l", "-c", "--lcores", "--main-lcore", "--master-lcore", "--vdev",
    "-a", "--allow", "-b", "--block", "-w", "--pci-whitelist", "--pci-blacklist",
};

constexpr int kMinRing = 64;
constexpr int kMaxRing = 16384;
constexpr int kMaxQueuesPerCore = 16;
constexpr int kMinMtu = 68;
constexpr int kMaxMtu = 9978;
constexpr int64_t kMinPool = 1024;
constexpr int64_t kMaxPool = 16 * 1024 * 1024;
constexpr uint32_t kPoolCache = 256;
constexpr uint32_t kStackHeadroomMbufs = 1024;
constexpr size_t kIfNameMax = 15;  // IFNAMSIZ - 1

std::string TypeName(const toml::node& n) {
  std::ostringstream os;
  os << n.type();
  return os.str();
}

// Parsing context: names the source in every error.
class Reader {
 public:
  explicit Reader(std::string source) : source_(std::move(source)) {}

  const std::string& source() const { return source_; }

  std::string At(const toml::source_region& r) const {
    return absl::StrFormat("%s:%d", source_, r.begin.line);
  }

  absl::Status Error(const toml::source_region& r, std::string_view key,
                     std::string_view msg) const {
    return absl::InvalidArgumentError(absl::StrFormat("%s: %s: %s", At(r), key, msg));
  }

  absl::Status CheckKeys(const toml::table& t, std::string_view prefix,
                         std::initializer_list<std::string_view> known) const {
    for (auto&& [k, v] : t) {
      if (std::find(known.begin(), known.end(), k.str()) != known.end()) continue;
      const std::string full = prefix.empty() ? std::string(k.str())
                                              : absl::StrCat(AV(prefix), ".", AV(k.str()));
      return Error(k.source(), full,
                   absl::StrCat("unknown key (known here: ",
                                absl::StrJoin(std::vector<std::string>(known.begin(), known.end()), ", "),
                                ")"));
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

  absl::Status Int(const toml::node& n, std::string_view key, int64_t lo, int64_t hi,
                   int64_t* out) const {
    const auto* i = n.as_integer();
    if (i == nullptr) {
      return Error(n.source(), key, absl::StrCat("must be an integer, got ", TypeName(n)));
    }
    if (i->get() < lo || i->get() > hi) {
      return Error(n.source(), key,
                   absl::StrFormat("must be in [%d, %d], got %d", lo, hi, i->get()));
    }
    *out = i->get();
    return absl::OkStatus();
  }

  absl::Status Bool(const toml::node& n, std::string_view key, bool* out) const {
    const auto* b = n.as_boolean();
    if (b == nullptr) {
      return Error(n.source(), key, absl::StrCat("must be true or false, got ", TypeName(n)));
    }
    *out = b->get();
    return absl::OkStatus();
  }

  absl::Status StringList(const toml::node& n, std::string_view key,
                          std::vector<std::string>* out) const {
    const auto* a = n.as_array();
    if (a == nullptr) {
      return Error(n.source(), key,
                   absl::StrCat("must be an array of strings, got ", TypeName(n)));
    }
    out->clear();
    for (size_t i = 0; i < a->size(); ++i) {
      const toml::node& e = *a->get(i);
      std::string s;
      if (auto st = String(e, absl::StrFormat("%s[%d]", key, i), &s); !st.ok()) return st;
      out->push_back(std::move(s));
    }
    return absl::OkStatus();
  }

 private:
  std::string source_;
};

bool ValidName(std::string_view s) {
  if (s.empty() || s.size() > 32) return false;
  for (char c : s) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') return false;
  }
  return true;
}

bool IsPowerOfTwo(int64_t v) { return v > 0 && (v & (v - 1)) == 0; }

absl::Status ParseHexKey(std::string_view s, std::vector<uint8_t>* out) {
  std::string hex;
  absl::string_view t = AV(s);
  absl::ConsumePrefix(&t, "0x");
  for (char c : t) {
    if (c == ':' || c == ' ') continue;
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) {
      return absl::InvalidArgumentError(
          absl::StrFormat("must be \"symmetric\" or a hex key, bad character '%c'", c));
    }
    hex.push_back(c);
  }
  if (hex.size() % 2 != 0) {
    return absl::InvalidArgumentError("hex key has an odd number of digits");
  }
  out->clear();
  for (size_t i = 0; i < hex.size(); i += 2) {
    out->push_back(static_cast<uint8_t>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  if (out->size() != 40 && out->size() != 52) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "hex key must be 40 bytes (ixgbe, mlx5, most) or 52 bytes (i40e, ice), got %d bytes",
        out->size()));
  }
  return absl::OkStatus();
}

bool ValidPciAddress(std::string_view s) {
  // DDDD:BB:DD.F, hex.
  if (s.size() != 12) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (i == 4 || i == 7) {
      if (c != ':') return false;
    } else if (i == 10) {
      if (c != '.') return false;
    } else if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) {
      return false;
    }
  }
  return s[11] >= '0' && s[11] <= '7';
}

// Splits a vdev spec "net_tap0,iface=dpx0,x=y" into its name and key=value args.
std::string_view VdevName(std::string_view spec) {
  return spec.substr(0, spec.find(','));
}

std::vector<std::pair<std::string, std::string>> DevArgs(std::string_view spec) {
  std::vector<std::pair<std::string, std::string>> out;
  const size_t comma = spec.find(',');
  if (comma == std::string_view::npos) return out;
  for (absl::string_view kv : absl::StrSplit(AV(spec.substr(comma + 1)), ',', absl::SkipEmpty())) {
    const size_t eq = kv.find('=');
    if (eq == std::string_view::npos) {
      out.emplace_back(std::string(kv), "");
    } else {
      out.emplace_back(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
    }
  }
  return out;
}

std::string DevArg(std::string_view spec, std::string_view key) {
  for (auto& [k, v] : DevArgs(spec)) {
    if (k == key) return v;
  }
  return "";
}

bool IsMulticastOrReserved(uint32_t ip) {
  const uint32_t top = ip >> 24;
  return ip == 0 || top == 0 || top == 127 || top >= 224;
}

std::string Joined(const std::vector<std::string>& v) { return absl::StrJoin(v, " "); }

bool HasArg(const std::vector<std::string>& args, std::string_view opt) {
  for (const auto& a : args) {
    if (a == opt || absl::StartsWith(a, absl::StrCat(AV(opt), "="))) return true;
  }
  return false;
}

absl::Status ParseEal(const Reader& r, const toml::table& t, Profile* p) {
  if (auto st = r.CheckKeys(t, "eal", {"args", "lcores", "hugepages"}); !st.ok()) return st;
  EalProfile& e = p->eal;
  if (const toml::node* n = t.get("args")) {
    if (auto st = r.StringList(*n, "eal.args", &e.args); !st.ok()) return st;
    const auto* arr = n->as_array();
    for (size_t i = 0; i < e.args.size(); ++i) {
      const std::string& a = e.args[i];
      const std::string key = absl::StrFormat("eal.args[%d]", i);
      const auto& src = arr->get(i)->source();
      if (a.empty()) return r.Error(src, key, "empty argument");
      for (const char* opt : kDerivedEalOptions) {
        if (a == opt || absl::StartsWith(a, absl::StrCat(opt, "="))) {
          return r.Error(src, key,
                         absl::StrFormat("'%s' is derived by dpx: set eal.lcores for cores and "
                                         "[[port]] device/pci for devices",
                                         opt));
        }
      }
      if (a == "--in-memory" && HasArg(e.args, "--no-huge")) {
        return r.Error(src, key,
                       "DPDK 22.11 refuses --in-memory with --no-huge (--no-huge implies legacy "
                       "memory); use --no-huge --no-shconf, which also leaves no files behind");
      }
    }
    p->origin["eal.args"] = r.At(n->source());
  }
  if (const toml::node* n = t.get("lcores")) {
    if (auto st = r.String(*n, "eal.lcores", &e.lcores); !st.ok()) return st;
    if (auto st = ParseLcoreList(e.lcores, &e.lcore_list); !st.ok()) {
      return r.Error(n->source(), "eal.lcores", SV(st.message()));
    }
    p->origin["eal.lcores"] = r.At(n->source());
  } else {
    e.lcore_list = {0};
  }
  if (const toml::node* n = t.get("hugepages")) {
    if (auto st = r.Bool(*n, "eal.hugepages", &e.hugepages); !st.ok()) return st;
    p->origin["eal.hugepages"] = r.At(n->source());
  }
  return absl::OkStatus();
}

absl::Status ParsePort(const Reader& r, const toml::table& t, size_t index, Profile* p) {
  const std::string pre = absl::StrFormat("port[%d]", index);
  auto key = [&](std::string_view k) { return absl::StrCat(pre, ".", AV(k)); };
  if (auto st = r.CheckKeys(t, pre,
                            {"name", "driver", "device", "pci", "devargs", "kernel_driver",
                             "queues_per_core", "rx_ring", "tx_ring", "rss_key", "offloads", "mtu",
                             "ip", "gateway", "mbufs"});
      !st.ok()) {
    return st;
  }
  PortProfile port;
  port.name = absl::StrFormat("port%d", index);
  auto note = [&](std::string_view k, const toml::node& n) {
    p->origin[key(k)] = r.At(n.source());
  };

  if (const toml::node* n = t.get("name")) {
    if (auto st = r.String(*n, key("name"), &port.name); !st.ok()) return st;
    if (!ValidName(port.name)) {
      return r.Error(n->source(), key("name"), "must be 1-32 characters of [A-Za-z0-9_-]");
    }
  }

  const toml::node* drv = t.get("driver");
  if (drv == nullptr) {
    return r.Error(t.source(), key("driver"),
                   "missing (one of tap, af_packet, memif, ring, null, ixgbe, i40e, ice, mlx5)");
  }
  {
    std::string s;
    if (auto st = r.String(*drv, key("driver"), &s); !st.ok()) return st;
    if (!ParseDriverKind(s, &port.driver)) {
      return r.Error(drv->source(), key("driver"),
                     absl::StrFormat("unknown driver \"%s\" (one of tap, af_packet, memif, ring, "
                                     "null, ixgbe, i40e, ice, mlx5)",
                                     s));
    }
    note("driver", *drv);
  }
  const bool pci = IsPciDriver(port.driver);
  const std::string dname(DriverKindName(port.driver));

  // Device: a vdev spec for virtual drivers, a PCI address for real NICs.
  const toml::node* dev = t.get("device");
  const toml::node* addr = t.get("pci");
  if (pci) {
    if (dev != nullptr) {
      return r.Error(dev->source(), key("device"),
                     absl::StrFormat("driver %s is a PCI device: give its address as "
                                     "pci = \"DDDD:BB:DD.F\", not a vdev spec",
                                     dname));
    }
    if (addr == nullptr) {
      return r.Error(t.source(), key("pci"),
                     absl::StrFormat("missing: driver %s needs the PCI address "
                                     "(pci = \"0000:3b:00.0\", see lspci -D)",
                                     dname));
    }
    if (auto st = r.String(*addr, key("pci"), &port.pci); !st.ok()) return st;
    port.pci = absl::AsciiStrToLower(port.pci);
    if (!ValidPciAddress(port.pci)) {
      return r.Error(addr->source(), key("pci"),
                     absl::StrFormat("\"%s\" is not a PCI address DDDD:BB:DD.F", port.pci));
    }
    note("pci", *addr);
    if (const toml::node* n = t.get("devargs")) {
      if (auto st = r.String(*n, key("devargs"), &port.devargs); !st.ok()) return st;
      if (port.devargs.find_first_of(" \t") != std::string::npos) {
        return r.Error(n->source(), key("devargs"), "must not contain spaces");
      }
      note("devargs", *n);
    }
    const toml::node* kd = t.get("kernel_driver");
    if (kd == nullptr) {
      return r.Error(t.source(), key("kernel_driver"),
                     port.driver == DriverKind::kMlx5
                         ? "missing: mlx5 is bifurcated, set kernel_driver = \"mlx5_core\""
                         : "missing: Intel NICs need kernel_driver = \"vfio-pci\"");
    }
    if (auto st = r.String(*kd, key("kernel_driver"), &port.kernel_driver); !st.ok()) return st;
    if (port.driver == DriverKind::kMlx5) {
      if (port.kernel_driver != "mlx5_core") {
        return r.Error(kd->source(), key("kernel_driver"),
                       absl::StrFormat("mlx5 is bifurcated: the device stays bound to the kernel "
                                       "driver mlx5_core (do not bind it to %s)",
                                       port.kernel_driver));
      }
    } else if (port.kernel_driver != "vfio-pci") {
      return r.Error(kd->source(), key("kernel_driver"),
                     absl::StrFormat("%s needs the device bound to vfio-pci, got \"%s\"", dname,
                                     port.kernel_driver));
    }
    note("kernel_driver", *kd);
  } else {
    for (const char* k : {"pci", "devargs", "kernel_driver"}) {
      if (const toml::node* n = t.get(k)) {
        return r.Error(n->source(), key(k),
                       absl::StrFormat("only for PCI drivers; %s is a virtual device: put its "
                                       "arguments in device = \"%s0,...\"",
                                       dname, VdevDriverName(port.driver)));
      }
    }
    if (dev == nullptr) {
      return r.Error(t.source(), key("device"),
                     absl::StrFormat("missing: driver %s needs a vdev spec, e.g. \"%s0\"", dname,
                                     VdevDriverName(port.driver)));
    }
    if (auto st = r.String(*dev, key("device"), &port.device); !st.ok()) return st;
    const std::string_view vname = VdevName(port.device);
    const std::string_view want = VdevDriverName(port.driver);
    absl::string_view suffix = AV(vname);
    const bool prefixed = absl::ConsumePrefix(&suffix, AV(want));
    const bool digits = !suffix.empty() && std::all_of(suffix.begin(), suffix.end(), [](char c) {
      return absl::ascii_isdigit(static_cast<unsigned char>(c));
    });
    if (!prefixed || !digits) {
      return r.Error(dev->source(), key("device"),
                     absl::StrFormat("vdev name \"%s\" must be %s<N> for driver %s (e.g. \"%s0\")",
                                     vname, want, dname, want));
    }
    if (port.device.find_first_of(" \t") != std::string::npos) {
      return r.Error(dev->source(), key("device"), "must not contain spaces");
    }
    if (port.driver == DriverKind::kTap || port.driver == DriverKind::kAfPacket) {
      const std::string iface = DevArg(port.device, "iface");
      if (iface.size() > kIfNameMax) {
        return r.Error(dev->source(), key("device"),
                       absl::StrFormat("iface \"%s\" is longer than %d characters", iface,
                                       kIfNameMax));
      }
      if (port.driver == DriverKind::kAfPacket && iface.empty()) {
        return r.Error(dev->source(), key("device"),
                       "af_packet needs the Linux interface: \"net_af_packet0,iface=eth1\"");
      }
    }
    note("device", *dev);
  }

  int64_t v = 0;
  if (const toml::node* n = t.get("queues_per_core")) {
    if (auto st = r.Int(*n, key("queues_per_core"), 1, kMaxQueuesPerCore, &v); !st.ok()) return st;
    port.queues_per_core = static_cast<uint16_t>(v);
    note("queues_per_core", *n);
  }
  for (const char* rk : {"rx_ring", "tx_ring"}) {
    if (const toml::node* n = t.get(rk)) {
      if (auto st = r.Int(*n, key(rk), kMinRing, kMaxRing, &v); !st.ok()) return st;
      if (!IsPowerOfTwo(v)) {
        return r.Error(n->source(), key(rk),
                       absl::StrFormat("must be a power of two in [%d, %d], got %d", kMinRing,
                                       kMaxRing, v));
      }
      (std::strcmp(rk, "rx_ring") == 0 ? port.rx_ring : port.tx_ring) = static_cast<uint16_t>(v);
      note(rk, *n);
    }
  }
  if (const toml::node* n = t.get("rss_key")) {
    if (auto st = r.String(*n, key("rss_key"), &port.rss_key_spec); !st.ok()) return st;
    if (port.rss_key_spec != "symmetric") {
      if (auto st = ParseHexKey(port.rss_key_spec, &port.rss_key); !st.ok()) {
        return r.Error(n->source(), key("rss_key"), SV(st.message()));
      }
    }
    note("rss_key", *n);
  }
  if (const toml::node* n = t.get("offloads")) {
    if (auto st = r.StringList(*n, key("offloads"), &port.offloads); !st.ok()) return st;
    const auto* arr = n->as_array();
    for (size_t i = 0; i < port.offloads.size(); ++i) {
      const std::string& o = port.offloads[i];
      const auto& src = arr->get(i)->source();
      const std::string ok = absl::StrFormat("%s[%d]", key("offloads"), i);
      const OffloadName* found = nullptr;
      for (const auto& k : kOffloads) {
        if (o == k.name) found = &k;
      }
      if (found == nullptr) {
        std::vector<std::string> names;
        for (const auto& k : kOffloads) names.push_back(k.name);
        return r.Error(src, ok,
                       absl::StrFormat("unknown offload \"%s\" (known: %s)", o,
                                       absl::StrJoin(names, ", ")));
      }
      if (std::find(port.offloads.begin(), port.offloads.begin() + i, o) != port.offloads.begin() + i) {
        return r.Error(src, ok, absl::StrFormat("offload \"%s\" listed twice", o));
      }
      (found->rx ? port.rx_offloads : port.tx_offloads) |= found->bit;
    }
    note("offloads", *n);
  }
  if (const toml::node* n = t.get("mtu")) {
    if (auto st = r.Int(*n, key("mtu"), kMinMtu, kMaxMtu, &v); !st.ok()) return st;
    port.mtu = static_cast<uint16_t>(v);
    note("mtu", *n);
  }
  if (const toml::node* n = t.get("ip")) {
    std::string s;
    if (auto st = r.String(*n, key("ip"), &s); !st.ok()) return st;
    if (auto st = ParseIpv4PrefixHost(s, &port.ip, &port.prefix_len); !st.ok()) {
      return r.Error(n->source(), key("ip"), SV(st.message()));
    }
    note("ip", *n);
  }
  if (const toml::node* n = t.get("gateway")) {
    std::string s;
    if (auto st = r.String(*n, key("gateway"), &s); !st.ok()) return st;
    if (auto st = ParseIpv4Host(s, &port.gateway); !st.ok()) {
      return r.Error(n->source(), key("gateway"), SV(st.message()));
    }
    note("gateway", *n);
  }
  if (const toml::node* n = t.get("mbufs")) {
    if (auto st = r.Int(*n, key("mbufs"), kMinPool, kMaxPool, &v); !st.ok()) return st;
    port.mbufs = static_cast<uint32_t>(v);
    note("mbufs", *n);
  }
  if (t.get("offloads") == nullptr) {
    // Default: checksum offloads where the device has them.
    port.offloads = {"rx_ipv4_cksum", "rx_tcp_cksum", "tx_ipv4_cksum", "tx_tcp_cksum"};
    port.rx_offloads = RTE_ETH_RX_OFFLOAD_IPV4_CKSUM | RTE_ETH_RX_OFFLOAD_TCP_CKSUM;
    port.tx_offloads = RTE_ETH_TX_OFFLOAD_IPV4_CKSUM | RTE_ETH_TX_OFFLOAD_TCP_CKSUM;
  }
  p->origin[key("name")] = r.At(t.source());
  p->ports.push_back(std::move(port));
  return absl::OkStatus();
}

std::string FileStem(std::string_view path) {
  absl::string_view s = AV(path);
  if (const size_t slash = s.rfind('/'); slash != std::string_view::npos) s = s.substr(slash + 1);
  absl::ConsumeSuffix(&s, ".toml");
  return std::string(s);
}

}  // namespace

std::string_view DriverKindName(DriverKind k) {
  for (const auto& d : kDrivers) {
    if (d.kind == k) return d.name;
  }
  return "?";
}

bool ParseDriverKind(std::string_view name, DriverKind* out) {
  for (const auto& d : kDrivers) {
    if (name == d.name) {
      *out = d.kind;
      return true;
    }
  }
  return false;
}

bool IsPciDriver(DriverKind k) { return VdevDriverName(k).empty(); }

std::string_view VdevDriverName(DriverKind k) {
  for (const auto& d : kDrivers) {
    if (d.kind == k) return d.vdev == nullptr ? std::string_view() : std::string_view(d.vdev);
  }
  return {};
}

absl::Span<const OffloadName> KnownOffloads() { return kOffloads; }

std::vector<uint8_t> SymmetricRssKey(size_t len) {
  std::vector<uint8_t> key(len);
  for (size_t i = 0; i < len; ++i) key[i] = (i % 2 == 0) ? 0x6d : 0x5a;
  return key;
}

std::string PortProfile::EthdevName() const {
  if (IsPciDriver(driver)) return pci;
  return std::string(VdevName(device));
}

std::string PortProfile::EalDeviceArg() const {
  if (IsPciDriver(driver)) return devargs.empty() ? pci : absl::StrCat(pci, ",", devargs);
  return absl::StrCat("--vdev=", device);
}

std::string Profile::Where(const std::string& key) const {
  auto it = origin.find(key);
  if (it != origin.end()) return it->second;
  return source;
}

absl::Status ParseIpv4Host(std::string_view s, uint32_t* out) {
  const std::string str(s);
  in_addr a{};
  if (str.empty() || inet_pton(AF_INET, str.c_str(), &a) != 1) {
    return absl::InvalidArgumentError(
        absl::StrFormat("\"%s\" is not an IPv4 address A.B.C.D", str));
  }
  *out = ntohl(a.s_addr);
  return absl::OkStatus();
}

absl::Status ParseIpv4PrefixHost(std::string_view s, uint32_t* ip, uint8_t* len) {
  const size_t slash = s.find('/');
  if (slash == std::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrFormat("\"%s\" must be an address with a prefix length, A.B.C.D/N", s));
  }
  uint32_t a = 0;
  if (auto st = ParseIpv4Host(s.substr(0, slash), &a); !st.ok()) return st;
  int n = 0;
  if (!absl::SimpleAtoi(AV(s.substr(slash + 1)), &n) || n < 1 || n > 32) {
    return absl::InvalidArgumentError(
        absl::StrFormat("\"%s\": prefix length must be 1..32", s));
  }
  if (IsMulticastOrReserved(a)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("\"%s\": not a unicast host address", s));
  }
  if (n <= 30) {
    const uint32_t host_mask = ~0u >> n;
    if ((a & host_mask) == 0 || (a & host_mask) == host_mask) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "\"%s\" is the network or broadcast address of its subnet", s));
    }
  }
  *ip = a;
  *len = static_cast<uint8_t>(n);
  return absl::OkStatus();
}

std::string FormatIpv4Host(uint32_t ip) {
  return absl::StrFormat("%d.%d.%d.%d", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255);
}

absl::Status ParseLcoreList(std::string_view s, std::vector<unsigned>* out) {
  std::vector<unsigned> v;
  if (s.empty()) return absl::InvalidArgumentError("empty lcore list");
  for (absl::string_view part : absl::StrSplit(AV(s), ',')) {
    unsigned lo = 0, hi = 0;
    const size_t dash = part.find('-');
    bool ok;
    if (dash == std::string_view::npos) {
      ok = absl::SimpleAtoi(part, &lo);
      hi = lo;
    } else {
      ok = absl::SimpleAtoi(part.substr(0, dash), &lo) &&
           absl::SimpleAtoi(part.substr(dash + 1), &hi) && lo <= hi;
    }
    if (!ok || hi >= RTE_MAX_LCORE) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "\"%s\" is not an lcore list like \"0\", \"0-3\" or \"0,2\" (lcores < %d)", s,
          RTE_MAX_LCORE));
    }
    for (unsigned c = lo; c <= hi; ++c) {
      if (!v.empty() && c <= v.back()) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "\"%s\": lcores must be ascending without repeats (the first is the main lcore)",
            s));
      }
      v.push_back(c);
    }
  }
  *out = std::move(v);
  return absl::OkStatus();
}

uint32_t MinMbufs(const Profile& p, const PortProfile& port) {
  const uint32_t q = p.QueuesOf(port);
  return q * (port.rx_ring + port.tx_ring) + p.cores() * kPoolCache + kStackHeadroomMbufs;
}

absl::StatusOr<Profile> ParseProfile(std::string_view text, std::string_view source) {
  Reader r{std::string(source)};
  toml::table root;
  try {
    root = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s:%d: TOML syntax: %s", source, e.source().begin.line, e.description()));
  }
  Profile p;
  p.source = std::string(source);
  p.name = FileStem(source);
  if (auto st = r.CheckKeys(root, "", {"name", "description", "eal", "port"}); !st.ok()) {
    return st;
  }
  if (const toml::node* n = root.get("name")) {
    if (auto st = r.String(*n, "name", &p.name); !st.ok()) return st;
    if (!ValidName(p.name)) {
      return r.Error(n->source(), "name", "must be 1-32 characters of [A-Za-z0-9_-]");
    }
  }
  if (const toml::node* n = root.get("description")) {
    if (auto st = r.String(*n, "description", &p.description); !st.ok()) return st;
  }
  if (const toml::node* n = root.get("eal")) {
    const auto* t = n->as_table();
    if (t == nullptr) {
      return r.Error(n->source(), "eal", absl::StrCat("must be a table [eal], got ", TypeName(*n)));
    }
    if (auto st = ParseEal(r, *t, &p); !st.ok()) return st;
  } else {
    p.eal.lcore_list = {0};
  }
  const toml::node* ports = root.get("port");
  if (ports == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s:1: port: missing: a profile needs at least one [[port]]", source));
  }
  const auto* arr = ports->as_array();
  if (arr == nullptr || !arr->is_array_of_tables()) {
    return r.Error(ports->source(), "port", "must be an array of tables: write [[port]]");
  }
  for (size_t i = 0; i < arr->size(); ++i) {
    if (auto st = ParsePort(r, *arr->get(i)->as_table(), i, &p); !st.ok()) return st;
  }
  if (auto st = ValidateProfile(p); !st.ok()) return st;
  return p;
}

absl::Status ValidateProfile(const Profile& p) {
  auto err = [&](const std::string& key, std::string_view msg) {
    return absl::InvalidArgumentError(absl::StrFormat("%s: %s: %s", p.Where(key), key, msg));
  };
  if (p.ports.empty()) return err("port", "a profile needs at least one [[port]]");
  if (p.eal.lcore_list.empty()) return err("eal.lcores", "no lcores");
  const bool no_huge = HasArg(p.eal.args, "--no-huge");
  if (p.eal.hugepages && no_huge) {
    return err("eal.hugepages", "hugepages = true but eal.args has --no-huge");
  }
  if (!p.eal.hugepages && !no_huge) {
    return err("eal.hugepages",
               "hugepages = false needs --no-huge in eal.args (else EAL looks for hugepages)");
  }
  if (no_huge && HasArg(p.eal.args, "--in-memory")) {
    return err("eal.args",
               "DPDK 22.11 refuses --in-memory with --no-huge; use --no-huge --no-shconf");
  }
  const bool no_pci = HasArg(p.eal.args, "--no-pci");
  if (p.ports.size() > timer_kind::kMaxPortsPerCore) {
    return err("port", absl::StrFormat("%d ports; dpx drives at most %d", p.ports.size(),
                                       timer_kind::kMaxPortsPerCore));
  }
  for (size_t i = 0; i < p.ports.size(); ++i) {
    const PortProfile& port = p.ports[i];
    const std::string pre = absl::StrFormat("port[%d]", i);
    auto key = [&](std::string_view k) { return absl::StrCat(pre, ".", AV(k)); };
    for (size_t j = 0; j < i; ++j) {
      if (p.ports[j].name == port.name) {
        return err(key("name"), absl::StrFormat("name \"%s\" used by port[%d] too", port.name, j));
      }
      if (p.ports[j].EthdevName() == port.EthdevName()) {
        return err(IsPciDriver(port.driver) ? key("pci") : key("device"),
                   absl::StrFormat("device %s used by port[%d] too", port.EthdevName(), j));
      }
    }
    if (IsPciDriver(port.driver)) {
      if (no_pci) {
        return err("eal.args", absl::StrFormat("--no-pci, but %s is the PCI device %s", pre,
                                               port.pci));
      }
      if (!p.eal.hugepages) {
        return err("eal.hugepages",
                   absl::StrFormat("%s (%s) does DMA from hugepage memory: set hugepages = true "
                                   "and drop --no-huge",
                                   pre, DriverKindName(port.driver)));
      }
    }
    if (port.ip == 0) {
      return err(key("ip"), "missing: the port needs an address, ip = \"A.B.C.D/N\" (or --ip)");
    }
    if (port.gateway != 0) {
      const uint32_t mask = port.prefix_len == 0 ? 0 : ~0u << (32 - port.prefix_len);
      if ((port.gateway & mask) != (port.ip & mask)) {
        return err(key("gateway"),
                   absl::StrFormat("%s is outside the port's subnet %s/%d",
                                   FormatIpv4Host(port.gateway), FormatIpv4Host(port.ip & mask),
                                   port.prefix_len));
      }
      if (port.gateway == port.ip) {
        return err(key("gateway"), "is the port's own address");
      }
    }
    if (port.driver == DriverKind::kAfPacket) {
      const std::string qp = DevArg(port.device, "qpairs");
      const unsigned want = p.QueuesOf(port);
      unsigned have = 1;
      if (!qp.empty() && !absl::SimpleAtoi(qp, &have)) have = 0;
      if (have != want) {
        return err(key("device"),
                   absl::StrFormat("af_packet qpairs=%s but the plan needs %d queues (%d lcores x "
                                   "%d queues_per_core): set qpairs=%d",
                                   qp.empty() ? "1 (default)" : qp, want, p.cores(),
                                   port.queues_per_core, want));
      }
    }
    const uint32_t need = MinMbufs(p, port);
    if (port.mbufs < need) {
      return err(key("mbufs"),
                 absl::StrFormat("%d mbufs cannot fill the plan: %d queues x (rx_ring %d + "
                                 "tx_ring %d) + per-core caches + stack headroom needs %d",
                                 port.mbufs, p.QueuesOf(port), port.rx_ring, port.tx_ring, need));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Profile> LoadProfile(std::string_view name_or_path) {
  const bool is_path = name_or_path.find('/') != std::string_view::npos ||
                       absl::EndsWith(AV(name_or_path), ".toml");
  if (!is_path) {
    for (const auto& e : EmbeddedProfiles()) {
      if (name_or_path == e.name) {
        return ParseProfile(e.text, absl::StrCat("embedded:", e.name, ".toml"));
      }
    }
    std::vector<std::string> names;
    for (const auto& e : EmbeddedProfiles()) names.push_back(e.name);
    return absl::NotFoundError(absl::StrFormat(
        "--profile=%s: no such built-in profile (built in: %s; or give a path to a .toml file)",
        name_or_path, absl::StrJoin(names, ", ")));
  }
  const std::string path(name_or_path);
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(
        absl::StrFormat("--profile=%s: cannot read: %s", path, std::strerror(errno)));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseProfile(ss.str(), path);
}

namespace {
absl::Status NeedPort(const Profile& p, std::string_view flag) {
  if (p.ports.empty()) {
    return absl::InvalidArgumentError(absl::StrFormat("%s: profile has no port", flag));
  }
  return absl::OkStatus();
}
}  // namespace

absl::Status OverrideTapIface(Profile* p, std::string_view iface) {
  if (iface.empty() || iface.size() > kIfNameMax ||
      iface.find_first_of(",=/ \t") != std::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "--tap-iface=%s: must be 1-%d characters without ',', '=', '/' or spaces", iface,
        kIfNameMax));
  }
  for (size_t i = 0; i < p->ports.size(); ++i) {
    PortProfile& port = p->ports[i];
    if (port.driver != DriverKind::kTap) continue;
    std::string spec(VdevName(port.device));
    bool replaced = false;
    for (auto& [k, v] : DevArgs(port.device)) {
      if (k == "iface") {
        v = std::string(iface);
        replaced = true;
      }
      absl::StrAppend(&spec, ",", k);
      if (!v.empty()) absl::StrAppend(&spec, "=", v);
    }
    if (!replaced) absl::StrAppend(&spec, ",iface=", AV(iface));
    port.device = spec;
    p->origin[absl::StrFormat("port[%d].device", i)] = "--tap-iface";
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrFormat(
      "--tap-iface: profile %s has no tap port", p->name));
}

absl::Status OverrideIp(Profile* p, std::string_view cidr) {
  if (auto st = NeedPort(*p, "--ip"); !st.ok()) return st;
  PortProfile& port = p->ports[0];
  if (auto st = ParseIpv4PrefixHost(cidr, &port.ip, &port.prefix_len); !st.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--ip: ", st.message()));
  }
  p->origin["port[0].ip"] = "--ip";
  return absl::OkStatus();
}

absl::Status OverrideGateway(Profile* p, std::string_view addr) {
  if (auto st = NeedPort(*p, "--gateway"); !st.ok()) return st;
  if (auto st = ParseIpv4Host(addr, &p->ports[0].gateway); !st.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--gateway: ", st.message()));
  }
  p->origin["port[0].gateway"] = "--gateway";
  return absl::OkStatus();
}

absl::Status OverrideLcores(Profile* p, std::string_view lcores) {
  if (auto st = ParseLcoreList(lcores, &p->eal.lcore_list); !st.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--lcores: ", st.message()));
  }
  p->eal.lcores = std::string(lcores);
  p->origin["eal.lcores"] = "--lcores";
  return absl::OkStatus();
}

absl::Status OverrideMbufs(Profile* p, uint32_t mbufs) {
  if (mbufs < kMinPool || mbufs > kMaxPool) {
    return absl::InvalidArgumentError(
        absl::StrFormat("--mbufs=%d: must be in [%d, %d]", mbufs, kMinPool, kMaxPool));
  }
  for (size_t i = 0; i < p->ports.size(); ++i) {
    p->ports[i].mbufs = mbufs;
    p->origin[absl::StrFormat("port[%d].mbufs", i)] = "--mbufs";
  }
  return absl::OkStatus();
}

absl::Status OverrideFilePrefix(Profile* p, std::string_view prefix) {
  if (!ValidName(prefix)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "--file-prefix=%s: must be 1-32 characters of [A-Za-z0-9_-]", prefix));
  }
  auto& args = p->eal.args;
  for (size_t i = 0; i < args.size();) {
    if (args[i] == "--file-prefix") {
      args.erase(args.begin() + i, args.begin() + std::min(i + 2, args.size()));
    } else if (absl::StartsWith(args[i], "--file-prefix=")) {
      args.erase(args.begin() + i);
    } else {
      ++i;
    }
  }
  args.push_back(absl::StrCat("--file-prefix=", AV(prefix)));
  p->origin["eal.args"] = "--file-prefix";
  return absl::OkStatus();
}

std::vector<std::string> EalArgv(const Profile& p, std::string_view argv0) {
  std::vector<std::string> argv;
  argv.emplace_back(argv0);
  for (const auto& a : p.eal.args) argv.push_back(a);
  argv.push_back("-l");
  argv.push_back(p.eal.lcores);
  for (const auto& port : p.ports) {
    if (IsPciDriver(port.driver)) {
      argv.push_back("-a");
    }
    argv.push_back(port.EalDeviceArg());
  }
  return argv;
}

std::string DescribePlan(const Profile& p, std::string_view argv0) {
  std::string out;
  absl::StrAppendFormat(&out, "profile: %s (%s)\n", p.name, p.source);
  if (!p.description.empty()) absl::StrAppendFormat(&out, "  %s\n", p.description);
  absl::StrAppendFormat(&out, "eal argv: %s\n", Joined(EalArgv(p, argv0)));
  std::vector<std::string> cores;
  for (unsigned c : p.eal.lcore_list) cores.push_back(absl::StrCat(c));
  absl::StrAppendFormat(&out, "lcores: %s (main lcore %d; one reactor each)\n",
                        absl::StrJoin(cores, ","), p.eal.lcore_list.front());
  absl::StrAppendFormat(
      &out, "memory: %s\n",
      p.eal.hugepages ? "hugepages required (mount hugetlbfs and reserve pages)"
                      : "no hugepages (--no-huge --no-shconf: anonymous memory, no files)");
  for (const auto& port : p.ports) {
    absl::StrAppendFormat(&out, "port %s: driver %s, ethdev %s, eal %s%s\n", port.name,
                          DriverKindName(port.driver), port.EthdevName(),
                          IsPciDriver(port.driver) ? "-a " : "", port.EalDeviceArg());
    const uint16_t q = p.QueuesOf(port);
    absl::StrAppendFormat(&out, "  queues: %d rx + %d tx (%d per core), rings rx %d tx %d\n", q,
                          q, port.queues_per_core, port.rx_ring, port.tx_ring);
    if (port.rss_key.empty()) {
      absl::StrAppendFormat(&out,
                            "  rss: symmetric Toeplitz key (0x6d5a repeated to the device's key "
                            "size), IPv4/TCP, if the device supports RSS\n");
    } else {
      absl::StrAppendFormat(&out, "  rss: %d-byte key from the profile, IPv4/TCP\n",
                            port.rss_key.size());
    }
    absl::StrAppendFormat(&out,
                          "  offloads requested: %s (enabled where the device reports them, "
                          "software otherwise)\n",
                          port.offloads.empty() ? "none" : absl::StrJoin(port.offloads, " "));
    absl::StrAppendFormat(&out, "  mtu %d, ip %s/%d, gateway %s, mbufs %d (plan needs >= %d)\n",
                          port.mtu, FormatIpv4Host(port.ip), port.prefix_len,
                          port.gateway ? FormatIpv4Host(port.gateway) : "none", port.mbufs,
                          MinMbufs(p, port));
    if (port.driver == DriverKind::kMlx5) {
      absl::StrAppendFormat(
          &out,
          "  host: %s stays bound to mlx5_core (bifurcated; do not unbind); needs "
          "rdma-core/libibverbs and the netdev up\n",
          port.pci);
    } else if (IsPciDriver(port.driver)) {
      absl::StrAppendFormat(
          &out,
          "  host: bind %s to vfio-pci first (modprobe vfio-pci; dpdk-devbind.py "
          "--bind=vfio-pci %s); IOMMU on\n",
          port.pci, port.pci);
    } else if (port.driver == DriverKind::kTap) {
      const std::string iface = DevArg(port.device, "iface");
      absl::StrAppendFormat(&out, "  host: creates TAP netdev %s in dpx's network namespace\n",
                            iface.empty() ? "dtap0 (DPDK default)" : iface);
    }
  }
  return out;
}

absl::StatusOr<Profile> LoadProfileWithOverrides(std::string_view name_or_path,
                                                 const ProfileOverrides& o) {
  absl::StatusOr<Profile> p = LoadProfile(name_or_path);
  if (!p.ok()) return p.status();
  if (!o.tap_iface.empty()) {
    if (auto st = OverrideTapIface(&*p, o.tap_iface); !st.ok()) return st;
  }
  if (!o.ip.empty()) {
    if (auto st = OverrideIp(&*p, o.ip); !st.ok()) return st;
  }
  if (!o.gateway.empty()) {
    if (auto st = OverrideGateway(&*p, o.gateway); !st.ok()) return st;
  }
  if (!o.lcores.empty()) {
    if (auto st = OverrideLcores(&*p, o.lcores); !st.ok()) return st;
  }
  if (o.mbufs != 0) {
    if (auto st = OverrideMbufs(&*p, o.mbufs); !st.ok()) return st;
  }
  if (!o.file_prefix.empty()) {
    if (auto st = OverrideFilePrefix(&*p, o.file_prefix); !st.ok()) return st;
  }
  if (auto st = ValidateProfile(*p); !st.ok()) return st;
  return p;
}

}  // namespace dpx
