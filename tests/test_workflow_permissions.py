"""Pull request code never holds a GitHub write token.

A workflow that runs on pull requests runs the pull request's own code: the program, its
dependencies, the policy pack, `scripts/test`. Whatever that code can reach, the pull request's
author can use. So, in every such workflow (`preview.yml` today):

- a job that runs the pull request's code has explicit job permissions with no GITHUB_TOKEN write
  scope, and no step gets a GitHub token (`github-token`, `GH_TOKEN`, ...). `id-token: write` is
  allowed in the `preview` environment: it mints an OIDC token for the read-only AWS role and is no
  GITHUB_TOKEN scope;
- a job with a write scope is a comment job: `pull-requests: write` and nothing else, no checkout,
  no code of the pull request, and the artifact it posts reaches its script as a file, never through
  an expression.

docs/ci-cd.md ("The PR preview: two jobs") says why. These are static checks of the YAML: each
check returns the problems it finds, and the checks are also run on the old, single-job preview
to show that they catch it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
PREVIEW = WORKFLOWS / "preview.yml"

PR_TRIGGERS = {"pull_request", "pull_request_target"}
# Scopes a job may hold while it runs the pull request's code.
READ_ONLY = {"read", "none"}
# Tokens a step could be handed: the GITHUB_TOKEN, under either name.
GITHUB_TOKEN = re.compile(r"\bgithub\.token\b|\bsecrets\.GITHUB_TOKEN\b", re.IGNORECASE)
TOKEN_INPUT = re.compile(r"(?:^|[-_])token$", re.IGNORECASE)  # github-token, repo-token, token ...
# Actions a comment job may use: fetch the artifact of this run. Posting is `gh api` in a run step.
COMMENT_ACTIONS = ("actions/download-artifact@",)

# A word in command position of a shell script: at a line start, after ; & | ( ` { $( or after a
# keyword that runs what follows, quoted or not. Enough to see what a short script runs; not a shell
# parser, so it also reads words of jq programs and prose, harmless unless they name a command.
_RUNS_NEXT = re.compile(r"(?:\b(?:if|elif|then|else|do|while|until|exec|xargs|env|sudo|command|time|nohup)|!)\s")
_COMMAND = re.compile(r"(?:^|[;&|(`{]|\$\()\s*[\"']?(?P<word>[^\s;&|()`'\"<>]+)", re.MULTILINE)
# `. file` sources a file (a path or a variable); jq's `.` is followed by a pipe, a keyword or nothing.
_SOURCES = re.compile(r"(?:^|[;&|(`{]|\$\()\s*\.\s+[\"']?(?:[$/~.]|[\w.-]+/|[\w.-]+\.(?:sh|bash|env)\b)", re.MULTILINE)
# Commands that run code of the checkout (the program, its dependencies, scripts/, a venv).
_RUNS_CODE = {
    "pulumi", "python", "python3", "pip", "pip3", "pytest", "npm", "npx", "node", "make", "uv",
    "poetry", "bash", "sh", "zsh", "source", "eval",
}  # fmt: skip
# Ways to fetch a pull request's code other than actions/checkout.
_FETCHES_CODE = re.compile(
    r"\bgit\s+(?:clone|fetch|checkout|pull|worktree)\b|\bgh\s+(?:pr\s+checkout|repo\s+clone)\b"
    r"|\b(?:tarball|zipball)\b|/contents/|raw\.githubusercontent\.com"
)


# ---------------------------------------------------------------- reading a workflow


def load(text: str) -> dict[Any, Any]:
    workflow = yaml.safe_load(text)
    assert isinstance(workflow, dict)
    return workflow


def triggers(workflow: dict[Any, Any]) -> set[str]:
    # YAML 1.1 reads the key `on` as True.
    on = workflow.get("on", workflow.get(True))
    if isinstance(on, str):
        return {on}
    return {str(event) for event in on} if isinstance(on, list | dict) else set()


def steps(job: dict[Any, Any]) -> list[dict[Any, Any]]:
    return list(job.get("steps") or [])


def uses(step: dict[Any, Any]) -> str:
    return str(step.get("uses", ""))


def commands(script: str) -> list[str]:
    """The words in command position of `script`."""
    return [match["word"] for match in _COMMAND.finditer(_RUNS_NEXT.sub(";", script))]


def runs_code_of_the_checkout(script: str) -> list[str]:
    """What in `script` runs code that a checkout (or an artifact) put on disk."""
    found = []
    for word in commands(script):
        if word in _RUNS_CODE or "/" in word:  # a path: ./run, scripts/test, venv/bin/python, $dir/x.sh
            found.append(word)
    found += [". (source)" for _ in _SOURCES.finditer(_RUNS_NEXT.sub(";", script))]
    found += [match[0] for match in _FETCHES_CODE.finditer(script)]
    return found


def runs_pr_code(job: dict[Any, Any]) -> bool:
    """Does the job check out, fetch or run the pull request's code?"""
    for step in steps(job):
        action = uses(step)
        if action.startswith(("actions/checkout@", "./", "pulumi/actions@")):
            return True
        if runs_code_of_the_checkout(str(step.get("run", ""))):
            return True
    return False


def write_scopes(job: dict[Any, Any]) -> dict[str, str]:
    """The job's scopes that are not read-only; a string such as `write-all` counts as all of them."""
    permissions = job.get("permissions")
    if isinstance(permissions, str):
        return {} if permissions == "read-all" else {"*": permissions}
    return {scope: str(level) for scope, level in (permissions or {}).items() if level not in READ_ONLY}


def github_token_uses(workflow: dict[Any, Any], job: dict[Any, Any]) -> list[str]:
    """Where the job hands a GitHub token to a step: a `*token` input, or the token in env or with."""
    found = [
        f"workflow env {key}" for key, value in (workflow.get("env") or {}).items() if GITHUB_TOKEN.search(str(value))
    ]
    found += [f"job env {key}" for key, value in (job.get("env") or {}).items() if GITHUB_TOKEN.search(str(value))]
    for index, step in enumerate(steps(job)):
        label = step.get("name") or uses(step) or f"step {index + 1}"
        for key, value in (step.get("with") or {}).items():
            if TOKEN_INPUT.search(str(key)) or GITHUB_TOKEN.search(str(value)):
                found.append(f"{label}: with {key}")
        for key, value in (step.get("env") or {}).items():
            if GITHUB_TOKEN.search(str(value)):
                found.append(f"{label}: env {key}")
        if GITHUB_TOKEN.search(str(step.get("run", ""))):
            found.append(f"{label}: run")
    return found


# ---------------------------------------------------------------- the checks


def pr_code_problems(workflow: dict[Any, Any]) -> list[str]:
    """(a) Each job that runs the pull request's code: explicit permissions, no write scope, no token."""
    problems = []
    for name, job in (workflow.get("jobs") or {}).items():
        if not runs_pr_code(job):
            continue
        where = f"job {name} runs the pull request's code"
        permissions = job.get("permissions")
        if not isinstance(permissions, dict):
            problems.append(f"{where} but has no explicit permissions mapping ({permissions!r})")
            continue
        for scope, level in write_scopes(job).items():
            if scope == "id-token" and level == "write" and job.get("environment") == "preview":
                continue  # an OIDC token for the read-only preview role, no GITHUB_TOKEN scope
            problems.append(f"{where} and holds {scope}: {level}")
        problems += [f"{where} and hands a GitHub token to a step: {use}" for use in github_token_uses(workflow, job)]
    return problems


def comment_job_problems(workflow: dict[Any, Any]) -> list[str]:
    """(b) Each job with a write scope: pull-requests: write alone, and nothing of the pull request."""
    problems = []
    for name, job in (workflow.get("jobs") or {}).items():
        scopes = {scope: level for scope, level in write_scopes(job).items() if scope != "id-token"}
        if not scopes:
            continue
        where = f"job {name} can write ({', '.join(f'{s}: {lv}' for s, lv in scopes.items())})"
        if job.get("permissions") != {"pull-requests": "write"}:
            problems.append(f"{where}: a comment job holds pull-requests: write and nothing else")
        if job.get("environment"):
            problems.append(f"{where} and runs in environment {job['environment']!r}")
        for index, step in enumerate(steps(job)):
            label = f"{where}: step {step.get('name') or uses(step) or index + 1}"
            action = uses(step)
            if action.startswith("actions/checkout@"):
                problems.append(f"{label} checks out the repository")
            elif action and not action.startswith(COMMENT_ACTIONS):
                problems.append(f"{label} uses {action} (a comment job only downloads the artifact)")
            script = str(step.get("run", ""))
            if "${{" in script:
                problems.append(f"{label} puts an expression into its script (pass values through env)")
            for what in runs_code_of_the_checkout(script):
                problems.append(f"{label} runs or fetches code: {what}")
            for key, value in {**(step.get("env") or {}), **(step.get("with") or {})}.items():
                if re.search(r"\b(?:steps|needs)\.[\w-]+\.outputs\b", str(value)):
                    problems.append(f"{label} takes {key} from another step's or job's outputs")
    return problems


def pr_workflows() -> list[Path]:
    return sorted(
        path
        for path in [*WORKFLOWS.glob("*.yml"), *WORKFLOWS.glob("*.yaml")]
        if triggers(load(path.read_text(encoding="utf-8"))) & PR_TRIGGERS
    )


# ---------------------------------------------------------------- the workflows


def test_the_preview_runs_on_pull_requests() -> None:
    assert PREVIEW in pr_workflows()


@pytest.mark.parametrize("path", pr_workflows(), ids=lambda p: p.name)
def test_no_job_that_runs_pr_code_holds_a_write_token(path: Path) -> None:
    problems = pr_code_problems(load(path.read_text(encoding="utf-8")))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", pr_workflows(), ids=lambda p: p.name)
def test_a_job_that_can_write_runs_nothing_of_the_pr(path: Path) -> None:
    problems = comment_job_problems(load(path.read_text(encoding="utf-8")))
    assert not problems, "\n".join(problems)


def test_the_preview_job_hands_its_output_to_the_comment_job() -> None:
    jobs = load(PREVIEW.read_text(encoding="utf-8"))["jobs"]
    preview, comment = jobs["preview"], jobs["comment"]
    assert runs_pr_code(preview)
    assert not runs_pr_code(comment)
    assert comment["permissions"] == {"pull-requests": "write"}
    assert comment["needs"] in ("preview", ["preview"])

    uploads = [s for s in steps(preview) if uses(s).startswith("actions/upload-artifact@")]
    downloads = [s for s in steps(comment) if uses(s).startswith("actions/download-artifact@")]
    assert len(uploads) == 1 and len(downloads) == 1
    assert uploads[0]["with"]["name"] == downloads[0]["with"]["name"] == "preview-${{ matrix.stack }}"
    # Same stacks on both sides; the comment job takes the stack from the repository variable, not the artifact.
    assert comment["strategy"]["matrix"]["stack"] == preview["strategy"]["matrix"]["stack"]
    # pulumi/actions would comment itself: only the CLI installer is left, with no comment inputs.
    for step in steps(preview):
        if uses(step).startswith("pulumi/actions@"):
            assert set(step.get("with") or {}) == {"pulumi-version"}, step


# ---------------------------------------------------------------- the checks catch what they are for

# preview.yml before the split, trimmed to what matters: one job runs the pull request's program
# through pulumi/actions, holds pull-requests: write and hands the action the GITHUB_TOKEN.
_ONE_JOB_PREVIEW = """\
name: preview
on:
  pull_request:
    branches: [main]
permissions: {}
jobs:
  preview:
    runs-on: ubuntu-latest
    environment: preview
    permissions:
      contents: read
      id-token: write
      pull-requests: write
    steps:
      - uses: actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1
        with:
          persist-credentials: false
      - run: venv/bin/python -m pip install -r requirements.txt -r policies/requirements.txt
      - uses: pulumi/actions@8e5e406f4007fca908480587cb9893c07090f58d # v7.0.0
        with:
          command: preview
          stack-name: dev
          policyPacks: policies
          comment-on-pr: true
          github-token: ${{ secrets.GITHUB_TOKEN }}
"""

# A comment job that has crept back into running the pull request's code.
_LEAKY_COMMENT_JOB = """\
name: preview
on: pull_request
permissions: {}
jobs:
  comment:
    runs-on: ubuntu-latest
    permissions:
      contents: write
      pull-requests: write
    steps:
      - uses: actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1
      - uses: actions/download-artifact@3e5f45b2cfb9172054b4087a40e8e0b5a5461e7c # v8.0.1
        with:
          name: preview-dev
      - env:
          GH_TOKEN: ${{ github.token }}
          TEXT: ${{ steps.preview.outputs.text }}
        run: |
          gh pr comment 1 --body "${{ needs.preview.outputs.text }}"
          python -m bluegreen.ci --stack dev
          bash "$RUNNER_TEMP/preview/post.sh"
          git fetch origin pull/1/head
"""


def test_the_checks_reject_the_one_job_preview() -> None:
    workflow = load(_ONE_JOB_PREVIEW)
    assert triggers(workflow) == {"pull_request"}
    assert pr_code_problems(workflow) == [
        "job preview runs the pull request's code and holds pull-requests: write",
        "job preview runs the pull request's code and hands a GitHub token to a step: "
        "pulumi/actions@8e5e406f4007fca908480587cb9893c07090f58d: with github-token",
    ]
    assert comment_job_problems(workflow)[:4] == [
        "job preview can write (pull-requests: write): a comment job holds pull-requests: write and nothing else",
        "job preview can write (pull-requests: write) and runs in environment 'preview'",
        "job preview can write (pull-requests: write): step actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 "
        "checks out the repository",
        "job preview can write (pull-requests: write): step 2 runs or fetches code: venv/bin/python",
    ]


def test_the_checks_reject_a_comment_job_that_runs_pr_code() -> None:
    problems = "\n".join(comment_job_problems(load(_LEAKY_COMMENT_JOB)))
    for expected in (
        "a comment job holds pull-requests: write and nothing else",
        "checks out the repository",
        "puts an expression into its script",
        "takes TEXT from another step's or job's outputs",
        "runs or fetches code: python",
        "runs or fetches code: bash",
        "runs or fetches code: git fetch",
    ):
        assert expected in problems, f"{expected!r} not found in:\n{problems}"


def test_a_job_without_permissions_that_runs_pr_code_is_rejected() -> None:
    workflow = load(
        _ONE_JOB_PREVIEW.replace(
            "    permissions:\n      contents: read\n      id-token: write\n      pull-requests: write\n", ""
        )
    )
    assert pr_code_problems(workflow)[0] == (
        "job preview runs the pull request's code but has no explicit permissions mapping (None)"
    )


def test_id_token_write_is_allowed_only_in_the_preview_environment() -> None:
    fixed = _ONE_JOB_PREVIEW.replace("      pull-requests: write\n", "").replace(
        "          comment-on-pr: true\n          github-token: ${{ secrets.GITHUB_TOKEN }}\n", ""
    )
    assert pr_code_problems(load(fixed)) == []
    elsewhere = fixed.replace("    environment: preview\n", "")
    assert pr_code_problems(load(elsewhere)) == ["job preview runs the pull request's code and holds id-token: write"]


def test_commands_are_read_from_command_position() -> None:
    script = (
        'x=$(gh api foo | jq -r ".a")\n'
        'if [ -n "$x" ]; then ./run; fi\n'
        'echo "pulumi preview" | tee out\n'
        'jq "(.)" a && . "$RUNNER_TEMP/env"\n'
        'if ! "$dir/post.sh"; then sudo pip install x; fi\n'
    )
    assert commands(script) == [
        "x=$", "gh", "jq", "[", "./run", "fi", "echo", "tee", "jq", ".", ".", "$dir/post.sh", "pip", "fi",
    ]  # fmt: skip
    assert runs_code_of_the_checkout(script) == ["./run", "$dir/post.sh", "pip", ". (source)"]
