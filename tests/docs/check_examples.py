#!/usr/bin/env python3
"""Every configuration example in the docs passes `mailtun check` (DESIGN §7, §10).

Usage: check_examples.py MAILTUN [FILE.md ...]   (default: README.md and docs/*.md of the checkout)

Each ```toml fenced block is written to a file of its own in a temporary directory and checked
with `mailtun check --config`. An example cannot hold real keys, so the docs follow one
placeholder convention, which this script fills in as a reader would:

  * A value in angle brackets is the reader's to fill in. The ones an example may use:
      "<public key of NAME>"     what `mailtun pubkey < NAME.key` prints on endpoint NAME
      "<private key of NAME>"    the contents of NAME.key
      "<preshared key of NAME>"  the contents of NAME.psk
    Any other angle-bracket value is an error here, so a new kind is defined before it is used.
  * A key file is named after what it holds: `NAME.key` is endpoint NAME's private key, `NAME.psk`
    a preshared key. Paths given to private_key_file / preshared_key_file keep their file name and
    move into the temporary directory, where that key is generated (mode 600). So the public key
    of "office" in one example matches `office.key` in another.

A block that is deliberately not a whole file is marked with `<!-- fragment -->` as the last
non-blank line before its fence; it is skipped, counted and printed. A block in another language
(or none) that looks like a configuration (a line `[interface]`, `[[peer]]`, `[[forward]]` or
`[[expose]]`) is an error: tag it ```toml or mark it a fragment.

Errors name the Markdown file and line; `mailtun check`'s own FILE:LINE messages are mapped back to
the line of the document. Exit status: 0 all passed, 1 a block failed (or none was found), 2 usage.
"""

import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from markdown_doc import ROOT, fenced_blocks, shown

FRAGMENT_MARK = "<!-- fragment -->"
PLACEHOLDER = re.compile(r"<([a-z ]+) of ([A-Za-z0-9._-]+)>")
ANY_PLACEHOLDER = re.compile(r'"<[^">]*>"')
KEY_FILE_LINE = re.compile(r'^(\s*(?:private_key_file|preshared_key_file)\s*=\s*")([^"]*)(".*)$')
CONFIG_TABLE_LINE = re.compile(r"^\s*\[\[?(interface|peer|forward|expose)\]\]?\s*(#.*)?$")
CHECK_LOCATION = re.compile(r"^(?P<path>[^:\n]+\.toml):(?P<line>\d+):", re.MULTILINE)


@dataclass
class Block:
    doc: Path
    fence_line: int  # 1-based line of the opening fence; the block's line n is fence_line + n
    language: str
    text: str
    fragment: bool


def blocks_of(doc: Path) -> list[Block]:
    """Every fenced block of a Markdown file, with the fence's line and whether it is a fragment."""
    return [Block(doc, block.line, block.language, "\n".join(block.lines) + "\n", block.mark == FRAGMENT_MARK)
            for block in fenced_blocks(doc)]


class Keys:
    """Keys generated on demand, one per file name, with the real binary."""

    def __init__(self, mailtun: str, directory: Path):
        self.mailtun = mailtun
        self.directory = directory

    def _run(self, args: list[str], stdin: str = "") -> str:
        result = subprocess.run([self.mailtun, *args], input=stdin, capture_output=True, text=True, timeout=10)
        if result.returncode != 0:
            raise SystemExit(f"mailtun {' '.join(args)} failed: {result.stderr.strip()}")
        return result.stdout.strip()

    def file(self, name: str) -> Path:
        """The key file `name` (NAME.key: a private key, NAME.psk: a preshared key), made once."""
        path = self.directory / name
        if not path.exists():
            text = self._run(["genpsk" if name.endswith(".psk") else "genkey"])
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(text + "\n")
        return path

    def value(self, kind: str, name: str) -> str | None:
        if kind == "private key":
            return self.file(f"{name}.key").read_text().strip()
        if kind == "preshared key":
            return self.file(f"{name}.psk").read_text().strip()
        if kind == "public key":
            return self._run(["pubkey"], stdin=self.file(f"{name}.key").read_text())
        return None


def fill_in(block: Block, keys: Keys) -> tuple[str, list[str]]:
    """The block with placeholders and key paths filled in, line for line; and what was unknown."""
    unknown = []
    out = []
    for number, line in enumerate(block.text.splitlines(), start=block.fence_line + 1):
        code = line.split("#", 1)[0]  # a placeholder in a comment is prose, not a value
        if m := KEY_FILE_LINE.match(line):
            line = m.group(1) + str(keys.file(Path(m.group(2)).name)) + m.group(3)
        for placeholder in ANY_PLACEHOLDER.findall(code):
            inner = PLACEHOLDER.fullmatch(placeholder.strip('"'))
            value = keys.value(inner.group(1), inner.group(2)) if inner else None
            if value is None:
                unknown.append(f"{block.doc}:{number}: unknown placeholder {placeholder}; "
                               "expected <public key of NAME>, <private key of NAME> or <preshared key of NAME>")
                continue
            line = line.replace(placeholder, f'"{value}"', 1)
        out.append(line)
    return "\n".join(out) + "\n", unknown


def check(block: Block, index: int, mailtun: str, keys: Keys, work: Path) -> list[str]:
    """Problems with one block: none if `mailtun check` accepts it."""
    text, problems = fill_in(block, keys)
    if problems:
        return problems
    config = work / f"example-{index}.toml"
    config.write_text(text)
    config.chmod(0o600)  # an example may hold a key inline: the loader then insists on 600
    env = {k: v for k, v in os.environ.items() if k != "CREDENTIALS_DIRECTORY"}  # read the files we made
    result = subprocess.run([mailtun, "check", "--config", str(config)], capture_output=True, text=True,
                            timeout=30, env=env)
    if result.returncode == 0:
        return []
    where = f"{block.doc}:{block.fence_line}"

    def to_doc_line(m: re.Match) -> str:
        return f"{block.doc}:{block.fence_line + int(m.group('line'))}:"

    output = CHECK_LOCATION.sub(to_doc_line, (result.stderr + result.stdout).strip()).replace(str(config), where)
    return [f"{where}: `mailtun check` exited {result.returncode} on this example:\n    "
            + output.replace("\n", "\n    ")]


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    mailtun = sys.argv[1]
    docs = [Path(p) for p in sys.argv[2:]] or [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

    failures = []
    checked = skipped = 0
    with tempfile.TemporaryDirectory(prefix="mailtun-docs-") as tmp:
        work = Path(tmp)
        keys = Keys(mailtun, work)
        for doc in docs:
            for block in blocks_of(doc):
                block.doc = shown(doc)
                where = f"{block.doc}:{block.fence_line}"
                looks_like_config = any(CONFIG_TABLE_LINE.match(line) for line in block.text.splitlines())
                if block.fragment:
                    print(f"{where}: fragment, skipped")
                    skipped += 1
                elif block.language == "toml":
                    checked += 1
                    problems = check(block, checked, mailtun, keys, work)
                    print(f"{where}: ok" if not problems else "\n".join(problems))
                    failures += problems
                elif looks_like_config:
                    failures.append(f"{where}: a configuration in a block tagged '{block.language or 'nothing'}'; "
                                    f"tag it ```toml so it is checked, or mark it {FRAGMENT_MARK}")
                    print(failures[-1])

    print(f"{checked} examples checked, {skipped} fragments skipped, {len(failures)} problems")
    if checked == 0:
        print("no ```toml block found: is the extraction broken?")
        return 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
