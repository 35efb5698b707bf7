"""The decision log's records: what `bluegreen history` can show, and that every record fits its parameter."""

from __future__ import annotations

import json

from bluegreen.decisions import MAX_VALUE_BYTES, Decision, fitted, from_guardian_record, from_tool_record, where_it_ran


def decision(why: str) -> Decision:
    return Decision(
        kind="bake",
        at="2026-12-06T10:00:00Z",
        what="roll back green → blue",
        why=why,
        who="arn:aws:sts::123456789012:assumed-role/deploy/gha",
        via="GitHub Actions",
        fingerprints={"blue": "a" * 64, "green": "b" * 64},
    )


def test_a_record_with_a_long_why_is_cut_to_a_standard_parameters_4_kb_and_still_reads_back() -> None:
    long_why = "alarm ALARM: " + "é" * 5000  # multi-byte: the limit is in bytes

    text = fitted(decision(long_why).to_record())

    assert len(text.encode()) <= MAX_VALUE_BYTES
    back = from_tool_record(json.loads(text), version=3)
    assert back is not None and back.why.endswith("…(cut)") and back.what == "roll back green → blue"
    assert back.fingerprints == {"blue": "a" * 64, "green": "b" * 64}


def test_a_short_record_is_written_as_it_is() -> None:
    record = decision("no alarm in 300s over 11 polls").to_record()
    assert json.loads(fitted(record)) == record


def test_in_github_actions_a_record_points_at_the_run_that_made_it() -> None:
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_REPOSITORY": "acme/shop",
        "GITHUB_RUN_ID": "42",
        "GITHUB_ACTOR": "octocat",
    }
    assert where_it_ran(env) == "GitHub Actions https://github.com/acme/shop/actions/runs/42 (actor octocat)"
    assert "@" in where_it_ran({})  # elsewhere: user@host


def test_the_initial_value_and_foreign_values_are_not_decisions() -> None:
    assert from_tool_record({}, version=1) is None
    assert from_tool_record({"kind": "deploy", "at": "2026-12-06T10:00:00Z"}, version=2) is None
    assert from_guardian_record({}, version=1) is None


def test_a_guardian_refusal_reads_as_no_action_with_its_reason() -> None:
    record = {
        "action": "none",
        "alarm": "bluegreen-dev-green-release-health",
        "at": "2026-12-06T10:00:00Z",
        "color": "green",
        "why": "blue has 1 healthy targets, fewer than its desired 2",
    }

    read = from_guardian_record(record, version=2)

    assert read is not None
    assert (read.kind, read.source, read.what) == ("guardian", "guardian", "no action on green")
    assert read.why == "bluegreen-dev-green-release-health: blue has 1 healthy targets, fewer than its desired 2"
