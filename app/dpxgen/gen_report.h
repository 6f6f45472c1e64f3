// dpxgen's run, phase by phase (hold -> measure -> drain), its progress
// line on stderr and its JSON summary on stdout.
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>

#include "gen/flood.h"
#include "gen/load_gen.h"
#include "gen_runtime.h"

namespace dpx::app {

class GenReport {
 public:
  GenReport(gen::LoadGen& gen, GenRuntime& rt, std::FILE* out) : gen_(gen), rt_(rt), out_(out) {}

  void OnDone(std::function<void()> done) { done_ = std::move(done); }
  // A flood that runs with the measured phase (or the holding one).
  void SetFlood(gen::Flood* flood) { flood_ = flood; }
  void Begin();
  // A reactor poller: moves the phases on; `stop`: a signal asked to end.
  unsigned Step(bool stop);
  void PrintSummary();

  bool ok() const { return ok_; }        // no runtime failure (hold timeout)
  bool clean() const;                    // no connect failure, reset or error

 private:
  enum class Phase { kResolve, kHold, kMeasure, kFinish, kHolding, kDrain, kDone };
  uint32_t Nexthop() const;  // the neighbour the client's packets go to
  void StartHold(uint64_t now);
  void StartMeasure(uint64_t now);
  void EndMeasure(uint64_t now);  // closes everything, then drains
  void Progress(uint64_t now);
  std::string SummaryJson() const;

  gen::LoadGen& gen_;
  GenRuntime& rt_;
  std::FILE* out_;
  std::function<void()> done_;
  gen::Flood* flood_ = nullptr;
  Phase phase_ = Phase::kHold;
  bool ok_ = true;
  std::string failure_;
  uint64_t begin_ns_ = 0, phase_ns_ = 0, measure_ns_ = 0, hold_ns_ = 0, drain_ns_ = 0;
  uint64_t next_progress_ns_ = 0, last_progress_ns_ = 0, last_count_ = 0;
  uint64_t hold_open_ = 0;
  gen::GenStats result_;  // the measured phase, once what was in flight completed
  uint64_t measured_count_ = 0;  // connections, requests or bytes when the phase ended
  int64_t last_in_frames_ = -1;
  uint64_t quiet_since_ns_ = 0;
  size_t sockets_end_ = 0;
  uint64_t live_end_ = 0;
  int64_t rss_peak_ = 0;
};

}  // namespace dpx::app
