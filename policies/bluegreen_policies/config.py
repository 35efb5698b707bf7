"""Reading policy config with the defaults declared in each policy's `PolicyConfigSchema`."""

from __future__ import annotations

from typing import Any

from pulumi_policy import PolicyConfigSchema, ResourceValidationArgs, StackValidationArgs


def setting(args: StackValidationArgs | ResourceValidationArgs, schema: PolicyConfigSchema, key: str) -> Any:
    """The configured value of `key`, or the schema's default when the engine sent none."""
    value = args.get_config().get(key)
    return schema.properties[key]["default"] if value is None else value
