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
    # A created VPC's two zones, as `network_zones` resolved them (the deployed ones, pinned); empty: the first
    # two available zones that offer every one of `instance_types`.
    availability_zones: Sequence[str] = ()
    tags: Mapping[str, str] = field(default_factory=dict)
    # A created VPC: instances in private subnets behind one NAT gateway, or (False) in the public subnets
    # with public IPs. An existing VPC's instances are always private.
    private_instances: bool = True


class ZoneError(pulumi.RunError):
    """An instance type the stack's zones do not offer. A `pulumi.RunError`: the message alone, no traceback."""


def _offered(instance_type: str, opts: pulumi.InvokeOptions | None) -> set[str]:
    """The zones of the provider's region that offer `instance_type` (DescribeInstanceTypeOfferings)."""
    return set(
        aws.ec2.get_instance_type_offerings(
            location_type="availability-zone",
            filters=[{"name": "instance-type", "values": [instance_type]}],
            opts=opts,
        ).locations
    )


def network_zones(
    instance_types: Sequence[str], pinned: Sequence[str] = (), opts: pulumi.InvokeOptions | None = None
) -> list[str]:
    """A created VPC's two zones: `pinned` (the zones it was deployed with) when given, else the first two
    available zones that offer every one of `instance_types`.

    Pinned zones never move: a subnet's zone forces its replacement, a replacement with the same CIDR cannot
    be created while the old subnet exists (InvalidSubnet.Conflict, pulumi/pulumi-awsx#520 and #910), and the
    ALB and the live colour's instances sit in those subnets. An instance type a pinned zone does not offer is
    refused, naming the zone.
    """
    if not pinned:
        return _zones_offering(instance_types, opts)
    for instance_type in instance_types:
        offered = _offered(instance_type, opts)
        missing = [zone for zone in pinned if zone not in offered]
        if missing:
            raise ZoneError(
                f"instanceType {instance_type} is not offered in {' and '.join(missing)}, and this stack's subnets are "
                f"pinned to {' and '.join(pinned)} (stack output availabilityZones): moving a subnet to another zone "
                "replaces it, and the ALB and the live colour with it. Choose an instance type offered in "
                f"{' and '.join(pinned)}"
            )
    return list(pinned)


def _zones_offering(instance_types: Sequence[str], opts: pulumi.InvokeOptions | None) -> list[str]:
    """Two available zones that offer every one of `instance_types`: not every zone has every type."""
    available = aws.get_availability_zones(state="available", opts=opts).names
    zones = list(available)
    for instance_type in instance_types:
        offered = _offered(instance_type, opts)
        zones = [zone for zone in zones if zone in offered]
    if len(zones) < 2:
        types = " and ".join(instance_types)
        raise pulumi.RunError(
            f"instanceType {types} is offered in {len(zones)} available zone(s) of this region "
            f"({', '.join(zones) or 'none'}); the ALB needs two. Choose an instance type offered in two zones"
        )
    return zones[:2]


class Network(pulumi.ComponentResource):
    """Exposes `vpc_id`, `alb_subnet_ids`, `instance_subnet_ids`, `instance_subnet_tier` and `availability_zones`.

    A created VPC has two public subnets for the ALB. With `private_instances` (the default) it also has
    two private subnets for the instances, whose outbound traffic leaves through one NAT gateway in the
    first public subnet: about 32 USD a month plus data processing, and outbound only depends on that
    zone (the ALB reaches instances in both zones without it). Without it the instances sit in the public
    subnets with public IPs; the security groups still admit only the ALB. Instances in an existing VPC
    are treated as private and never get a public IP.
    """

    # What an instance's boot needs before its ASG waits for it: its default route (NAT or internet).
    egress_ready: list[pulumi.Resource]
    # What an internet-facing ALB needs before it is created: the created VPC's internet gateway, which
    # `InternetGateway(vpc_id=...)` attaches as part of its create. Empty for an existing VPC.
    alb_ready: list[pulumi.Resource]

    vpc_id: pulumi.Output[str]
    alb_subnet_ids: pulumi.Output[list[str]]
    instance_subnet_ids: pulumi.Output[list[str]]
    instance_subnet_tier: str
    # A created VPC's two zones (exported as availabilityZones and pinned from then on); [] for an existing VPC.
    availability_zones: list[str]

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(type_token("Network"), name, None, opts)
        self.egress_ready = []
        self.alb_ready = []
        self.availability_zones = []
        if args.vpc_id:
            self.vpc_id = pulumi.Output.from_input(args.vpc_id)
            self.alb_subnet_ids = pulumi.Output.from_input(list(args.subnet_ids))
            self.instance_subnet_ids = pulumi.Output.from_input(list(args.instance_subnet_ids or args.subnet_ids))
            self.instance_subnet_tier = "private"
        else:
            self._create(name, args)
            self.instance_subnet_tier = "private" if args.private_instances else "public"
        self.register_outputs({"vpcId": self.vpc_id, "albSubnetIds": self.alb_subnet_ids})

    def _create(self, name: str, args: NetworkArgs) -> None:
        child = pulumi.ResourceOptions(parent=self)
        zones = list(args.availability_zones) or _zones_offering(args.instance_types, pulumi.InvokeOptions(parent=self))
        self.availability_zones = zones
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
        public_route = aws.ec2.Route(
            f"{name}-route", route_table_id=table.id, destination_cidr_block="0.0.0.0/0", gateway_id=igw.id, opts=child
        )
        self.egress_ready = [public_route]
        # ELB refuses an internet-facing load balancer in a VPC without an attached gateway ("InvalidSubnet: VPC
        # ... has no internet gateway"), and nothing else orders the two (CloudFormation user guide, DependsOn
        # attribute; terraform-provider-aws PRs #3494 and #4587 added this dependency to their tests).
        self.alb_ready = [igw]
        subnets = self._subnets(name, args, vpc, zones, table, tier="public")
        self.vpc_id = vpc.id
        self.alb_subnet_ids = pulumi.Output.all(*[s.id for s in subnets]).apply(list)
        self.instance_subnet_ids = self.alb_subnet_ids
        if args.private_instances:
            self._private(name, args, vpc, zones, nat_subnet=subnets[0], igw=igw)

    def _private(
        self,
        name: str,
        args: NetworkArgs,
        vpc: aws.ec2.Vpc,
        zones: Sequence[str],
        *,
        nat_subnet: aws.ec2.Subnet,
        igw: aws.ec2.InternetGateway,
    ) -> None:
        """Two private subnets (the VPC's third and fourth /+4 blocks) routed through one NAT gateway."""
        child = pulumi.ResourceOptions(parent=self)
        address = aws.ec2.Eip(
            f"{name}-nat-eip", domain="vpc", tags={**args.tags, "Name": f"{name}-nat-eip"}, opts=child
        )
        # A NAT gateway needs the VPC's internet gateway attached before it can route (EC2 API reference,
        # CreateNatGateway; the terraform-provider-aws example depends on it too).
        nat = aws.ec2.NatGateway(
            f"{name}-nat",
            allocation_id=address.allocation_id,
            subnet_id=nat_subnet.id,
            connectivity_type="public",
            tags={**args.tags, "Name": f"{name}-nat"},
            # Its Elastic IP can be attached to one gateway only: a replacement must delete the old one first.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[igw], delete_before_replace=True),
        )
        table = aws.ec2.RouteTable(
            f"{name}-private-rt", vpc_id=vpc.id, tags={**args.tags, "Name": f"{name}-private-rt"}, opts=child
        )
        route = aws.ec2.Route(
            f"{name}-private-route",
            route_table_id=table.id,
            destination_cidr_block="0.0.0.0/0",
            nat_gateway_id=nat.id,
            opts=child,
        )
        subnets = self._subnets(name, args, vpc, zones, table, tier="private")
        self.egress_ready.append(route)
        self.instance_subnet_ids = pulumi.Output.all(*[s.id for s in subnets]).apply(list)

    def _subnets(
        self,
        name: str,
        args: NetworkArgs,
        vpc: aws.ec2.Vpc,
        zones: Sequence[str],
        table: aws.ec2.RouteTable,
        *,
        tier: str,
    ) -> list[aws.ec2.Subnet]:
        """One subnet per zone on `table`: public ones take the VPC's first /+4 blocks (`-subnet-<i>`, as a
        created VPC always had), private ones the next (`-private-subnet-<i>`). Their associations are part
        of the instances' way out (`egress_ready`)."""
        child = pulumi.ResourceOptions(parent=self)
        prefix, first = ("", 0) if tier == "public" else (f"{tier}-", len(zones))
        subnets = []
        for index, zone in enumerate(zones):
            subnet = aws.ec2.Subnet(
                f"{name}-{prefix}subnet-{index}",
                vpc_id=vpc.id,
                availability_zone=zone,
                cidr_block=_nth_block(args.cidr_block, first + index),
                map_public_ip_on_launch=False,
                tags={**args.tags, "Name": f"{name}-{prefix}subnet-{index}", SUBNET_TIER_TAG: tier},
                opts=child,
            )
            association = aws.ec2.RouteTableAssociation(
                f"{name}-{prefix}rta-{index}", subnet_id=subnet.id, route_table_id=table.id, opts=child
            )
            subnets.append(subnet)
            self.egress_ready.append(association)
        return subnets


def _nth_block(cidr: str, index: int) -> str:
    """The index-th /+4 block of the VPC range (10.0.0.0/16 gives 10.0.0.0/20, 10.0.16.0/20)."""
    network = ipaddress.ip_network(cidr)
    return str(list(network.subnets(new_prefix=network.prefixlen + 4))[index])
