"""The generated parts of tornio's documentation, as Markdown put in at build time.

A page asks for one with a fence of its own, alone on its lines::

    ```{tornio-cli}
    ```

    ```{bench-tables} benchmarks/results.json
    ```

``tornio-cli`` becomes the reference of every ``tornio`` command and option, read from
``workers.cli.build_parser()``; ``bench-tables`` the tables of a JSON file that
``scripts/bench`` wrote (path relative to docs/), rendered by ``scripts/benchkit``'s own
``render``. The Markdown is put in when Sphinx reads the page (``source-read``), so MyST parses
it as if it were written there. The functions are plain Python: tests call them without Sphinx.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import re
import sys
from pathlib import Path
from typing import Any

DOCS = Path(__file__).resolve().parent.parent
ROOT = DOCS.parent

DIRECTIVE = re.compile(r"^```\{(tornio-cli|bench-tables)\}[ \t]*(\S*)[ \t]*\n```[ \t]*$", re.M)


# -- the command line ------------------------------------------------------------------------


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _option_names(action: argparse.Action) -> str:
    if not action.option_strings:
        return f"`{action.metavar or action.dest}`"
    names = ", ".join(f"`{name}`" for name in action.option_strings)
    if action.nargs != 0:
        choices = "{" + ",".join(map(str, action.choices)) + "}" if action.choices else None
        metavar = action.metavar or choices or action.dest.upper()
        names += f" `{metavar}`"
    return names


def render_parser(parser: argparse.ArgumentParser, prog: str, level: int = 2) -> list[str]:
    """One command: its usage, its description and a table of its arguments."""
    out = [f"{'#' * level} `{prog}`", ""]
    if parser.description:
        out += [parser.description, ""]
    usage = parser.format_usage().strip().removeprefix("usage: ")
    out += ["```text", usage, "```", ""]
    rows = []
    subparsers: list[argparse._SubParsersAction[Any]] = []
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        if isinstance(action, argparse._SubParsersAction):
            subparsers.append(action)
            continue
        text = action.help or ""
        if action.help == argparse.SUPPRESS:
            continue
        if action.choices and not action.option_strings:
            text += f" (one of {', '.join(map(str, action.choices))})"
        rows.append(f"| {_option_names(action)} | {_cell(text)} |")
    if rows:
        out += ["| argument | meaning |", "|---|---|", *rows, ""]
    for group in subparsers:
        helps = {choice.dest: choice.help for choice in group._choices_actions}
        for name, sub in group.choices.items():
            if helps.get(name):
                sub.description = sub.description or helps[name]
            out += render_parser(sub, f"{prog} {name}", level + 1)
    return out


def cli_markdown() -> str:
    """The reference of the ``tornio`` command."""
    import os

    from workers.cli import build_parser

    columns = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "100"  # argparse wraps usage lines to the terminal's width
    try:
        return "\n".join(render_parser(build_parser(), "tornio"))
    finally:
        if columns is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = columns


# -- benchmark tables --------------------------------------------------------------------------


def bench_markdown(path: Path) -> str:
    """The tables of a ``scripts/bench`` JSON file, with when, where and on which tree."""
    scripts = str(ROOT / "scripts")
    if scripts not in sys.path:
        sys.path.insert(0, scripts)
    from benchkit.report import Row, median_of, render
    from benchkit.scenarios import Config, make_scenarios

    document = json.loads(path.read_text(encoding="utf-8"))
    config = Config()
    names = {f.name for f in dataclasses.fields(Config)}
    for key, value in document.get("config", {}).items():
        if key in names:
            setattr(config, key, tuple(value) if key == "idle_sizes" else value)
    scenarios = make_scenarios(config)
    results = [data for data in document["results"] if data["scenario"] in scenarios]
    rows = [Row.from_json(data) for data in results]
    median_of(rows, scenarios)
    for row, data in zip(rows, results, strict=True):
        # A file imported from printed tables keeps the medians it printed (its runs hold only
        # the primary rate); a real run's stored medians are what median_of computes anyway.
        row.medians.update(data.get("medians") or {})
        row.ratios.update(data.get("ratios_vs_tornado") or {})
    repeat = int(document.get("config", {}).get("repeat", 1))
    return "\n".join([_measured(document), "", render(rows, scenarios, repeat)])


def _measured(document: dict[str, Any]) -> str:
    started = datetime.datetime.fromisoformat(document["date"])
    machine = document.get("machine") or {}
    when = f"{started:%Y-%m-%d %H:%M} UTC"
    if document.get("finished"):
        when += f"–{datetime.datetime.fromisoformat(document['finished']):%H:%M} UTC"
    parts = [f"{machine.get('nproc', '?')} cores ({machine.get('cpu_model') or 'unknown CPU'})"]
    for label, key in (("Python", "python"), ("Tornado", "tornado"), ("Node", "node"),
                       ("socket.io", "socket.io"), ("python-socketio", "python-socketio")):
        if machine.get(key):
            parts.append(f"{label} {machine[key]}")
    line = f"Measured {when} on {', '.join(parts)}"
    if machine.get("git_commit"):
        line += f", on the tree at {machine['git_commit']}"
    line += "."
    if document.get("imported_from"):
        line += f" ({document['imported_from']})"
    return line


# -- Sphinx --------------------------------------------------------------------------------------


def expand(text: str) -> str:
    """A page's text with every generated part put in."""

    def replace(match: re.Match[str]) -> str:
        kind, argument = match.groups()
        if kind == "tornio-cli":
            return cli_markdown()
        return bench_markdown(DOCS / argument)

    return DIRECTIVE.sub(replace, text)


def _source_read(app: Any, docname: str, source: list[str]) -> None:
    source[0] = expand(source[0])


def setup(app: Any) -> dict[str, Any]:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    app.connect("source-read", _source_read)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
