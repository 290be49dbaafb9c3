#pragma once
// `mailtun check --config vps.toml --peer-config office.toml`: the two files of a pair checked
// against each other (DESIGN §7: the office's file mirrors the VPS's). Each file may be valid on
// its own and the pair still never carry a message: a public key pasted from the wrong machine,
// preshared keys that differ, a forward whose service the other side does not expose to it, an
// endpoint port that is not the port the other side listens on, or neither side dialing.

#include <string>
#include <vector>

#include "cli/config.hpp"

namespace mailtun::cli {

/// One line of the cross-check.
struct PairFinding {
  enum class Kind {
    ok,
    mismatch,     // the pair would not work as configured: a configuration error
    not_checked,  // a key of the other side could not be read here
  };
  Kind kind = Kind::ok;
  std::string text;  // one sentence; never shows a private or preshared key
};

/// Cross-checks `ours` (this endpoint's file, fully loaded) with `theirs` (the other endpoint's,
/// whose key files may be unreadable here: checks that need them are reported as not checked).
/// Each side's [[peer]] for the other is found by public key, else by the other's interface name,
/// else as its only peer; a side with none is one mismatch, and the checks that need it are
/// left out. Findings come in a fixed order: keys, preshared keys, forwards, dialing.
[[nodiscard]] std::vector<PairFinding> check_pair(const Config& ours, const PeerSideConfig& theirs);

/// "ok: …", "mismatch: …", "not checked: …".
[[nodiscard]] std::string to_string(const PairFinding& finding);

}  // namespace mailtun::cli
