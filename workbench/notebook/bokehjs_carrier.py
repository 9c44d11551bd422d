"""Which dashboard output of a notebook carries BokehJS (see `workbench.render.bokehjs`).

The first one this kernel shows, and again whatever the cell that holds it shows when it runs again (its
output, the carrier, is replaced then). A notebook run top to bottom carries it once; a restarted kernel
puts it in its own first output, so a notebook may hold it twice, never once per output.
"""

from __future__ import annotations

from workbench.notebook.status_comm import current_cell_id

_carried = False
_carrier_cell: str | None = None


def carry_bokehjs() -> bool:
    """Whether the dashboard output being shown now carries BokehJS."""
    global _carried, _carrier_cell
    cell = current_cell_id()
    if not _carried:
        _carried, _carrier_cell = True, cell
        return True
    return cell is not None and cell == _carrier_cell


def reset() -> None:
    """Forget the carrier (tests; a kernel whose frontend page was replaced)."""
    global _carried, _carrier_cell
    _carried, _carrier_cell = False, None
