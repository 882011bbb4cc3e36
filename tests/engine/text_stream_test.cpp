#include <gtest/gtest.h>

#include "base/utf8.h"
#include "engine/text_stream.h"

namespace dkb::engine {
namespace {

// Feeds text one byte at a time (as byte-fallback tokens arrive) and checks every released
// piece is whole UTF-8 and the concatenation is the input.
TEST(TextStream, NeverSplitsCjkOrEmoji) {
  const std::string text = "知识库 🙂👍🏽 done";
  TextStream ts;
  std::string out;
  for (char c : text) {
    bool stopped = false;
    std::string piece = ts.push(std::string(1, c), &stopped);
    EXPECT_FALSE(stopped);
    EXPECT_TRUE(utf8::is_valid(piece)) << "split character released";
    out += piece;
  }
  out += ts.flush();
  EXPECT_EQ(out, text);
}

TEST(TextStream, HoldsBackStopPrefixesAndDropsTheStop) {
  TextStream ts({"<|end|>", "。"});
  std::string out;
  bool stopped = false;
  for (const char* p : {"答案", "是<|", "en", "d|>后面"}) {
    out += ts.push(p, &stopped);
    if (stopped) break;
  }
  EXPECT_TRUE(stopped);
  EXPECT_EQ(out, "答案是");
  TextStream t2({"。"});
  std::string o2 = t2.push("好\xe3\x80", &stopped);  // first two bytes of "。"
  EXPECT_EQ(o2, "好");
  o2 = t2.push("\x82", &stopped);
  EXPECT_TRUE(stopped);
  EXPECT_EQ(t2.text(), "好");
}

TEST(TextStream, FalseStopPrefixIsReleasedLater) {
  TextStream ts({"STOP"});
  bool stopped = false;
  EXPECT_EQ(ts.push("go ST", &stopped), "go ");
  EXPECT_EQ(ts.push("ay", &stopped), "STay");
  EXPECT_FALSE(stopped);
}

}  // namespace
}  // namespace dkb::engine
