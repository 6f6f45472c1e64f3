// Per-core fixed-size object pool: TCBs, TIME_WAIT mini-sockets, anything a
// core allocates by the million. One core only, so no locks and no atomics.
//
// Memory comes in chunks (64 KiB at first, doubling up to `max_chunk_bytes`)
// so the allocator is hit rarely and objects of one core sit together. Freed
// objects go on an intrusive LIFO free list (the hottest slot is reused
// first); a new chunk is carved lazily with a bump pointer, so growing is
// O(1) and untouched pages stay untouched. Chunks are returned only when the
// pool is destroyed. An optional hard cap on objects makes New() return
// nullptr, which the TCP layer turns into its out-of-memory path.
//
// The counters (in_use, capacity, bytes_reserved, peak) let tests assert
// that a scenario left the pools back at their baseline.
//
// Under AddressSanitizer a free slot is poisoned, so a use after Delete()
// or a double Delete() is reported where it happens.
#pragma once

#include <algorithm>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <new>
#include <utility>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define DPX_POOL_POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define DPX_POOL_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define DPX_POOL_POISON(p, n) ((void)(p), (void)(n))
#define DPX_POOL_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

namespace dpx {

struct ObjectPoolOptions {
  size_t first_chunk_bytes = 64 * 1024;
  size_t max_chunk_bytes = 4 * 1024 * 1024;  // chunks double up to this
  size_t max_objects = 0;                    // hard cap; 0 = none
};

template <typename T>
class ObjectPool {
 public:
  // Every slot holds a T or, when free, the free-list link.
  static constexpr size_t kAlign = std::max(alignof(T), alignof(void*));
  static constexpr size_t kSlotBytes = (std::max(sizeof(T), sizeof(void*)) + kAlign - 1) / kAlign * kAlign;
  static constexpr size_t kChunkAlign = std::max<size_t>(kAlign, 64);  // cache line

  explicit ObjectPool(ObjectPoolOptions opts = {}) : opts_(opts) {
    next_chunk_bytes_ = std::max(opts_.first_chunk_bytes, kSlotBytes);
    opts_.max_chunk_bytes = std::max(opts_.max_chunk_bytes, next_chunk_bytes_);
  }
  // Releases the memory. Objects still in use are not destroyed: the owner
  // must Delete() them first (in_use() == 0 is what tests check).
  ~ObjectPool() {
    for (const Chunk& c : chunks_) {
      DPX_POOL_UNPOISON(c.base, c.bytes);
      ::operator delete(c.base, std::align_val_t(kChunkAlign));
    }
  }
  ObjectPool(const ObjectPool&) = delete;
  ObjectPool& operator=(const ObjectPool&) = delete;

  // Constructs a T in a free slot; nullptr at the cap or when the system
  // allocator fails (never throws for lack of memory).
  template <typename... Args>
  T* New(Args&&... args) {
    void* p = Allocate();
    if (p == nullptr) return nullptr;
    return ::new (p) T(std::forward<Args>(args)...);
  }

  // Destroys and frees an object that came from New().
  void Delete(T* obj) {
    if (obj == nullptr) return;
    obj->~T();
    Free(obj);
  }

  // Raw slot of kSlotBytes, aligned for T; nullptr at the cap or on OOM.
  void* Allocate() {
    if (opts_.max_objects != 0 && in_use_ >= opts_.max_objects) {
      ++failures_;
      return nullptr;
    }
    void* p;
    if (free_ != nullptr) {
      FreeSlot* s = free_;
      DPX_POOL_UNPOISON(s, kSlotBytes);
      free_ = s->next;
      p = s;
    } else {
      if (bump_ == bump_end_ && !Grow()) {
        ++failures_;
        return nullptr;
      }
      p = bump_;
      bump_ += kSlotBytes;
      DPX_POOL_UNPOISON(p, kSlotBytes);
    }
    ++in_use_;
    peak_in_use_ = std::max(peak_in_use_, in_use_);
    return p;
  }

  // Returns a slot from Allocate() (no destructor call).
  void Free(void* p) {
    assert(in_use_ > 0);
    auto* s = static_cast<FreeSlot*>(p);
    s->next = free_;
    free_ = s;
    --in_use_;
    DPX_POOL_POISON(p, kSlotBytes);
  }

  size_t in_use() const { return in_use_; }
  // Objects the reserved chunks can hold without asking for more memory.
  size_t capacity() const { return capacity_; }
  size_t available() const { return capacity_ - in_use_; }
  size_t bytes_reserved() const { return bytes_reserved_; }
  size_t chunks() const { return chunks_.size(); }
  size_t peak_in_use() const { return peak_in_use_; }
  // Allocations refused (cap reached or allocator failure).
  uint64_t failures() const { return failures_; }
  size_t max_objects() const { return opts_.max_objects; }
  static constexpr size_t slot_bytes() { return kSlotBytes; }

 private:
  struct FreeSlot {
    FreeSlot* next;
  };
  struct Chunk {
    void* base;
    size_t bytes;
  };

  bool Grow() {
    size_t bytes = next_chunk_bytes_;
    if (opts_.max_objects != 0) {
      // Never reserve past the cap.
      const size_t want = (opts_.max_objects - capacity_) * kSlotBytes;
      bytes = std::min(bytes, std::max(want, kSlotBytes));
    }
    void* base = ::operator new(bytes, std::align_val_t(kChunkAlign), std::nothrow);
    if (base == nullptr) return false;
    chunks_.push_back({base, bytes});
    const size_t slots = bytes / kSlotBytes;
    bump_ = static_cast<char*>(base);
    bump_end_ = bump_ + slots * kSlotBytes;
    DPX_POOL_POISON(base, bytes);
    capacity_ += slots;
    bytes_reserved_ += bytes;
    next_chunk_bytes_ = std::min(next_chunk_bytes_ * 2, opts_.max_chunk_bytes);
    return true;
  }

  ObjectPoolOptions opts_;
  size_t next_chunk_bytes_;
  std::vector<Chunk> chunks_;
  FreeSlot* free_ = nullptr;
  char* bump_ = nullptr;
  char* bump_end_ = nullptr;
  size_t in_use_ = 0;
  size_t capacity_ = 0;
  size_t bytes_reserved_ = 0;
  size_t peak_in_use_ = 0;
  uint64_t failures_ = 0;
};

}  // namespace dpx

#undef DPX_POOL_POISON
#undef DPX_POOL_UNPOISON
