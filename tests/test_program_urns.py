"""Deployed stacks keep every URN: a refactor that renames a type token, a resource or a parent
would make `pulumi up` delete and recreate it (a new ALB, new fleets, a new listener).

`tests/data/urns.json` holds the URNs the program registered for each config before the package
was restructured. When a URN changes on purpose, the change needs a `pulumi.Alias` from the old
URN, and only then a new line in that file.
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

    registered = sorted(r.urn for r in run_program(expected["config"]).resources)

    assert registered == expected["urns"]
