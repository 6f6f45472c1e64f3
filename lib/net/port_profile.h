// NIC profiles: what EAL gets and how each port is brought up, read from a
// TOML file (drivers-config/*.toml, described in docs/drivers-config.md).
//
// A profile is parsed and validated without touching DPDK, so
// `dpx --check-config` checks a real-NIC profile on a machine without the
// NIC, and every error names the file, the line and the key:
//
//   drivers-config/ixgbe.toml:31: port[0].rx_ring: must be a power of two
//   in [64, 16384], got 1000
//
// Every file in drivers-config/ is also compiled into the binary
// (EmbeddedProfiles()), so `dpx` runs with no files installed; "tap" is the
// default.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace dpx {

enum class DriverKind : uint8_t {
  kTap,       // net_tap: a Linux TAP netdev (development, tests, the demo)
  kAfPacket,  // net_af_packet: an existing Linux netdev through AF_PACKET
  kMemif,     // net_memif: shared-memory packet interface to another process
  kRing,      // net_ring: rte_ring-backed port (benchmarks)
  kNull,      // net_null: discards tx, rx returns nothing (benchmarks)
  kIxgbe,     // Intel 82599/X5xx (PCI, vfio-pci)
  kI40e,      // Intel X710/XL710/XXV710 (PCI, vfio-pci)
  kIce,       // Intel E810 (PCI, vfio-pci)
  kMlx5,      // NVIDIA/Mellanox ConnectX-4..7 (PCI, bifurcated: mlx5_core)
};

// "tap", "af_packet", ... as written in profiles.
std::string_view DriverKindName(DriverKind k);
bool ParseDriverKind(std::string_view name, DriverKind* out);
// True for drivers probed on the PCI bus (ixgbe, i40e, ice, mlx5).
bool IsPciDriver(DriverKind k);
// The DPDK vdev driver name ("net_tap") of a virtual driver; "" for PCI.
std::string_view VdevDriverName(DriverKind k);

// Offload names a profile may list, and the RTE_ETH_{RX,TX}_OFFLOAD_* bit
// each stands for. The port enables only those the device reports; the rest
// are done in software (see EthPort).
struct OffloadName {
  const char* name;  // "tx_tcp_cksum"
  bool rx;           // rx (true) or tx (false) offload
  uint64_t bit;      // RTE_ETH_RX_OFFLOAD_TCP_CKSUM, ...
};
absl::Span<const OffloadName> KnownOffloads();

// The symmetric Toeplitz key (0x6d5a repeated): a flow and its reverse hash
// to the same value, so both directions land on one queue (one core).
std::vector<uint8_t> SymmetricRssKey(size_t len);

struct EalProfile {
  // Passed to rte_eal_init as written, after argv[0]. Must not contain the
  // options dpx derives itself (-l/-c/--lcores, --vdev, -a/-b, --main-lcore).
  std::vector<std::string> args;
  std::string lcores = "0";     // "0", "0-1", "0,2"; first is the main lcore
  std::vector<unsigned> lcore_list;  // resolved from `lcores`
  bool hugepages = false;       // true: the profile needs hugepages mounted
};

struct PortProfile {
  std::string name;            // "port0"; used in logs and the summary
  DriverKind driver = DriverKind::kTap;
  std::string device;          // virtual drivers: vdev spec "net_tap0,iface=dpx0"
  std::string pci;             // PCI drivers: "0000:3b:00.0"
  std::string devargs;         // PCI drivers: appended to `-a pci,devargs`
  std::string kernel_driver;   // PCI drivers: "vfio-pci" (Intel), "mlx5_core" (mlx5)
  uint16_t queues_per_core = 1;
  uint16_t rx_ring = 1024;
  uint16_t tx_ring = 1024;
  std::string rss_key_spec = "symmetric";  // as written: "symmetric" or hex
  std::vector<uint8_t> rss_key;            // hex keys only; empty = symmetric
  std::vector<std::string> offloads;       // requested, validated names
  uint64_t rx_offloads = 0;                // their RTE_ETH_RX_OFFLOAD_* bits
  uint64_t tx_offloads = 0;                // their RTE_ETH_TX_OFFLOAD_* bits
  uint16_t mtu = 1500;
  uint32_t ip = 0;                         // host byte order; 0 = not set
  uint8_t prefix_len = 0;
  uint32_t gateway = 0;                    // host byte order; 0 = none
  uint32_t mbufs = 8191;                   // mbuf pool size for this port

  // The name rte_ethdev knows the port by: the vdev name ("net_tap0") or
  // the PCI address.
  std::string EthdevName() const;
  // The EAL option that creates/allows the device: "--vdev=..." or
  // "0000:3b:00.0,devargs" (EalArgv puts "-a" before it).
  std::string EalDeviceArg() const;
};

struct Profile {
  std::string source;       // file path, or "embedded:tap.toml"
  std::string name;         // `name` key, else the file's stem
  std::string description;
  EalProfile eal;
  std::vector<PortProfile> ports;
  // Where each validated setting came from, for cross-field errors:
  // "port[0].gateway" -> "drivers-config/tap.toml:40" or "--gateway".
  std::map<std::string, std::string> origin;

  std::string Where(const std::string& key) const;
  // Number of lcores, and the rx/tx queues each port gets.
  unsigned cores() const { return static_cast<unsigned>(eal.lcore_list.size()); }
  uint16_t QueuesOf(const PortProfile& p) const {
    return static_cast<uint16_t>(cores() * p.queues_per_core);
  }
};

// Parses and validates a profile. `source` names the text in errors.
absl::StatusOr<Profile> ParseProfile(std::string_view text, std::string_view source);
// `name_or_path`: a path (contains '/' or ends in ".toml") is read from
// disk; anything else names an embedded profile ("tap", "ixgbe", ...).
absl::StatusOr<Profile> LoadProfile(std::string_view name_or_path);
// Cross-field checks (also run by ParseProfile); run again after overrides.
absl::Status ValidateProfile(const Profile& p);

struct EmbeddedProfile {
  const char* name;  // "tap" (file stem)
  const char* text;
};
absl::Span<const EmbeddedProfile> EmbeddedProfiles();
inline constexpr std::string_view kDefaultProfile = "tap";

// Overrides from the command line. Each records its origin (the flag).
// Sets `iface=` of the first tap port's vdev spec.
absl::Status OverrideTapIface(Profile* p, std::string_view iface);
absl::Status OverrideIp(Profile* p, std::string_view cidr);        // port 0
absl::Status OverrideGateway(Profile* p, std::string_view addr);   // port 0
absl::Status OverrideLcores(Profile* p, std::string_view lcores);
absl::Status OverrideMbufs(Profile* p, uint32_t mbufs);            // every port
absl::Status OverrideFilePrefix(Profile* p, std::string_view prefix);

// The command-line overrides dpx and dpxgen share (--tap-iface, --ip, ...);
// empty or 0 leaves the profile's value.
struct ProfileOverrides {
  std::string tap_iface, ip, gateway, lcores, file_prefix;
  uint32_t mbufs = 0;
};
// LoadProfile, then every override, then ValidateProfile.
absl::StatusOr<Profile> LoadProfileWithOverrides(std::string_view name_or_path,
                                                 const ProfileOverrides& o);

// The argv rte_eal_init gets (argv[0] first): profile args, -l lcores, and
// one --vdev / -a per port.
std::vector<std::string> EalArgv(const Profile& p, std::string_view argv0);
// Human-readable plan for --check-config and the startup log: EAL argv,
// lcores, each port's device, queues, rings, RSS, offloads, MTU, address,
// and what the host must provide (vfio-pci binding, hugepages).
std::string DescribePlan(const Profile& p, std::string_view argv0);

// Address helpers (host byte order).
absl::Status ParseIpv4Host(std::string_view s, uint32_t* out);
absl::Status ParseIpv4PrefixHost(std::string_view s, uint32_t* ip, uint8_t* len);
std::string FormatIpv4Host(uint32_t ip);
absl::Status ParseLcoreList(std::string_view s, std::vector<unsigned>* out);
// The minimum pool size for a port in a profile: every rx/tx descriptor
// filled, each core's mempool cache full, plus headroom for the stack.
uint32_t MinMbufs(const Profile& p, const PortProfile& port);

}  // namespace dpx
