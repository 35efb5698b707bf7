"""The one reader of stack outputs, by the names in `bluegreen.contract.Outputs` (docs/reference/outputs.md).

`DeployedState` is what the release guard, the CI summary and the release tool compare new config
against; `StackOutputs` adds the resource names the tool acts on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi

from bluegreen.contract import COLORS, Color, Outputs
from bluegreen.errors import OutputError, UsageError
from bluegreen.release_spec import ReleaseSpec
from bluegreen.rollback_target import RollbackTarget


class IncompleteDeployedStateError(pulumi.RunError):
    """The stack has outputs, but not the ones the guard compares against: fail closed.

    A `pulumi.RunError`: the language host prints the message alone, without a traceback.
    """


# `pulumi refresh` cannot restore outputs (it reads resources, it does not run the program); only an
# update that runs to the end exports them again.
RECOVERY = (
    "Outputs are written only by an update that finishes, and `pulumi refresh` does not restore them. Find "
    "which colour the production listener sends traffic to (AWS console, or `aws elbv2 describe-listeners`), "
    "set activeColor to it, and run one `pulumi up` with allowLiveRelease=true, which exports the outputs "
    "again; then set allowLiveRelease back to false"
)

GUARD_KEYS = (
    Outputs.ACTIVE_COLOR.name(),
    *(output.name(c) for c in COLORS for output in (Outputs.RELEASE, Outputs.IMAGE_ID, Outputs.WEIGHT)),
)


def _flag(value: Any) -> bool:
    """An output boolean: JSON true/false, or the strings the CLI prints for them."""
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


@dataclass(frozen=True)
class DeployedState:
    """What the last successful update exported."""

    active_color: Color
    weights: Mapping[Color, int]
    releases: Mapping[Color, str]
    image_ids: Mapping[Color, str]
    idle_scaled_down: bool
    # Each colour's boot script fingerprint; "" (the demo app) where an older program exported none.
    boot_scripts: Mapping[Color, str] = field(default_factory=lambda: dict.fromkeys(COLORS, ""))
    # The shared database's schema and what each colour's release supports; None where not exported.
    database_schema_version: int | None = None
    schema_versions: Mapping[Color, tuple[int, ...]] | None = None
    # Each colour's deployed release spec (`bluegreen.release_spec`); None where not exported.
    specs: Mapping[Color, ReleaseSpec] | None = None
    rollback_target: RollbackTarget | None = None  # recorded at the last flip
    # The state the last update wrote for the guardian, and where the guardian writes its record.
    guardian_state_id: str | None = None
    guardian_record_parameter: str | None = None
    # How many updates moved traffic (`bluegreen.guardian_state.deployment_generation`); None before it was exported.
    guardian_generation: int | None = None
    # Where the instances ran: "private" or "public"; None for a stack deployed before it was exported.
    instance_subnet_tier: str | None = None
    # The subnets an existing VPC's instances ran in (`[]`: a created VPC); None for a stack deployed before
    # they were exported.
    instance_subnet_ids: tuple[str, ...] | None = None
    # The zones a created VPC's subnets are in, pinned (`[]`: an existing VPC); None for a stack deployed
    # before they were exported.
    availability_zones: tuple[str, ...] | None = None
    # The preview token the last update exported (a secret: kept out of repr). While it differs from the
    # token this update makes, the preview rules accept both (bluegreen.preview_token).
    preview_token: str | None = field(default=None, repr=False)
    # The one-update overrides the last update ran with (`bluegreen.safety`); None where not exported.
    emergency_overrides: Mapping[str, Any] | None = None

    @staticmethod
    def from_outputs(outputs: Mapping[str, Any]) -> DeployedState | None:
        """None on the first deploy (the stack has no outputs at all); raises when the guard's are missing.

        A stack that has outputs but none of the guard's keys (written by another program, or an
        older version of this one) is not a first deploy: it fails closed like a partial set.
        """
        if not outputs:
            return None
        active_key = Outputs.ACTIVE_COLOR.name()
        missing = [key for key in GUARD_KEYS if outputs.get(key) is None]
        bad = [key for key in map(Outputs.WEIGHT.name, COLORS) if key not in missing and not _is_int(outputs[key])]
        version = outputs.get(Outputs.DATABASE_SCHEMA_VERSION.name())
        if version is not None and not _is_int(version):
            bad.append(Outputs.DATABASE_SCHEMA_VERSION.name())
        listed = {c: outputs.get(Outputs.SCHEMA_VERSIONS.name(c)) for c in COLORS}
        specs: dict[Color, ReleaseSpec] = {}
        for c in COLORS:
            key = Outputs.SPEC.name(c)
            try:
                specs[c] = ReleaseSpec.from_output(outputs[key])
            except KeyError:
                pass
            except ValueError as error:
                bad.append(f"{key} ({error})")
        target: RollbackTarget | None = None
        try:
            target = RollbackTarget.from_output(outputs.get(Outputs.ROLLBACK_TARGET.name()))
        except ValueError as error:
            bad.append(f"{Outputs.ROLLBACK_TARGET.name()} ({error})")
        if len(specs) == 1:
            bad.append(f"{Outputs.SPEC.name(next(c for c in COLORS if c not in specs))} (the other colour has one)")
        bad += [Outputs.SCHEMA_VERSIONS.name(c) for c, v in listed.items() if v is not None and not _int_list(v)]
        subnets = outputs.get(Outputs.INSTANCE_SUBNET_IDS.name())
        if subnets is not None and not (subnets == [] or _zone_list(subnets)):
            bad.append(f"{Outputs.INSTANCE_SUBNET_IDS.name()} (not a list of subnet ids: {subnets!r})")
        zones = outputs.get(Outputs.AVAILABILITY_ZONES.name())
        if zones is not None and not _zone_list(zones):
            bad.append(f"{Outputs.AVAILABILITY_ZONES.name()} (not two zone names, nor none: {zones!r})")
        active = outputs.get(active_key)
        if missing or bad or active not in COLORS:
            raise IncompleteDeployedStateError(
                f"release guard cannot read the last deployment: stack outputs "
                f"{', '.join(missing + bad) or active_key} are missing or invalid ({active_key}={active!r}), so it "
                f"cannot tell which colour serves traffic. {RECOVERY}"
            )
        color: Color = "green" if active == "green" else "blue"
        return DeployedState(
            active_color=color,
            weights={c: int(outputs[Outputs.WEIGHT.name(c)]) for c in COLORS},
            releases={c: str(outputs[Outputs.RELEASE.name(c)]) for c in COLORS},
            image_ids={c: str(outputs[Outputs.IMAGE_ID.name(c)]) for c in COLORS},
            idle_scaled_down=_flag(outputs.get(Outputs.IDLE_SCALED_DOWN.name(), False)),
            boot_scripts={c: str(outputs.get(Outputs.BOOT_SCRIPT_HASH.name(c)) or "") for c in COLORS},
            database_schema_version=None if version is None else int(version),
            schema_versions=None
            if any(v is None for v in listed.values())
            else {c: tuple(int(x) for x in listed[c] or ()) for c in COLORS},
            specs=specs if len(specs) == len(COLORS) else None,
            rollback_target=target,
            guardian_state_id=_text(outputs.get(Outputs.GUARDIAN_STATE_ID.name())),
            guardian_record_parameter=_text(outputs.get(Outputs.GUARDIAN_RECORD_PARAMETER.name())),
            guardian_generation=_generation(outputs.get(Outputs.GUARDIAN_GENERATION.name())),
            instance_subnet_tier=_text(outputs.get(Outputs.INSTANCE_SUBNET_TIER.name())),
            instance_subnet_ids=None if subnets is None else tuple(subnets),
            availability_zones=None if zones is None else tuple(zones),
            preview_token=_text(outputs.get(Outputs.PREVIEW_TOKEN.name())),
            emergency_overrides=_mapping(outputs.get(Outputs.EMERGENCY_OVERRIDES.name())),
        )


def _generation(value: Any) -> int | None:
    return int(value) if _is_int(value) and int(value) >= 0 else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _mapping(value: Any) -> Mapping[str, Any] | None:
    return value if isinstance(value, Mapping) else None


def _zone_list(value: Any) -> bool:
    """What the program exports: a created VPC's two distinct zones, or none (vpcId). Any other count would move
    the subnets it pins: one zone deletes a subnet the ALB and the live colour sit in, a repeat replaces one."""
    return (
        isinstance(value, list)
        and all(isinstance(v, str) and v for v in value)
        and len(value) in (0, 2)
        and len(set(value)) == len(value)
    )


def _int_list(value: Any) -> bool:
    return isinstance(value, list) and all(_is_int(v) for v in value)


def _is_int(value: Any) -> bool:
    try:
        int(value)
    except (TypeError, ValueError):
        return False
    return not isinstance(value, bool)


@dataclass(frozen=True)
class StackOutputs:
    raw: Mapping[str, Any]

    def _str(self, key: str) -> str:
        value = self.raw.get(key)
        if value is None or value == "":
            raise OutputError(key, "is missing")
        if not isinstance(value, str):
            raise OutputError(key, f"should be a string, got {type(value).__name__}")
        return value

    def _optional_str(self, key: str) -> str:
        value = self.raw.get(key, "")
        return value if isinstance(value, str) else str(value)

    @property
    def url(self) -> str:
        return self._str(Outputs.URL.name())

    @property
    def active_color(self) -> str:
        """The colour the last update made live (output activeColor)."""
        value = self._str(Outputs.ACTIVE_COLOR.name())
        if value not in COLORS:
            raise OutputError(Outputs.ACTIVE_COLOR.name(), f"should be blue or green, got {value!r}")
        return value

    def weight(self, color: str) -> int:
        """The colour's deployed listener weight (output <colour>Weight); 0 when absent."""
        key = Outputs.WEIGHT.name(color)
        value = self.raw.get(key, 0)
        try:
            return int(value)
        except (TypeError, ValueError):
            raise OutputError(key, f"should be an integer, got {value!r}") from None

    @property
    def listener_arn(self) -> str:
        return self._str(Outputs.LISTENER_ARN.name())

    def target_group_arn(self, color: str) -> str:
        return self._str(Outputs.TARGET_GROUP_ARN.name(color))

    def asg_name(self, color: str) -> str:
        return self._str(Outputs.ASG_NAME.name(color))

    def release(self, color: str) -> str:
        return self._optional_str(Outputs.RELEASE.name(color))

    def image_id(self, color: str) -> str:
        return self._optional_str(Outputs.IMAGE_ID.name(color))

    def user_data_hash(self, color: str) -> str:
        return self._optional_str(Outputs.USER_DATA_HASH.name(color))

    def spec_fingerprint(self, color: str) -> str:
        """The fingerprint of the colour's deployed release spec; "" where the outputs carry none."""
        value = self.raw.get(Outputs.SPEC.name(color))
        fingerprint = value.get("fingerprint") if isinstance(value, Mapping) else None
        return fingerprint if isinstance(fingerprint, str) else ""

    def alarm_names(self, color: str) -> list[str]:
        key = Outputs.ALARM_NAMES.name(color)
        value = self.raw.get(key)
        if value is None:
            raise OutputError(key, "is missing")
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise OutputError(key, "should be a list of alarm names")
        return list(value)

    @property
    def guardian_record_parameter(self) -> str | None:
        """Where the guardian writes its decision record; None for a stack deployed without one."""
        return _text(self.raw.get(Outputs.GUARDIAN_RECORD_PARAMETER.name()))

    @property
    def allow_insecure_preview(self) -> bool:
        """Whether the preview route was deployed over plain HTTP on purpose; False when not exported."""
        return self.raw.get(Outputs.ALLOW_INSECURE_PREVIEW.name()) is True

    @property
    def decision_log_parameter(self) -> str | None:
        """Where the release tool appends its decision records; None for a stack deployed without one."""
        return _text(self.raw.get(Outputs.DECISION_LOG_PARAMETER.name()))

    @property
    def guardian_state_id(self) -> str | None:
        """The id of the state the last update wrote for the guardian; its records name it."""
        return _text(self.raw.get(Outputs.GUARDIAN_STATE_ID.name()))

    @property
    def guardian_generation(self) -> int | None:
        """The generation of the state the last update wrote for the guardian; None where not exported."""
        return _generation(self.raw.get(Outputs.GUARDIAN_GENERATION.name()))

    @property
    def preview_color_header(self) -> str:
        return self._str(Outputs.PREVIEW_COLOR_HEADER.name())

    @property
    def preview_token_header(self) -> str:
        return self._str(Outputs.PREVIEW_TOKEN_HEADER.name())

    @property
    def preview_token(self) -> str:
        return self._str(Outputs.PREVIEW_TOKEN.name())

    def deployed(self) -> DeployedState | None:
        """The deployed state the release guard reads (None before the first deploy)."""
        try:
            return DeployedState.from_outputs(self.raw)
        except IncompleteDeployedStateError as error:
            raise UsageError(str(error)) from None

    def region(self) -> str:
        """The region, taken from the listener ARN (arn:aws:elasticloadbalancing:REGION:...)."""
        parts = self.listener_arn.split(":")
        if len(parts) < 6 or not parts[3]:
            raise OutputError(Outputs.LISTENER_ARN.name(), f"is not an ARN with a region: {self.listener_arn!r}")
        return parts[3]

    def color_of_target_group(self, arn: str) -> str | None:
        for color in COLORS:
            if self.raw.get(Outputs.TARGET_GROUP_ARN.name(color)) == arn:
                return color
        return None
