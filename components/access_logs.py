"""The ALB's access log bucket: each entry names the target group, so which colour served a request.

ELB writes the logs itself, so the bucket must (Elastic Load Balancing User Guide, "Enable access logs
for your Application Load Balancer"):
- be in the load balancer's region and use SSE-S3 (SSE-KMS is not supported for access logs);
- grant `s3:PutObject` on `<prefix>/AWSLogs/<account>/*` to the region's ELB account for regions opened
  before August 2022 (`aws.elb.get_service_account`), or to `logdelivery.elasticloadbalancing.amazonaws.com`
  in newer ones. The policy grants both, so one program works in every region.
The ALB checks that it may write when access logs are switched on, so it depends on the policy.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from bluegreen.contract import type_token

LOG_PREFIX = "alb"
LOG_DELIVERY_PRINCIPAL = "logdelivery.elasticloadbalancing.amazonaws.com"


@dataclass(frozen=True)
class AccessLogsArgs:
    retention_days: int
    tags: Mapping[str, str] = field(default_factory=dict)


def elb_log_account_arn(opts: pulumi.InvokeOptions) -> str | None:
    """The region's ELB account, or None in a region opened since August 2022 (it has none: the
    provider's data source is a fixed table, terraform-provider-aws `service_account_data_source.go`)."""
    try:
        return str(aws.elb.get_service_account(opts=opts).arn)
    except Exception as error:
        pulumi.log.info(
            f"no ELB log delivery account for this region ({error}); the bucket trusts {LOG_DELIVERY_PRINCIPAL}"
        )
        return None


def log_delivery_policy(bucket_arn: str, account_id: str, elb_account_arn: str | None) -> dict[str, Any]:
    """Writes under `alb/AWSLogs/<this account>/` only, by ELB only, over TLS only."""
    objects = f"{bucket_arn}/{LOG_PREFIX}/AWSLogs/{account_id}/*"
    statements: list[dict[str, Any]] = [
        {
            "Sid": "ElbLogDelivery",
            "Effect": "Allow",
            "Principal": {"Service": LOG_DELIVERY_PRINCIPAL},
            "Action": "s3:PutObject",
            "Resource": objects,
        }
    ]
    if elb_account_arn is not None:
        statements.append(
            {
                "Sid": "ElbLogDeliveryRegionalAccount",
                "Effect": "Allow",
                "Principal": {"AWS": elb_account_arn},
                "Action": "s3:PutObject",
                "Resource": objects,
            }
        )
    statements.append(
        {
            "Sid": "TlsOnly",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [bucket_arn, f"{bucket_arn}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    )
    return {"Version": "2012-10-17", "Statement": statements}


class AccessLogs(pulumi.ComponentResource):
    """An encrypted, private bucket with the ELB log delivery policy and an expiry rule."""

    bucket: aws.s3.Bucket
    policy: aws.s3.BucketPolicy

    def __init__(self, name: str, args: AccessLogsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(type_token("AccessLogs"), name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        # force_destroy: the logs go with the stack (`pulumi destroy`), as the ALB they describe does.
        self.bucket = aws.s3.Bucket(f"{name}-bucket", force_destroy=True, tags={**args.tags}, opts=child)
        aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            bucket=self.bucket.id,
            rule={"object_ownership": "BucketOwnerEnforced"},
            opts=child,
        )
        blocked = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access-block",
            bucket=self.bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=self.bucket.id,
            rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}],
            opts=child,
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            bucket=self.bucket.id,
            rules=[
                {
                    "id": "expire-access-logs",
                    "status": "Enabled",
                    "filter": {"prefix": f"{LOG_PREFIX}/"},
                    "expiration": {"days": args.retention_days},
                }
            ],
            opts=child,
        )
        invoke = pulumi.InvokeOptions(parent=self)
        account = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id
        elb_account = elb_log_account_arn(invoke)
        self.policy = aws.s3.BucketPolicy(
            f"{name}-policy",
            bucket=self.bucket.id,
            policy=pulumi.Output.all(self.bucket.arn, account).apply(
                lambda values: json.dumps(log_delivery_policy(values[0], values[1], elb_account))
            ),
            # S3 refuses a policy while the public access block is being written (a conflicting operation).
            opts=pulumi.ResourceOptions(parent=self, depends_on=[blocked]),
        )
        self.register_outputs({"bucket": self.bucket.bucket})
