"""The bake decision for a job summary: `bake_summary(report)` renders `bluegreen bake --json`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bluegreen.ci.summary import ARROW


def _cell(value: Any) -> str:
    """A value for a markdown table cell: one line, pipes escaped."""
    return " ".join(str(value).split()).replace("|", "\\|")


FIRED_COLUMNS = ("alarm", "state", "since", "metric", "threshold", "values", "reason")


def bake_summary(report: Mapping[str, Any], stack: str) -> str:
    """Markdown for the `--json` document of `python -m bluegreen bake`: the decision, what fired, steps.

    The document is `{"command", "ok", "exitCode", "steps", "result": {"decision": {...}}, "warnings",
    "error"}`; the decision record has `decision` (keep, no-keep, rollback, rollback-advised, rollback-failed,
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
    if decision == "no-keep":
        lines.append(
            f"**NO KEEP {color}** (release `{release}`): no alarm in {float(record.get('elapsedSeconds') or 0):.0f}s, "
            f"but {record.get('minutes')} min is shorter than bakeMinutes ({record.get('bakeMinutes')}): the rollback "
            "target stays held"
        )
    elif decision == "keep":
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
