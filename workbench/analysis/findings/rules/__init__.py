"""One module per family of rules; importing this package registers them all."""

from workbench.analysis.findings.rules import (  # noqa: F401
    communication,
    gil,
    gpu,
    gpu_memory,
    gpu_sync,
    pipeline,
    rank_imbalance,
    regression,
    server,
    token_accounting,
)
