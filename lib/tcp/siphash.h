// SipHash-2-4 (Aumasson & Bernstein), the keyed hash behind ISNs, timestamp
// offsets and SYN cookies, as Linux uses siphash for secure_tcp_seq() and
// cookie_hash(). Keys are 128 bits, made once per process from a random
// seed; the hash is a PRF, so outputs reveal nothing about the key.
#pragma once

#include <cstddef>
#include <cstdint>

namespace dpx::tcp {

struct SipKey {
  uint64_t k0 = 0;
  uint64_t k1 = 0;
};

// SipHash-2-4 of `len` bytes.
uint64_t SipHash24(const SipKey& key, const void* data, size_t len);

// Hashes of 32-bit words laid out little-endian one after the other, like
// Linux siphash_2u32()/siphash_3u32()/siphash_4u32().
uint64_t SipHash2u32(const SipKey& key, uint32_t a, uint32_t b);
uint64_t SipHash3u32(const SipKey& key, uint32_t a, uint32_t b, uint32_t c);
uint64_t SipHash4u32(const SipKey& key, uint32_t a, uint32_t b, uint32_t c, uint32_t d);

// A key derived from a 64-bit seed (splitmix64): for tests and for
// reproducible runs. Different seeds give unrelated keys.
SipKey SipKeyFromSeed(uint64_t seed);
// A key from the kernel's random source (getrandom(2)).
SipKey RandomSipKey();

}  // namespace dpx::tcp
