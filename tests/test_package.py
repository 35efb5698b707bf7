"""The distribution a user installs: built from this checkout, installed into a fresh virtualenv,
used from outside the checkout.

The wheel is built without network (`--no-build-isolation`, setuptools from the dev extra) and
installed with `--no-deps`; the fresh venv borrows this venv's dependencies through PYTHONPATH,
which holds no `bluegreen` of its own (the editable install is a finder that only `.pth`
processing loads), so every `bluegreen` import below comes from the wheel.
"""

from __future__ import annotations

import os
import site
import subprocess
import sys
import venv
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import bluegreen

PROJECT_DIR = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", str(out), "."],
        cwd=PROJECT_DIR,
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("bluegreen-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    home = tmp_path_factory.mktemp("fresh")
    venv.create(home / "venv", with_pip=False)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(home / "venv/bin/python"),
            "install",
            "--quiet",
            "--no-deps",
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(site.getsitepackages())}
    yield home, env


def test_the_wheel_ships_the_components_under_the_bluegreen_namespace_only(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()

    assert "bluegreen/components/service.py" in names
    assert "bluegreen/py.typed" in names
    assert not [n for n in names if n.startswith(("components/", "tests/", "policies/", "benchmarks/"))]
    metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
    text = zipfile.ZipFile(wheel).read(metadata).decode()
    assert f"Version: {bluegreen.__version__}" in text
    assert "License-Expression: Apache-2.0" in text
    entry_points = zipfile.ZipFile(wheel).read(metadata.replace("METADATA", "entry_points.txt")).decode()
    assert "bluegreen = bluegreen.cli:main" in entry_points


def test_the_installed_command_prints_its_version(installed: tuple[Path, dict[str, str]]) -> None:
    home, env = installed

    done = subprocess.run(
        [str(home / "venv/bin/bluegreen"), "--version"], cwd=home, env=env, capture_output=True, text=True, check=False
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"bluegreen {bluegreen.__version__}"


def test_import_bluegreen_exposes_the_components_from_the_installed_copy(
    installed: tuple[Path, dict[str, str]],
) -> None:
    home, env = installed
    probe = (
        "import bluegreen, bluegreen.components as c, importlib.util as u; "
        "print(bluegreen.__file__); print(bluegreen.BlueGreenService.__module__); "
        "print(u.find_spec('components'))"
    )

    done = subprocess.run(
        [str(home / "venv/bin/python"), "-c", probe], cwd=home, env=env, capture_output=True, text=True, check=False
    )

    assert done.returncode == 0, done.stderr
    where, module, top_level = done.stdout.splitlines()
    assert where.startswith(str(home / "venv"))
    assert module == "bluegreen.components.service"
    assert top_level == "None"  # no generic `components` module in the user's environment
