#include "tcp/isn.h"

namespace dpx::tcp {

IsnGenerator IsnGenerator::FromSeed(uint64_t seed) {
  return IsnGenerator(SipKeyFromSeed(seed), SipKeyFromSeed(seed ^ 0x7473'5f73'6563'7265ULL));
}

IsnGenerator IsnGenerator::Random() { return IsnGenerator(RandomSipKey(), RandomSipKey()); }

uint32_t IsnGenerator::Seq(uint32_t laddr, uint32_t raddr, uint16_t lport, uint16_t rport,
                           uint64_t now_ns) const {
  const uint32_t hash = static_cast<uint32_t>(
      SipHash3u32(net_secret_, laddr, raddr, (uint32_t{lport} << 16) | rport));
  return hash + static_cast<uint32_t>(now_ns >> 6);  // seq_scale()
}

uint32_t IsnGenerator::TsOff(uint32_t laddr, uint32_t raddr) const {
  return static_cast<uint32_t>(SipHash2u32(ts_secret_, laddr, raddr));
}

}  // namespace dpx::tcp
