"""Claims in the docs that drift when the program changes, held to what the program registers under the mocks.

- Alarm names: every name in the docs that ends in an alarm's role (`-5xx-rate`, `-p99-latency`,
  `-healthy-hosts`, `-release-health`) is an alarm name the program gives the dev stack, the same
  name with placeholders (`<project>-<stack>-<colour>-5xx-rate`), or, on the pages that speak of
  logical names (the design's table, the policy pack's messages), a logical name or child suffix
  the program registers.
- docs/testing.md's figures: the resource count of a default run and what a flip changes.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest

from tests.harness import PROJECT_DIR, Recording, deployed, diff, run_program
from tests.policy_server import from_recording

ALARM_TYPES = ("aws:cloudwatch/metricAlarm:MetricAlarm", "aws:cloudwatch/compositeAlarm:CompositeAlarm")
ROLES = ("5xx-rate", "p99-latency", "healthy-hosts", "release-health")
# A name ending in a role: letters, digits, dashes and <placeholders>, with at least one dash before the role.
MENTION = re.compile(r"[A-Za-z0-9<>_-]*-(?:" + "|".join(map(re.escape, ROLES)) + r")(?![A-Za-z0-9-])")
# Pages about resources by their logical names: the design's logical-name table, the policy pack's messages.
LOGICAL_NAME_PAGES = {"docs/design.md", "docs/policies.md"}
PAGES = sorted({PROJECT_DIR / "README.md", *(PROJECT_DIR / "docs").rglob("*.md")})


@cache
def default_run() -> Recording:
    return run_program()


def alarms(recording: Recording) -> dict[str, str]:
    """Logical name -> the alarm name the program gives it."""
    return {
        r.name: str(r.inputs.get("name") or r.inputs.get("alarmName"))
        for r in recording.resources
        if r.type in ALARM_TYPES
    }


def placeholders(name: str) -> str:
    """`bluegreen-dev-green-5xx-rate` -> `<project>-<stack>-<colour>-5xx-rate`."""
    found = re.fullmatch(r"bluegreen-dev-(?:blue|green)-(.+)", name)
    assert found is not None, name
    return f"<project>-<stack>-<colour>-{found.group(1)}"


def mentions(page: Path) -> list[str]:
    return MENTION.findall(page.read_text(encoding="utf-8"))


def test_the_program_names_its_alarms_project_stack_colour_role() -> None:
    names = alarms(default_run())

    assert sorted(names.values()) == sorted(f"bluegreen-dev-{c}-{role}" for c in ("blue", "green") for role in ROLES)
    assert all(
        names[f"bluegreen-{c}-alarms-{role}"] == f"bluegreen-dev-{c}-{role}"
        for c in ("blue", "green")
        for role in ROLES
    )


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(PROJECT_DIR)) for p in PAGES])
def test_every_alarm_name_in_the_docs_is_one_the_program_registers(page: Path) -> None:
    names = alarms(default_run())
    allowed = set(names.values()) | {placeholders(name) for name in names.values()}
    if str(page.relative_to(PROJECT_DIR)) in LOGICAL_NAME_PAGES:
        allowed |= set(names) | {f"-{role}" for role in ROLES}

    wrong = sorted({name for name in mentions(page) if name not in allowed})

    assert wrong == [], (
        f"{page.name} names alarms the program does not register: {wrong}; the alarm names are "
        f"{sorted(names.values())} (`<project>-<stack>-<colour>-<role>`)"
    )


def test_the_check_finds_the_forms_the_docs_used_to_have(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "bluegreen-green-5xx-rate=OK, fired: bluegreen-green-alarms-5xx-rate ALARM, `<stack>-<colour>-p99-latency`, "
        "the composite release-health alarm, bluegreen-dev-blue-release-health"
    )
    assert mentions(page) == [
        "bluegreen-green-5xx-rate",
        "bluegreen-green-alarms-5xx-rate",
        "<stack>-<colour>-p99-latency",
        "bluegreen-dev-blue-release-health",
    ]


def test_the_design_lists_every_child_of_a_colours_alarms() -> None:
    text = (PROJECT_DIR / "docs/design.md").read_text(encoding="utf-8")
    row = next(line for line in text.splitlines() if line.startswith("| ColorAlarms |"))
    children = {name.removeprefix("bluegreen-blue-alarms") for name in alarms(default_run()) if "-blue-" in name}

    assert set(re.findall(r"`(-[a-z0-9-]+)`", row)) == children


# ---- docs/testing.md: the resource count and the flip -------------------------------------------------------
TESTING = PROJECT_DIR / "docs/testing.md"
FLIP_CLAIM = re.compile(
    r"The dev stack registers (\d+) resources; a flip \(`activeColor:\s+green`\) changes (\d+) of them,"
    r"(?P<changed>.*?), and adds (\d+) and removes (\d+)\.",
    re.DOTALL,
)
ANALYSIS_CLAIM = re.compile(r"for its (\d+) resources \(the (\d+) and the\s+stack itself\)")


def test_testing_md_states_the_resource_count_and_what_a_flip_changes() -> None:
    text = TESTING.read_text(encoding="utf-8")
    claim = FLIP_CLAIM.search(text)
    assert claim is not None, "docs/testing.md no longer states the resource count and the flip in the tested form"
    count, changed_count, _, added, removed = claim.groups()
    blue = default_run()
    flip = diff(blue, run_program({"activeColor": "green"}, deployed(blue)))

    assert int(count) == len(blue.resources)
    assert (int(changed_count), int(added), int(removed)) == (len(flip.changed), len(flip.added), len(flip.removed))
    assert set(re.findall(r"`([a-z0-9-]+)`", claim.group("changed"))) == set(flip.changed)


def test_testing_md_states_how_many_resources_the_pack_analyses() -> None:
    claim = ANALYSIS_CLAIM.search(TESTING.read_text(encoding="utf-8"))
    assert claim is not None
    analysed, registered = map(int, claim.groups())

    assert (analysed, registered) == (len(from_recording(default_run())), len(default_run().resources))
