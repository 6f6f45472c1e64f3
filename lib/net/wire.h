// The in-memory wire: two Netif ends joined in one process, for tests.
// A frame sent on one end arrives on the other end's RxBurst once the
// clock reaches its delivery time (send time + delay). Hooks drop,
// duplicate, reorder (hold until the next frame in that direction has
// been sent), corrupt (flip a byte) or delay a chosen frame, by index or
// predicate; random loss/reorder with a seeded RNG for soak tests. Every
// frame that crossed is captured (direction, time, bytes, what happened)
// so tests can assert exact segments.
//
// Each end emulates a NIC's tx checksum offloads that it advertises
// (IPv4/TCP/UDP: computed as the frame is sent) and can mark rx IPv4
// checksums GOOD/BAD like a NIC with RTE_ETH_RX_OFFLOAD_IPV4_CKSUM. By
// default: MTU 1500, no offloads (software checksums).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <vector>

#include <rte_ether.h>

#include "core/clock.h"
#include "core/timer_wheel.h"
#include "net/netif.h"

struct rte_mbuf;
struct rte_mempool;

namespace dpx {

enum class WireDir : uint8_t { kAtoB = 0, kBtoA = 1 };
const char* WireDirName(WireDir d);  // "A>B"

enum class WireAction : uint8_t {
  kDrop,
  kDuplicate,  // the frame and a copy arrive
  kReorder,    // held until the next frame in the same direction is sent
  kCorrupt,    // one byte flipped (xor 0xff) at `offset`
  kDelay,      // arrives `delay_ns` later than it otherwise would
};

// What happened to a captured frame.
enum class WireFate : uint8_t { kPassed, kDropped, kDuplicated, kReordered, kCorrupted, kDelayed, kLost };
const char* WireFateName(WireFate f);

struct WireEndConfig {
  rte_ether_addr mac{};
  uint16_t mtu = 1500;
  uint64_t tx_offloads = 0;  // RTE_ETH_TX_OFFLOAD_{IPV4,TCP,UDP}_CKSUM are emulated
  uint64_t rx_offloads = 0;  // RTE_ETH_RX_OFFLOAD_IPV4_CKSUM: mark GOOD/BAD
  uint32_t tx_capacity = 0;  // frames in flight from this end; 0 = unlimited
};

struct WireConfig {
  WireEndConfig a;
  WireEndConfig b;
  uint64_t delay_ns = 0;  // one-way
  bool capture = true;
};

// A frame as it crossed.
struct WireFrame {
  WireDir dir;
  uint64_t index;    // per direction, 0-based, in send order
  uint64_t sent_ns;
  WireFate fate;
  std::vector<uint8_t> bytes;  // as sent (before corruption)
};

// Selects frames in one direction: by index, or by predicate (on the frame
// as sent, with its index); applies `action` to the next `times` matches.
struct WireRule {
  WireDir dir = WireDir::kAtoB;
  WireAction action = WireAction::kDrop;
  int64_t index = -1;  // >= 0: only the frame with this index
  std::function<bool(const rte_mbuf* frame, uint64_t index)> match;  // used when index < 0
  uint32_t times = 1;
  int32_t offset = -1;   // kCorrupt: byte to flip; < 0 = the last byte
  uint64_t delay_ns = 0; // kDelay
};

class Wire {
 public:
  // `clock` decides delivery; `pool` supplies copies for duplicates.
  Wire(const Clock& clock, rte_mempool* pool, const WireConfig& config);
  ~Wire();  // frees every frame in flight
  Wire(const Wire&) = delete;
  Wire& operator=(const Wire&) = delete;

  Netif& a();
  Netif& b();

  void AddRule(WireRule rule);
  void ClearRules();
  // Shorthands for rules on the frame with index `index` in `dir`.
  void DropAt(WireDir dir, uint64_t index);
  void DuplicateAt(WireDir dir, uint64_t index);
  void ReorderAt(WireDir dir, uint64_t index);
  void CorruptAt(WireDir dir, uint64_t index, int32_t offset = -1);
  void DelayAt(WireDir dir, uint64_t index, uint64_t extra_ns);
  // Releases a frame held for reordering (delivered now).
  void ReleaseHeld(WireDir dir);

  // Random impairments on every frame (both directions), reproducible.
  void SetRandom(double loss, double reorder, uint64_t seed);
  void set_delay(uint64_t ns) { delay_ns_ = ns; }
  // Take a link end down: frames sent while down are lost (kLost).
  void set_link_up(WireDir from, bool up);

  const std::vector<WireFrame>& captured() const { return capture_; }
  void ClearCapture() { capture_.clear(); }
  void set_capture(bool on) { capture_on_ = on; }
  uint64_t sent(WireDir dir) const { return sent_[static_cast<int>(dir)]; }
  size_t in_flight(WireDir dir) const { return flight_[static_cast<int>(dir)].size(); }

  // Earliest pending delivery, UINT64_MAX if none.
  uint64_t NextDeliveryNs() const;
  // Keeps a timer of `kind` on `wheel` armed at the next delivery time so
  // RunVirtualUntil stops there (the handler itself does nothing else).
  void SetWakeup(TimerWheel* wheel, uint16_t kind);

 private:
  class End;
  friend class End;
  uint16_t Send(WireDir dir, rte_mbuf** pkts, uint16_t n);
  uint16_t Receive(WireDir dir, rte_mbuf** pkts, uint16_t n, uint64_t rx_offloads);
  void Enqueue(WireDir dir, rte_mbuf* m, uint64_t at_ns);
  void ArmWakeup();
  static void OnWakeup(Timer* t, void* ctx);

  const Clock& clock_;
  rte_mempool* pool_;
  uint64_t delay_ns_;
  bool capture_on_;
  std::unique_ptr<End> ends_[2];
  bool link_up_[2] = {true, true};
  uint64_t sent_[2] = {0, 0};
  uint64_t seq_ = 0;
  std::multimap<uint64_t, rte_mbuf*> flight_[2];  // delivery time -> frame, FIFO per time
  rte_mbuf* held_[2] = {nullptr, nullptr};
  std::vector<WireRule> rules_;
  std::vector<WireFrame> capture_;
  double loss_ = 0, reorder_ = 0;
  std::mt19937_64 rng_{1};
  TimerWheel* wheel_ = nullptr;
  Timer wake_;
};

}  // namespace dpx
