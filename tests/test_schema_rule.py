"""Expand-and-contract: the table of states the program allows or refuses."""

from __future__ import annotations

import pytest

from bluegreen.schema_rule import schema_conflicts
from bluegreen.settings import ConfigError
from tests.harness import run_failing, run_program

# (database version, blue versions, green versions, active, idle scaled down) -> refused colours
STATES = [
    (0, [], [], "blue", False, []),  # feature off
    (1, [1], [1], "blue", False, []),
    (1, [1], [], "blue", False, ["green"]),  # idle declares nothing but is the rollback target
    (1, [1], [], "blue", True, []),  # idle scaled down: not a rollback target
    (2, [1, 2], [1], "blue", False, ["green"]),  # expand before the idle colour supports it
    (2, [1, 2], [1, 2], "blue", False, []),
    (2, [1], [1, 2], "green", False, ["blue"]),  # live green fine, rollback target blue is not
    (2, [1], [1, 2], "green", True, []),
    (2, [1], [1, 2], "blue", True, ["blue"]),  # the live colour itself is incompatible
    (3, [2, 3], [1, 2], "blue", False, ["green"]),  # contract while green still needs the old schema
    (3, [2, 3], [1, 2], "blue", True, []),
    (3, [1, 2], [1, 2], "green", False, ["green", "blue"]),
]


@pytest.mark.parametrize(("db", "blue", "green", "active", "scaled", "refused"), STATES)
def test_schema_rule_table(db, blue, green, active, scaled, refused):
    problems = schema_conflicts(db, {"blue": blue, "green": green}, active, scaled)
    assert [p.split(" is not supported by ")[1].split(" ")[0] for p in problems] == refused
    for problem in problems:
        assert f"databaseSchemaVersion {db}" in problem and "expand-and-contract" in problem


def test_checks_cannot_be_turned_off_while_releases_declare_schema_support():
    (problem,) = schema_conflicts(0, {"blue": [1], "green": [9]}, "green", False)
    assert problem.startswith(
        "databaseSchemaVersion 0 turns the schema checks off, but blueSchemaVersions=[1], greenSchemaVersions=[9] "
        "declare schema support"
    )
    error, registered = run_failing({"databaseSchemaVersion": 0, "blueSchemaVersions": [1], "greenSchemaVersions": [1]})
    assert isinstance(error, ConfigError) and registered == []


def test_refusal_names_the_role_of_the_conflicting_colour():
    (problem,) = schema_conflicts(2, {"blue": [1, 2], "green": [1]}, "blue", False)
    assert "green (the idle colour and rollback target), whose release supports [1]" in problem


def test_program_refuses_an_incompatible_schema_before_registering_anything():
    error, registered = run_failing(
        {"databaseSchemaVersion": 2, "blueSchemaVersions": [1, 2], "greenSchemaVersions": [1]}
    )
    assert isinstance(error, ConfigError)
    assert "green" in str(error) and registered == []


def test_schema_versions_travel_as_tags_for_the_policy_pack():
    rec = run_program({"databaseSchemaVersion": 2, "blueSchemaVersions": [1, 2], "greenSchemaVersions": [2, 3]})
    assert rec.by_name("bluegreen-router-http").inputs["tags"]["bluegreen:databaseSchemaVersion"] == "2"
    asg_tags = {t["key"]: t["value"] for t in rec.by_name("bluegreen-green-asg").inputs["tags"]}
    assert asg_tags["bluegreen:schemaVersions"] == "2 3"
    assert rec.outputs["greenSchemaVersions"] == [2, 3]
