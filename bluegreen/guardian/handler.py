"""The guardian's Lambda handler: one rollback, server-side, when the live colour's release health fails.

EventBridge invokes it on a "CloudWatch Alarm State Change" of either colour's release-health alarm to ALARM,
and once a minute on a schedule, which looks only while the rollback target is armed (a state change fires
once: an invocation that could not act, because the target was unhealthy or a call was throttled past the
Lambda retries, is followed by one that looks again; the scheduled one reads both alarms with
DescribeAlarms). It reads the state
the last `pulumi up` wrote to its SSM parameter (listener, target groups, desired capacity, each colour's
release spec fingerprint, the rollback target and whether it is armed, and `stateId`, unique per update that
moves traffic), the live listener and its own record, and flips only when all of these hold:

- the alarm is ALARM and belongs to a colour that carries traffic;
- the other colour is the recorded rollback target, and it is armed;
- the target still runs the fingerprint recorded when traffic left it;
- the target has its desired number of healthy targets.

Order: flip, record, then mark handled. It calls ModifyListener once (100% to the target), then writes the
decision record to its record parameter and publishes it to its SNS topic, and only then marks the rollback of
this deployment handled (`<record>-handled-<stateId>`). Any error raises, so Lambda retries the event (twice for
an asynchronous invocation, one and then two minutes later: Lambda developer guide, "How Lambda handles errors
and retries with asynchronous invocation"), and a retry converges: it trusts no lock but the live listener. A
listener already on the armed target with no record for this deployment gets its record (repair); a record not
yet marked handled gets its notification and mark. It never flips to an unhealthy or unarmed colour and never
flips back on its own (after a flip the live colour is the recorded target). Its logs carry decisions, never
secrets.

Concurrent invocations: the function reserves no concurrency (a reservation needs 100 unreserved in the account,
more than a new account has), so EventBridge may run two at once (two events, a scheduled look, or the same
event delivered twice). Every write happens under a claim on the deployment: `<record>-claim-<stateId>-<n>`,
created with PutParameter without Overwrite, which SSM grants to exactly one caller (every other gets
ParameterAlreadyExists; "Overwrite: Overwrite an existing parameter. The default value is false", SSM API
reference, PutParameter). The holder reads the listener and the record again before it acts, so one that
finds the flip done only ensures the record, and a second invocation that meets a live claim does nothing. A
claim is given back (overwritten as released) when its holder finishes or fails, and lapses after
CLAIM_SECONDS, longer than the function's timeout, so a holder the runtime killed blocks no retry for long:
the next claim is number n + 1.

Runtime: python3.12 or newer, boto3 from the runtime. The archive holds this file and
`bluegreen/contract.py` (standard library only), so the forward action is the program's own.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from bluegreen.contract import COLORS, FORWARD_API, GUARDIAN_STATE_VERSION, forward_action, forward_weights, other

STATE_PARAMETER = "BLUEGREEN_STATE_PARAMETER"
RECORD_PARAMETER = "BLUEGREEN_RECORD_PARAMETER"
TOPIC_ARN = "BLUEGREEN_TOPIC_ARN"
# How long a claim holds: longer than the function's timeout (components/guardian.py TIMEOUT_SECONDS, 30), so a
# claim that lapsed belongs to an invocation the runtime has ended. Lambda's first retry of a failed event comes a
# minute later, so even a holder killed by the timeout delays its own retry by one more attempt at most.
CLAIM_SECONDS = 60
SCHEDULED = "Scheduled Event"  # the detail-type of an EventBridge schedule rule's events


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _log(decision: Mapping[str, Any]) -> None:
    print(json.dumps({"guardian": dict(decision)}, sort_keys=True))  # CloudWatch Logs: one JSON line


def handler(event: Mapping[str, Any], _context: Any = None) -> dict[str, Any]:
    """The Lambda entry point. An error propagates, so Lambda retries the event."""
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
        self.cloudwatch = boto3.client("cloudwatch")


def decide(
    event: Mapping[str, Any],
    *,
    state_parameter: str,
    record_parameter: str,
    topic_arn: str,
    clients: Clients,
    now: Callable[[], str] = utc_now,
    clock: Callable[[], float] = time.time,
) -> dict[str, Any]:
    """What the guardian does about `event`, done; the decision record it returns is also logged."""
    # Who decided, for `bluegreen history`: the function's name (set by the Lambda runtime), not a person.
    who = f"the guardian (Lambda {os.environ.get('AWS_LAMBDA_FUNCTION_NAME', 'outside Lambda')})"
    base: dict[str, Any] = {"alarm": "", "at": now(), "action": "none", "who": who}
    run = Run(clients, state_parameter, record_parameter, topic_arn, now, clock)
    if event.get("detail-type") == SCHEDULED:
        return _scheduled_look(run, base)
    detail = event.get("detail") or {}
    alarm = str(detail.get("alarmName", ""))
    value = str((detail.get("state") or {}).get("value", ""))
    base["alarm"] = alarm
    if value != "ALARM":
        return {**base, "why": f"the alarm is {value or 'in no state'}, not ALARM"}
    state = run.state()
    if state is None:
        return {**base, "why": "not one of this stack's release-health alarms (or an unknown state version)"}
    return run.on_alarm(state, alarm, base)


def _scheduled_look(run: Run, base: dict[str, Any]) -> dict[str, Any]:
    """The schedule's look: while the target is armed, each release-health alarm in ALARM as on its event."""
    state = run.state()
    if state is None:
        return {**base, "why": "no state of a known version to look at"}
    if not (state.get("target") or {}).get("armed"):
        return {**base, "why": "no armed rollback target to look for"}
    alarming = run.alarming(state)
    if not alarming:
        return {**base, "why": "no release-health alarm is in ALARM"}
    decisions = [run.on_alarm(state, alarm, {**base, "alarm": alarm}) for alarm in alarming]
    return next((d for d in decisions if d["action"] != "none"), decisions[0])


@dataclass
class Step:
    """What the guardian does next, decided from what it read: `none`, `refuse` (write a refusal record),
    `flip` (ModifyListener, record, mark), `repair` (record, mark) or `notify` (publish the record, mark)."""

    kind: str
    why: str
    record: dict[str, Any] | None = None


@dataclass
class Run:
    clients: Clients
    state_parameter: str
    record_parameter: str
    topic_arn: str
    now: Callable[[], str]
    clock: Callable[[], float]

    def state(self) -> dict[str, Any] | None:
        state: dict[str, Any] = json.loads(
            self.clients.ssm.get_parameter(Name=self.state_parameter)["Parameter"]["Value"]
        )
        return state if state.get("version") == GUARDIAN_STATE_VERSION else None

    def alarming(self, state: Mapping[str, Any]) -> list[str]:
        """This stack's release-health alarms that are in ALARM now (composite alarms, so both types are asked)."""
        names = [str(n) for n in (state.get("releaseHealthAlarms") or {}).values()]
        if not names:
            return []
        found = self.clients.cloudwatch.describe_alarms(AlarmNames=names, AlarmTypes=["CompositeAlarm", "MetricAlarm"])
        alarms = [*found.get("CompositeAlarms", []), *found.get("MetricAlarms", [])]
        return [n for n in names if any(a["AlarmName"] == n and a["StateValue"] == "ALARM" for a in alarms)]

    def on_alarm(self, state: Mapping[str, Any], alarm: str, base: dict[str, Any]) -> dict[str, Any]:
        colour = next((c for c in COLORS if (state.get("releaseHealthAlarms") or {}).get(c) == alarm), None)
        if colour is None:
            return {**base, "why": "not one of this stack's release-health alarms (or an unknown state version)"}
        view = View.read(state, colour, self)
        base = {**base, "color": colour, "weights": view.weights, "stateId": state["stateId"]}
        if isinstance(state.get("generation"), int):  # the program's `acted_on` compares it with guardianGeneration
            base = {**base, "generation": state["generation"]}
        step = view.plan(base)
        if step.kind == "none":
            return {**base, "why": step.why}
        with self.claim(str(state["stateId"])) as held:
            if not held:
                return {**base, "why": "another invocation is acting on this deployment (its claim is live)"}
            # Read again under the claim: whatever an earlier holder did is on the listener and in the record now.
            # A `pulumi up` that wrote a new deployment meanwhile is the next look's to decide, on its own state.
            fresh = self.state()
            if fresh is None or fresh.get("stateId") != state["stateId"]:
                return {**base, "why": "a new deployment was written while the guardian decided; it looks again"}
            view = View.read(state, colour, self)
            base = {**base, "weights": view.weights}
            step = view.plan(base)
            return self.carry_out(state, step, base)

    def carry_out(self, state: Mapping[str, Any], step: Step, base: dict[str, Any]) -> dict[str, Any]:
        """Flip, record, then mark handled; each step only once the one before it succeeded."""
        if step.kind == "none" or step.record is None:
            return {**base, "why": step.why}
        record = step.record
        if step.kind == "flip":
            groups, to, colour = state["targetGroups"], record["to"], record["from"]
            action = forward_action(
                [(groups[to], 100), (groups[colour], 0)], int(state.get("stickinessSeconds", 0)), FORWARD_API
            )
            self.clients.elbv2.modify_listener(ListenerArn=state["listenerArn"], DefaultActions=[action])
        if step.kind in ("flip", "repair", "refuse"):
            self.clients.ssm.put_parameter(
                Name=self.record_parameter, Value=json.dumps(record, sort_keys=True), Type="String", Overwrite=True
            )
        self.publish(record)
        if step.kind != "refuse":
            self.clients.ssm.put_parameter(
                Name=self.handled_parameter(str(state["stateId"])), Value=str(record["at"]), Type="String",
                Overwrite=True,
            )  # fmt: skip
        return record

    def publish(self, record: Mapping[str, Any]) -> None:
        if self.topic_arn:
            self.clients.sns.publish(
                TopicArn=self.topic_arn,
                Subject=f"bluegreen guardian: {record['action']} on {record.get('color', '?')}"[:100],
                Message=json.dumps(record, indent=2, sort_keys=True),
            )

    def handled_parameter(self, state_id: str) -> str:
        return f"{self.record_parameter}-handled-{state_id}"

    def parameter(self, name: str) -> str | None:
        try:
            return str(self.clients.ssm.get_parameter(Name=name)["Parameter"]["Value"])
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ParameterNotFound":
                return None
            raise

    @contextlib.contextmanager
    def claim(self, state_id: str) -> Iterator[bool]:
        """Hold the claim on this deployment while acting (yields False when another invocation holds it).

        Claims are numbered: the first one that is neither released nor lapsed is the live one; when every one
        is, the next number is created without Overwrite, so of two invocations only one gets it."""
        number = 1
        while True:
            name = f"{self.record_parameter}-claim-{state_id}-{number}"
            text = self.parameter(name)
            if text is not None:
                held = json.loads(text)
                if held.get("released") or self.clock() - float(held.get("at", 0)) >= CLAIM_SECONDS:
                    number += 1
                    continue
                yield False
                return
            try:
                self.clients.ssm.put_parameter(
                    Name=name, Value=json.dumps({"at": self.clock()}), Type="String", Overwrite=False
                )
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") == "ParameterAlreadyExists":
                    yield False  # another invocation created it between our read and our write
                    return
                raise
            break
        try:
            yield True
        finally:
            # Given back whether the holder finished or failed; a claim that cannot be given back lapses.
            with contextlib.suppress(BotoCoreError, ClientError):
                self.clients.ssm.put_parameter(
                    Name=name, Value=json.dumps({"at": self.clock(), "released": True}), Type="String", Overwrite=True
                )


@dataclass
class View:
    """The alarming colour, the live listener's weights, the guardian's record and this deployment's mark."""

    state: Mapping[str, Any]
    colour: str
    weights: dict[str, int]
    record: dict[str, Any] | None
    handled: str | None
    run: Run

    @classmethod
    def read(cls, state: Mapping[str, Any], colour: str, run: Run) -> View:
        groups = state["targetGroups"]
        listener = run.clients.elbv2.describe_listeners(ListenerArns=[state["listenerArn"]])["Listeners"][0]
        found = forward_weights(listener.get("DefaultActions"), FORWARD_API) or {}
        weights: dict[str, int] = {c: int(found.get(groups[c], 0)) for c in COLORS}
        try:
            record = json.loads(run.parameter(run.record_parameter) or "{}")
        except ValueError:
            record = {}
        handled = run.parameter(run.handled_parameter(str(state["stateId"])))
        return cls(state, colour, weights, record if isinstance(record, dict) and record else None, handled, run)

    @property
    def to(self) -> str:
        return other("green" if self.colour == "green" else "blue")

    def plan(self, base: Mapping[str, Any]) -> Step:
        """What to do, from what was read (and, only when everything else allows a flip, the target's health)."""
        colour, to = self.colour, self.to
        if self.target.get("color") == to and self.weights[colour] == 0 and self.weights[to] > 0:
            return self._after_flip(base)
        why = self._why_not()
        return Step("none", why) if why is not None else self._flip_or_refuse(base)

    @property
    def target(self) -> Mapping[str, Any]:
        return self.state.get("target") or {}

    def _restaged(self) -> bool:
        return (self.state.get("fingerprints") or {}).get(self.to) != self.target.get("fingerprint")

    def _after_flip(self, base: Mapping[str, Any]) -> Step:
        """The listener already sends everything to the target: a flip happened; this deployment's record says so
        or is written now, and the rollback is marked handled last."""
        colour, to, record = self.colour, self.to, self.record
        if record is not None and (
            record.get("stateId"),
            record.get("action"),
            record.get("from"),
            record.get("to"),
        ) == (
            self.state["stateId"],
            "rollback",
            colour,
            to,
        ):
            if self.handled == record.get("at"):
                return Step("none", f"{colour} carries no traffic")
            return Step("notify", "the rollback is recorded but not yet marked handled", record)
        if self.target.get("armed") and not self._restaged():
            why = (
                f"the listener already sends all traffic to {to}, the armed target, and no record says so for this "
                "deployment (a flip whose record was not written): recorded now"
            )
            return Step("repair", why, self.rollback(base, why))
        return Step("none", f"{colour} carries no traffic")

    def _why_not(self) -> str | None:
        """Why the guardian must not flip, health aside; None when it may."""
        colour, to, target = self.colour, self.to, self.target
        if self.weights[colour] == 0:
            return f"{colour} carries no traffic"
        if target.get("color") != to:
            return f"{to} is not the recorded rollback target (nothing to roll back to)"
        if not target.get("armed"):
            return f"the rollback target {to} is not armed"
        if self._restaged():
            recorded, running = target.get("fingerprint"), (self.state.get("fingerprints") or {}).get(to)
            return (
                f"{to} no longer runs the release traffic left (fingerprint {str(recorded)[:12]}… then, "
                f"{str(running)[:12]}… now)"
            )
        return None

    def _flip_or_refuse(self, base: Mapping[str, Any]) -> Step:
        colour, to, state = self.colour, self.to, self.state
        described = self.run.clients.elbv2.describe_target_health(TargetGroupArn=state["targetGroups"][to])
        healthy = sum(1 for t in described["TargetHealthDescriptions"] if t["TargetHealth"]["State"] == "healthy")
        desired = int(state["desired"])
        if healthy < desired:
            # Worth a record (someone must fix it or roll back by hand), once per deployment and reason: the
            # scheduled looks repeat it every minute while the alarm stays in ALARM.
            why = f"{to} has {healthy} healthy targets, fewer than its desired {desired}"
            record = self.record or {}
            said = (record.get("stateId"), record.get("action"), record.get("color"), record.get("why")) == (
                state["stateId"],
                "none",
                colour,
                why,
            )
            return Step("none", why) if said else Step("refuse", why, {**base, "why": why})
        why = (
            f"{base['alarm']} is ALARM on {colour}, which carried {self.weights[colour]}%; {to} is armed and has "
            f"{healthy} healthy targets"
        )
        return Step("flip", why, self.rollback(base, why))

    def rollback(self, base: Mapping[str, Any], why: str) -> dict[str, Any]:
        fingerprints = self.state.get("fingerprints") or {}
        return {
            **base,
            "action": "rollback",
            "from": self.colour,
            "to": self.to,
            "why": why,
            "fingerprints": {self.colour: fingerprints.get(self.colour), self.to: fingerprints.get(self.to)},
        }
