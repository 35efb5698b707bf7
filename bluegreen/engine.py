"""The Pulumi side of the release tool: a small interface and its Automation API adapter.

`Engine` is all the tool needs from Pulumi: outputs, config get/set, `up`, `preview`, and
lock errors as `StackLockedError`. `AutomationEngine` drives the Pulumi CLI through
`pulumi.automation` on a LocalWorkspace over the project directory and applies the policy
pack to every preview and update. Tests use a double that implements the same Protocol.

Why `up` previews first: the Automation API's `stack.up` runs `pulumi up --yes --skip-preview`,
and without a preview the pack's stack policies (AnalyzeStack, which sees outputs) run only
after the update has been applied; resource policies still run before each step. A mandatory
stack-policy violation would then fail an update that already changed AWS. Previewing first
with the same pack stops the update before any resource changes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from bluegreen import stack_files
from bluegreen.errors import EngineError, PreviewFailedError, StackLockedError, UsageError
from bluegreen.safety import PolicyConfigError, read_stack_policy_config

OutputSink = Callable[[str], None]


@dataclass(frozen=True)
class OperationResult:
    """What an update or preview changed: operation -> count (e.g. {"update": 1, "same": 40})."""

    changes: Mapping[str, int] = field(default_factory=dict)
    # The stack outputs an update finished with (empty for a preview, or an engine that does not say).
    outputs: Mapping[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        moved = {op: n for op, n in self.changes.items() if op != "same" and n}
        if not moved:
            return "no changes"
        return ", ".join(f"{n} to {op}" for op, n in sorted(moved.items()))


class Engine(Protocol):
    stack_name: str

    def outputs(self) -> dict[str, Any]:
        """The stack outputs of the last update, secrets in plain text."""
        ...

    def config(self) -> dict[str, str]:
        """Effective project config: Pulumi.yaml defaults, then the stack's values; un-namespaced keys."""
        ...

    def set_config(self, values: Mapping[str, str]) -> None:
        """Write project-namespaced config values to the stack (un-namespaced keys)."""
        ...

    def up(self, message: str, on_output: OutputSink) -> OperationResult:
        """`pulumi preview` then `pulumi up`, both with the policy pack.

        The preview comes first because the update itself skips its preview (stack policies would
        otherwise only judge an update that is already applied). A failed preview (a mandatory
        policy violation, or the program refusing, e.g. its release guard) raises
        PreviewFailedError and the update never starts, so nothing was changed. Also raises
        StackLockedError (either step refused by the stack lock) or EngineError (the update failed).
        """
        ...

    def preview(self, on_output: OutputSink) -> OperationResult:
        """`pulumi preview --diff` with the policy pack; raises StackLockedError or EngineError."""
        ...


def preview_failed(exc: EngineError) -> PreviewFailedError:
    """The error `up` raises when its preview fails: the update never started."""
    detail = exc.message.split("\n", 1)[-1] if exc.message.startswith("pulumi preview failed") else exc.message
    return PreviewFailedError(
        "the preview before `pulumi up` failed, so `pulumi up` did not run and nothing was changed "
        "(a mandatory policy violation, or the program refused the config, e.g. its release guard):\n" + detail
    )


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def find_policy_pack(project_dir: Path) -> Path:
    """`policies/` of the project directory, else of the nearest folder above it that has the pack: an example in
    this checkout (examples/own-app) runs with the checkout's pack, as its docs run `pulumi up --policy-pack
    ../../policies`. Without one anywhere, the project's own `policies/` (which `_policy_packs` reports missing).

    A folder above counts only when its `policies/` is this pack (it has `bluegreen_policies`): a monorepo's or a
    home directory's unrelated `policies/` would otherwise run every update without the pack's mandatory checks,
    and say nothing."""
    if (project_dir / "policies" / "PulumiPolicy.yaml").is_file():
        return project_dir / "policies"
    for folder in project_dir.resolve().parents:
        pack = folder / "policies"
        if (pack / "PulumiPolicy.yaml").is_file() and (pack / "bluegreen_policies").is_dir():
            return pack
    return project_dir / "policies"


class AutomationEngine:
    """`Engine` over `pulumi.automation` (needs the `pulumi` CLI on PATH)."""

    def __init__(
        self,
        stack_name: str,
        project_dir: Path = stack_files.PROJECT_DIR,
        policy_pack_dir: Path | None = None,
        env_vars: Mapping[str, str] | None = None,
    ) -> None:
        self.stack_name = stack_name
        self.project_dir = project_dir
        self.policy_pack_dir = policy_pack_dir if policy_pack_dir is not None else find_policy_pack(project_dir)
        self._env_vars = dict(env_vars or {})
        self._project = str(stack_files.load_project(project_dir)["name"])
        self._stack: Any = None

    def _select(self) -> Any:
        if self._stack is None:
            from pulumi import automation as auto

            opts = auto.LocalWorkspaceOptions(work_dir=str(self.project_dir), env_vars=self._env_vars)
            try:
                # select, not create: a release tool must not invent stacks.
                self._stack = auto.select_stack(stack_name=self.stack_name, work_dir=str(self.project_dir), opts=opts)
            except FileNotFoundError:
                raise UsageError(
                    "the `pulumi` CLI is not on PATH; the release tool drives it through the Automation API "
                    "(install it from pulumi.com, then `pulumi login`)"
                ) from None
            except auto.StackNotFoundError:
                raise UsageError(
                    f"stack {self.stack_name!r} does not exist in this backend; "
                    f"create it with `pulumi stack init {self.stack_name}` (--stack chooses another)"
                ) from None
            except auto.CommandError as exc:
                raise EngineError(f"cannot select stack {self.stack_name!r}: {_tail(str(exc), 5)}") from exc
        return self._stack

    def _policy_packs(self) -> list[str]:
        if not (self.policy_pack_dir / "PulumiPolicy.yaml").exists():
            raise UsageError(
                f"policy pack {self.policy_pack_dir} has no PulumiPolicy.yaml; every preview and "
                "update runs with the pack, so it must exist"
            )
        return [str(self.policy_pack_dir)]

    def _policy_pack_configs(self) -> list[str] | None:
        """`policies/stacks/<stack>.json` when the stack has one: its enforcement overrides (the dev stack's
        baseline findings are advisory). One config per pack, as `--policy-pack-config` takes them. A file that
        lowers more than the production baseline (`all`, a safety policy) is refused before pulumi runs."""
        try:
            path, config = read_stack_policy_config(self.policy_pack_dir, self.stack_name)
        except PolicyConfigError as err:
            raise UsageError(f"{err}; nothing was run") from None
        return [str(path)] if config is not None else None

    def _wrap(self, action: str, call: Callable[[], Any]) -> Any:
        from pulumi import automation as auto

        try:
            return call()
        except auto.ConcurrentUpdateError as exc:
            raise StackLockedError(
                f"stack {self.stack_name!r} is locked by another update, so this {action} did not start. "
                "Only one release runs per stack at a time: wait for the other one to finish "
                "(if it died, `pulumi cancel` releases the lock).\n" + _tail(str(exc), 5)
            ) from exc
        except auto.CommandError as exc:
            raise EngineError(f"pulumi {action} failed:\n{_tail(str(exc))}") from exc

    def outputs(self) -> dict[str, Any]:
        stack = self._select()
        result = self._wrap("stack output", stack.outputs)
        return {key: value.value for key, value in result.items()}

    def config(self) -> dict[str, str]:
        stack = self._select()
        # The program reads `bluegreen:` in any project (bluegreen.settings.load_settings), not the project's own.
        prefix = f"{stack_files.CONFIG_NAMESPACE}:"
        values = {
            key[len(prefix) :]: value.value
            for key, value in self._wrap("config", stack.get_all_config).items()
            if key.startswith(prefix)
        }
        return stack_files.with_defaults(values, self.project_dir)

    def set_config(self, values: Mapping[str, str]) -> None:
        from pulumi import automation as auto

        stack = self._select()
        namespace = stack_files.CONFIG_NAMESPACE
        config = {f"{namespace}:{key}": auto.ConfigValue(value=value) for key, value in values.items()}
        self._wrap("config set", lambda: stack.set_all_config(config))

    def up(self, message: str, on_output: OutputSink) -> OperationResult:
        packs, configs = self._policy_packs(), self._policy_pack_configs()  # refused before any pulumi command
        stack = self._select()
        # `stack.up` passes --skip-preview; preview first so that a mandatory violation, of stack
        # policies too, stops the update before it changes anything.
        try:
            self._wrap(
                "preview",
                lambda: stack.preview(
                    policy_packs=packs,
                    policy_pack_configs=configs,
                    diff=True,
                    message=message,
                    on_output=on_output,
                    color="never",
                ),
            )
        except StackLockedError:
            raise
        except EngineError as exc:
            raise preview_failed(exc) from exc
        result = self._wrap(
            "up",
            lambda: stack.up(
                policy_packs=packs, policy_pack_configs=configs, message=message, on_output=on_output, color="never"
            ),
        )
        outputs = {key: value.value for key, value in (result.outputs or {}).items()}
        return OperationResult(changes=dict(result.summary.resource_changes or {}), outputs=outputs)

    def preview(self, on_output: OutputSink) -> OperationResult:
        packs, configs = self._policy_packs(), self._policy_pack_configs()  # refused before any pulumi command
        stack = self._select()
        result = self._wrap(
            "preview",
            lambda: stack.preview(
                policy_packs=packs, policy_pack_configs=configs, diff=True, on_output=on_output, color="never"
            ),
        )
        return OperationResult(changes=dict(result.change_summary or {}))
