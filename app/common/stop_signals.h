// SIGINT and SIGTERM to a handler that asks the run to stop (dpx, dpxgen).
#pragma once

namespace dpx::app {

void InstallStopSignals(void (*handler)(int));

}  // namespace dpx::app
