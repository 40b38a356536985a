"""Widgets: play with a figure's settings.

Every widget in the course wraps a plain *draw function* that returns a matplotlib figure (and
optionally more things to show, such as an audio player) for given settings. A notebook first calls
the draw function with its default settings (a static figure that shows on the web, in nbval and in
a PDF), then calls ``explore(draw, ...)`` to offer sliders and menus that redraw it.

Draw functions must be fast (a fraction of a second): precompute what they need, never train.

Defined in notebook 00 (welcome, "Widgets"); used by every notebook.
"""
from __future__ import annotations

from collections.abc import Callable

import ipywidgets as W
import matplotlib.pyplot as plt
from IPython.display import display

__all__ = ["explore", "show"]


def show(result) -> None:
    """Display what a draw function returned: a figure, or a tuple of figures and other objects."""
    items = result if isinstance(result, (tuple, list)) else (result,)
    for item in items:
        if item is None:
            continue
        display(item)
        if isinstance(item, plt.Figure):
            plt.close(item)


_LABEL = {"description_width": "initial"}  # show the whole name of each control, never "temperat…"


def _control(name: str, spec):
    """A widget from a spec: a widget as is, (min, max, step) → slider, a list → dropdown."""
    if isinstance(spec, W.ValueWidget):
        return spec
    if isinstance(spec, tuple) and len(spec) in (3, 4) and all(isinstance(v, (int, float)) for v in spec):
        lo, hi, step = spec[:3]
        value = spec[3] if len(spec) == 4 else lo
        cls = W.IntSlider if all(isinstance(v, int) for v in spec) else W.FloatSlider
        return cls(min=lo, max=hi, step=step, value=value, description=name, continuous_update=False, style=_LABEL)
    if isinstance(spec, (list, dict)) and len(spec) > 0:
        return W.Dropdown(options=spec, description=name, style=_LABEL)
    if isinstance(spec, bool):
        return W.Checkbox(value=spec, description=name, style=_LABEL)
    raise ValueError(
        f"control {name!r} must be an ipywidgets widget, a (min, max, step[, value]) tuple or a "
        f"non-empty list of options, got {spec!r}"
    )


def explore(draw: Callable, **controls) -> W.VBox:
    """Controls for each keyword of ``draw`` above an output area that redraws on every change.

    ``explore(draw_noisy_speech, snr_db=(-10, 30, 5, 10), word=["zero", "one"])`` gives a slider and
    a menu; each change calls ``draw(snr_db=..., word=...)`` and shows what it returns. End a cell
    with it so that Jupyter displays the returned box.
    """
    if not callable(draw):
        raise ValueError(f"draw must be a function that returns a figure, got {type(draw).__name__}")
    if not controls:
        raise ValueError("explore needs at least one control, e.g. explore(draw, snr_db=(-10, 30, 5))")
    widgets = {name: _control(name, spec) for name, spec in controls.items()}
    out = W.Output()

    def redraw(_change=None):
        values = {name: w.value for name, w in widgets.items()}
        with out:
            out.clear_output(wait=True)
            show(draw(**values))

    for w in widgets.values():
        w.observe(redraw, names="value")
    redraw()
    controls = W.HBox(list(widgets.values()), layout=W.Layout(flex_flow="row wrap"))  # wrap, never clip
    return W.VBox([controls, out])
