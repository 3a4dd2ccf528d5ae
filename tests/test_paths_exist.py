"""Every repository path named in code and docs exists (issue 19): a module renamed or moved
leaves no comment, doc or link pointing at where it was.

Two kinds of mention are checked in every text file of the repository: a path from the top of
the repository (`services/...`, `shared/...`, `tests/...`, `bench/...`, `docs/...`, `tools/...`,
`deploy/...`), and a relative Markdown link (`[text](../bench/RESULTS.md)`), from the file's own
folder. A path with a placeholder in it (`<name>`, `{id}`, `*`) names a pattern, not a file.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOPS = ("services", "shared", "tests", "bench", "docs", "tools", "deploy")
TEXT_SUFFIXES = {".py", ".md", ".yaml", ".yml", ".toml", ".txt", ".sql", ".sh", ".js", ".json"}
TEXT_NAMES = {"Makefile", "Dockerfile", ".env.example", ".gitignore", ".dockerignore"}
# What the check does not read: generated figures and profiles (history, rewritten by the next
# run), lock files, and this file (its probe names a missing path on purpose).
SKIPPED = (
    "bench/results/",
    "bench/ws_load_node/package-lock.json",
    "requirements",
    "tests/test_paths_exist.py",
)
# Made by `make` on each machine, never committed.
INSTALLED = (
    "bench/ws_load_node/node_modules",
    "tools/speclint/node_modules",
    "tools/specclient/node_modules",
    "tools/specclient/generated",
)

# A top-level path, not inside a URL or another path (nothing path-like right before it).
REPO_PATH = re.compile(rf"(?<![\w./@:-])((?:{'|'.join(TOPS)})/[\w./<>{{}}*-]*)")
MARKDOWN_LINK = re.compile(r"\]\(([^)\s#]+)(?:#[^)]*)?\)")
PLACEHOLDER = re.compile(r"[<>{}*]")


def _text_files() -> Iterator[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    for name in sorted(set(listed)):
        path = ROOT / name
        if name.startswith(SKIPPED) or not path.is_file():
            continue
        if path.suffix in TEXT_SUFFIXES or path.name in TEXT_NAMES:
            yield path


def _clean(mention: str) -> str:
    return mention.rstrip(".,:;)`'\"")


def missing_paths(path: Path) -> Iterator[str]:
    text = path.read_text(errors="replace")
    for line_number, line in enumerate(text.splitlines(), 1):
        for match in REPO_PATH.finditer(line):
            mention = _clean(match.group(1))
            if PLACEHOLDER.search(mention) or mention.startswith(INSTALLED):
                continue
            if not (ROOT / mention).exists():
                yield f"{path.relative_to(ROOT)}:{line_number}: {mention}"
        if path.suffix == ".md":
            for match in MARKDOWN_LINK.finditer(line):
                target = match.group(1)
                if "://" in target or target.startswith("mailto:") or PLACEHOLDER.search(target):
                    continue
                resolved = (path.parent / target).resolve()
                # A link out of the repository is broken for whoever reads a clone of it.
                if not resolved.is_relative_to(ROOT) or not resolved.exists():
                    yield f"{path.relative_to(ROOT)}:{line_number}: link {target}"


def test_every_repository_path_named_in_code_and_docs_exists() -> None:
    missing = [mention for path in _text_files() for mention in missing_paths(path)]
    assert not missing, "named but not in the repository:\n" + "\n".join(missing)


def test_the_check_finds_a_missing_path_and_a_broken_link(tmp_path: Path) -> None:
    doc = ROOT / "docs" / f"probe-{tmp_path.name}.md"
    doc.write_text(
        "See `services/realtime/teardown.py`, [the results](../bench/RESULTS.md) and "
        "[the contract](../../shared/CONTRACT.md); `services/api/migrations/<when>_<what>.sql`.\n"
    )
    try:
        found = list(missing_paths(doc))
    finally:
        doc.unlink()
    assert [m.split(": ", 1)[1] for m in found] == [
        "services/realtime/teardown.py",
        "link ../../shared/CONTRACT.md",
    ]


CONTRACT = ROOT / "docs" / "contract.md"
CITATION = re.compile(r"CONTRACT\s+sections?\s+(\d+)(?:\s*(?:,|and)\s*(\d+))*")


def test_every_contract_section_cited_is_in_docs_contract() -> None:
    """ "CONTRACT section N" in a comment, a docstring or a doc means docs/contract.md's N."""
    sections = set(re.findall(r"^## (\d+)\. ", CONTRACT.read_text(), re.MULTILINE))
    assert sections, f"{CONTRACT.relative_to(ROOT)} has no numbered sections"
    wrong = [
        f"{path.relative_to(ROOT)}: CONTRACT section {number}"
        for path in _text_files()
        for match in CITATION.finditer(path.read_text(errors="replace"))
        for number in re.findall(r"\d+", match.group(0))
        if number not in sections
    ]
    assert not wrong, "cited sections that docs/contract.md does not have:\n" + "\n".join(wrong)
