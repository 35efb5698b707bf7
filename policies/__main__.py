"""Builds the bluegreen policy pack. Constructing `PolicyPack` starts its gRPC server and blocks.

The engine runs this directory as `python -m pulumi.policy <engine-address> <pack-dir>`, which
puts the pack directory first on `sys.path`; the policies live in `bluegreen_policies`.
"""

from bluegreen_policies import PACK_DESCRIPTION, PACK_ENFORCEMENT, PACK_NAME, POLICIES
from pulumi_policy import PolicyPack

PolicyPack(
    name=PACK_NAME,
    policies=POLICIES,
    enforcement_level=PACK_ENFORCEMENT,
    description=PACK_DESCRIPTION,
    provider="aws",
)
