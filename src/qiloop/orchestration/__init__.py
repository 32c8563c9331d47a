"""Dagster over the loop's use cases: assets, the gate as a blocking check, triggers, schedules, resources.

The one package that imports dagster. It holds no logic of its own: each asset
calls a use case of :mod:`qiloop.loop` (or a library function) and reports the
figures it returned as numeric metadata, so Dagster's UI plots them across turns.

- :mod:`qiloop.orchestration.definitions` — ``defs``, what ``dagster dev -m`` and
  ``dagster definitions validate -m`` load (importing it reads no settings);
- :mod:`qiloop.orchestration.inprocess` — one turn of the loop through the asset graph,
  in this process (the demo, tests), and the triggers ticked from this process.

Locally, with cursors and run history kept in the qiloop home (without ``DAGSTER_HOME``
Dagster uses a temporary folder and deletes it on exit)::

    export QILOOP_HOME=.qiloop DAGSTER_HOME=$PWD/.qiloop/dagster
    mkdir -p $DAGSTER_HOME && dagster dev -m qiloop.orchestration.definitions

Scaled out: ``deploy/dagster/`` (dagster.yaml for PostgreSQL, the code-location image,
Helm values for the official chart with the Kubernetes run launcher).
"""
