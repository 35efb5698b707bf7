"""The default image: the latest Amazon Linux 2023 AMI for the instance type's architecture."""

from __future__ import annotations

import re

import pulumi_aws as aws


def architecture(instance_type: str) -> str:
    """Graviton families carry a `g` after the generation digit (t4g, m7g, c6gn, r8gd)."""
    family = instance_type.split(".", 1)[0]
    return "arm64" if re.search(r"\dg[a-z]*$", family) else "x86_64"


def latest_amazon_linux(instance_type: str) -> str:
    ami = aws.ec2.get_ami(
        owners=["amazon"],
        most_recent=True,
        filters=[
            {"name": "name", "values": [f"al2023-ami-2023.*-kernel-*-{architecture(instance_type)}"]},
            {"name": "state", "values": ["available"]},
        ],
    )
    return ami.id
