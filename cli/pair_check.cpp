#include "cli/pair_check.hpp"

#include <sodium.h>

#include <algorithm>
#include <optional>
#include <utility>

#include "cli/error_text.hpp"
#include "keys/base64.hpp"

namespace mailtun::cli {

namespace {

/// One file of the pair as the checks see it.
struct Side {
  const Config& config;
  std::string label;                          // the file, as given on the command line
  std::optional<keys::PublicKey> public_key;  // none if its private key cannot be read here
  std::optional<std::string> private_key_unread;
  std::vector<std::string> psk_unread;
};

bool is_zero(const keys::PresharedKey& psk) { return sodium_is_zero(psk.bytes().data(), psk.bytes().size()) == 1; }

class PairChecker {
 public:
  PairChecker(const Side& ours, const Side& theirs) : ours_(ours), theirs_(theirs) {}

  std::vector<PairFinding> run() && {
    const Peer* our_entry = entry_for(ours_, theirs_);
    const Peer* their_entry = entry_for(theirs_, ours_);
    if (our_entry != nullptr && their_entry != nullptr) {
      compare_psks(*our_entry, *their_entry);
      check_forwards(ours_, *our_entry, theirs_, *their_entry);
      check_forwards(theirs_, *their_entry, ours_, *our_entry);
      const bool we_dial = check_dial(ours_, *our_entry, theirs_);
      const bool they_dial = check_dial(theirs_, *their_entry, ours_);
      if (!we_dial && !they_dial) {
        add(PairFinding::Kind::mismatch,
            "neither side dials the other: no endpoint in " + ours_.label + "'s [[peer]] " + quote_value(our_entry->name) +
                " nor in " + theirs_.label + "'s [[peer]] " + quote_value(their_entry->name) +
                "; expected endpoint = \"host:port\" in the [[peer]] of the side that dials out (the office)");
      }
    }
    return std::move(findings_);
  }

 private:
  void add(PairFinding::Kind kind, std::string text) { findings_.push_back({kind, std::move(text)}); }

  /// `self`'s [[peer]] for `other`, checking on the way that it holds `other`'s public key.
  const Peer* entry_for(const Side& self, const Side& other) {
    const std::vector<Peer>& peers = self.config.peers;
    if (other.public_key) {
      const auto by_key = std::ranges::find(peers, *other.public_key, &Peer::public_key);
      if (by_key != peers.end()) {
        add(PairFinding::Kind::ok, self.label + ": [[peer]] " + quote_value(by_key->name) + " has the public key of " +
                                       other.label);
        return &*by_key;
      }
      add(PairFinding::Kind::mismatch,
          self.label + ": no [[peer]] has the public key of " + other.label + ", " +
              keys::to_base64(other.public_key->bytes()) +
              " (from its private key); expected it as public_key in the [[peer]] for that endpoint (`mailtun "
              "pubkey` on its private key prints it)");
    } else {
      add(PairFinding::Kind::not_checked, self.label + ": whether a [[peer]] has the public key of " + other.label +
                                              ", whose private key cannot be read here: " +
                                              *other.private_key_unread);
    }
    // The checks that follow still need to know which entry was meant.
    const auto by_name = std::ranges::find(peers, other.config.interface.name, &Peer::name);
    if (by_name != peers.end()) return &*by_name;
    if (peers.size() == 1) return &peers.front();
    if (!other.public_key) {
      add(PairFinding::Kind::mismatch, self.label + ": no [[peer]] is named " + quote_value(other.config.interface.name) +
                                           " (the name of " + other.label +
                                           "), so none can be matched with it; expected a [[peer]] for it");
    }
    return nullptr;
  }

  void compare_psks(const Peer& our_entry, const Peer& their_entry) {
    const auto unread = [](const Side& side, const Peer& entry) {
      return std::ranges::find(side.psk_unread, entry.name) != side.psk_unread.end();
    };
    const std::string ours = ours_.label + "'s [[peer]] " + quote_value(our_entry.name);
    const std::string theirs = theirs_.label + "'s [[peer]] " + quote_value(their_entry.name);
    if (unread(theirs_, their_entry) || unread(ours_, our_entry)) {
      add(PairFinding::Kind::not_checked,
          "preshared keys: the preshared_key_file of " + (unread(theirs_, their_entry) ? theirs : ours) +
              " cannot be read here");
      return;
    }
    // Compared, never printed.
    if (sodium_memcmp(our_entry.psk.bytes().data(), their_entry.psk.bytes().data(), keys::key_size) == 0) {
      add(PairFinding::Kind::ok, is_zero(our_entry.psk) ? "preshared keys: neither side uses one"
                                                         : "preshared keys: " + ours + " and " + theirs + " have the same");
    } else if (is_zero(our_entry.psk) || is_zero(their_entry.psk)) {
      const bool ours_has = !is_zero(our_entry.psk);
      add(PairFinding::Kind::mismatch, "preshared keys: " + (ours_has ? ours : theirs) + " has one and " +
                                           (ours_has ? theirs : ours) +
                                           " has none; expected the same preshared key on both sides, or none");
    } else {
      add(PairFinding::Kind::mismatch, "preshared keys: " + ours + " and " + theirs +
                                           " have different ones; expected the same key on both sides (copy "
                                           "the file; do not run genpsk on each side)");
    }
  }

  /// Every forward of `self` to `other` must find its service exposed there to `self`.
  void check_forwards(const Side& self, const Peer& self_entry, const Side& other, const Peer& other_entry) {
    for (const Forward& forward : self.config.forwards) {
      if (std::ranges::find(forward.peers, self_entry.name) == forward.peers.end()) continue;  // to a third endpoint
      const std::string what = self.label + ": forward " + forward.service + " (" + forward.listen.to_string() + ")";
      const auto& exposes = other.config.exposes;
      const auto expose = std::ranges::find(exposes, forward.service, &Expose::service);
      if (expose == exposes.end()) {
        add(PairFinding::Kind::mismatch, what + ": " + other.label + " exposes no service " + quote_value(forward.service) +
                                             "; expected an [[expose]] there with service = " +
                                             quote_value(forward.service) + " and peers = [" + quote_value(other_entry.name) +
                                             "]");
      } else if (std::ranges::find(expose->peers, other_entry.name) == expose->peers.end()) {
        std::string peers;
        for (const std::string& name : expose->peers) peers += (peers.empty() ? "" : ", ") + quote_value(name);
        add(PairFinding::Kind::mismatch, what + ": " + other.label + " exposes " + quote_value(forward.service) +
                                             " to " + peers + " only, not to " + quote_value(other_entry.name) +
                                             " (its name for " + self.label + "); expected " +
                                             quote_value(other_entry.name) + " in that expose's peers");
      } else {
        add(PairFinding::Kind::ok, what + " reaches " + other.label + "'s expose " + expose->service + " (" +
                                       expose->target.to_string() + ")");
      }
    }
  }

  /// If `self` dials `other`, whether it dials the port `other` listens on; returns whether it dials.
  bool check_dial(const Side& self, const Peer& self_entry, const Side& other) {
    if (!self_entry.endpoint) return false;
    const std::string dials =
        self.label + " dials " + other.label + " at " + self_entry.endpoint->to_string();
    const std::optional<SocketAddress>& listen = other.config.interface.listen;
    if (!listen) {
      add(PairFinding::Kind::mismatch, dials + ", but " + other.label +
                                           " has no interface.listen, so nothing accepts the connection; expected "
                                           "listen = \"0.0.0.0:" +
                                           std::to_string(self_entry.endpoint->port) + "\" in its [interface]");
    } else if (listen->port != self_entry.endpoint->port) {
      add(PairFinding::Kind::mismatch, dials + ", but " + other.label + " listens on port " +
                                           std::to_string(listen->port) + " (interface.listen = \"" +
                                           listen->to_string() + "\"); expected the same port on both sides");
    } else {
      add(PairFinding::Kind::ok, dials + ", the port of its interface.listen (" + listen->to_string() + ")");
    }
    return true;
  }

  const Side& ours_;
  const Side& theirs_;
  std::vector<PairFinding> findings_;
};

}  // namespace

std::vector<PairFinding> check_pair(const Config& ours, const PeerSideConfig& theirs) {
  const Side our_side{.config = ours,
                      .label = ours.path.string(),
                      .public_key = ours.interface.private_key.public_key(),
                      .private_key_unread = std::nullopt,
                      .psk_unread = {}};
  const Side their_side{
      .config = theirs.config,
      .label = theirs.config.path.string(),
      .public_key = theirs.private_key_unread ? std::nullopt
                                              : std::optional(theirs.config.interface.private_key.public_key()),
      .private_key_unread = theirs.private_key_unread,
      .psk_unread = theirs.psk_unread};
  return PairChecker(our_side, their_side).run();
}

std::string to_string(const PairFinding& finding) {
  switch (finding.kind) {
    case PairFinding::Kind::ok: return "ok: " + finding.text;
    case PairFinding::Kind::mismatch: return "mismatch: " + finding.text;
    case PairFinding::Kind::not_checked: return "not checked: " + finding.text;
  }
  return finding.text;
}

}  // namespace mailtun::cli
