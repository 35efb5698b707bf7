"""Security baseline. These hold for each colour on its own: identical but unsafe is a violation.

Resource policies (they see a resource's inputs, so a preview reports them before anything is
created): IMDSv2 on launch templates, no public IP in private subnets, ALBs that drop invalid
header fields, HTTPS listeners with a TLS 1.2+ policy. Stack policies (they need several
resources): instance ingress only from the ALB's security group, and HTTP listeners that redirect
to HTTPS when the load balancer has an HTTPS listener.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from bluegreen.contract import SUBNET_TIER_TAG

from .config import setting
from .stack import (
    INGRESS_RULE,
    LAUNCH_TEMPLATE,
    LISTENER,
    LOAD_BALANCER,
    SECURITY_GROUP,
    SECURITY_GROUP_RULE,
    Resource,
    StackView,
)
from .values import Findings, is_unknown, plain, show, tag_map, truthy


# -- IMDSv2 ---------------------------------------------------------------------------------------
def check_imdsv2(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != LAUNCH_TEMPLATE:
        return
    findings = Findings(report_violation)
    props = plain(args.props)
    options = props.get("metadataOptions")
    tokens = options.get("httpTokens") if isinstance(options, Mapping) else options
    if is_unknown(tokens):
        findings.defer(f"metadataOptions.httpTokens of {args.name}")
    elif tokens != "required":
        findings.violation(
            f"Launch template {args.name} has metadataOptions.httpTokens {show(tokens)}, so instances also "
            "answer IMDSv1 requests. Set metadataOptions.httpTokens to 'required'.",
            None,
        )
    findings.finish()


IMDSV2 = ResourceValidationPolicy(
    name="launch-template-imdsv2",
    description="Checks whether launch templates require IMDSv2 (metadataOptions.httpTokens is 'required').",
    validate=check_imdsv2,
    enforcement_level=EnforcementLevel.MANDATORY,
    remediation_steps="Set metadata_options.http_tokens='required' on the launch template.",
)


# -- public IPs -------------------------------------------------------------------------------------
def public_interfaces(props: Mapping[str, Any], findings: Findings, name: str) -> list[int] | None:
    """Indexes of a launch template's network interfaces that associate a public IP; an unknown flag is
    deferred. None when the interfaces themselves are not known yet (deferred too)."""
    interfaces = props.get("networkInterfaces")
    if is_unknown(interfaces):
        findings.defer(f"networkInterfaces of {name}")
        return None
    public = []
    for index, interface in enumerate(interfaces if isinstance(interfaces, list) else []):
        flag = interface.get("associatePublicIpAddress") if isinstance(interface, Mapping) else interface
        if is_unknown(flag):
            findings.defer(f"networkInterfaces[{index}].associatePublicIpAddress of {name}")
        elif truthy(flag):
            public.append(index)
    return public


def check_public_ip(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != LAUNCH_TEMPLATE:
        return
    findings = Findings(report_violation)
    props = plain(args.props)
    public = public_interfaces(props, findings, args.name)
    if public:
        tags = props.get("tags")
        tier = tags if is_unknown(tags) else tag_map(props).get(SUBNET_TIER_TAG)
        where = ", ".join(f"networkInterfaces[{i}]" for i in public)
        if is_unknown(tier):
            findings.defer(f"the {SUBNET_TIER_TAG} tag of {args.name}")
        elif tier == "private":
            findings.violation(
                f"Launch template {args.name} gives instances a public IP ({where}.associatePublicIpAddress is "
                f"true) but is tagged {SUBNET_TIER_TAG}=private. Set associatePublicIpAddress to false: "
                "instances in private subnets reach the internet through NAT.",
                None,
            )
        elif tier != "public":
            findings.violation(
                f"Launch template {args.name} gives instances a public IP ({where}.associatePublicIpAddress is "
                f"true) but its {SUBNET_TIER_TAG} tag is {show(tier)}. Tag it {SUBNET_TIER_TAG}=public if the "
                "instances run in public subnets; otherwise set associatePublicIpAddress to false.",
                None,
            )
    findings.finish()


NO_PUBLIC_IP = ResourceValidationPolicy(
    name="no-public-ip-in-private-subnets",
    description="Prohibits public IP addresses on instances launched into private subnets.",
    validate=check_public_ip,
    enforcement_level=EnforcementLevel.MANDATORY,
    remediation_steps=(
        "Set associate_public_ip_address='false' on the launch template's network interfaces, or tag it "
        "bluegreen:subnetTier=public when its instances really run in public subnets."
    ),
)


# -- ALB header validation ------------------------------------------------------------------------
def check_drop_invalid_headers(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != LOAD_BALANCER:
        return
    findings = Findings(report_violation)
    props = plain(args.props)
    kind = props.get("loadBalancerType")
    if is_unknown(kind):
        findings.defer(f"loadBalancerType of {args.name}")
    elif kind in (None, "application"):
        drop = props.get("dropInvalidHeaderFields")
        if is_unknown(drop):
            findings.defer(f"dropInvalidHeaderFields of {args.name}")
        elif drop is not True:
            findings.violation(
                f"Application load balancer {args.name} has dropInvalidHeaderFields {show(drop)}, so it forwards "
                "requests with invalid HTTP header fields to the instances. Set dropInvalidHeaderFields to true.",
                None,
            )
    findings.finish()


DROP_INVALID_HEADERS = ResourceValidationPolicy(
    name="alb-drops-invalid-headers",
    description="Checks whether application load balancers drop invalid HTTP header fields.",
    validate=check_drop_invalid_headers,
    enforcement_level=EnforcementLevel.MANDATORY,
    remediation_steps="Set drop_invalid_header_fields=True on the application load balancer.",
)


# -- TLS policy -----------------------------------------------------------------------------------
TLS_CONFIG: Final = PolicyConfigSchema(
    properties={
        "minimumTlsVersion": {
            "type": "string",
            "enum": ["1.2", "1.3"],
            "default": "1.2",
            "description": "Oldest TLS version an HTTPS listener's security policy may accept.",
        }
    }
)
# ELBSecurityPolicy-TLS13-1-2-2021-06, -TLS-1-2-Ext-2018-06, -FS-1-2-Res-2020-10 ... name their
# oldest TLS version; the legacy policies without one (2016-08, 2015-05, FS-2018-06) accept TLS 1.0.
_VERSIONED = re.compile(r"^ELBSecurityPolicy-(?:TLS13|TLS|FS)-1-(\d)(?:-|$)")
_LEGACY = re.compile(r"^ELBSecurityPolicy-")


def oldest_tls(policy: str) -> str | None:
    """The oldest TLS version an ELB security policy accepts, or None for a name it does not know."""
    match = _VERSIONED.match(policy)
    if match:
        return f"1.{match.group(1)}"
    return "1.0" if _LEGACY.match(policy) else None


def check_tls_policy(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != LISTENER:
        return
    findings = Findings(report_violation)
    props = plain(args.props)
    protocol = props.get("protocol")
    if is_unknown(protocol):
        findings.defer(f"protocol of {args.name}")
    elif protocol == "HTTPS":
        minimum = str(setting(args, TLS_CONFIG, "minimumTlsVersion"))
        policy = props.get("sslPolicy")
        if is_unknown(policy):
            findings.defer(f"sslPolicy of {args.name}")
        elif not isinstance(policy, str) or not policy:
            findings.violation(
                f"HTTPS listener {args.name} sets no sslPolicy, so AWS picks its default. Set sslPolicy to a TLS "
                f"{minimum}+ policy such as 'ELBSecurityPolicy-TLS13-1-2-2021-06'.",
                None,
            )
        else:
            oldest = oldest_tls(policy)
            if oldest is None:
                findings.violation(
                    f"HTTPS listener {args.name} uses sslPolicy {show(policy)}, which is not an ELB security policy "
                    f"name. Use a TLS {minimum}+ policy such as 'ELBSecurityPolicy-TLS13-1-2-2021-06'.",
                    None,
                )
            elif tuple(int(p) for p in oldest.split(".")) < tuple(int(p) for p in minimum.split(".")):
                findings.violation(
                    f"HTTPS listener {args.name} uses sslPolicy {show(policy)}, which accepts TLS {oldest}. Use a "
                    f"TLS {minimum}+ policy such as 'ELBSecurityPolicy-TLS13-1-2-2021-06' (config sslPolicy).",
                    None,
                )
    findings.finish()


TLS_POLICY = ResourceValidationPolicy(
    name="https-listener-tls-policy",
    description="Checks whether HTTPS listeners use a TLS 1.2 or newer security policy.",
    validate=check_tls_policy,
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=TLS_CONFIG,
    remediation_steps="Set the sslPolicy config to a TLS 1.2+ policy such as ELBSecurityPolicy-TLS13-1-2-2021-06.",
)


# -- instance ingress -----------------------------------------------------------------------------
def _instance_security_groups(view: StackView, findings: Findings) -> set[Any]:
    """The security groups the launch templates put on instances (canonical references)."""
    groups: set[Any] = set()
    for template in view.of_type(LAUNCH_TEMPLATE):
        refs: list[Any] = []
        for key in ("vpcSecurityGroupIds", "securityGroupNames"):
            value = template.props.get(key)
            refs += value if isinstance(value, list) else ([value] if value is not None else [])
        interfaces = template.props.get("networkInterfaces")
        refs += [interfaces] if is_unknown(interfaces) else []
        for interface in interfaces if isinstance(interfaces, list) else []:
            value = interface.get("securityGroups") if isinstance(interface, Mapping) else interface
            refs += value if isinstance(value, list) else [value]
        for ref in refs:
            if is_unknown(ref):
                findings.defer(f"security groups of {template.name}")
            elif ref is not None:
                groups.add(view.canonical(ref))
    return groups


def _alb_security_groups(view: StackView, findings: Findings) -> set[Any]:
    groups: set[Any] = set()
    for alb in view.of_type(LOAD_BALANCER):
        value = alb.props.get("securityGroups")
        for ref in value if isinstance(value, list) else [value]:
            if is_unknown(ref):
                findings.defer(f"security groups of {alb.name}")
            elif ref is not None:
                groups.add(view.canonical(ref))
    return groups


def _sources(rule: Mapping[str, Any], keys: tuple[str, ...]) -> list[str]:
    found = []
    for key in keys:
        value = rule.get(key)
        if value in (None, "", [], False):
            continue
        found.append("the group itself (self)" if key == "self" else f"{key} {show(value)}")
    return found


_OPEN_KEYS: Final = ("cidrIpv4", "cidrIpv6", "prefixListId", "cidrBlocks", "ipv6CidrBlocks", "prefixListIds", "self")
FIX_INGRESS: Final = "Allow instance ingress only from the ALB's security group (referencedSecurityGroupId)."


def check_instance_ingress(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    findings = Findings(report_violation)
    view = StackView.from_args(args)
    instance_groups = _instance_security_groups(view, findings)
    alb_groups = _alb_security_groups(view, findings)
    if not instance_groups:
        findings.finish()
        return

    def check_rule(res: Resource, rule: Mapping[str, Any], source_key: str, label: str) -> None:
        if any(is_unknown(rule.get(k)) for k in (*_OPEN_KEYS, source_key)):
            findings.defer(f"sources of {label}")
            return
        opened = _sources(rule, _OPEN_KEYS)
        source = rule.get(source_key)
        sources = source if isinstance(source, list) else ([source] if source else [])
        foreign = [s for s in sources if view.canonical(s) not in alb_groups]
        if opened:
            findings.violation(
                f"{label} lets traffic reach the instances from {', '.join(opened)}. {FIX_INGRESS}", res.urn
            )
        if foreign:
            names = ", ".join(_name(view, s) for s in foreign)
            findings.violation(
                f"{label} lets traffic reach the instances from security group {names}, which is not the ALB's. "
                f"{FIX_INGRESS}",
                res.urn,
            )
        if not opened and not sources:
            findings.violation(f"{label} names no source. {FIX_INGRESS}", res.urn)

    for res in view.of_type(INGRESS_RULE):
        group = res.props.get("securityGroupId")
        if is_unknown(group):
            findings.defer(f"security group of {res.name}")
        elif view.canonical(group) in instance_groups:
            label = f"Ingress rule {res.name} on the instance security group"
            check_rule(res, res.props, "referencedSecurityGroupId", label)
    for res in view.of_type(SECURITY_GROUP_RULE):
        group = res.props.get("securityGroupId")
        kind = res.props.get("type")
        if is_unknown(group) or is_unknown(kind):
            findings.defer(f"security group of {res.name}")
        elif kind == "ingress" and view.canonical(group) in instance_groups:
            label = f"Ingress rule {res.name} on the instance security group"
            check_rule(res, res.props, "sourceSecurityGroupId", label)
    for res in view.of_type(SECURITY_GROUP):
        if res.urn not in instance_groups:
            continue
        inline = res.props.get("ingress")
        if is_unknown(inline):
            findings.defer(f"inline ingress of {res.name}")
            continue
        for index, rule in enumerate(inline if isinstance(inline, list) else []):
            if isinstance(rule, Mapping):
                label = f"Inline ingress rule {index} of instance security group {res.name}"
                check_rule(res, rule, "securityGroups", label)
    findings.finish()


def _name(view: StackView, ref: Any) -> str:
    res = view.resolve(ref)
    return res.name if res is not None else show(ref)


INSTANCE_INGRESS = StackValidationPolicy(
    name="instance-ingress-from-alb-only",
    description="Checks whether instances accept ingress only from the load balancer's security group.",
    validate=check_instance_ingress,
    enforcement_level=EnforcementLevel.MANDATORY,
    remediation_steps=(
        "Remove CIDR, prefix-list and self sources from the instance security group; its only ingress rule "
        "references the ALB's security group on the app port."
    ),
)


# -- HTTP to HTTPS ----------------------------------------------------------------------------------
def _redirects_to_https(listener: Resource) -> bool | None:
    actions = listener.props.get("defaultActions")
    if is_unknown(actions):
        return None
    if not isinstance(actions, list) or len(actions) != 1 or not isinstance(actions[0], Mapping):
        return False
    action = actions[0]
    redirect = action.get("redirect")
    if is_unknown(action.get("type")) or is_unknown(redirect):
        return None
    if action.get("type") != "redirect" or not isinstance(redirect, Mapping):
        return False
    protocol = redirect.get("protocol")
    if is_unknown(protocol):
        return None
    return protocol == "HTTPS"


def check_https_redirect(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    findings = Findings(report_violation)
    view = StackView.from_args(args)
    listeners = view.of_type(LISTENER)
    balancers = view.of_type(LOAD_BALANCER)
    by_balancer: dict[Any, list[Resource]] = {}
    for listener in listeners:
        arn = listener.props.get("loadBalancerArn")
        if is_unknown(arn):
            if len(balancers) != 1:
                findings.defer(f"load balancer of {listener.name}")
                continue
            key: Any = balancers[0].urn
        else:
            key = view.canonical(arn)
        by_balancer.setdefault(key, []).append(listener)
    for group in by_balancer.values():
        protocols = [r.props.get("protocol") for r in group]
        if any(is_unknown(p) for p in protocols):
            findings.defer("listener protocols")
            continue
        if "HTTPS" not in protocols:
            continue
        for listener in group:
            if listener.props.get("protocol") != "HTTP":
                continue
            redirects = _redirects_to_https(listener)
            if redirects is None:
                findings.defer(f"default action of {listener.name}")
            elif not redirects:
                findings.violation(
                    f"HTTP listener {listener.name} serves plain HTTP although its load balancer has an HTTPS "
                    "listener. Make its only default action a redirect to HTTPS (protocol 'HTTPS', status "
                    "'HTTP_301').",
                    listener.urn,
                )
    findings.finish()


HTTPS_REDIRECT = StackValidationPolicy(
    name="http-redirects-to-https",
    description="Checks whether HTTP listeners redirect to HTTPS when their load balancer has an HTTPS listener.",
    validate=check_https_redirect,
    enforcement_level=EnforcementLevel.MANDATORY,
    remediation_steps="Make the HTTP listener's only default action a redirect to HTTPS on port 443 (HTTP_301).",
)
