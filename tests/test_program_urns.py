"""Deployed stacks keep every URN: a refactor that renames a type token, a resource or a parent
would make `pulumi up` delete and recreate it (a new ALB, new fleets, a new listener).

`tests/data/urns.json` holds the URNs the program registered for each config before the package
was restructured. A URN that changes on purpose must carry a `pulumi.Alias` from the recorded one,
so the deployed resource is updated in place.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.harness import run_program

RECORDED = json.loads((Path(__file__).parent / "data" / "urns.json").read_text())


@pytest.mark.parametrize("stack", sorted(RECORDED))
def test_the_program_registers_exactly_the_recorded_urns(stack: str) -> None:
    expected = RECORDED[stack]

    resources = run_program(expected["config"]).resources

    answers_to = sorted(next((u for u in [r.urn, *r.alias_urns] if u in expected["urns"]), r.urn) for r in resources)
    assert answers_to == expected["urns"]


def test_the_port_rules_moved_to_per_port_names_with_an_alias_from_the_one_port_names() -> None:
    resources = {r.name: r for r in run_program().resources}
    ingress = resources["bluegreen-lb-instance-ingress-8080"]
    assert ingress.alias_urns == [
        ingress.urn.replace("bluegreen-lb-instance-ingress-8080", "bluegreen-lb-instance-ingress")
    ]
