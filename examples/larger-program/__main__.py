"""BlueGreenService inside a larger program: the app's DNS name points at the service's load balancer.

`deploy()` runs the same steps as the bluegreen stack (config checks, the release guard, the
image checks) and exports the outputs the release tool reads; the rest of the program uses the
component's own resources.
"""

import dataclasses

import pulumi
import pulumi_aws as aws

from bluegreen.program import deploy
from bluegreen.settings import load_settings

config = pulumi.Config()
hostname = config.require("hostname")
settings = load_settings()
settings = dataclasses.replace(settings, edge=dataclasses.replace(settings.edge, public_hostname=hostname))

web = deploy(settings, name="web")

alb = web.load_balancer.alb
aws.route53.Record(
    "web-dns",
    zone_id=config.require("hostedZoneId"),
    name=hostname,
    type="A",
    aliases=[{"name": alb.dns_name, "zone_id": alb.zone_id, "evaluate_target_health": True}],
)
pulumi.export("hostname", hostname)
