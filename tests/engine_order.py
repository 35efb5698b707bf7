"""The engine's create/replace order for recorded registrations, with the AWS readiness rules that matter.

The mocks answer every registration at once, so they cannot show an update that hangs. This model
replays a recording (optionally against the previous one) the way the engine and the SDK order it:

- A resource's step starts once every recorded dependency has finished its step and its parent is
  registered. A component is registered once its own dependencies have finished (the SDK awaits
  `depends_on` before it sends the component's registration, and a child awaits its parent's URN).
- Create-before-delete: a replaced resource gets a new physical id, and every resource whose inputs
  refer to it is updated, or replaced when that input forces replacement.
- AWS readiness, the rules a mock cannot show:
  - ELB health-checks a target group's targets only while a listener or a listener rule forwards to
    that group; until then they are `unused` (Target.NotInUse, see "Target health status" in the ELB
    user guide). A forward with weight 0 is not counted: AWS does not document it, so the model does
    not rely on it.
  - An Auto Scaling group with `waitForElbCapacity` > 0 finishes its create (and its replacement)
    only when that many targets are healthy in its target groups; an update waits only when it
    changes `desiredCapacity` or `minSize` (terraform-provider-aws internal/service/autoscaling/
    group.go, `shouldWaitForCapacity` and waitGroupCapacitySatisfied).
  - An internet-facing load balancer in a VPC fails ("InvalidSubnet: VPC ... has no internet gateway")
    unless the VPC's internet gateway is attached when it is created. Steps that do not depend on
    each other run at the same time, so only a dependency makes that order certain (CloudFormation
    user guide, "DependsOn attribute", gateway attachment; terraform-provider-aws PRs #3494 and #4587
    added the same `depends_on` to their tests).
  - A replacement is created before the old resource is deleted, unless it is registered with
    `deleteBeforeReplace`. Where the new one takes a value only one resource may hold at a time (a
    subnet's CIDR in its VPC, a fixed `name`), that create fails: "InvalidSubnet.Conflict: The CIDR
    ... conflicts with another subnet" (pulumi/pulumi-awsx#520 and #910).

`simulate()` returns the order steps finished in, the waits that can never finish, every moment
the production listener sent weight to a colour whose Auto Scaling group was still waiting, the
steps that fail, and what the stack's state holds for each resource when the update ends.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tests.harness import Recording, Registered

LISTENER = "aws:lb/listener:Listener"
LISTENER_RULE = "aws:lb/listenerRule:ListenerRule"
TARGET_GROUP = "aws:lb/targetGroup:TargetGroup"
ASG = "aws:autoscaling/group:Group"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
LOAD_BALANCER = "aws:lb/loadBalancer:LoadBalancer"
SUBNET = "aws:ec2/subnet:Subnet"
VPC = "aws:ec2/vpc:Vpc"
INTERNET_GATEWAY = "aws:ec2/internetGateway:InternetGateway"
# Launch template inputs whose change does not make a new version.
VERSIONLESS_TEMPLATE_FIELDS = frozenset({"tags", "name", "description", "defaultVersion", "updateDefaultVersion"})

# Inputs whose change replaces the resource (ForceNew in terraform-provider-aws), for the types where
# a replacement changes the order. Others are updated in place.
FORCE_NEW: Mapping[str, frozenset[str]] = {
    TARGET_GROUP: frozenset({"port", "protocol", "vpcId", "targetType", "name", "namePrefix", "protocolVersion"}),
    ASG: frozenset({"name", "namePrefix"}),
    LISTENER: frozenset({"loadBalancerArn"}),
    LISTENER_RULE: frozenset({"listenerArn"}),
    "aws:lb/loadBalancer:LoadBalancer": frozenset({"name", "internal", "loadBalancerType"}),
    "aws:ec2/securityGroup:SecurityGroup": frozenset({"name", "description", "vpcId"}),
    "aws:ec2/launchTemplate:LaunchTemplate": frozenset({"name"}),
    "aws:ec2/subnet:Subnet": frozenset({"vpcId", "cidrBlock", "availabilityZone"}),
    "aws:ec2/vpc:Vpc": frozenset({"cidrBlock"}),
}


@dataclass(frozen=True)
class Step:
    name: str
    op: str  # create, replace or update


@dataclass
class Outcome:
    finished: list[Step] = field(default_factory=list)
    hung: list[str] = field(default_factory=list)  # Auto Scaling groups whose wait can never finish
    blocked: list[str] = field(default_factory=list)  # resources that never start, behind a hung wait
    early_traffic: list[str] = field(default_factory=list)  # "<listener> sent <n>% to <colour> before <asg>"
    failed: list[str] = field(default_factory=list)  # "<name>: <why AWS refused the step>"; dependents never start
    # What the stack's state holds for each resource when the update ends, by name: the new registration once
    # its step finished, else the previous one. A failed update leaves some of each.
    held: dict[str, Registered] = field(default_factory=dict)

    def order(self) -> list[str]:
        return [s.name for s in self.finished]


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _forwards(resource: Registered) -> dict[str, int]:
    """Target group ARN -> weight for every forward of a listener's default actions or a rule's actions."""
    actions = resource.inputs.get("defaultActions" if resource.type == LISTENER else "actions") or []
    targets: dict[str, int] = {}
    for action in actions:
        if action.get("type") != "forward":
            continue
        if action.get("targetGroupArn"):
            targets[action["targetGroupArn"]] = 1
        for group in (action.get("forward") or {}).get("targetGroups") or []:
            targets[group["arn"]] = int(group.get("weight", 1))
    return targets


def _physical(resource: Registered) -> set[str]:
    return {str(resource.outputs[k]) for k in ("arn", "id") if resource.outputs.get(k)}


def _forcing(res: Registered) -> set[str]:
    """The inputs whose change replaces `res`: ForceNew fields and its `replaceOnChanges`."""
    return set(FORCE_NEW.get(res.type, frozenset())) | set(res.replace_on_changes)


def _operations(before: Recording | None, after: Recording) -> dict[str, str]:
    """URN -> create, replace, update or same."""
    old = {r.urn: r for r in before.resources} if before else {}
    ops: dict[str, str] = {}
    changed: dict[str, set[str]] = {}  # URN -> the top-level inputs that differ from the previous run
    for res in after.resources:
        prev = old.get(res.urn)
        if prev is None:
            ops[res.urn] = "create"
            continue
        changed[res.urn] = {
            k for k in res.inputs.keys() | prev.inputs.keys() if res.inputs.get(k) != prev.inputs.get(k)
        }
        ops[res.urn] = "replace" if changed[res.urn] & _forcing(res) else "update" if changed[res.urn] else "same"
    # A replacement gets new ids, and a launch template change other than its tags, name, description or
    # default version makes a new `latest_version` (terraform-provider-aws marks it unknown), so whatever
    # refers to them changes too. The mocks keep ids and versions, so this is where that is modelled.
    by_urn = {r.urn: r for r in after.resources}
    reversioned = {
        i
        for r in after.resources
        if r.type == LAUNCH_TEMPLATE and changed.get(r.urn, set()) - VERSIONLESS_TEMPLATE_FIELDS
        for i in _physical(r)
    }
    grew = True
    while grew:
        grew = False
        replaced_ids = reversioned | {i for urn, op in ops.items() if op == "replace" for i in _physical(by_urn[urn])}
        for res in after.resources:
            if ops[res.urn] in ("create", "replace") or not res.custom:
                continue
            touched = {k for k, v in res.inputs.items() if set(_strings(v)) & replaced_ids}
            if not touched:
                continue
            op = "replace" if touched & _forcing(res) else "update"
            if op != ops[res.urn]:
                ops[res.urn] = op
                grew = True
    return ops


def _upstream(res: Registered, by_urn: Mapping[str, Registered]) -> set[str]:
    """Every URN whose step the engine finishes before `res` starts: its dependencies and its parent's, and
    theirs. Nothing else is ordered: steps without such a path run at the same time."""

    def before(r: Registered) -> list[str]:
        return [*r.dependencies, *([r.parent] if r.parent else [])]

    seen: set[str] = set()
    todo = before(res)
    while todo:
        urn = todo.pop()
        if urn in seen or urn not in by_urn:
            continue
        seen.add(urn)
        todo += before(by_urn[urn])
    return seen


def _of(type_: str, physical_id: Any, by_urn: Mapping[str, Registered]) -> Registered | None:
    return next((r for r in by_urn.values() if r.type == type_ and str(physical_id) in _physical(r)), None)


def _without_gateway(res: Registered, ops: Mapping[str, str], by_urn: Mapping[str, Registered]) -> str | None:
    """Why creating internet-facing load balancer `res` fails: a VPC this recording creates, whose internet
    gateway is made in this update and is not upstream of `res`, so it may not be attached yet."""
    if res.type != LOAD_BALANCER or res.inputs.get("internal") or ops[res.urn] not in ("create", "replace"):
        return None
    upstream = _upstream(res, by_urn)
    for subnet_id in res.inputs.get("subnets") or []:
        subnet = _of(SUBNET, subnet_id, by_urn)
        vpc = _of(VPC, subnet.inputs.get("vpcId"), by_urn) if subnet is not None else None
        if vpc is None:  # a VPC from config: its gateway is not this update's to make
            continue
        gateways = [
            g for g in by_urn.values() if g.type == INTERNET_GATEWAY and g.inputs.get("vpcId") in _physical(vpc)
        ]
        if not any(ops[g.urn] in ("same", "update") or g.urn in upstream for g in gateways):
            return (
                f"{res.name}: InvalidSubnet: VPC {vpc.name} has no internet gateway (the load balancer is internet-facing "
                "and does not depend on the gateway, so it may be created before the gateway is attached)"
            )
    return None


def _unique_value(res: Registered) -> tuple[str, Any] | None:
    """The value only one resource may hold at a time: a subnet's CIDR in its VPC, else a fixed `name`."""
    if res.type == SUBNET and res.inputs.get("cidrBlock"):
        return "cidrBlock", (res.inputs.get("vpcId"), res.inputs["cidrBlock"])
    if res.inputs.get("name"):
        return "name", res.inputs["name"]
    return None


def _conflict(
    res: Registered, ops: Mapping[str, str], old: Mapping[str, Registered], by_urn: Mapping[str, Registered]
) -> str | None:
    """Why the replacement `res` fails to create: it takes the unique value the resource it replaces still holds."""
    prev = old.get(res.urn)
    if ops[res.urn] != "replace" or res.delete_before_replace or prev is None:
        return None
    value = _unique_value(res)
    if value is None or value != _unique_value(prev):
        return None
    if res.type == SUBNET:
        vpc = _of(VPC, res.inputs.get("vpcId"), by_urn)
        if vpc is not None and ops[vpc.urn] == "replace":  # the new subnet is in a new VPC
            return None
        return (
            f"{res.name}: InvalidSubnet.Conflict: The CIDR '{res.inputs['cidrBlock']}' conflicts with another subnet "
            "(the subnet it replaces still holds it: create-before-delete without deleteBeforeReplace)"
        )
    return (
        f"{res.name}: the name {value[1]!r} is taken by the resource it replaces (create-before-delete without "
        "deleteBeforeReplace)"
    )


def simulate(after: Recording, before: Recording | None = None, *, fail: Collection[str] = ()) -> Outcome:
    """Replay `after` (an update from `before`, or a first deploy) in the engine's order.

    `fail` names resources whose step fails for a reason outside the model (a throttle, a lost
    connection). The first failure, injected or modelled, ends the update: the engine starts no new step
    (`pulumi up` without --continue-on-error), and what finished stays in the state (`Outcome.held`).
    """
    ops = _operations(before, after)
    by_urn = {r.urn: r for r in after.resources}
    old = {r.urn: r for r in before.resources} if before else {}
    done = {urn for urn, op in ops.items() if op == "same"}
    outcome = Outcome()
    # Which version of each target group a live forward points at: "old" state or "new" state.
    # What AWS holds now: the previous state until a resource's step has run, then the new one.
    current: dict[str, Registered] = {urn: res for urn, res in old.items() if urn in by_urn}

    def tg_key(tg_urn: str, *, new: bool) -> str:
        return f"{tg_urn}#{'new' if new else 'old'}"

    def forwards_in_use() -> set[str]:
        """TG versions that some live listener or rule forwards to with weight > 0."""
        live: set[str] = set()
        for urn, res in current.items():
            if res.type not in (LISTENER, LISTENER_RULE):
                continue
            stepped = urn in done and ops.get(urn) != "same"
            for arn, weight in _forwards(res).items():
                if weight <= 0:
                    continue
                for tg_urn, tg in by_urn.items():
                    if tg.type == TARGET_GROUP and arn in _physical(tg):
                        new = stepped and ops.get(tg_urn) in ("create", "replace")
                        live.add(tg_key(tg_urn, new=new))
        return live

    def asg_ready(res: Registered) -> bool:
        if int(res.inputs.get("waitForElbCapacity") or 0) == 0:
            return True
        in_use = forwards_in_use()
        for arn in res.inputs.get("targetGroupArns") or []:
            for tg_urn, tg in by_urn.items():
                if tg.type == TARGET_GROUP and arn in _physical(tg):
                    new = ops.get(tg_urn) in ("create", "replace")
                    if tg_key(tg_urn, new=new) not in in_use:
                        return False
        return True

    def colour_of_asg(tg_arn: str) -> Registered | None:
        for res in by_urn.values():
            if res.type == ASG and tg_arn in (res.inputs.get("targetGroupArns") or []):
                return res
        return None

    def can_start(res: Registered) -> bool:
        if res.parent and res.parent in by_urn and res.parent not in done:
            return False
        return all(dep in done or dep not in by_urn for dep in res.dependencies)

    pending = [r for r in after.resources if r.urn not in done]
    waiting_asgs: set[str] = set()

    def refused(res: Registered) -> str | None:
        if res.name in fail:
            return f"{res.name}: failed (injected)"
        return _without_gateway(res, ops, by_urn) or _conflict(res, ops, old, by_urn)

    def finish(res: Registered) -> None:
        why = refused(res)
        if why is not None:
            outcome.failed.append(why)
            pending.remove(res)
            return
        if res.type == LISTENER:
            for arn, weight in _forwards(res).items():
                asg = colour_of_asg(arn)
                if weight > 0 and asg is not None and asg.urn not in done and ops[asg.urn] != "same":
                    outcome.early_traffic.append(f"{res.name} sent {weight}% to the target group of {asg.name}")
        current[res.urn] = res
        done.add(res.urn)
        pending.remove(res)
        if res.custom:
            outcome.finished.append(Step(res.name, ops[res.urn]))

    def is_wait(res: Registered) -> bool:
        """Terraform waits on create, and on update only when desiredCapacity or minSize changed."""
        if res.type != ASG or int(res.inputs.get("waitForElbCapacity") or 0) == 0:
            return False
        if ops[res.urn] in ("create", "replace"):
            return True
        prev = old.get(res.urn)
        return (
            ops[res.urn] == "update"
            and prev is not None
            and any(res.inputs.get(k) != prev.inputs.get(k) for k in ("desiredCapacity", "minSize"))
        )

    # The engine runs steps concurrently. A capacity wait takes minutes while every other step here takes
    # seconds, so each round first finishes everything quick that can start, then the waits that can end.
    while not outcome.failed:
        quick = True
        while quick and not outcome.failed:
            quick = False
            for res in list(pending):
                if can_start(res) and not is_wait(res):
                    finish(res)
                    quick = True
                    if outcome.failed:
                        break
        if outcome.failed:
            waiting_asgs = set()
            break
        startable = [r for r in pending if can_start(r)]
        ready = [r for r in startable if asg_ready(r)]
        waiting_asgs = {r.urn for r in startable if r not in ready}
        if not ready:
            break
        for res in ready:
            finish(res)
            if outcome.failed:
                waiting_asgs = set()
                break
    outcome.hung = sorted(by_urn[u].name for u in waiting_asgs)
    outcome.blocked = sorted(r.name for r in pending if r.urn not in waiting_asgs)
    outcome.held = {res.name: res for res in current.values()}
    return outcome
