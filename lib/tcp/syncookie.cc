#include "tcp/syncookie.h"

namespace dpx::tcp {
namespace {

constexpr uint32_t COOKIEBITS = 24;  // upper bits store count
constexpr uint32_t COOKIEMASK = (uint32_t{1} << COOKIEBITS) - 1;
constexpr uint32_t kMssTableSize = sizeof(kSyncookieMssTable) / sizeof(kSyncookieMssTable[0]);

}  // namespace

SynCookies SynCookies::FromSeed(uint64_t seed) {
  return SynCookies(SipKeyFromSeed(seed), SipKeyFromSeed(~seed));
}

SynCookies SynCookies::Random() { return SynCookies(RandomSipKey(), RandomSipKey()); }

// cookie_hash().
uint32_t SynCookies::Hash(uint32_t saddr, uint32_t daddr, uint16_t sport, uint16_t dport,
                          uint32_t count, int c) const {
  return static_cast<uint32_t>(
      SipHash4u32(secret_[c], saddr, daddr, (uint32_t{sport} << 16) | dport, count));
}

// __cookie_v4_init_sequence() + secure_tcp_syn_cookie().
uint32_t SynCookies::InitSequence(uint32_t saddr, uint32_t daddr, uint16_t sport,
                                  uint16_t dport, uint32_t syn_seq, uint16_t* mss,
                                  uint64_t now_ns) const {
  uint32_t mssind = kMssTableSize - 1;
  for (; mssind; --mssind)
    if (*mss >= kSyncookieMssTable[mssind]) break;
  *mss = kSyncookieMssTable[mssind];

  const uint32_t count = TcpCookieTime(now_ns);
  return Hash(saddr, daddr, sport, dport, 0, 0) + syn_seq + (count << COOKIEBITS) +
         ((Hash(saddr, daddr, sport, dport, count, 1) + mssind) & COOKIEMASK);
}

// __cookie_v4_check() + check_tcp_syn_cookie().
uint16_t SynCookies::Check(uint32_t saddr, uint32_t daddr, uint16_t sport, uint16_t dport,
                           uint32_t seg_seq, uint32_t seg_ack, uint64_t now_ns) const {
  const uint32_t sseq = seg_seq - 1;
  uint32_t cookie = seg_ack - 1;
  const uint32_t count = TcpCookieTime(now_ns);

  // Strip away the layers: what is left is (count << 24) + (hash + data).
  cookie -= Hash(saddr, daddr, sport, dport, 0, 0) + sseq;
  const uint32_t diff = (count - (cookie >> COOKIEBITS)) & (~uint32_t{0} >> COOKIEBITS);
  if (diff >= MAX_SYNCOOKIE_AGE) return 0;
  const uint32_t mssind =
      (cookie - Hash(saddr, daddr, sport, dport, count - diff, 1)) & COOKIEMASK;
  return mssind < kMssTableSize ? kSyncookieMssTable[mssind] : 0;
}

// cookie_init_timestamp().
uint32_t CookieInitTimestamp(uint32_t ts_now, const CookieTsOptions& o) {
  uint32_t options = o.wscale_ok ? (o.snd_wscale & TS_OPT_WSCALE_MASK) : TS_OPT_WSCALE_MASK;
  if (o.sack_ok) options |= TS_OPT_SACK;
  if (o.ecn_ok) options |= TS_OPT_ECN;
  uint32_t ts = ((ts_now >> TSBITS) << TSBITS) | options;
  if (ts > ts_now) ts -= (1u << TSBITS);  // never ahead of the clock
  return ts;
}

// cookie_timestamp_decode().
bool CookieTimestampDecode(ParsedOptions* opt, bool sysctl_timestamps, bool sysctl_sack,
                           bool sysctl_window_scaling) {
  const uint32_t options = opt->rcv_tsecr;
  if (!opt->saw_tstamp) {  // tcp_clear_options()
    opt->wscale_ok = false;
    opt->snd_wscale = 0;
    opt->sack_ok = false;
    return true;
  }
  if (!sysctl_timestamps) return false;
  opt->sack_ok = (options & TS_OPT_SACK) != 0;
  if (opt->sack_ok && !sysctl_sack) return false;
  if ((options & TS_OPT_WSCALE_MASK) == TS_OPT_WSCALE_MASK) return true;  // no wscale
  opt->wscale_ok = true;
  opt->snd_wscale = static_cast<uint8_t>(options & TS_OPT_WSCALE_MASK);
  return sysctl_window_scaling;
}

}  // namespace dpx::tcp
