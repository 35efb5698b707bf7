"""The pack's layout and conventions: what the engine loads, and how policies are named and set."""

from __future__ import annotations

import ast
import re
import subprocess
import sys

import yaml
from pulumi_policy import EnforcementLevel, ResourceValidationPolicy, StackValidationPolicy

from policies.bluegreen_policies import PACK_ENFORCEMENT, POLICIES
from tests.policy_server import PACK_DIR


def test_policy_project_file():
    project = yaml.safe_load((PACK_DIR / "PulumiPolicy.yaml").read_text())
    runtime = project["runtime"]
    assert (runtime if isinstance(runtime, str) else runtime["name"]) == "python"
    assert re.fullmatch(r"\d+\.\d+\.\d+", str(project["version"]))
    assert project["description"]


def test_main_only_builds_the_pack():
    tree = ast.parse((PACK_DIR / "__main__.py").read_text())
    statements = [s for s in tree.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
    calls = [s for s in statements if not isinstance(s, ast.Import | ast.ImportFrom)]
    assert len(calls) == 1
    assert isinstance(calls[0], ast.Expr) and isinstance(calls[0].value, ast.Call)
    assert ast.unparse(calls[0].value.func) == "PolicyPack"


def test_importing_the_policies_starts_nothing():
    code = "import threading, bluegreen_policies; print(len(bluegreen_policies.POLICIES), threading.active_count())"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=PACK_DIR, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(len(POLICIES)), "1"]


def test_requirements_name_the_policy_sdk():
    lines = (PACK_DIR / "requirements.txt").read_text().split()
    assert any(line.startswith("pulumi-policy") for line in lines)


def test_names_are_unique_kebab_case():
    names = [p.name for p in POLICIES]
    assert len(set(names)) == len(names) == 16
    assert all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)+", name) for name in names)


def test_descriptions_say_what_is_checked_or_prohibited():
    for policy in POLICIES:
        assert policy.description.startswith(("Checks whether ", "Prohibits ")), policy.name
        assert policy.description.endswith("."), policy.name


def test_enforcement_is_explicit_and_mandatory():
    assert PACK_ENFORCEMENT is EnforcementLevel.MANDATORY
    assert {p.name: p.enforcement_level for p in POLICIES} == dict.fromkeys(
        [p.name for p in POLICIES], EnforcementLevel.MANDATORY
    )


def test_tunables_have_defaults():
    schemas = {p.name: p.config_schema for p in POLICIES if p.config_schema is not None}
    assert set(schemas) == {"production-traffic-split", "https-listener-tls-policy"}
    for schema in schemas.values():
        assert schema.required is None
        assert all("default" in prop and "description" in prop for prop in schema.properties.values())


def test_cross_resource_checks_are_stack_policies():
    stack = {p.name for p in POLICIES if isinstance(p, StackValidationPolicy)}
    assert stack == {
        "blue-green-parity",
        "production-traffic-targets",
        "preview-rules-isolated",
        "rollback-readiness",
        "database-schema-compatibility",
        "instance-ingress-from-alb-only",
        "http-redirects-to-https",
        "guardian-armed",
    }


def test_checks_of_one_resources_inputs_are_resource_policies():
    """Resource policies run before each step, in the update too; stack policies only after all of them."""
    resource = {p.name for p in POLICIES if isinstance(p, ResourceValidationPolicy)}
    assert resource == {
        "production-traffic-split",
        "launch-template-imdsv2",
        "no-public-ip-in-private-subnets",
        "alb-drops-invalid-headers",
        "https-listener-tls-policy",
        "alb-access-logs-enabled",
        "alb-deletion-protection",
        "instances-without-public-ip",
    }


def test_a_stack_may_lower_exactly_the_production_baseline_as_the_docs_list_it():
    # bluegreen.safety refuses a stack policy file that lowers anything else (issue 22).
    from bluegreen.contract import LOWERABLE_POLICIES
    from policies.bluegreen_policies.baseline import ACCESS_LOGS, DELETION_PROTECTION, NO_INSTANCE_PUBLIC_IP

    baseline = [ACCESS_LOGS.name, DELETION_PROTECTION.name, NO_INSTANCE_PUBLIC_IP.name]
    assert sorted(LOWERABLE_POLICIES) == sorted(baseline)
    assert set(baseline) <= {policy.name for policy in POLICIES}
    docs = (PACK_DIR.parent / "docs" / "policies.md").read_text()
    table = docs.split("| may be lowered (advisory or disabled) |\n|---|\n", 1)[1].split("\n\n", 1)[0]
    assert re.findall(r"^\| `([a-z0-9-]+)` \|$", table, flags=re.M) == list(LOWERABLE_POLICIES)


def test_every_stack_policy_file_lowers_only_what_may_be_lowered():
    from bluegreen.safety import read_stack_policy_config

    files = sorted((PACK_DIR / "stacks").glob("*.json"))
    assert files
    for path in files:
        read_stack_policy_config(PACK_DIR, path.stem)  # raises PolicyConfigError naming the entry
