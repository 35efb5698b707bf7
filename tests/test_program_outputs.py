"""The program exports exactly the outputs `bluegreen.contract.Outputs` names: the release tool, the CI
summary and the next update's release guard read them by those names."""

from __future__ import annotations

from bluegreen.contract import Outputs
from tests.harness import run_program


def test_the_program_exports_every_output_the_contract_names_and_no_other() -> None:
    rec = run_program()

    assert sorted(rec.outputs) == sorted(name for output in Outputs.all() for name in output.names())


def test_only_the_outputs_the_contract_marks_secret_are_secret() -> None:
    rec = run_program()

    assert rec.secret_outputs == {name for output in Outputs.all() if output.secret for name in output.names()}
