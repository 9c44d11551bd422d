"""One module per family of rules; importing this package registers them all."""

from workbench.analysis.findings.rules import token_accounting  # noqa: F401
