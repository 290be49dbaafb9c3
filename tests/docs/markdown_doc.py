"""What the docs checks read in a Markdown document: its fenced blocks, the lines outside them,
and the document's name as the checks print it (relative to the checkout)."""

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FENCE = re.compile(r"^\s*(```+|~~~+)\s*([^\s`]*)")


@dataclass
class FencedBlock:
    line: int  # 1-based line of the opening fence; the block's line n is line + n
    language: str  # the fence's info word, lowercased; "" for none
    indent: int  # the opening fence's indentation (a block inside a list item is indented)
    lines: list[str]  # the lines between the fences, as written
    mark: str  # the last non-blank line before the fence, stripped; "" if there is none


def fenced_blocks(doc: Path) -> list[FencedBlock]:
    """Every fenced block of a Markdown file. A fence that is never closed ends the check."""
    lines = doc.read_text(encoding="utf-8").splitlines()
    found = []
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        fence = opening.group(1)
        end = i + 1
        while end < len(lines) and not lines[end].strip().startswith(fence):
            end += 1
        if end == len(lines):
            raise SystemExit(f"{doc}:{i + 1}: fenced block never closed")
        indent = len(lines[i]) - len(lines[i].lstrip())
        mark = next((line.strip() for line in reversed(lines[:i]) if line.strip()), "")
        found.append(FencedBlock(i + 1, opening.group(2).lower(), indent, lines[i + 1:end], mark))
        i = end + 1
    return found


def lines_outside_fences(doc: Path) -> Iterator[tuple[int, str]]:
    """The lines of a Markdown file that are not inside a fenced block, with their 1-based number."""
    in_fence = False
    for number, line in enumerate(doc.read_text(encoding="utf-8").splitlines(), start=1):
        if re.match(r"^\s*(```|~~~)", line):
            in_fence = not in_fence
            continue
        if not in_fence:
            yield number, line


def shown(doc: Path) -> Path:
    """`doc` as messages name it: relative to the checkout if it is an absolute path inside it."""
    return doc.relative_to(ROOT) if doc.is_absolute() and doc.is_relative_to(ROOT) else doc
