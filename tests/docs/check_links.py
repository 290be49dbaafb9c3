#!/usr/bin/env python3
"""Every relative link in README.md and docs/*.md points at a file or folder of the checkout.

Usage: check_links.py [FILE.md ...]   (default: README.md and docs/*.md of the checkout)

Links to other sites (scheme:) and to anchors within the same page are not followed. A link's
#anchor is ignored; its path must exist, relative to the document that holds it. Text inside
fenced blocks and `code spans` is not a link. Exit status: 0 all resolve, 1 one does not.
"""

import re
import sys
from pathlib import Path

LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^\s*(```|~~~)")
CODE_SPAN = re.compile(r"`[^`]*`")


def broken_links(doc: Path, root: Path) -> list[str]:
    found = []
    in_fence = False
    for number, line in enumerate(doc.read_text(encoding="utf-8").splitlines(), start=1):
        if FENCE.match(line):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        for target in LINK.findall(CODE_SPAN.sub("", line)):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE) or target.startswith("#"):
                continue
            path = (doc.parent / target.split("#", 1)[0]).resolve()
            if not path.exists():
                found.append(f"{doc.relative_to(root)}:{number}: link to {target}: no such file")
    return found


def main() -> int:
    root = Path(__file__).resolve().parents[2]
    docs = [Path(p).resolve() for p in sys.argv[1:]] or [root / "README.md", *sorted((root / "docs").glob("*.md"))]
    problems = [p for doc in docs for p in broken_links(doc, root)]
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"{len(docs)} documents, {len(problems)} broken links")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
