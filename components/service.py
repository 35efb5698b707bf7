"""BlueGreenService: one ALB, two identical colours, a weighted listener and the watchers around it."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from bluegreen.contract import COLORS, Color, traffic_weights
from bluegreen.settings import Settings

from .alarms import ColorAlarms, ColorAlarmsArgs
from .dashboard import Dashboard, DashboardArgs
from .environment import Environment, EnvironmentArgs, ResolvedRelease
from .load_balancer import LoadBalancer, LoadBalancerArgs
from .network import Network, NetworkArgs
from .router import Router, RouterArgs


@dataclass(frozen=True)
class BlueGreenServiceArgs:
    settings: Settings
    image_ids: Mapping[Color, str]  # each colour's AMI, decided by the release guard
    # Each image's root device (from DescribeImages); /dev/xvda is Amazon Linux 2023's.
    root_device_names: Mapping[Color, str] = field(default_factory=lambda: dict.fromkeys(COLORS, "/dev/xvda"))


class BlueGreenService(pulumi.ComponentResource):
    """Built from validated `Settings` and each colour's resolved image.

    Nothing here depends on `activeColor` except the listener's weights, so a flip updates
    exactly one resource.
    """

    network: Network
    load_balancer: LoadBalancer
    environments: dict[Color, Environment]
    alarms: dict[Color, ColorAlarms]
    router: Router
    preview_token: random.RandomPassword
    dashboard: Dashboard
    weights: dict[Color, int]

    def __init__(
        self,
        name: str,
        args: BlueGreenServiceArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("bluegreen:aws:BlueGreenService", name, None, opts)
        settings, image_ids = args.settings, args.image_ids
        child = pulumi.ResourceOptions(parent=self)
        tags = dict(settings.tags)

        self.network = Network(
            f"{name}-network",
            NetworkArgs(
                vpc_id=settings.network.vpc_id,
                subnet_ids=settings.network.subnet_ids,
                instance_subnet_ids=settings.network.instance_subnet_ids,
                instance_type=settings.fleet.instance_type,
                tags=tags,
            ),
            child,
        )
        self.load_balancer = LoadBalancer(
            f"{name}-lb",
            LoadBalancerArgs(
                vpc_id=self.network.vpc_id,
                subnet_ids=self.network.alb_subnet_ids,
                listener_ports=[80, 443] if settings.edge.https else [80],
                allowed_cidrs=settings.edge.allowed_cidrs,
                app_port=settings.fleet.app_port,
                tags=tags,
            ),
            child,
        )
        self.instance_profile: aws.iam.InstanceProfile | None = None
        policy_attachments: list[pulumi.Resource] = []
        if settings.fleet.instance_policy_arns:
            role = aws.iam.Role(
                f"{name}-instance-role",
                assume_role_policy=json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": "ec2.amazonaws.com"},
                                "Action": "sts:AssumeRole",
                            }
                        ],
                    }
                ),
                tags=tags,
                opts=child,
            )
            # Named by the policy, not by position, so reordering the list replaces nothing.
            policy_attachments = [
                aws.iam.RolePolicyAttachment(
                    f"{name}-instance-policy-{hashlib.sha256(arn.encode()).hexdigest()[:8]}",
                    role=role.name,
                    policy_arn=arn,
                    opts=child,
                )
                for arn in settings.fleet.instance_policy_arns
            ]
            self.instance_profile = aws.iam.InstanceProfile(
                f"{name}-instance-profile", role=role.name, tags=tags, opts=child
            )
        # The secret the preview route and the warm-up rules require, with the colour header.
        self.preview_token = random.RandomPassword(f"{name}-preview-token", length=32, special=False, opts=child)
        idle = settings.traffic.idle_color
        self.environments = {
            color: Environment(
                f"{name}-{color}",
                EnvironmentArgs(
                    color=color,
                    spec=settings.fleet,
                    release=ResolvedRelease(
                        label=settings.releases[color].label,
                        image_id=image_ids[color],
                        root_device_name=args.root_device_names[color],
                        schema_versions=settings.releases[color].schema_versions,
                        boot_script=settings.releases[color].boot_script,
                    ),
                    vpc_id=self.network.vpc_id,
                    subnet_ids=self.network.instance_subnet_ids,
                    subnet_tier=self.network.instance_subnet_tier,
                    instance_security_group_id=self.load_balancer.instance_security_group.id,
                    warmup_listener_arn=self.load_balancer.warmup_listener.arn,
                    preview_token=self.preview_token.result,
                    scaled_down=settings.idle_scaled_down and color == idle,
                    tags=tags,
                    instance_profile_arn=self.instance_profile.arn if self.instance_profile else None,
                    instance_profile_ready=policy_attachments,
                ),
                child,
            )
            for color in COLORS
        }
        self.alarms = {
            color: ColorAlarms(
                f"{name}-{color}-alarms",
                ColorAlarmsArgs(
                    color=color,
                    thresholds=settings.alarms,
                    load_balancer_arn_suffix=self.load_balancer.alb.arn_suffix,
                    target_group_arn_suffix=self.environments[color].target_group.arn_suffix,
                    tags=tags,
                ),
                child,
            )
            for color in COLORS
        }
        self.weights = traffic_weights(settings.traffic.active_color, settings.traffic.idle_traffic_percent)
        self.router = Router(
            f"{name}-router",
            RouterArgs(
                load_balancer_arn=self.load_balancer.alb.arn,
                target_group_arns={c: self.environments[c].target_group.arn for c in COLORS},
                weights=self.weights,
                preview_token=self.preview_token.result,
                # Production traffic reaches a colour only after its ASG's wait has finished: on the first
                # deploy, and whenever a target group or an ASG is replaced. The waits themselves can
                # finish because the warm-up rules, which wait for nothing, keep both groups in use.
                serve_after=[self.environments[c].asg for c in COLORS],
                stickiness_seconds=settings.traffic.stickiness_seconds,
                certificate_arn=settings.edge.certificate_arn,
                ssl_policy=settings.edge.ssl_policy,
                listener_tags={
                    "bluegreen:idleScaledDown": str(settings.idle_scaled_down).lower(),
                    "bluegreen:databaseSchemaVersion": str(settings.database_schema_version),
                },
                tags=tags,
            ),
            child,
        )
        self.dashboard = Dashboard(
            f"{name}-dashboard",
            DashboardArgs(
                # PutDashboard allows only A-Z, a-z, 0-9, - and _; stack names may also hold dots.
                dashboard_name=re.sub(r"[^A-Za-z0-9_-]", "-", f"{pulumi.get_project()}-{pulumi.get_stack()}")[:255],
                # The provider's region, however it was configured (stack config, profile, env).
                region=aws.get_region_output(opts=pulumi.InvokeOutputOptions(parent=self)).region,
                load_balancer_arn_suffix=self.load_balancer.alb.arn_suffix,
                target_group_arn_suffixes={c: self.environments[c].target_group.arn_suffix for c in COLORS},
            ),
            child,
        )
        self.register_outputs(
            {
                "albDnsName": self.load_balancer.alb.dns_name,
                "listenerArn": self.router.production_listener.arn,
                "weights": dict(self.weights),
            }
        )
