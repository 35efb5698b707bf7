"""One colour: target group, launch template and Auto Scaling Group, built from its release spec."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from bluegreen.contract import (
    COLOR_TAG,
    IMAGE_ID_TAG,
    RELEASE_TAG,
    SCHEMA_VERSIONS_TAG,
    SPEC_TAG,
    STACK_TAG,
    SUBNET_TIER_TAG,
    Color,
    type_token,
)
from bluegreen.release_spec import settings_fingerprint_of
from bluegreen.schema_rule import encode_schema_versions
from bluegreen.settings import ColorSpec, FleetSpec
from bluegreen.user_data import user_data as render_boot_script

from .router import PREVIEW_PRIORITY, preview_conditions


@dataclass(frozen=True)
class ResolvedRelease:
    """A colour's release with its image resolved to an AMI id."""

    label: str
    image_id: str
    schema_versions: tuple[int, ...] = ()
    root_device_name: str = "/dev/xvda"  # the image's own, from DescribeImages
    boot_script: str = ""  # a template (bluegreen.user_data); "" = the demo app


@dataclass(frozen=True)
class EnvironmentArgs:
    """Both colours share `fleet` (capacity); `spec` and `release` are the colour's own release spec."""

    color: Color
    fleet: FleetSpec
    spec: ColorSpec
    release: ResolvedRelease
    vpc_id: pulumi.Input[str]
    subnet_ids: pulumi.Input[Sequence[str]]
    subnet_tier: str  # "public" or "private": only public subnets give instances a public IP
    instance_security_group_id: pulumi.Input[str]
    # The load balancer's warm-up listener and the preview token: the colour's warm-up rule keeps its
    # target group in use (health-checked) before its ASG waits for healthy capacity.
    warmup_listener_arn: pulumi.Input[str] = ""
    preview_token: pulumi.Input[str] = ""
    # The token the last update exported: during a rotation the warm-up rule, like the preview rules,
    # takes both, so blue and green stay twins of the preview rules they mirror.
    deployed_preview_token: pulumi.Input[str] | None = None
    scaled_down: bool = False  # explicit idleScaledDown: no instances, no rollback target
    tags: Mapping[str, str] = field(default_factory=dict)
    # The instances' IAM instance profile (ARN), when the service made one; created before the template.
    instance_profile_arn: pulumi.Input[str] | None = None
    instance_profile_ready: Sequence[pulumi.Resource] = ()  # its role's policy attachments
    # The security group rules that let the ALB reach `spec.app_port`: the ASG's health wait needs them.
    reachable_after: Sequence[pulumi.Resource] = ()


class Environment(pulumi.ComponentResource):
    target_group: aws.lb.TargetGroup
    warmup_rule: aws.lb.ListenerRule
    launch_template: aws.ec2.LaunchTemplate
    asg: aws.autoscaling.Group
    user_data_hash: str

    def __init__(self, name: str, args: EnvironmentArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(type_token("Environment"), name, None, opts)
        fleet, spec, release = args.fleet, args.spec, args.release
        child = pulumi.ResourceOptions(parent=self)
        spec_tag = settings_fingerprint_of(spec)

        def own_tags(role: str) -> dict[str, str]:
            return {
                "Name": f"{name}-{role}",
                COLOR_TAG: args.color,
                RELEASE_TAG: release.label,
                IMAGE_ID_TAG: release.image_id,
                SUBNET_TIER_TAG: args.subnet_tier,
                SPEC_TAG: spec_tag,
            }

        def tags(role: str) -> dict[str, str]:
            return {**args.tags, **own_tags(role)}

        # Schema support is a declaration about the release, not part of what runs: it goes on
        # the target group and ASG (in place), never on the launch template, so declaring it
        # does not rebuild a fleet.
        schema = {SCHEMA_VERSIONS_TAG: encode_schema_versions(release.schema_versions)}

        hc = spec.health_check
        self.target_group = aws.lb.TargetGroup(
            f"{name}-tg",
            vpc_id=args.vpc_id,
            port=spec.app_port,
            protocol="HTTP",
            target_type="instance",
            deregistration_delay=spec.deregistration_delay_seconds,
            health_check={
                "enabled": True,
                "path": hc.path,
                "port": "traffic-port",
                "protocol": "HTTP",
                "matcher": hc.matcher,
                "interval": hc.interval_seconds,
                "timeout": hc.timeout_seconds,
                "healthy_threshold": hc.healthy_threshold,
                "unhealthy_threshold": hc.unhealthy_threshold,
            },
            tags={**tags("tg"), **schema},
            opts=child,
        )
        self.warmup_rule = aws.lb.ListenerRule(
            f"{name}-warmup",
            listener_arn=args.warmup_listener_arn,
            priority=PREVIEW_PRIORITY[args.color],
            actions=[{"type": "forward", "target_group_arn": self.target_group.arn}],
            conditions=preview_conditions(args.color, args.preview_token, args.deployed_preview_token),
            # No release tags: staging must not touch the route.
            tags={**args.tags, "Name": f"{name}-warmup", COLOR_TAG: args.color},
            opts=child,
        )
        public_ip = "true" if args.subnet_tier == "public" else "false"
        user_data = render_boot_script(release.boot_script, release.label, spec.app_port, hc.path)
        # What runs on the colour, for the release tool's "verified for exactly this" record.
        self.user_data_hash = hashlib.sha256(user_data.encode()).hexdigest()
        self.launch_template = aws.ec2.LaunchTemplate(
            f"{name}-lt",
            image_id=release.image_id,
            instance_type=spec.instance_type,
            user_data=user_data,
            update_default_version=True,
            metadata_options={
                "http_endpoint": "enabled",
                "http_tokens": "required",
                "http_put_response_hop_limit": 1,
            },
            # Only when on: a template without the block is what every colour ran before the setting existed.
            monitoring={"enabled": True} if spec.detailed_monitoring else None,
            block_device_mappings=[
                {
                    "device_name": release.root_device_name,
                    "ebs": {
                        "volume_size": spec.root_volume_size_gb,
                        "volume_type": "gp3",
                        "encrypted": "true",
                        "delete_on_termination": "true",
                    },
                }
            ],
            network_interfaces=[
                {
                    "device_index": 0,
                    "associate_public_ip_address": public_ip,
                    # Sorted, as the colour's spec has them (a set for EC2 and the provider), so a colour rebuilt
                    # from its deployed spec lists them as it did.
                    "security_groups": [args.instance_security_group_id, *sorted(spec.extra_security_group_ids)],
                    "delete_on_termination": "true",
                }
            ],
            # Template data: only what changes with the release, so a user tag edit never makes a
            # new version (which would rebuild both fleets). User tags reach instances from the ASG.
            tag_specifications=[
                {"resource_type": "instance", "tags": own_tags("instance")},
                {"resource_type": "volume", "tags": own_tags("volume")},
            ],
            # The template's own tags carry no user tags either: Terraform marks `latest_version` unknown on
            # any template change but name, description and default version, so a tag edit here would
            # preview as a replacement of both Auto Scaling groups.
            # The stack tag (constant for a stack) is the one exception: the deploy role may modify and
            # delete only templates that carry it. Adding it to a deployed template previews, once, as
            # unknown `latest_version`; the apply writes the tag and makes no new version.
            tags={**own_tags("lt"), **{k: v for k, v in args.tags.items() if k == STACK_TAG}},
            # The provider waits out IAM's eventual consistency for a new profile (terraform-provider-aws
            # #5633, #40088); depending on the policy attachments means instances boot with their permissions.
            iam_instance_profile={"arn": args.instance_profile_arn} if args.instance_profile_arn is not None else None,
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.instance_profile_ready)),
        )
        desired = 0 if args.scaled_down else fleet.desired_capacity
        self.asg = aws.autoscaling.Group(
            f"{name}-asg",
            min_size=0 if args.scaled_down else fleet.min_size,
            max_size=fleet.max_size,
            desired_capacity=desired,
            vpc_zone_identifiers=args.subnet_ids,
            target_group_arns=[self.target_group.arn],
            health_check_type="ELB",
            health_check_grace_period=spec.health_check_grace_period_seconds,
            # `pulumi up` fails unless this many targets turn healthy, so a broken release never
            # becomes a flip candidate.
            wait_for_elb_capacity=desired,
            wait_for_capacity_timeout=spec.capacity_timeout,
            launch_template={"id": self.launch_template.id, "version": self.launch_template.latest_version.apply(str)},
            tags=[
                {"key": k, "value": v, "propagate_at_launch": k in args.tags}
                for k, v in sorted({**tags("asg"), **schema}.items())
            ],
            # A new launch template version or a new target group builds a new group next to the old
            # one, which must turn healthy before the old one is deleted: Terraform waits for ELB
            # capacity on create, but on update only when the capacity changes (autoscaling/group.go).
            # The wait needs the group in use: the warm-up rule.
            opts=pulumi.ResourceOptions(
                parent=self,
                replace_on_changes=["launchTemplate", "targetGroupArns"],
                depends_on=[self.warmup_rule, *args.reachable_after],
            ),
        )
        self.register_outputs(
            {
                "targetGroupArn": self.target_group.arn,
                "asgName": self.asg.name,
                "release": release.label,
                "imageId": release.image_id,
            }
        )
