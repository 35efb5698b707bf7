"""Previews: values that are not known yet never produce violations, only an advisory deferral.

The engine sends an unknown value as a sentinel string; pulumi-policy wraps the properties in a
proxy that raises `UnknownValueError` when such a value is read, and reports an uncaught one as an
advisory "can't run policy ... during preview" diagnostic. The policies read every value through
`values.plain`, decide what they can, and end with one such advisory listing what they deferred.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pulumi_policy.proxy import UNKNOWN_NUMBER_VALUE, unknown_checking_proxy

from policies.bluegreen_policies.parity import FIX
from policies.bluegreen_policies.values import UNKNOWN, ChecksDeferredError, plain
from tests.harness import Recording, run_program
from tests.policy_server import UNKNOWN as SENTINEL
from tests.policy_server import ServedPack, StackResource, fresh_preview, from_recording, serve_pack
from tests.test_policy_baseline import DevStackPack

PREFIX = "can't run policy '{}' from policy pack 'bluegreen@v0.0.1' during preview: "


@pytest.fixture(scope="module")
def pack() -> Iterator[ServedPack]:
    with serve_pack() as served:
        yield DevStackPack(served)


@pytest.fixture(scope="module")
def dev() -> Recording:
    return run_program()


def by_name(resources: list[StackResource], name: str) -> StackResource:
    return next(r for r in resources if r.name == name)


def test_plain_reads_proxied_and_raw_unknowns_alike():
    raw = {"a": SENTINEL, "b": [1, UNKNOWN_NUMBER_VALUE, {"c": SENTINEL}], "d": {"e": "x"}}
    expected = {"a": UNKNOWN, "b": [1, UNKNOWN, {"c": UNKNOWN}], "d": {"e": "x"}}
    assert plain(raw) == expected
    assert plain(unknown_checking_proxy(raw)) == expected


def test_deferred_checks_are_an_unknown_value_error_with_a_sentence():
    error = ChecksDeferredError(["a", "b"])
    assert error.message == (
        "2 checks are deferred to `pulumi up` because the values they need are not known yet: a; b."
    )


def test_a_first_preview_reports_no_violation(pack: ServedPack, dev: Recording):
    resources = fresh_preview(from_recording(dev))
    assert by_name(resources, "bluegreen-green-asg").inputs["targetGroupArns"] == [SENTINEL]
    diagnostics = pack.run(resources)
    assert [d for d in diagnostics if d.mandatory] == []
    deferred = {d.policy: d.message for d in diagnostics}
    assert set(deferred) == {
        "blue-green-parity",
        "production-traffic-split",
        "production-traffic-targets",
        "preview-rules-isolated",
        "rollback-readiness",
        "instance-ingress-from-alb-only",
    }
    for policy, message in deferred.items():
        assert message.startswith(PREFIX.format(policy) + "")
        assert "deferred to `pulumi up` because the values they need are not known yet: " in message
    assert deferred["rollback-readiness"] == PREFIX.format("rollback-readiness") + (
        "1 check is deferred to `pulumi up` because the values they need are not known yet: which colour is live."
    )
    assert "parity of green Auto Scaling group (targetGroupArns[0], " in deferred["blue-green-parity"]


def test_a_known_drift_is_still_reported_in_a_first_preview(pack: ServedPack, dev: Recording):
    resources = fresh_preview(from_recording(dev))
    lt = by_name(resources, "bluegreen-green-lt")
    for props in (lt.inputs, lt.outputs):
        props["instanceType"] = "t3.large"
        props["metadataOptions"] = dict(props["metadataOptions"], httpTokens="optional")
    mandatory = sorted((d.policy, d.message) for d in pack.run(resources) if d.mandatory)
    assert mandatory == [
        (
            "blue-green-parity",
            f"green launch template differs from blue: instanceType is 't3.large' on green and "
            f"'t3.micro' on blue. {FIX}",
        ),
        (
            "blue-green-parity",
            f"green launch template differs from blue: metadataOptions.httpTokens is 'optional' on "
            f"green and 'required' on blue. {FIX}",
        ),
        (
            "launch-template-imdsv2",
            "Launch template bluegreen-green-lt has metadataOptions.httpTokens 'optional', so "
            "instances also answer IMDSv1 requests. Set metadataOptions.httpTokens to 'required'.",
        ),
    ]


def test_a_release_preview_on_a_deployed_stack_is_silent(pack: ServedPack):
    """A new green release: its template gets a new version and its group is replaced."""
    resources = from_recording(run_program({"greenRelease": "v2.0.0", "greenImageId": "ami-0bbbbbbbbbbbbbbbb"}))
    lt = by_name(resources, "bluegreen-green-lt")
    lt.outputs["latestVersion"] = SENTINEL
    asg = by_name(resources, "bluegreen-green-asg")
    for props in (asg.inputs, asg.outputs):
        props["launchTemplate"]["version"] = SENTINEL
    asg.outputs.update(arn=SENTINEL, name=SENTINEL)
    assert pack.run(resources) == []


def test_an_unknown_listener_tag_defers_the_schema_check(pack: ServedPack, dev: Recording):
    resources = from_recording(
        run_program({"databaseSchemaVersion": 2, "blueSchemaVersions": [2], "greenSchemaVersions": [2]})
    )
    listener = by_name(resources, "bluegreen-router-http")
    listener.outputs["tags"]["bluegreen:databaseSchemaVersion"] = SENTINEL
    assert [(d.policy, d.mandatory, d.message) for d in pack.run(resources)] == [
        (
            "database-schema-compatibility",
            False,
            PREFIX.format("database-schema-compatibility")
            + (
                "1 check is deferred to `pulumi up` because the values they need are not known yet: the "
                "bluegreen:databaseSchemaVersion tag of the production listener."
            ),
        )
    ]
