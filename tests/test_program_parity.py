"""Both colours come from one definition: their inputs are equal except names and release fields."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.harness import Registered, run_program

RELEASE_TAGS = {"bluegreen:release", "bluegreen:imageId", "bluegreen:schemaVersions"}


def normalise(value: Any, color: str) -> Any:
    """Blank out what may legitimately differ: the colour word, release tags, image and user data."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            # Release fields, and the preview rules' priorities (two rules cannot share one).
            if key in RELEASE_TAGS or key in ("imageId", "userData", "priority"):
                continue
            out[key] = normalise(item, color)
        return out
    if isinstance(value, list):
        items = [normalise(v, color) for v in value]
        if all(isinstance(i, dict) and "key" in i for i in items):  # ASG tag list
            items = [i for i in items if i["key"] not in RELEASE_TAGS]
        return items
    if isinstance(value, str):
        return value if value == "bluegreen" else re.sub(rf"(^|[-/: ]){color}($|[-/: ])", r"\1COLOR\2", value)
    return value


def twins(rec) -> list[tuple[Registered, Registered]]:
    blue = {r.name: r for r in rec.resources if re.search(r"(^|-)blue(-|$)", r.name)}
    pairs = []
    for name, resource in blue.items():
        pairs.append((resource, rec.by_name(re.sub(r"(^|-)blue(-|$)", r"\1green\2", name))))
    return pairs


@pytest.fixture(scope="module")
def different_releases():
    return run_program(
        {
            "blueRelease": "v1",
            "greenRelease": "v2",
            "blueImageId": "ami-0aaaaaaaaaaaaaaaa",
            "databaseSchemaVersion": 1,
            "blueSchemaVersions": [1],
            "greenSchemaVersions": [1, 2],
        }
    )


def test_every_blue_resource_has_a_green_twin_and_vice_versa(different_releases):
    rec = different_releases
    blue = {re.sub(r"-blue(-|$)", r"-COLOR\1", r.name) for r in rec.resources if re.search(r"-blue(-|$)", r.name)}
    green = {re.sub(r"-green(-|$)", r"-COLOR\1", r.name) for r in rec.resources if re.search(r"-green(-|$)", r.name)}
    assert blue == green
    assert blue == {
        "bluegreen-COLOR",
        "bluegreen-COLOR-tg",
        "bluegreen-COLOR-lt",
        "bluegreen-COLOR-asg",
        "bluegreen-COLOR-alarms",
        "bluegreen-COLOR-alarms-5xx-rate",
        "bluegreen-COLOR-alarms-p99-latency",
        "bluegreen-COLOR-alarms-healthy-hosts",
        "bluegreen-COLOR-alarms-release-health",
        "bluegreen-COLOR-warmup",
        "bluegreen-router-preview-COLOR",
    }


def test_twins_are_equal_except_names_and_release_fields(different_releases):
    pairs = twins(different_releases)
    for blue, green in pairs:
        assert blue.type == green.type
        a = normalise(blue.inputs, "blue")
        b = normalise(green.inputs, "green")
        # ARNs of the other colour's resources are fake ids that differ by name only.
        assert _strip_ids(a) == _strip_ids(b), f"{blue.name} and {green.name} differ"


def _strip_ids(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_ids(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_strip_ids(v) for v in value]
    if isinstance(value, str):
        return re.sub(r"[0-9a-f]{17}", "ID", value)
    return value


def test_release_fields_do_differ_where_config_says_so(different_releases):
    blue_lt = different_releases.by_name("bluegreen-blue-lt").inputs
    green_lt = different_releases.by_name("bluegreen-green-lt").inputs
    assert blue_lt["imageId"] == "ami-0aaaaaaaaaaaaaaaa" != green_lt["imageId"]
    assert blue_lt["userData"] != green_lt["userData"]
    assert blue_lt["tags"]["bluegreen:release"] == "v1" and green_lt["tags"]["bluegreen:release"] == "v2"


def test_same_release_means_identical_user_data_on_both_colours():
    rec = run_program({"blueRelease": "v3", "greenRelease": "v3"})
    assert rec.by_name("bluegreen-blue-lt").inputs["userData"] == rec.by_name("bluegreen-green-lt").inputs["userData"]


def test_components_use_stable_type_tokens_and_children_are_parented_and_prefixed():
    rec = run_program()
    by_urn = {r.urn: r for r in rec.resources}
    for resource in rec.resources:
        if not resource.custom:
            assert resource.type.startswith("bluegreen:aws:"), resource.type
        if resource.name == "bluegreen":
            continue
        parent = by_urn.get(resource.parent or "")
        assert parent is not None, f"{resource.name} has no component parent"
        assert resource.name.startswith(f"{parent.name}-"), f"{resource.name} is not named after {parent.name}"


def test_tags_carry_colour_release_and_user_tags():
    rec = run_program({"greenRelease": "v9"})
    for role in ("tg", "lt"):
        tags = rec.by_name(f"bluegreen-green-{role}").inputs["tags"]
        assert tags["bluegreen:color"] == "green"
        assert tags["bluegreen:release"] == "v9"
    # User tags stay off the launch template: a tag edit there would preview as replacing both ASGs.
    assert rec.by_name("bluegreen-green-tg").inputs["tags"]["team"] == "platform"
    assert "team" not in rec.by_name("bluegreen-green-lt").inputs["tags"]
    asg_tags = {t["key"]: t["value"] for t in rec.by_name("bluegreen-green-asg").inputs["tags"]}
    assert asg_tags["bluegreen:color"] == "green" and asg_tags["bluegreen:release"] == "v9"
    specs = rec.by_name("bluegreen-green-lt").inputs["tagSpecifications"]
    assert {s["resourceType"] for s in specs} == {"instance", "volume"}
    assert all(s["tags"]["bluegreen:color"] == "green" for s in specs)


def test_user_data_hash_output_tracks_what_runs_on_each_colour():
    same = run_program({"blueRelease": "v3", "greenRelease": "v3"})
    assert same.outputs["blueUserDataHash"] == same.outputs["greenUserDataHash"]
    moved = run_program({"blueRelease": "v3", "greenRelease": "v3", "appPort": 9090})
    assert moved.outputs["greenUserDataHash"] != same.outputs["greenUserDataHash"]
