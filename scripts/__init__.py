"""The project's scripts, not part of the shipped `app` package: evaluations (docs/EVALUATION.md),
benchmarks and the load test (docs/BENCHMARKS.md), the demo orders service and the README's
screenshots. What they share: `servicekit` (driving the real service), `reportkit` (command,
machine, percentiles, generated docs sections), `evalkit` (datasets, product retrieval, metrics)
and `loadkit` (the load test, whose command line is `loadtest.py`)."""
