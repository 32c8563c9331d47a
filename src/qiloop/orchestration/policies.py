"""How steps are retried and which run together: one place for the orchestration's execution rules."""

import dagster as dg

# Steps that talk to a store, the registry or the broker over the network: a few tries, spaced out
# exponentially (2 s, 4 s, 8 s) and jittered so that many runs failing together do not retry in step.
NETWORK_RETRY = dg.RetryPolicy(max_retries=3, delay=2, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)

# Training holds the machine (or the GPU node): one training step at a time, whatever starts it.
# The pool's limit is set in dagster.yaml (concurrency.pools.default_limit: 1).
TRAINING_POOL = "training"

GROUP = "qiloop_loop"
