"""Images suit the instance type: AWS's own answers (DescribeInstanceTypes, DescribeImages) decide."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime

import pytest

from bluegreen.images import ImageError, ImageFacts, default_architecture, deprecated_since
from tests.harness import (
    DEPRECATED_AMI,
    LOOKED_UP_ARM_AMI,
    REGION,
    SOON_DEPRECATED_AMI,
    Recording,
    deployed,
    run_failing,
    run_program,
)


@pytest.mark.parametrize(
    ("architectures", "arch"),
    [(["i386", "x86_64"], "x86_64"), (["arm64"], "arm64"), (["x86_64_mac"], "x86_64")],
)
def test_the_default_image_follows_what_aws_says_the_type_runs(architectures, arch):
    assert default_architecture(architectures) == arch


def test_empty_image_ids_look_up_al2023_for_the_instance_architecture():
    rec = run_program({"instanceType": "t4g.small"})
    names = [args["name"] for token, args in rec.invokes if token == "aws:ssm/getParameter:getParameter"]
    assert names == ["/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64"]
    assert ("aws:ec2/getInstanceType:getInstanceType", {"instanceType": "t4g.small"}) in rec.invokes
    assert rec.outputs["blueImageId"] == rec.outputs["greenImageId"] == LOOKED_UP_ARM_AMI


def test_no_lookup_when_both_colours_pin_an_image():
    rec = run_program({"blueImageId": "ami-0aaaaaaaaaaaaaaaa", "greenImageId": "ami-0bbbbbbbbbbbbbbbb"})
    assert not [t for t, _ in rec.invokes if t == "aws:ssm/getParameter:getParameter"]


def test_a_graviton_type_with_a_pinned_x86_image_is_refused_before_any_resource():
    # The new instance type reaches idle green, which keeps its deployed x86 AMI: every launch would fail.
    # Live blue keeps its deployed t3.micro, so its image is fine.
    live = deployed(run_program())
    error, registered = run_failing({"instanceType": "t4g.micro"}, live)
    assert isinstance(error, ImageError) and registered == []
    assert (
        "green's image ami-0123456789abcdef0 is built for x86_64, but instanceType t4g.micro runs arm64; every "
        "launch would fail. Stage an image for arm64 on green" in str(error)
    )
    assert "blue's image" not in str(error)


def test_a_custom_images_root_device_comes_from_the_image():
    rec = run_program({"greenImageId": "ami-0dbdbdbdbdbdbdbd1", "rootVolumeSizeGb": 30})
    devices = {
        color: rec.by_name(f"bluegreen-{color}-lt").inputs["blockDeviceMappings"][0]["deviceName"]
        for color in ("blue", "green")
    }
    assert devices == {"blue": "/dev/xvda", "green": "/dev/sda1"}


def test_a_root_volume_smaller_than_the_images_snapshot_is_refused():
    error, registered = run_failing({"greenImageId": "ami-0dbdbdbdbdbdbdbd1"})
    assert isinstance(error, ImageError) and registered == []
    assert (
        "rootVolumeSizeGb is 8, but green's image ami-0dbdbdbdbdbdbdbd1 has a 30 GiB root snapshot and EC2 cannot "
        "launch a smaller volume from it; set rootVolumeSizeGb to at least 30" in str(error)
    )


def test_a_created_vpc_uses_zones_that_offer_the_instance_type():
    rec = run_program({"instanceType": "c7gn.large"})  # not offered in eu-west-1a (see the harness)
    zones = [rec.by_name(f"bluegreen-network-subnet-{i}").inputs["availabilityZone"] for i in (0, 1)]
    assert zones == [f"{REGION}b", f"{REGION}c"]


def test_an_instance_type_offered_in_one_zone_is_refused():
    error, _ = run_failing({"instanceType": "p5.48xlarge"})
    assert isinstance(error, Exception) and "instanceType p5.48xlarge is offered in 1 available zone(s)" in str(error)


def test_dashboard_shows_both_colours_in_the_providers_region():
    rec = run_program()
    body = json.loads(rec.by_name("bluegreen-dashboard-dashboard").inputs["dashboardBody"])
    titles = [w["properties"]["title"] for w in body["widgets"]]
    assert {t.split(":")[0] for t in titles} == {"blue", "green"}
    assert {w["properties"]["region"] for w in body["widgets"]} == {REGION}


# -- deprecated images ---------------------------------------------------------------------------------------
def deprecation_warnings(rec: Recording) -> list[str]:
    return [message for level, message in rec.logs if level == "warning" and "deprecated on" in message]


def test_a_colour_pinned_to_a_deprecated_image_still_deploys_and_is_warned_about():
    # Before the fix the lookup left the image out and the update failed: every preview and update, the
    # rollback included, once AWS deprecated the image (issue 21, defect 5).
    rec = run_program({"blueImageId": DEPRECATED_AMI})

    assert rec.outputs["blueImageId"] == DEPRECATED_AMI
    assert deprecation_warnings(rec) == [
        f"blue runs image {DEPRECATED_AMI}, which AWS deprecated on 2024-06-19 (2024-06-19T02:23:00.000Z). It "
        "still launches, and this update still finds it, but its owner may deregister it: stage a current image on "
        "blue when it is idle (blueImageId, or empty for the latest Amazon Linux 2023)"
    ]


def test_a_deployed_colours_image_deprecated_since_is_found_and_warned_about_on_every_update():
    live = deployed(run_program({"blueImageId": DEPRECATED_AMI}))
    rec = run_program({"blueImageId": DEPRECATED_AMI, "greenRelease": "v2.0.0"}, live)
    assert [message.split(",")[0] for message in deprecation_warnings(rec)] == [f"blue runs image {DEPRECATED_AMI}"]


def test_an_image_deprecated_only_in_the_future_is_no_warning():
    rec = run_program({"greenImageId": SOON_DEPRECATED_AMI})
    assert rec.outputs["greenImageId"] == SOON_DEPRECATED_AMI
    assert deprecation_warnings(rec) == []


@pytest.mark.parametrize(
    "stamp",
    ["2024-06-19T02:23:00.000Z", "2024-06-19T02:23:00Z", "2024-06-19T02:23:00", "2024-06-19T02:23:00.000+00:00"],
)
def test_a_deprecation_time_with_or_without_a_zone_is_read_as_utc(stamp: str):
    # DescribeImages says UTC with a Z; a stamp without a zone is UTC too, not a crash comparing naive and aware.
    facts = ImageFacts("ami-0dec0000000000001", "x86_64", "/dev/xvda", 8, stamp)
    assert deprecated_since(facts, datetime(2026, 1, 1, tzinfo=UTC)) == datetime(2024, 6, 19, 2, 23, tzinfo=UTC)
    assert deprecated_since(facts, datetime(2024, 6, 19, 2, 22, tzinfo=UTC)) is None
    assert deprecated_since(dataclasses.replace(facts, deprecation_time=""), datetime(2026, 1, 1, tzinfo=UTC)) is None


def test_every_image_lookup_includes_deprecated_images():
    rec = run_program({"blueImageId": DEPRECATED_AMI, "greenImageId": "ami-0bbbbbbbbbbbbbbbb"})
    lookups = [args for token, args in rec.invokes if token == "aws:ec2/getAmi:getAmi"]
    assert len(lookups) == 2 and all(args.get("includeDeprecated") is True for args in lookups)
