"""The plotting helpers draw what they are given and reject what they cannot draw."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from mmcourse import viz  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_show_images_draws_one_axis_per_image_in_a_grid():
    fig = viz.show_images(torch.rand(10, 8, 8), titles=list("abcdefghij"), ncols=4)
    visible = [ax for ax in fig.axes if ax.images]
    assert len(fig.axes) == 12 and len(visible) == 10
    assert visible[3].get_title() == "d"


@pytest.mark.parametrize("shape", [(3, 16, 16, 3), (3, 3, 16, 16), (3, 1, 8, 8)])
def test_show_images_accepts_channels_last_and_channels_first(shape):
    fig = viz.show_images(torch.rand(*shape))
    assert len([ax for ax in fig.axes if ax.images]) == 3


def test_show_images_rejects_wrong_shapes_and_title_counts():
    with pytest.raises(ValueError, match="images must have shape"):
        viz.show_images(torch.rand(8, 8))
    with pytest.raises(ValueError, match="titles has 1 entries but there are 2 images"):
        viz.show_images(torch.rand(2, 8, 8), titles=["only one"])


def test_log_spectrogram_has_the_stft_shape_and_peaks_at_a_pure_tone():
    sr, freq = 8000, 1000
    t = torch.arange(sr) / sr
    spec = viz.log_spectrogram(torch.sin(2 * torch.pi * freq * t), n_fft=256, hop_length=64)
    assert spec.shape == (129, sr // 64 + 1)
    peak_bin = spec.mean(axis=1).argmax()
    assert abs(peak_bin * sr / 256 - freq) <= sr / 256  # the loudest bin is the tone's frequency


def test_waveform_and_spectrogram_figure_has_two_panels_and_checks_inputs():
    fig = viz.show_waveform_and_spectrogram(np.random.randn(4000), 8000, title="noise")
    assert len(fig.axes) == 2 and fig.axes[0].get_title() == "noise"
    with pytest.raises(ValueError, match="sample_rate"):
        viz.show_waveform_and_spectrogram(np.zeros(4000), 0)
    with pytest.raises(ValueError, match="1-D"):
        viz.show_waveform_and_spectrogram(np.zeros((2, 4000)), 8000)


def test_heatmap_labels_its_axes_and_annotates_values():
    fig = viz.heatmap(np.eye(2), xlabels=["a", "b"], ylabels=["c", "d"], annotate=True)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b"]
    assert sorted(t.get_text() for t in ax.texts) == ["0.00", "0.00", "1.00", "1.00"]


def test_heatmap_rejects_mismatched_labels():
    with pytest.raises(ValueError, match="xlabels has 3 entries"):
        viz.heatmap(np.eye(2), xlabels=["a", "b", "c"])


def test_audio_player_embeds_the_sound_and_checks_the_rate():
    player = viz.audio_player(torch.randn(800), 8000)
    assert player.data[:4] == b"RIFF" and len(player.data) > 1600  # a 16-bit WAV of 800 samples
    assert int.from_bytes(player.data[24:28], "little") == 8000  # the WAV header's sample rate
    with pytest.raises(ValueError, match="sample_rate"):
        viz.audio_player(torch.randn(800), -1)
