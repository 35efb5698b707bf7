"""The shared names and limits: one definition, matching what Pulumi.yaml declares."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from bluegreen.contract import COLORS, MAX_IDLE_TRAFFIC_PERCENT, Keys, Outputs, other, traffic_weights

REPO = Path(__file__).resolve().parent.parent


def test_the_active_colour_gets_the_rest_and_the_idle_colour_its_share():
    assert traffic_weights("blue", 0) == {"blue": 100, "green": 0}
    assert traffic_weights("green", 10) == {"green": 90, "blue": 10}
    assert traffic_weights("blue", MAX_IDLE_TRAFFIC_PERCENT) == {"blue": 50, "green": 50}


def test_other_colour():
    assert [other(c) for c in COLORS] == ["green", "blue"]


def test_config_keys_are_the_ones_pulumi_yaml_declares_in_its_order():
    declared = list(yaml.safe_load((REPO / "Pulumi.yaml").read_text())["config"])
    contract = [name for key in Keys.all() for name in key.names()]
    assert contract == declared


def test_per_colour_names_need_a_colour():
    assert Keys.RELEASE.name("green") == "greenRelease"
    assert Outputs.WEIGHT.name("blue") == "blueWeight"
    with pytest.raises(ValueError, match="per colour"):
        Keys.RELEASE.name()
    with pytest.raises(ValueError, match="per colour"):
        Outputs.WEIGHT.name()


def test_tool_keys_are_not_program_keys():
    assert Keys.tool_names() == ["blueVerified", "greenVerified", "rollbackColor"]
    assert not set(Keys.tool_names()) & set(Keys.program_names())


def test_every_config_set_the_package_advises_names_the_bluegreen_namespace() -> None:
    # The program and the tool read `bluegreen:` in any project; `pulumi config set activeColor x` in a project
    # of your own (examples/own-app is `bluegreen-own-app`) sets `bluegreen-own-app:activeColor`, which nothing
    # reads, so a refusal's advice followed to the letter would change nothing.
    package = Path(__file__).resolve().parent.parent / "bluegreen"
    advice = re.compile(r"pulumi config set (?!-all\b)(?:--\S+ )*'?([^\s'`]+)")
    wrong = [
        f"{path.relative_to(package.parent)}:{number}: {match.group(0)}"
        for path in sorted(package.rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        for match in advice.finditer(line)
        if not match.group(1).startswith(("bluegreen:", "aws:", '"'))
    ]
    assert wrong == []
