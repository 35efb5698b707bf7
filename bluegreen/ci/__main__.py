"""`python -m bluegreen.ci`: the markdown the CI workflows append to `$GITHUB_STEP_SUMMARY`.

Standalone, without GitHub or the Pulumi CLI:

    python -m bluegreen.ci --stack dev [--outputs outputs.json] [--project-dir DIR] [--guardian-record record.json]
                           [--base-project-dir DIR [--listener listener.json]]
    python -m bluegreen.ci --stack dev --bake-report bake.json

Exit codes: 0 printed; 2 the config, the outputs or the report cannot be read, or the stack's policy file
(`policies/stacks/<stack>.json`) lowers a policy it may not; 3 the drift guard refuses the deploy.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bluegreen.ci.bake_report import bake_summary
from bluegreen.ci.drift import GuardDecision, drift_guard, listener_drift
from bluegreen.ci.summary import SummaryError, traffic_summary
from bluegreen.engine import find_policy_pack
from bluegreen.guardian_record import parse_record
from bluegreen.safety import PolicyConfigError, read_stack_policy_config
from bluegreen.stack_files import PROJECT_DIR, StackFileError, effective_config, load_project


def load_outputs(path: Path | None) -> dict[str, Any]:
    """Stack outputs as `pulumi stack output --json` prints them; {} without --outputs, or when empty.

    A path that does not exist is an error, not a first deploy: a typo must not hide live traffic.
    """
    if path is None:
        return {}
    if not path.is_file():
        raise SummaryError(
            f"--outputs {path} does not exist: write it with `pulumi stack output --json > "
            f"{path}` (an empty file or {{}} for a first deploy, as the workflows do)"
        )
    text = path.read_text(encoding="utf-8").strip()
    if not text:
        return {}
    return _json_object(path, text, "an object of stack outputs")


def load_guardian_record(path: Path | None) -> dict[str, Any] | None:
    """The guardian's record parameter's value (`aws ssm get-parameter … --query Parameter.Value`); None
    without --guardian-record or when the guardian has not written one ({} or empty)."""
    if path is None:
        return None
    if not path.is_file():
        raise SummaryError(f"--guardian-record {path} does not exist")
    return parse_record(path.read_text(encoding="utf-8").strip())


def stack_summary(
    stack: str,
    outputs: Mapping[str, Any],
    project_dir: Path = PROJECT_DIR,
    guardian_record: Mapping[str, Any] | None = None,
) -> str:
    """The summary for one stack's committed config, under a heading naming the stack.

    `stack` may be fully qualified (`org/dev`, `org/project/dev`); the stack file is named after
    the last part, as the Pulumi CLI does.
    """
    short = stack.rsplit("/", 1)[-1]
    if not short or short in {".", ".."}:
        raise SummaryError(f"{stack!r} is not a stack name")
    project = load_project(project_dir).get("name")
    if not project:
        raise SummaryError(f"{project_dir / 'Pulumi.yaml'} has no project name")
    if not (project_dir / f"Pulumi.{short}.yaml").exists():
        raise SummaryError(f"no stack file Pulumi.{short}.yaml in {project_dir}")
    config = effective_config(short, project_dir=project_dir)
    # The stack's policy file, as the workflows pass it to pulumi: refused when it lowers more than the baseline.
    _, policy_config = read_stack_policy_config(find_policy_pack(project_dir), short)
    return f"### {project} `{short}`\n\n" + traffic_summary(config, outputs, guardian_record, policy_config)


def load_report(path: Path) -> dict[str, Any]:
    """The one JSON document `python -m bluegreen <command> --json` prints on stdout."""
    if not path.is_file():
        raise SummaryError(
            f"--bake-report {path} does not exist: it is the stdout of `python -m bluegreen bake --json`"
        )
    text = path.read_text(encoding="utf-8").strip()
    if not text:
        raise SummaryError(f"{path} is empty: the command printed no JSON report (see its log)")
    return _json_object(path, text, "the tool's --json report")


def _json_object(path: Path, text: str, expected: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise SummaryError(f"{path} is not JSON ({err.msg} at line {err.lineno})") from None
    if not isinstance(data, dict):
        raise SummaryError(f"{path} holds a JSON {type(data).__name__}; expected {expected}")
    return data


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bluegreen.ci",
        description="Print a markdown summary of the traffic and release change for a stack.",
    )
    parser.add_argument("--stack", required=True, help="stack name; reads Pulumi.<stack>.yaml")
    parser.add_argument(
        "--outputs", type=Path, help="JSON from `pulumi stack output --json`; an empty file or {} means first deploy"
    )
    parser.add_argument("--project-dir", type=Path, default=PROJECT_DIR, help="directory holding Pulumi.yaml")
    parser.add_argument(
        "--base-project-dir",
        type=Path,
        help="Pulumi.yaml and the stack file before this change: turns on the drift guard, exit 3 when live "
        "traffic differs from them and this change does not record it",
    )
    parser.add_argument(
        "--listener",
        type=Path,
        help="with --base-project-dir: `aws elbv2 describe-listeners` of the production listener, as JSON; exit 3 "
        "when it contradicts the outputs' weights (an interrupted flip)",
    )
    parser.add_argument(
        "--guardian-record",
        type=Path,
        help="the value of the stack's guardianRecordParameter (JSON): the summary shows a rollback the guardian "
        "made after the last update, and whether this change accepts it",
    )
    parser.add_argument(
        "--bake-report",
        type=Path,
        help="instead of the traffic summary, render this `python -m bluegreen bake --json` report",
    )
    args = parser.parse_args(argv)
    if args.bake_report is not None:
        try:
            sys.stdout.write(bake_summary(load_report(args.bake_report), args.stack.rsplit("/", 1)[-1]))
        except (SummaryError, OSError) as err:
            print(f"bluegreen.ci: {err}", file=sys.stderr)
            return 2
        return 0
    guard: GuardDecision | None = None
    try:
        outputs = load_outputs(args.outputs)
        text = stack_summary(args.stack, outputs, args.project_dir, load_guardian_record(args.guardian_record))
        if args.base_project_dir is not None:
            short = args.stack.rsplit("/", 1)[-1]
            guard = drift_guard(
                effective_config(short, project_dir=args.base_project_dir),
                effective_config(short, project_dir=args.project_dir),
                outputs,
            )
            if args.listener is not None and outputs:
                drift = listener_drift(outputs, _json_object(args.listener, args.listener.read_text(), "a listener"))
                if drift is not None:
                    guard = GuardDecision(True, drift)
    except PolicyConfigError as err:
        # Also in the markdown, so the job summary says why the preview or deploy stops here.
        sys.stdout.write(f"### `{args.stack.rsplit('/', 1)[-1]}`\n\n> ⛔ **refused**: {err}.\n")
        print(f"bluegreen.ci: {err}", file=sys.stderr)
        return 2
    except (SummaryError, StackFileError, OSError) as err:
        print(f"bluegreen.ci: {err}", file=sys.stderr)
        return 2
    if guard is not None and guard.message is not None:
        mark = "⛔ **not deploying**" if guard.refuse else "ℹ️ **drift recorded**"
        text += f"\n> {mark}: {guard.message}\n"
    sys.stdout.write(text)
    if guard is not None and guard.refuse:
        print(f"bluegreen.ci: {guard.message}", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
