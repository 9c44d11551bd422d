"""The profile options: one parser shared by the `%%fmprofile` magic and the `workbench` CLI, and the
`ProfileOptions` a session runs with. The cell-only options (`--repeat`, `--warmup`, `--sweep`) are in
`options.cell`."""

from workbench.options.profile import (
    DEFAULT_NVML_RATE_HZ,
    MAX_NVML_RATE_HZ,
    MAX_RATE_HZ,
    OptionsError,
    ProfileOptions,
    add_profile_options,
    from_namespace,
    parse_options,
    profile_parser,
)

__all__ = [
    "DEFAULT_NVML_RATE_HZ",
    "MAX_NVML_RATE_HZ",
    "MAX_RATE_HZ",
    "OptionsError",
    "ProfileOptions",
    "add_profile_options",
    "from_namespace",
    "parse_options",
    "profile_parser",
]
