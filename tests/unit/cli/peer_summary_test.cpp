// systemd's STATUS= line (cli/peer_summary.hpp): every peer while few, counts once many.

#include "cli/peer_summary.hpp"

#include <gtest/gtest.h>

namespace mailtun::cli {
namespace {

using Peers = std::vector<std::pair<std::string, std::string>>;

Peers offices(std::size_t n, const std::string& state) {
  Peers peers;
  for (std::size_t i = 1; i <= n; ++i) peers.emplace_back("office-" + std::to_string(i), state);
  return peers;
}

TEST(PeerSummary, NamesEveryPeerWhileThereAreFew) {
  EXPECT_EQ(summarize_peers({}), "no peers");
  EXPECT_EQ(summarize_peers({{"office", "up"}}), "peer office up");
  EXPECT_EQ(summarize_peers({{"vps1", "up"}, {"vps2", "down"}}), "peer vps1 up; peer vps2 down");
  EXPECT_EQ(summarize_peers(offices(peers_named_in_summary, "waiting")).find("peers:"), std::string::npos);
}

TEST(PeerSummary, CountsManyPeersAndNamesTheFirstThatAreNotUp) {
  Peers peers = offices(1000, "up");
  peers[16].second = "down";
  peers[32].second = "connecting";
  peers[89].second = "connecting";
  EXPECT_EQ(summarize_peers(peers), "1000 peers: 997 up, 2 connecting, 1 down; not up: office-17, office-33, office-90");
}

TEST(PeerSummary, StaysShortWhenManyAreDown) {
  const std::string line = summarize_peers(offices(1000, "waiting"));
  EXPECT_EQ(line.rfind("1000 peers: 1000 waiting; not up: office-1, office-2, ", 0), 0U) << line;
  EXPECT_NE(line.find(", office-8 and 992 more"), std::string::npos) << line;
  EXPECT_LT(line.size(), 200U);
}

TEST(PeerSummary, AllUpNamesNoOne) {
  EXPECT_EQ(summarize_peers(offices(50, "up")), "50 peers: 50 up");
}

}  // namespace
}  // namespace mailtun::cli
