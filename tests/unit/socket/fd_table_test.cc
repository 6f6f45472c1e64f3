// FdTable: lowest-free allocation, the bitmaps behind it, dup2's Replace,
// RLIMIT_NOFILE, walking open fds both ways.
#include "socket/fd_table.h"

#include <cerrno>
#include <set>

#include <gtest/gtest.h>

#include "socket/file.h"

namespace dpx::sock {
namespace {

File* F(uintptr_t i) { return reinterpret_cast<File*>(i * 16); }

TEST(FdTable, AllocatesTheLowestFreeFd) {
  FdTable t;
  EXPECT_EQ(t.Alloc(F(1)), 0);
  EXPECT_EQ(t.Alloc(F(2)), 1);
  EXPECT_EQ(t.Alloc(F(3)), 2);
  EXPECT_EQ(t.Clear(1), F(2));
  EXPECT_EQ(t.Get(1), nullptr);
  EXPECT_EQ(t.Alloc(F(4)), 1);
  EXPECT_EQ(t.Alloc(F(5)), 3);
  EXPECT_EQ(t.open_count(), 4u);
  EXPECT_EQ(t.Alloc(F(6), 10), 10);  // F_DUPFD-style minimum
  EXPECT_EQ(t.Alloc(F(7), 10), 11);
  EXPECT_EQ(t.Alloc(F(8)), 4);
  EXPECT_EQ(t.Alloc(F(9), -1), -EINVAL);
  EXPECT_EQ(t.Clear(99), nullptr);
}

TEST(FdTable, FindsTheHoleBehindManyFullWords) {
  FdTable t(1 << 20);
  for (int i = 0; i < 100000; ++i) ASSERT_EQ(t.Alloc(F(i + 1)), i);
  ASSERT_EQ(t.Clear(77777), F(77778));
  ASSERT_EQ(t.Clear(64), F(65));
  EXPECT_EQ(t.Alloc(F(1)), 64);
  EXPECT_EQ(t.Alloc(F(1)), 77777);
  EXPECT_EQ(t.Alloc(F(1)), 100000);
  EXPECT_EQ(t.open_count(), 100001u);
}

TEST(FdTable, StopsAtTheLimitWithEmfile) {
  FdTable t(5);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(t.Alloc(F(1)), i);
  EXPECT_EQ(t.Alloc(F(1)), -EMFILE);
  t.Clear(2);
  EXPECT_EQ(t.Alloc(F(1), 3), -EMFILE);
  EXPECT_EQ(t.Alloc(F(1)), 2);
  t.set_max_fds(3);  // setrlimit below open fds: they stay
  EXPECT_EQ(t.Get(4), F(1));
  t.Clear(0);
  EXPECT_EQ(t.Alloc(F(2)), 0);
}

TEST(FdTable, ReplaceReturnsTheDisplacedFile) {
  FdTable t;
  EXPECT_EQ(t.Alloc(F(1)), 0);
  EXPECT_EQ(t.Replace(0, F(2)), F(1));
  EXPECT_EQ(t.open_count(), 1u);
  EXPECT_EQ(t.Replace(300, F(3)), nullptr);  // grows the table
  EXPECT_EQ(t.open_count(), 2u);
  EXPECT_EQ(t.Get(300), F(3));
  EXPECT_EQ(t.Alloc(F(4)), 1);
}

TEST(FdTable, WalksOpenFdsInBothDirections) {
  FdTable t(4096);
  std::set<int> open = {0, 5, 63, 64, 65, 200, 1000, 4095};
  for (int fd : open) t.Replace(fd, F(fd + 1));
  std::vector<int> up, down;
  for (int fd = t.NextOpen(0); fd >= 0; fd = t.NextOpen(fd + 1)) up.push_back(fd);
  for (int fd = t.PrevOpen(1 << 20); fd >= 0; fd = t.PrevOpen(fd - 1)) down.push_back(fd);
  EXPECT_EQ(up, std::vector<int>(open.begin(), open.end()));
  EXPECT_EQ(down, std::vector<int>(open.rbegin(), open.rend()));
  EXPECT_EQ(t.NextOpen(4096), -1);
  EXPECT_GT(t.MemoryBytes(), 4096 * sizeof(File*) - 1);
}

}  // namespace
}  // namespace dpx::sock
