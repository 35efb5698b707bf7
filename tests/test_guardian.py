"""The guardian's handler against a moto server over HTTP: listener, target groups and targets, SSM, SNS.

No runner is involved: the handler is all that runs, as when EventBridge invokes the Lambda after the
live colour's release-health alarm goes to ALARM.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from botocore.exceptions import ClientError

from bluegreen.guardian import handler as guardian
from tests.moto_server import World, client

STATE = "/bluegreen/test/guardian-state"
RECORD = "/bluegreen/test/guardian-record"
ALARMS = {"blue": "bluegreen-test-blue-release-health", "green": "bluegreen-test-green-release-health"}
FINGERPRINTS = {"blue": "b" * 64, "green": "g" * 64}


def write_state(
    world: World,
    live: str = "green",
    armed: bool = True,
    target_fingerprint: str | None = None,
    generation: int | None = None,
) -> None:
    """What `pulumi up` writes after the flip to `live`: the other colour is the armed rollback target
    (`generation`: as `bluegreen.guardian_state` writes it; None: a state written before it had one)."""
    target = "blue" if live == "green" else "green"
    world.set_weights({live: 100, target: 0})
    state = {
        "version": 1,
        "stateId": "update-7",
        "listenerArn": world.listener_arn,
        "targetGroups": dict(world.target_groups),
        "desired": 2,
        "stickinessSeconds": 0,
        "fingerprints": FINGERPRINTS,
        "releaseHealthAlarms": ALARMS,
        "target": {"color": target, "fingerprint": target_fingerprint or FINGERPRINTS[target], "armed": armed},
    }
    if generation is not None:
        state["generation"] = generation
    client("ssm", world.endpoint).put_parameter(Name=STATE, Value=json.dumps(state), Type="String", Overwrite=True)


def alarm(color: str, value: str = "ALARM") -> dict[str, Any]:
    """The EventBridge event for a CloudWatch alarm state change."""
    return {
        "source": "aws.cloudwatch",
        "detail-type": "CloudWatch Alarm State Change",
        "detail": {"alarmName": ALARMS[color], "state": {"value": value}},
    }


class CountingClients(guardian.Clients):
    def __init__(self) -> None:
        super().__init__()
        self.modify_listener = 0
        self.elbv2.meta.events.register("before-call", self._count)

    def _count(self, model: Any, **_: Any) -> None:
        if model.name == "ModifyListener":
            self.modify_listener += 1


def run(event: dict[str, Any], clients: guardian.Clients | None = None, topic: str = "") -> dict[str, Any]:
    return guardian.decide(
        event, state_parameter=STATE, record_parameter=RECORD, topic_arn=topic, clients=clients or guardian.Clients()
    )


def recorded(world: World) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(client("ssm", world.endpoint).get_parameter(Name=RECORD)["Parameter"]["Value"])
    return value


def subscribed_queue(world: World) -> tuple[str, str]:
    """An SNS topic with an SQS queue subscribed, to read what the guardian publishes."""
    sns, sqs = client("sns", world.endpoint), client("sqs", world.endpoint)
    topic = sns.create_topic(Name="guardian")["TopicArn"]
    queue = sqs.create_queue(QueueName="guardian-notes")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    return topic, queue


def test_an_alarm_on_the_live_colour_flips_to_the_armed_healthy_target_once(world: World) -> None:
    write_state(world, live="green")
    topic, queue = subscribed_queue(world)
    clients = CountingClients()

    decision = run(alarm("green"), clients, topic)

    assert world.live_weights() == {"blue": 100, "green": 0}
    assert clients.modify_listener == 1
    assert decision["action"] == "rollback" and (decision["from"], decision["to"]) == ("green", "blue")
    assert decision["fingerprints"] == FINGERPRINTS
    assert recorded(world) == decision
    messages = client("sqs", world.endpoint).receive_message(QueueUrl=queue, WaitTimeSeconds=1)["Messages"]
    assert json.loads(json.loads(messages[0]["Body"])["Message"])["to"] == "blue"


def test_the_rollback_record_carries_the_state_generation(world: World) -> None:
    """A flip update that fails after writing the state exports no outputs: the program tells the guardian's
    rollback on it from an older one by this generation (`bluegreen.guardian_record.acted_on`)."""
    write_state(world, live="green", generation=5)

    decision = run(alarm("green"))

    assert decision["action"] == "rollback" and (decision["stateId"], decision["generation"]) == ("update-7", 5)
    assert recorded(world) == decision


def test_a_state_without_a_generation_gives_a_record_without_one(world: World) -> None:
    write_state(world, live="green")

    decision = run(alarm("green"))

    assert decision["action"] == "rollback" and "generation" not in recorded(world)


def test_an_unhealthy_target_is_not_flipped_to_and_the_record_says_why(world: World) -> None:
    write_state(world, live="green")
    world.stop_instances("blue")

    decision = run(alarm("green"))

    assert world.live_weights() == {"blue": 0, "green": 100}
    assert decision["action"] == "none"
    assert decision["why"] == "blue has 0 healthy targets, fewer than its desired 2"
    assert recorded(world) == decision


def test_an_unarmed_target_is_not_flipped_to(world: World) -> None:
    write_state(world, live="green", armed=False)

    decision = run(alarm("green"))

    assert (decision["action"], decision["why"]) == ("none", "the rollback target blue is not armed")
    assert world.live_weights() == {"blue": 0, "green": 100}


def test_a_target_restaged_since_traffic_left_it_is_not_flipped_to(world: World) -> None:
    write_state(world, live="green", target_fingerprint="0" * 64)

    decision = run(alarm("green"))

    assert decision["action"] == "none" and decision["why"].startswith("blue no longer runs the release traffic left")
    assert world.live_weights() == {"blue": 0, "green": 100}


def test_a_repeated_alarm_does_not_flip_again_nor_back(world: World) -> None:
    write_state(world, live="green")
    clients = CountingClients()
    assert run(alarm("green"), clients)["action"] == "rollback"

    again = run(alarm("green"), clients)
    back = run(alarm("blue"), clients)  # blue, live now, alarms too: the guardian never flips back

    assert clients.modify_listener == 1
    assert again["why"] == "green carries no traffic"
    assert back["why"] == "green is not the recorded rollback target (nothing to roll back to)"
    assert world.live_weights() == {"blue": 100, "green": 0}


def test_an_alarm_on_the_idle_colour_does_nothing(world: World) -> None:
    write_state(world, live="green")

    decision = run(alarm("blue"))

    assert (decision["action"], decision["why"]) == ("none", "blue carries no traffic")
    assert world.live_weights() == {"blue": 0, "green": 100}


def test_an_ok_state_change_does_nothing(world: World) -> None:
    write_state(world, live="green")
    assert run(alarm("green", "OK"))["why"] == "the alarm is OK, not ALARM"


def at_once(invoke: Any, clients: list[Any]) -> list[dict[str, Any]]:
    """Each client's invocation on a thread of its own, all started together; their decisions, as they finished."""
    decisions: list[dict[str, Any]] = []
    threads = [threading.Thread(target=lambda c=c: decisions.append(invoke(c))) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return decisions


def test_two_invocations_at_once_flip_once(world: World) -> None:
    write_state(world, live="green")
    clients = [CountingClients(), CountingClients()]
    start = threading.Barrier(2)

    def invoke(own: guardian.Clients) -> dict[str, Any]:
        start.wait()
        return run(alarm("green"), own)

    decisions = at_once(invoke, clients)

    assert sum(c.modify_listener for c in clients) == 1
    assert sorted(d["action"] for d in decisions) == ["none", "rollback"]
    assert world.live_weights() == {"blue": 100, "green": 0}


class RecordingClients(CountingClients):
    """Also keeps every PutParameter request, as the handler made it."""

    def __init__(self) -> None:
        super().__init__()
        self.puts: list[dict[str, Any]] = []
        self.ssm.meta.events.register("provide-client-params.ssm.PutParameter", self._put)

    def _put(self, params: dict[str, Any], **_: Any) -> None:
        self.puts.append(dict(params))


def test_two_invocations_that_both_saw_the_live_colour_flip_once_and_record_once(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No reserved concurrency serialises them: both read the listener while green is live, and meet at the
    # claim. Only the one whose conditional create of the claim succeeds acts; the other does nothing, or,
    # if it claims after the first gave its claim back, finds the flip done and the record written.
    write_state(world, live="green")
    clients = [RecordingClients(), RecordingClients()]
    both_decided = threading.Barrier(2, timeout=10)
    claim = guardian.Run.claim

    def claim_after_both_decided(self: guardian.Run, state_id: str) -> Any:
        both_decided.wait()
        return claim(self, state_id)

    monkeypatch.setattr(guardian.Run, "claim", claim_after_both_decided)
    decisions = at_once(lambda c: run(alarm("green"), c), clients)

    assert sum(c.modify_listener for c in clients) == 1
    assert sorted(d["action"] for d in decisions) == ["none", "rollback"]
    puts = [put for c in clients for put in c.puts]
    claims = [put for put in puts if put["Name"].startswith(f"{RECORD}-claim-") and put["Overwrite"] is False]
    assert claims and all(put["Name"].endswith("-update-7-1") for put in claims[:2]), "a conditional create"
    assert [put["Name"] for put in puts if put["Name"] == RECORD] == [RECORD]
    assert recorded(world)["action"] == "rollback"
    assert world.live_weights() == {"blue": 100, "green": 0}


class FaultyClients(RecordingClients):
    """Throttles chosen calls (after the SDK's own retries: the error reaches the handler)."""

    def __init__(self) -> None:
        super().__init__()
        self.faults: list[tuple[str, Any]] = []
        self.elbv2.meta.events.register("provide-client-params", self._fault)
        self.ssm.meta.events.register("provide-client-params", self._fault)

    def throttle(self, operation: str, when: Any = lambda params: True) -> FaultyClients:
        self.faults.append((operation, when))
        return self

    def _fault(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        for fault in self.faults:
            if fault[0] == model.name and fault[1](params):
                self.faults.remove(fault)
                raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, model.name)


def test_a_throttled_modify_listener_is_retried_into_the_rollback_and_its_record(world: World) -> None:
    write_state(world, live="green")
    first = FaultyClients().throttle("ModifyListener")

    with pytest.raises(ClientError, match="Rate exceeded"):
        run(alarm("green"), first)  # Lambda retries an invocation that failed
    assert world.live_weights() == {"blue": 0, "green": 100}
    retry = run(alarm("green"), CountingClients())

    assert retry["action"] == "rollback" and (retry["from"], retry["to"]) == ("green", "blue")
    assert world.live_weights() == {"blue": 100, "green": 0}
    assert recorded(world) == retry


def test_a_throttled_record_write_is_retried_into_the_record_without_a_second_flip(world: World) -> None:
    write_state(world, live="green")
    first = FaultyClients().throttle("PutParameter", lambda params: params["Name"] == RECORD)

    with pytest.raises(ClientError, match="Rate exceeded"):
        run(alarm("green"), first)
    assert world.live_weights() == {"blue": 100, "green": 0}  # flipped, not yet recorded
    retry_clients = CountingClients()
    retry = run(alarm("green"), retry_clients)

    assert retry_clients.modify_listener == 0
    assert retry["action"] == "rollback" and retry["why"].startswith("the listener already sends all traffic to blue")
    assert recorded(world) == retry  # the listener and the record agree
    assert run(alarm("green"))["why"] == "green carries no traffic"  # and the next retry finds it all done


def test_a_claim_its_holder_could_not_give_back_lapses(world: World) -> None:
    write_state(world, live="green")
    stuck = (
        FaultyClients()
        .throttle("ModifyListener")
        .throttle("PutParameter", lambda params: "-claim-" in params["Name"] and params["Overwrite"])
    )
    t = [1000.0]

    def at(clients: guardian.Clients) -> dict[str, Any]:
        return guardian.decide(
            alarm("green"), state_parameter=STATE, record_parameter=RECORD, topic_arn="", clients=clients,
            clock=lambda: t[0],
        )  # fmt: skip

    with pytest.raises(ClientError):
        at(stuck)  # ModifyListener throttled, and giving the claim back too
    t[0] += 10
    assert at(CountingClients())["why"] == "another invocation is acting on this deployment (its claim is live)"
    t[0] += guardian.CLAIM_SECONDS
    assert at(CountingClients())["action"] == "rollback"
    assert world.live_weights() == {"blue": 100, "green": 0}


def test_a_scheduled_look_acts_once_the_target_is_healthy_while_the_alarm_stays_in_alarm(world: World) -> None:
    # The state change fired once, while blue was unhealthy; EventBridge fires no second one while it stays ALARM.
    write_state(world, live="green")
    cloudwatch = client("cloudwatch", world.endpoint)
    for name in ALARMS.values():
        cloudwatch.put_metric_alarm(
            AlarmName=name, Namespace="AWS/ApplicationELB", MetricName="HTTPCode_Target_5XX_Count", Statistic="Sum",
            Period=60, EvaluationPeriods=1, Threshold=1.0, ComparisonOperator="GreaterThanThreshold",
        )  # fmt: skip
        cloudwatch.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="quiet")
    tick = {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}
    assert run(tick)["why"] == "no release-health alarm is in ALARM"
    cloudwatch.set_alarm_state(AlarmName=ALARMS["green"], StateValue="ALARM", StateReason="5xx")
    world.stop_instances("blue")
    assert run(alarm("green"))["why"] == "blue has 0 healthy targets, fewer than its desired 2"
    clients = RecordingClients()
    assert run(tick, clients)["action"] == "none"
    assert [p for p in clients.puts if p["Name"] == RECORD] == []  # the same refusal is not written again

    world.start_instances("blue")
    looked = run(tick)

    assert looked["action"] == "rollback" and looked["alarm"] == ALARMS["green"]
    assert world.live_weights() == {"blue": 100, "green": 0}
    assert recorded(world) == looked


def test_a_deployment_written_while_the_guardian_decides_is_left_to_the_next_look(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_state(world, live="green")
    ssm = client("ssm", world.endpoint)
    claim = guardian.Run.claim

    def update_lands_first(self: guardian.Run, state_id: str) -> Any:
        state = json.loads(ssm.get_parameter(Name=STATE)["Parameter"]["Value"])
        ssm.put_parameter(Name=STATE, Value=json.dumps({**state, "stateId": "update-8"}), Type="String", Overwrite=True)
        return claim(self, state_id)

    monkeypatch.setattr(guardian.Run, "claim", update_lands_first)
    clients = CountingClients()

    decision = run(alarm("green"), clients)

    assert decision["why"] == "a new deployment was written while the guardian decided; it looks again"
    assert clients.modify_listener == 0 and world.live_weights() == {"blue": 0, "green": 100}


def test_a_late_refusal_does_not_overwrite_the_rollback_a_concurrent_invocation_recorded(world: World) -> None:
    # Without reserved concurrency two invocations for one alarm event (EventBridge delivers at least once) can run
    # at once. A finds the target short of healthy targets (a flapping check) and will record a refusal; B, a moment
    # later, finds it healthy, flips and records the rollback. A's refusal lands last and overwrites B's record, so
    # the record says "none": the program's guard (check_guardian_record) no longer stops the next `pulumi up` from
    # sending traffic back to the colour the guardian rolled away from, and `bake` never sees the guardian acted.
    # With reserved concurrency 1 the two ran one after the other and B found green carrying no traffic. Now every
    # write happens under the deployment's claim, after reading the listener and the record again, so A, which
    # still plans a refusal, finds the rollback done and writes nothing.
    write_state(world, live="green")
    world.stop_instances("blue")
    a_saw_unhealthy, b_done = threading.Event(), threading.Event()
    slow = CountingClients()

    def pause_after_target_health(model: Any, **_: Any) -> None:
        if model.name == "DescribeTargetHealth":
            a_saw_unhealthy.set()
            assert b_done.wait(timeout=20)

    slow.elbv2.meta.events.register("after-call", pause_after_target_health)
    decisions: dict[str, dict[str, Any]] = {}
    thread = threading.Thread(target=lambda: decisions.__setitem__("a", run(alarm("green"), slow)))
    thread.start()
    assert a_saw_unhealthy.wait(timeout=20)
    world.start_instances("blue")
    decisions["b"] = run(alarm("green"), CountingClients())
    b_done.set()
    thread.join()

    assert (decisions["a"]["action"], decisions["b"]["action"]) == ("none", "rollback")
    assert world.live_weights() == {"blue": 100, "green": 0}
    assert recorded(world)["action"] == "rollback"


def test_the_lambda_entry_point_reads_its_parameters_from_the_environment(
    world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write_state(world, live="green")
    monkeypatch.setenv(guardian.STATE_PARAMETER, STATE)
    monkeypatch.setenv(guardian.RECORD_PARAMETER, RECORD)

    decision = guardian.handler(alarm("green"))

    assert decision["action"] == "rollback"
    logged = json.loads(capsys.readouterr().out)
    assert logged["guardian"]["to"] == "blue"
