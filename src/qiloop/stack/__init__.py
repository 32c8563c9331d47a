"""The local stack of a qiloop home: its parts as child processes, their health, and the loop's state.

- :mod:`qiloop.stack.plan` — the parts (``StackOptions`` → ``StackPlan``): broker, MLflow UI, labelling
  service, fleet controller, collector, Dagster webserver and daemon.
- :mod:`qiloop.stack.supervisor` — start in stages, wait for health, watch, stop (``Supervisor``, ``Part``).
- :mod:`qiloop.stack.runner` — ``run_stack``: what ``qiloop up`` does, as a library call.
- :mod:`qiloop.stack.record` — the lock that makes ``qiloop up`` one per home, and its record ``stack/up.json``.
- :mod:`qiloop.stack.parts_health` — ``stack_health``: each recorded part, probed (``qiloop status``).
- :mod:`qiloop.stack.loop_state` — ``loop_state``: images waiting, jobs open, labels since the last training,
  production version, devices.
"""
