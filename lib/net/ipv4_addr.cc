#include "net/ipv4_addr.h"

#include <cstdio>

namespace dpx {

namespace {
// Parses 1..max_digits decimal digits at text[*pos]; advances *pos.
bool ParseDecimal(std::string_view text, size_t* pos, size_t max_digits, uint32_t* out) {
  uint32_t v = 0;
  size_t n = 0;
  while (*pos < text.size() && text[*pos] >= '0' && text[*pos] <= '9') {
    if (++n > max_digits) return false;
    v = v * 10 + static_cast<uint32_t>(text[*pos] - '0');
    ++*pos;
  }
  if (n == 0) return false;
  *out = v;
  return true;
}
}  // namespace

bool ParseIpv4(std::string_view text, uint32_t* out_be) {
  uint32_t host = 0;
  size_t pos = 0;
  for (int i = 0; i < 4; ++i) {
    if (i > 0) {
      if (pos >= text.size() || text[pos] != '.') return false;
      ++pos;
    }
    uint32_t v;
    if (!ParseDecimal(text, &pos, 3, &v) || v > 255) return false;
    host = (host << 8) | v;
  }
  if (pos != text.size()) return false;
  *out_be = Ipv4FromHost(host);
  return true;
}

std::string FormatIpv4(uint32_t be) {
  const uint32_t h = Ipv4ToHost(be);
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%u.%u.%u.%u", h >> 24, (h >> 16) & 0xff, (h >> 8) & 0xff,
                h & 0xff);
  return buf;
}

bool ParseIpv4Prefix(std::string_view text, uint32_t* out_be, uint8_t* out_len) {
  const size_t slash = text.find('/');
  uint32_t len = 32;
  if (slash != std::string_view::npos) {
    const std::string_view l = text.substr(slash + 1);
    size_t pos = 0;
    if (!ParseDecimal(l, &pos, 2, &len) || pos != l.size() || len > 32) return false;
    text = text.substr(0, slash);
  }
  if (!ParseIpv4(text, out_be)) return false;
  *out_len = static_cast<uint8_t>(len);
  return true;
}

}  // namespace dpx
