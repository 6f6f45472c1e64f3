// A process's fd table (Linux struct fdtable): slots of File*, an open-fd
// bitmap and, above it, one bit per 64 fds that are all open
// (full_fds_bits), so the lowest free fd is found without scanning a
// million open ones. Grows on demand up to the RLIMIT_NOFILE it was given
// (expand_files). Touched only on the owning process's home core.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace dpx::sock {

struct File;

class FdTable {
 public:
  explicit FdTable(uint32_t max_fds = 1024) : max_fds_(max_fds) {}

  // The lowest free fd >= min_fd gets `f` (alloc_fd + fd_install): the fd,
  // or -EMFILE when none below max_fds is free, -EINVAL for min_fd < 0.
  int Alloc(File* f, int min_fd = 0);
  // The file at `fd`, nullptr if the slot is empty or out of range.
  File* Get(int fd) const {
    return fd >= 0 && static_cast<size_t>(fd) < slots_.size() ? slots_[fd] : nullptr;
  }
  // Empties `fd`'s slot and returns what it held (nullptr if empty).
  File* Clear(int fd);
  // dup2's do_dup2: puts `f` at `fd` (which must be < max_fds) and returns
  // the file it displaced (nullptr if the slot was free).
  File* Replace(int fd, File* f);
  // The lowest open fd >= from, or -1.
  int NextOpen(int from) const;
  // The highest open fd <= from, or -1.
  int PrevOpen(int from) const;

  uint32_t open_count() const { return open_; }
  uint32_t max_fds() const { return max_fds_; }
  // setrlimit(RLIMIT_NOFILE): fds already open above the new limit stay.
  void set_max_fds(uint32_t n) { max_fds_ = n; }
  // Bytes the table holds (slots and bitmaps).
  size_t MemoryBytes() const;

 private:
  void Grow(size_t min_slots);
  void SetOpen(int fd);
  void SetFree(int fd);

  uint32_t max_fds_;
  uint32_t open_ = 0;
  std::vector<File*> slots_;
  std::vector<uint64_t> open_bits_;  // bit per fd
  std::vector<uint64_t> full_bits_;  // bit per open_bits_ word that is all ones
};

}  // namespace dpx::sock
