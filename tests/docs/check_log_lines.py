#!/usr/bin/env python3
"""The log lines that docs/operations.md explains are the ones the code prints (docs/operations.md).

Usage: check_log_lines.py [OPERATIONS.md]   (default: docs/operations.md of the checkout)

The section "Troubleshooting by log line" holds tables whose first cell quotes a line as `code`,
with `…` for what the line fills in (a name, an address, a key, an error). Two checks:

  * every quoted line is made of the sources' string literals (cli/, tunnel/, forwarder/, keys/):
    the text between two `…` is a piece of one literal, or runs from the end of one literal piece
    to the start of others, the way "handshake from {} refused: {}" and the reason it fills in
    join. So a log message that changes makes the quoted line fail here, naming it;
  * every format string of a `spdlog::warn`, `spdlog::error` or `spdlog::critical` call matches a
    quoted line (its `{}` matching anything), so a new warning needs its row in the table.

Exit status: 0 all passed, 1 a line failed, 2 usage.
"""

import re
import sys
from pathlib import Path

SECTION = "## Troubleshooting by log line"
SOURCE_DIRS = ("cli", "tunnel", "forwarder", "keys")
ELLIPSIS = "…"
QUOTED_ROW = re.compile(r"^\|\s*`([^`]+)`\s*\|")
LOG_CALL = re.compile(r"spdlog::(warn|error|critical)\(")
PLACEHOLDER = re.compile(r"\{[^{}]*\}")
ESCAPES = {"n": "\n", "t": "\t", '"': '"', "'": "'", "\\": "\\", "0": "\0"}


def string_literals(code: str) -> list[tuple[int, str]]:
    """(offset, text) of each string literal in C++ `code`, adjacent literals joined; comments and
    character literals skipped."""
    found: list[tuple[int, int, str]] = []  # start, end, text
    i = 0
    while i < len(code):
        if code.startswith("//", i):
            i = code.find("\n", i)
            i = len(code) if i < 0 else i
        elif code.startswith("/*", i):
            i = code.find("*/", i + 2)
            i = len(code) if i < 0 else i + 2
        elif code.startswith('R"', i) and (i == 0 or not (code[i - 1].isalnum() or code[i - 1] == "_")):
            open_paren = code.find("(", i)
            closing = ")" + code[i + 2:open_paren] + '"'
            end = code.find(closing, open_paren)
            found.append((i, end + len(closing), code[open_paren + 1:end]))
            i = end + len(closing)
        elif code[i] in "\"'":
            quote, start, text = code[i], i, []
            i += 1
            while i < len(code) and code[i] != quote:
                if code[i] == "\\":
                    text.append(ESCAPES.get(code[i + 1], code[i + 1]))
                    i += 2
                else:
                    text.append(code[i])
                    i += 1
            i += 1
            if quote == '"':
                found.append((start, i, "".join(text)))
        else:
            i += 1
    joined: list[tuple[int, int, str]] = []
    for start, end, text in found:
        if joined and code[joined[-1][1]:start].strip() == "":
            joined[-1] = (joined[-1][0], end, joined[-1][2] + text)
        else:
            joined.append((start, end, text))
    return [(start, text) for start, _, text in joined]


def source_files(root: Path) -> list[Path]:
    return sorted(p for d in SOURCE_DIRS for p in (root / d).rglob("*") if p.suffix in (".cpp", ".hpp"))


def literal_pieces(root: Path) -> set[str]:
    """The text of every literal in the sources, cut at each `{…}` placeholder."""
    pieces: set[str] = set()
    for path in source_files(root):
        for _, text in string_literals(path.read_text(encoding="utf-8")):
            pieces.update(PLACEHOLDER.split(text))
    pieces.discard("")
    return pieces


def made_of_literals(text: str, pieces: set[str]) -> bool:
    """Whether `text` is inside one piece, or is the end of a piece, whole pieces, then the start
    of a piece: the fixed text a log line shows between two filled-in parts."""
    if any(text in piece for piece in pieces):
        return True
    # reachable[i]: text[:i] is covered and ends where a piece ends.
    reachable = [False] * (len(text) + 1)
    for i in range(1, len(text) + 1):
        reachable[i] = any(piece.endswith(text[:i]) for piece in pieces)
    for i in range(1, len(text)):
        if not reachable[i]:
            continue
        rest = text[i:]
        if any(piece.startswith(rest) for piece in pieces):
            return True
        for piece in pieces:
            if rest.startswith(piece):
                reachable[i + len(piece)] = True
    return False


def quoted_lines(doc: Path) -> list[tuple[int, str]]:
    """(line number, quoted log line) of each table row in the troubleshooting section."""
    lines = doc.read_text(encoding="utf-8").splitlines()
    quoted, inside = [], False
    for number, line in enumerate(lines, start=1):
        if line.startswith("## "):
            inside = line.strip() == SECTION
        elif inside and (m := QUOTED_ROW.match(line)):
            quoted.append((number, m.group(1)))
    return quoted


def log_formats(root: Path) -> list[tuple[str, str]]:
    """(where, format string) of every spdlog warn, error or critical call in the sources."""
    formats = []
    for path in source_files(root):
        code = path.read_text(encoding="utf-8")
        literals = string_literals(code)
        for call in LOG_CALL.finditer(code):
            first = next((text for start, text in literals if start >= call.end()), None)
            line = code.count("\n", 0, call.start()) + 1
            formats.append((f"{path.relative_to(root)}:{line}", first or ""))
    return formats


def matches_format(quoted: str, fmt: str) -> bool:
    # A multi-line message is quoted on one line: its line breaks read as spaces.
    pattern = ".*".join(re.escape(part) for part in PLACEHOLDER.split(fmt.replace("\n", " ")))
    return re.fullmatch(pattern, quoted, re.DOTALL) is not None


def main() -> int:
    root = Path(__file__).resolve().parents[2]
    if len(sys.argv) > 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    doc = Path(sys.argv[1]) if len(sys.argv) == 2 else root / "docs" / "operations.md"

    quoted = quoted_lines(doc)
    if not quoted:
        print(f"{doc}: no quoted log line under '{SECTION}': is the extraction broken?")
        return 1
    pieces = literal_pieces(root)
    failures = []
    for number, line in quoted:
        for fixed in (part.strip() for part in line.split(ELLIPSIS)):
            if fixed and not made_of_literals(fixed, pieces):
                failures.append(f"{doc}:{number}: `{line}`: the text \"{fixed}\" is in no string literal of "
                                f"{', '.join(SOURCE_DIRS)}/; update the line to what the code prints")
    formats = log_formats(root)
    for where, fmt in formats:
        if not any(matches_format(line, fmt) for _, line in quoted):
            failures.append(f"{where}: the log line \"{fmt}\" is not in the table of {doc}; add a row that says "
                            "what it means and what to do")

    for failure in failures:
        print(failure)
    print(f"{len(quoted)} quoted lines, {len(formats)} warning and error calls, {len(failures)} problems")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
