"""Simulated workers and devices: the demo's and the tests' stand-ins for a workforce and a production line.

Never imported by services: the labelling service, the fleet and the orchestration
run the same whether a person or a bot is at the other end.

- :mod:`qiloop.sim.truth` — known truth (re-rendered synthetic boxes), label noise, quality against the truth.
- :mod:`qiloop.sim.bots` — bot workers and a bot verifier over the labelling service's HTTP API.
- :mod:`qiloop.sim.workforce` — a whole labelling job done by bots (service on a free port, gold, rounds).
- :mod:`qiloop.sim.devices` — devices (real ``qiloop agent run`` processes) on a line, with camera folders.
- :mod:`qiloop.sim.turn` — one turn of the loop with the simulated workforce and line, over ``qiloop.loop``.
- :mod:`qiloop.sim.turn_orchestrated` — the same turn, each step started by the orchestration's triggers
  (Dagster, in this process): what ``qiloop demo`` runs.
"""
