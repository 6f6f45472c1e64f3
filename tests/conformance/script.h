// Conformance scripts: a packetdrill-like text format that drives one dpx
// stack on the in-memory wire under virtual time. docs/conformance-scripts.md
// is the guide; this is the summary.
//
//   # comment
//   0      socket(AF_INET, SOCK_STREAM, IPPROTO_TCP) = 3
//   +0     bind(3, 0.0.0.0:8080) = 0
//   +0     listen(3, 128) = 0
//   +0     < S 0:0(0) win 64240 <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7>
//   +0     > S. 0:0(0) ack 1 win 65160 <mss 1460,sackOK,TS val * ecr 100,nop,wscale 10>
//   +.1    < . 1:1(0) ack 1 win 502 <nop,nop,TS val 110 ecr *>
//   +0     accept(3, ...) = 4
//   +0     write(4, ..., 3000) = 3000
//   +0     > P?. 1:1449(1448) ack 1 <nop,nop,TS val * ecr 110>
//   +0     setsockopt(4, IPPROTO_TCP, TCP_NODELAY, [1], 4) = 0
//   +0     shutdown(4, SHUT_WR) = -1 ENOTCONN (Transport endpoint is not connected)
//   +0     %state 4 FIN_WAIT1
//   +0     %counter TcpExtTCPAbortOnClose 0
//   +60    %sysctl net.ipv4.tcp_fin_timeout=30
//
// Time: an absolute number of seconds, or `+N` relative to the previous
// line (to the time the previous `>` segment was actually sent, like
// packetdrill). Packets: `<` injected into dpx, `>` expected from dpx.
// Flags are packetdrill's (S F P R . for ACK, U E W); in a `>` line a flag
// followed by `?` may be present or not ("P?."). Sequence numbers are
// relative: `<` lines to the script peer's ISN, `>` lines to dpx's ISN
// (learned from its first SYN or SYN-ACK); `ack` and SACK blocks likewise to
// the other side. TS val/ecr are absolute. `*` in a field of a `>` line
// matches anything; `<*>` any options; `<>` no options; options left out are
// not checked; `win` is the raw 16-bit field. In a `<` line the only
// wildcard is `ecr *`: echo the TS val of dpx's latest segment. Calls:
// `name(args) = ret`, or `= -1 ERRNO`; `[N]` is an int passed by pointer.
// Lines starting with `%` are directives (state, counter, sysctl,
// no_packet, peer_port, tolerance_ms, proc, ...).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include "absl/strings/string_view.h"
#include <variant>
#include <vector>

#include "absl/status/statusor.h"

namespace dpx::conformance {

// A number that may be `*` (match anything) in an expected packet.
struct Field {
  bool any = false;
  uint32_t value = 0;
};

struct ScriptOption {
  enum class Kind { kNop, kEol, kMss, kWscale, kSackOk, kTimestamp, kSack };
  Kind kind = Kind::kNop;
  Field a;  // mss value, wscale shift, TS val
  Field b;  // TS ecr
  std::vector<std::pair<uint32_t, uint32_t>> sack_blocks;  // relative seq
};

struct ScriptPacket {
  bool inbound = false;  // `<`: injected; `>`: expected from dpx
  uint8_t flags = 0;     // RTE_TCP_*_FLAG bits
  uint8_t flags_optional = 0;  // `>` only: flags written with a `?` after them
                               // ("P?."): present or not, both match
  Field seq;
  Field end_seq;         // seq + payload length (SYN/FIN not counted)
  uint32_t len = 0;      // payload length
  std::optional<Field> ack;
  std::optional<Field> win;
  // nullopt: options not given (an inbound packet has none; an expected
  // packet's options are not checked). `<...>` with `*` alone: any options.
  std::optional<std::vector<ScriptOption>> options;
  bool any_options = false;
};

// One argument of a call: an integer, a name (AF_INET, SO_LINGER), an
// address `a.b.c.d:port`, a struct `{l_onoff=1, l_linger=0}`, `...`, or a
// quoted string.
struct ScriptArg {
  enum class Kind { kInt, kName, kAddr, kStruct, kEllipsis, kString };
  Kind kind = Kind::kInt;
  int64_t i = 0;
  std::string s;                                           // name, string
  uint32_t addr = 0;                                       // network order
  uint16_t port = 0;                                       // host order
  std::vector<std::pair<std::string, int64_t>> fields;     // struct
};

struct ScriptCall {
  std::string name;
  std::vector<ScriptArg> args;
  int64_t ret = 0;
  std::string err;  // errno name when ret == -1 ("ENOTCONN"), else empty
};

struct ScriptDirective {
  std::string name;                // "state", "counter", "sysctl", ...
  std::vector<std::string> words;  // the rest of the line, split on spaces
};

struct ScriptLine {
  int line_no = 0;
  std::string text;      // the line as written, comment stripped
  uint64_t time_ns = 0;  // absolute, resolved from `+N` while parsing
  bool relative = false; // written `+N`: the runner counts it from the previous
                         // line's actual time (packetdrill semantics)
  std::variant<ScriptPacket, ScriptCall, ScriptDirective> event;
};

struct Script {
  std::string name;
  std::vector<ScriptLine> lines;
};

// Parses a whole script. Errors name the file and line.
absl::StatusOr<Script> ParseScript(absl::string_view text, absl::string_view name);

// The flags of `p` as packetdrill prints them ("S.", "F.", "P.", "R").
std::string FlagsString(uint8_t flags, uint8_t optional = 0);
// A packet as a script line, for diffs of expected and seen.
std::string FormatPacket(const ScriptPacket& p);

}  // namespace dpx::conformance
