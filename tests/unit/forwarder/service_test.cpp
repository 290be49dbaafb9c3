// DESIGN §6: service names, the mail-port guard of exposes and the exposure guard of forwards, and
// that an explicit protocol widens neither.

#include "forwarder/service.hpp"

#include <gtest/gtest.h>

namespace mailtun::forwarder {
namespace {

TEST(ServiceTest, WellKnownNamesImplyTheirProtocol) {
  EXPECT_EQ(protocol_for_service("lmtp"), Protocol::lmtp);
  EXPECT_EQ(protocol_for_service("relay"), Protocol::smtp);
  EXPECT_EQ(protocol_for_service("dovecot-auth"), Protocol::sasl);
  EXPECT_EQ(protocol_for_service("sieve"), Protocol::managesieve);
  EXPECT_EQ(protocol_for_service("postgres"), std::nullopt);
}

TEST(MailPortGuardTest, MailPortsPassForAnyService) {
  for (const std::uint16_t port : {24, 25, 110, 143, 465, 587, 993, 995, 4190, 10024, 10025, 10026}) {
    EXPECT_EQ(check_expose_port("anything", port, false), std::nullopt) << port;
  }
}

TEST(MailPortGuardTest, OtherPortsNeedAllowAnyPort) {
  const auto refusal = check_expose_port("web", 8080, false);
  ASSERT_TRUE(refusal);
  EXPECT_NE(refusal->find("port 8080 is not a mail port"), std::string::npos) << *refusal;
  EXPECT_NE(refusal->find("allow_any_port = true"), std::string::npos) << *refusal;
  EXPECT_EQ(check_expose_port("web", 8080, true), std::nullopt);
  EXPECT_TRUE(check_expose_port("web", 10023, false));
  EXPECT_TRUE(check_expose_port("web", 10027, false));
}

TEST(MailPortGuardTest, DovecotAuthPortOnlyForTheAuthServiceNames) {
  EXPECT_EQ(check_expose_port("dovecot-auth", 3659, false), std::nullopt);
  EXPECT_EQ(check_expose_port("sasl", 3659, false), std::nullopt);
  // The name earns 3659, not any port.
  EXPECT_TRUE(check_expose_port("dovecot-auth", 5432, false));
  EXPECT_TRUE(check_expose_port("sasl", 12345, false));
  // Another name gets no 3659, whatever protocol it declares (the guard takes no protocol).
  const auto refusal = check_expose_port("auth", 3659, false);
  ASSERT_TRUE(refusal);
  EXPECT_EQ(refusal->find("3659)"), std::string::npos) << "3659 offered to a service it is not for: " << *refusal;
}

TEST(ExposureGuardTest, LoopbackAlwaysPasses) {
  for (const Protocol p : {Protocol::lmtp, Protocol::sasl, Protocol::tcp, Protocol::smtp}) {
    EXPECT_EQ(check_forward_exposure("lmtp", p, true, false), std::nullopt);
  }
}

TEST(ExposureGuardTest, UnauthenticatedProtocolsAreRefusedOffLoopback) {
  const auto lmtp = check_forward_exposure("lmtp", Protocol::lmtp, false, false);
  ASSERT_TRUE(lmtp);
  EXPECT_NE(lmtp->find("mailboxes"), std::string::npos) << *lmtp;
  const auto sasl = check_forward_exposure("dovecot-auth", Protocol::sasl, false, false);
  ASSERT_TRUE(sasl);
  EXPECT_NE(sasl->find("query Dovecot's passwords"), std::string::npos) << *sasl;
  const auto relay = check_forward_exposure("relay", Protocol::smtp, false, false);
  ASSERT_TRUE(relay);
  EXPECT_NE(relay->find("open relay"), std::string::npos) << *relay;
  const auto tcp = check_forward_exposure("spamd", Protocol::tcp, false, false);
  ASSERT_TRUE(tcp);
  EXPECT_NE(tcp->find("no guarantee"), std::string::npos) << *tcp;
}

TEST(ExposureGuardTest, AnExplicitProtocolDoesNotLiftTheGuardOfAServiceName) {
  EXPECT_TRUE(check_forward_exposure("lmtp", Protocol::imap, false, false));
  EXPECT_TRUE(check_forward_exposure("sasl", Protocol::smtp, false, false));
  EXPECT_TRUE(check_forward_exposure("relay", Protocol::imap, false, false));
  // ... nor does a harmless-looking name lift the guard of a protocol.
  EXPECT_TRUE(check_forward_exposure("imap", Protocol::lmtp, false, false));
  EXPECT_TRUE(check_forward_exposure("auth", Protocol::sasl, false, false));
}

TEST(ExposureGuardTest, AuthenticatingProtocolsMayListenPublicly) {
  EXPECT_EQ(check_forward_exposure("imap", Protocol::imap, false, false), std::nullopt);
  EXPECT_EQ(check_forward_exposure("pop3s", Protocol::pop3, false, false), std::nullopt);
  EXPECT_EQ(check_forward_exposure("sieve", Protocol::managesieve, false, false), std::nullopt);
  EXPECT_EQ(check_forward_exposure("submission", Protocol::smtp, false, false), std::nullopt);
  EXPECT_EQ(check_forward_exposure("smtp", Protocol::smtp, false, false), std::nullopt);
}

TEST(ExposureGuardTest, AllowPublicOptsOut) {
  EXPECT_EQ(check_forward_exposure("lmtp", Protocol::lmtp, false, true), std::nullopt);
  EXPECT_EQ(check_forward_exposure("dovecot-auth", Protocol::sasl, false, true), std::nullopt);
}

}  // namespace
}  // namespace mailtun::forwarder
