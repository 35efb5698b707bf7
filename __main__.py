"""bluegreen: read and check settings, build the service, export what operators and tools need."""

import pulumi

from bluegreen.components.router import PREVIEW_COLOR_HEADER, PREVIEW_TOKEN_HEADER
from bluegreen.components.service import BlueGreenService, BlueGreenServiceArgs
from bluegreen.contract import COLORS
from bluegreen.images import (
    ImageError,
    architecture_problems,
    default_architecture,
    describe_image,
    instance_architectures,
    latest_amazon_linux,
    root_volume_problems,
)
from bluegreen.release_guard import check_release, read_deployed_state
from bluegreen.settings import load_settings

settings = load_settings()
deployed, state_warnings = read_deployed_state(allow_incomplete=settings.allow_live_release)
architectures = instance_architectures(settings.fleet.instance_type)
guard = check_release(settings, deployed, lambda: latest_amazon_linux(default_architecture(architectures)))
described = {image: describe_image(image) for image in sorted(set(guard.image_ids.values()))}
images = {color: described[guard.image_ids[color]] for color in COLORS}
problems = [
    *architecture_problems(settings.fleet.instance_type, architectures, images),
    *root_volume_problems(settings.fleet.root_volume_size_gb, images),
]
if problems:
    raise ImageError("images refused:\n  - " + "\n  - ".join(problems))
for message in [*state_warnings, *guard.warnings]:
    pulumi.log.warn(message)
for message in guard.notes:
    pulumi.log.info(message)

service = BlueGreenService(
    "bluegreen",
    BlueGreenServiceArgs(
        settings=settings,
        image_ids=guard.image_ids,
        root_device_names={color: images[color].root_device_name for color in COLORS},
    ),
)

scheme = "https" if settings.edge.https else "http"
host = settings.edge.public_hostname
pulumi.export("url", service.load_balancer.alb.dns_name.apply(lambda dns: f"{scheme}://{host or dns}"))
pulumi.export("albDnsName", service.load_balancer.alb.dns_name)
pulumi.export("loadBalancerArn", service.load_balancer.alb.arn)
pulumi.export("activeColor", settings.traffic.active_color)
pulumi.export("idleColor", settings.traffic.idle_color)
pulumi.export("listenerArn", service.router.production_listener.arn)
pulumi.export("httpListenerArn", service.router.http_listener.arn)
for color in COLORS:
    env = service.environments[color]
    pulumi.export(f"{color}Weight", service.weights[color])
    pulumi.export(f"{color}TargetGroupArn", env.target_group.arn)
    pulumi.export(f"{color}AsgName", env.asg.name)
    pulumi.export(f"{color}Release", settings.releases[color].label)
    pulumi.export(f"{color}ImageId", guard.image_ids[color])
    pulumi.export(f"{color}UserDataHash", env.user_data_hash)
    pulumi.export(f"{color}SchemaVersions", list(settings.releases[color].schema_versions))
    pulumi.export(f"{color}AlarmNames", service.alarms[color].alarm_names)
pulumi.export("previewColorHeader", PREVIEW_COLOR_HEADER)
pulumi.export("previewTokenHeader", PREVIEW_TOKEN_HEADER)
pulumi.export("previewToken", pulumi.Output.secret(service.preview_token.result))
pulumi.export("dashboardName", service.dashboard.dashboard.dashboard_name)
pulumi.export("idleScaledDown", settings.idle_scaled_down)
pulumi.export("databaseSchemaVersion", settings.database_schema_version)
pulumi.export("bakeMinutes", settings.alarms.bake_minutes)
