"""The production baseline AWS's guidance expects, on by default: access logs that say which colour
served a request, deletion protection on the one front door, instances without public IPs.
The dev stack (Pulumi.dev.yaml) turns each off."""

from __future__ import annotations

import json

import pytest

from tests.harness import ACCOUNT, ELB_LOG_ACCOUNT, PRODUCTION, Recording, deployed, run_failing, run_program


@pytest.fixture(scope="module")
def production() -> Recording:
    return run_program(PRODUCTION)


def test_the_alb_is_protected_from_deletion_and_logs_to_the_bucket_the_stack_creates(production: Recording) -> None:
    alb = production.by_name("bluegreen-lb-alb")
    bucket = production.by_name("bluegreen-access-logs-bucket")
    assert alb.inputs["enableDeletionProtection"] is True
    assert alb.inputs["accessLogs"] == {"bucket": bucket.outputs["bucket"], "enabled": True, "prefix": "alb"}
    # ELB checks that it may write when logging is switched on: the policy exists first.
    assert production.by_name("bluegreen-access-logs-policy").urn in alb.dependencies


def test_the_log_bucket_is_private_encrypted_expiring_and_writable_by_elb_only(production: Recording) -> None:
    encryption = production.by_name("bluegreen-access-logs-encryption").inputs["rules"][0]
    assert encryption["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "AES256"  # ELB supports SSE-S3 only
    block = production.by_name("bluegreen-access-logs-public-access-block").inputs
    assert all(block[k] for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"))
    owner = production.by_name("bluegreen-access-logs-ownership").inputs["rule"]["objectOwnership"]
    assert owner == "BucketOwnerEnforced"
    (rule,) = production.by_name("bluegreen-access-logs-lifecycle").inputs["rules"]
    assert (rule["status"], rule["expiration"]["days"], rule["filter"]["prefix"]) == ("Enabled", 90, "alb/")
    policy = json.loads(production.by_name("bluegreen-access-logs-policy").inputs["policy"])
    writers = {
        json.dumps(s["Principal"], sort_keys=True): s["Resource"] for s in policy["Statement"] if s["Effect"] == "Allow"
    }
    bucket_arn = production.by_name("bluegreen-access-logs-bucket").outputs["arn"]
    objects = f"{bucket_arn}/alb/AWSLogs/{ACCOUNT}/*"
    assert writers == {
        json.dumps({"Service": "logdelivery.elasticloadbalancing.amazonaws.com"}): objects,
        json.dumps({"AWS": f"arn:aws:iam::{ELB_LOG_ACCOUNT}:root"}): objects,
    }
    (deny,) = [s for s in policy["Statement"] if s["Effect"] == "Deny"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_retention_comes_from_config_and_a_named_bucket_is_used_as_it_is() -> None:
    rec = run_program({**PRODUCTION, "accessLogsRetentionDays": 400})
    assert rec.by_name("bluegreen-access-logs-lifecycle").inputs["rules"][0]["expiration"]["days"] == 400

    named = run_program({**PRODUCTION, "accessLogsBucket": "acme-alb-logs"})
    assert not named.of_type("aws:s3/bucket:Bucket")
    assert named.by_name("bluegreen-lb-alb").inputs["accessLogs"]["bucket"] == "acme-alb-logs"


def test_instances_run_in_private_subnets_behind_one_nat_gateway(production: Recording) -> None:
    nat = production.by_name("bluegreen-network-nat")
    public = {production.by_name(f"bluegreen-network-subnet-{i}").outputs["id"] for i in (0, 1)}
    private = [production.by_name(f"bluegreen-network-private-subnet-{i}") for i in (0, 1)]
    assert nat.inputs["subnetId"] in public
    assert nat.inputs["allocationId"] == production.by_name("bluegreen-network-nat-eip").outputs["allocationId"]
    assert production.by_name("bluegreen-network-private-route").inputs["natGatewayId"] == nat.outputs["id"]
    assert {s.inputs["cidrBlock"] for s in private} == {"10.0.32.0/20", "10.0.48.0/20"}
    for color in ("blue", "green"):
        lt = production.by_name(f"bluegreen-{color}-lt").inputs
        assert lt["networkInterfaces"][0]["associatePublicIpAddress"] == "false"
        asg = production.by_name(f"bluegreen-{color}-asg")
        assert asg.inputs["vpcZoneIdentifiers"] == [s.outputs["id"] for s in private]
        # Instances boot with their way out in place (a boot script may fetch packages).
        assert production.by_name("bluegreen-network-private-route").urn in asg.dependencies
    assert production.outputs["instanceSubnetTier"] == "private"


def test_the_dev_stack_turns_the_baseline_off() -> None:
    dev = run_program()  # Pulumi.dev.yaml
    alb = dev.by_name("bluegreen-lb-alb").inputs
    assert alb["enableDeletionProtection"] is False and "accessLogs" not in alb
    assert not dev.of_type("aws:s3/bucket:Bucket") and not dev.of_type("aws:ec2/natGateway:NatGateway")
    assert dev.by_name("bluegreen-blue-lt").inputs["networkInterfaces"][0]["associatePublicIpAddress"] == "true"
    assert dev.outputs["instanceSubnetTier"] == "public"


def test_moving_live_instances_between_public_and_private_subnets_is_refused() -> None:
    public = run_program()  # the dev stack: public subnets

    error, registered = run_failing({"privateInstances": True}, previous_outputs=deployed(public))

    assert "privateInstances moves the instances from public to private subnets" in str(error)
    assert "`pulumi config set bluegreen:privateInstances false`" in str(error)
    assert registered == []
    # An emergency override takes it through, loudly.
    moved = run_program({"privateInstances": True, "allowLiveRelease": True}, previous_outputs=deployed(public))
    assert moved.outputs["instanceSubnetTier"] == "private"


def test_a_stack_deployed_before_the_tier_was_exported_counts_as_public() -> None:
    older = {k: v for k, v in deployed(run_program()).items() if k != "instanceSubnetTier"}

    error, _ = run_failing({"privateInstances": True}, previous_outputs=older)

    assert "from public to private subnets" in str(error)
