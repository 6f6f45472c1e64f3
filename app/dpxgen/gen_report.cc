#include "gen_report.h"

#include "gen_flags.h"

#include <unistd.h>

#include "absl/strings/str_format.h"
#include "core/log.h"
#include "net/arp.h"
#include "net/port_profile.h"
#include "tcp/tcp_stack.h"

namespace dpx::app {

namespace {

int64_t RssBytes() {
  long pages = 0, rss = 0;
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  if (std::fscanf(f, "%ld %ld", &pages, &rss) != 2) rss = 0;
  std::fclose(f);
  return static_cast<int64_t>(rss) * sysconf(_SC_PAGESIZE);
}

double Seconds(uint64_t ns) { return static_cast<double>(ns) * 1e-9; }

constexpr uint64_t kFinishNs = 10'000'000'000;  // in-flight work gets this long to complete
constexpr uint64_t kQuietNs = 300'000'000;      // drain: no packet for this long

// What the measured phase counts: connections, requests or bytes.
uint64_t Progressed(gen::Mode m, const gen::GenStats& s) {
  switch (m) {
    case gen::Mode::kCps: return s.completed;
    case gen::Mode::kRps: return s.requests;
    case gen::Mode::kBulk: return s.bytes_rx;
    case gen::Mode::kHold: return s.held;
  }
  return 0;
}

}  // namespace

bool GenReport::clean() const {
  return result_.connect_failed == 0 && result_.resets == 0 && result_.errors == 0 &&
         result_.no_port == 0;
}

void GenReport::Begin() {
  const uint64_t now = rt_.reactor().clock().NowNs();
  begin_ns_ = phase_ns_ = now;
  next_progress_ns_ = now + uint64_t{FLAGS_progress_ms} * 1000000;
  last_progress_ns_ = now;
  // The neighbour first: a flood of SYNs would overflow ARP's queue.
  phase_ = Phase::kResolve;
  if (gen_.config().client) rt_.ip().arp().Resolve(Nexthop());
}

uint32_t GenReport::Nexthop() const {
  const IpStackConfig& ip = rt_.ip().config();
  const uint32_t mask = ip.prefix_len == 0 ? 0 : __builtin_bswap32(~uint32_t{0} << (32 - ip.prefix_len));
  const uint32_t target = gen_.config().target_be;
  return ((target ^ ip.ip) & mask) == 0 || ip.gateway == 0 ? target : ip.gateway;
}

void GenReport::StartHold(uint64_t now) {
  phase_ = Phase::kHold;
  phase_ns_ = now;
  gen_.StartHold();
  const gen::GenConfig& c = gen_.config();
  const uint64_t target = c.mode == gen::Mode::kHold ? c.count : c.hold;
  if (target > 0) DPX_LOG_INFO("hold: opening %d idle connection(s)", target);
}

unsigned GenReport::Step(bool stop) {
  const uint64_t now = rt_.reactor().now_ns();
  const gen::GenConfig& c = gen_.config();
  const uint64_t duration_ns = uint64_t{FLAGS_duration_s} * 1000000000;
  switch (phase_) {
    case Phase::kResolve: {
      ArpEntryInfo e;
      if (!gen_.config().client ||
          (rt_.ip().arp().Lookup(Nexthop(), &e) && e.state != NeighState::kIncomplete &&
           e.state != NeighState::kFailed)) {
        if (gen_.config().client && FLAGS_static_arp) rt_.ip().arp().Pin(Nexthop());
        StartHold(now);
      } else if (stop || now - phase_ns_ > uint64_t{FLAGS_link_wait_s} * 1000000000) {
        ok_ = false;
        failure_ = absl::StrFormat("no ARP answer from %s", FormatIpv4Host(__builtin_bswap32(Nexthop())));
        DPX_LOG_ERROR("%s", failure_);
        EndMeasure(now);
      } else if (e.state == NeighState::kFailed) {
        rt_.ip().arp().Resolve(Nexthop());
      }
      break;
    }
    case Phase::kHold:
      if (gen_.hold_done()) {
        hold_ns_ = now - phase_ns_;
        hold_open_ = gen_.stats().held;
        absl::FPrintF(out_, "{\"event\":\"hold_done\",\"held\":%d,\"seconds\":%.3f,\"rss_bytes\":%d}\n",
                     hold_open_, Seconds(hold_ns_), RssBytes());
        std::fflush(out_);
        if (hold_open_ > 0) DPX_LOG_INFO("hold: %d connection(s) open in %.2f s", hold_open_, Seconds(hold_ns_));
        if (c.mode == gen::Mode::kHold) {
          phase_ = Phase::kHolding;
          phase_ns_ = now;
          result_ = gen_.stats();
          if (flood_ != nullptr) flood_->Start(now);
        } else {
          StartMeasure(now);
        }
      } else if (stop || now - phase_ns_ > uint64_t{FLAGS_hold_timeout_s} * 1000000000) {
        if (!stop) {
          ok_ = false;
          failure_ = absl::StrFormat("hold: only %d of the connections open after %d s",
                                     gen_.stats().held, FLAGS_hold_timeout_s);
          DPX_LOG_ERROR("%s", failure_);
        }
        hold_open_ = gen_.stats().held;
        hold_ns_ = now - phase_ns_;
        result_ = gen_.stats();
        EndMeasure(now);
      }
      break;
    case Phase::kMeasure:
      if (stop || (duration_ns != 0 && now - phase_ns_ >= duration_ns) || gen_.finished()) {
        measure_ns_ = now - phase_ns_;
        measured_count_ = Progressed(c.mode, gen_.stats());
        gen_.StopMeasure();  // what is in flight completes
        if (flood_ != nullptr) flood_->Stop();
        phase_ = Phase::kFinish;
        phase_ns_ = now;
      }
      break;
    case Phase::kFinish:
      if (gen_.quiet() || stop || now - phase_ns_ >= kFinishNs) {
        result_ = gen_.stats();
        EndMeasure(now);
      }
      break;
    case Phase::kHolding:
      if (stop || (duration_ns != 0 && now - phase_ns_ >= duration_ns)) {
        measure_ns_ = now - phase_ns_;
        const uint64_t held_now = gen_.stats().held;
        result_ = gen_.stats();
        result_.held = held_now;
        EndMeasure(now);
      }
      break;
    case Phase::kDrain: {
      // Done when only the listeners are left and the wire has been quiet
      // for a while: the peer's last FINs were answered before we go.
      const size_t listeners = c.listen_ports.size();
      const int64_t in = rt_.counters().core(0).Get(Mib::Eth_InFrames);
      if (in != last_in_frames_) {
        last_in_frames_ = in;
        quiet_since_ns_ = now;
      }
      if ((gen_.closed_all() && rt_.tcp().sockets_in_use() <= listeners &&
           now - quiet_since_ns_ >= kQuietNs) ||
          now - phase_ns_ >= uint64_t{FLAGS_drain_s} * 1000000000) {
        drain_ns_ = now - phase_ns_;
        sockets_end_ = rt_.tcp().sockets_in_use() - std::min(rt_.tcp().sockets_in_use(), listeners);
        live_end_ = gen_.stats().live_client + gen_.stats().live_server;
        phase_ = Phase::kDone;
        if (done_) done_();
      }
      break;
    }
    case Phase::kDone:
      break;
  }
  if (FLAGS_progress_ms != 0 && now >= next_progress_ns_) {
    Progress(now);
    next_progress_ns_ = now + uint64_t{FLAGS_progress_ms} * 1000000;
  }
  return 0;
}

void GenReport::StartMeasure(uint64_t now) {
  gen_.StartMeasure();
  if (flood_ != nullptr) flood_->Start(now);
  phase_ = Phase::kMeasure;
  phase_ns_ = now;
  last_count_ = 0;
  last_progress_ns_ = now;
  DPX_LOG_INFO("measure: %s for %s", gen::ModeName(gen_.config().mode),
               FLAGS_duration_s ? absl::StrFormat("%d s", FLAGS_duration_s) : "--count");
}

void GenReport::EndMeasure(uint64_t now) {
  gen_.StopMeasure();
  if (flood_ != nullptr) flood_->Stop();
  rss_peak_ = RssBytes();
  gen_.CloseAll();
  phase_ = Phase::kDrain;
  phase_ns_ = now;
}

void GenReport::Progress(uint64_t now) {
  const gen::GenStats& s = gen_.stats();
  const gen::Mode m = gen_.config().mode;
  const char* phase = phase_ == Phase::kResolve ? "arp"
                      : phase_ == Phase::kHold    ? "hold"
                      : phase_ == Phase::kMeasure ? gen::ModeName(m)
                      : phase_ == Phase::kFinish  ? "finish"
                      : phase_ == Phase::kHolding ? "holding"
                                                  : "drain";
  const uint64_t count = phase_ == Phase::kHold ? s.held : Progressed(m, s);
  const double dt = Seconds(now - last_progress_ns_);
  const double rate = dt > 0 ? static_cast<double>(count - std::min(count, last_count_)) / dt : 0;
  std::string what;
  if (phase_ == Phase::kMeasure && m == gen::Mode::kBulk) {
    what = absl::StrFormat("%.2f Gbit/s", rate * 8e-9);
  } else {
    what = absl::StrFormat("%.0f/s", rate);
  }
  absl::FPrintF(stderr,
               "[%7.1fs] %-7s %s | live %d held %d est %d done %d req %d | fail %d rst %d err %d "
               "noport %d | p50 %dus p99 %dus\n",
               Seconds(now - begin_ns_), phase, what, s.live_client + s.live_server, s.held,
               s.established, s.completed, s.requests, s.connect_failed, s.resets, s.errors,
               s.no_port, s.latency.Percentile(0.5) / 1000, s.latency.Percentile(0.99) / 1000);
  last_count_ = count;
  last_progress_ns_ = now;
}

std::string GenReport::SummaryJson() const {
  const gen::GenConfig& c = gen_.config();
  const gen::GenStats& s = result_;
  const double secs = Seconds(measure_ns_);
  const double per = secs > 0 ? 1.0 / secs : 0;
  double value = 0;
  const char* unit = "";
  switch (c.mode) {
    case gen::Mode::kCps: value = measured_count_ * per; unit = "conn/s"; break;
    case gen::Mode::kRps: value = measured_count_ * per; unit = "req/s"; break;
    case gen::Mode::kBulk: value = measured_count_ * 8.0 * per * 1e-9; unit = "Gbit/s"; break;
    case gen::Mode::kHold: value = static_cast<double>(hold_open_); unit = "connections"; break;
  }
  const auto us = [&s](double q) { return static_cast<double>(s.latency.Percentile(q)) / 1000.0; };
  return absl::StrFormat(
      "{\"tool\":\"dpxgen\",\"mode\":\"%s\",\"ok\":%s,\"clean\":%s,\"value\":%.3f,\"unit\":\"%s\","
      "\"duration_s\":%.3f,\"opened\":%d,\"established\":%d,\"completed\":%d,\"requests\":%d,"
      "\"connect_failed\":%d,\"resets\":%d,\"errors\":%d,\"no_port\":%d,\"bytes_rx\":%d,"
      "\"bytes_tx\":%d,\"accepted\":%d,\"latency_us\":{\"p50\":%.1f,\"p99\":%.1f,\"p999\":%.1f,"
      "\"max\":%.1f,\"mean\":%.1f,\"samples\":%d},\"hold\":{\"open\":%d,\"seconds\":%.3f},"
      "\"rss_bytes\":%d,\"drain_s\":%.3f,\"sockets_left\":%d,\"live_left\":%d,"
      "\"concurrency\":%d,\"rate_limit\":%d,\"req_bytes\":%d,\"resp_bytes\":%d,"
      "\"flood_sent\":%d,\"flood_dropped\":%d%s}",
      gen::ModeName(c.mode), ok_ ? "true" : "false", clean() ? "true" : "false", value, unit, secs,
      s.opened, s.established, s.completed, s.requests, s.connect_failed, s.resets, s.errors,
      s.no_port, s.bytes_rx, s.bytes_tx, s.accepted, us(0.5), us(0.99), us(0.999),
      static_cast<double>(s.latency.max()) / 1000.0, s.latency.mean() / 1000.0, s.latency.count(),
      hold_open_, Seconds(hold_ns_), rss_peak_, Seconds(drain_ns_), sockets_end_, live_end_,
      c.concurrency, c.rate, c.req_bytes, c.resp_bytes, flood_ ? flood_->stats().sent : 0,
      flood_ ? flood_->stats().dropped : 0, failure_.empty() ? "" : absl::StrFormat(",\"failure\":\"%s\"", failure_));
}

void GenReport::PrintSummary() {
  std::fprintf(out_, "%s\n", SummaryJson().c_str());
  std::fflush(out_);
}

}  // namespace dpx::app
