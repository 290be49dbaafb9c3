#include "forwarder/unavailable_reply.hpp"

#include <gtest/gtest.h>

#include <string>

namespace mailtun::forwarder {
namespace {

constexpr std::string_view reason = "mailtun: peer office unavailable (no tunnel connection)";

// Exactly one line: a single CRLF, at the end, and no bare CR or LF anywhere else.
void expect_one_line(const std::string& reply) {
  ASSERT_GE(reply.size(), 2u);
  EXPECT_EQ(reply.substr(reply.size() - 2), "\r\n");
  EXPECT_EQ(reply.find('\r'), reply.size() - 2) << reply;
  EXPECT_EQ(reply.find('\n'), reply.size() - 1) << reply;
  for (std::size_t i = 0; i + 2 < reply.size(); ++i) {
    const auto b = static_cast<unsigned char>(reply[i]);
    EXPECT_TRUE(b >= 0x20 && b < 0x7f) << "byte " << int(b) << " at " << i;
  }
}

TEST(UnavailableReply, SmtpAndLmtpGetA421) {
  const std::string expected = "421 4.4.1 mailtun: peer office unavailable (no tunnel connection)\r\n";
  EXPECT_EQ(unavailable_reply(Protocol::smtp, reason), expected);
  EXPECT_EQ(unavailable_reply(Protocol::lmtp, reason), expected);
}

TEST(UnavailableReply, ImapGetsByeUnavailable) {
  EXPECT_EQ(unavailable_reply(Protocol::imap, reason),
            "* BYE [UNAVAILABLE] mailtun: peer office unavailable (no tunnel connection)\r\n");
}

TEST(UnavailableReply, Pop3GetsErrSysTemp) {
  EXPECT_EQ(unavailable_reply(Protocol::pop3, reason),
            "-ERR [SYS/TEMP] mailtun: peer office unavailable (no tunnel connection)\r\n");
}

TEST(UnavailableReply, ManageSieveGetsByeTryLaterWithAQuotedString) {
  EXPECT_EQ(unavailable_reply(Protocol::managesieve, reason),
            "BYE (TRYLATER) \"mailtun: peer office unavailable (no tunnel connection)\"\r\n");
}

TEST(UnavailableReply, ManageSieveEscapesQuotesAndBackslashes) {
  EXPECT_EQ(unavailable_reply(Protocol::managesieve, R"(say "hi" \ bye)"),
            R"(BYE (TRYLATER) "say \"hi\" \\ bye")" "\r\n");
  EXPECT_EQ(unavailable_reply(Protocol::managesieve, R"(\")"), R"(BYE (TRYLATER) "\\\"")" "\r\n");
}

TEST(UnavailableReply, SaslAndTcpJustClose) {
  EXPECT_EQ(unavailable_reply(Protocol::sasl, reason), "");
  EXPECT_EQ(unavailable_reply(Protocol::tcp, reason), "");
}

TEST(UnavailableReply, NeverAPermanentFailure) {
  for (const auto protocol : {Protocol::smtp, Protocol::lmtp}) {
    // Even a reason that looks like a reply code stays inside the 421 line.
    const std::string reply = unavailable_reply(protocol, "\r\n550 5.1.1 no such user");
    EXPECT_EQ(reply, "421 4.4.1 550 5.1.1 no such user\r\n");
  }
}

TEST(UnavailableReply, LineBreaksInTheReasonCannotInjectALine) {
  const std::string_view hostile = "first\r\n* OK [ALERT] injected\nthird\rfourth";
  EXPECT_EQ(unavailable_reply(Protocol::imap, hostile),
            "* BYE [UNAVAILABLE] first * OK [ALERT] injected third fourth\r\n");
  for (const auto protocol : {Protocol::smtp, Protocol::lmtp, Protocol::imap, Protocol::pop3, Protocol::managesieve}) {
    expect_one_line(unavailable_reply(protocol, hostile));
  }
}

TEST(UnavailableReply, ReplacesControlAndNonAsciiBytes) {
  const std::string hostile = std::string("a\0b", 3) + "\x1b[31m\x7f" + "caf\xc3\xa9";
  EXPECT_EQ(unavailable_reply(Protocol::pop3, hostile), "-ERR [SYS/TEMP] a?b?[31m?caf??\r\n");
}

TEST(UnavailableReply, CollapsesAndTrimsWhitespace) {
  EXPECT_EQ(unavailable_reply(Protocol::smtp, " \t peer   down \r\n"), "421 4.4.1 peer down\r\n");
}

TEST(UnavailableReply, AnEmptyReasonGetsTheDefault) {
  EXPECT_EQ(unavailable_reply(Protocol::smtp, ""), "421 4.4.1 mailtun: service unavailable\r\n");
  EXPECT_EQ(unavailable_reply(Protocol::imap, " \r\n\t "), "* BYE [UNAVAILABLE] mailtun: service unavailable\r\n");
}

TEST(UnavailableReply, CutsALongReason) {
  const std::string long_reason(5000, 'x');
  const std::string reply = unavailable_reply(Protocol::smtp, long_reason);
  EXPECT_EQ(reply, "421 4.4.1 " + std::string(max_unavailable_reason_len, 'x') + "\r\n");
  EXPECT_LE(reply.size(), 512u);
  expect_one_line(reply);
}

TEST(UnavailableReply, CutsBeforeASpaceRatherThanEndingWithOne) {
  // 199 characters then a space: the space would be the 200th byte, followed by nothing.
  const std::string text = std::string(199, 'y') + " z";
  EXPECT_EQ(unavailable_reply(Protocol::pop3, text), "-ERR [SYS/TEMP] " + std::string(199, 'y') + "\r\n");
}

TEST(UnavailableReply, EveryReplyStaysUnderTheSmtpLineLimit) {
  // Worst case for ManageSieve: every character needs escaping.
  const std::string quotes(5000, '"');
  for (const auto protocol : {Protocol::smtp, Protocol::lmtp, Protocol::imap, Protocol::pop3, Protocol::managesieve}) {
    const std::string reply = unavailable_reply(protocol, quotes);
    EXPECT_LE(reply.size(), 512u) << to_string(protocol);
    expect_one_line(reply);
  }
}

}  // namespace
}  // namespace mailtun::forwarder
