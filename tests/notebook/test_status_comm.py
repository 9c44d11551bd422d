"""The status bar's comm: counters per live tick from the updater thread, opened and closed with the cell,
and never a failure in the cell (a fake comm); then the messages a real kernel sends."""

from __future__ import annotations

import queue
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.kernel import Kernel, workbench_kernel
from workbench.notebook.status_comm import TARGET, LiveStatus, status_message
from workbench.render.live.snapshot import LiveSnapshot


def _snapshot(now_s: float = 1.5, samples: int = 7, tokens: int = 40, rate: float = 20.0) -> LiveSnapshot:
    return LiveSnapshot(
        now_s=now_s, cpu_samples=samples, total_tokens=tokens, tokens_per_s=rate, ttft_p50_ms=12.345,
        requests=1, closed_spans=[], open_spans=[], tokens=[], counters={},
    )  # fmt: skip


class FakeComm:
    def __init__(self, fail_on: str | None = None, **kwargs: Any) -> None:
        self.open_kwargs = kwargs
        self.fail_on = fail_on
        self.sent: list[dict[str, Any]] = []
        self.closes = 0
        self.close_callback: Any = None

    def send(self, data: dict[str, Any]) -> None:
        if self.fail_on == "send":
            raise RuntimeError("iopub gone")
        self.sent.append(data)

    def close(self) -> None:
        if self.fail_on == "close":
            raise RuntimeError("kernel shutting down")
        self.closes += 1

    def on_close(self, callback: Any) -> None:
        self.close_callback = callback


def _open(fail_on: str | None = None) -> tuple[LiveStatus, FakeComm, list[str]]:
    comms: list[FakeComm] = []
    notices: list[str] = []

    def create(**kwargs: Any) -> FakeComm:
        comms.append(FakeComm(fail_on, **kwargs))
        return comms[-1]

    status = LiveStatus.open("rag-v1", cell_id="cell-1", create=create, notify=notices.append)
    assert status is not None
    return status, comms[0], notices


def test_message_has_the_counters_the_status_bar_shows() -> None:
    message = status_message(_snapshot(), done=True)
    assert message == {
        "elapsed_s": 1.5, "samples": 7, "output_tokens": 40, "tokens_per_s": 20.0, "requests": 1,
        "ttft_p50_ms": 12.3, "status": "running", "done": True,
    }  # fmt: skip


def test_open_update_close() -> None:
    status, comm, notices = _open()
    assert comm.open_kwargs == {
        "target_name": TARGET,
        "data": {"version": 1, "name": "rag-v1", "cell_id": "cell-1"},
    }
    status.update(_snapshot(samples=3))
    status.update(_snapshot(samples=5), done=True)
    assert [m["samples"] for m in comm.sent] == [3, 5] and comm.sent[-1]["done"]
    status.close()
    status.close()
    status.update(_snapshot())  # after the close: nothing is sent
    assert comm.closes == 1 and len(comm.sent) == 2 and status.sent == 2 and notices == []


def test_a_frontend_closing_the_comm_stops_the_messages() -> None:
    status, comm, _ = _open()
    comm.close_callback({"content": {}})
    status.update(_snapshot())
    status.close()
    assert comm.sent == [] and comm.closes == 0


@pytest.mark.parametrize("fail_on", ["send", "close"])
def test_failures_never_raise_and_give_one_notice(fail_on: str) -> None:
    status, _, notices = _open(fail_on)
    for _ in range(3):
        status.update(_snapshot())
    status.close()
    assert len(notices) == 1 and "live status stopped" in notices[0]


def test_no_comm_means_no_status_and_one_notice() -> None:
    notices: list[str] = []

    def create(**kwargs: Any) -> Any:
        raise RuntimeError("Comms cannot be opened without a comm_manager.")

    assert LiveStatus.open("x", create=create, notify=notices.append) is None
    assert len(notices) == 1


# In a real kernel: the comm's messages come on iopub with the cell's request as parent, while it runs.
STREAMING_CELL = (
    "%%fmprofile --name status-kernel\n"
    "import time\n"
    "import workbench as wb\n"
    "with wb.llm_request(model='demo') as request:\n"
    "    for _ in range(60):\n"
    "        time.sleep(0.05)\n"
    "        request.chunk(2)\n"
)


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kernel]:
    with workbench_kernel(tmp_path_factory.mktemp("cwd"), tmp_path_factory.mktemp("store")) as k:
        yield k


def _execute_with_cell_id(
    kernel: Kernel, code: str, cell_id: str, timeout: float = 120
) -> list[dict[str, Any]]:
    """Execute as JupyterLab does (the cell id in the request's metadata); every iopub message of it, with
    the time it arrived."""
    client = kernel.client
    msg = client.session.msg("execute_request", {"code": code, "silent": False}, metadata={"cellId": cell_id})
    client.shell_channel.send(msg)
    messages = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            message = client.get_iopub_msg(timeout=1)
        except queue.Empty:
            continue
        if message["parent_header"].get("msg_id") != msg["header"]["msg_id"]:
            continue
        message["arrived"] = time.monotonic()
        messages.append(message)
        if message["msg_type"] == "status" and message["content"]["execution_state"] == "idle":
            return messages
    raise AssertionError("the cell did not finish")


@pytest.mark.kernel
def test_kernel_sends_status_ticks_while_the_cell_runs(kernel: Kernel) -> None:
    messages = _execute_with_cell_id(kernel, STREAMING_CELL, "cell-abc")
    comm = [m for m in messages if m["msg_type"].startswith("comm_")]
    opens = [m for m in comm if m["msg_type"] == "comm_open" and m["content"]["target_name"] == TARGET]
    assert len(opens) == 1, [m["msg_type"] for m in comm]
    comm_id = opens[0]["content"]["comm_id"]
    assert opens[0]["content"]["data"] == {"version": 1, "name": "status-kernel", "cell_id": "cell-abc"}
    ticks = [
        m["content"]["data"]
        for m in comm
        if m["msg_type"] == "comm_msg" and m["content"]["comm_id"] == comm_id
    ]
    closes = [m for m in comm if m["msg_type"] == "comm_close" and m["content"]["comm_id"] == comm_id]
    assert len(closes) == 1
    assert len(ticks) >= 3  # the live view opens 1 s into the 3 s cell: ~2 s at a tick every 0.45 s
    assert ticks[-1]["done"] and not ticks[0]["done"]
    elapsed = [t["elapsed_s"] for t in ticks]
    assert elapsed == sorted(elapsed) and elapsed[-1] >= 1.4
    assert ticks[-1]["output_tokens"] == 120 and ticks[-1]["requests"] == 1
    assert any(t["tokens_per_s"] > 0 for t in ticks) and ticks[-1]["samples"] > 0
    # They arrive while the cell runs, not in a burst at its end (the cell's thread is busy meanwhile): the
    # first ~0.45 s after the live view opens (1 s into the 3 s cell), ~1.5 s before the close; a burst
    # would put them together.
    # Judged at 0.5 s, half-way, so that a late first tick on a loaded machine does not read as a burst.
    tick_times = [m["arrived"] for m in comm if m["msg_type"] == "comm_msg"]
    assert closes[0]["arrived"] - tick_times[0] >= 0.5


@pytest.mark.kernel
def test_quiet_cells_open_no_status(kernel: Kernel) -> None:
    messages = _execute_with_cell_id(kernel, "%%fmprofile --quiet\nimport time\ntime.sleep(0.2)\n", "c2")
    assert not [m for m in messages if m["msg_type"] == "comm_open"]
