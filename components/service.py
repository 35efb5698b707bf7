"""BlueGreenService: one ALB, two identical colours, a weighted listener and the watchers around it."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from bluegreen.contract import (
    COLORS,
    DATABASE_SCHEMA_VERSION_TAG,
    IDLE_SCALED_DOWN_TAG,
    PREVIEW_COLOR_HEADER,
    PREVIEW_TOKEN_HEADER,
    STACK_TAG,
    Color,
    Outputs,
    traffic_weights,
    type_token,
)
from bluegreen.gate import GATE_BYPASS_WARNING, TrafficGate
from bluegreen.guardian_state import guardian_state
from bluegreen.preview_token import token_keepers
from bluegreen.release_spec import ReleaseSpec, edge_values
from bluegreen.rollback_target import RollbackTarget
from bluegreen.safety import emergency_overrides
from bluegreen.settings import ColorSpec, Settings, configured_instance_subnets, validated
from bluegreen.user_data import boot_script_fingerprint

from .access_logs import AccessLogs, AccessLogsArgs
from .alarms import ColorAlarms, ColorAlarmsArgs
from .dashboard import Dashboard, DashboardArgs
from .environment import Environment, EnvironmentArgs, ResolvedRelease
from .guardian import Guardian, GuardianArgs
from .load_balancer import LoadBalancer, LoadBalancerArgs
from .network import Network, NetworkArgs
from .router import Router, RouterArgs


def stack_tag_value() -> str:
    """`<project>/<stack>`: within the ELB and EC2 tag value charsets, and one pattern (`<project>/*`) in IAM."""
    return f"{pulumi.get_project()}/{pulumi.get_stack()}"


@dataclass(frozen=True)
class BlueGreenServiceArgs:
    settings: Settings
    image_ids: Mapping[Color, str]  # each colour's AMI, decided by the release guard
    # Each image's root device (from DescribeImages); /dev/xvda is Amazon Linux 2023's.
    root_device_names: Mapping[Color, str] = field(default_factory=lambda: dict.fromkeys(COLORS, "/dev/xvda"))
    # What each colour runs with (instance type, port, health check, ...), decided by the release guard
    # (`bluegreen.release_spec.plan_specs`); None: config's settings for both, as on a first deploy.
    specs: Mapping[Color, ColorSpec] | None = None
    # The colour traffic left at the last flip, as the release guard carries it forward (exported).
    rollback_target: RollbackTarget | None = None
    # The preview token the last update exported (stack output previewToken; None on a first deploy).
    # While it differs from this update's token (a new previewTokenGeneration), the preview rules accept
    # both; the update after, only the new one (bluegreen.preview_token).
    deployed_preview_token: str | None = field(default=None, repr=False)
    # A created VPC's two zones (`components.network.network_zones`: the deployed ones, pinned); empty: the
    # first two that offer both colours' instance types, as on a first deploy.
    availability_zones: Sequence[str] = ()
    # This update's generation (`bluegreen.guardian_state.deployment_generation`): bumped by every update that
    # moves traffic, and part of the guardian's state id, so a re-flip to the same build is a new deployment.
    guardian_generation: int = 1


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
    settings: Settings
    image_ids: dict[Color, str]
    specs: dict[Color, ColorSpec]
    rollback_target: RollbackTarget | None
    gate: TrafficGate
    guardian: Guardian
    guardian_state_id: pulumi.Output[str]
    guardian_generation: int
    instance_profiles: dict[Color, aws.iam.InstanceProfile]

    def __init__(
        self,
        name: str,
        args: BlueGreenServiceArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(type_token("BlueGreenService"), name, None, opts)
        settings, image_ids = validated(args.settings), args.image_ids
        self.settings, self.image_ids = settings, dict(image_ids)
        specs = dict(args.specs) if args.specs is not None else dict.fromkeys(COLORS, settings.color_spec())
        self.specs = specs
        self.rollback_target = args.rollback_target
        self.guardian_generation = args.guardian_generation
        child = pulumi.ResourceOptions(parent=self)
        if not settings.edge.https:  # only with allowInsecurePreview: `validated` refuses it otherwise
            pulumi.log.warn(
                "INSECURE PREVIEW: allowInsecurePreview is true and certificateArn is empty, so the preview route "
                "is plain HTTP and its token crosses the network in clear text with every verify, gate check and "
                "bake poll. Anyone who sees one request can reach an untested colour. Set certificateArn for any "
                "stack users reach.",
                resource=self,
            )
        if settings.gate_bypass:
            # Warned here, by the program, on every preview and update while it is on: the gate's own provider
            # runs in a process of its own whose output the engine does not show as a diagnostic (bluegreen.gate).
            pulumi.log.warn(GATE_BYPASS_WARNING, resource=self)
        # Every resource carries the stack tag: the deploy role may change only what carries it.
        tags = {**settings.tags, STACK_TAG: stack_tag_value()}

        self.network = Network(
            f"{name}-network",
            NetworkArgs(
                vpc_id=settings.network.vpc_id,
                subnet_ids=settings.network.subnet_ids,
                instance_subnet_ids=settings.network.instance_subnet_ids,
                private_instances=settings.network.private_instances,
                instance_types=sorted({specs[c].instance_type for c in COLORS}),
                availability_zones=args.availability_zones,
                tags=tags,
            ),
            child,
        )
        # Access logs: to a bucket config names, or to one this stack creates; None when switched off.
        self.access_logs: AccessLogs | None = None
        access_logs_bucket: pulumi.Input[str] = settings.edge.access_logs_bucket if settings.edge.access_logs else ""
        access_logs_ready: list[pulumi.Resource] = []
        if settings.edge.access_logs and not settings.edge.access_logs_bucket:
            self.access_logs = AccessLogs(
                f"{name}-access-logs",
                AccessLogsArgs(retention_days=settings.edge.access_logs_retention_days, tags=tags),
                child,
            )
            access_logs_bucket = self.access_logs.bucket.bucket
            access_logs_ready = [self.access_logs.policy]
        self.load_balancer = LoadBalancer(
            f"{name}-lb",
            LoadBalancerArgs(
                deletion_protection=settings.edge.alb_deletion_protection,
                decommission=settings.edge.decommission,
                access_logs_bucket=access_logs_bucket,
                access_logs_ready=access_logs_ready,
                network_ready=self.network.alb_ready,
                vpc_id=self.network.vpc_id,
                subnet_ids=self.network.alb_subnet_ids,
                listener_ports=[80, 443] if settings.edge.https else [80],
                allowed_cidrs=settings.edge.allowed_cidrs,
                # Expand and contract: every port a colour runs on is open, and only those.
                app_ports=sorted({specs[c].app_port for c in COLORS}),
                tags=tags,
                # Expand and contract, as the app ports: an entry stays open while any colour's spec has it.
                instance_egress=sorted(
                    {rule for c in COLORS for rule in specs[c].instance_egress}, key=lambda r: r.spec
                ),
            ),
            child,
        )
        # Each colour's own instance role and profile: its policies are part of its release spec, so a
        # change reaches the idle colour first. The live colour keeps the names the one shared role had
        # (an alias), so a stack deployed with it replaces nothing.
        self.instance_profiles: dict[Color, aws.iam.InstanceProfile] = {}
        policy_attachments: dict[Color, list[pulumi.Resource]] = {c: [] for c in COLORS}
        for color in COLORS:
            if specs[color].instance_policy_arns:
                live = color == settings.traffic.active_color
                self.instance_profiles[color], policy_attachments[color] = _instance_profile(
                    name, color, specs[color].instance_policy_arns, tags, parent=self, live=live
                )
        # The secret the preview route and the warm-up rules require, with the colour header. A new
        # previewTokenGeneration changes its keepers, which makes a new token (generation 1 has none, so
        # stacks deployed before the key existed keep theirs); while the deployed token differs from it,
        # the rules accept both (bluegreen.preview_token).
        self.preview_token = random.RandomPassword(
            f"{name}-preview-token",
            length=32,
            special=False,
            keepers=token_keepers(settings.edge.preview_token_generation),
            opts=child,
        )
        # The rules take it combined with the new token's secret `result`, which keeps it secret in state.
        deployed_token = args.deployed_preview_token or None
        idle = settings.traffic.idle_color
        self.environments = {
            color: Environment(
                f"{name}-{color}",
                EnvironmentArgs(
                    color=color,
                    fleet=settings.fleet,
                    spec=specs[color],
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
                    deployed_preview_token=deployed_token,
                    scaled_down=settings.idle_scaled_down and color == idle,
                    tags=tags,
                    instance_profile_arn=self.instance_profiles[color].arn if color in self.instance_profiles else None,
                    instance_profile_ready=policy_attachments[color],
                    # The app port open from the ALB, and the instances' way out (NAT or internet) for their boot.
                    reachable_after=[*self.load_balancer.app_port_rules, *self.network.egress_ready],
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
                    desired_capacity=settings.fleet.desired_capacity,
                    tags=tags,
                ),
                child,
            )
            for color in COLORS
        }
        self.weights = traffic_weights(settings.traffic.active_color, settings.traffic.idle_traffic_percent)
        # Every move of weight toward a colour is checked first, inside this update (bluegreen.gate).
        self.gate = TrafficGate(
            f"{name}-gate",
            {
                "region": self.load_balancer.alb.arn.apply(lambda arn: arn.split(":")[3]),
                "url": self.url(),
                # The gate runs before the production listener, and the preview rules hang off that listener,
                # so the gate always meets the rules as the last update left them: they accept the deployed
                # token (after a rotation's first update, the new one as well, which the outputs then name).
                # A first deploy, with nothing deployed, checks target health only.
                "token": pulumi.Output.secret(deployed_token or self.preview_token.result),
                "bypass": settings.gate_bypass,
                "colors": {
                    c: {
                        "weight": self.weights[c],
                        "fingerprint": self.release_spec(c).fingerprint,
                        "release": settings.releases[c].label,
                        "targetGroupArn": self.environments[c].target_group.arn,
                        "desired": settings.fleet.desired_capacity,
                        "healthPath": specs[c].health_check.path,
                    }
                    for c in COLORS
                    if self.weights[c] > 0
                },
            },
            pulumi.ResourceOptions(parent=self, depends_on=[self.environments[c].asg for c in COLORS]),
        )
        self.router = Router(
            f"{name}-router",
            RouterArgs(
                load_balancer_arn=self.load_balancer.alb.arn,
                target_group_arns={c: self.environments[c].target_group.arn for c in COLORS},
                weights=self.weights,
                preview_token=self.preview_token.result,
                deployed_preview_token=deployed_token,
                # Production traffic reaches a colour only after its ASG's wait has finished: on the first
                # deploy, and whenever a target group or an ASG is replaced. The waits themselves can
                # finish because the warm-up rules, which wait for nothing, keep both groups in use.
                serve_after=[*(self.environments[c].asg for c in COLORS), self.gate],
                stickiness_seconds=settings.traffic.stickiness_seconds,
                certificate_arn=settings.edge.certificate_arn,
                ssl_policy=settings.edge.ssl_policy,
                listener_tags={
                    IDLE_SCALED_DOWN_TAG: str(settings.idle_scaled_down).lower(),
                    DATABASE_SCHEMA_VERSION_TAG: str(settings.database_schema_version),
                },
                tags=tags,
            ),
            child,
        )
        self.guardian_state_id, state = self._guardian_state()
        self.guardian = Guardian(
            f"{name}-guardian",
            GuardianArgs(
                parameter_prefix=f"/bluegreen/{pulumi.get_project()}/{pulumi.get_stack()}",
                listener_arn=self.router.production_listener.arn,
                release_health_alarms={c: self.alarms[c].release_health.alarm_name for c in COLORS},
                release_health_alarm_arns={c: self.alarms[c].release_health.arn for c in COLORS},
                state=state,
                subscriptions=settings.guardian.subscriptions,
                reserved_concurrency=settings.guardian.reserved_concurrency,
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

    def _guardian_state(self) -> tuple[pulumi.Output[str], pulumi.Output[str]]:
        """The guardian's view of this update (`bluegreen.guardian.handler` reads it) and its id."""
        fingerprints: dict[str, str] = {c: self.release_spec(c).fingerprint for c in COLORS}

        def build(listener: str, blue_tg: str, green_tg: str, blue_alarm: str, green_alarm: str) -> dict[str, Any]:
            return guardian_state(
                self.settings,
                self.rollback_target,
                fingerprints,
                listener_arn=listener,
                target_groups={"blue": blue_tg, "green": green_tg},
                release_health_alarms={"blue": blue_alarm, "green": green_alarm},
                generation=self.guardian_generation,
            )

        full = pulumi.Output.all(
            self.router.production_listener.arn,
            *(self.environments[c].target_group.arn for c in COLORS),
            *(self.alarms[c].release_health.alarm_name for c in COLORS),
        ).apply(lambda values: build(*values))
        return full.apply(lambda s: str(s["stateId"])), full.apply(lambda s: json.dumps(s, sort_keys=True))

    def url(self) -> pulumi.Output[str]:
        """Where the service answers, and where the gate and the release tool send the preview route's checks.

        With a certificate, `https://<publicHostname>` (settings require the name): certificate verification checks
        the name, and no certificate covers the ALB's own `*.elb.amazonaws.com`. Known in a preview, too. Without
        one (allowInsecurePreview), `http://` and publicHostname when set, else the ALB's DNS name.
        """
        host = self.settings.edge.public_hostname
        if self.settings.edge.https:
            return pulumi.Output.from_input(f"https://{host}")
        return self.load_balancer.alb.dns_name.apply(lambda dns: f"http://{host or dns}")

    def release_spec(self, color: Color) -> ReleaseSpec:
        """What this update deploys on `color`: its build and the settings it runs with."""
        release = self.settings.releases[color]
        return ReleaseSpec(
            release=release.label,
            image_id=self.image_ids[color],
            boot_script_hash=boot_script_fingerprint(release.boot_script),
            schema_versions=release.schema_versions,
            settings=self.specs[color],
        )

    def stack_outputs(self) -> dict[str, Any]:
        """Every stack output, by its name in `bluegreen.contract.Outputs`: what the release tool,
        the CI summary and the next update's release guard read."""
        settings, lb, router = self.settings, self.load_balancer, self.router
        out: dict[str, Any] = {
            Outputs.URL.name(): self.url(),
            Outputs.ALB_DNS_NAME.name(): lb.alb.dns_name,
            Outputs.LOAD_BALANCER_ARN.name(): lb.alb.arn,
            Outputs.ACTIVE_COLOR.name(): settings.traffic.active_color,
            Outputs.IDLE_COLOR.name(): settings.traffic.idle_color,
            Outputs.LISTENER_ARN.name(): router.production_listener.arn,
            Outputs.HTTP_LISTENER_ARN.name(): router.http_listener.arn,
        }
        for color in COLORS:
            env, release = self.environments[color], settings.releases[color]
            out[Outputs.WEIGHT.name(color)] = self.weights[color]
            out[Outputs.TARGET_GROUP_ARN.name(color)] = env.target_group.arn
            out[Outputs.ASG_NAME.name(color)] = env.asg.name
            out[Outputs.RELEASE.name(color)] = release.label
            out[Outputs.IMAGE_ID.name(color)] = self.image_ids[color]
            out[Outputs.USER_DATA_HASH.name(color)] = env.user_data_hash
            out[Outputs.BOOT_SCRIPT_HASH.name(color)] = boot_script_fingerprint(release.boot_script)
            out[Outputs.SCHEMA_VERSIONS.name(color)] = list(release.schema_versions)
            out[Outputs.SPEC.name(color)] = self.release_spec(color).to_output()
            out[Outputs.ALARM_NAMES.name(color)] = self.alarms[color].alarm_names
            out[Outputs.RELEASE_HEALTH_ALARM.name(color)] = self.alarms[color].release_health.alarm_name
        target = self.rollback_target
        out[Outputs.ROLLBACK_TARGET.name()] = target.to_output() if target is not None else {}
        out[Outputs.GUARDIAN_STATE_ID.name()] = self.guardian_state_id
        out[Outputs.GUARDIAN_GENERATION.name()] = self.guardian_generation
        out[Outputs.GUARDIAN_RECORD_PARAMETER.name()] = self.guardian.record_parameter.name
        out[Outputs.DECISION_LOG_PARAMETER.name()] = self.guardian.decision_log_parameter.name
        out[Outputs.EDGE.name()] = edge_values(settings)
        out[Outputs.INSTANCE_SUBNET_TIER.name()] = self.network.instance_subnet_tier
        out[Outputs.INSTANCE_SUBNET_IDS.name()] = list(configured_instance_subnets(settings))
        out[Outputs.AVAILABILITY_ZONES.name()] = list(self.network.availability_zones)
        out[Outputs.ALLOW_INSECURE_PREVIEW.name()] = not settings.edge.https
        out[Outputs.PREVIEW_COLOR_HEADER.name()] = PREVIEW_COLOR_HEADER
        out[Outputs.PREVIEW_TOKEN_HEADER.name()] = PREVIEW_TOKEN_HEADER
        out[Outputs.PREVIEW_TOKEN.name()] = pulumi.Output.secret(self.preview_token.result)
        out[Outputs.DASHBOARD_NAME.name()] = self.dashboard.dashboard.dashboard_name
        out[Outputs.IDLE_SCALED_DOWN.name()] = settings.idle_scaled_down
        out[Outputs.DATABASE_SCHEMA_VERSION.name()] = settings.database_schema_version
        out[Outputs.BAKE_MINUTES.name()] = settings.alarms.bake_minutes
        out[Outputs.EMERGENCY_OVERRIDES.name()] = emergency_overrides(settings, datetime.now(UTC))
        return out


def _instance_profile(
    name: str,
    color: Color,
    policy_arns: tuple[str, ...],
    tags: Mapping[str, str],
    *,
    parent: pulumi.Resource,
    live: bool,
) -> tuple[aws.iam.InstanceProfile, list[pulumi.Resource]]:
    """A role for EC2 with `policy_arns` attached, and its instance profile. Named `<name>-instance-role-<colour>`
    so the deploy role's `<name>-instance-role-*` scope covers both colours."""

    def opts(old: str) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=parent, aliases=[pulumi.Alias(name=old)] if live else None)

    role = aws.iam.Role(
        f"{name}-instance-role-{color}",
        assume_role_policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
                ],
            }
        ),
        tags=tags,
        opts=opts(f"{name}-instance-role"),
    )
    # Named by the policy, not by position, so reordering the list replaces nothing.
    attachments: list[pulumi.Resource] = []
    for arn in policy_arns:
        digest = hashlib.sha256(arn.encode()).hexdigest()[:8]
        attachments.append(
            aws.iam.RolePolicyAttachment(
                f"{name}-instance-policy-{color}-{digest}",
                role=role.name,
                policy_arn=arn,
                opts=opts(f"{name}-instance-policy-{digest}"),
            )
        )
    profile = aws.iam.InstanceProfile(
        f"{name}-instance-profile-{color}", role=role.name, tags=tags, opts=opts(f"{name}-instance-profile")
    )
    return profile, attachments
