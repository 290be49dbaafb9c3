#!/usr/bin/env python3
"""The Postfix and Dovecot lines in the docs are the lines `mailtun init` prints (DESIGN §8).

Usage: check_init_lines.py MAILTUN [FILE.md ...]
       (default: docs/quickstart.md, docs/postfix.md and docs/dovecot.md of the checkout)

init is the one source of those lines (cli/init_plan.cpp), so the docs quote it and this script
runs it, as the quick start does: `init --role vps`, then `init --role office --endpoint
vps.example.org:7424 --peer-public-key` with the key the first printed.

Every fenced block of these documents is one of:

  * ```toml or ```sh: a configuration (tests/docs/check_examples.py checks it) or commands to type;
  * marked `<!-- from: mailtun init --role vps -->` or `<!-- from: mailtun init --role office -->`
    as the last non-blank line before its fence: every non-blank line of the block must be a line of
    what that init printed, in the same order (a block may quote a part of the output);
  * marked `<!-- not from init: WHY -->`: lines init does not print, on purpose (the reader's own
    settings, a variant, a log line); skipped, counted and printed with WHY.

Any other block is an error, so a quoted line cannot escape the check by accident.

Inline code spans in these documents are checked too, so prose cannot quote a stale value: a span
`NAME = VALUE` (main.cf style) whose NAME init's main.cf lines set, or `-o NAME=VALUE` / `NAME=VALUE`
(master.cf style) whose NAME init's master.cf lines set, must give one of the values init gives
(a VALUE ending in "…" is an abbreviation of one). Other spans are left alone: they name settings
init does not make, such as Debian's defaults or the reader's own.

What differs between two runs of init is normalised on both sides before comparing: base64 keys
become KEY, init's temporary --dir becomes /etc/mailtun, and the configuration file's access
("mode 0640" or "mode 0640, group mailtun: the service reads it", depending on whether the group
exists) becomes "mode 0640…". Trailing blanks are ignored.

Exit status: 0 all lines found, 1 a line not found (or no marked block at all), 2 usage.
"""

import re
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

from markdown_doc import ROOT, FencedBlock, fenced_blocks, lines_outside_fences, shown

FROM_MARK = re.compile(r"^<!-- from: mailtun init --role (vps|office) -->$")
NOT_FROM_MARK = re.compile(r"^<!-- not from init: (.+) -->$")
EXEMPT_LANGUAGES = ("toml", "sh")
DOC_ENDPOINT = "vps.example.org:7424"
KEY = re.compile(r"[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=")
CONFIG_ACCESS = re.compile(r"\(mode 0640[^)]*\)")
CODE_SPAN = re.compile(r"`([^`\n]+)`")
SNIPPET_HEADER = re.compile(r"^# --- (?:postfix )?(\S+).* ---$")


def blocks_of(doc: Path) -> list[FencedBlock]:
    """Every fenced block, its lines moved left by its fence's indentation (a block in a list item)."""
    return [replace(block, lines=[line[block.indent:] if not line[:block.indent].strip() else line.lstrip()
                                  for line in block.lines])
            for block in fenced_blocks(doc)]


def spans_of(doc: Path) -> list[tuple[int, str]]:
    """Inline code spans outside fenced blocks, with their line."""
    return [(number, span) for number, line in lines_outside_fences(doc) for span in CODE_SPAN.findall(line)]


def run_init(mailtun: str, args: list[str]) -> str:
    result = subprocess.run([mailtun, "init", *args], capture_output=True, text=True, timeout=30)
    if result.returncode != 0:
        raise SystemExit(f"mailtun init {' '.join(args)} exited {result.returncode}: {result.stderr.strip()}")
    return result.stdout


def normalise(line: str, work: str = "") -> str:
    if work:
        line = line.replace(work + "/vps/", "/etc/mailtun/").replace(work + "/office/", "/etc/mailtun/")
    return CONFIG_ACCESS.sub("(mode 0640…)", KEY.sub("KEY", line)).rstrip()


def init_outputs(mailtun: str) -> dict[str, list[str]]:
    """What init prints for each role, line by line, normalised."""
    with tempfile.TemporaryDirectory(prefix="mailtun-init-docs-") as tmp:
        vps = run_init(mailtun, ["--role", "vps", "--dir", f"{tmp}/vps"])
        vps_key = re.search(r"^public key of vps: (\S+)$", vps, re.MULTILINE)
        if not vps_key:
            raise SystemExit("`mailtun init --role vps` printed no line \"public key of vps: …\"")
        office = run_init(mailtun, ["--role", "office", "--dir", f"{tmp}/office", "--endpoint", DOC_ENDPOINT,
                                    "--peer-public-key", vps_key.group(1)])
        return {role: [normalise(line, tmp) for line in text.splitlines()]
                for role, text in (("vps", vps), ("office", office))}


def missing_lines(block: FencedBlock, output: list[str]) -> list[tuple[int, str]]:
    """The block's lines that are not in `output` in order: (line number, text)."""
    missing = []
    position = 0
    for offset, raw in enumerate(block.lines, start=1):
        line = normalise(raw)
        if not line.strip():
            continue
        try:
            position = output.index(line, position) + 1
        except ValueError:
            missing.append((block.line + offset, raw))
    return missing


def setting(text: str) -> tuple[str, str, str] | None:
    """(file, name, value) of a Postfix setting as written in main.cf (`NAME = VALUE`) or as a
    master.cf override (`-o NAME=VALUE`, or `NAME=VALUE` in prose); None for anything else."""
    if m := re.fullmatch(r"([a-z_]+) = (.*)", text.strip()):
        return "main.cf", m.group(1), m.group(2)
    if m := re.fullmatch(r"(?:-o\s+)?([a-z_]+)=(\S*)", text.strip()):
        return "master.cf", m.group(1), m.group(2)
    return None


def settings_of(outputs: dict[str, list[str]]) -> dict[tuple[str, str], set[str]]:
    """Each Postfix parameter that init's main.cf or master.cf lines set, with the values it gives.
    (Dovecot's lines set generic names such as `port`, which prose uses for other listeners.)"""
    settings: dict[tuple[str, str], set[str]] = {}
    for output in outputs.values():
        postfix_file = None
        for line in output:
            if m := SNIPPET_HEADER.match(line):
                postfix_file = m.group(1) if line.startswith("# --- postfix ") else None
            elif postfix_file and (found := setting(line)) and found[0] == postfix_file:
                settings.setdefault(found[:2], set()).add(found[2])
    return settings


def stale_span(span: str, settings: dict[tuple[str, str], set[str]]) -> str | None:
    """Why an inline span quotes a setting of init's with another value; None if it does not.
    A value ending in "…" is an abbreviation: init's value must start with what precedes it."""
    found = setting(span)
    if not found or found[:2] not in settings:
        return None
    values = settings[found[:2]]
    value = found[2]
    if value in values or (value.endswith("…") and any(v.startswith(value[:-1]) for v in values)):
        return None
    return f"init's {found[0]} sets {found[1]} to " + " or ".join(f'"{v}"' for v in sorted(values))


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    mailtun = sys.argv[1]
    docs = [Path(p) for p in sys.argv[2:]] or [ROOT / "docs" / name for name in
                                              ("quickstart.md", "postfix.md", "dovecot.md")]
    outputs = init_outputs(mailtun)
    settings = settings_of(outputs)

    problems = []
    quoted = skipped = 0
    for doc in docs:
        name = shown(doc)
        for block in blocks_of(doc):
            where = f"{name}:{block.line}"
            if m := FROM_MARK.match(block.mark):
                quoted += 1
                missing = missing_lines(block, outputs[m.group(1)])
                for number, text in missing:
                    problems.append(f"{name}:{number}: not in what `mailtun init --role {m.group(1)}` prints "
                                    f"(or out of its order): {text.strip()}")
                print(f"{where}: from init --role {m.group(1)}: "
                      + ("ok" if not missing else f"{len(missing)} lines not found"))
            elif m := NOT_FROM_MARK.match(block.mark):
                skipped += 1
                print(f"{where}: not from init, skipped: {m.group(1)}")
            elif block.language not in EXEMPT_LANGUAGES:
                problems.append(f"{where}: a block tagged '{block.language or 'nothing'}' without a mark; expected "
                                "<!-- from: mailtun init --role vps|office --> or <!-- not from init: WHY --> "
                                "on the line before it (or ```sh for commands, ```toml for a configuration)")
        for number, span in spans_of(doc):
            if why := stale_span(span, settings):
                problems.append(f"{name}:{number}: `{span}`: {why}")

    for problem in problems:
        print(problem)
    print(f"{quoted} blocks quoted from init, {skipped} marked not from init, {len(problems)} problems")
    if quoted == 0:
        print("no block marked <!-- from: mailtun init --role … -->: is the extraction broken?")
        return 1
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
