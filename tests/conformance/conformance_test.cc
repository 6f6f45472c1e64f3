// Runs every tests/conformance/**/*.pkt (except pending/: tcp/, close/,
// process/) as one gtest case each:
// ConformanceScripts/Script.Run/tcp_handshake_passive.
//
//   DPX_CONFORMANCE_SCRIPT=path/to/x.pkt   run that one file instead (any
//                                          path, e.g. a pending/ script)
//   DPX_CONFORMANCE_TRACE=1                print every line and segment
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <ostream>
#include <string>
#include <vector>

#include "conformance/runner.h"

#ifndef DPX_CONFORMANCE_DIR
#error "DPX_CONFORMANCE_DIR must name tests/conformance in the source tree"
#endif

namespace dpx::conformance {
namespace {

namespace fs = std::filesystem;

struct ScriptFile {
  std::string path;     // absolute
  std::string display;  // relative to tests/conformance
};
void PrintTo(const ScriptFile& f, std::ostream* os) { *os << f.display; }

std::vector<ScriptFile> Scripts() {
  std::vector<ScriptFile> out;
  if (const char* one = std::getenv("DPX_CONFORMANCE_SCRIPT"); one && *one) {
    out.push_back({one, fs::path(one).filename().string()});
    return out;
  }
  const fs::path root(DPX_CONFORMANCE_DIR);
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root, ec); it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (ec) break;
    const fs::path rel = fs::relative(it->path(), root);
    if (it->is_directory() && rel.filename() == "pending") {
      it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file() && it->path().extension() == ".pkt")
      out.push_back({it->path().string(), rel.string()});
  }
  std::sort(out.begin(), out.end(),
            [](const ScriptFile& a, const ScriptFile& b) { return a.display < b.display; });
  return out;
}

class Script : public ::testing::TestWithParam<ScriptFile> {};

TEST_P(Script, Run) {
  RunnerOptions opts;
  if (const char* t = std::getenv("DPX_CONFORMANCE_TRACE"); t && *t && *t != '0') opts.trace = true;
  const absl::Status st = RunScriptFile(GetParam().path, opts, GetParam().display);
  EXPECT_TRUE(st.ok()) << st.message();
}

std::string CaseName(const ::testing::TestParamInfo<ScriptFile>& info) {
  std::string n = info.param.display;
  if (n.size() > 4 && n.substr(n.size() - 4) == ".pkt") n.resize(n.size() - 4);
  for (char& c : n)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return n;
}

INSTANTIATE_TEST_SUITE_P(ConformanceScripts, Script, ::testing::ValuesIn(Scripts()), CaseName);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(Script);

}  // namespace
}  // namespace dpx::conformance
