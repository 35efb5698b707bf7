"""The guardian in the account: the Lambda that rolls back when the live colour's release health fails.

It does not depend on the runner: EventBridge invokes it on a "CloudWatch Alarm State Change" of
either colour's release-health alarm to ALARM, and every minute while the rollback target is armed (a
state change fires once, so an invocation that could not act is followed by one that looks again), and it
reads the state this update writes to an SSM parameter (`bluegreen.guardian.handler` says when it acts).
Its record goes to a second parameter, which the program reads on the next `pulumi up`
(`bluegreen.guardian_record`), and to an SNS topic.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws

from bluegreen import contract
from bluegreen.contract import COLORS, Color, type_token
from bluegreen.settings import MAX_GUARDIAN_RESERVED_CONCURRENCY

# The installed `bluegreen` package, wherever it is (a checkout, an editable install or a wheel).
PACKAGE = Path(contract.__file__).resolve().parent
# The handler's archive: the handler and the contract it takes the forward action from (standard library
# only), under an empty `bluegreen` package so nothing else of the package is imported in the Lambda.
ARCHIVE_FILES = ("contract.py", "guardian/__init__.py", "guardian/handler.py")
RUNTIME = "python3.12"
HANDLER = "bluegreen.guardian.handler.handler"
# The function's timeout; the handler's claims lapse after CLAIM_SECONDS, which must be longer.
TIMEOUT_SECONDS = 30
# How often the guardian looks again while armed. EventBridge's finest rate is one minute ("rate(1 minute)",
# EventBridge user guide, "Creating a rule that runs on a schedule").
SCHEDULE = "rate(1 minute)"


def archive() -> pulumi.AssetArchive:
    assets: dict[str, pulumi.Asset | pulumi.Archive] = {"bluegreen/__init__.py": pulumi.StringAsset("")}
    for relative in ARCHIVE_FILES:
        assets[f"bluegreen/{relative}"] = pulumi.FileAsset(str(PACKAGE / relative))
    return pulumi.AssetArchive(assets)


@dataclass(frozen=True)
class GuardianArgs:
    parameter_prefix: str  # e.g. /bluegreen/<project>/<stack>
    listener_arn: pulumi.Input[str]
    release_health_alarms: Mapping[Color, pulumi.Input[str]]
    # Their ARNs: the scheduled look reads their state with DescribeAlarms, allowed on these two only.
    release_health_alarm_arns: Mapping[Color, pulumi.Input[str]]
    # The state the handler reads, as a JSON string (built by BlueGreenService from this update).
    state: pulumi.Input[str]
    subscriptions: Sequence[str] = ()  # email addresses and https:// endpoints
    # Concurrency reserved for the function; 0 reserves none. Lambda refuses a reservation that leaves fewer
    # than 100 unreserved ("You can reserve up to the Unreserved account concurrency value that is shown, minus
    # 100", Lambda developer guide, "Configuring reserved concurrency"; PutFunctionConcurrency), and new accounts
    # start with a quota of 10 or 50 (aws-samples/one-observability-demo#278), so a default of 1 failed the first
    # `pulumi up` there. The handler needs none: its claims make concurrent invocations flip at most once.
    reserved_concurrency: int = 0
    tags: Mapping[str, str] = field(default_factory=dict)


class Guardian(pulumi.ComponentResource):
    function: aws.lambda_.Function
    role: aws.iam.Role
    topic: aws.sns.Topic
    state_parameter: aws.ssm.Parameter
    record_parameter: aws.ssm.Parameter
    decision_log_parameter: aws.ssm.Parameter
    rule: aws.cloudwatch.EventRule
    schedule: aws.cloudwatch.EventRule

    def __init__(self, name: str, args: GuardianArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        if not 0 <= args.reserved_concurrency <= MAX_GUARDIAN_RESERVED_CONCURRENCY:
            raise ValueError(
                f"reserved_concurrency must be from 0 (none) to {MAX_GUARDIAN_RESERVED_CONCURRENCY}, "
                f"got {args.reserved_concurrency}"
            )
        super().__init__(type_token("Guardian"), name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = {**args.tags}
        self.topic = aws.sns.Topic(f"{name}-topic", tags=tags, opts=child)
        for index, endpoint in enumerate(args.subscriptions):
            aws.sns.TopicSubscription(
                f"{name}-subscription-{index}",
                topic=self.topic.arn,
                protocol="https" if endpoint.startswith("https://") else "email",
                endpoint=endpoint,
                opts=child,
            )
        self.state_parameter = aws.ssm.Parameter(
            f"{name}-state",
            name=f"{args.parameter_prefix}/guardian-state",
            type="String",
            tier="Standard",
            value=args.state,
            description="bluegreen: what the guardian reads (written by every pulumi up)",
            tags=tags,
            opts=child,
        )
        # Written by others: the guardian's record by the guardian, and the decision log (`bluegreen.decisions`,
        # one version per record) by the release tool.
        self.record_parameter = self._written_elsewhere(
            f"{name}-record", f"{args.parameter_prefix}/guardian-record", "the guardian's last decision record", tags
        )
        self.decision_log_parameter = self._written_elsewhere(
            f"{name}-decisions",
            f"{args.parameter_prefix}/decisions",
            "the release tool's decision log (switch, bake, rollback)",
            tags,
        )
        self.role = aws.iam.Role(
            f"{name}-role",
            assume_role_policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "lambda.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            ),
            tags=tags,
            opts=child,
        )
        log_group = aws.cloudwatch.LogGroup(f"{name}-logs", retention_in_days=30, tags=tags, opts=child)
        aws.iam.RolePolicy(
            f"{name}-policy",
            role=self.role.id,
            policy=pulumi.Output.all(
                args.listener_arn,
                self.state_parameter.arn,
                self.record_parameter.arn,
                self.topic.arn,
                log_group.arn,
                *(args.release_health_alarm_arns[c] for c in COLORS),
            ).apply(lambda values: json.dumps(guardian_policy(*values[:5], alarm_arns=values[5:]))),
            opts=child,
        )
        self.function = aws.lambda_.Function(
            f"{name}-function",
            runtime=RUNTIME,
            handler=HANDLER,
            code=archive(),
            role=self.role.arn,
            timeout=TIMEOUT_SECONDS,
            memory_size=128,
            # Unset is the provider's -1, "removes any concurrency limitations" (pulumi-aws lambda.Function): an
            # update from a reservation calls DeleteFunctionConcurrency (terraform-provider-aws function.go, which
            # puts values >= 0 and deletes otherwise), which the deploy role may. 0 would stop every invocation.
            reserved_concurrent_executions=args.reserved_concurrency or None,
            logging_config={"log_format": "Text", "log_group": log_group.name},
            environment={
                "variables": {
                    "BLUEGREEN_STATE_PARAMETER": self.state_parameter.name,
                    "BLUEGREEN_RECORD_PARAMETER": self.record_parameter.name,
                    "BLUEGREEN_TOPIC_ARN": self.topic.arn,
                }
            },
            tags=tags,
            opts=child,
        )
        names = [args.release_health_alarms[c] for c in COLORS]
        self.rule = aws.cloudwatch.EventRule(
            f"{name}-alarm",
            description="bluegreen: a colour's release-health alarm goes to ALARM",
            event_pattern=pulumi.Output.all(*names).apply(
                lambda alarms: json.dumps(
                    {
                        "source": ["aws.cloudwatch"],
                        "detail-type": ["CloudWatch Alarm State Change"],
                        "detail": {"alarmName": list(alarms), "state": {"value": ["ALARM"]}},
                    }
                )
            ),
            tags=tags,
            opts=child,
        )
        # A look every minute: the handler reads both alarms and acts as on their event while the target is armed,
        # and returns after one read of its state otherwise. Always enabled, so a flip (which arms the target)
        # changes no rule: the flip stays the listener, the gate and the state the handler reads.
        self.schedule = aws.cloudwatch.EventRule(
            f"{name}-schedule",
            description="bluegreen: the guardian looks again every minute; it acts only while its target is armed",
            schedule_expression=SCHEDULE,
            state="ENABLED",
            tags=tags,
            opts=child,
        )
        for role, rule in (("", self.rule), ("-schedule", self.schedule)):
            aws.lambda_.Permission(
                f"{name}-invoke{role}",
                action="lambda:InvokeFunction",
                function=self.function.name,
                principal="events.amazonaws.com",
                source_arn=rule.arn,
                opts=child,
            )
            aws.cloudwatch.EventTarget(f"{name}-target{role}", rule=rule.name, arn=self.function.arn, opts=child)
        self.register_outputs({"functionName": self.function.name, "topicArn": self.topic.arn})

    def _written_elsewhere(self, logical: str, parameter: str, what: str, tags: Mapping[str, str]) -> aws.ssm.Parameter:
        """A parameter the program only creates (as `{}`) and never writes back: its value is someone else's."""
        return aws.ssm.Parameter(
            logical,
            name=parameter,
            type="String",
            tier="Standard",
            value="{}",
            description=f"bluegreen: {what}",
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["value"]),
        )


def guardian_policy(
    listener_arn: str,
    state_arn: str,
    record_arn: str,
    topic_arn: str,
    log_group_arn: str,
    *,
    alarm_arns: Sequence[str],
) -> dict[str, Any]:
    """The guardian's permissions: write this listener only, read its state and its alarms, read and write its
    record and its claim and handled parameters, publish to its topic, log to its group. The ELB describes
    support no resource-level permissions (Service Authorization Reference, Elastic Load Balancing V2), so they
    are on `*`; DescribeAlarms takes alarm ARNs (Service Authorization Reference, Amazon CloudWatch)."""
    own = [record_arn, f"{record_arn}-claim-*", f"{record_arn}-handled-*"]
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "FlipThisListenerOnly", "Effect": "Allow", "Action": "elasticloadbalancing:ModifyListener",
             "Resource": listener_arn},
            {"Sid": "ReadTraffic", "Effect": "Allow",
             "Action": ["elasticloadbalancing:DescribeListeners", "elasticloadbalancing:DescribeTargetHealth"],
             "Resource": "*"},
            {"Sid": "ReadAlarms", "Effect": "Allow", "Action": "cloudwatch:DescribeAlarms",
             "Resource": list(alarm_arns)},
            {"Sid": "ReadState", "Effect": "Allow", "Action": "ssm:GetParameter", "Resource": [state_arn, *own]},
            {"Sid": "WriteRecord", "Effect": "Allow", "Action": "ssm:PutParameter", "Resource": own},
            {"Sid": "Notify", "Effect": "Allow", "Action": "sns:Publish", "Resource": topic_arn},
            {"Sid": "Log", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
             "Resource": f"{log_group_arn}:*"},
        ],
    }  # fmt: skip
