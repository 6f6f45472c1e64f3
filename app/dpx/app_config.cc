#include "app_config.h"

#include "flags.h"

namespace dpx::app {

absl::StatusOr<Profile> ProfileFromFlags() {
  absl::StatusOr<Profile> p = LoadProfile(FLAGS_profile);
  if (!p.ok()) return p.status();
  if (!FLAGS_tap_iface.empty()) {
    if (auto st = OverrideTapIface(&*p, FLAGS_tap_iface); !st.ok()) return st;
  }
  if (!FLAGS_ip.empty()) {
    if (auto st = OverrideIp(&*p, FLAGS_ip); !st.ok()) return st;
  }
  if (!FLAGS_gateway.empty()) {
    if (auto st = OverrideGateway(&*p, FLAGS_gateway); !st.ok()) return st;
  }
  if (!FLAGS_lcores.empty()) {
    if (auto st = OverrideLcores(&*p, FLAGS_lcores); !st.ok()) return st;
  }
  if (FLAGS_mbufs != 0) {
    if (auto st = OverrideMbufs(&*p, FLAGS_mbufs); !st.ok()) return st;
  }
  if (!FLAGS_file_prefix.empty()) {
    if (auto st = OverrideFilePrefix(&*p, FLAGS_file_prefix); !st.ok()) return st;
  }
  if (auto st = ValidateProfile(*p); !st.ok()) return st;
  return p;
}

}  // namespace dpx::app
