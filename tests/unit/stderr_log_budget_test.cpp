// A request's stderr reaches the log as lines, within a budget.
#include <host/request/stderr_log_budget.hpp>

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace fcgihost::host {
namespace {

struct collected {
  std::vector<std::string> lines;
  stderr_log_budget::line_sink sink() {
    return [this](std::string_view line) { lines.emplace_back(line); };
  }
};

TEST(StderrLogBudget, EachLineIsALogLineWhateverTheSplit) {
  stderr_log_budget budget;
  collected log;
  budget.feed("first li", log.sink());
  budget.feed("ne\nsecond\r\nthi", log.sink());
  budget.feed("rd", log.sink());
  budget.finish(log.sink());
  EXPECT_EQ(log.lines, (std::vector<std::string>{"first line", "second", "third"}));
}

TEST(StderrLogBudget, PastTheBudgetOneLineSaysHowMuchWasLeftOut) {
  stderr_log_budget budget(100);
  collected log;
  for (int i = 0; i < 1000; ++i) budget.feed("0123456789012345678\n", log.sink());  // 20 bytes each
  budget.finish(log.sink());
  ASSERT_EQ(log.lines.size(), 6u);
  EXPECT_EQ(log.lines[4], "0123456789012345678");
  EXPECT_EQ(log.lines[5], "... 19900 more bytes of stderr not logged (the web server got them all as FCGI_STDERR)");
}

TEST(StderrLogBudget, ALongLineWithoutNewlineIsLoggedInPieces) {
  stderr_log_budget budget;
  collected log;
  budget.feed(std::string(10000, 'x'), log.sink());
  EXPECT_EQ(log.lines.size(), 2u) << "two whole pieces of 4096 before the end";
  budget.finish(log.sink());
  ASSERT_EQ(log.lines.size(), 3u);
  EXPECT_EQ(log.lines[2].size(), 10000u - 2 * stderr_log_budget::longest_line);
}

}  // namespace
}  // namespace fcgihost::host
