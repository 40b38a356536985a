"""The lecture's diagrams are drawn: every part the lecture names is there, and no box hides another."""
import itertools

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from matplotlib.patches import FancyBboxPatch  # noqa: E402

from mmcourse import method_schematics, schematics  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _texts(fig) -> str:
    return "\n".join(t.get_text() for ax in fig.axes for t in ax.texts) + "\n" + \
        "\n".join(ax.get_title() for ax in fig.axes)


def _boxes(fig):
    """(axis index, label, extent in data units) of every labelled box."""
    out = []
    for i, ax in enumerate(fig.axes):
        for patch in ax.patches:
            if isinstance(patch, FancyBboxPatch):
                x, y, w, h = patch.get_x(), patch.get_y(), patch.get_width(), patch.get_height()
                out.append((i, patch.get_gid(), (x, y, x + w, y + h)))
    return out


def _overlapping(fig):
    pairs = []
    for (i, a, (x0, y0, x1, y1)), (j, b, (u0, v0, u1, v1)) in itertools.combinations(_boxes(fig), 2):
        if i == j and x0 < u1 and u0 < x1 and y0 < v1 and v0 < y1:
            pairs.append((a, b))
    return pairs


DRAWINGS = {
    "encoder_state_decoder": (schematics.encoder_state_decoder, ["encoder", "intermediate state h", "decoder",
                                                                 "encoder A", "encoder B", "shared encoder"]),
    "attention_five_steps": (schematics.attention_five_steps, ["$h_1$", r"$u_t = \tanh(W h_t)$", r"$e_t = q^\top u_t$",
                                                               "softmax", r"$c = \sum_t a_t h_t$", "context $c$"]),
    "transformer_block": (schematics.transformer_block, ["multi-head\nself-attention", "add & norm", "feed-forward",
                                                         "masked multi-head", "encoder–decoder", "keys and values"]),
    "transformer_block_pre_norm": (lambda: schematics.transformer_block(norm_first=True), ["layer norm", "add"]),
    "fusion_types": (method_schematics.fusion_types, ["early fusion", "late fusion", "joint fusion", r"$x_1 \oplus x_2$",
                                                      r"$\sum_i w_i \hat y_i$", r"$z_{joint}$", "loss of $x_1$ only"]),
    "clip_dual_encoder": (method_schematics.clip_dual_encoder, ["image encoder $f_I$", "text encoder $f_T$", "$l_4$",
                                                                "$T_4$", "matching pairs", "softmax"]),
    "diffusion_chains": (method_schematics.diffusion_chains, ["$x_0$", "$x_{t-1}$", "$x_T$", r"$q(x_t \mid x_{t-1})",
                                                              r"$p_\theta(x_{t-1} \mid x_t)", "learned"]),
    "latent_diffusion": (method_schematics.latent_diffusion, ["encoder $f^E$", "latent $z_0$", "denoiser",
                                                              "cross-\nattention", "prompt $x_{other}$", "decoder"]),
}


@pytest.mark.parametrize("name", list(DRAWINGS))
def test_each_diagram_names_the_parts_of_the_lecture(name):
    draw, labels = DRAWINGS[name]
    text = _texts(draw())
    missing = [label for label in labels if label not in text]
    assert not missing, f"{name} does not show {missing}"


@pytest.mark.parametrize("name", list(DRAWINGS))
def test_no_box_of_a_diagram_lies_on_another(name):
    fig = DRAWINGS[name][0]()
    assert len(_boxes(fig)) >= 6
    assert _overlapping(fig) == []


def test_the_five_steps_draw_one_column_per_time_step_and_the_given_weights():
    fig = schematics.attention_five_steps([0.5, 0.25, 0.25])
    text = _texts(fig)
    assert "$h_3$" in text and "$h_4$" not in text
    assert "$a_1$=0.50" in text and "$a_3$=0.25" in text


def test_pre_norm_puts_a_layer_norm_before_every_sublayer_and_post_norm_none():
    pre = [label for _, label, _ in _boxes(schematics.transformer_block(norm_first=True))]
    post = [label for _, label, _ in _boxes(schematics.transformer_block(norm_first=False))]
    assert pre.count("layer norm") == 5 and post.count("layer norm") == 0  # 2 encoder + 3 decoder sublayers
    assert post.count("add & norm") == 5


@pytest.mark.parametrize("weights, message", [
    ([0.5, 0.6], "sum to 1"),
    ([1.2, -0.2], "non-negative"),
    ([], "1 to 8 numbers"),
    ([[0.5, 0.5]], "1-D"),
])
def test_five_steps_names_weights_that_are_not_a_softmax(weights, message):
    with pytest.raises(ValueError, match=message):
        schematics.attention_five_steps(weights)


def test_transformer_block_names_a_norm_first_that_is_not_a_bool():
    with pytest.raises(ValueError, match="norm_first must be True or False"):
        schematics.transformer_block(norm_first="pre")


def test_clip_draws_an_n_by_n_matrix_with_the_matching_pairs_on_its_diagonal():
    text = _texts(method_schematics.clip_dual_encoder(3))
    assert r"$l_3\!\cdot\!T_3$" in text and "$l_4$" not in text
    assert text.count(r"\!\cdot\!") == 9


@pytest.mark.parametrize("n", [1, 7, 2.5, True, "3"])
def test_clip_names_a_batch_size_it_cannot_draw(n):
    with pytest.raises(ValueError, match="n must be an integer from 2 to 6"):
        method_schematics.clip_dual_encoder(n)
