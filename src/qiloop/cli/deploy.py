"""``qiloop deploy``: roll components out to devices.

``qiloop deploy`` records a rollout in ``<home>/fleet.db``; the fleet controller
(``qiloop fleet serve``, which serves the component files, follows the devices'
reports and publishes the deployments) carries it out: canary first, the rest after
the soak, a roll-back when it fails.
"""

from __future__ import annotations

from typing import Annotated

import typer

from qiloop.cli.common import HomeOption, JsonOption, console, print_json, settings_for
from qiloop.cli.fleet._tables import show_rollouts

TargetOption = Annotated[
    str, typer.Option("--target", help="A group name, group:NAME or device:ID.", show_default=False)
]


def deploy(
    target: TargetOption,
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            help="Model version to deploy, e.g. scratch-detector/3 (default: production).",
            show_default=False,
        ),
    ] = None,
    inference_code: Annotated[
        bool,
        typer.Option("--inference-code", help="Deploy the inference code as installed now (with --model: both)."),
    ] = False,
    model_name: Annotated[
        str | None,
        typer.Option(
            "--model-name", help="Model the code runs with (default: the registry's default).", show_default=False
        ),
    ] = None,
    canary: Annotated[int, typer.Option("--canary", min=0, help="Devices that get it first.")] = 1,
    soak: Annotated[float, typer.Option("--soak", min=0, help="Seconds the canaries must stay healthy.")] = 30.0,
    max_failures: Annotated[
        float, typer.Option("--max-failures", min=0, max=1, help="Failed fraction of the group that aborts.")
    ] = 0.2,
    health_timeout: Annotated[
        float, typer.Option("--health-timeout", min=1, help="Seconds a phase may wait for the devices' reports.")
    ] = 120.0,
    allow_new_target: Annotated[
        bool,
        typer.Option(
            "--allow-new-target",
            help="Record the rollout even when no known device is in the target; it starts as devices join.",
        ),
    ] = False,
    settings: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            metavar="KEY=VALUE",
            help="A setting of the inference app on the target's devices, repeatable (e.g. --set "
            "feedback.sample_rate=0.2 --set threads=2): the keys of `qiloop edge run`, except what each device sets "
            "itself. They replace the target's settings; without --set the devices keep the settings of the "
            "target's last successful rollout.",
            show_default=False,
        ),
    ] = None,
    default_settings: Annotated[
        bool,
        typer.Option("--default-settings", help="Run the inference app on its defaults: drop the target's settings."),
    ] = False,
    wait: Annotated[bool, typer.Option("--wait", help="Wait until the rollout ended; exit 1 when it aborted.")] = False,
    timeout: Annotated[float, typer.Option("--timeout", help="Most seconds --wait waits.")] = 900.0,
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Roll a model version (with the current inference code) or the inference code out to a group or device.

    An unknown group or device exits 5 and lists the known ones; --allow-new-target records
    the rollout for a group whose devices have not joined yet.

    Examples: qiloop deploy --target line-1; qiloop deploy --model scratch-detector/4 --target device:cam-7;
    qiloop deploy --inference-code --target line-1 --canary 2 --soak 60 --wait;
    qiloop deploy --target line-1 --set feedback.sample_rate=0.1 (send a tenth of the confident images back too).
    Settings a device's app refuses exit 2 before anything is recorded.
    """
    from qiloop.core.deployments import RolloutPolicy
    from qiloop.core.errors import ConfigurationError, QiloopError
    from qiloop.edge.inference.config import AppConfig
    from qiloop.fleet.controller import FleetController, parse_target
    from qiloop.fleet.model_deploy import deploy_code, inference_settings
    from qiloop.loop.deploy import deploy_version
    from qiloop.registry import DEFAULT_MODEL_NAME, ModelRegistry

    if settings and default_settings:
        raise ConfigurationError("--set and --default-settings contradict each other", hint="give one of them")
    configuration = (
        inference_settings(AppConfig.deployment_settings(settings or [])) if settings or default_settings else None
    )
    config = settings_for(home)
    parsed = parse_target(target)
    policy = RolloutPolicy(canary=canary, soak_s=soak, max_failure_fraction=max_failures,
                           health_timeout_s=health_timeout)  # fmt: skip
    controller = FleetController.from_settings(config)
    if inference_code and model is None:
        rollout = deploy_code(controller, model_name or DEFAULT_MODEL_NAME, parsed, policy=policy,
                              configuration=configuration, allow_new_target=allow_new_target)  # fmt: skip
    else:
        rollout = deploy_version(controller, ModelRegistry.from_settings(config), parsed, model, policy=policy,
                                 fresh_code=inference_code, configuration=configuration,
                                 allow_new_target=allow_new_target)  # fmt: skip
    what = ", ".join(f"{c.name} {c.version}" for c in rollout.components)
    running = controller.db.controllers()
    if not json_out:
        console.print(f"rollout {rollout.id} of {what} to {parsed} recorded", highlight=False)
        if not running:
            console.print("no fleet controller is running: start `qiloop fleet serve` to carry it out", style="yellow")
    if wait:
        rollout = _wait(controller, rollout.id, timeout, quiet=json_out)
    if json_out:
        print_json(rollout.model_dump(mode="json"))
    elif wait:
        show_rollouts([rollout])
    if wait and rollout.phase.value != "SUCCEEDED":
        state = rollout.phase.value if rollout.phase.ended else f"still {rollout.phase.value} after {timeout:g} s"
        raise QiloopError(f"rollout {rollout.id} {state}: {rollout.reason}", hint="see qiloop fleet status")


def _wait(controller, rollout_id: str, timeout: float, *, quiet: bool):
    """Wait for the rollout's end with a status line that follows its phase; the Rollout as it stands."""
    import contextlib

    from qiloop.loop.deploy import wait_for_rollout

    with contextlib.nullcontext() if quiet else console.status("waiting for the rollout") as status:

        def show(rollout) -> None:
            done = sum(1 for s in rollout.outcome.values() if s == "SUCCEEDED")
            if status is not None:
                status.update(f"rollout {rollout_id[:8]}: {rollout.phase.value}, {done} device(s) succeeded")

        wait_for_rollout(controller.db, rollout_id, timeout=timeout, on_change=show)
    return controller.db.rollout(rollout_id)
