"""Playwright helpers for browser tests: open a local HTML file in Debian chromium with the network cut off.

Every request that is not file:// (or an inline data:/blob: URL) is aborted and recorded, so a test can
assert that a page renders offline; page errors and console errors are recorded too.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image
from playwright.sync_api import ConsoleMessage, Page, Route, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:")
VIEWPORT = {"width": 1280, "height": 900}


@contextmanager
def open_offline_page(
    html_path: str | Path, chromium_executable: str, viewport: dict[str, int] | None = None
) -> Iterator[tuple[Page, list[str], list[str]]]:
    """Yields (page, blocked_requests, errors) with `html_path` loaded; errors: page and console errors."""
    blocked: list[str] = []
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_executable, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=viewport or VIEWPORT)  # type: ignore[arg-type]
            page.route("**/*", lambda route: _local_only(route, blocked))
            page.on("pageerror", lambda error: errors.append(f"pageerror: {error}"))
            page.on("console", lambda message: _record_console_error(message, errors))
            page.goto(Path(html_path).resolve().as_uri(), wait_until="load")
            yield page, blocked, errors
        finally:
            browser.close()


def _local_only(route: Route, blocked: list[str]) -> None:
    url = route.request.url
    if url.startswith(LOCAL_SCHEMES):
        route.continue_()
    else:
        blocked.append(url)
        route.abort()


def _record_console_error(message: ConsoleMessage, errors: list[str]) -> None:
    if message.type == "error":
        errors.append(f"console: {message.text}")


def wait_for_bokeh(page: Page, n_documents: int = 1, timeout_ms: float = 20_000) -> None:
    """Until BokehJS has built the views of `n_documents` documents (rendering is asynchronous)."""
    page.wait_for_function(
        "n => window.Bokeh !== undefined && Bokeh.documents.length >= n && Bokeh.index.roots.length >= n",
        arg=n_documents,
        timeout=timeout_ms,
    )


def pixel_variance(png: bytes) -> float:
    """Variance of the grey levels of a PNG screenshot; near zero for a blank page."""
    grey = np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=float)
    return float(grey.var())


@contextmanager
def chromium_page(
    chromium_executable: str, viewport: dict[str, int] | None = None
) -> Iterator[tuple[Page, list[str]]]:
    """Yields (page, page_errors): a page in Debian chromium for a test's local Jupyter server."""
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_executable, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=viewport or VIEWPORT)  # type: ignore[arg-type]
            page.on("pageerror", lambda error: errors.append(str(error)))
            yield page, errors
        finally:
            browser.close()


def open_lab_notebook(page: Page, url: str, ready_selector: str, dialog_ms: float = 5_000) -> None:
    """Go to a notebook's JupyterLab `url`, wait for `ready_selector`, and accept the kernel dialog
    JupyterLab may still show (python3 preselected)."""
    page.goto(url)
    page.wait_for_function(
        "(selector) => window.jupyterapp && document.querySelector(selector) !== null",
        arg=ready_selector,
        timeout=60_000,
    )
    accept = page.locator(".jp-Dialog .jp-mod-accept")
    with contextlib.suppress(PlaywrightTimeout):
        accept.wait_for(timeout=dialog_ms)
        accept.click()
