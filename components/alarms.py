"""Per-colour rollback alarms on the colour's target group, and one release-health alarm over them.

- 5xx rate: target 5xx responses plus the requests the ALB could not deliver to a target
  (`TargetConnectionErrorCount`), over the colour's requests. A colour that answers nothing, so the
  ALB returns 502/504 for it, is not "0% errors".
- p99 latency.
- Healthy hosts: `HealthyHostCount` (dimensions TargetGroup and LoadBalancer) below
  `rollbackMinHealthyPercent` of `desiredCapacity`, and no count at all is a breach too (see
  `MISSING_HEALTHY_HOSTS`).
- Release health: a composite alarm, ALARM when any of them is. The release tool and the guardian
  watch it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from bluegreen.contract import COLOR_TAG, Color, type_token
from bluegreen.settings import AlarmSettings

# What each alarm makes of a minute with no data.
#
# 5xx rate and p99 latency: ELB reports these only while requests flow, and only non-zero counts ("If there
# are no requests flowing through the load balancer or no data for a metric, the metric is not reported", ELB
# docs, "CloudWatch metrics for your Application Load Balancer"). No data is a quiet colour, not a failing one.
MISSING_REQUEST_METRICS = "notBreaching"
# Healthy hosts: a colour that carries weight and answers nothing is failing, and must not look fine. Unlike
# the request metrics, HealthyHostCount does not wait for requests: its reporting criterion is "Reported if
# health checks are enabled" (same page), and ELB health-checks a target group while a listener or rule
# forwards to it, which every colour's is at all times (its warm-up rule, its preview rule). So a colour whose
# count is missing is one the ALB does not vouch for, weight or not; it is in ALARM, as Pulumi.yaml says
# (`rollbackMinHealthyPercent`).
# Idle colours (weight 0, or scaled down with no targets) may sit in ALARM; nothing acts on that wrongly. The
# guardian acts only on an alarm of a colour that carries traffic ("<colour> carries no traffic": no flip, no
# record), and checks its target's health itself (DescribeTargetHealth) before it flips to it. An idle colour
# in ALARM is a true answer to "could it take traffic now?", which `status` shows. Before a colour takes
# traffic again its healthy targets are counted (the traffic gate; a scaled-down colour is first scaled up in
# an update of its own, which waits for them), and its alarm returns to OK on the first minute it has enough.
MISSING_HEALTHY_HOSTS = "breaching"


@dataclass(frozen=True)
class ColorAlarmsArgs:
    color: Color
    thresholds: AlarmSettings
    load_balancer_arn_suffix: pulumi.Input[str]
    target_group_arn_suffix: pulumi.Input[str]
    desired_capacity: int = 2  # the healthy-hosts alarm fires below its share of this
    tags: Mapping[str, str] = field(default_factory=dict)


class ColorAlarms(pulumi.ComponentResource):
    """Identical for both colours (thresholds are shared), so the parity policy covers them."""

    error_rate: aws.cloudwatch.MetricAlarm
    latency: aws.cloudwatch.MetricAlarm
    healthy_hosts: aws.cloudwatch.MetricAlarm
    release_health: aws.cloudwatch.CompositeAlarm

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

        def alarm_name(role: str) -> str:
            # Named, not auto-named: the release-health rule names them, and both colours' rules then read
            # the same but for the colour word (the parity policy compares them so). Unique per region.
            return f"{pulumi.get_project()}-{pulumi.get_stack()}-{args.color}-{role}"[:255]

        self.error_rate = aws.cloudwatch.MetricAlarm(
            f"{name}-5xx-rate",
            name=alarm_name("5xx-rate"),
            alarm_description=(
                f"{args.color}: target 5xx responses and connection errors above {t.error_rate_percent}% of requests"
            ),
            comparison_operator="GreaterThanThreshold",
            threshold=t.error_rate_percent,
            evaluation_periods=t.evaluation_minutes,
            datapoints_to_alarm=t.evaluation_minutes,
            treat_missing_data=MISSING_REQUEST_METRICS,
            metric_queries=[
                metric("errors", "HTTPCode_Target_5XX_Count"),
                metric("unreachable", "TargetConnectionErrorCount"),
                metric("requests", "RequestCount"),
                {
                    "id": "rate",
                    "expression": "IF(requests > 0, 100 * (FILL(errors, 0) + FILL(unreachable, 0)) / requests, 0)",
                    "label": "5xx rate (%)",
                    "return_data": True,
                },
            ],
            tags=tags("5xx-rate"),
            opts=child,
        )
        self.latency = aws.cloudwatch.MetricAlarm(
            f"{name}-p99-latency",
            name=alarm_name("p99-latency"),
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
            treat_missing_data=MISSING_REQUEST_METRICS,
            tags=tags("p99-latency"),
            opts=child,
        )
        minimum = healthy_minimum(args.desired_capacity, t.min_healthy_percent)
        self.healthy_hosts = aws.cloudwatch.MetricAlarm(
            f"{name}-healthy-hosts",
            name=alarm_name("healthy-hosts"),
            alarm_description=(
                f"{args.color}: fewer than {minimum} healthy targets ({t.min_healthy_percent}% of desiredCapacity "
                f"{args.desired_capacity}), or no count reported"
            ),
            namespace="AWS/ApplicationELB",
            metric_name="HealthyHostCount",
            dimensions=dimensions,
            statistic="Minimum",
            period=60,
            comparison_operator="LessThanThreshold",
            threshold=minimum,
            evaluation_periods=t.evaluation_minutes,
            datapoints_to_alarm=t.evaluation_minutes,
            treat_missing_data=MISSING_HEALTHY_HOSTS,
            tags=tags("healthy-hosts"),
            opts=child,
        )
        watched = [self.error_rate, self.latency, self.healthy_hosts]
        # Rule syntax: ALARM("alarm name") joined with OR (CloudWatch, "Creating a composite alarm").
        self.release_health = aws.cloudwatch.CompositeAlarm(
            f"{name}-release-health",
            alarm_name=alarm_name("release-health"),
            alarm_description=f"{args.color}: release health, ALARM when any of the colour's alarms is",
            alarm_rule=pulumi.Output.all(*(alarm.name for alarm in watched)).apply(
                lambda names: " OR ".join(f'ALARM("{n}")' for n in names)
            ),
            tags=tags("release-health"),
            opts=child,
        )
        self.alarm_names = pulumi.Output.all(*(alarm.name for alarm in watched)).apply(list)
        self.register_outputs({"alarmNames": self.alarm_names, "releaseHealth": self.release_health.alarm_name})


def healthy_minimum(desired: int, percent: int) -> int:
    """The fewest healthy targets a colour may have: `percent` of `desired`, rounded up, at least 1."""
    return max(1, -(-desired * percent // 100))
