"""The ALB and the two security groups: the internet reaches the ALB, only the ALB reaches instances."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from bluegreen.contract import DECOMMISSION_TAG, type_token
from bluegreen.settings import EgressRule

from .access_logs import LOG_PREFIX as ACCESS_LOG_PREFIX


@dataclass(frozen=True)
class LoadBalancerArgs:
    vpc_id: pulumi.Input[str]
    subnet_ids: pulumi.Input[Sequence[str]]
    listener_ports: Sequence[int]
    allowed_cidrs: Sequence[str]
    # Every port a colour runs on: while blue runs on 8080 and green on 9090 both are open, and a port is
    # closed once no colour uses it (expand and contract).
    app_ports: Sequence[int]
    tags: Mapping[str, str] = field(default_factory=dict)
    # The instances' outbound rules besides HTTPS to anywhere (config `instanceEgress`).
    instance_egress: Sequence[EgressRule] = ()
    deletion_protection: bool = True
    # The stack is about to be destroyed: the ALB carries DECOMMISSION_TAG (and deletion_protection is False).
    decommission: bool = False
    # Where the access logs go ("" = off), and what must exist before the ALB may write there.
    access_logs_bucket: pulumi.Input[str] = ""
    access_logs_ready: Sequence[pulumi.Resource] = ()
    # What the network must have ready before the ALB is created (`Network.alb_ready`: a created VPC's gateway).
    network_ready: Sequence[pulumi.Resource] = ()


def _slug(cidr: str) -> str:
    return re.sub(r"[^0-9a-zA-Z]+", "-", cidr).strip("-")


# The warm-up listener's port. No security group rule opens it, so nobody reaches it; it exists so that
# both target groups are in use before any production route does (see `warmup_listener`).
WARMUP_LISTENER_PORT = 8999


class LoadBalancer(pulumi.ComponentResource):
    alb: aws.lb.LoadBalancer
    warmup_listener: aws.lb.Listener
    alb_security_group: aws.ec2.SecurityGroup
    instance_security_group: aws.ec2.SecurityGroup
    app_port_rules: list[pulumi.Resource]  # what lets the ALB reach each colour's port

    def __init__(self, name: str, args: LoadBalancerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(type_token("LoadBalancer"), name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        # No inline rules: the provider removes AWS's default allow-all egress, and the
        # standalone rules below are the whole rule set.
        self.alb_security_group = aws.ec2.SecurityGroup(
            f"{name}-alb-sg",
            vpc_id=args.vpc_id,
            description="bluegreen ALB: listener ports from allowedCidrs",
            tags={**args.tags, "Name": f"{name}-alb-sg"},
            opts=child,
        )
        self.instance_security_group = aws.ec2.SecurityGroup(
            f"{name}-instance-sg",
            vpc_id=args.vpc_id,
            description="bluegreen instances: app port from the ALB only",
            tags={**args.tags, "Name": f"{name}-instance-sg"},
            opts=child,
        )
        for port in args.listener_ports:
            for cidr in args.allowed_cidrs:
                v6 = ":" in cidr
                aws.vpc.SecurityGroupIngressRule(
                    f"{name}-alb-ingress-{port}-{_slug(cidr)}",
                    security_group_id=self.alb_security_group.id,
                    ip_protocol="tcp",
                    from_port=port,
                    to_port=port,
                    cidr_ipv4=None if v6 else cidr,
                    cidr_ipv6=cidr if v6 else None,
                    description=f"listener port {port}",
                    tags=args.tags,
                    opts=child,
                )
        self.app_port_rules: list[pulumi.Resource] = []
        for index, port in enumerate(sorted(set(args.app_ports))):
            # Named by port, so adding or removing one leaves the others alone. The lowest keeps the name the
            # rules had when there was only ever one port, so a deployed stack replaces neither rule (AWS
            # refuses a second identical rule while the first exists).
            legacy = index == 0
            egress = aws.vpc.SecurityGroupEgressRule(
                f"{name}-alb-egress-{port}",
                security_group_id=self.alb_security_group.id,
                referenced_security_group_id=self.instance_security_group.id,
                ip_protocol="tcp",
                from_port=port,
                to_port=port,
                description=f"to instances on app port {port}",
                tags=args.tags,
                opts=pulumi.ResourceOptions(
                    parent=self, aliases=[pulumi.Alias(name=f"{name}-alb-egress")] if legacy else None
                ),
            )
            ingress = aws.vpc.SecurityGroupIngressRule(
                f"{name}-instance-ingress-{port}",
                security_group_id=self.instance_security_group.id,
                referenced_security_group_id=self.alb_security_group.id,
                ip_protocol="tcp",
                from_port=port,
                to_port=port,
                description=f"app port {port} from the ALB only",
                tags=args.tags,
                opts=pulumi.ResourceOptions(
                    parent=self, aliases=[pulumi.Alias(name=f"{name}-instance-ingress")] if legacy else None
                ),
            )
            self.app_port_rules += [egress, ingress]
        # Outbound: HTTPS to anywhere (packages, SSM, AWS APIs) and what config adds. Nothing else, and no rule
        # for DNS or NTP: security groups do not filter traffic to the Amazon DNS server or the Amazon Time
        # Sync Service (Amazon VPC User Guide, "Security group rules"; seen in practice: dev.classmethod.jp,
        # "security-group-outbound-rule-cannot-filter-traffic-to-amazon-dns-server"). A custom resolver needs
        # an `instanceEgress` entry such as udp:53:10.0.0.10/32.
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-instance-egress",
            security_group_id=self.instance_security_group.id,
            cidr_ipv4="0.0.0.0/0",
            ip_protocol="tcp",
            from_port=443,
            to_port=443,
            description="HTTPS out: packages, SSM and AWS APIs",
            tags=args.tags,
            opts=child,
        )
        for rule in args.instance_egress:
            v6 = ":" in rule.cidr
            aws.vpc.SecurityGroupEgressRule(
                f"{name}-instance-egress-{rule.protocol}-{rule.from_port}-{rule.to_port}-{_slug(rule.cidr)}",
                security_group_id=self.instance_security_group.id,
                cidr_ipv4=None if v6 else rule.cidr,
                cidr_ipv6=rule.cidr if v6 else None,
                ip_protocol=rule.protocol,
                from_port=rule.from_port,
                to_port=rule.to_port,
                description=f"instanceEgress {rule.spec}",
                tags=args.tags,
                opts=child,
            )
        self.alb = aws.lb.LoadBalancer(
            f"{name}-alb",
            load_balancer_type="application",
            internal=False,
            security_groups=[self.alb_security_group.id],
            subnets=args.subnet_ids,
            drop_invalid_header_fields=True,
            enable_deletion_protection=args.deletion_protection,
            access_logs=(
                {"bucket": args.access_logs_bucket, "enabled": True, "prefix": ACCESS_LOG_PREFIX}
                if args.access_logs_bucket
                else None
            ),
            tags={**args.tags, "Name": f"{name}-alb", **({DECOMMISSION_TAG: "true"} if args.decommission else {})},
            # ELB checks its write access to the bucket when access logs are switched on, and needs the VPC's
            # internet gateway attached to create an internet-facing load balancer.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*args.access_logs_ready, *args.network_ready]),
        )
        # ELB health-checks a target group's targets only once a listener or rule forwards to it; until
        # then they stay `unused` (Target.NotInUse), and an ASG waiting for ELB capacity there never
        # finishes. Each colour's warm-up rule on this listener puts its group in use before its ASG
        # waits, while the production listener is created (and changed) only after the ASGs are healthy.
        # The port is closed to everyone: the default action only redirects, like the HTTP listener.
        self.warmup_listener = aws.lb.Listener(
            f"{name}-warmup",
            load_balancer_arn=self.alb.arn,
            port=WARMUP_LISTENER_PORT,
            protocol="HTTP",
            default_actions=[
                {"type": "redirect", "redirect": {"protocol": "HTTPS", "port": "443", "status_code": "HTTP_301"}}
            ],
            tags={**args.tags, "Name": f"{name}-warmup"},
            opts=child,
        )
        self.register_outputs({"albArn": self.alb.arn, "albDnsName": self.alb.dns_name})
