"""Tests for mmcourse.diffusion: the DDPM schedule, forward and reverse steps against their closed forms.

The references are written independently of the module: one number at a time with Python's ``math`` in
float64 (schedules), or from the posterior of Ho et al.'s equation 7 (the reverse step, which the module
writes in the ε form of equation 11).
"""
import math
import re

import numpy as np
import pytest
import torch

from mmcourse.diffusion import (DDPMSchedule, TimestepEmbedding, check_training_loss, classifier_free_guidance,
                                cosine_betas, drop_condition, linear_betas, training_loss)
from mmcourse.positional import sinusoidal_encoding

TOL = dict(atol=1e-5, rtol=1e-5)


def _alpha_bars_by_hand(betas):
    """ᾱ_t = Π_{s ≤ t} (1 − β_s), one product at a time in Python floats."""
    out, product = [], 1.0
    for beta in betas:
        product *= 1.0 - float(beta)
        out.append(product)
    return torch.tensor(out, dtype=torch.float64)


# ---- the schedule ------------------------------------------------------------------------------------
def test_default_schedule_is_ho_et_al_linear_in_float32():
    schedule = DDPMSchedule()
    assert schedule.num_steps == 1000
    for name in ("betas", "alphas", "alpha_bars"):
        tensor = getattr(schedule, name)
        assert tensor.dtype == torch.float32 and tensor.shape == (1000,), name
    assert math.isclose(float(schedule.betas[0]), 1e-4, rel_tol=1e-6)
    assert math.isclose(float(schedule.betas[-1]), 0.02, rel_tol=1e-6)
    expected = [1e-4 + (0.02 - 1e-4) * i / 999 for i in range(1000)]
    torch.testing.assert_close(schedule.betas, torch.tensor(expected, dtype=torch.float32), **TOL)


@pytest.mark.parametrize("num_steps, beta_start, beta_end", [(1000, 1e-4, 0.02), (100, 1e-3, 0.2), (7, 0.05, 0.5),
                                                             (1, 0.3, 0.3)])
def test_alphas_and_alpha_bars_are_the_closed_forms(num_steps, beta_start, beta_end):
    schedule = DDPMSchedule(num_steps, beta_start, beta_end)
    betas = schedule.betas.double()
    torch.testing.assert_close(schedule.alphas.double(), 1 - betas, **TOL)
    torch.testing.assert_close(schedule.alpha_bars.double(), _alpha_bars_by_hand(betas), **TOL)
    prev = torch.cat([torch.ones(1, dtype=torch.float64), _alpha_bars_by_hand(betas)[:-1]])
    torch.testing.assert_close(schedule.alpha_bars_prev.double(), prev, **TOL)


def test_posterior_variance_is_beta_tilde_and_zero_at_the_first_step():
    schedule = DDPMSchedule(50, 1e-3, 0.1)
    ab = _alpha_bars_by_hand(schedule.betas.double())
    for t in range(1, 50):
        beta_tilde = (1 - float(ab[t - 1])) / (1 - float(ab[t])) * float(schedule.betas[t])
        assert math.isclose(float(schedule.posterior_variance[t]), beta_tilde, rel_tol=1e-5, abs_tol=1e-7)
    assert float(schedule.posterior_variance[0]) == 0.0
    assert (schedule.posterior_variance[1:] < schedule.betas[1:]).all(), "β̃_t < β_t for t > 1"


def test_snr_is_alpha_bar_over_one_minus_alpha_bar_and_falls():
    schedule = DDPMSchedule(100, 1e-3, 0.2)
    ab = schedule.alpha_bars.double()
    torch.testing.assert_close(schedule.snr().double(), ab / (1 - ab), **TOL)
    assert (schedule.snr()[1:] < schedule.snr()[:-1]).all()


def test_the_forward_process_composes_into_the_closed_form():
    """Iterating x_t = √α_t x_{t−1} + √β_t ε on the mean's factor and the variance gives √ᾱ_t and 1 − ᾱ_t."""
    schedule = DDPMSchedule(200, 1e-3, 0.05)
    m, v = 1.0, 0.0
    for t in range(200):
        beta = float(schedule.betas[t])
        m, v = math.sqrt(1 - beta) * m, (1 - beta) * v + beta
        assert math.isclose(m, math.sqrt(float(schedule.alpha_bars[t])), rel_tol=1e-5)
        assert math.isclose(v, 1 - float(schedule.alpha_bars[t]), rel_tol=1e-5, abs_tol=1e-6)


def test_cosine_schedule_follows_its_alpha_bar_formula():
    T, s = 100, 0.008
    betas = cosine_betas(T, s=s)
    assert betas.dtype == torch.float32 and betas.shape == (T,)
    f = [math.cos((t / T + s) / (1 + s) * math.pi / 2) ** 2 for t in range(T + 1)]
    expected = torch.tensor([f[t] / f[0] for t in range(1, T + 1)], dtype=torch.float64)
    got = DDPMSchedule.from_betas(betas).alpha_bars.double()
    cap = torch.tensor(0.999)  # in float32, like the betas
    uncapped = betas < cap
    torch.testing.assert_close(got[uncapped], expected[uncapped], **TOL)
    assert betas.max() == cap and uncapped.sum() == T - 1, "only the very last β (where ᾱ reaches 0) is capped"


def test_linear_betas_match_the_schedule_and_from_betas_keeps_them():
    betas = linear_betas(30, 1e-3, 0.3)
    schedule = DDPMSchedule.from_betas(betas)
    torch.testing.assert_close(schedule.betas, DDPMSchedule(30, 1e-3, 0.3).betas)
    assert schedule.num_steps == 30


def test_the_schedule_tensors_are_buffers_that_move_with_the_module():
    schedule = DDPMSchedule(10)
    assert {"betas", "alphas", "alpha_bars", "alpha_bars_prev", "posterior_variance"} <= set(dict(schedule.named_buffers()))
    assert schedule.to(torch.float64).alpha_bars.dtype == torch.float64


@pytest.mark.parametrize("args, match", [((0,), "num_steps"), ((2.5,), "num_steps"), ((True,), "num_steps"),
                                         ((10, 0.0, 0.02), "beta_start and beta_end"),
                                         ((10, 1e-4, 1.5), "beta_start and beta_end"),
                                         ((10, 0.02, 0.01), "beta_start must be <= beta_end"),
                                         ((10, "0.1", 0.2), "beta_start"), ((10, 1e-4, float("nan")), "beta_end")])
def test_bad_schedule_arguments_are_rejected_by_name(args, match):
    with pytest.raises(ValueError, match=match):
        DDPMSchedule(*args)


@pytest.mark.parametrize("betas", [torch.tensor([]), torch.tensor([0.1, 0.0]), torch.tensor([[0.1]]),
                                   torch.tensor([0.1, 1.2]), [0.1, 0.2], torch.tensor([1, 2])])
def test_from_betas_rejects_what_is_not_a_schedule(betas):
    with pytest.raises(ValueError, match="beta"):
        DDPMSchedule.from_betas(betas)


@pytest.mark.parametrize("kwargs, match", [(dict(s=-0.1), "s must be"), (dict(max_beta=0.0), "max_beta"),
                                           (dict(num_steps=0), "num_steps")])
def test_cosine_betas_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        cosine_betas(**kwargs)


# ---- q_sample ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(4, 2), (3, 64), (5, 1, 8, 8), (2, 4, 2, 2)])
def test_q_sample_is_the_closed_form_row_by_row(shape):
    schedule = DDPMSchedule(100, 1e-3, 0.2)
    g = torch.Generator().manual_seed(0)
    x0, noise = torch.randn(shape, generator=g), torch.randn(shape, generator=g)
    t = torch.randint(0, 100, (shape[0],), generator=g)
    got = schedule.q_sample(x0, t, noise)
    for b in range(shape[0]):
        ab = float(schedule.alpha_bars[int(t[b])])
        expected = math.sqrt(ab) * x0[b].double() + math.sqrt(1 - ab) * noise[b].double()
        torch.testing.assert_close(got[b].double(), expected, **TOL)


def test_q_sample_with_one_int_step_is_the_same_for_every_row():
    schedule = DDPMSchedule(20, 1e-3, 0.3)
    g = torch.Generator().manual_seed(1)
    x0, noise = torch.randn(6, 3, generator=g), torch.randn(6, 3, generator=g)
    torch.testing.assert_close(schedule.q_sample(x0, 7, noise), schedule.q_sample(x0, torch.full((6,), 7), noise))


def test_q_sample_draws_its_noise_from_the_generator_when_none_is_given():
    schedule = DDPMSchedule(20, 1e-3, 0.3)
    x0 = torch.randn(6, 3)
    t = torch.arange(6)
    noise = torch.randn(6, 3, generator=torch.Generator().manual_seed(2))
    drawn = schedule.q_sample(x0, t, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(drawn, schedule.q_sample(x0, t, noise))


def test_q_sample_at_the_ends_is_almost_the_data_and_almost_the_noise():
    schedule = DDPMSchedule(1000)
    x0, noise = torch.ones(2, 5), torch.full((2, 5), -1.0)
    first, last = schedule.q_sample(x0, torch.tensor([0, 999]), noise)
    assert (first - x0[0]).abs().max() < 0.02 and (last - noise[1]).abs().max() < 0.01


@pytest.mark.parametrize("t, match", [(torch.tensor([0, 100]), "0 … 99"), (torch.tensor([-1, 3]), "0 … 99"),
                                      (torch.tensor([0.0, 1.0]), "integer"), (torch.tensor([1, 2, 3]), r"\(2,\)"),
                                      (100, "0 … 99"), (1.5, "integer"), (torch.tensor([True, False]), "integer")])
def test_q_sample_rejects_bad_steps(t, match):
    schedule = DDPMSchedule(100, 1e-3, 0.2)
    with pytest.raises(ValueError, match=match):
        schedule.q_sample(torch.zeros(2, 3), t, torch.zeros(2, 3))


def test_q_sample_rejects_noise_of_another_shape_and_integer_data():
    schedule = DDPMSchedule(10)
    with pytest.raises(ValueError, match="noise must be a tensor of the data's shape"):
        schedule.q_sample(torch.zeros(2, 3), torch.tensor([0, 1]), torch.zeros(2, 4))
    with pytest.raises(ValueError, match="x0 must be a float tensor"):
        schedule.q_sample(torch.zeros(2, 3, dtype=torch.int64), torch.tensor([0, 1]))


# ---- the reverse step --------------------------------------------------------------------------------
@pytest.mark.parametrize("t", [1, 2, 17, 48, 99])
def test_step_is_equation_11_and_equals_the_posterior_mean_of_equation_7(t):
    schedule = DDPMSchedule(100, 1e-3, 0.2)
    g = torch.Generator().manual_seed(t)
    x0, eps, z = (torch.randn(3, 16, generator=g) for _ in range(3))
    x_t = schedule.q_sample(x0, t, eps)
    b, a = float(schedule.betas[t]), float(schedule.alphas[t])
    ab, abp = float(schedule.alpha_bars[t]), float(schedule.alpha_bars[t - 1])
    beta_tilde = (1 - abp) / (1 - ab) * b
    # equation 11: the ε form of the mean
    mean_eps = (x_t.double() - b / math.sqrt(1 - ab) * eps.double()) / math.sqrt(a)
    torch.testing.assert_close(schedule.step(eps, t, x_t, z).double(), mean_eps + math.sqrt(beta_tilde) * z.double(),
                               **TOL)
    # equation 7: the posterior mean from x_0 and x_t, with no ε in it
    mean_x0 = math.sqrt(abp) * b / (1 - ab) * x0.double() + math.sqrt(a) * (1 - abp) / (1 - ab) * x_t.double()
    torch.testing.assert_close(schedule.step(eps, t, x_t, torch.zeros_like(z)).double(), mean_x0, atol=1e-4, rtol=1e-4)


def test_the_last_step_adds_no_noise_and_draws_none():
    schedule = DDPMSchedule(30, 1e-3, 0.3)
    eps, x_t = torch.randn(4, 3), torch.randn(4, 3)
    mean = (x_t - schedule.betas[0] / (1 - schedule.alpha_bars[0]).sqrt() * eps) / schedule.alphas[0].sqrt()
    torch.testing.assert_close(schedule.step(eps, 0, x_t, torch.full((4, 3), 5.0)), mean, **TOL)
    g = torch.Generator().manual_seed(3)
    state = g.get_state()
    schedule.step(eps, 0, x_t, generator=g)
    assert torch.equal(g.get_state(), state), "the last step must not consume random numbers"


def test_step_draws_its_noise_from_the_generator_when_none_is_given():
    schedule = DDPMSchedule(30, 1e-3, 0.3)
    eps, x_t = torch.randn(4, 3), torch.randn(4, 3)
    z = torch.randn(4, 3, generator=torch.Generator().manual_seed(4))
    torch.testing.assert_close(schedule.step(eps, 12, x_t, generator=torch.Generator().manual_seed(4)),
                               schedule.step(eps, 12, x_t, z))


@pytest.mark.parametrize("t, match", [(-1, "0 … 29"), (30, "0 … 29"), (2.0, "int step index"), (True, "int step index"),
                                      (torch.tensor([1, 2]), "int step index")])
def test_step_rejects_bad_steps(t, match):
    schedule = DDPMSchedule(30, 1e-3, 0.3)
    with pytest.raises(ValueError, match=match):
        schedule.step(torch.zeros(2, 3), t, torch.zeros(2, 3))


def test_step_accepts_a_one_element_integer_tensor_and_rejects_mismatched_eps():
    schedule = DDPMSchedule(30, 1e-3, 0.3)
    eps, x_t, z = torch.randn(2, 3), torch.randn(2, 3), torch.randn(2, 3)
    torch.testing.assert_close(schedule.step(eps, torch.tensor(5), x_t, z), schedule.step(eps, 5, x_t, z))
    with pytest.raises(ValueError, match="eps must be a tensor of the data's shape"):
        schedule.step(torch.zeros(2, 4), 5, x_t, z)
    with pytest.raises(ValueError, match="eps must be a tensor"):
        schedule.step(None, 5, x_t, z)


def test_predict_x0_inverts_q_sample():
    schedule = DDPMSchedule(100, 1e-3, 0.2)
    x0, eps = torch.randn(5, 7), torch.randn(5, 7)
    t = torch.tensor([0, 10, 40, 70, 90])
    torch.testing.assert_close(schedule.predict_x0(schedule.q_sample(x0, t, eps), t, eps), x0, atol=1e-4, rtol=1e-4)


# ---- the loss and sampling ---------------------------------------------------------------------------
def test_loss_is_the_mean_squared_error_of_the_noise_at_uniform_steps():
    schedule = DDPMSchedule(50, 1e-3, 0.2)
    x0 = torch.randn(8, 3)
    seen = {}

    def eps_model(x_t, t):
        seen["x_t"], seen["t"] = x_t, t
        return torch.zeros_like(x_t)

    loss = schedule.loss(eps_model, x0, generator=torch.Generator().manual_seed(5))
    g = torch.Generator().manual_seed(5)
    t = torch.randint(0, 50, (8,), generator=g)
    noise = torch.randn(8, 3, generator=g)
    assert torch.equal(seen["t"], t)
    torch.testing.assert_close(seen["x_t"], schedule.q_sample(x0, t, noise))
    torch.testing.assert_close(loss, (noise ** 2).mean())


def test_loss_passes_the_condition_to_the_model():
    schedule = DDPMSchedule(10)
    condition = torch.arange(4)
    got = {}

    def eps_model(x_t, t, c):
        got["c"] = c
        return x_t

    schedule.loss(eps_model, torch.zeros(4, 2), condition)
    assert got["c"] is condition


@pytest.mark.parametrize("prediction, got", [(lambda x_t: x_t[:, 0], "(4,)"), (lambda x_t: x_t.T, "(1, 4)"),
                                             (lambda x_t: x_t.numpy(), "ndarray")])
def test_loss_names_a_prediction_that_is_not_the_shape_of_the_noise(prediction, got):
    # a (B,) prediction for (B, 1) data used to broadcast to (B, B): a wrong loss without a word
    with pytest.raises(ValueError, match=re.escape(f"the shape of x_t, (4, 1); got {got}")):
        DDPMSchedule(10).loss(lambda x_t, t: prediction(x_t), torch.zeros(4, 1))
def _sample_by_hand(schedule, eps_of, shape, seed):
    """Algorithm 2 written out: the reference for ``sample``."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=g)
    for t in reversed(range(schedule.num_steps)):
        eps = eps_of(x, t)
        b, a, ab = float(schedule.betas[t]), float(schedule.alphas[t]), float(schedule.alpha_bars[t])
        mean = (x - b / math.sqrt(1 - ab) * eps) / math.sqrt(a)
        x = mean + math.sqrt(float(schedule.posterior_variance[t])) * torch.randn(shape, generator=g) if t > 0 else mean
    return x


def test_sample_is_algorithm_2():
    schedule = DDPMSchedule(25, 1e-2, 0.4)
    model = lambda x, t: 0.3 * x + 0.01 * t[:, None].float()  # noqa: E731
    got = schedule.sample(model, (6, 2), generator=torch.Generator().manual_seed(6), progress=False)
    expected = _sample_by_hand(schedule, lambda x, t: 0.3 * x + 0.01 * t, (6, 2), seed=6)
    torch.testing.assert_close(got, expected, **TOL)


def test_sample_with_the_exact_noise_of_a_single_point_returns_that_point():
    """For data that is one point x*, ε(x_t, t) = (x_t − √ᾱ_t x*) / √(1 − ᾱ_t) exactly; DDPM must return x*."""
    schedule = DDPMSchedule(100, 1e-3, 0.2)
    target = torch.tensor([0.7, -1.2, 0.1])

    def exact_eps(x, t):
        ab = schedule.alpha_bars[t][:, None]
        return (x - ab.sqrt() * target) / (1 - ab).sqrt()

    x0 = schedule.sample(exact_eps, (10, 3), generator=torch.Generator().manual_seed(7), progress=False)
    torch.testing.assert_close(x0, target.expand(10, 3), atol=1e-4, rtol=0)


def test_sample_returns_the_whole_trajectory_from_pure_noise():
    schedule = DDPMSchedule(12, 1e-2, 0.5)
    x0, path = schedule.sample(lambda x, t: torch.zeros_like(x), (3, 2), generator=torch.Generator().manual_seed(8),
                               progress=False, return_trajectory=True)
    assert path.shape == (13, 3, 2)
    torch.testing.assert_close(path[0], torch.randn(3, 2, generator=torch.Generator().manual_seed(8)))
    torch.testing.assert_close(path[-1], x0)


def test_guided_sampling_uses_uncond_plus_scale_times_the_difference():
    schedule = DDPMSchedule(15, 1e-2, 0.4)
    condition, null = torch.tensor([1.0, 2.0, 3.0]), torch.tensor(0.0)

    def model(x, t, c):
        return 0.2 * x + 0.5 * c[:, None]  # the condition shifts the predicted noise

    for s in (0.0, 1.0, 4.0):
        got = schedule.sample(model, (3, 2), condition, guidance_scale=s, null_condition=null,
                              generator=torch.Generator().manual_seed(9), progress=False)
        # ε̃ = ε(x, ∅) + s (ε(x, c) − ε(x, ∅)) = 0.2 x + s · 0.5 c
        expected = _sample_by_hand(schedule, lambda x, t: 0.2 * x + s * 0.5 * condition[:, None], (3, 2), seed=9)
        torch.testing.assert_close(got, expected, **TOL)


def test_unguided_sampling_calls_the_model_once_per_step_with_the_condition():
    schedule = DDPMSchedule(5)
    calls = []

    def model(x, t, c):
        calls.append(len(x))
        return torch.zeros_like(x)

    schedule.sample(model, (4, 2), torch.zeros(4), progress=False)
    assert calls == [4] * 5


@pytest.mark.parametrize("kwargs, match", [
    (dict(guidance_scale=2.0), "needs a condition"),
    (dict(condition=torch.zeros(3), guidance_scale=2.0), "needs null_condition"),
    (dict(condition=torch.zeros(3), guidance_scale=2.0, null_condition=torch.zeros(2)), "needs null_condition"),
    (dict(condition=torch.zeros(5)), "one row per sample"),
    (dict(condition=torch.zeros(3), guidance_scale=float("inf"), null_condition=torch.zeros(3)), "guidance_scale"),
])
def test_sample_rejects_inconsistent_conditioning(kwargs, match):
    schedule = DDPMSchedule(5)
    with pytest.raises(ValueError, match=match):
        schedule.sample(lambda x, t, c=None: x, (3, 2), progress=False, **kwargs)


@pytest.mark.parametrize("shape", [4, (), (0, 2), (2, 1.5)])
def test_sample_rejects_bad_shapes(shape):
    with pytest.raises(ValueError, match="shape"):
        DDPMSchedule(5).sample(lambda x, t: x, shape, progress=False)


# ---- guidance, condition dropout, the timestep embedding ---------------------------------------------
def test_classifier_free_guidance_is_the_linear_combination():
    g = torch.Generator().manual_seed(10)
    ec, eu = torch.randn(3, 4, generator=g), torch.randn(3, 4, generator=g)
    torch.testing.assert_close(classifier_free_guidance(ec, eu, 0.0), eu)
    torch.testing.assert_close(classifier_free_guidance(ec, eu, 1.0), ec)
    torch.testing.assert_close(classifier_free_guidance(ec, eu, 3.5), eu + 3.5 * (ec - eu))
    with pytest.raises(ValueError, match="same shape"):
        classifier_free_guidance(ec, eu[:2], 2.0)
    with pytest.raises(ValueError, match="guidance_scale"):
        classifier_free_guidance(ec, eu, "2")


def test_drop_condition_replaces_rows_with_the_null_condition():
    condition = torch.arange(1, 2001).view(1000, 2)
    null = torch.tensor([-1, -1])
    assert torch.equal(drop_condition(condition, null, 0.0), condition)
    assert (drop_condition(condition, null, 1.0) == -1).all()
    dropped = drop_condition(condition, null, 0.3, torch.Generator().manual_seed(11))
    is_null = (dropped == null).all(dim=1)
    kept = ~is_null
    assert torch.equal(dropped[kept], condition[kept]), "rows are kept or replaced whole"
    assert 0.25 < float(is_null.float().mean()) < 0.35


@pytest.mark.parametrize("args, match", [((torch.zeros(4, 2), torch.zeros(3), 0.2), "null_condition"),
                                         ((torch.zeros(4, 2), torch.zeros(2), 1.5), "p_uncond"),
                                         (([1, 2], torch.zeros(2), 0.5), "condition")])
def test_drop_condition_rejects_bad_arguments(args, match):
    with pytest.raises(ValueError, match=match):
        drop_condition(*args)


def test_timestep_embedding_reads_the_lectures_sinusoids():
    embed = TimestepEmbedding(100, 16)
    torch.testing.assert_close(embed.pe, sinusoidal_encoding(100, 16))
    t = torch.tensor([0, 5, 99])
    torch.testing.assert_close(embed(t), embed.mlp(sinusoidal_encoding(100, 16)[t]))
    assert "pe" not in dict(embed.named_parameters())
    with pytest.raises(ValueError, match="0 … 99"):
        embed(torch.tensor([100]))
    with pytest.raises(ValueError, match="integer tensor"):
        embed(torch.tensor([1.0]))


# ---- against the published code ----------------------------------------------------------------------
class _PublishedDDPM:
    """The route of Ho et al.'s published code (github.com/hojonathanho/diffusion, ``diffusion_tf/
    diffusion_utils_2.py``), restated in NumPy float64 for the settings the course uses: the network predicts ε
    ("eps"), the reverse variance is the posterior's ("fixedsmall"), the loss is the squared error averaged over
    the numbers of each example ("mse", then the batch mean), and x̂_0 is not clipped. Index t = 0 is one step
    of noise, as here. The reverse step goes the long way round: x̂_0 from ε, then the posterior mean of x̂_0 and
    x_t, so it checks the course's one-line equation 11 against equation 7."""

    def __init__(self, betas):
        self.betas = np.asarray(betas, dtype=np.float64)
        self.alpha_bars = np.cumprod(1.0 - self.betas)
        self.alpha_bars_prev = np.concatenate([[1.0], self.alpha_bars[:-1]])
        self.variance = self.betas * (1.0 - self.alpha_bars_prev) / (1.0 - self.alpha_bars)
        # the published code takes the log of the variance with its first (zero) entry replaced by the second
        self.log_variance = np.log(np.concatenate([self.variance[1:2], self.variance[1:]]))
        self.coef_x0 = self.betas * np.sqrt(self.alpha_bars_prev) / (1.0 - self.alpha_bars)
        self.coef_xt = (1.0 - self.alpha_bars_prev) * np.sqrt(1.0 - self.betas) / (1.0 - self.alpha_bars)

    def q_sample(self, x0, t, noise):
        return np.sqrt(self.alpha_bars[t])[:, None] * x0 + np.sqrt(1.0 - self.alpha_bars[t])[:, None] * noise

    def p_sample(self, eps, t, x_t, z):
        x0_hat = np.sqrt(1.0 / self.alpha_bars[t]) * x_t - np.sqrt(1.0 / self.alpha_bars[t] - 1.0) * eps
        mean = self.coef_x0[t] * x0_hat + self.coef_xt[t] * x_t
        return mean + (0.0 if t == 0 else 1.0) * np.exp(0.5 * self.log_variance[t]) * z

    @staticmethod
    def loss(eps, eps_pred):
        return ((eps - eps_pred) ** 2).mean(axis=1).mean()


@pytest.mark.parametrize("num_steps, beta_start, beta_end", [(1000, 1e-4, 0.02), (100, 1e-3, 0.2)])
def test_schedule_q_sample_step_and_loss_match_the_published_code(num_steps, beta_start, beta_end):
    ours = DDPMSchedule(num_steps, beta_start, beta_end)
    published = _PublishedDDPM(np.linspace(beta_start, beta_end, num_steps, dtype=np.float64))
    np.testing.assert_allclose(ours.alpha_bars.double().numpy(), published.alpha_bars, rtol=1e-5)
    np.testing.assert_allclose(ours.posterior_variance.double().numpy(), published.variance, rtol=1e-4, atol=1e-9)
    g = torch.Generator().manual_seed(21)
    x0, noise, eps, z = (torch.randn(6, 5, generator=g) for _ in range(4))
    t = torch.tensor([0, 1, num_steps // 3, num_steps // 2, num_steps - 2, num_steps - 1])
    x_t = ours.q_sample(x0, t, noise)
    np.testing.assert_allclose(x_t.double().numpy(), published.q_sample(x0.double().numpy(), t.numpy(),
                                                                         noise.double().numpy()), atol=1e-5)
    for step in t.tolist():
        np.testing.assert_allclose(ours.step(eps, step, x_t, z).double().numpy(),
                                   published.p_sample(eps.double().numpy(), step, x_t.double().numpy(),
                                                      z.double().numpy()), atol=2e-4, rtol=1e-4)
    torch.testing.assert_close(torch.tensor(published.loss(noise.double().numpy(), eps.double().numpy())),
                               torch.nn.functional.mse_loss(eps, noise).double(), atol=1e-6, rtol=1e-6)


# ---- the exercise's reference and its check ------------------------------------------------------------
def test_training_loss_is_the_schedules_loss_and_passes_its_own_check():
    schedule = DDPMSchedule(20, 1e-2, 0.3)
    x0 = torch.randn(5, 4)
    model = lambda x_t, t: 0.1 * x_t  # noqa: E731
    torch.manual_seed(3)
    got = training_loss(schedule, model, x0)
    torch.manual_seed(3)
    torch.testing.assert_close(got, schedule.loss(model, x0))
    check_training_loss(training_loss)


def _loss_with(factors=None, target="noise", reduce="mean", last=None):
    """A training loss with one thing changed: the factors of x_0 and ε, the target, the reduction or the steps."""
    def loss(schedule, eps_model, x0):
        B, T = x0.shape[0], schedule.num_steps
        t = torch.randint(0, T if last is None else last, (B,))
        noise = torch.randn_like(x0)
        ab = schedule.alpha_bars[t][:, None]
        a, b = factors(ab) if factors else (ab.sqrt(), (1 - ab).sqrt())
        x_t = a * x0 + b * noise
        d = (eps_model(x_t, t) - {"noise": noise, "x0": x0}[target]) ** 2
        return d.mean() if reduce == "mean" else d.sum()
    return loss


@pytest.mark.parametrize("wrong, match", [
    (_loss_with(factors=lambda ab: (ab, 1 - ab)), "not distributed as q"),
    (_loss_with(target="x0"), "mean squared error between the noise"),
    (_loss_with(reduce="sum"), "mean squared error between the noise"),
    (_loss_with(last=5), "must cover"),
    (lambda schedule, eps_model, x0: schedule.loss(eps_model, x0).detach(), "no gradient"),
    (lambda schedule, eps_model, x0: torch.tensor(1.0), "never called the network"),
])
def test_check_training_loss_rejects_each_wrong_loss(wrong, match):
    with pytest.raises(ValueError, match=match):
        check_training_loss(wrong)
