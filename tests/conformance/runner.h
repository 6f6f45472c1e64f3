// The conformance script executor: one dpx stack (Reactor + VirtualClock +
// IpStack + TcpStack) on end A of the in-memory wire; the script is the
// peer on end B. See docs/conformance-scripts.md for the format.
//
//   dpx   192.168.0.1  02:00:00:00:00:01   (gateway 192.168.0.254, the peer's MAC)
//   peer  192.0.2.1    02:00:00:00:00:02   (port 45000 unless `%peer_port N`)
//
// ARP is pre-seeded; ARP requests from dpx (entries going stale on long
// scripts) are answered at once by the peer and never count as packets.
//
// Lines run in time order under virtual time: the clock is advanced to a
// line's time (timers fire on the way; every segment dpx sends is
// captured with its send time), then the line runs:
//   `<`  a real Ethernet/IPv4/TCP frame is built and injected;
//   `>`  the next captured segment must match, sent within the tolerance
//        (default 4 ms, `%tolerance_ms N`) of the line's time;
//   call a system call of the acting process (lib/socket: pid 100, and the
//        children fork() makes; `%proc N` switches) is made and its result
//        compared; exit(N) runs the process's exit to completion;
//   `%`  a directive (state, counter, sysctl, no_packet, peer_port, proc, ...).
// Any captured segment still unmatched when a line other than `>` runs, or
// at the end of the script, fails the run.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "conformance/script.h"

namespace dpx::conformance {

struct RunnerOptions {
  uint64_t tolerance_ns = 4'000'000;  // packetdrill's default tolerance_usecs
  bool trace = false;                 // print every line and segment to stderr
};

// Runs a parsed script. On failure the status message names file:line and
// shows the expected and the seen segment as script lines, followed by the
// last lines of the run's transcript.
absl::Status RunScript(const Script& script, const RunnerOptions& opts = {});

// Reads, parses and runs the script at `path`; `display_name` is used in
// messages (defaults to `path`).
absl::Status RunScriptFile(const std::string& path, const RunnerOptions& opts = {},
                           absl::string_view display_name = "");

}  // namespace dpx::conformance
