"""Your own VPC, AMI, boot script and instance profile; traffic and releases still from `bluegreen:` config.

The release tool keeps working: it writes `bluegreen:activeColor`, `bluegreen:<colour>Release`
and `bluegreen:<colour>ImageId`, which `load_settings()` reads. What this program fixes in code
(network, boot script, permissions) is shared by both colours.

    pulumi config set vpcId vpc-...
    pulumi config set --path 'albSubnetIds[0]' subnet-...   # and [1], and instanceSubnetIds
    pulumi config set bluegreen:greenImageId ami-...        # your AMI for the next release
"""

import dataclasses
from pathlib import Path

import pulumi

from bluegreen.contract import COLORS
from bluegreen.program import deploy
from bluegreen.settings import NetworkSettings, load_settings

config = pulumi.Config()
settings = load_settings()  # activeColor, releases and images: the release tool's keys
boot_script = Path("boot.sh.tmpl").read_text(encoding="utf-8")  # rendered with each colour's release

deploy(
    dataclasses.replace(
        settings,
        network=NetworkSettings(
            vpc_id=config.require("vpcId"),
            subnet_ids=tuple(config.require_object("albSubnetIds")),
            instance_subnet_ids=tuple(config.require_object("instanceSubnetIds")),
        ),
        fleet=dataclasses.replace(
            settings.fleet,
            instance_type="t3.small",
            app_port=8080,
            instance_policy_arns=(
                "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",  # Session Manager instead of SSH
                "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess",  # the boot script fetches the build
            ),
        ),
        releases={c: dataclasses.replace(settings.releases[c], boot_script=boot_script) for c in COLORS},
    )
)
