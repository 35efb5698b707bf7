"""The bluegreen CrossGuard policies. Importing this package starts nothing.

`policies/__main__.py` builds the `PolicyPack` from `POLICIES`; the tests call the policies'
`validate` directly and also serve the whole pack the way the Pulumi engine does.
"""

from __future__ import annotations

from typing import Final

from pulumi_policy import EnforcementLevel, Policy

from .baseline import ACCESS_LOGS, DELETION_PROTECTION, NO_INSTANCE_PUBLIC_IP
from .guardian import GUARDIAN_ARMED
from .parity import PARITY
from .rollback import DATABASE_SCHEMA, ROLLBACK_READINESS
from .security import DROP_INVALID_HEADERS, HTTPS_REDIRECT, IMDSV2, INSTANCE_INGRESS, NO_PUBLIC_IP, TLS_POLICY
from .traffic import PREVIEW_RULES, PRODUCTION_TARGETS, PRODUCTION_TRAFFIC

PACK_NAME: Final = "bluegreen"
PACK_DESCRIPTION: Final = (
    "Blue-green release guard rails: colour parity, the production traffic split, rollback readiness, "
    "shared-database schema compatibility, the guardian's wiring, the security baseline and the production "
    "baseline (access logs, deletion protection, private instances)."
)
PACK_ENFORCEMENT: Final = EnforcementLevel.MANDATORY

POLICIES: Final[list[Policy]] = [
    PARITY,
    PRODUCTION_TRAFFIC,
    PRODUCTION_TARGETS,
    PREVIEW_RULES,
    ROLLBACK_READINESS,
    DATABASE_SCHEMA,
    GUARDIAN_ARMED,
    IMDSV2,
    NO_PUBLIC_IP,
    INSTANCE_INGRESS,
    DROP_INVALID_HEADERS,
    TLS_POLICY,
    HTTPS_REDIRECT,
    ACCESS_LOGS,
    DELETION_PROTECTION,
    NO_INSTANCE_PUBLIC_IP,
]

__all__ = ["PACK_DESCRIPTION", "PACK_ENFORCEMENT", "PACK_NAME", "POLICIES"]
