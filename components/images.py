"""The default image: the latest Amazon Linux 2023 AMI for the instance type's architecture."""

from __future__ import annotations

import re

import pulumi_aws as aws

# AWS publishes the current AL2023 AMI per architecture as a public SSM parameter.
AL2023_PARAMETER = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-{arch}"


def architecture(instance_type: str) -> str:
    """Graviton families carry a `g` after the generation digit (t4g, m7g, c6gn, r8gd), plus a1."""
    family = instance_type.split(".", 1)[0]
    return "arm64" if family == "a1" or re.search(r"\dg[a-z]*$", family) else "x86_64"


def latest_amazon_linux(instance_type: str) -> str:
    parameter = aws.ssm.get_parameter(name=AL2023_PARAMETER.format(arch=architecture(instance_type)))
    return parameter.value
