"""Where the service runs: an existing VPC from config, or a new one with two public subnets."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from bluegreen.contract import SUBNET_TIER_TAG, type_token


@dataclass(frozen=True)
class NetworkArgs:
    vpc_id: str = ""  # empty creates a VPC
    subnet_ids: Sequence[str] = ()
    instance_subnet_ids: Sequence[str] = ()
    cidr_block: str = "10.0.0.0/16"
    instance_types: Sequence[str] = ("t3.micro",)  # a created VPC's two zones must offer each
    tags: Mapping[str, str] = field(default_factory=dict)


def _zones_offering(instance_types: Sequence[str], opts: pulumi.InvokeOptions) -> list[str]:
    """Two available zones that offer every one of `instance_types`: not every zone has every type."""
    available = aws.get_availability_zones(state="available", opts=opts).names
    zones = list(available)
    for instance_type in instance_types:
        offered = set(
            aws.ec2.get_instance_type_offerings(
                location_type="availability-zone",
                filters=[{"name": "instance-type", "values": [instance_type]}],
                opts=opts,
            ).locations
        )
        zones = [zone for zone in zones if zone in offered]
    if len(zones) < 2:
        types = " and ".join(instance_types)
        raise pulumi.RunError(
            f"instanceType {types} is offered in {len(zones)} available zone(s) of this region "
            f"({', '.join(zones) or 'none'}); the ALB needs two. Choose an instance type offered in two zones"
        )
    return zones[:2]


class Network(pulumi.ComponentResource):
    """Exposes `vpc_id`, `alb_subnet_ids`, `instance_subnet_ids` and `instance_subnet_tier`.

    A created VPC has public subnets only (no NAT gateway to pay for), so its instances need a
    public IP for egress; the security groups still admit only the ALB. Instances in an existing
    VPC are treated as private and never get a public IP.
    """

    vpc_id: pulumi.Output[str]
    alb_subnet_ids: pulumi.Output[list[str]]
    instance_subnet_ids: pulumi.Output[list[str]]
    instance_subnet_tier: str

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(type_token("Network"), name, None, opts)
        if args.vpc_id:
            self.vpc_id = pulumi.Output.from_input(args.vpc_id)
            self.alb_subnet_ids = pulumi.Output.from_input(list(args.subnet_ids))
            self.instance_subnet_ids = pulumi.Output.from_input(list(args.instance_subnet_ids or args.subnet_ids))
            self.instance_subnet_tier = "private"
        else:
            self._create(name, args)
            self.instance_subnet_tier = "public"
        self.register_outputs({"vpcId": self.vpc_id, "albSubnetIds": self.alb_subnet_ids})

    def _create(self, name: str, args: NetworkArgs) -> None:
        child = pulumi.ResourceOptions(parent=self)
        zones = _zones_offering(args.instance_types, pulumi.InvokeOptions(parent=self))
        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=args.cidr_block,
            enable_dns_hostnames=True,
            enable_dns_support=True,
            tags={**args.tags, "Name": f"{name}-vpc"},
            opts=child,
        )
        igw = aws.ec2.InternetGateway(
            f"{name}-igw", vpc_id=vpc.id, tags={**args.tags, "Name": f"{name}-igw"}, opts=child
        )
        table = aws.ec2.RouteTable(f"{name}-rt", vpc_id=vpc.id, tags={**args.tags, "Name": f"{name}-rt"}, opts=child)
        aws.ec2.Route(
            f"{name}-route", route_table_id=table.id, destination_cidr_block="0.0.0.0/0", gateway_id=igw.id, opts=child
        )
        subnets = []
        for index, zone in enumerate(zones):
            subnet = aws.ec2.Subnet(
                f"{name}-subnet-{index}",
                vpc_id=vpc.id,
                availability_zone=zone,
                cidr_block=_nth_block(args.cidr_block, index),
                map_public_ip_on_launch=False,
                tags={**args.tags, "Name": f"{name}-subnet-{index}", SUBNET_TIER_TAG: "public"},
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-rta-{index}", subnet_id=subnet.id, route_table_id=table.id, opts=child
            )
            subnets.append(subnet)
        self.vpc_id = vpc.id
        self.alb_subnet_ids = pulumi.Output.all(*[s.id for s in subnets]).apply(list)
        self.instance_subnet_ids = self.alb_subnet_ids


def _nth_block(cidr: str, index: int) -> str:
    """The index-th /+4 block of the VPC range (10.0.0.0/16 gives 10.0.0.0/20, 10.0.16.0/20)."""
    network = ipaddress.ip_network(cidr)
    return str(list(network.subnets(new_prefix=network.prefixlen + 4))[index])
