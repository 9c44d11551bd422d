"""Performance budgets: a small grammar for limits on a run's metrics, and their evaluation.

A budget text is a list of clauses separated by `,` or `;`, each `METRIC OP LIMIT`:

    ttft_ms.p90<=250, output_tokens_per_s>=40; wall_s<2.5
    e2e_ms.p50<=+10%, output_tokens_per_s>=-5%          (relative to a baseline run)

- OP is one of `<=`, `<`, `>=`, `>`.
- LIMIT is a number (`250`, `0.5`, `1e3`, `-2`) in the metric's own unit (the name carries it: `_ms`,
  `_s`, `_per_s`), or a signed percentage (`+10%`, `-5%`) of the same metric in the baseline run:
  `e2e_ms.p50<=+10%` passes when the run's value is at most 1.10 x the baseline's.
- METRIC is a dotted path into `run.metrics`. Lookup rules:
  1. A first name that is a top-level section (`wall_s`, `tokens`, `stages`, `cpu`, ...) is looked up
     from the top: `wall_s`, `cpu.samples`, `stages.per_kind.llm.critical_ms`.
  2. A first name that is a token metric is looked up under `tokens`: `ttft_ms.p90` is
     `metrics["tokens"]["ttft_ms"]["p90"]`, also `output_tokens_per_s`, `goodput.share`,
     `breakdown_ms.decode_ms.p50`, `per_model.NAME.ttft_ms.p50`.
  3. A distribution (`ttft_ms`, `tpot_ms`, `itl_ms`, `icl_ms`, `e2e_ms`, `tokens_per_chunk`, and each
     `breakdown_ms.*`) needs a statistic: `mean`, `std`, `p50`, `p90`, `p95` or `p99`.
  4. `metrics.` followed by any path looks it up verbatim (for sections this list does not know yet).

A text that does not parse raises `BudgetError`, whose message quotes the text with a caret under the
offending character. Evaluation never raises: a missing metric or a relative budget without a baseline
is a failed result with the reason.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from workbench.model.run import Run

OPERATORS = ("<=", ">=", "<", ">")
STATISTICS = ("mean", "std", "p50", "p90", "p95", "p99")
ROOT_KEYS = ("wall_s", "cell_start_ms", "cell_end_ms", "tokens", "stages", "cpu", "dropped_events")
TOKEN_KEYS = (
    "ttft_ms", "tpot_ms", "itl_ms", "icl_ms", "e2e_ms", "tokens_per_chunk", "output_tokens",
    "output_tokens_per_s", "request_throughput_per_s", "requests", "failed_requests",
    "non_streaming_requests", "window_s", "goodput", "breakdown_ms", "concurrency", "per_model",
)  # fmt: skip
DISTRIBUTIONS = ("ttft_ms", "tpot_ms", "itl_ms", "icl_ms", "e2e_ms", "tokens_per_chunk")
VERBATIM = "metrics"
EXAMPLE = "ttft_ms.p90<=250, e2e_ms.p50<=+10%"
SEPARATORS = ",;"


class BudgetError(ValueError):
    """A budget text that does not parse; `position` is the offending character's index."""

    def __init__(self, text: str, position: int, expected: str) -> None:
        self.text = text
        self.position = position
        self.expected = expected
        super().__init__(f"bad budget: {expected}\n  {text}\n  {' ' * position}^")


@dataclass(frozen=True)
class Budget:
    metric: str
    path: tuple[str, ...]
    op: str
    value: float
    relative: bool = False

    @property
    def limit_text(self) -> str:
        return f"{self.value:+g}%" if self.relative else f"{self.value:g}"

    def __str__(self) -> str:
        return f"{self.metric}{self.op}{self.limit_text}"


@dataclass(frozen=True)
class BudgetResult:
    budget: str
    metric: str
    op: str
    limit: float | None
    limit_text: str
    actual: float | None
    baseline: float | None
    passed: bool
    status: str  # "pass", "FAIL", or "error" (could not be evaluated)
    message: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_budget(text: str) -> list[Budget]:
    """The budgets in `text`; `BudgetError` pointing at the first character that does not fit."""
    return _Parser(text).budgets()


def evaluate(budgets: list[Budget], run: Run, baseline: Run | None = None) -> list[BudgetResult]:
    """One result per budget, in order; never raises for a missing metric or baseline."""
    return [_evaluate_one(b, run.metrics, None if baseline is None else baseline.metrics) for b in budgets]


def all_passed(results: list[BudgetResult]) -> bool:
    return all(r.passed for r in results)


def lookup(metrics: dict[str, Any], path: tuple[str, ...]) -> float:
    """The number at `path` in `metrics`; KeyError with a readable reason when it is not there."""
    node: Any = metrics
    for depth, key in enumerate(path):
        if not isinstance(node, dict) or key not in node:
            where = "metrics" + "".join(f"[{k!r}]" for k in path[:depth])
            if not isinstance(node, dict):
                raise KeyError(f"{where} is not a section")
            names = ", ".join(sorted(str(k) for k in node)) or "nothing"
            raise KeyError(f"{where} has no {key!r} (it has: {names})")
        node = node[key]
    if isinstance(node, bool) or not isinstance(node, int | float) or math.isnan(node):
        shown = "has no value" if node is None else f"is a {type(node).__name__}, not a number"
        raise KeyError(f"metrics{''.join(f'[{k!r}]' for k in path)} {shown}")
    return float(node)


def _evaluate_one(budget: Budget, metrics: dict[str, Any], base: dict[str, Any] | None) -> BudgetResult:
    try:
        actual = lookup(metrics, budget.path)
    except KeyError as error:
        return _result(budget, None, None, None, f"not in this run: {error.args[0]}")
    base_value = None
    if budget.relative:
        if base is None:
            message = "a relative budget needs a baseline run (--baseline RUN)"
            return _result(budget, None, actual, None, message)
        try:
            base_value = lookup(base, budget.path)
        except KeyError as error:
            return _result(budget, None, actual, None, f"not in the baseline: {error.args[0]}")
        limit = base_value * (1 + budget.value / 100)
    else:
        limit = budget.value
    passed = _compare(actual, budget.op, limit)
    message = _explain(budget, actual, limit, base_value, passed)
    return _result(budget, limit, actual, base_value, message, "pass" if passed else "FAIL")


def _result(
    budget: Budget,
    limit: float | None,
    actual: float | None,
    base_value: float | None,
    message: str,
    status: str = "error",
) -> BudgetResult:
    return BudgetResult(
        str(budget), budget.metric, budget.op, limit, budget.limit_text, actual, base_value,
        status == "pass", status, message,
    )  # fmt: skip


def _compare(actual: float, op: str, limit: float) -> bool:
    return {
        "<=": actual <= limit,
        "<": actual < limit,
        ">=": actual >= limit,
        ">": actual > limit,
    }[op]


def _explain(budget: Budget, actual: float, limit: float, base_value: float | None, passed: bool) -> str:
    verdict = "within" if passed else "outside"
    text = f"{actual:.6g} {verdict} {budget.op} {limit:.6g}"
    if base_value is not None:
        change = "n/a" if base_value == 0 else f"{(actual / base_value - 1) * 100:+.1f}%"
        text += f" (baseline {base_value:.6g}, change {change}, allowed {budget.limit_text})"
    return text


class _Parser:
    """A hand-written scanner: every error knows the index of the character it stopped at."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0

    def fail(self, expected: str, at: int | None = None) -> BudgetError:
        return BudgetError(self.text, self.i if at is None else at, expected)

    def peek(self) -> str:
        return self.text[self.i] if self.i < len(self.text) else ""

    def next_is(self, chars: str) -> bool:
        """Whether the next character is one of `chars`; never at the end (`"" in chars` is always true)."""
        return self.i < len(self.text) and self.text[self.i] in chars

    def skip_spaces(self) -> None:
        while self.peek().isspace():
            self.i += 1

    def budgets(self) -> list[Budget]:
        self.skip_spaces()
        if not self.peek():
            raise self.fail(f"empty budget: expected e.g. {EXAMPLE!r}")
        out = [self.clause()]
        while self.peek():
            if not self.next_is(SEPARATORS):
                raise self.fail("expected ',' or ';' between budgets, or the end")
            self.i += 1
            self.skip_spaces()
            if self.peek():
                out.append(self.clause())
        return out

    def clause(self) -> Budget:
        self.skip_spaces()
        metric, path = self.metric()
        self.skip_spaces()
        op = self.operator(metric)
        self.skip_spaces()
        value, relative = self.limit()
        self.skip_spaces()
        return Budget(metric, path, op, value, relative)

    def metric(self) -> tuple[str, tuple[str, ...]]:
        start = self.i
        segments: list[tuple[str, int]] = []
        while True:
            segments.append((self.segment(), self.i))
            if self.peek() != ".":
                break
            self.i += 1
        names = [name for name, _ in segments]
        return self.text[start : self.i], self.resolve(names, start, [end for _, end in segments])

    def segment(self) -> str:
        start = self.i
        if not (self.peek().isalpha() or self.peek() == "_"):
            raise self.fail(f"expected a metric name, e.g. {EXAMPLE!r}")
        while self.peek().isalnum() or self.next_is("_-"):
            self.i += 1
        return self.text[start : self.i]

    def resolve(self, names: list[str], start: int, ends: list[int]) -> tuple[str, ...]:
        first = names[0]
        if first == VERBATIM:
            if len(names) == 1:
                raise self.fail("expected a path after 'metrics.'", ends[0])
            return tuple(names[1:])
        if first in ROOT_KEYS:
            return tuple(names)
        if first not in TOKEN_KEYS:
            known = ", ".join((*ROOT_KEYS, *TOKEN_KEYS))
            raise self.fail(f"unknown metric {first!r}; known names: {known} (or metrics.PATH)", start)
        self.check_statistic(names, ends)
        return ("tokens", *names)

    def check_statistic(self, names: list[str], ends: list[int]) -> None:
        index = 1 if names[0] in DISTRIBUTIONS else 2 if names[0] == "breakdown_ms" else None
        if index is None or len(names) < index:
            return
        stats = ", ".join(STATISTICS)
        if len(names) == index:
            whole = ".".join(names)
            raise self.fail(f"{whole!r} is a distribution: add a statistic, e.g. {whole}.p90 ({stats})")
        if names[index] not in STATISTICS:
            at = ends[index - 1] + 1
            raise self.fail(f"unknown statistic {names[index]!r}; expected one of {stats}", at)

    def operator(self, metric: str) -> str:
        for op in OPERATORS:
            if self.text.startswith(op, self.i):
                self.i += len(op)
                return op
        raise self.fail(f"expected a comparison <=, <, >= or > after {metric!r}")

    def limit(self) -> tuple[float, bool]:
        start = self.i
        sign = self.peek() if self.next_is("+-") else ""
        self.i += len(sign)
        digits = self.i
        while self.peek().isdigit() or self.peek() == ".":
            self.i += 1
        if self.next_is("eE") and self.i > digits:
            self.i += 1
            if self.next_is("+-"):
                self.i += 1
            while self.peek().isdigit():
                self.i += 1
        try:
            value = float(self.text[start : self.i])
        except ValueError:
            raise self.fail("expected a number (e.g. 250 or 0.5) or a signed percentage (+10%)") from None
        if not math.isfinite(value):
            raise self.fail("expected a finite number", start)
        if self.peek().isalpha():
            raise self.fail("expected ',' or ';' after the number: no units (the metric name carries them)")
        if self.peek() != "%":
            return value, False
        if not sign:
            raise self.fail("a relative limit needs a sign: +10% or -5% (of the baseline's value)", start)
        self.i += 1
        return value, True
