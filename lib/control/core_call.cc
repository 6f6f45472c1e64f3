#include "control/core_call.h"

namespace dpx::control {

bool PostToCore(Reactor& target, std::function<void(Reactor&)> fn) {
  auto* msg = new ClosureMessage;
  msg->fn = &ClosureMessage::Dispatch;
  msg->run = std::move(fn);
  // Post() only touches the target's ring (multi-producer), so calling it
  // on the target itself from a non-lcore thread is fine.
  if (!target.Post(target, msg)) {
    delete msg;
    return false;
  }
  return true;
}

}  // namespace dpx::control
