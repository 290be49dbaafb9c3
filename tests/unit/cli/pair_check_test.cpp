// `mailtun check --peer-config`: the cross-check of a VPS's and an office's files, each valid on
// its own: keys, preshared keys, forwards against exposes, and who dials which port.

#include "cli/pair_check.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "keys/base64.hpp"
#include "keys/key.hpp"
#include "keys/key_file.hpp"
#include "tests/support/temp_dir_test.hpp"

namespace mailtun::cli {
namespace {

namespace fs = std::filesystem;
using ::testing::Contains;

// DESIGN §7's pair: the VPS listens and forwards LMTP and auth; the office dials, exposes them and
// forwards the relay service the VPS exposes.
const std::string vps_text = R"([interface]
name = "vps"
private_key_file = "vps.key"
listen = "0.0.0.0:7424"
[[peer]]
name = "office"
public_key = "{OFFICE_PUBLIC}"
preshared_key_file = "vps-side.psk"
[[forward]]
service = "lmtp"
listen = "127.0.0.1:24"
peer = "office"
[[forward]]
service = "dovecot-auth"
listen = "127.0.0.1:3659"
peer = "office"
[[expose]]
service = "relay"
target = "127.0.0.1:10025"
peers = ["office"]
)";

const std::string office_text = R"([interface]
name = "office"
private_key_file = "office.key"
[[peer]]
name = "vps"
public_key = "{VPS_PUBLIC}"
preshared_key_file = "office-side.psk"
endpoint = "vps.example.org:7424"
[[expose]]
service = "lmtp"
target = "127.0.0.1:24"
peers = ["vps"]
[[expose]]
service = "dovecot-auth"
target = "127.0.0.1:3659"
peers = ["vps"]
[[forward]]
service = "relay"
listen = "127.0.0.1:2525"
peer = "vps"
)";

class PairCheckTest : public testing::TempDirTest {
 protected:
  void SetUp() override {
    keys::write_key_file(dir_ / "vps.key", keys::to_base64(vps_key_.bytes()) + "\n");
    keys::write_key_file(dir_ / "office.key", keys::to_base64(office_key_.bytes()) + "\n");
    write_psks(psk_, psk_);
  }

  void write_psks(const keys::PresharedKey& vps_side, const keys::PresharedKey& office_side) {
    for (const auto& [name, key] : {std::pair{"vps-side.psk", &vps_side}, std::pair{"office-side.psk", &office_side}}) {
      fs::remove(dir_ / name);
      keys::write_key_file(dir_ / name, keys::to_base64(key->bytes()) + "\n");
    }
  }

  fs::path write(const std::string& name, std::string text) {
    for (const auto& [token, value] : {std::pair{std::string("{VPS_PUBLIC}"), vps_public()},
                                       std::pair{std::string("{OFFICE_PUBLIC}"), office_public()}}) {
      if (const auto at = text.find(token); at != std::string::npos) text.replace(at, token.size(), value);
    }
    return write_file(name, text);
  }

  /// The findings for the pair, VPS's file first, as printed.
  std::vector<std::string> check(const std::string& vps, const std::string& office) {
    const Config ours = load_config(write("vps.toml", vps));
    const PeerSideConfig theirs = load_peer_side_config(write("office.toml", office));
    std::vector<std::string> lines;
    for (const PairFinding& finding : check_pair(ours, theirs)) lines.push_back(to_string(finding));
    return lines;
  }

  [[nodiscard]] std::string vps_public() const { return keys::to_base64(vps_key_.public_key().bytes()); }
  [[nodiscard]] std::string office_public() const { return keys::to_base64(office_key_.public_key().bytes()); }
  [[nodiscard]] std::string vps_path() const { return (dir_ / "vps.toml").string(); }
  [[nodiscard]] std::string office_path() const { return (dir_ / "office.toml").string(); }

  keys::PrivateKey vps_key_ = keys::PrivateKey::generate();
  keys::PrivateKey office_key_ = keys::PrivateKey::generate();
  keys::PresharedKey psk_ = keys::PresharedKey::generate();
};

std::string all(const std::vector<std::string>& lines) {
  std::string text;
  for (const std::string& line : lines) text += line + "\n";
  return text;
}

std::size_t count_starting(const std::vector<std::string>& lines, std::string_view prefix) {
  return static_cast<std::size_t>(std::ranges::count_if(lines, [&](const std::string& l) { return l.starts_with(prefix); }));
}

TEST_F(PairCheckTest, AMatchingPairIsAllOk) {
  const auto lines = check(vps_text, office_text);
  EXPECT_EQ(lines, (std::vector<std::string>{
                       "ok: " + vps_path() + ": [[peer]] \"office\" has the public key of " + office_path(),
                       "ok: " + office_path() + ": [[peer]] \"vps\" has the public key of " + vps_path(),
                       "ok: preshared keys: " + vps_path() + "'s [[peer]] \"office\" and " + office_path() +
                           "'s [[peer]] \"vps\" have the same",
                       "ok: " + vps_path() + ": forward lmtp (127.0.0.1:24) reaches " + office_path() +
                           "'s expose lmtp (127.0.0.1:24)",
                       "ok: " + vps_path() + ": forward dovecot-auth (127.0.0.1:3659) reaches " + office_path() +
                           "'s expose dovecot-auth (127.0.0.1:3659)",
                       "ok: " + office_path() + ": forward relay (127.0.0.1:2525) reaches " + vps_path() +
                           "'s expose relay (127.0.0.1:10025)",
                       "ok: " + office_path() + " dials " + vps_path() +
                           " at vps.example.org:7424, the port of its interface.listen (0.0.0.0:7424)",
                   }))
      << all(lines);
}

TEST_F(PairCheckTest, APublicKeyFromTheWrongMachineIsAMismatchNamingTheRightOne) {
  std::string office = office_text;
  office.replace(office.find("{VPS_PUBLIC}"), 12, keys::to_base64(keys::PrivateKey::generate().public_key().bytes()));
  const auto lines = check(vps_text, office);
  EXPECT_THAT(lines, Contains("mismatch: " + office_path() + ": no [[peer]] has the public key of " + vps_path() + ", " +
                                  vps_public() +
                                  " (from its private key); expected it as public_key in the [[peer]] for "
                                  "that endpoint (`mailtun pubkey` on its private key prints it)"));
  // The peer is still found by name, so the other checks run.
  EXPECT_EQ(count_starting(lines, "mismatch"), 1U) << all(lines);
  EXPECT_EQ(count_starting(lines, "ok"), 6U) << all(lines);
}

TEST_F(PairCheckTest, DifferentPresharedKeysAreAMismatchWithoutShowingEither) {
  const keys::PresharedKey other = keys::PresharedKey::generate();
  write_psks(psk_, other);
  const auto lines = check(vps_text, office_text);
  EXPECT_THAT(lines, Contains("mismatch: preshared keys: " + vps_path() + "'s [[peer]] \"office\" and " + office_path() +
                                  "'s [[peer]] \"vps\" have different ones; expected the same key on both "
                                  "sides (copy the file; do not run genpsk on each side)"));
  const std::string text = all(lines);
  EXPECT_EQ(text.find(keys::to_base64(psk_.bytes()).substr(0, 16)), std::string::npos);
  EXPECT_EQ(text.find(keys::to_base64(other.bytes()).substr(0, 16)), std::string::npos);

  std::string without = office_text;
  without.erase(without.find("preshared_key_file = \"office-side.psk\"\n"), 39);
  const auto one_sided = check(vps_text, without);
  EXPECT_THAT(one_sided, Contains("mismatch: preshared keys: " + vps_path() + "'s [[peer]] \"office\" has one and " +
                                      office_path() +
                                      "'s [[peer]] \"vps\" has none; expected the same preshared key on both "
                                      "sides, or none"));
}

TEST_F(PairCheckTest, AForwardMustBeExposedToThisEndpointByTheNameTheOtherSideGivesIt) {
  // The office knows two VPSes and calls this one "vps2"; it exposes LMTP to the other only, and
  // Dovecot's auth service not at all.
  const std::string office = R"([interface]
private_key_file = "office.key"
[[peer]]
name = "vps1"
public_key = ")" + keys::to_base64(keys::PrivateKey::generate().public_key().bytes()) +
                             R"("
endpoint = "other.example.org:7424"
[[peer]]
name = "vps2"
public_key = "{VPS_PUBLIC}"
preshared_key_file = "office-side.psk"
endpoint = "vps.example.org:7424"
[[expose]]
service = "lmtp"
target = "127.0.0.1:24"
peers = ["vps1"]
)";
  const auto lines = check(vps_text, office);
  EXPECT_THAT(lines, Contains("mismatch: " + vps_path() + ": forward lmtp (127.0.0.1:24): " + office_path() +
                                  " exposes \"lmtp\" to \"vps1\" only, not to \"vps2\" (its name for " + vps_path() +
                                  "); expected \"vps2\" in that expose's peers"));
  EXPECT_THAT(lines, Contains("mismatch: " + vps_path() + ": forward dovecot-auth (127.0.0.1:3659): " + office_path() +
                                  " exposes no service \"dovecot-auth\"; expected an [[expose]] there with "
                                  "service = \"dovecot-auth\" and peers = [\"vps2\"]"));
  EXPECT_EQ(count_starting(lines, "mismatch"), 2U) << all(lines);
}

TEST_F(PairCheckTest, TheEndpointPortMustBeTheListenPort) {
  std::string office = office_text;
  office.replace(office.find(":7424"), 5, ":7425");
  const auto lines = check(vps_text, office);
  EXPECT_THAT(lines, Contains("mismatch: " + office_path() + " dials " + vps_path() +
                                  " at vps.example.org:7425, but " + vps_path() +
                                  " listens on port 7424 (interface.listen = \"0.0.0.0:7424\"); expected the "
                                  "same port on both sides"));
}

TEST_F(PairCheckTest, DialingASideThatDoesNotListenOrNeitherDialingIsAMismatch) {
  // The VPS dials an office that does not listen (the office keeps dialing, so each file is valid).
  std::string vps = vps_text;
  vps.replace(vps.find("preshared_key_file"), 0, "endpoint = \"office.example.org:7424\"\n");
  auto lines = check(vps, office_text);
  EXPECT_THAT(lines, Contains("mismatch: " + vps_path() + " dials " + office_path() +
                                  " at office.example.org:7424, but " + office_path() +
                                  " has no interface.listen, so nothing accepts the connection; expected "
                                  "listen = \"0.0.0.0:7424\" in its [interface]"));

  // Both listen, neither dials: each file is valid on its own.
  std::string office = office_text;
  office.replace(office.find("endpoint = \"vps.example.org:7424\""), 33, "");
  office.replace(office.find("[[peer]]"), 0, "listen = \"0.0.0.0:7424\"\n");
  lines = check(vps_text, office);
  EXPECT_THAT(lines, Contains("mismatch: neither side dials the other: no endpoint in " + vps_path() +
                                  "'s [[peer]] \"office\" nor in " + office_path() +
                                  "'s [[peer]] \"vps\"; expected endpoint = \"host:port\" in the [[peer]] of "
                                  "the side that dials out (the office)"));
}

TEST_F(PairCheckTest, KeysThatCannotBeReadHereAreNotCheckedButTheRestIs) {
  std::string office = office_text;
  office.replace(office.find("\"office.key\""), 12, "\"/nonexistent/office.key\"");
  office.replace(office.find("\"office-side.psk\""), 17, "\"/nonexistent/office.psk\"");
  const auto lines = check(vps_text, office);
  EXPECT_THAT(lines, Contains("not checked: " + vps_path() + ": whether a [[peer]] has the public key of " +
                                  office_path() +
                                  ", whose private key cannot be read here: /nonexistent/office.key: no such "
                                  "file; create it with: (umask 077; mailtun genkey > /nonexistent/office.key)"));
  EXPECT_THAT(lines, Contains("not checked: preshared keys: the preshared_key_file of " + office_path() +
                                  "'s [[peer]] \"vps\" cannot be read here"));
  EXPECT_EQ(count_starting(lines, "mismatch"), 0U) << all(lines);
  EXPECT_EQ(count_starting(lines, "ok"), 5U) << all(lines);  // the office's key, forwards, dialing
}

TEST_F(PairCheckTest, NoPeerForTheOtherSideLeavesOutTheChecksThatNeedIt) {
  std::string vps = vps_text;
  vps.replace(vps.find("{OFFICE_PUBLIC}"), 15, keys::to_base64(keys::PrivateKey::generate().public_key().bytes()));
  vps.replace(vps.find("name = \"office\""), 15, "name = \"home\"");
  vps += "[[peer]]\nname = \"branch\"\npublic_key = \"" +
         keys::to_base64(keys::PrivateKey::generate().public_key().bytes()) + "\"\n";
  while (vps.find("\"office\"") != std::string::npos) vps.replace(vps.find("\"office\""), 8, "\"home\"");
  const auto lines = check(vps, office_text);
  EXPECT_EQ(lines.size(), 2U) << all(lines);  // the office's entry for the VPS is fine; the VPS has none
  EXPECT_EQ(count_starting(lines, "mismatch: " + vps_path() + ": no [[peer]] has the public key of " + office_path()), 1U)
      << all(lines);
}

}  // namespace
}  // namespace mailtun::cli
