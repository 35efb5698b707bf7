"""Read stack config from `Pulumi.yaml` and `Pulumi.<stack>.yaml` the way the Pulumi CLI does.

The CLI applies the project's declared defaults and then the stack file's values; the SDK's
mocks apply neither, so tests and offline tools use this to see exactly what `pulumi up` sees.
Values come back in the wire form the SDK's config holds: strings, with arrays as JSON.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml


def find_project_dir(start: Path) -> Path:
    """The nearest folder from `start` upward that holds a Pulumi.yaml, as the Pulumi CLI picks the
    project ("the nearest parent folder containing a Pulumi.yaml file determines the current project",
    pulumi.com/docs/iac/concepts/projects); `start` itself when there is none."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / "Pulumi.yaml").is_file():
            return folder
    return start


# The config namespace the program reads in any project (`pulumi.Config("bluegreen")`), and the release tool writes.
CONFIG_NAMESPACE = "bluegreen"

# The project the tool and the CI summary work on: the one the current directory belongs to, as for
# `pulumi` itself (not the folder the package is installed in).
PROJECT_DIR = find_project_dir(Path.cwd())


def to_wire(value: Any) -> str:
    """A typed YAML value in the string form the SDK's config holds (arrays and objects as JSON)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)


class StackFileError(ValueError):
    """A Pulumi.yaml or stack file that is not the YAML mapping the Pulumi CLI reads; the one-line
    message names the file and, for a syntax error, the line and column."""


def read_yaml(path: Path) -> dict[str, Any]:
    """A project or stack file's top-level mapping ({} for an empty file), or a StackFileError."""
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)
    except yaml.MarkedYAMLError as exc:
        raise StackFileError(yaml_problem(path, exc)) from None
    except yaml.YAMLError as exc:
        raise StackFileError(f"{path}: not valid YAML ({' '.join(str(exc).split())})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise StackFileError(f"{path}: expected a YAML mapping, got a {type(data).__name__}")
    return data


def yaml_problem(path: Path, exc: yaml.MarkedYAMLError) -> str:
    """`<path> line 3, column 3: not valid YAML (while scanning a simple key: could not find expected ':' at
    line 4, column 3)`: PyYAML's marks count from 0; the context (where the construct began) comes first."""

    def at(mark: Any) -> str:
        return f"line {mark.line + 1}, column {mark.column + 1}"

    first = exc.context_mark or exc.problem_mark
    where = f"{path} {at(first)}" if first is not None else str(path)
    what = exc.problem or "a syntax error"
    if exc.context:
        later = exc.problem_mark is not None and exc.context_mark is not None and at(exc.problem_mark) != at(first)
        what = f"{exc.context}: {what}" + (f" at {at(exc.problem_mark)}" if later else "")
    return f"{where}: not valid YAML ({what})"


def load_project(project_dir: Path = PROJECT_DIR) -> dict[str, Any]:
    return read_yaml(project_dir / "Pulumi.yaml")


def declared_defaults(project_dir: Path = PROJECT_DIR) -> dict[str, Any]:
    """Each declared `bluegreen:` key's default, as typed YAML values, un-namespaced.

    Pulumi.yaml declares keys of the project's own namespace, so they are `bluegreen:` keys only in a
    project named bluegreen; another project's (an example's `vpcId`) are not ours, and there the
    program's own defaults apply.
    """
    path = project_dir / "Pulumi.yaml"
    project = read_yaml(path)
    if project.get("name") != CONFIG_NAMESPACE:
        return {}
    config = _mapping(path, "config", project.get("config"))
    return {key: spec["default"] for key, spec in config.items() if isinstance(spec, dict) and "default" in spec}


def _mapping(path: Path, key: str, value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise StackFileError(f"{path}: `{key}:` must be a mapping of keys to values, got a {type(value).__name__}")
    return value


def stack_values(stack: str, project_dir: Path = PROJECT_DIR) -> dict[str, Any]:
    """The stack file's `bluegreen:` values, un-namespaced; {} when the file does not exist. Keys of other
    namespaces (`aws:`, `pulumi:`, another project's own) are not the program's."""
    path = project_dir / f"Pulumi.{stack}.yaml"
    if not path.exists():
        return {}
    config = _mapping(path, "config", read_yaml(path).get("config"))
    prefix = f"{CONFIG_NAMESPACE}:"
    return {k[len(prefix) :]: v for k, v in config.items() if isinstance(k, str) and k.startswith(prefix)}


def with_defaults(values: Mapping[str, str], project_dir: Path = PROJECT_DIR) -> dict[str, str]:
    """Wire-form `values` over the declared defaults, as the CLI hands config to the program."""
    return {**{key: to_wire(value) for key, value in declared_defaults(project_dir).items()}, **values}


def effective_config(
    stack: str = "dev",
    overrides: dict[str, Any] | None = None,
    project_dir: Path = PROJECT_DIR,
) -> dict[str, str]:
    """Defaults, then the stack file, then overrides; un-namespaced keys, wire-form values."""
    merged: dict[str, Any] = declared_defaults(project_dir)
    merged.update(stack_values(stack, project_dir))
    merged.update(overrides or {})
    return {key: to_wire(value) for key, value in merged.items()}


def pulumi_home(env: Mapping[str, str]) -> Path:
    """Where the Pulumi CLI keeps its state: $PULUMI_HOME, else ~/.pulumi."""
    return Path(env["PULUMI_HOME"]) if env.get("PULUMI_HOME") else Path.home() / ".pulumi"


def workspace_files(project_dir: Path, env: Mapping[str, str]) -> list[Path]:
    """The files in which the Pulumi CLI may have recorded `pulumi stack select` for this project.

    The CLI keeps it in <PULUMI_HOME>/workspaces/<project>-<sha1 of the Pulumi.yaml path>-workspace.json,
    key "stack" (pulumi/pulumi sdk/go/common/workspace/workspace.go, `settingsPath`; the directory and
    file names and PULUMI_HOME are in sdk/go/common/workspace/paths.go). The path it hashes is absolute
    but not symlink-resolved, so both spellings are tried, and the shell's $PWD for a relative
    --project-dir.
    """
    name = str(load_project(project_dir)["name"])
    project_file = project_dir / "Pulumi.yaml"
    spellings = [os.path.abspath(project_file), os.path.realpath(project_file)]
    logical_cwd = env.get("PWD")
    relative = not project_dir.is_absolute()
    if relative and logical_cwd and os.path.isdir(logical_cwd) and os.path.samefile(logical_cwd, os.getcwd()):
        spellings.insert(0, os.path.normpath(os.path.join(logical_cwd, project_file)))
    home = pulumi_home(env) / "workspaces"
    digests = dict.fromkeys(hashlib.sha1(s.encode(), usedforsecurity=False).hexdigest() for s in spellings)
    return [home / f"{name}-{digest}-workspace.json" for digest in digests]


def selected_stack(project_dir: Path, env: Mapping[str, str]) -> str | None:
    """The stack `pulumi stack select` chose for this project, or None when none is recorded.

    Raises ValueError, naming the file, when a workspace file is not the JSON object the CLI writes.
    """
    for path in workspace_files(project_dir, env):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            continue
        except (OSError, ValueError) as exc:
            raise ValueError(f"cannot read the Pulumi workspace file {path}: {exc}") from None
        if not isinstance(data, dict):
            raise ValueError(f"the Pulumi workspace file {path} is not a JSON object")
        stack = data.get("stack")
        if isinstance(stack, str) and stack:
            return stack
    return None


def namespaced(config: dict[str, str], project: str = "bluegreen") -> dict[str, str]:
    """Full keys for `pulumi.runtime.set_all_config`."""
    return {f"{project}:{key}": value for key, value in config.items()}
