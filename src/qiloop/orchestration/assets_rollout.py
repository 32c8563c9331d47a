"""The last step of a turn as an asset: a canary rollout of the version approved in the turn."""

import time
from collections.abc import Iterator

import dagster as dg
from pydantic import Field

from qiloop.orchestration.assets_model import model_version
from qiloop.orchestration.history import latest_metadata
from qiloop.orchestration.policies import GROUP, NETWORK_RETRY
from qiloop.orchestration.resources import FleetResource, RegistryResource


class RolloutConfig(dg.Config):
    """Which version goes out and whether a group no device joined yet is accepted."""

    ref: str | None = Field(
        default=None, description="NAME/VERSION; unset: the version the model_version step approved, if any."
    )
    allow_new_target: bool = Field(default=False, description="Record it for a group no device has joined yet.")


@dg.asset(
    group_name=GROUP,
    deps=[model_version],
    retry_policy=NETWORK_RETRY,
    output_required=False,
    description="A signed canary rollout of the newly approved version to its device group (canaries first, the "
    "rest after the soak, rolled back on failure), carried out by the running fleet controller. Nothing is rolled "
    "out when the version step approved nothing (the candidate did not beat production).",
    kinds={"mqtt"},
)
def rollout(
    context: dg.AssetExecutionContext, config: RolloutConfig, registry: RegistryResource, fleet: FleetResource
) -> Iterator[dg.MaterializeResult]:
    from qiloop.loop.deploy import deploy_version, outcome_of, wait_for_rollout

    started = time.perf_counter()
    ref = config.ref
    if ref is None:
        version = latest_metadata(context.instance, "model_version")
        if not version.get("approved"):
            context.log.info(f"nothing new to roll out: {version.get('reason') or 'no version was approved'}")
            return
        ref = str(version["ref"])
    models, controller = registry.open(), fleet.open()
    target = fleet.target()
    recorded = deploy_version(
        controller, models, target, ref, policy=fleet.policy(), allow_new_target=config.allow_new_target
    )
    context.log.info(f"rollout {recorded.id} of {ref} to {target} recorded (canaries: {fleet.canary})")
    outcome = (
        wait_for_rollout(controller.db, recorded.id, timeout=fleet.wait_s) if fleet.wait_s > 0 else outcome_of(recorded)
    )
    metadata = {
        **outcome.metadata(),
        "version": int(ref.rsplit("/", 1)[1]) if "/" in ref else -1,
        "seconds": round(time.perf_counter() - started, 2),
        "rollout_id": outcome.id,
        "phase": outcome.phase,
        "target": outcome.target,
    }
    if outcome.ended and not outcome.succeeded:
        raise dg.Failure(
            description=f"rollout {outcome.id} of {ref} {outcome.phase}: {outcome.reason}", metadata=metadata
        )
    yield dg.MaterializeResult(metadata=metadata)
