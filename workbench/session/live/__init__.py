"""While the cell runs: one updater thread feeds the live dashboard (stacks, tokens, spans, telemetry) and
evaluates the finding rules that need only the run so far."""
