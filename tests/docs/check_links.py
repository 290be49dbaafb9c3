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

from markdown_doc import ROOT, lines_outside_fences

LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
CODE_SPAN = re.compile(r"`[^`]*`")


def broken_links(doc: Path, root: Path) -> list[str]:
    found = []
    for number, line in lines_outside_fences(doc):
        for target in LINK.findall(CODE_SPAN.sub("", line)):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE) or target.startswith("#"):
                continue
            path = (doc.parent / target.split("#", 1)[0]).resolve()
            if not path.exists():
                found.append(f"{doc.relative_to(root)}:{number}: link to {target}: no such file")
    return found


def main() -> int:
    docs = [Path(p).resolve() for p in sys.argv[1:]] or [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    problems = [p for doc in docs for p in broken_links(doc, ROOT)]
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"{len(docs)} documents, {len(problems)} broken links")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
