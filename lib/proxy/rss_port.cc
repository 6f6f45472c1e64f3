#include "proxy/rss_port.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <rte_byteorder.h>
#include <rte_thash.h>

namespace dpx::proxy {

namespace {

// rte_thash's tuple: addresses and ports in CPU order, as the hash reads
// the packet's fields.
rte_ipv4_tuple Tuple(uint32_t src_be, uint32_t dst_be, uint16_t sport, uint16_t dport) {
  rte_ipv4_tuple t{};
  t.src_addr = rte_be_to_cpu_32(src_be);
  t.dst_addr = rte_be_to_cpu_32(dst_be);
  t.sport = sport;
  t.dport = dport;
  return t;
}

std::vector<uint32_t> ConvertKey(const std::vector<uint8_t>& key) {
  // rte_softrss_be reads words j and j + 1 for j < RTE_THASH_V4_L4_LEN.
  std::vector<uint8_t> padded(key);
  padded.resize(std::max<size_t>((padded.size() + 3) / 4 * 4, 16), 0);
  std::vector<uint32_t> orig(padded.size() / 4), out(padded.size() / 4);
  std::memcpy(orig.data(), padded.data(), padded.size());
  rte_convert_rss_key(orig.data(), out.data(), static_cast<int>(padded.size()));
  return out;
}

}  // namespace

uint32_t ToeplitzHashV4(const std::vector<uint8_t>& key, uint32_t src_be, uint32_t dst_be,
                        uint16_t sport, uint16_t dport) {
  std::vector<uint8_t> k(key);
  if (k.size() < 16) k.resize(16, 0);
  rte_ipv4_tuple t = Tuple(src_be, dst_be, sport, dport);
  return rte_softrss(reinterpret_cast<uint32_t*>(&t), RTE_THASH_V4_L4_LEN, k.data());
}

RssPortPicker::RssPortPicker(RssSpec spec, unsigned core, uint16_t lo, uint16_t hi)
    : spec_(std::move(spec)), core_(core), lo_(std::min(lo, hi)), hi_(std::max(lo, hi)) {
  if (spec_.queues == 0) spec_.queues = 1;
  if (!spec_.key.empty()) key_be_ = ConvertKey(spec_.key);
}

uint16_t RssPortPicker::QueueOfHash(uint32_t hash) const {
  if (!spec_.reta.empty()) return spec_.reta[hash % spec_.reta.size()];
  return static_cast<uint16_t>(hash % spec_.queues);
}

bool RssPortPicker::ReplyLandsHere(uint32_t local_be, uint16_t lport, uint32_t remote_be,
                                   uint16_t rport) const {
  if (!active()) return true;
  rte_ipv4_tuple t = Tuple(remote_be, local_be, rport, lport);  // the reply: remote -> local
  const uint32_t h = rte_softrss_be(reinterpret_cast<uint32_t*>(&t), RTE_THASH_V4_L4_LEN,
                                    reinterpret_cast<const uint8_t*>(key_be_.data()));
  return CoreOfHash(h) == core_;
}

int RssPortPicker::Pick(uint32_t local_be, uint32_t remote_be, uint16_t rport,
                        const std::function<int(uint16_t port)>& take) {
  const uint32_t n = uint32_t{hi_} - lo_ + 1;
  for (uint32_t i = 0; i < n; ++i) {
    const uint16_t p = static_cast<uint16_t>(lo_ + (cursor_ + i) % n);
    ++hashed_;
    if (!ReplyLandsHere(local_be, p, remote_be, rport)) continue;
    const int r = take(p);
    if (r == -EADDRINUSE) continue;
    if (r < 0) return r;
    cursor_ = (cursor_ + i + 1) % n;
    return p;
  }
  return -EADDRNOTAVAIL;
}

}  // namespace dpx::proxy
