"""The production baseline: what AWS's own guidance expects of a stack that serves users.

AWSGuard (pulumi-policy-aws) knows only the old `aws:elasticloadbalancingv2` type names and bare
instances, so none of its checks reach this stack's `aws:lb` load balancer or its launch templates.
These resource policies check the same things on the types the program registers: the ALB writes
access logs to a bucket, the ALB has deletion protection, and the launch templates give instances
no public IP.

They are mandatory, so a stack that serves users cannot lose them by accident. A stack that runs
without one on purpose (the throwaway dev stack) declares it in its own policy config file, which
lowers that policy to advisory: the finding is still printed on every preview of that stack, it just
does not block (`policies/stacks/dev.json`, docs/policies.md).

Detailed (1-minute) EC2 monitoring is deliberately not a policy: it is off by default as a cost
switch, and nothing in the stack reads per-instance EC2 metrics (the alarms, the dashboard and the
guardian use the ALB's target group metrics), so a warning would fire on every stack and teach people
to ignore the pack.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from bluegreen.contract import DECOMMISSION_TAG

from .security import public_interfaces
from .stack import LAUNCH_TEMPLATE, LOAD_BALANCER
from .values import Findings, is_unknown, number, plain, show, truthy


def _application_load_balancer(args: ResourceValidationArgs, findings: Findings) -> dict[str, Any] | None:
    """The inputs of an application load balancer, or None (another resource, or a type not known yet)."""
    if args.resource_type != LOAD_BALANCER:
        return None
    props: dict[str, Any] = plain(args.props)
    kind = props.get("loadBalancerType")
    if is_unknown(kind):
        findings.defer(f"loadBalancerType of {args.name}")
        return None
    return props if kind in (None, "application") else None


# -- access logs ----------------------------------------------------------------------------------
FIX_ACCESS_LOGS = (
    "Turn on access logs (config accessLogs: true, to the bucket the stack creates or to accessLogsBucket)."
)


def check_access_logs(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    findings = Findings(report_violation)
    props = _application_load_balancer(args, findings)
    if props is not None:
        logs = props.get("accessLogs")
        enabled = logs.get("enabled") if isinstance(logs, Mapping) else None
        bucket = logs.get("bucket") if isinstance(logs, Mapping) else None
        if is_unknown(logs):
            findings.defer(f"accessLogs of {args.name}")
        elif not isinstance(logs, Mapping):
            findings.violation(
                f"Application load balancer {args.name} writes no access logs (accessLogs {show(logs)}), so no "
                f"record says which colour served a request. {FIX_ACCESS_LOGS}",
                None,
            )
        elif is_unknown(enabled):
            findings.defer(f"accessLogs.enabled of {args.name}")
        elif not truthy(enabled):
            # AWS leaves access logs off unless `enabled` is true, even when a bucket is named.
            findings.violation(
                f"Application load balancer {args.name} writes no access logs (accessLogs.enabled {show(enabled)}), "
                f"so no record says which colour served a request. {FIX_ACCESS_LOGS}",
                None,
            )
        elif is_unknown(bucket):
            # A bucket the same update creates: its name is known at `pulumi up`.
            findings.defer(f"accessLogs.bucket of {args.name}")
        elif not isinstance(bucket, str) or not bucket.strip():
            findings.violation(
                f"Application load balancer {args.name} turns on access logs but names no bucket (accessLogs.bucket "
                f"{show(bucket)}). Set accessLogs.bucket to the log bucket (config accessLogsBucket, or empty to "
                "let the stack create one).",
                None,
            )
    findings.finish()


ACCESS_LOGS = ResourceValidationPolicy(
    name="alb-access-logs-enabled",
    description="Checks whether application load balancers write access logs to an S3 bucket.",
    validate=check_access_logs,
    enforcement_level=EnforcementLevel.MANDATORY,
    remediation_steps=(
        "Set the bluegreen:accessLogs config to true (the default): the stack creates an encrypted log bucket, or "
        "writes to the one accessLogsBucket names. A stack that runs without access logs on purpose sets this "
        "policy to advisory in its policy config file."
    ),
)


# -- deletion protection --------------------------------------------------------------------------
def _decommissioning(props: Mapping[str, Any]) -> bool | None:
    """Whether the load balancer carries DECOMMISSION_TAG=true (config `decommission`): the stack is about to be
    destroyed, and the program allows that only in an update that changes nothing else on a deployed stack.
    None while the tags are not known."""
    tags = props.get("tags")
    value = tags.get(DECOMMISSION_TAG) if isinstance(tags, Mapping) else None
    if is_unknown(tags) or is_unknown(value):
        return None
    return value == "true"


def check_deletion_protection(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    findings = Findings(report_violation)
    props = _application_load_balancer(args, findings)
    if props is not None:
        protected = props.get("enableDeletionProtection")
        decommissioning = _decommissioning(props)
        if is_unknown(protected):
            findings.defer(f"enableDeletionProtection of {args.name}")
        elif protected is not True and decommissioning is None:
            findings.defer(f"tags.{DECOMMISSION_TAG} of {args.name}")
        elif protected is not True and not decommissioning:
            findings.violation(
                f"Application load balancer {args.name} has enableDeletionProtection {show(protected)}, so one "
                "delete or replacement takes down the only front door of both colours. Set "
                "enableDeletionProtection to true (config albDeletionProtection: true); to destroy the stack, set "
                "config decommission: true instead.",
                None,
            )
    findings.finish()


DELETION_PROTECTION = ResourceValidationPolicy(
    name="alb-deletion-protection",
    description="Checks whether application load balancers have deletion protection enabled.",
    validate=check_deletion_protection,
    enforcement_level=EnforcementLevel.MANDATORY,
    remediation_steps=(
        "Set the bluegreen:albDeletionProtection config to true (the default). To destroy the stack, set the "
        "bluegreen:decommission config to true and run pulumi up (it turns protection off and tags the load balancer "
        f"{DECOMMISSION_TAG}=true, which this policy accepts), then pulumi destroy."
    ),
)


# -- public IPs -----------------------------------------------------------------------------------
FIX_PUBLIC_IP = (
    "Run the instances in private subnets (config privateInstances: true in a created VPC, or instanceSubnetIds "
    "in an existing one), so the launch template sets associatePublicIpAddress to false."
)


def _primary_interface(interfaces: list[Any], findings: Findings, name: str) -> tuple[int, Any] | None:
    """(index, interface) of the network interface with device index 0 (the only one AWS gives a public IP)."""
    for index, interface in enumerate(interfaces):
        device = interface.get("deviceIndex") if isinstance(interface, Mapping) else None
        if is_unknown(device):
            findings.defer(f"networkInterfaces[{index}].deviceIndex of {name}")
            return None
        if device is None or number(device) == 0:
            return index, interface
    return None


def check_instances_without_public_ip(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != LAUNCH_TEMPLATE:
        return
    findings = Findings(report_violation)
    props = plain(args.props)
    public = public_interfaces(props, findings, args.name)
    if public is None:
        findings.finish()
        return
    interfaces = props.get("networkInterfaces")
    interfaces = interfaces if isinstance(interfaces, list) else []
    if public:
        where = ", ".join(f"networkInterfaces[{i}]" for i in public)
        findings.violation(
            f"Launch template {args.name} gives instances a public IP ({where}.associatePublicIpAddress is true). "
            f"{FIX_PUBLIC_IP}",
            None,
        )
    elif not findings.deferred:
        primary = _primary_interface(interfaces, findings, args.name)
        flag = primary[1].get("associatePublicIpAddress") if primary and isinstance(primary[1], Mapping) else None
        if not findings.deferred and (flag is None or flag == ""):
            # Unset, the subnet's MapPublicIpOnLaunch decides, which the pack cannot see.
            field = f"networkInterfaces[{primary[0]}].associatePublicIpAddress" if primary else "networkInterfaces"
            findings.violation(
                f"Launch template {args.name} leaves it to the subnet whether instances get a public IP ({field} "
                "not set). Set associatePublicIpAddress to false on its network interface with device index 0.",
                None,
            )
    findings.finish()


NO_INSTANCE_PUBLIC_IP = ResourceValidationPolicy(
    name="instances-without-public-ip",
    description="Prohibits launch templates that give instances a public IP address.",
    validate=check_instances_without_public_ip,
    enforcement_level=EnforcementLevel.MANDATORY,
    remediation_steps=(
        "Set the bluegreen:privateInstances config to true (the default) in a created VPC, or give an existing "
        "VPC's private subnets as instanceSubnetIds; the launch templates then set "
        "associate_public_ip_address='false'. A stack that runs its instances in public subnets on purpose sets "
        "this policy to advisory in its policy config file."
    ),
)
