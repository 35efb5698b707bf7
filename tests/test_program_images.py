"""The default image lookup and the dashboard's region come from the provider, not guesses."""

from __future__ import annotations

import json

import pytest

from components.images import architecture
from tests.harness import REGION, run_program


@pytest.mark.parametrize(
    ("instance_type", "arch"),
    [
        ("t3.micro", "x86_64"),
        ("t4g.small", "arm64"),
        ("m7gd.large", "arm64"),
        ("a1.medium", "arm64"),
        ("c6i.xlarge", "x86_64"),
    ],
)
def test_architecture_follows_the_instance_family(instance_type, arch):
    assert architecture(instance_type) == arch


def test_empty_image_ids_look_up_al2023_for_the_instance_architecture():
    rec = run_program({"instanceType": "t4g.small"})
    names = [args["name"] for token, args in rec.invokes if token == "aws:ssm/getParameter:getParameter"]
    assert names == ["/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64"]


def test_no_lookup_when_both_colours_pin_an_image():
    rec = run_program({"blueImageId": "ami-0aaaaaaaaaaaaaaaa", "greenImageId": "ami-0bbbbbbbbbbbbbbbb"})
    assert not [t for t, _ in rec.invokes if t == "aws:ssm/getParameter:getParameter"]


def test_dashboard_shows_both_colours_in_the_providers_region():
    rec = run_program()
    body = json.loads(rec.by_name("bluegreen-dashboard-dashboard").inputs["dashboardBody"])
    titles = [w["properties"]["title"] for w in body["widgets"]]
    assert {t.split(":")[0] for t in titles} == {"blue", "green"}
    assert {w["properties"]["region"] for w in body["widgets"]} == {REGION}
