"""The live dashboard drawn while a cell runs: the Bokeh document streamed to (`dashboard`), the flame graph
kept from the updater's stack samples (`flame`), the increments read off the recording each tick
(`snapshot`), and the widget that batches the updates into few messages (`widget`)."""
