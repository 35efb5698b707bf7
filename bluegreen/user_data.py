"""Boot script for the built-in demo app: serves the release and a health page on the app port.

Point `blueImageId`/`greenImageId` at your own AMI that runs your app on `appPort`; the script
only starts the demo server when nothing else listens there.
"""

from __future__ import annotations

import base64
import json
import shlex


def demo_user_data(release: str, app_port: int, health_path: str) -> str:
    """Base64 user data; depends only on the release and the shared spec, never on the colour."""
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
    return base64.b64encode(script.encode()).decode()
