#include "cli/terminal_text.hpp"

#include <gtest/gtest.h>

namespace mailtun::cli {
namespace {

TEST(TerminalText, EscapesEverythingButPrintableAscii) {
  EXPECT_EQ(escape_terminal("plain text, 100% [ok]~"), "plain text, 100% [ok]~");
  EXPECT_EQ(escape_terminal("\x1b]0;owned\x07\r\n\t\x7f"), "\\x1b]0;owned\\x07\\x0d\\x0a\\x09\\x7f");
  EXPECT_EQ(escape_terminal("caf\xc3\xa9"), "caf\\xc3\\xa9");
}

TEST(TerminalText, FitCutsWithDots) {
  EXPECT_EQ(fit("office", 6), "office");
  EXPECT_EQ(fit("office", 5), "of...");
  EXPECT_EQ(fit("office", 2), "..");
  EXPECT_EQ(fit("office", 0), "");
}

TEST(TerminalText, LabelledLineThatFitsIsOneLine) {
  EXPECT_EQ(labelled_lines("endpoint", "203.0.113.7:51234", 2, 80),
            std::vector<std::string>{"  endpoint: 203.0.113.7:51234"});
}

TEST(TerminalText, LongValuesWrapUnderTheirFirstWord) {
  EXPECT_EQ(labelled_lines("last error", "one two three four five", 2, 30),
            (std::vector<std::string>{"  last error: one two three", "              four five"}));
}

TEST(TerminalText, ALabelTakingOverHalfTheLineHangsByFour) {
  EXPECT_EQ(labelled_lines("last error", "one two three four five", 2, 24),
            (std::vector<std::string>{"  last error: one two", "      three four five"}));
}

TEST(TerminalText, AWordLongerThanALineIsSplit) {
  EXPECT_EQ(labelled_lines("e", std::string(30, 'x'), 0, 12),
            (std::vector<std::string>{"e: xxxxxxxxx", "   xxxxxxxxx", "   xxxxxxxxx", "   xxx"}));
}

TEST(TerminalText, TableAlignsTextLeftAndNumbersRight) {
  TextTable table({{"SERVICE"}, {"OPEN", TextTable::Align::right}});
  table.add_row({"lmtp", "1"});
  table.add_row({"dovecot-auth", "1234"});
  EXPECT_EQ(table.lines(2, 80),
            (std::vector<std::string>{"  SERVICE       OPEN", "  lmtp             1", "  dovecot-auth  1234"}));
}

TEST(TerminalText, TableShrinksTheWidestTextColumnFirst) {
  TextTable table({{"A"}, {"B"}, {"N", TextTable::Align::right}});
  table.add_row({"aaaaaaaaaa", "bbbbbb", "12345"});
  // 10 + 2 + 6 + 2 + 5 = 25 columns; at 21 only A gives way.
  EXPECT_EQ(table.lines(0, 21), (std::vector<std::string>{"A       B           N", "aaa...  bbbbbb  12345"}));
  // At 17 both shrink, down to one letter and "...", and numbers stay whole; narrower is not possible.
  const std::vector<std::string> narrowest = {"A     B         N", "a...  b...  12345"};
  EXPECT_EQ(table.lines(0, 17), narrowest);
  EXPECT_EQ(table.lines(0, 10), narrowest);
}

TEST(TerminalText, TableColumnsKeepTheirMinimumWidth) {
  TextTable table({{"A"}, {"B", TextTable::Align::left, 8}});
  table.add_row({"aaaaaaaaaa", "bbbbbbbbbb"});
  EXPECT_EQ(table.lines(0, 16), (std::vector<std::string>{"A       B", "aaa...  bbbbb..."}));
}

}  // namespace
}  // namespace mailtun::cli
