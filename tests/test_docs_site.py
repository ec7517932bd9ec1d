"""The generated parts of the documentation site (docs/_ext/tornio_docs.py), without Sphinx:
the command-line reference names every option of every ``tornio`` command, and the benchmark
tables are the ones ``scripts/bench``'s own ``render`` makes of the stored JSON. (The whole
site is built, warnings as errors, by ``scripts/test``'s docs step.)"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
sys.path.insert(0, str(DOCS / "_ext"))

import tornio_docs  # noqa: E402  (docs/_ext is not a package)

from workers.cli import build_parser  # noqa: E402


def _parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    found = [parser]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found.extend(_parsers(sub))
    return found


def test_the_cli_reference_names_every_command_and_option() -> None:
    text = tornio_docs.cli_markdown()
    for name in ("tornio serve", "tornio broker", "tornio keys"):
        assert f"`{name}`" in text
    for parser in _parsers(build_parser()):
        for action in parser._actions:
            for option in action.option_strings:
                if option not in ("-h", "--help"):
                    assert f"`{option}`" in text, f"{parser.prog}: {option} is not documented"


def test_the_benchmark_tables_are_rendered_from_the_json() -> None:
    path = DOCS / "benchmarks" / "results.json"
    document = json.loads(path.read_text(encoding="utf-8"))
    text = tornio_docs.bench_markdown(path)
    assert f"on the tree at {document['machine']['git_commit']}" in text
    lines = text.splitlines()
    for result in document["results"]:
        row = f"| {result['server']} |"
        heading = next(i for i, line in enumerate(lines) if line.startswith(
            f"### {result['scenario']}: "))
        table = lines[heading:]
        table = table[: next(i for i, line in enumerate(table[2:], 2) if not line.strip()) + 1]
        assert any(line.startswith(row) for line in table), (result["scenario"], row)
    # the table the JSON carries is what scripts/bench printed: the render gives it back
    assert document["table"] in text


def test_every_generated_part_of_the_site_is_put_in() -> None:
    for page in sorted(DOCS.rglob("*.md")):
        expanded = tornio_docs.expand(page.read_text(encoding="utf-8"))
        assert "```{tornio-cli}" not in expanded and "```{bench-tables}" not in expanded, page
    assert "| `--workers`" in tornio_docs.expand("```{tornio-cli}\n```\n")


def test_the_readme_links_reach_real_pages() -> None:
    """The README is read on GitHub and PyPI: its links into docs/ name files that exist."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", readme)
    local = [t for t in targets if not t.startswith(("http://", "https://"))]
    assert len(local) >= 15, local
    assert [t for t in local if not (ROOT / t).exists()] == []
