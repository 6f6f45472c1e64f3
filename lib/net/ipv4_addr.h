// IPv4 addresses as the data path holds them: uint32_t in NETWORK byte
// order (like Linux __be32), plus dotted-quad parsing/formatting and the
// address-class tests routing and input validation need.
#pragma once

#include <bit>
#include <cstdint>
#include <string>
#include <string_view>

namespace dpx {

// a.b.c.d in network byte order, usable in constant expressions.
constexpr uint32_t Ipv4Addr(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  const uint32_t host = (uint32_t{a} << 24) | (uint32_t{b} << 16) | (uint32_t{c} << 8) | d;
  if constexpr (std::endian::native == std::endian::little) return __builtin_bswap32(host);
  return host;
}

constexpr uint32_t Ipv4ToHost(uint32_t be) {
  if constexpr (std::endian::native == std::endian::little) return __builtin_bswap32(be);
  return be;
}
constexpr uint32_t Ipv4FromHost(uint32_t host) { return Ipv4ToHost(host); }

inline constexpr uint32_t kIpv4Any = 0;
inline constexpr uint32_t kIpv4Broadcast = 0xffffffffu;  // same in both byte orders

// Netmask for a prefix length 0..32, network order.
constexpr uint32_t Ipv4PrefixMask(uint8_t prefix_len) {
  return Ipv4FromHost(prefix_len == 0 ? 0u : (prefix_len >= 32 ? ~0u : ~0u << (32 - prefix_len)));
}
constexpr bool Ipv4IsMulticast(uint32_t be) { return (Ipv4ToHost(be) >> 28) == 0xe; }
constexpr bool Ipv4IsLoopback(uint32_t be) { return (Ipv4ToHost(be) >> 24) == 127; }
constexpr bool Ipv4IsZeronet(uint32_t be) { return (Ipv4ToHost(be) >> 24) == 0; }
constexpr bool Ipv4IsLimitedBroadcast(uint32_t be) { return be == kIpv4Broadcast; }

// Parses "10.0.0.1" (exactly four decimal octets); false on anything else.
bool ParseIpv4(std::string_view text, uint32_t* out_be);
// "10.0.0.1".
std::string FormatIpv4(uint32_t be);
// Parses "10.0.0.1/24"; a missing "/len" means /32.
bool ParseIpv4Prefix(std::string_view text, uint32_t* out_be, uint8_t* out_len);

}  // namespace dpx
