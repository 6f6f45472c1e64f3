#include "tcp/siphash.h"

#include <sys/random.h>

#include <cerrno>
#include <random>

namespace dpx::tcp {
namespace {

inline uint64_t Rotl(uint64_t x, int b) { return (x << b) | (x >> (64 - b)); }

struct SipState {
  uint64_t v0, v1, v2, v3;

  explicit SipState(const SipKey& k)
      : v0(k.k0 ^ 0x736f6d6570736575ULL),
        v1(k.k1 ^ 0x646f72616e646f6dULL),
        v2(k.k0 ^ 0x6c7967656e657261ULL),
        v3(k.k1 ^ 0x7465646279746573ULL) {}

  void Round() {
    v0 += v1, v1 = Rotl(v1, 13), v1 ^= v0, v0 = Rotl(v0, 32);
    v2 += v3, v3 = Rotl(v3, 16), v3 ^= v2;
    v0 += v3, v3 = Rotl(v3, 21), v3 ^= v0;
    v2 += v1, v1 = Rotl(v1, 17), v1 ^= v2, v2 = Rotl(v2, 32);
  }
  void Compress(uint64_t m) {  // 2 c-rounds
    v3 ^= m;
    Round();
    Round();
    v0 ^= m;
  }
  uint64_t Finish() {  // 4 d-rounds
    v2 ^= 0xff;
    Round();
    Round();
    Round();
    Round();
    return v0 ^ v1 ^ v2 ^ v3;
  }
};

inline uint64_t Load64Le(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

uint64_t SplitMix64(uint64_t* x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace

uint64_t SipHash24(const SipKey& key, const void* data, size_t len) {
  const uint8_t* p = static_cast<const uint8_t*>(data);
  SipState s(key);
  const size_t full = len & ~size_t{7};
  for (size_t i = 0; i < full; i += 8) s.Compress(Load64Le(p + i));
  uint64_t b = static_cast<uint64_t>(len) << 56;
  for (size_t i = 0; i < (len & 7); ++i) b |= static_cast<uint64_t>(p[full + i]) << (8 * i);
  s.Compress(b);
  return s.Finish();
}

uint64_t SipHash2u32(const SipKey& key, uint32_t a, uint32_t b) {
  SipState s(key);
  s.Compress((uint64_t{b} << 32) | a);
  s.Compress(uint64_t{8} << 56);
  return s.Finish();
}

uint64_t SipHash3u32(const SipKey& key, uint32_t a, uint32_t b, uint32_t c) {
  SipState s(key);
  s.Compress((uint64_t{b} << 32) | a);
  s.Compress((uint64_t{12} << 56) | c);
  return s.Finish();
}

uint64_t SipHash4u32(const SipKey& key, uint32_t a, uint32_t b, uint32_t c, uint32_t d) {
  SipState s(key);
  s.Compress((uint64_t{b} << 32) | a);
  s.Compress((uint64_t{d} << 32) | c);
  s.Compress(uint64_t{16} << 56);
  return s.Finish();
}

SipKey SipKeyFromSeed(uint64_t seed) {
  SipKey k;
  k.k0 = SplitMix64(&seed);
  k.k1 = SplitMix64(&seed);
  return k;
}

SipKey RandomSipKey() {
  uint64_t w[2];
  uint8_t* p = reinterpret_cast<uint8_t*>(w);
  size_t got = 0;
  while (got < sizeof(w)) {
    const ssize_t r = getrandom(p + got, sizeof(w) - got, 0);
    if (r > 0) {
      got += static_cast<size_t>(r);
    } else if (r < 0 && errno == EINTR) {
      continue;
    } else {
      break;
    }
  }
  if (got < sizeof(w)) {  // no getrandom(2): the C++ library's source
    std::random_device rd;
    w[0] = (uint64_t{rd()} << 32) | rd();
    w[1] = (uint64_t{rd()} << 32) | rd();
  }
  return SipKey{w[0], w[1]};
}

}  // namespace dpx::tcp
