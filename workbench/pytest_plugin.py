"""pytest plugin: fail a test whose profiled code exceeds its performance budget.

Registered through the `pytest11` entry point, so it is active wherever FM Workbench is installed
(`-p no:workbench` turns it off). Two ways to use it:

    def test_pipeline(fmprofile):
        with fmprofile(budget="wall_s<=0.5, ttft_ms.p90<=250") as run:
            pipeline()

    @pytest.mark.fmbudget("wall_s<=0.5", cpu=False)
    def test_pipeline():
        pipeline()

The marker profiles the test function's body (not its fixtures). Keyword arguments are those of
`wb.profile()` plus `baseline` (a run key or `-1`) and `name` (default: the test's name). Each run is
saved under `--fmprofile-store DIR`, by default `fmprofile/` in pytest's temporary directory; a test that
misses its budget fails with the pass/FAIL table and the path of the saved run. Nothing heavy is imported
until a test asks for profiling.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Generator
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from workbench.model.run import Run
    from workbench.session import ProfileSession

STORE_FIXTURE = "fmprofile_store"
MARKER = "fmbudget"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("fmprofile", "FM Workbench performance budgets")
    group.addoption(
        "--fmprofile-store",
        metavar="DIR",
        default=None,
        help="where profiled tests save their runs (default: fmprofile/ in pytest's temporary directory)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(budget, *, baseline=None, name=None, **profile_options): profile the test body with FM "
        "Workbench and fail the test when a budget (e.g. 'wall_s<=0.5, ttft_ms.p90<=250') is missed",
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # The marker's hook needs the store; asking for the fixture here makes pytest set it up.
    for item in items:
        names = getattr(item, "fixturenames", None)
        if item.get_closest_marker(MARKER) is not None and names is not None and STORE_FIXTURE not in names:
            names.append(STORE_FIXTURE)


@pytest.fixture(scope="session")
def fmprofile_store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The run store of this test session."""
    option = request.config.getoption("fmprofile_store")
    if option:
        return Path(option)
    return tmp_path_factory.mktemp("fmprofile", numbered=False)


@pytest.fixture
def fmprofile(request: pytest.FixtureRequest, fmprofile_store: Path) -> Callable[..., BudgetedProfile]:
    """`with fmprofile(budget="wall_s<=0.5") as run:` profiles the block and checks its budget."""

    def start(budget: str | None = None, **options: Any) -> BudgetedProfile:
        options.setdefault("name", request.node.name)
        return BudgetedProfile(budget, fmprofile_store, **options)

    return start


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    marker = item.get_closest_marker(MARKER)
    if marker is None:
        return (yield)
    store = getattr(item, "funcargs", {}).get(STORE_FIXTURE)
    guard = _from_marker(marker, item, store)
    guard.start(anchor=str(item.path))
    try:
        result = yield
    except BaseException as error:
        guard.finish(error)
        raise
    guard.finish(None)
    return result


def _from_marker(marker: pytest.Mark, item: pytest.Item, store: Path | None) -> BudgetedProfile:
    if len(marker.args) != 1 or not isinstance(marker.args[0], str):
        pytest.fail(f"@pytest.mark.{MARKER} takes one budget text, e.g. 'wall_s<=0.5'", pytrace=False)
    options = {"name": item.name, **marker.kwargs}
    try:
        return BudgetedProfile(marker.args[0], store, **options)
    except (TypeError, ValueError) as error:
        pytest.fail(f"@pytest.mark.{MARKER}: {error}", pytrace=False)


class BudgetedProfile:
    """A profile of one block whose budget, when missed, fails the running test."""

    def __init__(
        self, budget: str | None, store: Path | None, *, baseline: str | None = None, **options: Any
    ) -> None:
        from workbench.profile import profile

        # `profile` validates the options the way the magic does (a bad budget: BudgetError with a caret).
        self.options = profile(store=store, budget=budget, baseline=baseline, **options).options
        self.session: ProfileSession | None = None
        self.run: Run | None = None

    def start(self, anchor: str) -> Run:
        from workbench.session import ProfileSession

        self.session = ProfileSession(self.options, anchor_files=frozenset({anchor}))
        run = self.session.start()
        self.session.print_notices()
        return run

    def finish(self, error: BaseException | None) -> Run:
        """Stop and save; when the block itself succeeded and a budget failed, fail the test."""
        assert self.session is not None
        run = self.run = self.session.stop(error=error)
        self.session.print_notices()
        record = run.metrics.get("budget")
        if error is None and isinstance(record, dict) and not record.get("passed"):
            from workbench.session.budget_check import table_of

            pytest.fail(
                f"performance budget missed by {run.name!r}\n{table_of(record)}\nrun saved: {run.path}",
                pytrace=False,
            )
        return run

    def __enter__(self) -> Run:
        return self.start(anchor=sys._getframe(1).f_code.co_filename)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.finish(exc)
