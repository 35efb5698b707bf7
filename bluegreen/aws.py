"""The AWS reads and writes the release tool makes, with boto3.

Clients are created once, up front, so the rollback fast path is a single ModifyListener call
and nothing else. `AWS_ENDPOINT_URL` (honoured by boto3) points the tool at a test server.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import boto3
from botocore.config import Config

from bluegreen.clock import iso
from bluegreen.contract import FORWARD_API, forward_action, forward_weights
from bluegreen.errors import CheckFailedError

_RETRIES = Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=10)


@dataclass(frozen=True)
class TargetCounts:
    healthy: int
    total: int
    states: Mapping[str, int] = field(default_factory=dict)

    def describe(self) -> str:
        rest = ", ".join(f"{n} {s}" for s, n in sorted(self.states.items()) if s != "healthy")
        return f"{self.healthy}/{self.total} healthy" + (f" ({rest})" if rest else "")


@dataclass(frozen=True)
class AlarmState:
    name: str
    state: str
    reason: str
    reason_data: Mapping[str, Any]
    updated_at: str
    metric: str
    threshold: float | None
    # Set on an ALARM read from the alarm's history that had already ended when the tool polled:
    # the state the alarm was in at that poll.
    now: str | None = None
    # StateUpdatedTimestamp at full precision (`updated_at` is to the second, for people).
    changed: datetime | None = None

    @property
    def label(self) -> str:
        """`bluegreen-dev-green-5xx-rate`, or `… (ALARM at 12:00:05Z, OK again by the next poll)`."""
        if self.now is None:
            return self.name
        return f"{self.name} (ALARM at {self.updated_at}, {self.now} by the next poll)"

    def as_record(self) -> dict[str, Any]:
        return {
            "alarm": self.name,
            "state": self.state,
            "since": self.updated_at,
            "stateAtPoll": self.now or self.state,
            "metric": self.metric,
            "threshold": self.threshold,
            "reason": self.reason,
            "values": self.reason_data.get("recentDatapoints", []),
            "reasonData": dict(self.reason_data),
        }


class Aws:
    """boto3 clients for one region; `add_call_hook` sees every API call (tests, benchmark)."""

    def __init__(self, region: str, session: boto3.Session | None = None) -> None:
        session = session or boto3.Session()
        self.region = region
        self.elbv2: Any = session.client("elbv2", region_name=region, config=_RETRIES)
        self.autoscaling: Any = session.client("autoscaling", region_name=region, config=_RETRIES)
        self.cloudwatch: Any = session.client("cloudwatch", region_name=region, config=_RETRIES)
        self.ssm: Any = session.client("ssm", region_name=region, config=_RETRIES)
        self.sts: Any = session.client("sts", region_name=region, config=_RETRIES)
        self._caller: str | None = None

    def add_call_hook(self, hook: Callable[[str], None]) -> None:
        """Call `hook(operation_name)` before every API call these clients make."""

        def _before_call(model: Any, **_: Any) -> None:
            hook(str(model.name))

        for client in (self.elbv2, self.autoscaling, self.cloudwatch, self.ssm, self.sts):
            client.meta.events.register("before-call", _before_call)

    def listener_weights(self, listener_arn: str) -> dict[str, int]:
        """Target group ARN -> weight of the listener's default forward action."""
        listeners = self.elbv2.describe_listeners(ListenerArns=[listener_arn])["Listeners"]
        found = forward_weights(listeners[0].get("DefaultActions", []), FORWARD_API) or {}
        return {str(arn): int(weight) for arn, weight in found.items()}

    def set_listener_weights(
        self, listener_arn: str, weights: Sequence[tuple[str, int]], stickiness_seconds: int
    ) -> None:
        """One ModifyListener call: the program's forward action with these weights."""
        action = forward_action(weights, stickiness_seconds, FORWARD_API)
        self.elbv2.modify_listener(ListenerArn=listener_arn, DefaultActions=[action])

    def listener_rules(self, listener_arn: str) -> list[dict[str, Any]]:
        """The listener's rules as DescribeRules returns them (every page), the default rule included."""
        rules: list[dict[str, Any]] = []
        request: dict[str, Any] = {"ListenerArn": listener_arn}
        while True:
            page = self.elbv2.describe_rules(**request)
            rules += page.get("Rules", [])
            marker = page.get("NextMarker")
            if not marker:
                return rules
            request["Marker"] = marker

    def target_health(self, target_group_arn: str) -> TargetCounts:
        described = self.elbv2.describe_target_health(TargetGroupArn=target_group_arn)
        states: dict[str, int] = {}
        for target in described["TargetHealthDescriptions"]:
            state = target["TargetHealth"]["State"]
            states[state] = states.get(state, 0) + 1
        return TargetCounts(healthy=states.get("healthy", 0), total=sum(states.values()), states=states)

    def desired_capacity(self, asg_name: str) -> int:
        groups = self.autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[asg_name])["AutoScalingGroups"]
        if not groups:
            raise CheckFailedError(f"auto scaling group {asg_name!r} (stack output) does not exist in AWS")
        return int(groups[0]["DesiredCapacity"])

    def parameter(self, name: str) -> str | None:
        """An SSM parameter's value (the guardian's record), or None when it does not exist yet."""
        try:
            return str(self.ssm.get_parameter(Name=name)["Parameter"]["Value"])
        except self.ssm.exceptions.ParameterNotFound:
            return None

    def parameter_history(self, name: str) -> list[tuple[int, str]]:
        """Every kept version of an SSM parameter as (version, value), oldest first; [] when it does not exist."""
        found: list[tuple[int, str]] = []
        try:
            for page in self.ssm.get_paginator("get_parameter_history").paginate(Name=name):
                found += [(int(p["Version"]), str(p["Value"])) for p in page["Parameters"]]
        except self.ssm.exceptions.ParameterNotFound:
            return []
        return sorted(found)

    def caller_arn(self) -> str:
        """Who these credentials are (STS GetCallerIdentity, which needs no permission), read once."""
        if self._caller is None:
            self._caller = str(self.sts.get_caller_identity()["Arn"])
        return self._caller

    def alarm_states(self, names: Sequence[str]) -> list[AlarmState]:
        if not names:
            return []
        found: dict[str, AlarmState] = {}
        paginator = self.cloudwatch.get_paginator("describe_alarms")
        for page in paginator.paginate(AlarmNames=list(names), AlarmTypes=["MetricAlarm", "CompositeAlarm"]):
            for alarm in page.get("MetricAlarms", []) + page.get("CompositeAlarms", []):
                found[alarm["AlarmName"]] = _alarm_state(alarm)
        missing = [n for n in names if n not in found]
        if missing:
            raise CheckFailedError(f"alarms named in the stack outputs do not exist in CloudWatch: {missing}")
        return [found[n] for n in names]

    def alarms_raised_since(self, current: AlarmState, since: datetime) -> list[AlarmState]:
        """The ALARM transitions of `current`'s alarm at or after `since`, oldest first.

        A poll reads a snapshot of `StateValue`; an ALARM shorter than the interval between two polls
        shows only in the alarm's history (DescribeAlarmHistory, StateUpdate items, whose HistoryData
        carries `newState.stateValue`, as in the AWS CLI's describe-alarm-history example).
        """
        raised: list[AlarmState] = []
        paginator = self.cloudwatch.get_paginator("describe_alarm_history")
        pages = paginator.paginate(
            AlarmName=current.name,
            AlarmTypes=["MetricAlarm", "CompositeAlarm"],
            HistoryItemType="StateUpdate",
            StartDate=since,
            ScanBy="TimestampAscending",
        )
        for page in pages:
            for item in page.get("AlarmHistoryItems", []):
                try:
                    new = json.loads(item.get("HistoryData") or "{}").get("newState", {})
                except (ValueError, AttributeError):
                    continue
                if not isinstance(new, dict) or new.get("stateValue") != "ALARM":
                    continue
                data = new.get("stateReasonData")
                stamp = item.get("Timestamp")
                raised.append(
                    AlarmState(
                        name=current.name,
                        state="ALARM",
                        reason=str(new.get("stateReason", "")),
                        reason_data=data if isinstance(data, dict) else {},
                        updated_at=iso(stamp) if isinstance(stamp, datetime) else str(stamp or ""),
                        metric=current.metric,
                        threshold=current.threshold,
                        now=current.state,
                        changed=stamp if isinstance(stamp, datetime) else None,
                    )
                )
        return raised


def _stat_text(metric: Mapping[str, Any], stat: str) -> str:
    """`AWS/ApplicationELB HTTPCode_Target_5XX_Count Sum/60s`."""
    parts = [str(metric.get("Namespace", "")), str(metric.get("MetricName", ""))]
    text = " ".join(p for p in parts if p)
    return f"{text} {stat}/{metric.get('Period', '?')}s" if stat else text


def describe_metric(alarm: Mapping[str, Any]) -> str:
    """What an alarm watches, in one line, for the decision record.

    A plain alarm is its metric and statistic. A metric-math alarm (the 5xx *rate*: `Metrics`
    instead of `MetricName`) is the expression it alarms on, followed by the queries the
    expression reads. A composite alarm is its rule.
    """
    if alarm.get("AlarmRule"):
        return f"rule {alarm['AlarmRule']}"
    queries = alarm.get("Metrics") or []
    if not queries:
        stat = str(alarm.get("ExtendedStatistic") or alarm.get("Statistic") or "")
        return _stat_text(alarm, stat) or "(no metric)"
    # The alarm evaluates the one query with ReturnData true; when none says so, the expression.
    returned = [q for q in queries if q.get("ReturnData") is True]
    expressions = [q for q in queries if q.get("Expression")]
    main = (returned or expressions or list(queries))[0]
    inputs: list[str] = []
    for query in queries:
        if query.get("Id") == main.get("Id"):
            continue
        stat = query.get("MetricStat")
        if stat:
            metric = {**stat.get("Metric", {}), "Period": stat.get("Period", "?")}
            inputs.append(f"{query['Id']} = {_stat_text(metric, str(stat.get('Stat', '')))}")
        elif query.get("Expression"):
            inputs.append(f"{query['Id']} = {query['Expression']}")
    if main.get("Expression"):
        head = f"{main.get('Label') or main['Id']} = {main['Expression']}"
    else:
        stat = main.get("MetricStat", {})
        head = _stat_text({**stat.get("Metric", {}), "Period": stat.get("Period", "?")}, str(stat.get("Stat", "")))
    return head + (f" (where {'; '.join(inputs)})" if inputs else "")


def _alarm_state(alarm: Mapping[str, Any]) -> AlarmState:
    try:
        data = json.loads(alarm.get("StateReasonData") or "{}")
    except ValueError:
        data = {"raw": alarm.get("StateReasonData")}
    updated = alarm.get("StateUpdatedTimestamp")
    threshold = alarm.get("Threshold")
    return AlarmState(
        name=alarm["AlarmName"],
        state=alarm["StateValue"],
        reason=alarm.get("StateReason", ""),
        reason_data=data if isinstance(data, dict) else {"raw": data},
        updated_at=iso(updated) if isinstance(updated, datetime) else str(updated or ""),
        metric=describe_metric(alarm),
        threshold=float(threshold) if threshold is not None else None,
        changed=updated if isinstance(updated, datetime) else None,
    )
