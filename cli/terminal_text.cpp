#include "cli/terminal_text.hpp"

#include <algorithm>
#include <numeric>

#include "tunnel/printable.hpp"

namespace mailtun::cli {

namespace {

constexpr std::size_t column_gap = 2;
constexpr std::size_t min_cut_width = 4;  // one character and "..."

void trim_right(std::string& line) { line.erase(line.find_last_not_of(' ') + 1); }

}  // namespace

std::string escape_terminal(std::string_view text) { return tunnel::printable(text); }

std::string fit(std::string_view text, std::size_t width) {
  if (text.size() <= width) return std::string(text);
  const std::size_t dots = std::min<std::size_t>(3, width);
  return std::string(text.substr(0, width - dots)) + std::string(dots, '.');
}

std::vector<std::string> labelled_lines(std::string_view label, std::string_view value, std::size_t indent,
                                        std::size_t width) {
  const std::string head = std::string(indent, ' ') + std::string(label) + ": ";
  // Continuation lines align under the value, unless that leaves less than half the line.
  const std::size_t hang = head.size() <= width / 2 ? head.size() : indent + 4;
  std::vector<std::string> lines;
  std::string line = head;
  std::size_t line_start = head.size();  // where this line's value text begins
  const auto new_line = [&] {
    trim_right(line);
    lines.push_back(std::move(line));
    line = std::string(hang, ' ');
    line_start = hang;
  };
  std::size_t pos = 0;
  while (pos < value.size()) {
    const std::size_t space = value.find(' ', pos);
    std::string_view word = value.substr(pos, space == std::string_view::npos ? std::string_view::npos : space - pos);
    pos = space == std::string_view::npos ? value.size() : space + 1;
    const std::size_t separator = line.size() > line_start ? 1 : 0;
    if (line.size() + separator + word.size() > width && line.size() > line_start) new_line();
    if (line.size() > line_start) line += ' ';
    while (line.size() + word.size() > width) {  // a word longer than a whole line: split it
      const std::size_t room = width > line.size() ? width - line.size() : 0;
      if (room == 0 && line.size() <= line_start) break;  // no room at all: let the line run long
      line.append(word.substr(0, room));
      word.remove_prefix(room);
      new_line();
    }
    line.append(word);
  }
  trim_right(line);
  lines.push_back(std::move(line));
  return lines;
}

std::vector<std::string> TextTable::lines(std::size_t indent, std::size_t width) const {
  std::vector<std::size_t> widths(columns_.size());
  for (std::size_t c = 0; c < columns_.size(); ++c) {
    widths[c] = columns_[c].heading.size();
    for (const auto& row : rows_) {
      if (c < row.size()) widths[c] = std::max(widths[c], row[c].size());
    }
  }
  const auto total = [&] {
    return indent + std::accumulate(widths.begin(), widths.end(), std::size_t{0}) +
           column_gap * (widths.empty() ? 0 : widths.size() - 1);
  };
  // Numbers are never cut; text columns shrink one column at a time, the widest first, down to
  // their own minimum, and only if that is not enough, below it.
  const auto shrink = [&](bool below_minimum) {
    while (total() > width) {
      std::size_t widest = columns_.size();
      for (std::size_t c = 0; c < columns_.size(); ++c) {
        const Column& column = columns_[c];
        const std::size_t floor =
            std::max({column.heading.size(), min_cut_width, below_minimum ? 0 : column.min_width});
        if (column.align == Align::left && widths[c] > floor &&
            (widest == columns_.size() || widths[c] > widths[widest])) {
          widest = c;
        }
      }
      if (widest == columns_.size()) return;  // nothing left to give
      --widths[widest];
    }
  };
  shrink(false);
  shrink(true);

  const auto format_row = [&](const auto& cell_of) {
    std::string line(indent, ' ');
    for (std::size_t c = 0; c < columns_.size(); ++c) {
      const std::string cell = fit(cell_of(c), widths[c]);
      const std::string padding(widths[c] - cell.size(), ' ');
      if (c > 0) line.append(column_gap, ' ');
      line += columns_[c].align == Align::left ? cell + padding : padding + cell;
    }
    trim_right(line);
    return line;
  };
  std::vector<std::string> out;
  out.push_back(format_row([&](std::size_t c) -> std::string_view { return columns_[c].heading; }));
  for (const auto& row : rows_) {
    out.push_back(format_row([&](std::size_t c) -> std::string_view {
      return c < row.size() ? std::string_view(row[c]) : std::string_view();
    }));
  }
  return out;
}

}  // namespace mailtun::cli
