#include "socket/fd_table.h"

#include <algorithm>
#include <bit>
#include <cerrno>

namespace dpx::sock {

namespace {
constexpr size_t kBits = 64;
}

void FdTable::Grow(size_t min_slots) {
  // expand_fdtable: powers of two, at least 64 slots.
  size_t n = std::max<size_t>(slots_.size() * 2, kBits);
  while (n < min_slots) n *= 2;
  slots_.resize(n, nullptr);
  open_bits_.resize(n / kBits, 0);
  full_bits_.resize((open_bits_.size() + kBits - 1) / kBits, 0);
}

void FdTable::SetOpen(int fd) {
  const size_t w = static_cast<size_t>(fd) / kBits;
  open_bits_[w] |= 1ull << (fd % kBits);
  if (open_bits_[w] == ~0ull) full_bits_[w / kBits] |= 1ull << (w % kBits);
  ++open_;
}

void FdTable::SetFree(int fd) {
  const size_t w = static_cast<size_t>(fd) / kBits;
  open_bits_[w] &= ~(1ull << (fd % kBits));
  full_bits_[w / kBits] &= ~(1ull << (w % kBits));
  --open_;
}

int FdTable::Alloc(File* f, int min_fd) {
  if (min_fd < 0) return -EINVAL;
  // find_next_fd: skip full words through full_bits_, then the first zero bit.
  size_t fd = static_cast<size_t>(min_fd);
  for (;;) {
    if (fd >= max_fds_) return -EMFILE;
    if (fd >= slots_.size()) break;  // beyond the table: free
    size_t w = fd / kBits;
    uint64_t free_bits = ~open_bits_[w] & (~0ull << (fd % kBits));
    if (free_bits != 0) {
      fd = w * kBits + static_cast<size_t>(std::countr_zero(free_bits));
      break;
    }
    // Next word that is not full.
    size_t ww = w + 1;
    while (ww < open_bits_.size()) {
      const size_t fw = ww / kBits;
      const uint64_t not_full = ~full_bits_[fw] & (~0ull << (ww % kBits));
      if (not_full != 0) {
        ww = fw * kBits + static_cast<size_t>(std::countr_zero(not_full));
        break;
      }
      ww = (fw + 1) * kBits;
    }
    fd = ww * kBits;
    if (ww >= open_bits_.size()) {
      fd = slots_.size();
      break;
    }
  }
  if (fd >= max_fds_) return -EMFILE;
  if (fd >= slots_.size()) Grow(fd + 1);
  slots_[fd] = f;
  SetOpen(static_cast<int>(fd));
  return static_cast<int>(fd);
}

File* FdTable::Clear(int fd) {
  File* f = Get(fd);
  if (f == nullptr) return nullptr;
  slots_[fd] = nullptr;
  SetFree(fd);
  return f;
}

File* FdTable::Replace(int fd, File* f) {
  if (static_cast<size_t>(fd) >= slots_.size()) Grow(static_cast<size_t>(fd) + 1);
  File* old = slots_[fd];
  slots_[fd] = f;
  if (old == nullptr) SetOpen(fd);
  return old;
}

int FdTable::NextOpen(int from) const {
  if (from < 0) from = 0;
  size_t w = static_cast<size_t>(from) / kBits;
  if (w >= open_bits_.size()) return -1;
  uint64_t bits = open_bits_[w] & (~0ull << (from % kBits));
  for (;;) {
    if (bits != 0) return static_cast<int>(w * kBits + static_cast<size_t>(std::countr_zero(bits)));
    if (++w >= open_bits_.size()) return -1;
    bits = open_bits_[w];
  }
}

int FdTable::PrevOpen(int from) const {
  if (from < 0 || open_bits_.empty()) return -1;
  size_t fd = std::min(static_cast<size_t>(from), slots_.size() - 1);
  size_t w = fd / kBits;
  const unsigned sh = static_cast<unsigned>(kBits - 1 - fd % kBits);
  uint64_t bits = open_bits_[w] << sh >> sh;
  for (;;) {
    if (bits != 0) return static_cast<int>(w * kBits + kBits - 1 - static_cast<size_t>(std::countl_zero(bits)));
    if (w == 0) return -1;
    bits = open_bits_[--w];
  }
}

size_t FdTable::MemoryBytes() const {
  return slots_.capacity() * sizeof(File*) + (open_bits_.capacity() + full_bits_.capacity()) * sizeof(uint64_t);
}

}  // namespace dpx::sock
