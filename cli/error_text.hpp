#pragma once
// The wording of configuration errors (DESIGN §7): values quoted safely, anything that could be a
// key withheld, and "did you mean" suggestions for misspelt names.

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace mailtun::cli {

/// True if `text` holds something as long as a base64 key (44 characters) or nearly: such text is
/// never shown, whatever key it was found under, since a private key pasted into the wrong place
/// is still a private key.
[[nodiscard]] bool looks_like_key(std::string_view text);

/// A value as it appears in a message: in double quotes, control and non-ASCII bytes escaped so a
/// stray byte cannot garble the terminal, cut short if long, and withheld if it could be a key.
[[nodiscard]] std::string quote_value(std::string_view text);

/// `text` with every run of more than 16 base64 characters replaced by "…": for text that quotes
/// the file without knowing what it quotes, such as toml++'s syntax error descriptions.
[[nodiscard]] std::string without_base64_runs(std::string_view text);

/// The candidate that `word` is most likely a typo of, if any is close enough to be worth
/// suggesting: equal once case, '_' and '-' are ignored, a WireGuard spelling, or within a couple
/// of edits (one for short words, where two edits reach almost anything). The first of equally
/// close candidates wins.
[[nodiscard]] std::optional<std::string_view> closest(std::string_view word,
                                                      std::span<const std::string_view> candidates);

/// "a, b or c" for `last_separator` " or ".
[[nodiscard]] std::string joined(std::span<const std::string_view> words, std::string_view last_separator);

}  // namespace mailtun::cli
