// Review finding "peer-controlled strings reach the logs raw": what a peer sends is escaped
// before it is logged.

#include "tunnel/printable.hpp"

#include <gtest/gtest.h>

#include <string>

namespace mailtun::tunnel {
namespace {

TEST(Printable, KeepsPrintableAsciiAsItIs) {
  EXPECT_EQ(printable("service unavailable: Connection refused [x]~"), "service unavailable: Connection refused [x]~");
}

TEST(Printable, ANewlineCannotStartAForgedLogLine) {
  const std::string forged = printable("bye\n2026-12-01 [error] peer office: key compromised\r");
  EXPECT_EQ(forged.find('\n'), std::string::npos);
  EXPECT_EQ(forged, "bye\\x0a2026-12-01 [error] peer office: key compromised\\x0d");
}

TEST(Printable, EscapesControlCharactersDeleteAndBytesAbove127) {
  EXPECT_EQ(printable(std::string("\x1b[31m\x07\t\x7f\0", 9)), "\\x1b[31m\\x07\\x09\\x7f\\x00");
  EXPECT_EQ(printable("caf\xc3\xa9 \xff"), "caf\\xc3\\xa9 \\xff");
}

TEST(Printable, ABackslashIsEscapedSoEscapedTextCannotBeForged) {
  EXPECT_EQ(printable("\\x0a"), "\\\\x0a");
  EXPECT_NE(printable("\\x0a"), printable("\n"));
}

}  // namespace
}  // namespace mailtun::tunnel
