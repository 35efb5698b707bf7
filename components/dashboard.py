"""One CloudWatch dashboard with both colours side by side."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from bluegreen.contract import COLORS, Color, type_token

PANELS = (
    ("Requests", "RequestCount", "Sum"),
    ("Target 5xx", "HTTPCode_Target_5XX_Count", "Sum"),
    ("p99 latency (s)", "TargetResponseTime", "p99"),
    ("Healthy hosts", "HealthyHostCount", "Minimum"),
)


@dataclass(frozen=True)
class DashboardArgs:
    dashboard_name: str
    region: pulumi.Input[str]
    load_balancer_arn_suffix: pulumi.Input[str]
    target_group_arn_suffixes: Mapping[Color, pulumi.Input[str]]


def dashboard_body(region: str, lb_suffix: str, tg_suffixes: Mapping[Color, str]) -> str:
    widgets: list[dict[str, Any]] = []
    for row, (title, metric, stat) in enumerate(PANELS):
        for col, color in enumerate(COLORS):
            widgets.append(
                {
                    "type": "metric",
                    "x": col * 12,
                    "y": row * 6,
                    "width": 12,
                    "height": 6,
                    "properties": {
                        "title": f"{color}: {title}",
                        "region": region,
                        "stat": stat,
                        "period": 60,
                        "metrics": [
                            ["AWS/ApplicationELB", metric, "TargetGroup", tg_suffixes[color], "LoadBalancer", lb_suffix]
                        ],
                    },
                }
            )
    return json.dumps({"widgets": widgets}, sort_keys=True)


def safe_dashboard_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text)[:255]


class Dashboard(pulumi.ComponentResource):
    dashboard: aws.cloudwatch.Dashboard

    def __init__(self, name: str, args: DashboardArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(type_token("Dashboard"), name, None, opts)
        body = pulumi.Output.all(
            args.region, args.load_balancer_arn_suffix, *(args.target_group_arn_suffixes[c] for c in COLORS)
        ).apply(lambda v: dashboard_body(v[0], v[1], dict(zip(COLORS, v[2:], strict=True))))
        self.dashboard = aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            dashboard_name=safe_dashboard_name(args.dashboard_name),
            dashboard_body=body,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"dashboardName": self.dashboard.dashboard_name})
