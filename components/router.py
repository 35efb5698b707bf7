"""Listeners: the production forward with weights from config, and the preview route per colour."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import cast

import pulumi
import pulumi_aws as aws

from bluegreen.contract import (
    COLOR_TAG,
    COLORS,
    FORWARD_ARGS,
    PREVIEW_COLOR_HEADER,
    PREVIEW_TOKEN_HEADER,
    Color,
    type_token,
)
from bluegreen.contract import forward_action as contract_forward
from bluegreen.preview_token import accepted_tokens

PREVIEW_PRIORITY: Mapping[Color, int] = {"blue": 10, "green": 20}


def accepted_token_values(
    token: pulumi.Input[str], deployed_token: pulumi.Input[str] | None = None
) -> pulumi.Output[list[str]]:
    """The token condition's values: `token`, and while a new token is being deployed, the one the last
    update exported too (`bluegreen.preview_token.accepted_tokens`). The condition is met when the header
    matches any one of them (ELB API reference, HttpHeaderConditionConfig).

    Secret because `token` is: `random.RandomPassword` registers `result` as an additional secret output
    (pulumi_random/random_password.py), and a value computed from a secret is a secret, so the list, the
    deployed token in it included, is stored encrypted in state. (No explicit `Output.secret` here: under
    the SDK's mocks that would wrap the whole `conditions` input, which no longer reads as conditions.)
    While the new token is unknown (the preview of a rotation), so is the list."""
    both = pulumi.Output.all(token, deployed_token)
    return both.apply(lambda values: accepted_tokens(str(values[0]), values[1]))


def preview_conditions(
    color: Color, token: pulumi.Input[str], deployed_token: pulumi.Input[str] | None = None
) -> list[aws.lb.ListenerRuleConditionArgsDict]:
    """A request reaches one colour directly only with its colour header and the secret token (during a
    rotation, the new or the deployed one)."""
    tokens = accepted_token_values(token, deployed_token)
    return [
        {"http_header": {"http_header_name": PREVIEW_COLOR_HEADER, "values": [color]}},
        {"http_header": {"http_header_name": PREVIEW_TOKEN_HEADER, "values": tokens}},
    ]


@dataclass(frozen=True)
class RouterArgs:
    load_balancer_arn: pulumi.Input[str]
    target_group_arns: Mapping[Color, pulumi.Input[str]]
    weights: Mapping[Color, int]
    preview_token: pulumi.Input[str]
    # The token the last update exported; while it differs from `preview_token`, the preview rules accept both.
    deployed_preview_token: pulumi.Input[str] | None = None
    # What the production listener waits for before it is created or changed: both colours' ASGs, so
    # production weights never reach a colour whose wait for healthy capacity has not finished.
    serve_after: Sequence[pulumi.Resource] = ()
    stickiness_seconds: int = 0
    certificate_arn: str = ""
    ssl_policy: str = "ELBSecurityPolicy-TLS13-1-2-2021-06"
    listener_tags: Mapping[str, str] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)


def forward_action(args: RouterArgs) -> aws.lb.ListenerDefaultActionArgsDict:
    """The weighted forward to both colours; the only thing a flip changes."""
    groups = [(args.target_group_arns[c], args.weights[c]) for c in COLORS]
    return cast(aws.lb.ListenerDefaultActionArgsDict, contract_forward(groups, args.stickiness_seconds, FORWARD_ARGS))


class Router(pulumi.ComponentResource):
    production_listener: aws.lb.Listener
    http_listener: aws.lb.Listener
    preview_rules: dict[Color, aws.lb.ListenerRule]

    def __init__(self, name: str, args: RouterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(type_token("Router"), name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        listener_tags = {**args.tags, **args.listener_tags}
        production = pulumi.ResourceOptions(parent=self, depends_on=list(args.serve_after))
        if args.certificate_arn:
            self.production_listener = aws.lb.Listener(
                f"{name}-https",
                load_balancer_arn=args.load_balancer_arn,
                port=443,
                protocol="HTTPS",
                certificate_arn=args.certificate_arn,
                ssl_policy=args.ssl_policy,
                default_actions=[forward_action(args)],
                tags={**listener_tags, "Name": f"{name}-https"},
                opts=production,
            )
            self.http_listener = aws.lb.Listener(
                f"{name}-http",
                load_balancer_arn=args.load_balancer_arn,
                port=80,
                protocol="HTTP",
                default_actions=[
                    {
                        "type": "redirect",
                        "redirect": {"protocol": "HTTPS", "port": "443", "status_code": "HTTP_301"},
                    }
                ],
                tags={**args.tags, "Name": f"{name}-http"},
                opts=child,
            )
        else:
            self.production_listener = aws.lb.Listener(
                f"{name}-http",
                load_balancer_arn=args.load_balancer_arn,
                port=80,
                protocol="HTTP",
                default_actions=[forward_action(args)],
                tags={**listener_tags, "Name": f"{name}-http"},
                opts=production,
            )
            self.http_listener = self.production_listener

        # Static per colour, so a flip never touches them: smoke tests reach the idle colour
        # only with both the colour header and the secret token.
        self.preview_rules = {
            color: aws.lb.ListenerRule(
                f"{name}-preview-{color}",
                listener_arn=self.production_listener.arn,
                priority=PREVIEW_PRIORITY[color],
                actions=[{"type": "forward", "target_group_arn": args.target_group_arns[color]}],
                conditions=preview_conditions(color, args.preview_token, args.deployed_preview_token),
                tags={**args.tags, "Name": f"{name}-preview-{color}", COLOR_TAG: color},
                opts=child,
            )
            for color in COLORS
        }
        self.register_outputs(
            {
                "listenerArn": self.production_listener.arn,
                "httpListenerArn": self.http_listener.arn,
                "weights": dict(args.weights),
            }
        )
