"""rotate-token: a new preview token without a moment in which the preview route refuses the token in use.

(a) config `previewTokenGeneration` N -> N+1, `pulumi up`: a new token. The preview rules accept the old
    and the new one, and the stack output `previewToken` (what `verify`, `bake` and the traffic gate use)
    names the new one (`bluegreen.preview_token`).
(b) Check it: the rules read back from AWS (DescribeRules) accept both, and the new token reaches a colour
    through its preview route (its health path, then `/version` naming its release, as the gate checks).
(c) `pulumi up` again: the rules accept only the new token; checked in AWS again.

A failure between (a) and (c) says what state the stack is in and what to run: `rotate-token --finish`
runs `pulumi up` until the rules accept only the deployed token (one update, or two when (a)'s own update
never finished), checking as above. Tokens are never printed.
"""

from __future__ import annotations

from typing import Any

from bluegreen import stackconfig
from bluegreen.context import Context
from bluegreen.contract import COLORS, MAX_PREVIEW_TOKEN_GENERATION, Keys
from bluegreen.errors import (
    CheckFailedError,
    ConfigValueError,
    PreviewFailedError,
    ReleaseInterruptedError,
    StackLockedError,
    ToolError,
)
from bluegreen.gate import ColorCheck, check_color
from bluegreen.outputs import StackOutputs
from bluegreen.preview_token import preview_rule_tokens
from bluegreen.stackconfig import ReleaseConfig
from bluegreen.traffic import check_live_matches_outputs
from bluegreen.watch import smoke_base_url

GENERATION = Keys.PREVIEW_TOKEN_GENERATION.key


def _command(ctx: Context, flags: str = "") -> str:
    return f"python -m bluegreen rotate-token{flags} --stack {ctx.engine.stack_name}"


def rotate_token(ctx: Context, base_url: str | None = None, finish: bool = False) -> dict[str, Any]:
    """Rotate the preview token (or, with `finish`, complete a rotation that stopped between its updates)."""
    cfg, outputs = ctx.load()
    check_live_matches_outputs(ctx, outputs, "rotate-token")
    url = smoke_base_url(outputs, base_url, ctx.reporter.warn)  # refused up front, before anything changes
    generation = cfg.settings.edge.preview_token_generation
    if finish:
        return _finish(ctx, cfg, url, generation)
    if generation >= MAX_PREVIEW_TOKEN_GENERATION:
        raise ConfigValueError(GENERATION, generation + 1, f"a generation from 1 to {MAX_PREVIEW_TOKEN_GENERATION}")
    old = outputs.preview_token
    new_generation = generation + 1
    try:
        with ctx.reporter.step(f"new preview token ({GENERATION} {generation} → {new_generation})"):
            ctx.apply({GENERATION: str(new_generation)}, message=f"bluegreen rotate-token: generation {new_generation}")
    except (StackLockedError, PreviewFailedError):
        raise  # the update never started and config is back as it was (Context.apply says so)
    except KeyboardInterrupt:
        raise ReleaseInterruptedError(_update_failed(ctx, new_generation, "interrupted")) from None
    except Exception as exc:  # the update started: whatever stopped it, say where the stack is
        raise _stopped(exc, _update_failed(ctx, new_generation, _why(exc)), new_generation) from exc
    retiring = False
    try:
        outputs = ctx.outputs()
        new = outputs.preview_token
        if new == old:
            raise CheckFailedError(
                f"the stack output previewToken did not change with {GENERATION}={new_generation}: the program "
                f"does not make a new token per generation (a bluegreen older than {GENERATION}?)"
            )
        color = _color_to_check(ctx, cfg, outputs)
        with ctx.reporter.step("the preview rules accept the old and the new token") as rec:
            rec.detail = _check_rules(ctx, outputs, {new, old})
        _check_route(ctx, cfg, outputs, color, url=url, token=new)
        retiring = True
        with ctx.reporter.step("retire the old token"):
            ctx.up(f"bluegreen rotate-token: retire the token before generation {new_generation}")
        outputs = ctx.outputs()
        if outputs.preview_token != new:
            raise CheckFailedError("the stack output previewToken changed again in the update that retires the old one")
        with ctx.reporter.step("the preview rules accept only the new token") as rec:
            rec.detail = _check_rules(ctx, outputs, {new})
    except KeyboardInterrupt:
        raise ReleaseInterruptedError(_between(ctx, new_generation, "interrupted", retiring)) from None
    except Exception as exc:  # an AWS error included: whatever stopped it, say where the stack is
        raise _stopped(exc, _between(ctx, new_generation, _why(exc), retiring), new_generation) from exc
    result = {"generation": new_generation, "previousGeneration": generation, "checkedColor": color}
    ctx.reporter.result["rotateToken"] = result
    ctx.reporter.info(
        f"{GENERATION}={new_generation}: the preview rules accept only the new token; verify, bake and the traffic "
        "gate use it (stack output previewToken)"
    )
    return result


def _finish(ctx: Context, cfg: ReleaseConfig, url: str, generation: int) -> dict[str, Any]:
    """`pulumi up` until the rules accept only the deployed token: two updates when the first update of the
    rotation never finished (its outputs still name the old token), else one."""
    for update in (1, 2):
        with ctx.reporter.step(f"pulumi up to retire any older token ({update} of at most 2)"):
            ctx.up("bluegreen rotate-token --finish")
        outputs = ctx.outputs()
        token = outputs.preview_token
        accepted = _accepted(ctx, outputs)
        for each in COLORS:
            if token not in accepted.get(each, []):
                raise CheckFailedError(
                    f"{each}'s preview rule does not accept the deployed token (stack output previewToken); "
                    f"run `{_command(ctx, ' --finish')}` again"
                )
        color = _color_to_check(ctx, cfg, outputs)
        _check_route(ctx, cfg, outputs, color, url=url, token=token)
        if all(set(accepted[c]) == {token} for c in COLORS):
            ctx.reporter.info(f"{GENERATION}={generation}: the preview rules accept only the deployed token")
            result = {"generation": generation, "updates": update, "checkedColor": color}
            ctx.reporter.result["rotateToken"] = result
            return result
    raise CheckFailedError(
        "after two `pulumi up`s the preview rules still accept a token besides the deployed one; see "
        "`aws elbv2 describe-rules` for the production listener"
    )


def _accepted(ctx: Context, outputs: StackOutputs) -> dict[str, list[str]]:
    rules = ctx.aws(outputs).listener_rules(outputs.listener_arn)
    return preview_rule_tokens(rules, outputs.preview_color_header, outputs.preview_token_header, COLORS)


def _check_rules(ctx: Context, outputs: StackOutputs, wanted: set[str]) -> str:
    """Each colour's preview rule, read back from AWS, accepts exactly the tokens in `wanted` (compared,
    never shown)."""
    accepted = _accepted(ctx, outputs)
    problems: list[str] = []
    for color in COLORS:
        if color not in accepted:
            problems.append(f"the production listener has no preview rule for {color}")
            continue
        values = set(accepted[color])
        missing, extra = len(wanted - values), len(values - wanted)
        if missing or extra:
            problems.append(
                f"{color}'s preview rule accepts {len(values)} token(s): {missing} expected one(s) missing, "
                f"{extra} other(s)"
            )
    if problems:
        raise CheckFailedError("; ".join(problems))
    return f"{len(wanted)} token(s) on each colour's rule"


def _color_to_check(ctx: Context, cfg: ReleaseConfig, outputs: StackOutputs) -> str:
    """The idle colour, whose preview route is what `verify` and the gate use; the live one when the idle
    colour is scaled down (its route has nobody to answer)."""
    idle = cfg.idle
    if ctx.aws(outputs).desired_capacity(outputs.asg_name(idle)) > 0:
        return idle
    ctx.reporter.info(f"{idle} is scaled down: checking the new token on {cfg.active}'s preview route instead")
    return cfg.active


def _check_route(ctx: Context, cfg: ReleaseConfig, outputs: StackOutputs, color: str, *, url: str, token: str) -> None:
    """The token reaches `color` through its preview route: healthy targets, its health path, and `/version`
    naming its release (a request no rule matched would reach the live colour). When both colours run the
    same release, `/version` cannot tell them apart; the rules read back from AWS are the proof then."""
    aws = ctx.aws(outputs)
    deployed = outputs.deployed()
    specs = deployed.specs if deployed is not None and deployed.specs is not None else {}
    spec = specs.get(stackconfig.check_color("color", color))
    health_path = spec.settings.health_check.path if spec is not None else cfg.settings.fleet.health_check.path
    check = ColorCheck(
        color=color,
        release=outputs.release(color),
        target_group_arn=outputs.target_group_arn(color),
        desired=aws.desired_capacity(outputs.asg_name(color)),
        health_path=health_path,
    )
    with ctx.reporter.step(f"the new token reaches {color} through its preview route") as rec:
        problems = check_color(
            check,
            url=url,
            token=token,
            healthy_count=lambda arn: aws.target_health(arn).healthy,
            fetch=ctx.fetch,
            sleep=ctx.clock.sleep,
        )
        if problems:
            raise CheckFailedError("; ".join(problems))
        rec.detail = f"{health_path} and /version ({check.release})"
        other = stackconfig.other(color)
        if outputs.release(other) == check.release:
            rec.detail += f"; {other} runs {check.release} too, so the rules read back from AWS show the route"


def _why(exc: Exception) -> str:
    return exc.message if isinstance(exc, ToolError) else f"{type(exc).__name__}: {exc}"


def _stopped(exc: Exception, message: str, generation: int) -> CheckFailedError:
    """The error to report: the state message, with the exit code of what stopped it (4 for a lock)."""
    error = CheckFailedError(message, details={"generation": generation, "resume": "rotate-token --finish"})
    if isinstance(exc, ToolError):
        error.exit_code = exc.exit_code
    return error


def _update_failed(ctx: Context, generation: int, why: str) -> str:
    return (
        f"rotate-token stopped in the update that makes the new token ({why}). Config {GENERATION} is "
        f"{generation}. Until an update with it finishes, the stack output previewToken names the old token and the "
        "preview rules accept it (and may accept the new one too), so verify, bake and the traffic gate keep "
        f"working. Fix the cause, then run `{_command(ctx, ' --finish')}`: it runs `pulumi up` until the preview "
        "rules accept only the new token"
    )


def _between(ctx: Context, generation: int, why: str, retiring: bool) -> str:
    rules = (
        "the preview rules accept the new token and may still accept the old one"
        if retiring
        else "the preview rules accept the old and the new token"
    )
    return (
        f"rotate-token stopped after the update that made the new token ({why}). {GENERATION}={generation} is "
        f"deployed: {rules}, and the stack output previewToken, which verify, bake and the traffic gate use, is "
        "the new one. The old token stays valid until an update retires it. Fix the cause, then run "
        f"`{_command(ctx, ' --finish')}` (or `pulumi up --policy-pack policies`) to retire it"
    )
