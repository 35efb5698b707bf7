"""Images and instance types: the AMI each colour runs must suit the instance type, and AWS says so.

The default image is the latest Amazon Linux 2023 AMI for the instance type's architecture, which
AWS publishes as a public SSM parameter. A pinned or custom image is described with `ec2:DescribeImages`
(the `getAmi` invoke) for its architecture and root device name, so a Graviton instance type is never
paired with an x86 image, and a custom image's root volume is the device it really boots from.

Every lookup includes deprecated images. A public AMI is deprecated at most two years after it was
made (EnableImageDeprecation: DeprecateAt's upper limit for public AMIs), and DescribeImages then
leaves it out unless the request names it in ImageIds or sets IncludeDeprecated ("Deprecate an Amazon
EC2 AMI", EC2 user guide). The provider's lookup is an `image-id` filter, not ImageIds, and sends
IncludeDeprecated false unless `include_deprecated` is set (hashicorp/packer-plugin-amazon#261 is the
same failure in Packer), so a colour pinned to such an image would fail every preview and update, the
rollback included. Launch templates and Auto Scaling groups keep launching a deprecated image by id
(same guide), so the program only warns, naming the colour, the image and the date.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import pulumi
import pulumi_aws as aws

from bluegreen.contract import Color

AL2023_PARAMETER = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-{arch}"


class ImageError(pulumi.RunError):
    """An image that cannot run on the configured instance type."""


@dataclass(frozen=True)
class ImageFacts:
    image_id: str
    architecture: str  # x86_64, arm64, ...
    root_device_name: str  # e.g. /dev/xvda (Amazon Linux), /dev/sda1 (Ubuntu)
    root_snapshot_gb: int = 0  # the root snapshot's size; the root volume cannot be smaller (0: unknown)
    deprecation_time: str = ""  # when AWS deprecates the image, as DescribeImages says (ISO 8601); "" for never


def instance_architectures(instance_type: str) -> tuple[str, ...]:
    """The architectures AWS lists for the instance type (`ec2:DescribeInstanceTypes`)."""
    return tuple(aws.ec2.get_instance_type(instance_type=instance_type).supported_architectures)


def default_architecture(architectures: Sequence[str]) -> str:
    """Which AL2023 build to look up: arm64 on Graviton, x86_64 otherwise."""
    return "arm64" if "arm64" in architectures else "x86_64"


def latest_amazon_linux(architecture: str) -> str:
    parameter = aws.ssm.get_parameter(name=AL2023_PARAMETER.format(arch=architecture))
    return parameter.value


def describe_image(image_id: str) -> ImageFacts:
    # An image-id filter is exact, so no `owners` is needed: the provider refuses only `most_recent`
    # searches that a third party's image could win (terraform-provider-aws#40211, #42114).
    # include_deprecated: a deprecated image is still the one a colour runs (see the module's docstring).
    image = aws.ec2.get_ami(filters=[{"name": "image-id", "values": [image_id]}], include_deprecated=True)
    root = next((m for m in image.block_device_mappings if m.device_name == image.root_device_name), None)
    size = (root.ebs or {}).get("volume_size", "0") if root is not None else "0"
    return ImageFacts(
        image_id, image.architecture, image.root_device_name, int(size or 0), str(image.deprecation_time or "")
    )


def deprecated_since(facts: ImageFacts, now: datetime) -> datetime | None:
    """When `facts`' image was deprecated, if that is before `now` (an aware datetime); None otherwise."""
    if not facts.deprecation_time:
        return None
    try:
        when = datetime.fromisoformat(facts.deprecation_time)
    except ValueError:
        return None
    if when.tzinfo is None:  # DescribeImages gives UTC ("...Z"); a stamp without a zone is UTC too
        when = when.replace(tzinfo=UTC)
    return when if when <= now else None


def deprecation_warnings(images: Mapping[Color, ImageFacts], now: datetime) -> list[str]:
    """One line per colour whose image AWS has deprecated: it still launches, but its days are numbered."""
    lines = []
    for color, facts in images.items():
        since = deprecated_since(facts, now)
        if since is not None:
            lines.append(
                f"{color} runs image {facts.image_id}, which AWS deprecated on {since.date().isoformat()} "
                f"({facts.deprecation_time}). It still launches, and this update still finds it, but its owner may "
                f"deregister it: stage a current image on {color} when it is idle ({color}ImageId, or empty for the "
                "latest Amazon Linux 2023)"
            )
    return lines


def root_volume_problems(root_volume_size_gb: int, images: Mapping[Color, ImageFacts]) -> list[str]:
    """One line per colour whose image's root snapshot is larger than the configured root volume."""
    return [
        f"rootVolumeSizeGb is {root_volume_size_gb}, but {color}'s image {facts.image_id} has a "
        f"{facts.root_snapshot_gb} GiB root snapshot and EC2 cannot launch a smaller volume from it; set "
        f"rootVolumeSizeGb to at least {facts.root_snapshot_gb}"
        for color, facts in images.items()
        if facts.root_snapshot_gb > root_volume_size_gb
    ]


def architecture_problems(
    instance_type: str, architectures: Sequence[str], images: Mapping[Color, ImageFacts]
) -> list[str]:
    """One line per colour whose image does not run on `instance_type`."""
    wanted = default_architecture(architectures)
    return [
        f"{color}'s image {facts.image_id} is built for {facts.architecture}, but instanceType {instance_type} runs "
        f"{' or '.join(architectures)}; every launch would fail. Stage an image for {wanted} "
        f"on {color} ({color}ImageId, or empty for the latest Amazon Linux 2023), or keep an instance type of its "
        "architecture"
        for color, facts in images.items()
        if facts.architecture not in architectures
    ]
