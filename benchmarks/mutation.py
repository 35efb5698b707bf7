"""Mutation testing of the safety-critical code: how many plausible bugs does the suite catch?

Runs mutmut (https://github.com/boxed/mutmut) once per target, each in a scratch copy of the
tracked files with only that target's tests selected, and prints killed/survived per target and
overall. Not part of CI: a full run takes tens of minutes on two cores.

    venv/bin/pip install -r benchmarks/requirements-mutation.txt
    venv/bin/python benchmarks/mutation.py                 # every target
    venv/bin/python benchmarks/mutation.py guard weights   # some of them
    venv/bin/python benchmarks/mutation.py --survivors     # also print each survivor's diff
    venv/bin/python benchmarks/mutation.py bake --sample 120   # a uniform random sample of 120 mutants

mutmut mutates the functions of the files named; "killed" means a selected test failed. Two kinds of
code are left out, each for a written reason:
- functions a target names in `skip`: they only word a message or print;
- survivors that change only the text of a phrase (the "wording" column): the old and new lines are
  the same once the text of every string with white space in it is blanked. One-word strings (keys,
  names, values) and an f-string's expressions are kept: those are behaviour.
- lines that hold nothing but one plain string literal (a message's or a reason's wording, continued
  over several lines). Wording is not behaviour; the tests pin the messages users rely on in full.
  f-string lines are mutated: which value a message shows is behaviour.
Pass --all-lines to mutate those lines too, for the raw figure.
"""

from __future__ import annotations

import argparse
import ast
import io
import json
import random
import re
import shutil
import subprocess
import sys
import tempfile
import tokenize
from dataclasses import dataclass
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
COPIED = ["__main__.py", "Pulumi.yaml", "Pulumi.dev.yaml", "policies/", "bluegreen/", "components/"]


@dataclass(frozen=True)
class Target:
    name: str
    source_dir: str
    files: tuple[str, ...]
    tests: tuple[str, ...]
    skip: tuple[str, ...] = ()  # functions that only word messages or print


# A line that is only a plain string literal (no f-string: which values a message shows is behaviour),
# e.g. the middle of a message split over several lines.
TEXT_ONLY_LINE = r"""^\s*r?("[^"]*"|'[^']*')[\s,)]*$"""


TARGETS = (
    Target(
        "guard",
        "bluegreen",
        ("bluegreen/release_guard.py",),
        ("tests/test_release_guard.py",),
    ),
    Target(
        "settings",
        "bluegreen",
        ("bluegreen/settings.py", "bluegreen/schema_rule.py"),
        ("tests/test_program_config.py", "tests/test_schema_rule.py", "tests/test_tool_config.py"),
    ),
    Target("weights", "bluegreen", ("bluegreen/contract.py",), ("tests/test_program_traffic.py",)),
    Target(
        "parity",
        "policies",
        ("policies/bluegreen_policies/parity.py", "policies/bluegreen_policies/provider_sets.py"),
        ("tests/test_policy_parity.py",),
    ),
    Target(
        "traffic-policy", "policies", ("policies/bluegreen_policies/traffic.py",), ("tests/test_policy_traffic.py",)
    ),
    Target(
        "rollback-and-ramp",
        "bluegreen",
        ("bluegreen/release.py", "bluegreen/traffic.py"),
        ("tests/test_tool_release.py",),
        # Message builders, and the commands that are not the rollback or the ramp (stage and its wait).
        skip=(
            "tool_command",
            "after_interrupt",
            "config_write_failed",
            "format_weights",
            "stage",
            "wait_healthy",
            "verify",
        ),
    ),
    Target(
        "bake",
        "bluegreen",
        ("bluegreen/bake.py", "bluegreen/watch.py"),
        ("tests/test_tool_release.py",),
        # Printing, and the smoke-check plumbing (URLs, headers, variables) that verify shares.
        skip=("_print_record", "as_record", "preview_headers", "smoke_base_url", "smoke_variables"),
    ),
)
# mutmut's exit codes per mutant (mutmut/__main__.py, status_by_exit_code).
# Killed: a test failed (1, 3), or the mutant ran past its time limit (mutmut's timeout codes, e.g. an
# endless loop). Anything else survived: the tests passed, or no selected test reached the mutant.
KILLED = {1, 3, 24, -24, 36, 152, 255}


def _fence(path: Path, names: set[str]) -> None:
    """Wrap the named functions of a scratch copy in mutmut's `no mutate start/end` pragmas."""
    lines = path.read_text().splitlines()
    spans = sorted(
        (min([n.lineno, *(d.lineno for d in n.decorator_list)]), n.end_lineno or n.lineno, n.col_offset)
        for n in ast.walk(ast.parse("\n".join(lines)))
        if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name in names
    )
    for start, end, indent in reversed(spans):
        pad = " " * indent
        # The end marker must lead a statement, so one follows it.
        lines[end:end] = [f"{pad}# pragma: no mutate end", f"{pad}_fenced_{start} = None"]
        lines[start - 1 : start - 1] = [f"{pad}# pragma: no mutate start"]
    path.write_text("\n".join(lines) + "\n")


def _scratch(target: Target, root: Path, all_lines: bool) -> Path:
    work = root / target.name
    files = subprocess.run(
        ["git", "ls-files", "-z"], cwd=PROJECT_DIR, check=True, capture_output=True, text=True
    ).stdout.split("\0")
    for name in filter(None, files):
        src = PROJECT_DIR / name
        if src.is_symlink():  # bluegreen/components -> ../components
            dest = work / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.symlink_to(src.readlink())
        elif src.is_file():
            dest = work / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest)

    def listing(items: list[str]) -> str:  # setup.cfg lists are one item a line
        return "".join(f"\n    {item}" for item in items)

    copied = [c for c in COPIED if c.rstrip("/") != target.source_dir]
    for name in target.files:
        _fence(work / name, set(target.skip))
    patterns = [] if all_lines else [TEXT_ONLY_LINE]
    (work / "setup.cfg").write_text(
        "[mutmut]\n"
        f"source_paths={target.source_dir}\n"
        f"only_mutate={listing(list(target.files))}\n"
        # Pulumi's mocks and the policy server use gRPC, which is not fork-safe after import.
        "process_isolation=forkserver\nforkserver_warmup=collect\n"
        f"also_copy={listing(copied)}\n"
        f"do_not_mutate_patterns={listing(patterns)}\n"
        f"pytest_add_cli_args_test_selection={listing(list(target.tests))}\n"
    )
    return work


def _code_only(lines: list[str]) -> list[str]:
    """The tokens of `lines` with the text of every phrase (a string with white space) blanked.

    Single-word strings stay: they are keys, names and values. An f-string's expressions stay too.
    """
    out: list[str] = []
    try:
        for token in tokenize.generate_tokens(io.StringIO("\n".join(lines) + "\n").readline):
            if token.type == tokenize.STRING and not re.search(r"\s", token.string):
                out.append(token.string)  # one word: a key, a name or a value, which is behaviour
            elif token.type == tokenize.STRING:
                prefix = re.match(r"[A-Za-z]*", token.string)
                is_f = prefix is not None and "f" in prefix.group().lower()
                out.append("STR" + ("".join(re.findall(r"\{[^{}]*\}", token.string)) if is_f else ""))
            elif token.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT):
                out.append(token.string)
    except (tokenize.TokenError, IndentationError):
        return [repr(lines)]
    return out


def text_only(diff: str) -> bool:
    """Whether a mutant changes nothing but the wording of string literals (see the module docstring)."""
    old = [line[1:] for line in diff.splitlines() if line.startswith("-") and not line.startswith("---")]
    new = [line[1:] for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++")]
    return bool(old or new) and _code_only([line.strip() for line in old]) == _code_only([line.strip() for line in new])


def _results(work: Path) -> dict[str, int | None]:
    codes: dict[str, int | None] = {}
    for meta in (work / "mutants").rglob("*.meta"):
        codes.update(json.loads(meta.read_text())["exit_code_by_key"])
    return codes


def run(
    target: Target, root: Path, show_survivors: bool, all_lines: bool, *, sample: int = 0, seed: int = 0
) -> tuple[int, int, int]:
    mutmut = shutil.which("mutmut", path=str(Path(sys.executable).parent))
    if mutmut is None:
        sys.exit("mutmut is not installed: venv/bin/pip install -r benchmarks/requirements-mutation.txt")
    work = _scratch(target, root, all_lines)
    chosen: list[str] = []
    if sample:
        # mutmut generates every mutant before it filters by name; a name that matches none stops it there.
        subprocess.run([mutmut, "run", "__list_only__"], cwd=work, capture_output=True, text=True, check=False)
        listed = subprocess.run(
            [mutmut, "results", "--all", "true"], cwd=work, capture_output=True, text=True, check=False
        ).stdout
        names = sorted(line.split(":")[0].strip() for line in listed.splitlines() if ":" in line)
        if not names:
            sys.exit(f"mutmut generated no mutants for {target.name} in {work}:\n{listed[-2000:]}")
        chosen = sorted(random.Random(seed).sample(names, min(sample, len(names))))
    done = subprocess.run([mutmut, "run", *chosen], cwd=work, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"mutmut failed for {target.name} in {work}:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    codes = _results(work)
    if chosen:
        codes = {name: codes.get(name) for name in chosen}
    killed = sorted(k for k, c in codes.items() if c in KILLED)
    survived = []
    wording = 0
    for key in sorted(k for k, c in codes.items() if c not in KILLED):
        diff = subprocess.run([mutmut, "show", key], cwd=work, capture_output=True, text=True, check=False).stdout
        if text_only(diff):
            wording += 1
            continue
        survived.append(key)
        if show_survivors:
            print(f"--- survivor {key} (exit code {codes[key]})\n{diff}")
    return len(killed), len(survived), wording


def _row(name: str, killed: int, survived: int, wording: int) -> str:
    ratio = killed / (killed + survived) if killed + survived else 0.0
    return f"{name:<20}{killed + survived + wording:>8}{killed:>8}{survived:>10}{wording:>9}{ratio:>11.1%}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("targets", nargs="*", metavar="target", help=", ".join(t.name for t in TARGETS))
    parser.add_argument("--survivors", action="store_true", help="print the diff of every surviving mutant")
    parser.add_argument("--keep", type=Path, help="keep the scratch copies in this directory")
    parser.add_argument("--all-lines", action="store_true", help="also mutate lines that hold only text")
    parser.add_argument(
        "--sample",
        type=int,
        default=0,
        metavar="N",
        help="run a uniform random sample of N mutants per target (the tool's targets take an hour each in full)",
    )
    parser.add_argument("--seed", type=int, default=1, help="the sample's random seed (default 1)")
    args = parser.parse_args()
    unknown = set(args.targets) - {t.name for t in TARGETS}
    if unknown:
        parser.error(
            f"unknown target(s) {', '.join(sorted(unknown))}; choose from {', '.join(t.name for t in TARGETS)}"
        )
    chosen = [t for t in TARGETS if not args.targets or t.name in args.targets]
    root = args.keep or Path(tempfile.mkdtemp(prefix="bluegreen-mutation-"))
    totals = [0, 0, 0]
    print(f"{'target':<20}{'mutants':>8}{'killed':>8}{'survived':>10}{'wording':>9}{'kill ratio':>12}")
    for target in chosen:
        counts = run(target, root, args.survivors, args.all_lines, sample=args.sample, seed=args.seed)
        totals = [t + c for t, c in zip(totals, counts, strict=True)]
        print(_row(target.name, *counts), flush=True)
    print(_row("all", *totals))
    print(
        "wording: survivors that change only a phrase's text (not counted); kill ratio = killed / (killed + survived)"
    )
    if args.keep is None:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
