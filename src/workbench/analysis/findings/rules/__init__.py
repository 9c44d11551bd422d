"""One module per family of rules; importing this package registers them all."""

from workbench.analysis.findings.rules import (  # noqa: F401
    communication,
    gil,
    gpu,
    pipeline,
    regression,
    token_accounting,
)
