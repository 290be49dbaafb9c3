#!/usr/bin/env python3
"""Every test that docs/security.md names as the proof of a promise exists in tests/.

Usage: check_test_names.py [FILE.md ...]   (default: docs/security.md of the checkout)

A code span (outside fenced blocks) is taken for a test name when it is the whole span and reads
  `Suite.Name`            a GoogleTest test: TEST, TEST_F, TEST_P, TYPED_TEST or TYPED_TEST_P
                          (Suite, Name) in a .cpp under tests/; a parameterised or typed suite by
                          its fixture's name, without the instantiation's prefix;
  `Suite.*`               at least one such test in that suite;
  `test_file.py::test_x`  a function or method test_x defined in a file of that name under tests/.
Suite and Name start with a capital letter, so `docs/protocol.md` and `Rekey(k)` are not taken for
test names. A code span must open and close on one line, since one broken across lines could hide a
test name from this check. A document that names no test at all fails too: a promise without a proof
is what this check is for. Exit status: 0 every name exists, 1 one does not (each missing one is named).
"""

import ast
import re
import sys
from collections.abc import Iterator
from pathlib import Path

from markdown_doc import ROOT, lines_outside_fences, shown

TESTS = ROOT / "tests"
CODE_SPAN = re.compile(r"`([^`]+)`")
GTEST_NAME = re.compile(r"^([A-Z]\w*)\.([A-Z]\w*|\*)$")
PYTHON_NAME = re.compile(r"^([\w.-]+\.py)::(test_\w*)$")
# The macros that define a GoogleTest test; the suite and name may be on lines of their own.
GTEST_DEFINITION = re.compile(r"\b(?:TEST|TEST_F|TEST_P|TYPED_TEST|TYPED_TEST_P)\s*\(\s*(\w+)\s*,\s*(\w+)\s*\)")


def gtest_tests(tests: Path) -> set[tuple[str, str]]:
    """(suite, name) of every GoogleTest test defined under `tests`."""
    found = set()
    for source in tests.rglob("*.cpp"):
        found.update(GTEST_DEFINITION.findall(source.read_text(encoding="utf-8", errors="replace")))
    return found


def python_functions(source: Path) -> set[str]:
    """The names of every function and method defined in a Python file."""
    tree = ast.parse(source.read_text(encoding="utf-8"), filename=str(source))
    return {node.name for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}


def split_code_spans(doc: Path) -> Iterator[int]:
    """The numbers of the lines of `doc` with an odd number of backticks: a code span broken across lines."""
    for number, line in lines_outside_fences(doc):
        if line.count("`") % 2:
            yield number


def named_tests(doc: Path) -> Iterator[tuple[int, str]]:
    """Every code span of `doc` that reads as a test name, with its line number."""
    for number, line in lines_outside_fences(doc):
        for span in CODE_SPAN.findall(line):
            span = span.strip()
            if GTEST_NAME.match(span) or PYTHON_NAME.match(span):
                yield number, span


def missing(name: str, gtests: set[tuple[str, str]], tests: Path) -> str | None:
    """Why `name` names no test under `tests`, or None when it does."""
    if gtest := GTEST_NAME.match(name):
        suite, test = gtest.groups()
        if test == "*":
            return None if any(s == suite for s, _ in gtests) else f"no GoogleTest suite {suite} in tests/"
        return None if (suite, test) in gtests else f"no GoogleTest test {suite}.{test} in tests/"
    file_name, function = PYTHON_NAME.match(name).groups()
    files = sorted(tests.rglob(file_name))
    if not files:
        return f"no file {file_name} in tests/"
    if any(function in python_functions(f) for f in files):
        return None
    return f"no def {function} in {', '.join(str(shown(f)) for f in files)}"


def main() -> int:
    docs = [Path(p).resolve() for p in sys.argv[1:]] or [ROOT / "docs" / "security.md"]
    gtests = gtest_tests(TESTS)
    problems, checked = [], 0
    for doc in docs:
        names = list(named_tests(doc))
        problems += [f"{shown(doc)}:{number}: an odd number of backticks: a code span broken across lines; "
                     "keep each on one line" for number in split_code_spans(doc)]
        if not names:
            problems.append(f"{shown(doc)}: names no test at all")
        for number, name in names:
            checked += 1
            if why := missing(name, gtests, TESTS):
                problems.append(f"{shown(doc)}:{number}: `{name}`: {why}")
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"{len(docs)} documents, {checked} test names, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
