"""GIL contention between the cell's threads: not detected, because the samples we keep cannot show it.

Telling that thread A (say, a streaming consumer) was starved by thread B (a CPU-bound loop) needs, for
each sampling tick and thread, whether the thread was runnable but waiting for the GIL. What a run keeps
cannot say so:

- py-spy knows, per thread and tick, `owns_gil` and `active` (its `dump --json` prints them), but the
  `chrometrace` output that `collectors/pyspy.py` ingests carries only stacks and times. With `--idle`
  (how we run it) a thread blocked in `take_gil` is reported with the Python stack it stopped at, which
  looks exactly like a thread sleeping in `time.sleep` or a C call that released the GIL: py-spy without
  `--native` shows no C frames, so the leaf is the user's line either way.
- With `--gil` (the `gil` option), py-spy drops the samples of every thread not holding the GIL instead
  of marking them, so the waiting thread disappears rather than showing as waiting; an absent sample
  cannot be told from a sleeping or blocked one.
- The process CPU counter (one number per tick) does not separate threads: one thread spinning while
  another sleeps and one spinning while another waits for the GIL both read 100% of a core.

Inferring contention from two threads' overlapping Python stacks would therefore flag every thread that
sleeps or does I/O next to a busy one. The evidence needed is per-tick, per-thread GIL state: py-spy's
`owns_gil` / `active` flags kept with each sample (a `--format raw`-like output that includes them, or a
py-spy build used as a library), or CPython's own GIL statistics (3.13+ free-threading builds have no GIL;
the default build exposes none to Python). Until the collector records them, this rule reports nothing.
"""

from __future__ import annotations

from workbench.analysis.findings.model import Finding
from workbench.analysis.findings.registry import rule
from workbench.model.run import Run


@rule("gil_contention", "threads of the cell waiting for the GIL (not detectable from the kept samples)")
def gil_contention(run: Run, baseline: Run | None = None) -> list[Finding]:
    return []
