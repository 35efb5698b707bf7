"""A reviewer's summary of what a change does to traffic and to each colour's release.

`traffic_summary(config, outputs)` compares the *new* stack config (un-namespaced, wire form:
strings, arrays as JSON, as `bluegreen.stack_files.effective_config` returns it) with the outputs
of the last deployment (as `pulumi stack output --json` prints them; empty on a first deploy) and
returns short markdown: a one-line traffic headline, a per-colour table, and warning lines for the
updates the program's release guard refuses (see `bluegreen/release_guard.py`).

`drift_guard(base_config, config, outputs)` is the deploy workflow's guard: it refuses a deploy
when the live traffic differs from the config of the commit before the push (traffic was moved
outside git) unless the push records exactly the live traffic. `bake_summary(report)` renders the
`--json` document of `python -m bluegreen bake` (its decision record) for a job summary.

Standalone, without GitHub or the Pulumi CLI:

    python -m bluegreen.summary --stack dev [--outputs outputs.json] [--project-dir DIR]
                                [--base-project-dir DIR]
    python -m bluegreen.summary --stack dev --bake-report bake.json

prints the markdown; CI appends it to `$GITHUB_STEP_SUMMARY`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bluegreen.contract import COLORS, MAX_IDLE_TRAFFIC_PERCENT, Color, other, traffic_weights
from bluegreen.settings import ConfigError as SettingsConfigError
from bluegreen.settings import Settings, read_settings, to_config
from bluegreen.stack_files import PROJECT_DIR, effective_config, load_project

ARROW = "→"
LATEST_IMAGE = "latest AL2023"


class SummaryError(ValueError):
    """The config or the outputs file cannot be summarised; the message says why."""


def _color(value: Any, key: str) -> Color:
    if value == "blue":
        return "blue"
    if value == "green":
        return "green"
    raise SummaryError(f"{key} is {value!r}; allowed: blue or green")


def _int(value: Any, key: str) -> int:
    try:
        return int(str(value).strip())
    except ValueError:
        raise SummaryError(f"{key} is {value!r}; expected an integer") from None


def _bool(value: Any) -> bool:
    return str(value).strip().lower() == "true"


def weights(active_color: str, idle_percent: int) -> dict[Color, int]:
    """Listener weights per colour, from the program's one pure function (`traffic_weights`):
    the active colour gets 100 - idle, the idle colour gets idle."""
    if not 0 <= idle_percent <= MAX_IDLE_TRAFFIC_PERCENT:
        raise SummaryError(f"idleTrafficPercent is {idle_percent}; allowed: 0..{MAX_IDLE_TRAFFIC_PERCENT}")
    return traffic_weights(_color(active_color, "activeColor"), idle_percent)


@dataclass(frozen=True)
class Traffic:
    """Who gets production traffic: the active colour, both listener weights, idle scale-down."""

    active: Color
    weights: Mapping[Color, int]
    idle_scaled_down: bool = False

    def same_as(self, other: Traffic) -> bool:
        """Same active colour and same listener weights (idle scale-down is not traffic)."""
        return self.active == other.active and all(self.weights[c] == other.weights[c] for c in COLORS)

    def describe(self) -> str:
        """`blue 100%`, or `blue 90% / green 10%` (active colour first) while both get traffic."""
        idle = other(self.active)
        if self.weights[idle] == 0:
            return f"{self.active} {self.weights[self.active]}%"
        return f"{self.active} {self.weights[self.active]}% / {idle} {self.weights[idle]}%"

    def role(self, color: Color) -> str:
        """`live 100%`, `live 90%`, `idle 10%`, `idle 0%` or `idle 0% (scaled down)`."""
        if color == self.active:
            return f"live {self.weights[color]}%"
        return f"idle {self.weights[color]}%" + (" (scaled down)" if self.idle_scaled_down else "")


def read_config(config: Mapping[str, str]) -> Settings:
    """`config` read by the program's own reader (`bluegreen.settings.read_settings`), keys it
    leaves out at their defaults; a refusal is a SummaryError with the program's message. Boot
    script files are not read: the summary shows no boot script."""
    try:
        return read_settings({**to_config(Settings()), **config}, read_file=lambda _path: "")
    except SettingsConfigError as err:
        raise SummaryError(str(err)) from None


def traffic_from_config(config: Mapping[str, str]) -> Traffic:
    """The traffic the new config asks for."""
    return _traffic(read_config(config))


def _traffic(settings: Settings) -> Traffic:
    traffic = settings.traffic
    return Traffic(
        traffic.active_color,
        traffic_weights(traffic.active_color, traffic.idle_traffic_percent),
        settings.idle_scaled_down,
    )


def traffic_from_outputs(outputs: Mapping[str, Any]) -> Traffic | None:
    """The traffic the last deployment left live, or None when nothing is deployed yet."""
    if outputs.get("activeColor") is None:
        return None
    active = _color(outputs["activeColor"], "output activeColor")
    if outputs.get("blueWeight") is not None and outputs.get("greenWeight") is not None:
        live: dict[Color, int] = {c: _int(outputs[f"{c}Weight"], f"output {c}Weight") for c in COLORS}
    else:
        live = weights(active, 0)
    return Traffic(active, live, _bool(outputs.get("idleScaledDown", False)))


def headline(before: Traffic | None, after: Traffic) -> str:
    """One line: `traffic: blue 100% → green 100%`, `traffic: unchanged (blue 100%)`, ..."""
    if before is None:
        return f"traffic: first deploy {ARROW} {after.describe()}"
    if before.describe() == after.describe():
        return f"traffic: unchanged ({after.describe()})"
    return f"traffic: {before.describe()} {ARROW} {after.describe()}"


def _serves_traffic(color: Color, before: Traffic | None, after: Traffic) -> bool:
    """Whether a deployed colour has traffic before or after the change (as the release guard sees it)."""
    return before is not None and (before.weights[color] > 0 or after.weights[color] > 0)


def _previous(outputs: Mapping[str, Any], key: str) -> str | None:
    value = outputs.get(key)
    return None if value is None else str(value)


@dataclass(frozen=True)
class _Cell:
    text: str
    changed: bool


def _value_cell(before: str | None, after: str) -> _Cell:
    if before is None or before == after:
        return _Cell(f"`{after}`", False)
    return _Cell(f"`{before}` {ARROW} `{after}` (changed)", True)


def _image_cell(
    color: Color, config: Mapping[str, str], outputs: Mapping[str, Any], before: Traffic | None, after: Traffic
) -> _Cell:
    previous = _previous(outputs, f"{color}ImageId")
    wanted = config.get(f"{color}ImageId", "")
    if wanted:
        return _value_cell(previous, wanted)
    # "" is the latest Amazon Linux 2023 AMI: looked up at deploy, kept while the colour serves traffic.
    if previous is None:
        return _Cell(f"{LATEST_IMAGE} (looked up at deploy)", False)
    if _serves_traffic(color, before, after):
        return _Cell(f"`{previous}` (pinned while live)", False)
    return _Cell(f"`{previous}` {ARROW} {LATEST_IMAGE} (changed if newer)", False)


def _role_cell(color: Color, before: Traffic | None, after: Traffic) -> str:
    if before is None or before.role(color) == after.role(color):
        return after.role(color)
    return f"{before.role(color)} {ARROW} {after.role(color)}"


def traffic_summary(config: Mapping[str, str], outputs: Mapping[str, Any]) -> str:
    """Markdown for a reviewer: traffic headline, per-colour table, release-guard warnings."""
    settings = read_config(config)
    after = _traffic(settings)
    before = traffic_from_outputs(outputs)
    lines = [f"**{headline(before, after)}**", "", "| colour | role | release | image |", "|---|---|---|---|"]
    warnings: list[str] = []
    allow_live_release = settings.allow_live_release
    for color in COLORS:
        release = _value_cell(_previous(outputs, f"{color}Release"), config.get(f"{color}Release", ""))
        image = _image_cell(color, config, outputs, before, after)
        lines.append(f"| {color} | {_role_cell(color, before, after)} | {release.text} | {image.text} |")
        if (release.changed or image.changed) and _serves_traffic(color, before, after):
            warnings.append(_live_release_warning(color, allow_live_release))
    if before is not None and before.active != after.active and (before.idle_scaled_down or after.idle_scaled_down):
        warnings.append(
            f"> ⚠️ **the flip to {after.active} is refused**: the idle colour is (or was until this update) "
            "scaled down. Set `idleScaledDown: false`, deploy, then flip in a separate update."
        )
    if warnings:
        lines.append("")
        lines.extend(warnings)
    return "\n".join(lines) + "\n"


def _live_release_warning(color: Color, allowed: bool) -> str:
    text = f"> ⚠️ **{color} serves traffic and its release changes**: "
    if allowed:
        return text + "allowed only because `allowLiveRelease` is true; users get an untested build."
    return text + (
        "the program refuses this unless `allowLiveRelease` is true. "
        "Stage the release on the idle colour at 0% traffic, then flip in a separate update."
    )


@dataclass(frozen=True)
class GuardDecision:
    """The drift guard's verdict: `refuse` stops the deploy; `message` says why (or what it noticed)."""

    refuse: bool
    message: str | None = None


FORCE_HINT = "run the deploy workflow by hand with force: true to apply the config as it is"


def drift_guard(base_config: Mapping[str, str], config: Mapping[str, str], outputs: Mapping[str, Any]) -> GuardDecision:
    """Whether deploying `config` would silently move traffic that was moved outside git.

    `base_config` is the stack's config before this change (the commit before the push). The
    stack's live outputs (`activeColor`, `blueWeight`, `greenWeight`) should match it: main is
    meant to record where traffic is. When they differ, someone switched or rolled back with the
    release tool or the switch/rollback workflows and main does not record it yet. Deploying then
    is refused, whether or not this change touches traffic, unless this change asks for exactly
    the live traffic (it is the change that records it). Nothing deployed yet: nothing to guard.
    """
    live = traffic_from_outputs(outputs)
    if live is None:
        return GuardDecision(False)
    base = traffic_from_config(base_config)
    wanted = traffic_from_config(config)
    if live.same_as(base):
        return GuardDecision(False)  # main recorded the live traffic; a traffic change here is deliberate
    if live.same_as(wanted):
        return GuardDecision(
            False,
            f"live traffic ({live.describe()}) was moved outside git away from {base.describe()}; "
            "this change records it, so deploying leaves traffic where it is.",
        )
    asks = "leaves traffic alone" if base.same_as(wanted) else f"asks for {wanted.describe()}"
    return GuardDecision(
        True,
        f"live traffic is {live.describe()} but the config before this change says {base.describe()} "
        f"and this change {asks}: the stack was switched or rolled back outside git and main does not "
        "record it. Record the live traffic (activeColor, idleTrafficPercent, rollbackColor) in the stack "
        f"file first (a change that asks for exactly {live.describe()} passes), or {FORCE_HINT}.",
    )


def unrecorded_traffic_change(
    base_config: Mapping[str, str], config: Mapping[str, str], outputs: Mapping[str, Any]
) -> str | None:
    """Why `drift_guard` refuses to deploy `config`, or None when it lets it through."""
    decision = drift_guard(base_config, config, outputs)
    return decision.message if decision.refuse else None


def _cell(value: Any) -> str:
    """A value for a markdown table cell: one line, pipes escaped."""
    return " ".join(str(value).split()).replace("|", "\\|")


FIRED_COLUMNS = ("alarm", "state", "since", "metric", "threshold", "values", "reason")


def bake_summary(report: Mapping[str, Any], stack: str) -> str:
    """Markdown for the `--json` document of `python -m bluegreen bake`: the decision, what fired, steps.

    The document is `{"command", "ok", "exitCode", "steps", "result": {"decision": {...}}, "warnings",
    "error"}`; the decision record has `decision` (keep, rollback, rollback-advised, rollback-failed,
    rollback-interrupted), `color`,
    `release`, `rollbackTo`, `elapsedSeconds`, `polls`, `startedAt`, `decidedAt`, `fired`,
    `smokeFailures`.
    """
    code = report.get("exitCode")
    lines = [f"### bake `{stack}`", ""]
    result = report.get("result")
    record = result.get("decision") if isinstance(result, Mapping) else None
    if not isinstance(record, Mapping):
        lines.append(f"**bake did not decide** (exit {code}): {_cell(report.get('error') or 'see the job log')}")
        return "\n".join(lines) + "\n"
    color, release, decision = record.get("color"), record.get("release"), record.get("decision")
    if decision == "keep":
        lines.append(
            f"**KEEP {color}** (release `{release}`): no alarm in {float(record.get('elapsedSeconds') or 0):.0f}s "
            f"over {record.get('polls')} polls ({record.get('startedAt')} {ARROW} {record.get('decidedAt')})"
        )
    else:
        verdict = {
            "rollback": f"**ROLLED BACK {color} {ARROW} {record.get('rollbackTo')}** (release `{release}`)",
            "rollback-failed": f"**ROLLBACK FAILED {color} {ARROW} {record.get('rollbackTo')}** (release `{release}`)",
            "rollback-advised": f"**ROLLBACK ADVISED {color} {ARROW} {record.get('rollbackTo')}** (release "
            f"`{release}`; --no-rollback, traffic left on {color})",
            "rollback-interrupted": f"**ROLLBACK INTERRUPTED {color} {ARROW} {record.get('rollbackTo')}** "
            f"(release `{release}`)",
        }.get(str(decision), f"**{_cell(decision).upper()} {color}** (release `{release}`)")
        lines.append(
            f"{verdict}: tripped {float(record.get('elapsedSeconds') or 0):.0f}s into the bake, at "
            f"{record.get('decidedAt')} ({record.get('polls')} polls)"
        )
        fired = record.get("fired") or []
        if fired:
            lines += ["", "| " + " | ".join(FIRED_COLUMNS) + " |", "|---" * len(FIRED_COLUMNS) + "|"]
            for alarm in fired:
                lines.append("| " + " | ".join(_cell(alarm.get(k, "")) for k in FIRED_COLUMNS) + " |")
        for failure in record.get("smokeFailures") or []:
            lines.append(f"- smoke check `{_cell(failure.get('check'))}` failed: {_cell(failure.get('detail'))}")
    for warning in report.get("warnings") or []:
        lines.append(f"- ⚠️ {_cell(warning)}")
    if report.get("error"):
        lines += ["", f"**error** (exit {code}): {_cell(report['error'])}"]
    steps = report.get("steps") or []
    if steps:
        lines += ["", "| step | status | seconds | detail |", "|---|---|---|---|"]
        for step in steps:
            lines.append(
                f"| {_cell(step.get('name'))} | {_cell(step.get('status'))} | {step.get('seconds')} "
                f"| {_cell(step.get('detail') or '')} |"
            )
    return "\n".join(lines) + "\n"


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


def stack_summary(stack: str, outputs: Mapping[str, Any], project_dir: Path = PROJECT_DIR) -> str:
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
    return f"### {project} `{short}`\n\n" + traffic_summary(config, outputs)


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
        prog="python -m bluegreen.summary",
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
        "--bake-report",
        type=Path,
        help="instead of the traffic summary, render this `python -m bluegreen bake --json` report",
    )
    args = parser.parse_args(argv)
    if args.bake_report is not None:
        try:
            sys.stdout.write(bake_summary(load_report(args.bake_report), args.stack.rsplit("/", 1)[-1]))
        except (SummaryError, OSError) as err:
            print(f"bluegreen.summary: {err}", file=sys.stderr)
            return 2
        return 0
    guard: GuardDecision | None = None
    try:
        outputs = load_outputs(args.outputs)
        text = stack_summary(args.stack, outputs, args.project_dir)
        if args.base_project_dir is not None:
            short = args.stack.rsplit("/", 1)[-1]
            guard = drift_guard(
                effective_config(short, project_dir=args.base_project_dir),
                effective_config(short, project_dir=args.project_dir),
                outputs,
            )
    except (SummaryError, OSError, yaml.YAMLError) as err:
        print(f"bluegreen.summary: {err}", file=sys.stderr)
        return 2
    if guard is not None and guard.message is not None:
        mark = "⛔ **not deploying**" if guard.refuse else "ℹ️ **drift recorded**"
        text += f"\n> {mark}: {guard.message}\n"
    sys.stdout.write(text)
    if guard is not None and guard.refuse:
        print(f"bluegreen.summary: {guard.message}", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
