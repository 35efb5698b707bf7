"""The guardian's Lambda handler: one rollback, server-side, when the live colour's release health fails.

EventBridge invokes it on a "CloudWatch Alarm State Change" of either colour's release-health alarm.
It reads the state the last `pulumi up` wrote to its SSM parameter (listener, target groups, desired
capacity, each colour's release spec fingerprint, the rollback target and whether it is armed) and
the live listener, and flips only when all of these hold:

- the alarm is ALARM and belongs to a colour that carries traffic;
- the other colour is the recorded rollback target, and it is armed;
- the target still runs the fingerprint recorded when traffic left it;
- the target has its desired number of healthy targets.

Then it calls ModifyListener once (100% to the target), writes the decision record to its own SSM
parameter and publishes it to its own SNS topic. It never flips to an unhealthy or unarmed colour and
never flips back on its own (after a flip the live colour is the recorded target). Its logs carry
decisions, never secrets.

Concurrent and repeated invocations: the function reserves no concurrency (a reservation needs 100
unreserved in the account, more than a new account has), so EventBridge may run two invocations for the
same alarm at once, and delivers an event again now and then. Before it acts, an invocation creates a lock
parameter named after the deployment and the alarm with PutParameter without Overwrite, which SSM grants
to exactly one caller (every other gets ParameterAlreadyExists); only that one calls ModifyListener and
writes the record. A later repeat finds the colour carries no traffic any more. A failure after the lock
is taken is not retried into an action (a later issue makes the handler retry-safe).

Runtime: python3.12 or newer, boto3 from the runtime. The archive holds this file and
`bluegreen/contract.py` (standard library only), so the forward action is the program's own.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.exceptions import ClientError

from bluegreen.contract import COLORS, FORWARD_API, GUARDIAN_STATE_VERSION, forward_action, forward_weights, other

STATE_PARAMETER = "BLUEGREEN_STATE_PARAMETER"
RECORD_PARAMETER = "BLUEGREEN_RECORD_PARAMETER"
TOPIC_ARN = "BLUEGREEN_TOPIC_ARN"


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _log(decision: Mapping[str, Any]) -> None:
    print(json.dumps({"guardian": dict(decision)}, sort_keys=True))  # CloudWatch Logs: one JSON line


def handler(event: Mapping[str, Any], _context: Any = None) -> dict[str, Any]:
    """The Lambda entry point."""
    env = os.environ
    decision = decide(
        event,
        state_parameter=env[STATE_PARAMETER],
        record_parameter=env[RECORD_PARAMETER],
        topic_arn=env.get(TOPIC_ARN, ""),
        clients=Clients(),
    )
    _log(decision)
    return decision


class Clients:
    """The AWS clients the guardian uses, made once per invocation (region and endpoint from the environment)."""

    def __init__(self) -> None:
        self.ssm = boto3.client("ssm")
        self.elbv2 = boto3.client("elbv2")
        self.sns = boto3.client("sns")


def decide(
    event: Mapping[str, Any],
    *,
    state_parameter: str,
    record_parameter: str,
    topic_arn: str,
    clients: Clients,
    now: Callable[[], str] = utc_now,
) -> dict[str, Any]:
    """What the guardian does about `event`, done; the decision record it returns is also logged."""
    detail = event.get("detail") or {}
    alarm = str(detail.get("alarmName", ""))
    value = str((detail.get("state") or {}).get("value", ""))
    # Who decided, for `bluegreen history`: the function's name (set by the Lambda runtime), not a person.
    who = f"the guardian (Lambda {os.environ.get('AWS_LAMBDA_FUNCTION_NAME', 'outside Lambda')})"
    base: dict[str, Any] = {"alarm": alarm, "at": now(), "action": "none", "who": who}
    if value != "ALARM":
        return {**base, "why": f"the alarm is {value or 'in no state'}, not ALARM"}
    state = json.loads(clients.ssm.get_parameter(Name=state_parameter)["Parameter"]["Value"])
    colour = next((c for c in COLORS if (state.get("releaseHealthAlarms") or {}).get(c) == alarm), None)
    if state.get("version") != GUARDIAN_STATE_VERSION or colour is None:
        return {**base, "why": "not one of this stack's release-health alarms (or an unknown state version)"}
    situation = Situation.read(state, colour, clients)
    base.update(color=colour, weights=situation.weights, stateId=state["stateId"])
    why = situation.why_not()
    if why is not None:
        # A refusal about the target's health is worth a record: someone must fix it or roll back by hand.
        record = {**base, "why": why}
        return _recorded(record, clients, record_parameter, topic_arn) if situation.healthy is not None else record
    if not _first_for(state["stateId"], alarm, record_parameter, clients):
        return {**base, "why": "already acted on this alarm for this deployment"}
    to, groups = situation.to, state["targetGroups"]
    action = forward_action(
        [(groups[to], 100), (groups[colour], 0)], int(state.get("stickinessSeconds", 0)), FORWARD_API
    )
    clients.elbv2.modify_listener(ListenerArn=state["listenerArn"], DefaultActions=[action])
    fingerprints = state["fingerprints"]
    record = {
        **base,
        "action": "rollback",
        "from": colour,
        "to": to,
        "why": f"{alarm} is ALARM on {colour}, which carried {situation.weights[colour]}%; {to} is armed and has "
        f"{situation.healthy} healthy targets",
        "fingerprints": {colour: fingerprints.get(colour), to: fingerprints.get(to)},
    }
    return _recorded(record, clients, record_parameter, topic_arn)


class Situation:
    """The alarming colour, the live listener's weights and, once asked, the target's health."""

    def __init__(self, state: Mapping[str, Any], colour: str, weights: dict[str, int], clients: Clients) -> None:
        self.state, self.colour, self.weights, self.clients = state, colour, weights, clients
        self.to = other("green" if colour == "green" else "blue")
        self.healthy: int | None = None

    @classmethod
    def read(cls, state: Mapping[str, Any], colour: str, clients: Clients) -> Situation:
        groups = state["targetGroups"]
        listener = clients.elbv2.describe_listeners(ListenerArns=[state["listenerArn"]])["Listeners"][0]
        found = forward_weights(listener.get("DefaultActions"), FORWARD_API) or {}
        return cls(state, colour, {c: int(found.get(groups[c], 0)) for c in COLORS}, clients)

    def why_not(self) -> str | None:
        """Why the guardian must not flip, or None when it may."""
        target = self.state.get("target") or {}
        recorded, running = target.get("fingerprint"), (self.state.get("fingerprints") or {}).get(self.to)
        if self.weights[self.colour] == 0:
            return f"{self.colour} carries no traffic"
        if target.get("color") != self.to:
            return f"{self.to} is not the recorded rollback target (nothing to roll back to)"
        if not target.get("armed"):
            return f"the rollback target {self.to} is not armed"
        if running != recorded:
            return (
                f"{self.to} no longer runs the release traffic left (fingerprint {str(recorded)[:12]}… then, "
                f"{str(running)[:12]}… now)"
            )
        group = self.state["targetGroups"][self.to]
        described = self.clients.elbv2.describe_target_health(TargetGroupArn=group)["TargetHealthDescriptions"]
        self.healthy = sum(1 for t in described if t["TargetHealth"]["State"] == "healthy")
        desired = int(self.state["desired"])
        if self.healthy < desired:
            return f"{self.to} has {self.healthy} healthy targets, fewer than its desired {desired}"
        return None


def _first_for(state_id: str, alarm: str, record_parameter: str, clients: Clients) -> bool:
    """Whether this invocation is the first to act on `alarm` for this deployment: the first to create the
    lock parameter named after both (PutParameter without Overwrite fails for every later one)."""
    digest = hashlib.sha256(f"{state_id}|{alarm}".encode()).hexdigest()[:16]
    try:
        clients.ssm.put_parameter(Name=f"{record_parameter}-lock-{digest}", Value=alarm, Type="String", Overwrite=False)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ParameterAlreadyExists":
            return False
        raise
    return True


def _recorded(record: dict[str, Any], clients: Clients, record_parameter: str, topic_arn: str) -> dict[str, Any]:
    clients.ssm.put_parameter(
        Name=record_parameter, Value=json.dumps(record, sort_keys=True), Type="String", Overwrite=True
    )
    if topic_arn:
        clients.sns.publish(
            TopicArn=topic_arn,
            Subject=f"bluegreen guardian: {record['action']} on {record.get('color', '?')}"[:100],
            Message=json.dumps(record, indent=2, sort_keys=True),
        )
    return record
