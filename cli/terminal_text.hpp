#pragma once
// Laying out text for a terminal of a given width: escaping what could act on the terminal,
// cutting values to fit, wrapping "label: value" lines and aligning tables. Widths count bytes,
// which equal columns once text is escaped (escape_terminal leaves only printable ASCII).

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace mailtun::cli {

/// tunnel::printable(text): every byte outside printable ASCII written as "\xNN" (and "\" as
/// "\\"): control characters and escape sequences from a peer cannot move the cursor, recolour
/// or retitle the terminal, and each byte that remains is one column.
[[nodiscard]] std::string escape_terminal(std::string_view text);

/// `text` if it has at most `width` bytes, else its start and "..." in exactly `width` bytes (or
/// less "..." when `width` < 3).
[[nodiscard]] std::string fit(std::string_view text, std::size_t width);

/// "label: value" as lines of at most `width` bytes, each beginning with `indent` spaces. A long
/// value wraps at spaces onto lines aligned under its first word (or indented by four more when
/// the label leaves too little room); a word longer than a line is split. `value` must already be
/// escaped.
[[nodiscard]] std::vector<std::string> labelled_lines(std::string_view label, std::string_view value,
                                                      std::size_t indent, std::size_t width);

/// A table with a heading row, columns two spaces apart, each line `indent` spaces in and at most
/// `width` bytes long unless its numbers alone are wider: text columns give up width, the widest
/// first, and cells that no longer fit end in "...". Numbers align right and are never cut.
class TextTable {
 public:
  enum class Align { left, right };
  struct Column {
    std::string heading;
    Align align = Align::left;
    /// A text column gives up width below this (never below its heading or four columns) only when
    /// all the others are as narrow as they go.
    std::size_t min_width = 0;
  };

  explicit TextTable(std::vector<Column> columns) : columns_(std::move(columns)) {}
  /// `cells` must already be escaped; missing cells are blank, extra ones ignored.
  void add_row(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }
  [[nodiscard]] std::vector<std::string> lines(std::size_t indent, std::size_t width) const;

 private:
  std::vector<Column> columns_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace mailtun::cli
