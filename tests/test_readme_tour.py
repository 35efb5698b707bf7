"""The README's five-minute tour runs as written, on the config it shows.

The tour's commands are read from README.md in order: each `pulumi config set` changes the stack's config, each
`pulumi up` runs the real program under the SDK's mocks with the previous run's outputs as the deployed state
and the served policy pack (every `pulumi up` there runs with it), and each update is replayed in the engine's
order (tests/engine_order.py): no wait that never ends, no traffic to a colour before it is healthy. After each
step the listener's weights say where users are. The tour ends with the destroy path (`decommission`, then
`pulumi destroy`), which must leave nothing that AWS or Pulumi refuses to delete.

The release tool's block is left to the tool's own tests (tests/test_tool_*.py); its command lines are checked
to parse in tests/test_examples_docs.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from bluegreen.contract import DECOMMISSION_TAG
from tests.doc_commands import commands, section, shell_blocks
from tests.engine_order import simulate
from tests.harness import CERT, PROJECT_DIR, REGION, Recording, deployed, run_program
from tests.policy_server import ServedPack, from_recording, serve_pack

README = PROJECT_DIR / "README.md"
TOUR_HEADING = "## A five-minute tour"
# What the tour leaves for the reader to fill in, and the value the test fills in.
PLACEHOLDERS = {"arn:aws:acm:...": CERT}
# Commands that only read, or that the tool's tests cover: they change neither config nor the stack.
READ_ONLY = ("source", "curl", "cat", "python")


@dataclass
class Step:
    """One `pulumi up` (or the final `pulumi destroy`) with the config the tour has set by then."""

    command: str
    config: dict[str, str]
    changed: dict[str, str] = field(default_factory=dict)  # what the tour set since the previous step


@dataclass
class Tour:
    stack: str = ""
    steps: list[Step] = field(default_factory=list)


def read_tour(markdown: str) -> Tour:
    tour = Tour()
    config: dict[str, str] = {}
    changed: dict[str, str] = {}
    for block in shell_blocks(section(markdown, TOUR_HEADING)):
        for argv in commands(block):
            if argv[:3] == ["pulumi", "stack", "init"]:
                tour.stack = argv[3]
            elif argv[:3] == ["pulumi", "config", "set"]:
                key, value = argv[3], PLACEHOLDERS.get(argv[4], argv[4])
                if key.startswith("aws:"):
                    assert (key, value) == ("aws:region", REGION), f"the mocks answer for {REGION} only: {argv}"
                else:
                    config[key.removeprefix("bluegreen:")] = changed[key.removeprefix("bluegreen:")] = value
            elif argv[:2] == ["pulumi", "up"]:
                assert "--policy-pack" in argv and argv[argv.index("--policy-pack") + 1] == "policies", argv
                tour.steps.append(Step("up", dict(config), changed))
                changed = {}
            elif argv[:2] == ["pulumi", "destroy"]:
                tour.steps.append(Step("destroy", dict(config), changed))
                changed = {}
            elif argv[0] not in READ_ONLY:
                raise AssertionError(f"the tour shows a command this test does not model: {' '.join(argv)}")
    return tour


TOUR = read_tour(README.read_text(encoding="utf-8"))
# Where users are after each `pulumi up` of the tour, and which release each colour runs.
EXPECTED = [
    ("deploy", {"blue": 100, "green": 0}, {"blue": "v1.0.0", "green": "v1.0.0"}),
    ("stage", {"blue": 100, "green": 0}, {"blue": "v1.0.0", "green": "v2.0.0"}),
    ("flip", {"blue": 0, "green": 100}, {"blue": "v1.0.0", "green": "v2.0.0"}),
    ("roll back", {"blue": 100, "green": 0}, {"blue": "v1.0.0", "green": "v2.0.0"}),
    ("decommission", {"blue": 100, "green": 0}, {"blue": "v1.0.0", "green": "v2.0.0"}),
]


@dataclass
class Ran:
    step: Step
    before: Recording | None
    after: Recording


@pytest.fixture(scope="module")
def runs() -> list[Ran]:
    """Each `pulumi up` of the tour, on the outputs the one before it left."""
    ran: list[Ran] = []
    before: Recording | None = None
    for step in TOUR.steps:
        if step.command != "up":
            continue
        after = run_program(step.config, deployed(before) if before else None, stack=TOUR.stack)
        ran.append(Ran(step, before, after))
        before = after
    return ran


@pytest.fixture(scope="module")
def pack() -> Iterator[ServedPack]:
    with serve_pack() as served:
        yield served


def test_the_tour_is_the_one_this_test_expects() -> None:
    """A new step in the README needs a line in EXPECTED."""
    assert TOUR.stack == "prod"  # no stack file: Pulumi.yaml's defaults, the production baseline included
    assert [s.command for s in TOUR.steps] == ["up"] * len(EXPECTED) + ["destroy"]
    first = TOUR.steps[0].changed
    assert first["certificateArn"] == CERT and first["publicHostname"] == "app.example.com"
    assert [s.changed for s in TOUR.steps[1:]] == [
        {"greenRelease": "v2.0.0"},
        {"activeColor": "green"},
        {"activeColor": "blue"},
        {"decommission": "true"},
        {},
    ]


@pytest.mark.parametrize("index", range(len(EXPECTED)), ids=[name for name, _, _ in EXPECTED])
def test_each_update_finishes_and_sends_users_where_the_tour_says(runs: list[Ran], index: int) -> None:
    ran = runs[index]
    _, weights, releases = EXPECTED[index]
    outcome = simulate(ran.after, ran.before)
    assert outcome.hung == [], f"these Auto Scaling groups would wait until capacityTimeout: {outcome.hung}"
    assert outcome.blocked == []
    assert outcome.early_traffic == []
    outputs = ran.after.outputs
    assert {"blue": outputs["blueWeight"], "green": outputs["greenWeight"]} == weights
    assert {"blue": outputs["blueRelease"], "green": outputs["greenRelease"]} == releases
    assert outputs["url"] == "https://app.example.com"  # the hostname the certificate covers


@pytest.mark.parametrize("index", range(len(EXPECTED)), ids=[name for name, _, _ in EXPECTED])
def test_each_update_passes_the_policy_pack(runs: list[Ran], pack: ServedPack, index: int) -> None:
    assert pack.run(from_recording(runs[index].after)) == []


def changes(ran: Ran) -> list[tuple[str, str]]:
    return [(s.name, s.op) for s in simulate(ran.after, ran.before).finished if s.op != "same"]


def test_the_first_deploy_opens_production_only_after_both_colours_are_healthy(runs: list[Ran]) -> None:
    order = simulate(runs[0].after).order()
    assert order.index("bluegreen-router-https") > max(
        order.index("bluegreen-blue-asg"), order.index("bluegreen-green-asg")
    )


def test_staging_changes_only_greens_resources(runs: list[Ran]) -> None:
    # "and what the guardian reads": its state parameter records each colour's release on every update.
    touched = sorted(changes(runs[1]))
    assert touched == [
        ("bluegreen-green-asg", "replace"),
        ("bluegreen-green-lt", "update"),
        ("bluegreen-green-tg", "update"),
        ("bluegreen-guardian-state", "update"),
    ]


@pytest.mark.parametrize("index", [2, 3], ids=["flip", "roll back"])
def test_a_flip_and_its_rollback_are_one_listener_update_checked_by_the_gate_first(runs: list[Ran], index: int) -> None:
    changed = changes(runs[index])
    assert sorted(changed) == [
        ("bluegreen-gate", "update"),
        ("bluegreen-guardian-state", "update"),
        ("bluegreen-router-https", "update"),
    ]
    assert changed.index(("bluegreen-gate", "update")) < changed.index(("bluegreen-router-https", "update"))


def test_decommission_only_unlocks_the_load_balancer(runs: list[Ran]) -> None:
    assert changes(runs[4]) == [("bluegreen-lb-alb", "update")]


def destroy_blockers(rec: Recording) -> list[str]:
    """What `pulumi destroy` could not delete from this state.

    - `protect`ed resources: the engine refuses to delete them.
    - An ALB with deletion protection: "you must disable delete protection before you can delete the load
      balancer" (ELB User Guide, Application Load Balancers, "Deletion protection").
    - A bucket that is not `forceDestroy` once it holds objects (the ALB writes its access logs there): S3's
      DeleteBucket requires an empty bucket, and terraform-provider-aws empties it first only with force_destroy.
    """
    found = [f"{r.name} is protected" for r in rec.resources if r.protect]
    for r in rec.of_type("aws:lb/loadBalancer:LoadBalancer"):
        if r.inputs.get("enableDeletionProtection") is not False:
            found.append(f"{r.name} has deletion protection")
    for r in rec.of_type("aws:s3/bucket:Bucket"):
        if r.inputs.get("forceDestroy") is not True:
            found.append(f"{r.name} is not forceDestroy")
    return found


def test_the_tour_ends_with_a_destroy_that_nothing_blocks(runs: list[Ran]) -> None:
    assert TOUR.steps[-1].command == "destroy"
    deployed_before_decommission, unlocked = runs[3].after, runs[4].after
    assert destroy_blockers(deployed_before_decommission) == ["bluegreen-lb-alb has deletion protection"]
    assert destroy_blockers(unlocked) == []
    assert unlocked.by_name("bluegreen-lb-alb").inputs["tags"][DECOMMISSION_TAG] == "true"


def test_the_destroy_blockers_are_found() -> None:
    rec = run_program({"accessLogs": True})
    bucket = rec.by_name("bluegreen-access-logs-bucket")
    bucket.inputs["forceDestroy"] = False
    rec.resources[0].protect = True
    rec.by_name("bluegreen-lb-alb").inputs["enableDeletionProtection"] = True
    assert destroy_blockers(rec) == [
        f"{rec.resources[0].name} is protected",
        "bluegreen-lb-alb has deletion protection",
        "bluegreen-access-logs-bucket is not forceDestroy",
    ]
