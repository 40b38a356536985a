"""Running notebooks headless without stalls after widget cells.

nbclient (behind ``make notebooks``, ``make results`` and ``otter run``) plays the part of the browser
for ``ipywidgets.Output``: when a cell draws into an Output widget (every ``mmcourse.widgets.explore``
does), its stand-in sends the widget's new outputs back to the kernel on the shell socket, while the
same client is waiting on that socket for the cell's reply. Now and then the wake-up for that reply is
lost and the client sits idle until the cell's time-out: we saw stalls of up to 300 s after widget
cells (about one run in three of notebook 05; the same with a ten-cell toy notebook; nbclient issue
312 reports it too). With no browser attached nobody needs that echo, so ``install()`` drops it; the
outputs are still recorded in the notebook's widget state, as before.

``python scripts/headless_widgets.py otter run ...`` runs otter's command line with the fix installed.
"""
from __future__ import annotations

import runpy
import sys

from nbclient.output_widget import OutputWidget


def _keep_outputs_here(self, data=None, metadata=None, buffers=None) -> None:
    """OutputWidget.send without the echo to the kernel (see the module docstring)."""


def install() -> None:
    """Stop nbclient's Output-widget stand-in from echoing outputs to the kernel, in this process."""
    OutputWidget.send = _keep_outputs_here


if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit("usage: python scripts/headless_widgets.py MODULE [ARGS...], e.g. otter run ...")
    install()
    sys.argv = sys.argv[1:]
    runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
