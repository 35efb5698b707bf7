"""Per-colour rollback alarms: 5xx rate and p99 latency on the colour's target group."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from bluegreen.contract import COLOR_TAG, Color, type_token
from bluegreen.settings import AlarmSettings


@dataclass(frozen=True)
class ColorAlarmsArgs:
    color: Color
    thresholds: AlarmSettings
    load_balancer_arn_suffix: pulumi.Input[str]
    target_group_arn_suffix: pulumi.Input[str]
    tags: Mapping[str, str] = field(default_factory=dict)


class ColorAlarms(pulumi.ComponentResource):
    """Identical for both colours (thresholds are shared), so the parity policy covers them."""

    error_rate: aws.cloudwatch.MetricAlarm
    latency: aws.cloudwatch.MetricAlarm

    def __init__(self, name: str, args: ColorAlarmsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(type_token("ColorAlarms"), name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        t = args.thresholds
        dimensions = {"LoadBalancer": args.load_balancer_arn_suffix, "TargetGroup": args.target_group_arn_suffix}

        def metric(query_id: str, metric_name: str) -> aws.cloudwatch.MetricAlarmMetricQueryArgsDict:
            return {
                "id": query_id,
                "return_data": False,
                "metric": {
                    "namespace": "AWS/ApplicationELB",
                    "metric_name": metric_name,
                    "dimensions": dimensions,
                    "period": 60,
                    "stat": "Sum",
                },
            }

        def tags(role: str) -> dict[str, str]:
            return {**args.tags, "Name": f"{name}-{role}", COLOR_TAG: args.color}

        self.error_rate = aws.cloudwatch.MetricAlarm(
            f"{name}-5xx-rate",
            alarm_description=f"{args.color}: target 5xx responses above {t.error_rate_percent}% of requests",
            comparison_operator="GreaterThanThreshold",
            threshold=t.error_rate_percent,
            evaluation_periods=t.evaluation_minutes,
            datapoints_to_alarm=t.evaluation_minutes,
            treat_missing_data="notBreaching",
            metric_queries=[
                metric("errors", "HTTPCode_Target_5XX_Count"),
                metric("requests", "RequestCount"),
                {
                    "id": "rate",
                    "expression": "IF(requests > 0, 100 * FILL(errors, 0) / requests, 0)",
                    "label": "5xx rate (%)",
                    "return_data": True,
                },
            ],
            tags=tags("5xx-rate"),
            opts=child,
        )
        self.latency = aws.cloudwatch.MetricAlarm(
            f"{name}-p99-latency",
            alarm_description=f"{args.color}: p99 target response time above {t.latency_p99_ms} ms",
            namespace="AWS/ApplicationELB",
            metric_name="TargetResponseTime",
            dimensions=dimensions,
            extended_statistic="p99",
            period=60,
            comparison_operator="GreaterThanThreshold",
            threshold=t.latency_p99_ms / 1000,  # the metric is in seconds
            evaluation_periods=t.evaluation_minutes,
            datapoints_to_alarm=t.evaluation_minutes,
            treat_missing_data="notBreaching",
            tags=tags("p99-latency"),
            opts=child,
        )
        self.alarm_names = pulumi.Output.all(self.error_rate.name, self.latency.name).apply(list)
        self.register_outputs({"alarmNames": self.alarm_names})
