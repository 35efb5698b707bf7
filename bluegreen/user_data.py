"""Each colour's boot script (EC2 user data): your own template, or the built-in demo app.

A template is rendered with its colour's release: `{{release}}`, `{{appPort}}` and
`{{healthCheckPath}}` are replaced, and any other `{{name}}` is refused when config is read. The
colour itself is not a variable: both colours must boot the same way, differing only by release.

The demo app serves the release and a health page on the app port. It starts only when nothing
else listens there, so an AMI that runs your app on `appPort` needs no script of its own.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shlex

# EC2 RunInstances: "User data is limited to 16 KB, in raw form, before it is base64-encoded."
MAX_USER_DATA_BYTES = 16 * 1024
BOOT_SCRIPT_VARIABLES = ("release", "appPort", "healthCheckPath")
PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z][A-Za-z0-9]*)\s*\}\}")


def unknown_placeholders(template: str) -> list[str]:
    """The `{{name}}` placeholders of `template` that are not BOOT_SCRIPT_VARIABLES, in order."""
    seen = [m.group(0) for m in PLACEHOLDER.finditer(template) if m.group(1) not in BOOT_SCRIPT_VARIABLES]
    return list(dict.fromkeys(seen))


def render_user_data(template: str, release: str, app_port: int, health_path: str) -> str:
    """The raw boot script: `template` rendered for `release`, or the demo app when it is empty."""
    if not template:
        return demo_script(release, app_port, health_path)
    values = {"release": release, "appPort": str(app_port), "healthCheckPath": health_path}
    return PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template)


def boot_script_fingerprint(template: str) -> str:
    """What the release guard compares: SHA-256 of the template, "" for the demo app."""
    return hashlib.sha256(template.encode()).hexdigest() if template else ""


def user_data(template: str, release: str, app_port: int, health_path: str) -> str:
    """Base64 user data for the launch template; depends on the release and the shared spec only."""
    return base64.b64encode(render_user_data(template, release, app_port, health_path).encode()).decode()


def demo_script(release: str, app_port: int, health_path: str) -> str:
    """The demo app's boot script."""
    health_file = health_path.lstrip("/") or "index.html"
    if health_file.endswith("/"):
        health_file += "index.html"
    version = json.dumps({"release": release})
    script = f"""#!/bin/bash
set -euo pipefail
if ss -ltn | grep -q ':{app_port} '; then exit 0; fi
root=/opt/bluegreen/www
mkdir -p "$root" "$(dirname "$root"/{shlex.quote(health_file)})"
printf '%s\\n' {shlex.quote(version)} > "$root/version"
printf 'ok\\n' > "$root"/{shlex.quote(health_file)}
printf '<h1>bluegreen</h1><p>release %s</p>\\n' {shlex.quote(release)} > "$root/index.html"
cat > /etc/systemd/system/bluegreen-demo.service <<'UNIT'
[Unit]
Description=bluegreen demo app
After=network-online.target
[Service]
ExecStart=/usr/bin/python3 -m http.server {app_port} --directory /opt/bluegreen/www
Restart=always
DynamicUser=yes
AmbientCapabilities=CAP_NET_BIND_SERVICE
[Install]
WantedBy=multi-user.target
UNIT
systemctl daemon-reload
systemctl enable --now bluegreen-demo.service
"""
    return script
