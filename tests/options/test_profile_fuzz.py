"""The magic's option line at its boundary: every line gives options or one `OptionsError` that names the
problem and shows the usage; none raises anything else or hangs (a hang shows as a pytest-timeout
failure, not a timing tolerance)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.options import ProfileOptions
from workbench.options.profile import OptionsError, parse_options

# Pieces of the option grammar, so that generated lines reach the value parsers, not only argparse.
PIECES = [
    "--name", "--store", "--rate", "--native", "--gil", "--idle", "--no-cpu", "--no-tokens", "--kernels",
    "--no-kernels", "--gil-probe", "--nvml-rate", "--capture-text", "--slo", "--quiet", "--ignore-finding",
    "--budget", "--baseline", "--repeat", "--warmup", "--sweep", "--server", "--server-rate", "--otlp",
    "--attach", "--server-profile", "http://127.0.0.1:8000", "https://h:99999", "http://", "ftp://x",
    "http://[::1", "--ra", "--no", "-", "--", "=", " ", " ",
    "100", "0", "-1", "1e309", "nan", "inf", "9" * 30, "x", "a=1,2", "b=[1,(2,)],'s'", "c=", "=1", "def=1",
    "ttft_ms=200", "e2e_ms=-5", "tpot_ms=nan", "wall_s<=5", "e2e_ms.p50<=+10%", "wall_s", "sequential_llm",
    "nope_kind", "'", '"', "\\", "é", "\t", "\x00", "[" * 50, "1,,2", "-1e3",
]  # fmt: skip

LINES = st.lists(st.sampled_from(PIECES), max_size=10).map(" ".join)
GLUED = st.lists(st.sampled_from(PIECES), max_size=8).map("".join)
ANY_TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=60)


def _options_or_one_clear_error(line: str) -> None:
    try:
        options = parse_options(line)
    except OptionsError as error:
        message = str(error)
        assert "usage: %%fmprofile" in message or message.startswith("cannot parse options")
    else:
        assert isinstance(options, ProfileOptions)
        assert 1 <= options.rate <= 10_000
        assert options.repeat is None or options.repeat >= 1
        assert options.warmup >= 0
        assert 0 < options.server_rate <= 100
        assert all(url.startswith(("http://", "https://")) for url in options.server)
        assert options.otlp is None or options.otlp.startswith(("http://", "https://"))
        assert all(pid >= 1 for pid in options.attach)


@pytest.mark.timeout(300)
@settings(max_examples=900, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(LINES, GLUED, ANY_TEXT))
def test_any_option_line_parses_or_fails_cleanly(line: str) -> None:
    # Lines of the options' pieces, the pieces glued without spaces, and any text at all.
    _options_or_one_clear_error(line)


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("--rate 0", "--rate"),
        ("--rate nan", "--rate"),
        ("--nvml-rate inf", "--nvml-rate"),
        ("--repeat 0", "--repeat"),
        ("--repeat " + "9" * 5000, "--repeat"),  # past int's digit limit
        ("--sweep " + "x=" + "[" * 5000, None),  # a value too deep to read as a literal: kept as text
        ("--slo ttft_ms=nan", "--slo"),
        ("--budget wall_s", "--budget"),
        ("--ignore-finding nope_kind", "--ignore-finding"),
        ("--name 'unclosed", "cannot parse options"),
        ("--kernels --no-kernels", "not allowed with"),
        ("--server ftp://x", "--server"),
        ("--server http://h:99999", "--server"),
        ("--server-rate 0", "--server-rate"),
        ("--server-rate nan", "--server-rate"),
        ("--otlp localhost:4318", "--otlp"),
        ("--attach 0", "--attach"),
        ("--attach me", "--attach"),
        ("--server-profile ' '", "--server-profile"),
    ],
)
def test_known_bad_values_name_their_option(line: str, problem: str | None) -> None:
    if problem is None:
        options = parse_options(line)
        assert options.sweep == {"x": ["[" * 5000]}
        return
    with pytest.raises(OptionsError, match=problem):
        parse_options(line)


def test_serving_options_parse() -> None:
    options = parse_options(
        "--server http://127.0.0.1:8000 --server http://127.0.0.1:9000/metrics --server-rate 20 "
        "--otlp http://127.0.0.1:4318 --attach 12 --attach 34 --server-profile /tmp/traces"
    )
    assert options.server == ("http://127.0.0.1:8000", "http://127.0.0.1:9000/metrics")
    assert options.server_rate == 20.0
    assert options.otlp == "http://127.0.0.1:4318"
    assert options.attach == (12, 34)
    assert options.server_profile == "/tmp/traces"
    defaults = parse_options("")
    assert (defaults.server, defaults.server_rate, defaults.otlp, defaults.attach) == ((), 10.0, None, ())
    assert defaults.server_profile is None


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:4318?x=1", "http://127.0.0.1:4318#frag", "http://h:0", "ftp://h:4318", "http://"],
)
def test_otlp_refuses_what_export_refuses(url: str) -> None:
    from workbench.export import EndpointError, check_url

    with pytest.raises(EndpointError) as refused:
        check_url(url, "the OTLP endpoint")
    with pytest.raises(OptionsError, match="--otlp") as error:
        parse_options(f"--otlp '{url}'")
    assert str(refused.value) in str(error.value)


def test_otlp_url_is_normalised_like_export() -> None:
    assert parse_options("--otlp http://127.0.0.1:4318/").otlp == "http://127.0.0.1:4318"


def test_wb_profile_takes_the_serving_options_checked() -> None:
    import workbench as wb
    from workbench.export import EndpointError

    with pytest.raises(EndpointError, match="otlp"):
        wb.profile(otlp="localhost:4318")
    options = wb.profile(otlp="http://127.0.0.1:4318/", attach=12, server_profile="/tmp/t").options
    expected = ("http://127.0.0.1:4318", (12,), "/tmp/t")
    assert (options.otlp, options.attach, options.server_profile) == expected
    assert wb.profile(attach=[3, 4]).options.attach == (3, 4)
