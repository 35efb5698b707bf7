"""The docs describe the code as it is: generated reference pages match their sources.

docs/reference/config.md comes from Pulumi.yaml and docs/reference/outputs.md from
`bluegreen.contract.Outputs`; `scripts/gen-reference` writes both. These tests call the generator's own
functions, so a config key or a stack output added without regenerating fails CI.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import shutil
import subprocess
import sys
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
