"""The guardian's wiring under mocks, its IAM policy, and the program's refusal after it rolled back."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bluegreen.guardian.handler import CLAIM_SECONDS
from bluegreen.guardian_record import GuardianRolledBackError, acted_on
from components.guardian import ARCHIVE_FILES, PACKAGE, TIMEOUT_SECONDS, guardian_policy
from tests.harness import Recording, deployed, keep_decision, run_failing, run_program

FLIPPED = {"greenRelease": "v2.0.0", "activeColor": "green"}


@pytest.fixture(scope="module")
def just_flipped() -> Recording:
    live = run_program()
    staged = run_program({"greenRelease": "v2.0.0"}, previous_outputs=deployed(live))
    return run_program(FLIPPED, previous_outputs=deployed(staged))


def state(rec: Recording) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(rec.by_name("bluegreen-guardian-state").inputs["value"]["value"])
    return value


def test_either_colours_release_health_alarm_going_to_alarm_invokes_the_guardian() -> None:
    rec = run_program()
    pattern = json.loads(rec.by_name("bluegreen-guardian-alarm").inputs["eventPattern"])
    assert pattern == {
        "source": ["aws.cloudwatch"],
        "detail-type": ["CloudWatch Alarm State Change"],
        "detail": {
            "alarmName": [rec.outputs["blueReleaseHealthAlarm"], rec.outputs["greenReleaseHealthAlarm"]],
            "state": {"value": ["ALARM"]},
        },
    }
    function = rec.by_name("bluegreen-guardian-function")
    target = rec.by_name("bluegreen-guardian-target").inputs
    assert target["arn"] == function.outputs["arn"]
    permission = rec.by_name("bluegreen-guardian-invoke").inputs
    assert (permission["principal"], permission["sourceArn"]) == (
        "events.amazonaws.com",
        rec.by_name("bluegreen-guardian-alarm").outputs["arn"],
    )


def test_the_function_runs_on_the_runtimes_boto3_and_reserves_no_concurrency() -> None:
    # A reservation needs 100 unreserved in the account; new accounts have 10 or 50 (tests/aws_rules.py QUOTAS).
    function = run_program().by_name("bluegreen-guardian-function").inputs
    assert function["runtime"] == "python3.12" and "reservedConcurrentExecutions" not in function
    assert all(re.fullmatch(r"[a-zA-Z]([a-zA-Z0-9_])+", name) for name in function["environment"]["variables"])


def test_a_reservation_is_an_option_of_its_own() -> None:
    function = run_program({"guardianReservedConcurrency": 2}).by_name("bluegreen-guardian-function").inputs
    assert function["reservedConcurrentExecutions"] == 2


def test_the_archive_holds_everything_the_handler_imports(tmp_path: Path) -> None:
    # Unpacked as Lambda unpacks it, with nothing of the package but the archive's files on the path.
    (tmp_path / "bluegreen" / "guardian").mkdir(parents=True)
    (tmp_path / "bluegreen" / "__init__.py").write_text("")
    for relative in ARCHIVE_FILES:
        (tmp_path / "bluegreen" / relative).write_text((PACKAGE / relative).read_text())
    repo = str(Path(__file__).resolve().parent.parent)
    code = (
        f"import sys; sys.path = ['.'] + [p for p in sys.path if p and p != {repo!r}];"
        "import bluegreen.guardian.handler as h, bluegreen.contract as c; print(h.handler.__name__, c.__file__)"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    name, contract = done.stdout.split()
    assert name == "handler" and contract.startswith(str(tmp_path))


def test_the_guardians_role_writes_this_listener_only() -> None:
    policy = guardian_policy(
        "arn:listener/app/lb/1/2", "arn:state", "arn:record", "arn:topic", "arn:logs", alarm_arns=["arn:a1", "arn:a2"]
    )
    writes = [s for s in policy["Statement"] if "elasticloadbalancing:ModifyListener" in json.dumps(s["Action"])]
    assert [s["Resource"] for s in writes] == ["arn:listener/app/lb/1/2"]
    on_everything = [s["Action"] for s in policy["Statement"] if s["Resource"] == "*"]
    assert on_everything == [["elasticloadbalancing:DescribeListeners", "elasticloadbalancing:DescribeTargetHealth"]]
    by_action = {json.dumps(s["Action"]): s["Resource"] for s in policy["Statement"]}
    assert by_action['"cloudwatch:DescribeAlarms"'] == ["arn:a1", "arn:a2"]  # the two release-health alarms only
    own = ["arn:record", "arn:record-claim-*", "arn:record-handled-*"]
    assert by_action['"ssm:PutParameter"'] == own
    assert by_action['"ssm:GetParameter"'] == ["arn:state", *own]


def test_the_guardian_looks_again_every_minute_and_a_flip_leaves_the_schedule_alone(just_flipped: Recording) -> None:
    schedule = just_flipped.by_name("bluegreen-guardian-schedule").inputs
    assert (schedule["scheduleExpression"], schedule["state"]) == ("rate(1 minute)", "ENABLED")
    function = just_flipped.by_name("bluegreen-guardian-function")
    assert just_flipped.by_name("bluegreen-guardian-target-schedule").inputs["arn"] == function.outputs["arn"]
    permission = just_flipped.by_name("bluegreen-guardian-invoke-schedule").inputs
    assert permission["sourceArn"] == just_flipped.by_name("bluegreen-guardian-schedule").outputs["arn"]
    # Its claims lapse only after the function's timeout has ended whoever held them.
    assert function.inputs["timeout"] == TIMEOUT_SECONDS < CLAIM_SECONDS
    # Always enabled (the handler only looks while its target is armed), so arming or disarming changes no rule.
    off = run_program({**FLIPPED, "guardianArmed": "off"}, previous_outputs=deployed(just_flipped))
    assert off.by_name("bluegreen-guardian-schedule").inputs == schedule


def test_the_state_arms_the_colour_traffic_left_until_the_bake_is_decided(just_flipped: Recording) -> None:
    written = state(just_flipped)
    assert written["target"] == {
        "color": "blue",
        "fingerprint": just_flipped.outputs["blueSpec"]["fingerprint"],
        "armed": True,
    }
    assert written["fingerprints"]["green"] == just_flipped.outputs["greenSpec"]["fingerprint"]
    assert written["stateId"] == just_flipped.outputs["guardianStateId"]
    decided = {**FLIPPED, "bakeDecision": keep_decision(just_flipped)}
    assert state(run_program(decided, previous_outputs=deployed(just_flipped)))["target"]["armed"] is False
    always = {**decided, "guardianArmed": "always"}
    assert state(run_program(always, previous_outputs=deployed(just_flipped)))["target"]["armed"] is True
    off = {**FLIPPED, "guardianArmed": "off"}
    assert state(run_program(off, previous_outputs=deployed(just_flipped)))["target"]["armed"] is False


def test_during_a_canary_the_state_arms_the_active_colour_so_a_dead_runners_ramp_is_watched() -> None:
    staged = run_program({"greenRelease": "v2.0.0"}, previous_outputs=deployed(run_program()))
    canary = {"greenRelease": "v2.0.0", "idleTrafficPercent": 10}

    written = state(run_program(canary, previous_outputs=deployed(staged)))

    assert written["target"] == {
        "color": "blue",
        "fingerprint": staged.outputs["blueSpec"]["fingerprint"],
        "armed": True,
        "canary": True,
    }
    off = state(run_program({**canary, "guardianArmed": "off"}, previous_outputs=deployed(staged)))
    assert off["target"]["armed"] is False


def rolled_back(rec: Recording) -> dict[str, str]:
    """The record parameter after the guardian flipped `rec`'s live green back to blue."""
    record = {
        "action": "rollback",
        "from": "green",
        "to": "blue",
        "alarm": "bluegreen-dev-green-release-health",
        "why": "ALARM on green",
        "at": "2026-12-02T08:00:00Z",
        "stateId": rec.outputs["guardianStateId"],
        "generation": rec.outputs["guardianGeneration"],  # as the handler writes it (the state's generation)
    }
    return {rec.outputs["guardianRecordParameter"]: json.dumps(record)}


def test_after_the_guardian_rolled_back_an_update_may_not_send_traffic_back(just_flipped: Recording) -> None:
    error, registered = run_failing(FLIPPED, deployed(just_flipped), parameters=rolled_back(just_flipped))
    assert isinstance(error, GuardianRolledBackError) and registered == []
    assert str(error).startswith(
        "the guardian rolled back from green to blue at 2026-12-02T08:00:00Z (bluegreen-dev-green-release-health: "
        "ALARM on green), and this update would send 100% of traffic back to green. Either accept the rollback: "
        "`pulumi config set bluegreen:activeColor blue`"
    )
    assert "`pulumi config set bluegreen:guardianAck 2026-12-02T08:00:00Z`" in str(error)


def test_accepting_the_rollback_in_config_or_acknowledging_it_lets_the_update_through(just_flipped: Recording) -> None:
    parameters = rolled_back(just_flipped)
    accepted = run_program({**FLIPPED, "activeColor": "blue"}, deployed(just_flipped), parameters=parameters)
    assert accepted.outputs["activeColor"] == "blue"
    acked = run_program(
        {**FLIPPED, "guardianAck": "2026-12-02T08:00:00Z"}, deployed(just_flipped), parameters=parameters
    )
    assert acked.outputs["activeColor"] == "green"


def older_record(rec: Recording, *, generation: bool = True) -> dict[str, str]:
    """`rolled_back(rec)` as the guardian wrote it on the deployment before `rec`'s (an older handler: no generation)."""
    parameters = {}
    for name, value in rolled_back(rec).items():
        record = {**json.loads(value), "stateId": "older", "generation": rec.outputs["guardianGeneration"] - 1}
        if not generation:
            del record["generation"]
        parameters[name] = json.dumps(record)
    return parameters


@pytest.mark.parametrize("generation", [True, False], ids=["with-generation", "older-handler"])
def test_a_record_about_an_older_deployment_refuses_nothing(just_flipped: Recording, generation: bool) -> None:
    parameters = older_record(just_flipped, generation=generation)
    assert run_program(FLIPPED, deployed(just_flipped), parameters=parameters).outputs["activeColor"] == "green"


def test_every_update_that_moves_traffic_is_a_new_deployment_even_back_to_the_same_build(
    just_flipped: Recording,
) -> None:
    back = run_program({**FLIPPED, "activeColor": "blue"}, previous_outputs=deployed(just_flipped))
    again = run_program(FLIPPED, previous_outputs=deployed(back))
    unchanged = run_program(FLIPPED, previous_outputs=deployed(just_flipped))

    generations = [rec.outputs["guardianGeneration"] for rec in (just_flipped, back, again)]
    assert generations == [generations[0], generations[0] + 1, generations[0] + 2]
    # The same build, settings and target as the first flip, yet another id: its old record names no rollback here.
    assert {k: v for k, v in state(again).items() if k not in ("generation", "stateId")} == {
        k: v for k, v in state(just_flipped).items() if k not in ("generation", "stateId")
    }
    assert again.outputs["guardianStateId"] != just_flipped.outputs["guardianStateId"]
    assert state(again)["stateId"] == again.outputs["guardianStateId"]
    # An update that moves nothing stays the same deployment: a rollback recorded on it still refuses.
    assert unchanged.outputs["guardianGeneration"] == generations[0]
    assert unchanged.outputs["guardianStateId"] == just_flipped.outputs["guardianStateId"]


def test_a_rollback_after_a_failed_flip_update_stops_its_retry() -> None:
    live = run_program()
    staged = run_program({"greenRelease": "v2.0.0"}, previous_outputs=deployed(live))
    failed = run_program(FLIPPED, previous_outputs=deployed(staged))  # wrote guardian-state, then failed: no outputs
    retry_parameters = rolled_back(failed)  # the guardian rolled green back to blue on the failed update's stateId
    error, _ = run_failing(FLIPPED, deployed(staged), parameters=retry_parameters)
    assert isinstance(error, GuardianRolledBackError)


def test_a_rollback_after_a_failed_update_that_moved_no_traffic_stops_its_retry(just_flipped: Recording) -> None:
    changed = {**FLIPPED, "desiredCapacity": "3"}  # a new stateId, the same generation
    failed = run_program(changed, previous_outputs=deployed(just_flipped))  # wrote guardian-state, then failed
    assert failed.outputs["guardianGeneration"] == just_flipped.outputs["guardianGeneration"]
    assert failed.outputs["guardianStateId"] != just_flipped.outputs["guardianStateId"]
    error, _ = run_failing(changed, deployed(just_flipped), parameters=rolled_back(failed))
    assert isinstance(error, GuardianRolledBackError)


def test_accepting_a_rollback_does_not_arm_the_colour_the_guardian_left(just_flipped: Recording) -> None:
    accepted = run_program({**FLIPPED, "activeColor": "blue"}, deployed(just_flipped),
                           parameters=rolled_back(just_flipped))  # fmt: skip
    target = state(accepted)["target"]
    assert not (target["color"] == "green" and target["armed"])
    # Not with guardianArmed=always either, and green is not held: the failed release may be restaged at once.
    always = run_program({**FLIPPED, "activeColor": "blue", "guardianArmed": "always"}, deployed(just_flipped),
                         parameters=rolled_back(just_flipped))  # fmt: skip
    assert state(always)["target"]["armed"] is False
    restaged = run_program({"greenRelease": "v2.0.1"}, deployed(accepted))
    assert restaged.outputs["greenRelease"] == "v2.0.1"
    # Flipping to the fixed green arms blue again, as any flip arms the colour it leaves.
    flipped = run_program({"greenRelease": "v2.0.1", "activeColor": "green"}, deployed(restaged))
    assert state(flipped)["target"] == {**state(just_flipped)["target"], "armed": True}


def test_which_records_count_as_rollbacks_since_the_last_update() -> None:
    record = {"action": "rollback", "from": "green", "to": "blue", "stateId": "S2", "generation": 4}
    assert acted_on(record, "S2", 4)  # this deployment
    assert acted_on(record, "S1", 3)  # written by an update that failed before exporting generation 4
    assert not acted_on(record, "S5", 5)  # an update since recorded what it did
    # Same generation, another stateId: a failed update that moved no traffic, or one that acknowledged the
    # record. The refusal counts it (guardianAck lets it through); what the tool shows and watches does not.
    assert acted_on(record, "S3", 4, same_generation=True) and not acted_on(record, "S3", 4)
    older = {key: value for key, value in record.items() if key != "generation"}  # an older guardian
    assert acted_on(older, "S2", 4) and not acted_on(older, "S1", 3)
    assert not acted_on(record, "S1", None)  # outputs from before guardianGeneration: the stateId rule
