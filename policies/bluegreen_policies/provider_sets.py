"""The set-typed fields of the resources this pack compares, from the provider's own schema.

pulumi-aws bridges terraform-provider-aws, and Terraform stores a `schema.TypeSet` in hash order,
not in the order the program sent (pulumi-terraform-bridge#2478, closed as won't fix). Compared by
position, twins whose sets came back in different orders would look different. Every field below
is compared as a set.

Source: terraform-provider-aws, the `Type: schema.TypeSet` attributes of each resource's schema
(internal/service/elbv2/listener.go, listener_rule.go, target_group.go, load_balancer.go;
internal/service/autoscaling/group.go; internal/service/ec2/ec2_launch_template.go,
vpc_security_group.go, vpc_route_table.go; internal/service/cloudwatch/metric_alarm.go,
composite_alarm.go; internal/service/iam/role.go), written in Pulumi's input names, `*` standing
for every list index. The other resource types the program registers (the VPC's pieces, the dashboard and the
`aws:vpc/securityGroup{Ingress,Egress}Rule` resources, a plugin-framework schema of scalars) have
no set-typed field; `tests/test_policy_parity.py` checks that every type the program registers is
listed here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

SET_FIELDS: Final[Mapping[str, tuple[tuple[str, ...], ...]]] = {
    "aws:lb/listener:Listener": (("defaultActions", "*", "forward", "targetGroups"),),
    "aws:lb/listenerRule:ListenerRule": (
        ("actions", "*", "forward", "targetGroups"),
        ("conditions",),
        ("conditions", "*", "hostHeader", "values"),
        ("conditions", "*", "httpHeader", "values"),
        ("conditions", "*", "httpRequestMethod", "values"),
        ("conditions", "*", "pathPattern", "values"),
        ("conditions", "*", "queryStrings"),
        ("conditions", "*", "sourceIp", "values"),
    ),
    "aws:lb/targetGroup:TargetGroup": (("loadBalancerArns",),),
    "aws:lb/loadBalancer:LoadBalancer": (("securityGroups",), ("subnetMappings",), ("subnets",)),
    "aws:autoscaling/group:Group": (
        ("availabilityZones",),
        ("enabledMetrics",),
        ("initialLifecycleHooks",),
        ("instanceRefresh", "triggers"),
        ("loadBalancers",),
        ("suspendedProcesses",),
        ("tags",),
        ("targetGroupArns",),
        ("trafficSources",),
        ("vpcZoneIdentifiers",),
    ),
    "aws:ec2/launchTemplate:LaunchTemplate": (
        ("licenseSpecifications",),
        ("networkInterfaces", "*", "ipv4Addresses"),
        ("networkInterfaces", "*", "ipv4Prefixes"),
        ("networkInterfaces", "*", "ipv6Addresses"),
        ("networkInterfaces", "*", "ipv6Prefixes"),
        ("networkInterfaces", "*", "securityGroups"),
        ("securityGroupNames",),
        ("vpcSecurityGroupIds",),
    ),
    "aws:ec2/securityGroup:SecurityGroup": (
        ("ingress",),
        ("egress",),
        ("ingress", "*", "securityGroups"),
        ("egress", "*", "securityGroups"),
    ),
    "aws:ec2/routeTable:RouteTable": (("propagatingVgws",), ("routes",)),
    "aws:cloudwatch/metricAlarm:MetricAlarm": (
        ("alarmActions",),
        ("insufficientDataActions",),
        ("metricQueries",),
        ("okActions",),
    ),
    "aws:cloudwatch/compositeAlarm:CompositeAlarm": (
        ("alarmActions",),
        ("insufficientDataActions",),
        ("okActions",),
    ),
    # internal/service/iam/role.go: `inline_policy` and `managed_policy_arns` are TypeSet.
    "aws:iam/role:Role": (("inlinePolicies",), ("managedPolicyArns",)),
    # No set-typed fields (internal/service/iam/instance_profile.go, role_policy_attachment.go).
    "aws:iam/instanceProfile:InstanceProfile": (),
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": (),
    # No set-typed fields.
    "aws:ec2/vpc:Vpc": (),
    "aws:ec2/subnet:Subnet": (),
    "aws:ec2/internetGateway:InternetGateway": (),
    "aws:ec2/route:Route": (),
    "aws:ec2/routeTableAssociation:RouteTableAssociation": (),
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": (),
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": (),
    "aws:cloudwatch/dashboard:Dashboard": (),
    "random:index/randomPassword:RandomPassword": (),
    "pulumi-python:dynamic/bluegreen:TrafficGate": (),  # the traffic gate (bluegreen.gate): plain maps, no sets
}


def is_set_field(type_: str, path: tuple[object, ...]) -> bool:
    """Whether the list at `path` (indices as ints) is a set in the provider's schema."""
    return any(
        len(pattern) == len(path)
        and all((p == "*" and isinstance(s, int)) or p == s for p, s in zip(pattern, path, strict=True))
        for pattern in SET_FIELDS.get(type_, ())
    )


# The guardian's resources (components/guardian.py): one of each per stack, named without a colour, so
# blue-green-parity never pairs or compares them and their set fields were not looked up.
UNPAIRED_TYPES: Final = frozenset(
    {
        "aws:lambda/function:Function",
        "aws:lambda/permission:Permission",
        "aws:iam/rolePolicy:RolePolicy",
        "aws:ssm/parameter:Parameter",
        "aws:sns/topic:Topic",
        "aws:sns/topicSubscription:TopicSubscription",
        "aws:cloudwatch/eventRule:EventRule",
        "aws:cloudwatch/eventTarget:EventTarget",
        "aws:cloudwatch/logGroup:LogGroup",
    }
)
