"""explore() builds controls that call the draw function again on every change."""
import matplotlib

matplotlib.use("Agg")
import ipywidgets as W  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from mmcourse.widgets import explore  # noqa: E402


def test_explore_draws_once_then_again_on_each_change():
    calls = []

    def draw(snr_db=10, word="zero"):
        calls.append((snr_db, word))
        fig, ax = plt.subplots()
        ax.set_title(f"{word} at {snr_db} dB")
        return fig

    box = explore(draw, snr_db=(-10, 30, 5, 10), word=["zero", "one"])
    slider, menu = box.children[0].children
    assert isinstance(slider, W.IntSlider) and isinstance(menu, W.Dropdown)
    assert calls == [(10, "zero")]
    slider.value = 20
    menu.value = "one"
    assert calls[-2:] == [(20, "zero"), (20, "one")]


def test_explore_makes_float_sliders_and_accepts_ready_widgets():
    box = explore(lambda a, b: None, a=(0.0, 1.0, 0.1), b=W.Checkbox(value=True))
    a, b = box.children[0].children
    assert isinstance(a, W.FloatSlider) and a.value == 0.0 and b.value is True


def test_explore_rejects_bad_draw_functions_and_controls():
    with pytest.raises(ValueError, match="draw"):
        explore("not callable", a=(0, 1, 1))
    with pytest.raises(ValueError, match="at least one control"):
        explore(lambda: None)
    with pytest.raises(ValueError, match="control 'a'"):
        explore(lambda a: None, a=object())


def test_show_displays_each_item_and_closes_figures(monkeypatch):
    import mmcourse.widgets as widgets

    shown = []
    monkeypatch.setattr(widgets, "display", shown.append)
    fig = plt.figure()
    widgets.show((fig, None, "an audio player"))
    assert shown == [fig, "an audio player"]
    assert not plt.fignum_exists(fig.number), "a shown figure is closed so it is not drawn twice"
