"""The sample smoke checks that ship with the package: `bluegreen verify --print-sample-checks`.

The sample must load with the same reader `verify` uses, and pass against the built-in demo app
(served here from the files its boot script writes, by the same `python -m http.server`), so a
first `verify` on a fresh stack passes with it as printed.
"""

from __future__ import annotations

import http.server
import io
import json
import shlex
import threading
from collections.abc import Iterator
from functools import partial
from importlib import resources
from pathlib import Path
from typing import NoReturn

import pytest

from bluegreen.cli import main
from bluegreen.clock import SystemClock
from bluegreen.smoke import load_checks, run_checks, urllib_fetch
from bluegreen.user_data import demo_script

HEALTH_PATH = "/health"  # the Pulumi.yaml default of healthCheckPath


def shipped_sample() -> Path:
    path = Path(str(resources.files("bluegreen").joinpath("data/smoke-checks.yaml")))
    assert path.is_file(), "the sample is package data: pyproject.toml [tool.setuptools.package-data]"
    return path


def write_demo_files(script: str, root: Path) -> None:
    """Write what the boot script's `printf FORMAT [VALUE...] > "$root/..."` lines write, under `root`."""
    for line in script.splitlines():
        if not line.startswith("printf "):
            continue
        words = shlex.split(line)
        redirect = words.index(">")
        fmt, *values = words[1:redirect]
        target = Path(words[redirect + 1].replace("$root", str(root)))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(fmt.replace("\\n", "\n") % tuple(values))


@pytest.fixture
def demo_app(tmp_path: Path) -> Iterator[str]:
    """The demo app for release v2.4.1: its files, served as its systemd unit serves them."""
    write_demo_files(demo_script("v2.4.1", 8080, HEALTH_PATH), tmp_path)
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_the_sample_loads_as_a_checks_file() -> None:
    suite = load_checks(shipped_sample())

    assert [check.name for check in suite.checks] == ["health", "version"]
    assert [check.path for check in suite.checks] == [HEALTH_PATH, "/version"]


def test_the_sample_passes_against_the_demo_app_for_its_release_only(demo_app: str) -> None:
    suite = load_checks(shipped_sample())

    def check(release: str) -> dict[str, str]:
        results = run_checks(suite, demo_app, {}, {"release": release}, sleep=lambda _s: None, fetch=urllib_fetch)
        return {result.name: result.detail for result in results}

    assert check("v2.4.1") == {"health": "ok", "version": "ok"}
    assert check("v2.4.2")["version"].startswith("""body does not contain '"release": "v2.4.2"'""")


def test_print_sample_checks_prints_the_shipped_file_and_needs_no_stack(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["verify", "--print-sample-checks", "--project-dir", str(tmp_path)])  # no Pulumi.yaml there

    assert exit_info.value.code == 0
    assert capsys.readouterr().out == shipped_sample().read_text()


def test_verify_help_says_how_to_start_a_checks_file(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["verify", "--help"])

    text = " ".join(capsys.readouterr().out.split())
    assert "`bluegreen verify --print-sample-checks > smoke-checks.yaml`" in text


def test_a_redirect_is_the_answer_and_the_preview_token_goes_nowhere_else() -> None:
    seen: list[dict[str, str]] = []
    here: dict[str, int] = {}

    class Redirecting(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(dict(self.headers))
            if self.path == "/version":  # an app behind a TLS-terminating ALB sending clients to http://
                self.send_response(302)
                self.send_header("Location", f"http://127.0.0.1:{here['port']}/elsewhere")
            else:
                self.send_response(200)
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Redirecting)
    here["port"] = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        reply = urllib_fetch(f"http://127.0.0.1:{here['port']}/version", {"X-Bluegreen-Token": "t"}, 5)
    finally:
        server.shutdown()

    assert reply.status == 302 and reply.headers["location"].endswith("/elsewhere")
    assert len(seen) == 1  # not followed: the token header was sent once, to the URL the check named


def _no_stack(_args: object) -> NoReturn:
    raise AssertionError("--validate-only must not choose a stack or build an engine")


class _StoppedClock(SystemClock):
    def monotonic(self) -> float:
        return 0.0


def test_validate_only_checks_a_file_with_no_stack_no_pulumi_cli_and_no_aws(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no `pulumi` here
    monkeypatch.delenv("PULUMI_STACK", raising=False)
    out, err = io.StringIO(), io.StringIO()

    code = main(
        ["verify", "--checks", str(shipped_sample()), "--validate-only", "--project-dir", str(tmp_path)],
        engine_factory=_no_stack,
        aws_factory=_no_stack,
        clock=_StoppedClock(),
        out=out,
        err=err,
    )

    assert (code, err.getvalue()) == (0, "")
    assert out.getvalue().splitlines() == [
        f"▶ validate {shipped_sample()}",
        f"  health: GET {HEALTH_PATH} → 200",
        """  version: GET /version → 200, body contains '"release": "{release}"'""",
        f"✔ validate {shipped_sample()} (0.0s): 2 checks, 3 attempts each, 2s apart, 5s per request",
    ]


@pytest.mark.parametrize(
    ("text", "error"),
    [
        (
            "checks:\n  - path: /health\n",
            "checks file {path}: no check expects {{release}}, {{color}} or {{imageId}}, so the checks would pass",
        ),
        (
            "checks:\n  - path: /version\n   bodyContains: x\n",
            "checks file {path} line 2, column 3: not valid YAML (while parsing a block collection: expected <block end>",
        ),
        ("attempt: 3\nchecks: []\n", "checks file {path}: key='attempt' is not allowed"),
    ],
)
def test_validate_only_refuses_a_bad_file_in_one_line_exit_2(tmp_path: Path, text: str, error: str) -> None:
    path = tmp_path / "smoke-checks.yaml"
    path.write_text(text)
    out = io.StringIO()

    code = main(
        ["verify", "--checks", str(path), "--validate-only", "--json", "--project-dir", str(tmp_path)],
        engine_factory=_no_stack,
        out=out,
        err=io.StringIO(),
    )

    doc = json.loads(out.getvalue())
    assert code == doc["exitCode"] == 2
    assert doc["error"].startswith(error.format(path=path)) and "\n" not in doc["error"]
    assert "checks" not in doc["result"]
