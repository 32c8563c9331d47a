"""Dagster over the loop's use cases: assets, the gate as a blocking check, triggers, schedules, resources.

The one package that imports dagster. It holds no logic of its own: each asset
calls a use case of :mod:`qiloop.loop` (or a library function) and reports the
figures it returned as numeric metadata, so Dagster's UI plots them across turns.

- :mod:`qiloop.orchestration.definitions` — ``defs``, what ``dagster dev -m`` and
  ``dagster definitions validate -m`` load (importing it reads no settings);
- :mod:`qiloop.orchestration.inprocess` — one turn of the loop through the asset graph,
  in this process (the demo, tests).
"""
