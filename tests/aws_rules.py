"""AWS's own constraints on the values the program sends, each with its source.

The mocks accept any value; AWS does not. Each `Rule` names a resource type, the input paths it
governs (a regex over flattened paths such as `tags.team`, `healthCheck.path` or
`conditions[1].httpHeader.values[0]`) and a check that returns the problem AWS would report.
Where botocore's service model carries a length, a range or a pattern, the rule reads it from the
model, so a model update tightens the test by itself. `violations()` checks every registered input;
`unreviewed()` lists the leaves that no rule governs and that are not on the reviewed list, so a
new input cannot slip in without a look at what AWS allows.
"""

from __future__ import annotations

import base64
import re
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import botocore.session
import regex  # botocore's patterns use \p{L}-style classes, which `re` lacks

from bluegreen.contract import is_alb_dns_name
from tests.harness import Recording, Registered

Check = Callable[[Any, Registered], str | None]


@cache
def _shape(service: str, name: str) -> Mapping[str, Any]:
    model = botocore.session.get_session().get_service_model(service)
    return dict(model.shape_for(name).metadata)


def model_string(service: str, shape: str) -> Check:
    """Length and pattern of a botocore string shape."""
    meta = _shape(service, shape)

    def check(value: Any, _: Registered) -> str | None:
        text = str(value)
        low, high = meta.get("min", 0), meta.get("max")
        if len(text) < low or (high is not None and len(text) > high):
            return f"{service} {shape} must be {low}..{high} characters, got {len(text)}"
        # Java-style surrogate pairs stand for the supplementary planes.
        pattern = str(meta.get("pattern", "")).replace(r"\uD800\uDC00-\uDBFF\uDFFF", r"\U00010000-\U0010FFFF")
        if pattern and not regex.fullmatch(pattern, text):
            return f"{service} {shape} must match {pattern}, got {text!r}"
        return None

    return check


def model_range(service: str, shape: str) -> Check:
    meta = _shape(service, shape)

    def check(value: Any, _: Registered) -> str | None:
        if not isinstance(value, int | float) or isinstance(value, bool):
            return f"{service} {shape} must be a number, got {value!r}"
        if value < meta.get("min", float("-inf")) or value > meta.get("max", float("inf")):
            return f"{service} {shape} must be {meta.get('min')}..{meta.get('max')}, got {value}"
        return None

    return check


def model_enum(service: str, shape: str) -> Check:
    allowed = _shape(service, shape)["enum"]
    return lambda value, _: None if value in allowed else f"{service} {shape} must be one of {allowed}, got {value!r}"


def between(low: float, high: float) -> Check:
    return lambda value, _: None if low <= value <= high else f"must be {low}..{high}, got {value}"


def charset(allowed: str, longest: int) -> Check:
    pattern = re.compile(f"^[{allowed}]{{0,{longest}}}$")
    return lambda value, _: (
        None if pattern.match(str(value)) else f"must be up to {longest} of [{allowed}], got {value!r}"
    )


def matches(pattern: str, what: str) -> Check:
    compiled = re.compile(pattern)
    return lambda value, _: None if compiled.fullmatch(str(value)) else f"must be {what}, got {value!r}"


def not_prefixed(prefix: str) -> Check:
    return lambda value, _: (
        f"{prefix}* is reserved by AWS, got {value!r}" if str(value).lower().startswith(prefix) else None
    )


def every(*checks: Check) -> Check:
    def check(value: Any, res: Registered) -> str | None:
        return next((p for c in checks if (p := c(value, res)) is not None), None)

    return check


def autoname(longest: int, allowed: str = "a-zA-Z0-9-") -> Check:
    """Pulumi names the resource `<logical name>-<7 random characters>`; AWS caps the length."""

    def check(_: Any, res: Registered) -> str | None:
        name = f"{res.name}-abcdefg"
        if len(name) > longest or not re.fullmatch(f"[{allowed}]+", name):
            return f"the auto-name {name!r} must be at most {longest} of [{allowed}]"
        return None

    return check


# EC2 CreateSecurityGroup GroupDescription and rule descriptions: "Up to 255 characters in length.
# Allowed characters are a-z, A-Z, 0-9, spaces, and ._-:/()#,@[]+=&;{}!$*" (EC2 API reference;
# terraform-provider-aws#18874 shows the InvalidParameterValue).
EC2_DESCRIPTION = charset(r"a-zA-Z0-9 ._\-:/()#,@\[\]+=&;{}!$*", 255)
EC2_TAG_KEY = every(model_string("ec2", "TagKey"), not_prefixed("aws:"))
# EC2's model has no TagValue shape; the EC2 user guide: "Maximum value length: 256 Unicode characters".
EC2_TAG_VALUE = lambda value, _: None if len(str(value)) <= 256 else "EC2 tag values are at most 256 characters"  # noqa: E731
ELB_TAG_KEY = every(model_string("elbv2", "TagKey"), not_prefixed("aws:"))
ELB_TAG_VALUE = model_string("elbv2", "TagValue")
CW_TAG_KEY = every(model_string("cloudwatch", "TagKey"), not_prefixed("aws:"))
CW_TAG_VALUE = model_string("cloudwatch", "TagValue")
IAM_TAG_KEY = every(model_string("iam", "tagKeyType"), not_prefixed("aws:"))
IAM_TAG_VALUE = model_string("iam", "tagValueType")

LAMBDA_TAG_KEY = every(model_string("lambda", "TagKey"), not_prefixed("aws:"))
LAMBDA_TAG_VALUE = model_string("lambda", "TagValue")
SSM_TAG_KEY = every(model_string("ssm", "TagKey"), not_prefixed("aws:"))
SSM_TAG_VALUE = model_string("ssm", "TagValue")
SNS_TAG_KEY = every(model_string("sns", "TagKey"), not_prefixed("aws:"))
SNS_TAG_VALUE = model_string("sns", "TagValue")
EVENTS_TAG_KEY = every(model_string("events", "TagKey"), not_prefixed("aws:"))
EVENTS_TAG_VALUE = model_string("events", "TagValue")
LOGS_TAG_KEY = every(model_string("logs", "TagKey"), not_prefixed("aws:"))
LOGS_TAG_VALUE = model_string("logs", "TagValue")
# PutRetentionPolicy retentionInDays: the values CloudWatch Logs accepts (API reference, PutRetentionPolicy).
LOG_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)
# Standard-tier parameters hold up to 4 KB (SSM PutParameter, Value; the model leaves the length out).
SSM_STANDARD_VALUE = lambda value, _: None if len(str(value).encode()) <= 4096 else "over 4 KB (Standard tier)"  # noqa: E731

FUNCTION = "aws:lambda/function:Function"
PERMISSION = "aws:lambda/permission:Permission"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
PARAMETER = "aws:ssm/parameter:Parameter"
TOPIC = "aws:sns/topic:Topic"
SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
EVENT_RULE = "aws:cloudwatch/eventRule:EventRule"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"

LB = "aws:lb/loadBalancer:LoadBalancer"
TG = "aws:lb/targetGroup:TargetGroup"
LISTENER = "aws:lb/listener:Listener"
RULE = "aws:lb/listenerRule:ListenerRule"
ASG = "aws:autoscaling/group:Group"
LT = "aws:ec2/launchTemplate:LaunchTemplate"
SG = "aws:ec2/securityGroup:SecurityGroup"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
COMPOSITE = "aws:cloudwatch/compositeAlarm:CompositeAlarm"
DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"
ROLE = "aws:iam/role:Role"
PROFILE = "aws:iam/instanceProfile:InstanceProfile"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
IAM_TYPES = (ROLE, PROFILE)
ELB_TYPES = (LB, TG, LISTENER, RULE)
EC2_TYPES = (
    SG,
    INGRESS,
    EGRESS,
    LT,
    "aws:ec2/vpc:Vpc",
    "aws:ec2/subnet:Subnet",
    "aws:ec2/internetGateway:InternetGateway",
    "aws:ec2/routeTable:RouteTable",
    "aws:ec2/eip:Eip",
    "aws:ec2/natGateway:NatGateway",
)
BUCKET = "aws:s3/bucket:Bucket"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
BUCKET_OWNERSHIP = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
BUCKET_PUBLIC_ACCESS = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
BUCKET_ENCRYPTION = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
BUCKET_LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
# S3 User Guide, "Bucket naming rules": 3..63 of lower-case letters, digits, dots and hyphens, starting and
# ending with a letter or digit. Pulumi's auto-name adds "-" and 7 lower-case characters.
S3_BUCKET_NAME = matches(r"(?!xn--)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", "an S3 bucket name (3..63 of [a-z0-9.-])")


@dataclass(frozen=True)
class Rule:
    types: tuple[str, ...]
    path: str  # regex over the flattened path
    check: Check
    source: str


def _go_duration(value: Any, _: Registered) -> str | None:
    return (
        None if re.fullmatch(r"(\d+h)?(\d+m)?(\d+s)?", str(value)) and str(value) else f"not a Go duration: {value!r}"
    )


def _user_data(value: Any, _: Registered) -> str | None:
    raw = base64.b64decode(str(value))
    return None if len(raw) <= 16 * 1024 else f"user data is {len(raw)} bytes; EC2 allows 16 KB before base64"


def _matcher(value: Any, _: Registered) -> str | None:
    for part in str(value).split(","):
        codes = [int(c) for c in part.split("-")]
        if not all(200 <= c <= 499 for c in codes):
            return f"HTTP matcher codes must be 200..499, got {value!r}"
    return None


def _timeout_below_interval(value: Any, res: Registered) -> str | None:
    interval = res.inputs["healthCheck"].get("interval", 30)
    return None if value < interval else f"health check timeout {value} must be less than the interval {interval}"


def _extended_statistic(value: Any, _: Registered) -> str | None:
    return None if re.fullmatch(r"p(\d{1,2}(\.\d{1,2})?|100)", str(value)) else f"not a percentile: {value!r}"


def _alarm_period(value: Any, _: Registered) -> str | None:
    return (
        None
        if value in (10, 20, 30) or (value >= 60 and value % 60 == 0)
        else f"period {value} is not 10, 20, 30 or a multiple of 60"
    )


def _desired_within_bounds(value: Any, res: Registered) -> str | None:
    low, high = res.inputs["minSize"], res.inputs["maxSize"]
    return None if low <= value <= high else f"desiredCapacity {value} is outside minSize {low}..maxSize {high}"


GATE = "pulumi-python:dynamic/bluegreen:TrafficGate"
# What a public certificate can name: a DNS name of labels (RFC 1035 letters, digits, hyphens) under a top-level
# domain of letters, 253 characters at most. ACM issues certificates only for names like these.
CERTIFIABLE_NAME = re.compile(r"(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")
GATE_URL_SOURCE = (
    "ELB User Guide, SSL certificates for your Application Load Balancer: the certificate's domain name must match "
    "the custom domain users reach; no certificate covers *.elb.amazonaws.com, and Python's ssl checks the name"
)


def _https_host(url: Any) -> str | None:
    """The host an https URL names; None for anything else (http, an unknown value in a preview)."""
    parts = urllib.parse.urlsplit(str(url))
    return (parts.hostname or "") if parts.scheme == "https" else None


def _uncertifiable(value: Any) -> str | None:
    """Why no certificate can match the host of an https URL, or None (the gate verifies the certificate against
    it, as urllib does)."""
    host = _https_host(value)
    if host is None:
        return None
    if is_alb_dns_name(host):
        return f"the gate probes {value!r}: no certificate covers the load balancer's own DNS name"
    if not CERTIFIABLE_NAME.fullmatch(host):
        return f"the gate probes {value!r}: {host!r} is not a DNS name a certificate can name"
    return None


def gate_url_problems(recording: Recording) -> list[str]:
    """Each traffic gate that probes over https must probe `https://<publicHostname>`: the host users reach, which
    the certificate covers, as the program ran with it (its `edge` output); the ALB's own name would fail every
    flip at the gate. Checked by `violations()` and, through the harness, for every program a test runs."""
    found = []
    for res in recording.of_type(GATE):
        url = res.inputs.get("url")
        host = _https_host(url)
        if host is None:
            continue
        problem = _uncertifiable(url)
        if problem is not None:
            found.append(f"{res.name} url: {problem} ({GATE_URL_SOURCE})")
        edge = recording.outputs.get("edge")
        hostname = edge.get("publicHostname") if isinstance(edge, Mapping) else None
        if hostname is not None and host != hostname:
            found.append(
                f"{res.name} url: the gate probes {url!r}, not the publicHostname the stack serves "
                f"({hostname!r}), which the certificate covers ({GATE_URL_SOURCE})"
            )
    return found


RULES: tuple[Rule, ...] = (
    # -- tags, per service ------------------------------------------------------------------------------
    Rule(ELB_TYPES, r"tags\.<key>", ELB_TAG_KEY, "botocore elbv2 TagKey"),
    Rule(ELB_TYPES, r"tags\[.+\]", ELB_TAG_VALUE, "botocore elbv2 TagValue"),
    Rule(EC2_TYPES, r"tags\.<key>", EC2_TAG_KEY, "botocore ec2 TagKey; aws: prefix reserved"),
    Rule(EC2_TYPES, r"tags\[.+\]", EC2_TAG_VALUE, "EC2 user guide, tag restrictions"),
    Rule((LT,), r"tagSpecifications\[\d+\]\.tags\.<key>", EC2_TAG_KEY, "botocore ec2 TagKey"),
    Rule((LT,), r"tagSpecifications\[\d+\]\.tags\[.+\]", EC2_TAG_VALUE, "EC2 user guide, tag restrictions"),
    Rule((LT,), r"tagSpecifications\[\d+\]\.resourceType", model_enum("ec2", "ResourceType"), "botocore ec2"),
    Rule(
        (ASG,),
        r"tags\[\d+\]\.key",
        every(model_string("autoscaling", "TagKey"), not_prefixed("aws:")),
        "botocore autoscaling TagKey",
    ),
    Rule((ASG,), r"tags\[\d+\]\.value", model_string("autoscaling", "TagValue"), "botocore autoscaling TagValue"),
    Rule(IAM_TYPES, r"tags\.<key>", IAM_TAG_KEY, "botocore iam tagKeyType; aws: prefix reserved"),
    Rule(IAM_TYPES, r"tags\[.+\]", IAM_TAG_VALUE, "botocore iam tagValueType"),
    Rule((ROLE,), r"<name>", autoname(64, r"\w+=,.@-"), "botocore iam roleNameType: 1..64 of [\\w+=,.@-]"),
    Rule((PROFILE,), r"<name>", autoname(128, r"\w+=,.@-"), "botocore iam instanceProfileNameType"),
    Rule(
        (ROLE,),
        r"assumeRolePolicy",
        every(
            model_string("iam", "policyDocumentType"),
            lambda v, _: None if len(str(v)) <= 2048 else "a role trust policy is at most 2048 characters",
        ),
        "botocore iam policyDocumentType; IAM quotas: role trust policy length 2,048 characters",
    ),
    Rule((ATTACHMENT,), r"policyArn", model_string("iam", "arnType"), "botocore iam arnType"),
    Rule((ALARM, COMPOSITE), r"tags\.<key>", CW_TAG_KEY, "botocore cloudwatch TagKey"),
    Rule((ALARM, COMPOSITE), r"tags\[.+\]", CW_TAG_VALUE, "botocore cloudwatch TagValue"),
    # -- EC2 --------------------------------------------------------------------------------------------
    Rule((SG, INGRESS, EGRESS), r"description", EC2_DESCRIPTION, "EC2 API CreateSecurityGroup / rule Description"),
    Rule((SG,), r"<name>", autoname(255), "EC2 GroupName: up to 255 characters"),
    Rule((INGRESS, EGRESS), r"(fromPort|toPort)", between(0, 65535), "EC2 IpPermission FromPort/ToPort"),
    Rule((INGRESS, EGRESS), r"ipProtocol", matches(r"tcp|udp|icmp|-1", "tcp, udp, icmp or -1"), "EC2 IpPermission"),
    Rule((INGRESS, EGRESS), r"cidrIpv4", matches(r"\d+\.\d+\.\d+\.\d+/\d+", "an IPv4 CIDR"), "EC2 IpRange"),
    Rule((INGRESS, EGRESS), r"cidrIpv6", matches(r"[0-9a-fA-F:]+/\d+", "an IPv6 CIDR"), "EC2 Ipv6Range"),
    Rule(
        (LT,),
        r"<name>",
        lambda _, res: model_string("ec2", "LaunchTemplateName")(f"{res.name}-abcdefg", res),
        "botocore ec2 LaunchTemplateName",
    ),
    Rule((LT,), r"userData", _user_data, "EC2 user guide: user data is limited to 16 KB before base64"),
    Rule((LT,), r"instanceType", matches(r"[a-z][a-z0-9-]*\.[a-z0-9]+", "an instance type"), "EC2 instance types"),
    Rule((LT,), r"imageId", matches(r"ami-[0-9a-f]{8,17}", "an AMI id"), "EC2 image ids"),
    Rule(
        (LT,), r"blockDeviceMappings\[\d+\]\.ebs\.volumeSize", between(1, 16384), "EC2 EbsBlockDevice: gp3 1..16384 GiB"
    ),
    Rule(
        (LT,),
        r"blockDeviceMappings\[\d+\]\.ebs\.volumeType",
        model_enum("ec2", "VolumeType"),
        "botocore ec2 VolumeType",
    ),
    Rule(
        (LT,),
        r"blockDeviceMappings\[\d+\]\.deviceName",
        matches(r"/dev/(sd[a-z]\d*|xvd[a-z]+|nvme\d+n\d+)", "a device name"),
        "EC2 device naming",
    ),
    Rule((LT,), r"metadataOptions\.httpPutResponseHopLimit", between(1, 64), "EC2 InstanceMetadataOptions"),
    Rule((LT,), r"metadataOptions\.(httpEndpoint)", matches("enabled|disabled", "enabled or disabled"), "EC2"),
    Rule((LT,), r"metadataOptions\.(httpTokens)", matches("optional|required", "optional or required"), "EC2"),
    Rule(
        ("aws:ec2/vpc:Vpc", "aws:ec2/subnet:Subnet"),
        r"cidrBlock",
        matches(r"\d+\.\d+\.\d+\.\d+/(1[6-9]|2[0-8])", "a /16../28 block"),
        "VPC user guide: sizes /16 to /28",
    ),
    Rule(("aws:ec2/eip:Eip",), r"domain", model_enum("ec2", "DomainType"), "botocore ec2 DomainType"),
    Rule(
        ("aws:ec2/natGateway:NatGateway",),
        r"connectivityType",
        model_enum("ec2", "ConnectivityType"),
        "botocore ec2 ConnectivityType",
    ),
    # -- S3: the access log bucket -------------------------------------------------------------------------
    Rule(
        (BUCKET,),
        r"<name>",
        lambda _, res: S3_BUCKET_NAME(f"{res.name}-abcdefg", res),
        "S3 User Guide, bucket naming rules",
    ),
    Rule((BUCKET,), r"tags\.<key>", model_string("s3", "ObjectKey"), "S3 tags: keys 1..128 (checked loosely)"),
    Rule(
        (BUCKET,),
        r"tags\[.+\]",
        lambda v, _: None if len(str(v)) <= 256 else "S3 tag values are at most 256 characters",
        "S3 User Guide, bucket tagging: values up to 256",
    ),
    Rule(
        (BUCKET_OWNERSHIP,),
        r"rule\.objectOwnership",
        model_enum("s3", "ObjectOwnership"),
        "botocore s3 ObjectOwnership",
    ),
    Rule(
        (BUCKET_ENCRYPTION,),
        r"rules\[\d+\]\.applyServerSideEncryptionByDefault\.sseAlgorithm",
        matches("AES256", "AES256"),
        "ELB User Guide, access logs: the bucket must use SSE-S3 (AES256); SSE-KMS is not supported",
    ),
    Rule((BUCKET_LIFECYCLE,), r"rules\[\d+\]\.id", charset(r"\x20-\x7e", 255), "S3 LifecycleRule ID: up to 255"),
    Rule((BUCKET_LIFECYCLE,), r"rules\[\d+\]\.status", model_enum("s3", "ExpirationStatus"), "botocore s3"),
    Rule((BUCKET_LIFECYCLE,), r"rules\[\d+\]\.expiration\.days", between(1, 2147483647), "S3 Expiration Days >= 1"),
    Rule(
        (BUCKET_LIFECYCLE,),
        r"rules\[\d+\]\.filter\.prefix",
        lambda v, _: None if len(str(v).encode()) <= 1024 else "an S3 key prefix is at most 1024 bytes",
        "S3 object keys: up to 1024 bytes",
    ),
    Rule(
        (BUCKET_POLICY,),
        r"policy",
        lambda v, _: None if len(str(v).encode()) <= 20480 else "a bucket policy is at most 20 KB",
        "S3 User Guide, bucket policies: up to 20 KB",
    ),
    # -- ELB --------------------------------------------------------------------------------------------
    Rule((LB,), r"<name>", autoname(32), "ELB: names up to 32 alphanumerics and hyphens"),
    Rule(
        (LB,),
        r"accessLogs\.prefix",
        lambda v, _: (
            None
            if "AWSLogs" not in str(v) and not str(v).startswith("/") and not str(v).endswith("/")
            else f"an access log prefix may not contain AWSLogs nor start or end with /, got {v!r}"
        ),
        "ELB User Guide, access logs: the prefix must not include AWSLogs (and has no leading or trailing /)",
    ),
    Rule((LB,), r"accessLogs\.bucket", S3_BUCKET_NAME, "S3 bucket naming rules"),
    Rule((LB,), r"loadBalancerType", model_enum("elbv2", "LoadBalancerTypeEnum"), "botocore elbv2"),
    Rule((TG,), r"<name>", autoname(32), "ELB: target group names up to 32 alphanumerics and hyphens"),
    Rule((TG, LISTENER), r"port", model_range("elbv2", "Port"), "botocore elbv2 Port"),
    Rule((TG, LISTENER), r"protocol", model_enum("elbv2", "ProtocolEnum"), "botocore elbv2 ProtocolEnum"),
    Rule((TG,), r"targetType", model_enum("elbv2", "TargetTypeEnum"), "botocore elbv2"),
    Rule((TG,), r"healthCheck\.path", model_string("elbv2", "Path"), "botocore elbv2 Path"),
    Rule((TG,), r"healthCheck\.interval", model_range("elbv2", "HealthCheckIntervalSeconds"), "botocore elbv2"),
    Rule(
        (TG,),
        r"healthCheck\.timeout",
        every(model_range("elbv2", "HealthCheckTimeoutSeconds"), _timeout_below_interval),
        "botocore elbv2; ELB guide: timeout < interval",
    ),
    Rule(
        (TG,),
        r"healthCheck\.(healthyThreshold|unhealthyThreshold)",
        model_range("elbv2", "HealthCheckThresholdCount"),
        "botocore elbv2",
    ),
    Rule((TG,), r"healthCheck\.matcher", _matcher, "ELB Matcher HttpCode: 200..499 for ALB HTTP health checks"),
    Rule((TG,), r"healthCheck\.protocol", model_enum("elbv2", "ProtocolEnum"), "botocore elbv2"),
    Rule(
        (TG,), r"healthCheck\.port", matches(r"traffic-port|\d{1,5}", "traffic-port or a port"), "ELB HealthCheckPort"
    ),
    Rule((TG,), r"deregistrationDelay", between(0, 3600), "ELB target group attributes: deregistration_delay 0..3600"),
    Rule((LISTENER,), r"defaultActions\[\d+\]\.type", model_enum("elbv2", "ActionTypeEnum"), "botocore elbv2"),
    Rule(
        (LISTENER,),
        r"defaultActions\[\d+\]\.forward\.targetGroups\[\d+\]\.weight",
        between(0, 999),
        "ELB TargetGroupTuple Weight 0..999",
    ),
    Rule(
        (LISTENER,),
        r"defaultActions\[\d+\]\.forward\.targetGroups",
        lambda v, _: None if 1 <= len(v) <= 5 else "1..5 target groups",
        "ELB ForwardActionConfig: up to 5",
    ),
    Rule(
        (LISTENER,),
        r"defaultActions\[\d+\]\.forward\.stickiness\.duration",
        between(1, 604800),
        "ELB TargetGroupStickinessConfig DurationSeconds",
    ),
    Rule(
        (LISTENER,),
        r"defaultActions\[\d+\]\.redirect\.statusCode",
        model_enum("elbv2", "RedirectActionStatusCodeEnum"),
        "botocore elbv2",
    ),
    Rule(
        (LISTENER,),
        r"defaultActions\[\d+\]\.redirect\.protocol",
        matches("HTTP|HTTPS|#\\{protocol\\}", "HTTP, HTTPS or #{protocol}"),
        "ELB RedirectActionConfig",
    ),
    Rule(
        (LISTENER,),
        r"defaultActions\[\d+\]\.redirect\.port",
        matches(r"\d{1,5}|#\{port\}", "a port or #{port}"),
        "ELB RedirectActionConfig",
    ),
    Rule(
        (LISTENER,),
        r"sslPolicy",
        matches(r"ELBSecurityPolicy-[A-Za-z0-9-]+", "an ELB security policy"),
        "ELB security policies",
    ),
    Rule(
        (LISTENER,),
        r"certificateArn",
        matches(r"arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[A-Za-z0-9-]+", "an ACM ARN"),
        "ACM ARNs",
    ),
    Rule((RULE,), r"priority", model_range("elbv2", "RulePriority"), "botocore elbv2 RulePriority"),
    Rule((RULE,), r"actions\[\d+\]\.type", model_enum("elbv2", "ActionTypeEnum"), "botocore elbv2"),
    Rule(
        (RULE,),
        r"conditions\[\d+\]\.httpHeader\.httpHeaderName",
        lambda v, _: None if 1 <= len(v) <= 40 else "header names are 1..40 characters",
        "ELB HttpHeaderConditionConfig: up to 40 characters",
    ),
    Rule(
        (RULE,),
        r"conditions\[\d+\]\.httpHeader\.values\[\d+\]",
        lambda v, _: None if 1 <= len(str(v)) <= 128 else "header values are 1..128 characters",
        "ELB HttpHeaderConditionConfig values: up to 128 characters",
    ),
    Rule(
        (RULE,),
        r"conditions",
        lambda v, _: (
            None
            if sum(len(c.get("httpHeader", {}).get("values", [])) for c in v) <= 5
            else "more than 5 condition values"
        ),
        "ELB quotas: condition values per rule 5",
    ),
    # -- Auto Scaling -----------------------------------------------------------------------------------
    Rule((ASG,), r"<name>", autoname(255, r"\u0020-\uD7FF"), "botocore autoscaling XmlStringMaxLen255"),
    Rule((ASG,), r"(minSize|maxSize)", between(0, 10000), "Auto Scaling quotas"),
    Rule((ASG,), r"desiredCapacity", _desired_within_bounds, "Auto Scaling: min <= desired <= max"),
    Rule(
        (ASG,),
        r"healthCheckType",
        matches("EC2|ELB|VPC_LATTICE|EBS", "EC2, ELB, VPC_LATTICE or EBS"),
        "Auto Scaling HealthCheckType",
    ),
    Rule((ASG,), r"healthCheckGracePeriod", between(0, 7200), "Auto Scaling HealthCheckGracePeriod"),
    Rule((ASG,), r"waitForCapacityTimeout", _go_duration, "terraform-provider-aws: a Go duration"),
    Rule(
        (ASG,),
        r"waitForElbCapacity",
        lambda v, res: None if 0 <= v <= res.inputs["desiredCapacity"] else "above desiredCapacity",
        "terraform-provider-aws group.go: waits for exactly this many",
    ),
    Rule(
        (ASG,),
        r"launchTemplate\.version",
        matches(r"\d+|\$Latest|\$Default", "a version"),
        "EC2 LaunchTemplateSpecification",
    ),
    # -- CloudWatch -------------------------------------------------------------------------------------
    Rule(
        (ALARM,),
        r"<name>",
        lambda _, res: model_string("cloudwatch", "AlarmName")(f"{res.name}-abcdefg", res),
        "botocore cloudwatch AlarmName",
    ),
    # The alarms are named (the release-health rule names them): PutMetricAlarm / PutCompositeAlarm AlarmName.
    Rule((ALARM,), r"name", model_string("cloudwatch", "AlarmName"), "botocore cloudwatch AlarmName"),
    Rule((COMPOSITE,), r"alarmName", model_string("cloudwatch", "AlarmName"), "botocore cloudwatch AlarmName"),
    Rule(
        (ALARM, COMPOSITE),
        r"alarmDescription",
        model_string("cloudwatch", "AlarmDescription"),
        "botocore cloudwatch AlarmDescription",
    ),
    Rule((COMPOSITE,), r"alarmRule", model_string("cloudwatch", "AlarmRule"), "botocore cloudwatch AlarmRule"),
    Rule((ALARM,), r"metricName", model_string("cloudwatch", "MetricName"), "botocore cloudwatch MetricName"),
    Rule((ALARM,), r"namespace", model_string("cloudwatch", "Namespace"), "botocore cloudwatch Namespace"),
    Rule(
        (ALARM,), r"dimensions\.<key>", model_string("cloudwatch", "DimensionName"), "botocore cloudwatch DimensionName"
    ),
    Rule(
        (ALARM,),
        r"dimensions\[.+\]",
        model_string("cloudwatch", "DimensionValue"),
        "botocore cloudwatch DimensionValue",
    ),
    Rule(
        (ALARM,),
        r"(evaluationPeriods|datapointsToAlarm)",
        model_range("cloudwatch", "EvaluationPeriods"),
        "botocore cloudwatch",
    ),
    Rule((ALARM,), r"period", _alarm_period, "CloudWatch PutMetricAlarm Period"),
    Rule(
        (ALARM,),
        r"threshold",
        lambda v, _: None if isinstance(v, int | float) else "not a number",
        "CloudWatch Threshold",
    ),
    Rule((ALARM,), r"comparisonOperator", model_enum("cloudwatch", "ComparisonOperator"), "botocore cloudwatch"),
    Rule((ALARM,), r"statistic", model_enum("cloudwatch", "Statistic"), "botocore cloudwatch"),
    Rule((ALARM,), r"extendedStatistic", _extended_statistic, "CloudWatch percentile statistics"),
    Rule(
        (ALARM,),
        r"treatMissingData",
        matches("breaching|notBreaching|ignore|missing", "a TreatMissingData value"),
        "CloudWatch",
    ),
    Rule((ALARM,), r"unit", model_enum("cloudwatch", "StandardUnit"), "botocore cloudwatch"),
    Rule(
        (ALARM,),
        r"metricQueries\[\d+\]\.id",
        matches(r"[a-z][a-zA-Z0-9_]*", "a lower-case-first id"),
        "CloudWatch MetricDataQuery Id",
    ),
    Rule(
        (ALARM,),
        r"metricQueries\[\d+\]\.expression",
        lambda v, _: None if len(str(v)) <= 2048 else "too long",
        "CloudWatch Expression: up to 2048",
    ),
    Rule(
        (ALARM,),
        r"metricQueries\[\d+\]\.label",
        lambda v, _: None if len(str(v)) <= 1024 else "too long",
        "CloudWatch Label",
    ),
    Rule(
        (ALARM,),
        r"metricQueries\[\d+\]\.metric\.metricName",
        model_string("cloudwatch", "MetricName"),
        "botocore cloudwatch",
    ),
    Rule(
        (ALARM,),
        r"metricQueries\[\d+\]\.metric\.namespace",
        model_string("cloudwatch", "Namespace"),
        "botocore cloudwatch",
    ),
    Rule((ALARM,), r"metricQueries\[\d+\]\.metric\.period", _alarm_period, "CloudWatch Period"),
    Rule(
        (ALARM,),
        r"metricQueries\[\d+\]\.metric\.stat",
        matches(r"[A-Za-z]+|p\d{1,2}(\.\d+)?", "a statistic"),
        "CloudWatch Stat",
    ),
    Rule(
        (ALARM,),
        r"metricQueries\[\d+\]\.metric\.dimensions\.<key>",
        model_string("cloudwatch", "DimensionName"),
        "botocore",
    ),
    Rule(
        (ALARM,),
        r"metricQueries\[\d+\]\.metric\.dimensions\[.+\]",
        model_string("cloudwatch", "DimensionValue"),
        "botocore",
    ),
    # PutDashboard DashboardName: "up to 255 characters ... valid characters are A-Z, a-z, 0-9, '-', and '_'".
    Rule((DASHBOARD,), r"dashboardName", charset(r"A-Za-z0-9_\-", 255), "CloudWatch PutDashboard DashboardName"),
    Rule(
        (DASHBOARD,),
        r"dashboardBody",
        lambda v, _: None if len(str(v)) <= 1024 * 1024 else "too large",
        "CloudWatch: dashboard body up to 1 MB",
    ),
    Rule(
        ("random:index/randomPassword:RandomPassword",),
        r"length",
        between(1, 128),
        "a header value: up to 128 characters",
    ),
    # -- the guardian ------------------------------------------------------------------------------------
    Rule((FUNCTION,), r"handler", model_string("lambda", "Handler"), "botocore lambda Handler"),
    Rule((FUNCTION,), r"runtime", model_enum("lambda", "Runtime"), "botocore lambda Runtime"),
    Rule((FUNCTION,), r"timeout", model_range("lambda", "Timeout"), "botocore lambda Timeout"),
    Rule((FUNCTION,), r"memorySize", model_range("lambda", "MemorySize"), "botocore lambda MemorySize"),
    Rule(
        (FUNCTION,),
        r"reservedConcurrentExecutions",
        model_range("lambda", "ReservedConcurrentExecutions"),
        "botocore lambda ReservedConcurrentExecutions",
    ),
    Rule((FUNCTION,), r"loggingConfig\.logFormat", model_enum("lambda", "LogFormat"), "botocore lambda LogFormat"),
    Rule((FUNCTION,), r"tags\.<key>", LAMBDA_TAG_KEY, "botocore lambda TagKey"),
    Rule((FUNCTION,), r"tags\[.+\]", LAMBDA_TAG_VALUE, "botocore lambda TagValue"),
    Rule((PERMISSION,), r"action", model_string("lambda", "Action"), "botocore lambda Action"),
    Rule((PERMISSION,), r"principal", model_string("lambda", "Principal"), "botocore lambda Principal"),
    Rule((ROLE_POLICY,), r"policy", model_string("iam", "policyDocumentType"), "botocore iam policyDocumentType"),
    Rule((PARAMETER,), r"name", model_string("ssm", "PSParameterName"), "botocore ssm PSParameterName"),
    Rule((PARAMETER,), r"description", model_string("ssm", "ParameterDescription"), "botocore ssm"),
    Rule((PARAMETER,), r"tier", model_enum("ssm", "ParameterTier"), "botocore ssm ParameterTier"),
    Rule((PARAMETER,), r"type", model_enum("ssm", "ParameterType"), "botocore ssm ParameterType"),
    Rule((PARAMETER,), r"value(\.value)?", SSM_STANDARD_VALUE, "SSM PutParameter Value, Standard tier"),
    Rule((PARAMETER,), r"tags\.<key>", SSM_TAG_KEY, "botocore ssm TagKey"),
    Rule((PARAMETER,), r"tags\[.+\]", SSM_TAG_VALUE, "botocore ssm TagValue"),
    Rule((TOPIC,), r"tags\.<key>", SNS_TAG_KEY, "botocore sns TagKey"),
    Rule((TOPIC,), r"tags\[.+\]", SNS_TAG_VALUE, "botocore sns TagValue"),
    Rule(
        (SUBSCRIPTION,),
        r"protocol",
        lambda v, _: None if v in ("email", "https") else f"not one of the protocols the program uses: {v!r}",
        "SNS Subscribe Protocol (email, https among others)",
    ),
    Rule((EVENT_RULE,), r"description", model_string("events", "RuleDescription"), "botocore events RuleDescription"),
    Rule((EVENT_RULE,), r"eventPattern", model_string("events", "EventPattern"), "botocore events EventPattern"),
    # A rate expression's unit is singular for 1 ("rate(1 minute)") and plural above; EventBridge refuses
    # "rate(1 minutes)" (EventBridge user guide, "Creating a rule that runs on a schedule").
    Rule(
        (EVENT_RULE,),
        r"scheduleExpression",
        every(
            model_string("events", "ScheduleExpression"),
            matches(
                r"rate\(1 (minute|hour|day)\)|rate\(([2-9]|[1-9][0-9]+) (minutes|hours|days)\)|cron\(.+\)",
                "a rate or cron expression",
            ),
        ),
        "botocore events ScheduleExpression; EventBridge user guide, schedule expressions",
    ),
    Rule((EVENT_RULE,), r"state", model_enum("events", "RuleState"), "botocore events RuleState"),
    Rule((EVENT_RULE,), r"tags\.<key>", EVENTS_TAG_KEY, "botocore events TagKey"),
    Rule((EVENT_RULE,), r"tags\[.+\]", EVENTS_TAG_VALUE, "botocore events TagValue"),
    Rule(
        (LOG_GROUP,),
        r"retentionInDays",
        lambda v, _: None if v in LOG_RETENTION_DAYS else f"not a retention CloudWatch Logs accepts: {v!r}",
        "CloudWatch Logs PutRetentionPolicy retentionInDays",
    ),
    Rule((LOG_GROUP,), r"tags\.<key>", LOGS_TAG_KEY, "botocore logs TagKey"),
    Rule((LOG_GROUP,), r"tags\[.+\]", LOGS_TAG_VALUE, "botocore logs TagValue"),
)

# Leaves no AWS rule constrains beyond their type, each reviewed.
REVIEWED: tuple[tuple[str, str, str], ...] = (
    (
        "*",
        r"(.*\.)?(enabled|encrypted|deleteOnTermination|associatePublicIpAddress|propagateAtLaunch|returnData)",
        "booleans (sent as booleans or 'true'/'false')",
    ),
    ("*", r"(.*\.)?[a-zA-Z]*(Arn|Id|arn)", "references to other resources' ids and ARNs, which AWS itself generated"),
    (
        LB,
        r"(internal|dropInvalidHeaderFields|enableDeletionProtection|securityGroups\[\d+\]|subnets\[\d+\])",
        "booleans and references",
    ),
    (BUCKET, r"forceDestroy", "a provider option (empty the bucket on delete), not sent to AWS"),
    (BUCKET_PUBLIC_ACCESS, r"(blockPublicAcls|blockPublicPolicy|ignorePublicAcls|restrictPublicBuckets)", "booleans"),
    *(
        (t, r"bucket", "the bucket's own name")
        for t in (BUCKET_OWNERSHIP, BUCKET_PUBLIC_ACCESS, BUCKET_ENCRYPTION, BUCKET_LIFECYCLE, BUCKET_POLICY)
    ),
    ("aws:ec2/route:Route", r"natGatewayId", "the NAT gateway's own id"),
    (LT, r"updateDefaultVersion", "a provider option, not sent to AWS"),
    (LT, r"networkInterfaces\[\d+\]\.(deviceIndex|securityGroups\[\d+\])", "index 0 and security group references"),
    (LT, r"iamInstanceProfile\.arn", "the instance profile's own ARN"),
    (ATTACHMENT, r"role", "the role's own name"),
    (PROFILE, r"role", "the role's own name"),
    (ASG, r"(vpcZoneIdentifiers|targetGroupArns)\[\d+\]", "subnet and target group references"),
    (ASG, r"launchTemplate\.id", "a launch template reference"),
    ("aws:ec2/vpc:Vpc", r"(enableDnsHostnames|enableDnsSupport)", "booleans"),
    ("aws:ec2/subnet:Subnet", r"(availabilityZone|mapPublicIpOnLaunch)", "a zone from getAvailabilityZones, a boolean"),
    ("aws:ec2/route:Route", r"destinationCidrBlock", "0.0.0.0/0"),
    (LISTENER, r"defaultActions\[\d+\]\.forward\.stickiness\.enabled", "boolean"),
    (RULE, r"listenerArn|actions\[\d+\]\.targetGroupArn", "references"),
    (TG, r"healthCheck\.enabled", "boolean"),
    (ALARM, r"(alarmActions|okActions|insufficientDataActions)\[\d+\]", "SNS/Lambda ARNs"),
    ("random:index/randomPassword:RandomPassword", r"(special|upper|lower|numeric)", "booleans"),
    (
        "random:index/randomPassword:RandomPassword",
        r"keepers\.generation",
        "previewTokenGeneration as text: read by the random provider (a new value, a new token), never sent to AWS",
    ),
    (FUNCTION, r"code\.archive\..+", "the guardian's files, zipped by the engine (a few KB; Lambda allows 50 MB)"),
    (
        FUNCTION,
        r"role|environment\.variables\..+",
        "references: the role's ARN, the parameters' names, the topic ARN",
    ),
    (PERMISSION, r"function", "the function's own name"),
    ("aws:cloudwatch/eventTarget:EventTarget", r"rule", "the rule's own name"),
    (ROLE_POLICY, r"role", "the role's own id"),
    (
        PARAMETER,
        r"value\.4dabf18193072939515e22adb298388d",
        "the SDK's secret marker: pulumi-aws keeps the value secret",
    ),
    (SUBSCRIPTION, r"topic|endpoint", "the topic's ARN; endpoints are checked in config (guardianSubscriptions)"),
    (
        "pulumi-python:dynamic/bluegreen:TrafficGate",
        r".*",
        "the traffic gate's own inputs (bluegreen.gate): read by its provider where `pulumi up` runs, never sent to "
        "AWS; it sends AWS only DescribeTargetHealth with the target group ARN",
    ),
)


@dataclass(frozen=True)
class Leaf:
    path: str  # e.g. tags.team, tags.<key> for the key itself
    value: Any


def leaves(value: Any, path: str = "") -> Iterator[Leaf]:
    """Flattened inputs; tags and dimensions as `tags[<key>]` for each value and `tags.<key>` for each key."""
    if isinstance(value, Mapping):
        if path.rsplit(".", maxsplit=1)[-1] in (
            "tags",
            "dimensions",
        ):  # user-chosen keys: `tags[<key>]`, keys as `tags.<key>`
            for key, item in value.items():
                yield Leaf(f"{path}.<key>", key)
                yield Leaf(f"{path}[{key}]", item)
            return
        for key, item in value.items():
            yield from leaves(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        yield Leaf(path, value)
        for index, item in enumerate(value):
            yield from leaves(item, f"{path}[{index}]")
    elif value is not None:
        yield Leaf(path, value)


def _governing(res: Registered, path: str) -> list[Rule]:
    return [r for r in RULES if res.type in r.types and re.fullmatch(r.path, path)]


def violations(recording: Recording) -> list[str]:
    """Every value AWS would refuse, as `<resource> <path>: <problem> (<source>)`."""
    found = []
    for res in recording.resources:
        if not res.custom:
            continue
        subjects = [Leaf("<name>", res.name), *leaves(res.inputs)]
        for leaf in subjects:
            for rule in _governing(res, leaf.path):
                problem = rule.check(leaf.value, res)
                if problem is not None:
                    found.append(f"{res.name} {leaf.path}: {problem} ({rule.source})")
        tag_count = len(res.inputs.get("tags") or [])
        if tag_count > 50:
            found.append(f"{res.name} tags: {tag_count} tags; AWS allows 50 user tags per resource")
    return found + gate_url_problems(recording)


def unreviewed(recording: Recording) -> set[tuple[str, str]]:
    """(type, path) of scalar leaves that no rule governs and nobody reviewed."""
    missing = set()
    for res in recording.resources:
        if not res.custom:
            continue
        for leaf in leaves(res.inputs):
            if isinstance(leaf.value, list | dict):
                continue
            if _governing(res, leaf.path):
                continue
            if any(t in ("*", res.type) and re.fullmatch(p, leaf.path) for t, p, _ in REVIEWED):
                continue
            missing.add((res.type, re.sub(r"\[\d+\]", "[*]", leaf.path)))
    return missing


# -- account quotas ---------------------------------------------------------------------------------------------
# A value can pass every rule above and still be refused because the account has run out of something. The
# quotas below are those a new account has, with their sources; `quota_problems()` checks the program's requests
# against them, for this stack alone (other stacks in the account use the same quotas, so this is a floor).
@dataclass(frozen=True)
class Quota:
    what: str
    new_account: int  # the value a new account starts with
    source: str


LAMBDA_CONCURRENCY = "lambda-concurrent-executions"
EIPS_PER_REGION = "elastic-ips-per-region"
NATS_PER_ZONE = "nat-gateways-per-zone"
RULES_PER_ALB = "rules-per-alb"
TARGET_GROUPS_PER_ACTION = "target-groups-per-action"
# Lambda keeps this much of the account's concurrency unreserved: a reservation may take only the rest.
LAMBDA_UNRESERVED_MINIMUM = 100

QUOTAS: Mapping[str, Quota] = {
    LAMBDA_CONCURRENCY: Quota(
        "Lambda concurrent executions per Region (the account's concurrency; reservations may take all but 100)",
        10,
        "Lambda developer guide, 'Configuring reserved concurrency': 'You can reserve up to the Unreserved account "
        "concurrency value that is shown, minus 100'; PutFunctionConcurrency: leave at least 100 unreserved. New "
        "accounts start at 10 or 50 (aws-samples/one-observability-demo#278; Gruntwork knowledge base #215: "
        "'decreases account's UnreservedConcurrentExecution below its minimum value of [50]')",
    ),
    EIPS_PER_REGION: Quota(
        "Elastic IP addresses per Region",
        5,
        "Amazon VPC User Guide, 'Amazon VPC quotas': Elastic IP addresses per Region, 5",
    ),
    NATS_PER_ZONE: Quota(
        "NAT gateways per Availability Zone",
        5,
        "Amazon VPC User Guide, 'Amazon VPC quotas': NAT gateways per Availability Zone, 5",
    ),
    RULES_PER_ALB: Quota(
        "Rules per Application Load Balancer (not counting default rules)",
        100,
        "ELB User Guide, 'Quotas for your Application Load Balancers': rules per load balancer (excluding default "
        "rules), 100",
    ),
    TARGET_GROUPS_PER_ACTION: Quota(
        "Target groups per action per Application Load Balancer",
        5,
        "ELB User Guide, 'Quotas for your Application Load Balancers': target groups per action, 5 (not adjustable)",
    ),
}
NEW_ACCOUNT: Mapping[str, int] = {name: quota.new_account for name, quota in QUOTAS.items()}


def _forward_target_groups(actions: Any) -> Iterator[int]:
    """How many target groups each forward action names (a `targetGroupArn` is one)."""
    for action in actions or []:
        if action.get("type") != "forward":
            continue
        groups = (action.get("forward") or {}).get("targetGroups")
        yield len(groups) if groups else 1


def quota_usage(recording: Recording) -> dict[str, tuple[int, str]]:
    """The most the program uses of each quota (per Region, per zone, per load balancer, per action), and where."""
    resources = [r for r in recording.resources if r.custom]

    def most(counts: Mapping[str, list[str]]) -> tuple[int, str]:
        where, names = max(counts.items(), key=lambda item: len(item[1]), default=("-", []))
        return len(names), f"{where}: {', '.join(names)}" if names else "none"

    # Lambda: unset is the provider's -1, no reservation; 0 would reserve nothing and stop the function.
    reserved = {
        r.name: int(r.inputs["reservedConcurrentExecutions"])
        for r in resources
        if r.type == FUNCTION and int(r.inputs.get("reservedConcurrentExecutions", -1)) > 0
    }
    eips = [r.name for r in resources if r.type == "aws:ec2/eip:Eip"]
    zones = {
        r.outputs.get("id"): r.inputs.get("availabilityZone") for r in resources if r.type == "aws:ec2/subnet:Subnet"
    }
    nats: dict[str, list[str]] = {}
    for nat in (r for r in resources if r.type == "aws:ec2/natGateway:NatGateway"):
        nats.setdefault(str(zones.get(nat.inputs.get("subnetId"), "<unknown zone>")), []).append(nat.name)
    albs = {r.outputs.get("arn"): str(r.inputs.get("loadBalancerArn")) for r in resources if r.type == LISTENER}
    rules: dict[str, list[str]] = {}
    for rule in (r for r in resources if r.type == RULE):
        rules.setdefault(albs.get(rule.inputs.get("listenerArn"), "<unknown load balancer>"), []).append(rule.name)
    actions = [
        (count, r.name)
        for r in resources
        if r.type in (LISTENER, RULE)
        for count in _forward_target_groups(r.inputs.get("defaultActions" if r.type == LISTENER else "actions"))
    ]
    widest = max(actions, default=(0, "none"))
    return {
        LAMBDA_CONCURRENCY: (
            sum(reserved.values()),
            ", ".join(f"{name} reserves {value}" for name, value in reserved.items()) or "none",
        ),
        EIPS_PER_REGION: (len(eips), ", ".join(eips) or "none"),
        NATS_PER_ZONE: most(nats),
        RULES_PER_ALB: most(rules),
        TARGET_GROUPS_PER_ACTION: widest,
    }


def quota_problems(recording: Recording, account: Mapping[str, int] = NEW_ACCOUNT) -> list[str]:
    """What `account`'s quotas refuse of what the program asks for, as `<quota>: <problem> (<source>)`."""
    found = []
    for name, (used, where) in quota_usage(recording).items():
        # Lambda keeps LAMBDA_UNRESERVED_MINIMUM unreserved; a reservation may take only the rest.
        limit = max(0, account[name] - LAMBDA_UNRESERVED_MINIMUM) if name == LAMBDA_CONCURRENCY else account[name]
        if used > limit:
            found.append(f"{QUOTAS[name].what}: {used} ({where}), more than {limit} ({QUOTAS[name].source})")
    return found
