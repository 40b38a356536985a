"""Tests for mmcourse.fusion: the three fusions, the AVDCNN loss and enhancer, STFT round trips, Griffin-Lim."""
import pytest
import torch
import torch.nn.functional as F
import torchaudio

from mmcourse import fusion


@pytest.fixture
def g():
    return torch.Generator().manual_seed(0)


# ---- early fusion ------------------------------------------------------------------------------------------
def test_concat_features_is_torch_cat_along_the_features(g):
    a, b = torch.randn(4, 3, generator=g), torch.randn(4, 5, generator=g)
    assert torch.equal(fusion.concat_features([a, b]), torch.cat([a, b], dim=1))


@pytest.mark.parametrize("xs, error, words", [
    ([], TypeError, "non-empty list"),
    ("x", TypeError, "non-empty list"),
    ([torch.zeros(3, 2), torch.zeros(4, 2)], ValueError, "batch size"),
    ([torch.zeros(3, 2), torch.zeros(3)], ValueError, r"xs\[1\] must be a 2-D tensor"),
])
def test_concat_features_rejects_bad_inputs_by_name(xs, error, words):
    with pytest.raises(error, match=words):
        fusion.concat_features(xs)


def test_early_fusion_first_layer_is_a_sum_of_one_linear_map_per_modality(g):
    torch.manual_seed(0)
    model = fusion.EarlyFusion([3, 5], hidden_size=7)
    a, b = torch.randn(4, 3, generator=g), torch.randn(4, 5, generator=g)
    W, bias = model.f[0].weight, model.f[0].bias
    expected = a @ W[:, :3].T + b @ W[:, 3:].T + bias
    torch.testing.assert_close(model.f[0](fusion.concat_features([a, b])), expected, atol=1e-5, rtol=0)
    assert model(a, b).shape == (4, 10)


def test_early_fusion_names_the_expected_input_sizes():
    with pytest.raises(ValueError, match=r"sizes \(3, 5\)"):
        fusion.EarlyFusion([3, 5])(torch.zeros(2, 4), torch.zeros(2, 5))


# ---- late fusion -------------------------------------------------------------------------------------------
def test_late_fusion_is_the_weighted_sum_of_softmax_probabilities(g):
    scores = [torch.randn(6, 4, generator=g) for _ in range(3)]
    w = torch.tensor([0.2, 0.5, 0.3])
    expected = sum(w[i] * F.softmax(scores[i], dim=1) for i in range(3))
    got = fusion.late_fusion(scores, w)
    torch.testing.assert_close(got, expected, atol=1e-6, rtol=0)
    torch.testing.assert_close(got.sum(1), torch.ones(6), atol=1e-6, rtol=0)


def test_late_fusion_takes_one_weight_row_per_example(g):
    scores = [torch.randn(2, 3, generator=g) for _ in range(2)]
    w = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    got = fusion.late_fusion(scores, w)
    torch.testing.assert_close(got[0], scores[0][0].softmax(0))
    torch.testing.assert_close(got[1], scores[1][1].softmax(0))


def test_late_fusion_rejects_weights_of_the_wrong_shape():
    with pytest.raises(ValueError, match=r"weights must have shape \(2,\)"):
        fusion.late_fusion([torch.zeros(3, 4), torch.zeros(3, 4)], torch.ones(3))


def test_late_fusion_module_leaves_a_missing_modality_out(g):
    f_1, f_2 = fusion.UnimodalClassifier(3), fusion.UnimodalClassifier(5)
    model = fusion.LateFusion([f_1, f_2], [3.0, 1.0])
    torch.testing.assert_close(model.weights, torch.tensor([0.75, 0.25]))  # normalised to sum to 1
    a, b = torch.randn(4, 3, generator=g), torch.randn(4, 5, generator=g)
    present = torch.tensor([[True, True], [True, False], [False, True], [True, True]])
    got = model(a, b, present=present)
    torch.testing.assert_close(got[1], f_1(a[1:2]).softmax(1)[0])
    torch.testing.assert_close(got[2], f_2(b[2:3]).softmax(1)[0])
    torch.testing.assert_close(got[0], 0.75 * f_1(a[:1]).softmax(1)[0] + 0.25 * f_2(b[:1]).softmax(1)[0])


def test_late_fusion_leaves_a_missing_modality_out_and_keeps_the_others_proportions(g):
    scores = [torch.randn(3, 4, generator=g) for _ in range(3)]
    w = torch.tensor([0.5, 0.3, 0.2])
    present = torch.tensor([[True, True, True], [True, False, True], [False, False, True]])
    got = fusion.late_fusion(scores, w, present)
    p = [s.softmax(1) for s in scores]
    torch.testing.assert_close(got[0], 0.5 * p[0][0] + 0.3 * p[1][0] + 0.2 * p[2][0])
    torch.testing.assert_close(got[1], (0.5 * p[0][1] + 0.2 * p[2][1]) / 0.7)
    torch.testing.assert_close(got[2], p[2][2])
    torch.testing.assert_close(got.sum(1), torch.ones(3))
    torch.testing.assert_close(fusion.late_fusion(scores, w, torch.ones(3, 3, dtype=torch.bool)),
                               fusion.late_fusion(scores, w))


def test_late_fusion_checks_the_present_mask():
    with pytest.raises(ValueError, match=r"present must be a bool tensor of shape \(3, 2\)"):
        fusion.late_fusion([torch.zeros(3, 4), torch.zeros(3, 4)], torch.ones(2) / 2, torch.ones(2, 3).bool())


def test_late_fusion_rejects_weights_that_are_not_numbers():
    with pytest.raises(TypeError, match="weights must be a tensor or list of numbers"):
        fusion.late_fusion([torch.zeros(3, 4)], "equal")


def test_late_fusion_module_checks_the_present_mask():
    model = fusion.LateFusion([fusion.UnimodalClassifier(3), fusion.UnimodalClassifier(5)], [0.5, 0.5])
    with pytest.raises(ValueError, match=r"present must be a bool tensor of shape \(2, 2\)"):
        model(torch.zeros(2, 3), torch.zeros(2, 5), present=torch.ones(2, dtype=torch.bool))


def test_late_fusion_module_with_log_adds_weighted_log_probabilities(g):
    f_1, f_2 = fusion.UnimodalClassifier(3), fusion.UnimodalClassifier(5)
    model = fusion.LateFusion([f_1, f_2], [0.4, 0.6], log=True)
    a, b = torch.randn(4, 3, generator=g), torch.randn(4, 5, generator=g)
    expected = 0.4 * f_1(a).log_softmax(1) + 0.6 * f_2(b).log_softmax(1)
    torch.testing.assert_close(model(a, b), expected, atol=1e-6, rtol=0)


@pytest.mark.parametrize("weights", [[1.0], [-0.5, 1.5], [0.0, 0.0]])
def test_late_fusion_module_rejects_bad_weights(weights):
    with pytest.raises(ValueError, match="weights must be 2 numbers"):
        fusion.LateFusion([fusion.UnimodalClassifier(3), fusion.UnimodalClassifier(5)], weights)


def test_late_fusion_module_checks_the_number_of_inputs():
    model = fusion.LateFusion([fusion.UnimodalClassifier(3), fusion.UnimodalClassifier(5)], [0.5, 0.5])
    with pytest.raises(ValueError, match="2 models but got 1 inputs"):
        model(torch.zeros(2, 3))


# ---- joint fusion ------------------------------------------------------------------------------------------
def test_z_joint_concatenates_the_encoder_features(g):
    f_1, f_2 = fusion.UnimodalClassifier(3, 4), fusion.UnimodalClassifier(5, 6)
    model = fusion.JointFusion([f_1.encoder, f_2.encoder], joint_size=10)
    a, b = torch.randn(2, 3, generator=g), torch.randn(2, 5, generator=g)
    assert torch.equal(model.z_joint(a, b), torch.cat([f_1.encoder(a), f_2.encoder(b)], dim=1))
    assert model(a, b).shape == (2, 10)


def test_frozen_encoders_are_updated_only_by_their_own_loss(g):
    f_1, f_2 = fusion.UnimodalClassifier(3, 4), fusion.UnimodalClassifier(5, 6)
    model = fusion.JointFusion([f_1.encoder, f_2.encoder], joint_size=10, train_encoders=False)
    a, b = torch.randn(8, 3, generator=g), torch.randn(8, 5, generator=g)
    F.cross_entropy(model(a, b), torch.arange(8) % 10).backward()
    assert all(p.grad is None and not p.requires_grad for p in model.encoders.parameters())
    assert all(p.grad is not None for p in model.g.parameters())


def test_end_to_end_joint_fusion_sends_the_loss_into_every_encoder(g):
    model = fusion.JointFusion([fusion.UnimodalClassifier(3).encoder, fusion.UnimodalClassifier(5).encoder], 128)
    scores = model(torch.randn(8, 3, generator=g), torch.randn(8, 5, generator=g))
    F.cross_entropy(scores, torch.zeros(8).long()).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.encoders.parameters())


def test_joint_fusion_checks_the_number_of_inputs():
    model = fusion.JointFusion([fusion.UnimodalClassifier(3).encoder], joint_size=64)
    with pytest.raises(ValueError, match="1 encoders but got 2 inputs"):
        model(torch.zeros(2, 3), torch.zeros(2, 3))


# ---- AVDCNN ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("mu", [0.0, 0.5, 7.0])
def test_avdcnn_loss_matches_summed_squared_errors_over_k(g, mu):
    K = 5
    Y, Y_hat = torch.randn(K, 6, 4, generator=g), torch.randn(K, 6, 4, generator=g)
    X, X_hat = torch.randn(K, 9, generator=g), torch.randn(K, 9, generator=g)
    expected = (F.mse_loss(Y_hat, Y, reduction="sum") + mu * F.mse_loss(X_hat, X, reduction="sum")) / K
    torch.testing.assert_close(fusion.avdcnn_loss(Y_hat, Y, X_hat, X, mu), expected, atol=1e-5, rtol=1e-6)


@pytest.mark.parametrize("args, words", [
    ((torch.zeros(2, 3), torch.zeros(2, 4), torch.zeros(2, 5), torch.zeros(2, 5), 1.0), "Y_hat"),
    ((torch.zeros(2, 3), torch.zeros(2, 3), torch.zeros(2, 5), torch.zeros(2, 6), 1.0), "X_V_hat"),
    ((torch.zeros(2, 3), torch.zeros(2, 3), torch.zeros(3, 5), torch.zeros(3, 5), 1.0), "batch size K"),
    ((torch.zeros(2, 3), torch.zeros(2, 3), torch.zeros(2, 5), torch.zeros(2, 5), -1.0), "mu"),
    ((torch.zeros(2, 3), torch.zeros(2, 3), torch.zeros(2, 5), torch.zeros(2, 5), "big"), "mu"),
])
def test_avdcnn_loss_rejects_bad_inputs_by_name(args, words):
    with pytest.raises(ValueError, match=words):
        fusion.avdcnn_loss(*args)


def test_enhancer_outputs_a_gain_on_the_noisy_magnitudes_and_an_image(g):
    torch.manual_seed(0)
    model = fusion.AVEnhancer(n_freq=17, image_size=12, channels=8, visual_size=4)
    X_A, X_V = torch.rand(3, 17, 9, generator=g), torch.rand(3, 12, generator=g)
    Y_hat, X_V_hat = model(X_A, X_V)
    assert Y_hat.shape == (3, 17, 9) and X_V_hat.shape == (3, 12)
    assert (Y_hat >= 0).all() and (Y_hat <= X_A).all()  # a gain in (0, 1) on non-negative magnitudes
    assert not torch.allclose(model(X_A, torch.zeros_like(X_V))[0], Y_hat)  # the image changes the speech


def test_audio_only_enhancer_has_the_same_size_and_ignores_the_image(g):
    av, audio = fusion.AVEnhancer(use_image=True), fusion.AVEnhancer(use_image=False)
    assert sum(p.numel() for p in av.parameters()) == sum(p.numel() for p in audio.parameters())
    X_A = torch.rand(2, 129, 5, generator=g)
    torch.testing.assert_close(audio(X_A, torch.rand(2, 64, generator=g))[0], audio(X_A, torch.zeros(2, 64))[0])


def test_enhancer_rejects_inputs_of_the_wrong_shape():
    with pytest.raises(ValueError, match=r"X_A must be \(B, F, T\)"):
        fusion.AVEnhancer()(torch.zeros(2, 129), torch.zeros(2, 64))


# ---- spectrograms and Griffin-Lim --------------------------------------------------------------------------
def test_magnitude_and_phase_invert_to_the_waveform(g):
    w = torch.randn(3, 2048, generator=g)
    magnitude, phase = fusion.magnitude_and_phase(w)
    S = torch.stft(w, fusion.N_FFT, fusion.HOP, window=torch.hann_window(fusion.N_FFT), return_complex=True)
    torch.testing.assert_close(magnitude, S.abs())
    assert magnitude.shape == (3, fusion.N_FFT // 2 + 1, 2048 // fusion.HOP + 1)
    torch.testing.assert_close(fusion.waveform_from(magnitude, phase, 2048), w, atol=1e-5, rtol=0)


def test_spectrogram_helpers_reject_bad_shapes():
    with pytest.raises(ValueError, match=r"waveforms must be a tensor \(B, L\)"):
        fusion.magnitude_and_phase(torch.zeros(10))
    with pytest.raises(ValueError, match="one shape"):
        fusion.waveform_from(torch.zeros(1, 129, 5), torch.zeros(1, 129, 6), 512)


@pytest.mark.parametrize("momentum", [0.0, 0.99])
def test_griffin_lim_matches_torchaudio(g, momentum):
    magnitude = fusion.magnitude_and_phase(torch.randn(2, 1536, generator=g))[0]
    ours = fusion.griffin_lim(magnitude, 1536, n_iter=8, momentum=momentum)
    theirs = torchaudio.functional.griffinlim(magnitude, torch.hann_window(fusion.N_FFT), fusion.N_FFT, fusion.HOP,
                                              fusion.N_FFT, 1.0, 8, momentum, 1536, False)
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=0)


def test_griffin_lim_brings_the_magnitude_closer_with_more_iterations(g):
    t = torch.arange(2048) / 8000
    w = (torch.sin(2 * torch.pi * 440 * t) + 0.5 * torch.sin(2 * torch.pi * 1300 * t))[None]  # (1, L)
    magnitude = fusion.magnitude_and_phase(w)[0]

    def error(n_iter):
        rebuilt = fusion.magnitude_and_phase(fusion.griffin_lim(magnitude, 2048, n_iter=n_iter))[0]
        return (rebuilt - magnitude).norm() / magnitude.norm()

    assert error(32) < error(1) < 1


@pytest.mark.parametrize("kwargs, words", [({"momentum": 1.0}, "momentum"), ({"n_iter": 0}, "n_iter")])
def test_griffin_lim_rejects_bad_settings(kwargs, words):
    with pytest.raises(ValueError, match=words):
        fusion.griffin_lim(torch.ones(1, 129, 5), 512, **kwargs)


# ---- joint fusion by the seminar's rule, and the timing-only visual stream -----------------------------------
def test_joint_fusion_loss_trains_each_encoder_by_its_own_loss_only(g):
    torch.manual_seed(0)
    encoders = [torch.nn.Linear(3, 4), torch.nn.Linear(5, 4)]
    heads = [torch.nn.Linear(4, 3), torch.nn.Linear(4, 3)]
    head = torch.nn.Linear(8, 3)
    xs, y = [torch.randn(6, 3, generator=g), torch.randn(6, 5, generator=g)], torch.tensor([0, 1, 2, 0, 1, 2])
    loss = fusion.joint_fusion_loss(encoders, heads, head, xs, y)
    own = F.cross_entropy(heads[0](encoders[0](xs[0])), y)
    fused = F.cross_entropy(head(torch.cat([e(x) for e, x in zip(encoders, xs)], 1)), y)
    grad, = torch.autograd.grad(loss, encoders[0].weight, retain_graph=True)
    torch.testing.assert_close(grad, torch.autograd.grad(own, encoders[0].weight)[0])
    torch.testing.assert_close(torch.autograd.grad(loss, head.weight)[0], torch.autograd.grad(fused, head.weight)[0])


def test_joint_fusion_loss_needs_one_encoder_head_and_input_per_modality():
    with pytest.raises(ValueError, match="one encoder, one head and one input"):
        fusion.joint_fusion_loss([torch.nn.Linear(2, 2)], [], torch.nn.Linear(2, 2), [torch.zeros(1, 2)],
                                 torch.zeros(1, dtype=torch.long))


def test_mouth_opening_is_in_zero_one_and_follows_the_loudness():
    magnitude = torch.full((2, 5, 20), 1e-3)
    magnitude[:, :, 6:14] = 1.0  # loud frames in the middle
    opening = fusion.mouth_opening(magnitude)
    assert opening.shape == (2, 20) and opening.min() >= 0 and opening.max() <= 1
    assert opening[0, 10] > 0.9 and opening[0, 0] < 0.1


def test_av_enhancer_with_a_per_frame_visual_signal_keeps_the_shapes():
    model = fusion.AVEnhancer(n_freq=9, channels=4, visual_size=3, per_frame=True)
    Y_hat, X_V_hat = model(torch.rand(2, 9, 7), torch.rand(2, 7))
    assert Y_hat.shape == (2, 9, 7) and X_V_hat.shape == (2, 7)
    with pytest.raises(ValueError, match="one number per frame"):
        model(torch.rand(2, 9, 7), torch.rand(2, 6))
