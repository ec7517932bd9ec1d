"""Mutation testing of tornio's pure modules, with mutmut 3: ``scripts/mutate`` runs this.

    scripts/mutate                          every module of MODULES, smallest first
    scripts/mutate tornio/bus/ids.py ...    some of them (a path, or its short name: bus/ids)
    scripts/mutate --list                   the modules and the test files each one runs
    scripts/mutate --jobs 1                 one mutant at a time (default 2, the most allowed)

For each module a scratch directory ``build/mutate/<name>/`` is laid out (links to
``tornio/`` and to the test modules, ``tests/support`` and ``tests/apps``, and a ``setup.cfg``
with pytest's settings and a ``[mutmut]`` section that selects the module's test files), and
``mutmut run`` works there: it copies the tree into ``mutants/``, mutates the functions of
that one module, runs the module's test files once to learn which tests reach which function,
then runs each mutant (a fork of the collected session) with only those tests. The checkout
itself is never changed. ``mutmut browse`` (or ``mutmut show NAME``) run in the scratch
directory shows the last run's mutants.

Counts per module: *killed* (a test failed), *timeout* (the tests ran over mutmut's limit:
an infinite loop, counted as caught), *survived* (every test passed, or no test of the module
reached the mutated function: "no tests"), *equivalent* (a survivor listed in
``tests/mutation/equivalents.txt`` with why no test can tell it from the original: not
counted). Score = (killed + timeout) / (all - equivalent). A line of equivalents.txt names the
mutant and its mutated line; when the line no longer matches (the function changed, so the
numbering did), the mutant counts as a survivor again and the run says so.

Writes ``build/mutate/report.json`` (every count, every survivor with its diff) and
``report.md``; prints a table with the run time of each module and of the whole run. Exit
status 1 when a module scores under ``--min-score`` or an equivalents line is stale.
"""

from __future__ import annotations

import argparse
import ast
import configparser
import difflib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRATCH = ROOT / "build" / "mutate"
EQUIVALENTS = ROOT / "tests" / "mutation" / "equivalents.txt"
MAX_JOBS = 2  # the machines have 2 cores, shared

#: Each module, and the fast unit test files that cover it: a mutant of the module runs the
#: tests of these files that reach the mutated function (seconds per mutant, not minutes).
#: An entry is a file or a pytest node id (``file::test``), where the rest of a file starts
#: servers and clients: those are not for mutation runs.
MODULES: dict[str, tuple[str, ...]] = {
    "tornio/bus/ids.py": ("tests/test_ids.py", "tests/test_bus_ids_table.py"),
    "tornio/core/ratelimit.py": ("tests/test_ratelimit.py", "tests/test_token_bucket_edges.py"),
    "tornio/protocol/backlog.py": ("tests/test_backlog.py", "tests/test_backlog_overflow.py"),
    "tornio/protocol/drive.py": ("tests/test_session_outputs.py",),
    "tornio/modern/session.py": (
        "tests/test_session_outputs.py",
        "tests/test_engine_session.py",
        "tests/test_backlog.py",
        "tests/test_backlog_overflow.py",
    ),
    "tornio/legacy/session.py": (
        "tests/test_session_outputs.py",
        "tests/test_session.py",
        "tests/test_backlog.py",
    ),
    "tornio/transports/forwarded.py": (
        "tests/test_forwarded_headers.py::test_the_client_of_a_request",
        "tests/test_forwarded_headers.py::test_trusted_proxies_setting_is_parsed_and_checked",
        "tests/test_forwarded_table.py",
    ),
    "tornio/core/rooms.py": ("tests/test_room_index.py", "tests/test_names.py"),
    "tornio/transports/origins.py": ("tests/test_origins.py", "tests/test_origins_edges.py"),
    "tornio/transports/coalesce.py": (
        "tests/test_coalesce.py",
        "tests/test_write_coalescing.py",
        "tests/test_write_buffer.py",
    ),
    "tornio/settings.py": (
        "tests/test_settings_table.py",
        "tests/test_origins.py",
        "tests/test_forwarded_headers.py::test_trusted_proxies_setting_is_parsed_and_checked",
        "tests/test_session.py",
    ),
    "tornio/bus/messages.py": (
        "tests/test_bus_messages.py",
        "tests/test_bus_limits.py",
        "tests/test_bus_schema_table.py",
        "tests/test_bus_portable_table.py",
    ),
    "tornio/protocol/engineio.py": (
        "tests/test_protocol_engineio.py",
        "tests/test_engineio_errors.py",
    ),
    "tornio/protocol/jsoncodec.py": (
        "tests/test_protocol_json.py",
        "tests/test_jsoncodec_table.py",
        "tests/test_dispatch_json.py::test_json_default_writes_what_json_has_no_type_for",
        "tests/test_dispatch_json.py::test_a_json_module_writes_and_reads_every_payload",
        "tests/test_dispatch_json.py::test_plain_copies_hold_only_what_the_bus_carries",
        "tests/test_dispatch_json.py::test_bad_json_settings_are_refused",
    ),
    "tornio/protocol/legacy.py": (
        "tests/test_protocol_legacy.py",
        "tests/test_legacy_errors.py",
        "tests/test_packets.py",
    ),
    "tornio/protocol/packets.py": ("tests/test_packets.py",),
    "tornio/protocol/socketio.py": (
        "tests/test_protocol_socketio.py",
        "tests/test_protocol_msgpack.py",
        "tests/test_socketio_errors.py",
    ),
    "tornio/protocol/flashpolicy.py": (
        "tests/test_policy.py::test_policy_xml_from_origins",
        "tests/test_policy.py::test_the_same_origin_default_lets_flash_connect",
        "tests/test_flashpolicy_table.py",
    ),
    "tornio/core/acks.py": ("tests/test_namespace.py", "tests/test_pending_ack.py"),
    "tornio/core/timers.py": ("tests/test_timers.py", "tests/test_session_timers_edges.py"),
    "tornio/core/counters.py": ("tests/test_backlog.py", "tests/test_counters_snapshot.py"),
    "tornio/protocol/hixie76.py": ("tests/test_protocol_hixie76.py", "tests/test_hixie76_edges.py"),
    "tornio/protocol/websocket.py": (
        "tests/test_protocol_websocket.py",
        "tests/test_websocket_deflate.py::test_deflater_and_inflater_round_trip",
        "tests/test_websocket_deflate.py::test_a_broadcast_is_compressed_once_per_message",
        "tests/test_websocket_deflate.py::test_the_decoder_takes_rsv1_only_where_it_may",
        "tests/test_websocket_codec_table.py",
    ),
    "tornio/protocol/permessage_deflate.py": (
        "tests/test_websocket_deflate.py::test_negotiation",
        "tests/test_websocket_deflate.py::test_the_setting_is_checked",
        "tests/test_websocket_deflate.py::test_deflater_and_inflater_round_trip",
        "tests/test_websocket_deflate.py::test_a_broadcast_is_compressed_once_per_message",
        "tests/test_websocket_deflate.py::test_the_inflater_refuses_garbage_and_bombs",
        "tests/test_websocket_deflate.py::test_the_decoder_takes_rsv1_only_where_it_may",
        "tests/test_permessage_deflate_table.py",
    ),
    "tornio/protocol/msgpack_parser.py": (
        "tests/test_protocol_msgpack.py",
        "tests/test_msgpack_parser_errors.py",
    ),
    "tornio/protocol/endpoints.py": ("tests/test_endpoints_table.py",),
    # The rest of the dispatch_* files start servers and Node clients; these run in memory.
    "tornio/core/dispatch.py": (
        "tests/test_dispatch_events.py::test_legacy_names_keep_gevent_socketios_mangling",
        "tests/test_dispatch_events.py::test_bad_registrations_are_refused",
        "tests/test_dispatch_events.py::test_a_mixin_can_carry_event_handlers",
        "tests/test_dispatch_middleware.py::test_bad_middlewares_are_refused",
        "tests/test_dispatch_middleware.py::test_use_on_an_instance_points_to_use_packets",
        "tests/test_dispatch_middleware.py::test_legacy_clients_pass_the_middlewares_too",
        "tests/test_dispatch_namespaces.py::test_bad_namespace_keys_are_refused",
        "tests/test_dispatch_namespaces.py::test_legacy_clients_reach_dynamic_namespaces",
        "tests/test_dispatch_namespaces.py::"
        "test_a_socket_that_ends_while_a_function_decides_is_left_alone",
        "tests/test_dispatch_table.py",
    ),
}

#: mutmut's statuses that count as caught, and the column each one is counted in.
CAUGHT = {"killed": "killed", "timeout": "timeout"}


def short_name(module: str) -> str:
    """``tornio/bus/ids.py`` -> ``bus/ids``: the name on the command line and in tables."""
    return module.removeprefix("tornio/").removesuffix(".py")


def dotted(module: str) -> str:
    return module.removesuffix(".py").replace("/", ".")


# -- equivalent mutants ---------------------------------------------------------------------


@dataclass(frozen=True)
class Equivalent:
    name: str
    line: str
    reason: str


def read_equivalents(path: Path = EQUIVALENTS) -> dict[str, Equivalent]:
    """``NAME | MUTATED LINE | REASON`` per line; ``#`` starts a comment line."""
    entries: dict[str, Equivalent] = {}
    if not path.exists():
        return entries
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        name, sep, rest = text.partition(" | ")
        line, sep2, reason = rest.rpartition(" | ")
        if not sep or not sep2 or not reason.strip():
            raise SystemExit(f"{path}:{number}: expected 'NAME | MUTATED LINE | REASON'")
        entries[name.strip()] = Equivalent(name.strip(), line.strip(), reason.strip())
    return entries


# -- the mutated code -----------------------------------------------------------------------


Functions = dict[str, "ast.FunctionDef | ast.AsyncFunctionDef"]


def functions_of(source: str) -> Functions:
    """Every function of mutmut's mutated module by name (parsed once per module: the module
    holds every variant of each function, ``x_f__mutmut_orig``, ``x_f__mutmut_1``...)."""
    return {
        node.name: node
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }


def mutant_diff(source: str, functions: Functions, mutant: str) -> tuple[str, str]:
    """The unified diff of one mutant against its original function, and its mutated line(s)
    (the diff's added lines, stripped, joined by `` // ``): the fingerprint equivalents.txt
    keeps."""
    local = mutant.rsplit(".", 1)[-1]
    stem, _, _ = local.rpartition("__mutmut_")
    mutated, original = functions.get(local), functions.get(stem + "__mutmut_orig")
    if mutated is None or original is None:
        return "", "?"

    def text(node: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
        segment = ast.get_source_segment(source, node, padded=True) or ""
        return segment.replace(node.name, stem, 1).splitlines()

    diff = list(difflib.unified_diff(text(original), text(mutated), lineterm="", n=1))
    added = [
        " ".join(line[1:].split())
        for line in diff
        if line.startswith("+") and not line.startswith("+++")
    ]
    return "\n".join(diff[2:]), " // ".join(added) if added else "(line removed)"


# -- one module -----------------------------------------------------------------------------


@dataclass
class Survivor:
    name: str
    status: str
    line: str
    diff: str
    equivalent: str | None = None  # the reason, when equivalents.txt lists it (line matching)
    stale: bool = False  # listed, but its line no longer matches


@dataclass
class ModuleResult:
    module: str
    tests: list[str]
    mutants: int = 0
    killed: int = 0
    timeout: int = 0
    survived: int = 0
    no_tests: int = 0
    other: int = 0
    equivalent: int = 0
    seconds: float = 0.0
    error: str | None = None
    survivors: list[Survivor] = field(default_factory=list)

    @property
    def score(self) -> float:
        counted = self.mutants - self.equivalent
        return 100.0 * (self.killed + self.timeout) / counted if counted else 100.0


#: A pytest plugin each test session of a mutation run loads. It empties tornio's
#: ``functools`` caches as the session starts: mutmut forks every mutant's session from a
#: process that ran the original code, and a cache filled there (origins.py's parsed
#: policies and sites) would answer for the mutant, whose code would never run. And it
#: raises the recursion limit: mutmut's trampolines add frames to every call, so code that
#: recurses to a bound (messages.py's MAX_DEPTH) would otherwise overflow only under mutmut.
#: And it has the test modules imported afresh: mutmut runs pytest several times in one
#: process, and pytest escapes explicit parametrize ids in place, so that a second session
#: of the same module sees ``'b\\\\xe9'`` for ``'b\\xe9'``, finds none of the tests mutmut
#: names, and every mutant would count as killed.
#: And a test module that fails to import under a mutant (its body defines a namespace class,
#: which calls the mutated ``@event`` or ``collect_routes``) fails the session with an
#: internal error (3: killed, as that test fails) rather than pytest's usage error (4: "found
#: no collectors", which mutmut takes for a wrong command line and stops the whole run on).
#: Only under a mutant (or mutmut's forced failure): a clean run's collection error still
#: stops the run.
PLUGIN = "tornio_mutation_plugin"
PLUGIN_SOURCE = '''"""Loaded by scripts/mutate's runs (-p): every test session starts with
empty caches."""

import os
import sys


def pytest_collectreport(report):
    mutant = os.environ.get("MUTANT_UNDER_TEST", "")
    if report.failed and (mutant == "fail" or "__mutmut_" in mutant):
        raise RuntimeError(f"{report.nodeid} cannot be imported under {mutant}")


def pytest_sessionstart(session):
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 5000))
    for name in list(sys.modules):
        if name.startswith("tests.test_"):
            del sys.modules[name]
    for name, module in list(sys.modules.items()):
        if name == "tornio" or name.startswith("tornio."):
            for value in list(vars(module).values()):
                clear = getattr(value, "cache_clear", None)
                if callable(clear):
                    clear()
'''


def lay_out(module: str, tests: Sequence[str], scratch: Path) -> None:
    """The scratch tree mutmut works in: links to the code and the test modules (not
    ``tests/js``), and the configuration, which selects this module's test files."""
    if scratch.exists():
        shutil.rmtree(scratch)
    (scratch / "tests").mkdir(parents=True)
    (scratch / "tornio").symlink_to(ROOT / "tornio")
    # Every test module (some import helpers from others; only the selected ones run).
    shared = ["support", "apps", *sorted(p.name for p in (ROOT / "tests").glob("*.py"))]
    for name in shared:
        (scratch / "tests" / name).symlink_to(ROOT / "tests" / name)
    (scratch / f"{PLUGIN}.py").write_text(PLUGIN_SOURCE, encoding="utf-8")
    config = configparser.ConfigParser(interpolation=None)
    config.read(ROOT / "setup.cfg", encoding="utf-8")
    out = configparser.ConfigParser(interpolation=None)
    out["tool:pytest"] = dict(config["tool:pytest"])
    out["mutmut"] = {
        "source_paths": "tornio",
        "only_mutate": module,
        "pytest_add_cli_args_test_selection": "\n" + "\n".join(
            "tests/" + test.removeprefix("tests/") for test in tests
        ),
        "pytest_add_cli_args": f"\n-p\nno:cacheprovider\n-p\n{PLUGIN}",
        "also_copy": f"{PLUGIN}.py",
    }
    with (scratch / "setup.cfg").open("w", encoding="utf-8") as stream:
        out.write(stream)


#: mutmut's reading of a mutant's exit code (``mutmut.stats.status_by_exit_code`` in 3.8),
#: for the codes a run gives; any other is "suspicious".
STATUS_BY_EXIT_CODE: dict[int | None, str] = {
    1: "killed",
    3: "killed",  # pytest's internal error: the mutant broke the test session
    0: "survived",
    5: "no tests",
    33: "no tests",
    34: "skipped",
    36: "timeout",
    24: "timeout",  # SIGXCPU: over mutmut's CPU time limit
    -24: "timeout",
    152: "timeout",
    255: "timeout",
    -9: "timeout",  # killed at mutmut's wall-clock limit
    -11: "killed",  # SIGSEGV: the mutant crashed the test process (msgpack given ext_hook=None)
    None: "not checked",
}


def status_name(code: int | None) -> str:
    return STATUS_BY_EXIT_CODE.get(code, "suspicious")


def run_module(
    module: str,
    jobs: int,
    equivalents: dict[str, Equivalent],
    verbose: bool,
    without: Sequence[str] = (),
) -> ModuleResult:
    left_out = {Path(name).name for name in without}
    tests = [t for t in MODULES[module] if Path(t.partition("::")[0]).name not in left_out]
    result = ModuleResult(module=module, tests=tests)
    scratch = SCRATCH / short_name(module).replace("/", "-")
    lay_out(module, tests, scratch)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MUTANT_UNDER_TEST")}
    mutmut = Path(sys.executable).parent / "mutmut"
    log_path = scratch / "mutmut.log"
    started = time.monotonic()
    with log_path.open("w", encoding="utf-8") as log:
        completed = subprocess.run(
            [str(mutmut), "run", "--max-children", str(jobs)],
            cwd=scratch,
            env=env,
            stdout=None if verbose else log,
            stderr=subprocess.STDOUT if not verbose else None,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    result.seconds = time.monotonic() - started
    meta = scratch / "mutants" / (module + ".meta")
    if completed.returncode != 0 or not meta.exists():
        tail = log_path.read_text(encoding="utf-8", errors="replace")[-2000:]
        result.error = f"mutmut run exited {completed.returncode}; see {log_path}\n{tail}"
        return result
    exit_codes: dict[str, int | None] = json.loads(meta.read_text())["exit_code_by_key"]
    source = (scratch / "mutants" / module).read_text(encoding="utf-8")
    functions = functions_of(source)
    for name, code in sorted(exit_codes.items()):
        status = status_name(code)
        result.mutants += 1
        if status in CAUGHT:
            setattr(result, CAUGHT[status], getattr(result, CAUGHT[status]) + 1)
            continue
        diff, line = mutant_diff(source, functions, name)
        survivor = Survivor(name=name, status=status, line=line, diff=diff)
        listed = equivalents.get(name)
        if listed is not None and listed.line == line:
            survivor.equivalent = listed.reason
            result.equivalent += 1
        else:
            survivor.stale = listed is not None
            if status == "survived":
                result.survived += 1
            elif status == "no tests":
                result.no_tests += 1
            else:
                result.other += 1
        result.survivors.append(survivor)
    return result


# -- the report -----------------------------------------------------------------------------

HEADER = (
    "| module | mutants | killed | timeout | survived | no tests | other | equivalent "
    "| score | run time |"
)


def row(r: ModuleResult) -> str:
    if r.error:
        return f"| {short_name(r.module)} | mutmut failed | | | | | | | | {r.seconds:.0f} s |"
    return (
        f"| {short_name(r.module)} | {r.mutants} | {r.killed} | {r.timeout} | {r.survived} "
        f"| {r.no_tests} | {r.other} | {r.equivalent} | {r.score:.1f} % | {r.seconds:.0f} s |"
    )


def markdown(results: list[ModuleResult], total_seconds: float) -> str:
    lines = [HEADER, "|" + "---|" * 10]
    lines += [row(r) for r in results]
    lines += ["", f"Run time: {total_seconds:.0f} s in all.", ""]
    for r in results:
        live = [s for s in r.survivors if s.equivalent is None]
        if r.error:
            lines += [f"## {short_name(r.module)}: error", "", "```text", r.error, "```", ""]
        if not live:
            continue
        lines += [f"## {short_name(r.module)}: {len(live)} not caught", ""]
        for s in live:
            stale = " (equivalents.txt lists it with another line: stale)" if s.stale else ""
            lines += [f"`{s.name}` ({s.status}){stale}", "", "```diff", s.diff, "```", ""]
    return "\n".join(lines)


def select(requested: Sequence[str]) -> list[str]:
    if not requested:
        return list(MODULES)
    chosen = []
    by_short = {short_name(m): m for m in MODULES}
    for name in requested:
        module = name if name in MODULES else by_short.get(name.removesuffix(".py"))
        if module is None:
            raise SystemExit(f"{name}: not a module of the table (scripts/mutate --list)")
        chosen.append(module)
    return chosen


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="scripts/mutate", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("modules", nargs="*", help="modules to mutate (default: all of them)")
    parser.add_argument("--list", action="store_true", help="the modules and their test files")
    parser.add_argument("--jobs", type=int, default=MAX_JOBS, help="mutants at a time (1 or 2)")
    parser.add_argument("--min-score", type=float, default=90.0, help="exit 1 under this (%%)")
    parser.add_argument("--verbose", action="store_true", help="mutmut's output as it runs")
    parser.add_argument(
        "--without", action="append", default=[], metavar="TEST_FILE",
        help="leave this test file out of every module's tests (repeatable): what does it add?",
    )
    args = parser.parse_args(argv)
    if args.list:
        for module, tests in MODULES.items():
            print(f"{short_name(module):24} {module:32} {' '.join(tests)}")
        return 0
    jobs = max(1, min(args.jobs, MAX_JOBS))
    modules = select(args.modules)
    equivalents = read_equivalents()
    SCRATCH.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    results = []
    print(HEADER, flush=True)
    for module in modules:
        result = run_module(module, jobs, equivalents, args.verbose, args.without)
        results.append(result)
        print(row(result), flush=True)
    total = time.monotonic() - started
    print(f"\nRun time: {total:.0f} s in all ({jobs} mutant(s) at a time, niced).")
    report = {
        "seconds": round(total, 1),
        "without": args.without,
        "jobs": jobs,
        "modules": [
            {**asdict(r), "score": round(r.score, 1), "seconds": round(r.seconds, 1)}
            for r in results
        ],
    }
    (SCRATCH / "report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    (SCRATCH / "report.md").write_text(markdown(results, total), encoding="utf-8")
    print(f"Report: {SCRATCH / 'report.md'} (survivors with their diffs), report.json")
    failed = False
    for r in results:
        for s in r.survivors:
            if s.stale:
                print(f"stale: {s.name} is listed in {EQUIVALENTS.name} with another line")
                failed = True
        if r.error:
            print(f"{short_name(r.module)}: {r.error}")
            failed = True
        elif r.score < args.min_score:
            failed = True
    ran = {dotted(m) for m in modules}
    seen = {s.name for r in results for s in r.survivors}
    for name in equivalents:
        if name.rsplit(".", 1)[0] in ran and name not in seen:
            print(f"note: {name} is listed in {EQUIVALENTS.name} but was caught or is gone")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
