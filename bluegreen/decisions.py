"""The decision log: every switch, bake decision, rollback and guardian action, with who, what, why and
the fingerprints of both colours' release specs.

It lives in the account, not on the machine that decided: the release tool appends each record to the
stack's decision-log SSM parameter (output `decisionLogParameter`). Every PutParameter with Overwrite
is a new version, and Parameter Store keeps the 100 most recent versions of a parameter, deleting the
oldest when a new one is written (SSM API reference, ParameterMaxVersionLimitExceeded). The guardian's
records are the versions of its own record parameter. `bluegreen history` reads both histories and
merges them by time.

A record that cannot be written (no `ssm:PutParameter`, a throttle that outlasts the retries) is a
warning, never a failed release: the decision has been carried out by then.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from bluegreen.aws import Aws
from bluegreen.clock import iso
from bluegreen.context import Context
from bluegreen.contract import COLORS
from bluegreen.outputs import StackOutputs

# A Standard-tier parameter's value holds at most 4 KB (SSM PutParameter, `Value`); `why` gives way first.
MAX_VALUE_BYTES = 4096
RECORD_VERSION = 1
TOOL, GUARDIAN = "tool", "guardian"
# What a record is about; `bluegreen history` prints them under these names.
KINDS = ("switch", "bake", "rollback", "guardian")


@dataclass(frozen=True)
class Decision:
    kind: str  # one of KINDS
    at: str  # ISO 8601, UTC
    what: str  # "traffic to green", "keep green (release v2)", "rollback green → blue"
    why: str
    who: str  # the AWS principal (STS GetCallerIdentity), or the guardian's function
    via: str = ""  # where the tool ran: a GitHub Actions run, or user@host
    fingerprints: Mapping[str, str] = field(default_factory=dict)  # colour -> release spec fingerprint
    source: str = TOOL  # TOOL: the decision log; GUARDIAN: the guardian's record parameter
    version: int | None = None  # the parameter version it was read from

    def to_record(self) -> dict[str, Any]:
        return {
            "version": RECORD_VERSION,
            "kind": self.kind,
            "at": self.at,
            "what": self.what,
            "why": self.why,
            "who": self.who,
            "via": self.via,
            "fingerprints": dict(self.fingerprints),
        }

    def as_json(self) -> dict[str, Any]:
        """What `history --json` lists: the record, where it was read from and which version."""
        return {**self.to_record(), "source": self.source, "parameterVersion": self.version}

    def line(self) -> str:
        """One line for people: time, kind, what, who, fingerprints, why."""
        prints = " ".join(f"{c}={fp[:12]}" for c, fp in sorted(self.fingerprints.items()) if fp)
        via = f" via {self.via}" if self.via else ""
        return f"{self.at}  {self.kind:<8}  {self.what}\n    who: {self.who}{via}\n    why: {self.why}" + (
            f"\n    fingerprints: {prints}" if prints else ""
        )


def from_tool_record(record: Mapping[str, Any], version: int | None) -> Decision | None:
    """A decision-log version as a Decision; None for the initial `{}` or anything unreadable."""
    if record.get("kind") not in KINDS or not record.get("at"):
        return None
    prints = record.get("fingerprints")
    return Decision(
        kind=str(record["kind"]),
        at=str(record["at"]),
        what=str(record.get("what", "")),
        why=str(record.get("why", "")),
        who=str(record.get("who", "")),
        via=str(record.get("via", "")),
        fingerprints={str(k): str(v) for k, v in prints.items()} if isinstance(prints, Mapping) else {},
        source=TOOL,
        version=version,
    )


def from_guardian_record(record: Mapping[str, Any], version: int | None) -> Decision | None:
    """One of the guardian's records (`bluegreen.guardian.handler`) as a Decision."""
    if not record.get("at") or not record.get("alarm"):
        return None
    if record.get("action") == "rollback":
        what = f"rollback {record.get('from')} → {record.get('to')} (one ModifyListener call)"
    else:
        what = f"no action on {record.get('color') or 'an alarm'}"
    prints = record.get("fingerprints")
    return Decision(
        kind="guardian",
        at=str(record["at"]),
        what=what,
        why=f"{record.get('alarm')}: {record.get('why')}",
        who=str(record.get("who") or "the guardian (Lambda)"),
        fingerprints={str(k): str(v) for k, v in prints.items() if v} if isinstance(prints, Mapping) else {},
        source=GUARDIAN,
        version=version,
    )


def where_it_ran(env: Mapping[str, str] | None = None) -> str:
    """A GitHub Actions run (repository, run id, actor), or user@host: enough to find the log of that run."""
    env = os.environ if env is None else env
    if env.get("GITHUB_ACTIONS") == "true":
        server = env.get("GITHUB_SERVER_URL", "https://github.com")
        run = f"{server}/{env.get('GITHUB_REPOSITORY', '?')}/actions/runs/{env.get('GITHUB_RUN_ID', '?')}"
        return f"GitHub Actions {run} (actor {env.get('GITHUB_ACTOR', '?')})"
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a bare container)
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()}"


def fitted(record: dict[str, Any]) -> str:
    """The record as JSON within a Standard parameter's 4 KB, shortening `why` if it must."""
    text = json.dumps(record, sort_keys=True, ensure_ascii=False)
    over = len(text.encode()) - MAX_VALUE_BYTES
    if over > 0:
        why = str(record["why"]).encode()[: max(0, len(str(record["why"]).encode()) - over - 16)]
        record = {**record, "why": why.decode(errors="ignore") + " …(cut)"}
        text = json.dumps(record, sort_keys=True, ensure_ascii=False)
    return text


def log_decision(ctx: Context, outputs: StackOutputs, kind: str, what: str, why: str) -> Decision | None:
    """Append a decision to the stack's decision log; warn (never fail) when it cannot be written.

    A stack deployed before the log existed has no `decisionLogParameter` output: nothing is written.
    """
    if kind not in KINDS:
        raise ValueError(f"kind {kind!r} is not one of {KINDS}")
    name = outputs.decision_log_parameter
    if not name:
        return None
    aws = ctx.aws(outputs)
    try:
        who = aws.caller_arn()
    except (BotoCoreError, ClientError) as exc:
        who = f"unknown ({type(exc).__name__})"
    decision = Decision(
        kind=kind,
        at=iso(ctx.clock.now()),
        what=what,
        why=why,
        who=who,
        via=where_it_ran(),
        fingerprints={c: fp for c in COLORS if (fp := outputs.spec_fingerprint(c))},
    )
    try:
        aws.ssm.put_parameter(Name=name, Value=fitted(decision.to_record()), Type="String", Overwrite=True)
    except (BotoCoreError, ClientError) as exc:
        ctx.reporter.warn(
            f"could not record the {kind} decision in {name} ({exc}); `bluegreen history` will not show it"
        )
        return None
    return decision


def read_history(aws: Aws, outputs: StackOutputs) -> list[Decision]:
    """Both logs' versions, oldest first: the tool's decision log and the guardian's records."""
    sources: Sequence[tuple[str | None, Any]] = (
        (outputs.decision_log_parameter, from_tool_record),
        (outputs.guardian_record_parameter, from_guardian_record),
    )
    found: list[Decision] = []
    for name, parse in sources:
        if not name:
            continue
        for version, value in aws.parameter_history(name):
            try:
                record = json.loads(value)
            except ValueError:
                continue
            decision = parse(record, version) if isinstance(record, dict) else None
            if decision is not None:
                found.append(decision)
    return sorted(found, key=lambda d: (d.at, d.source, d.version or 0))
