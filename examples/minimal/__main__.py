"""The whole stack from this stack's `bluegreen:` config; a key it does not set takes its default.

pulumi config set aws:region eu-west-1
pulumi config set bluegreen:certificateArn arn:aws:acm:...  # or bluegreen:allowInsecurePreview true in a sandbox
pulumi config set bluegreen:publicHostname app.example.com  # with a certificate: a name it covers
pulumi config set bluegreen:greenRelease v2     # stage v2 on the idle colour
pulumi config set bluegreen:activeColor green   # the flip; set it back to roll back
"""

from bluegreen.program import main

main()
