"""Diffusion models (DDPM): destroy data with Gaussian noise step by step, and learn to undo it.

The **forward process** adds a little noise at each of ``T`` steps,
``q(x_t | x_{t−1}) = N(x_t; √(1−β_t) x_{t−1}, β_t I)``, so that after ``T`` steps nothing of the data
is left. With ``α_t = 1 − β_t`` and ``ᾱ_t = α_1 ⋯ α_t`` it has a closed form,
``q(x_t | x_0) = N(x_t; √ᾱ_t x_0, (1 − ᾱ_t) I)``, which ``q_sample`` draws from in one go. The
**reverse process** ``p_θ(x_{t−1} | x_t) = N(x_{t−1}; μ_θ(x_t, t), σ_t² I)`` is learned by predicting
the noise ``ε`` that was added (``loss``: ``L_DM = E‖ε − ε_θ(x_t, t)‖²``); ``step`` takes one reverse
step with ``σ_t² = β̃_t``, the variance of the true posterior ``q(x_{t−1} | x_t, x_0)``, and ``sample``
runs all of them, optionally conditioned on another modality and with classifier-free guidance.

**Indices.** Python counts from 0, the paper from 1: index ``t = 0 … T−1`` here is the paper's
``t = 1 … T``. So ``alpha_bars[0] = α_1`` (almost 1, almost no noise) and ``alpha_bars[T−1] = ᾱ_T``
(almost 0, almost pure noise); ``step`` at index 0 returns the sample ``x_0`` and adds no noise.

Defined in notebook 07 (diffusion).
Sources: Ho, Jain and Abbeel (2020), "Denoising diffusion probabilistic models" (equations 4, 7, 11,
14 and Algorithms 1–2); Nichol and Dhariwal (2021), the cosine schedule; Ho and Salimans (2022),
"Classifier-free diffusion guidance"; Rombach et al. (2022), latent diffusion (Stable Diffusion).
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from mmcourse.positional import sinusoidal_encoding
from mmcourse.training import show_progress

__all__ = ["linear_betas", "cosine_betas", "DDPMSchedule", "classifier_free_guidance", "drop_condition",
           "TimestepEmbedding", "training_loss", "check_training_loss"]


def _steps(num_steps, name: str = "num_steps") -> int:
    if isinstance(num_steps, bool) or not isinstance(num_steps, numbers.Integral) or num_steps < 1:
        raise ValueError(f"{name} must be an int >= 1, got {num_steps!r}")
    return int(num_steps)


def _real(x, name: str) -> float:
    if isinstance(x, bool) or not isinstance(x, numbers.Real) or not math.isfinite(x):
        raise ValueError(f"{name} must be a finite real number, got {x!r}")
    return float(x)


def _generator_device(generator: torch.Generator | None) -> torch.device:
    """Random numbers are drawn on the generator's device (the CPU without one), then moved."""
    return generator.device if generator is not None else torch.device("cpu")


def linear_betas(num_steps: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02) -> torch.Tensor:
    """``(T,)`` float32: β_t rising linearly from ``beta_start`` to ``beta_end`` (Ho et al.'s schedule).

    Defined in notebook 07. Both ends must satisfy ``0 < β ≤ 1`` and ``beta_start ≤ beta_end``.
    """
    T = _steps(num_steps)
    lo, hi = _real(beta_start, "beta_start"), _real(beta_end, "beta_end")
    if not (0 < lo <= 1 and 0 < hi <= 1):
        raise ValueError(f"beta_start and beta_end must lie in (0, 1], got {lo} and {hi}")
    if lo > hi:
        raise ValueError(f"beta_start must be <= beta_end (the noise grows), got {lo} > {hi}")
    return torch.linspace(lo, hi, T, dtype=torch.float64).float()  # (T,)


def cosine_betas(num_steps: int = 1000, s: float = 0.008, max_beta: float = 0.999) -> torch.Tensor:
    """``(T,)`` float32: the cosine schedule, ``ᾱ(t) = f(t)/f(0)`` with ``f(t) = cos²((t/T + s)/(1 + s)·π/2)``.

    Defined in notebook 07. ``β_t = 1 − ᾱ(t)/ᾱ(t−1)``, capped at ``max_beta`` near ``t = T`` (Nichol and
    Dhariwal, 2021): ᾱ falls slowly at both ends, so fewer steps are wasted on almost-pure noise.
    """
    T = _steps(num_steps)
    s, max_beta = _real(s, "s"), _real(max_beta, "max_beta")
    if s < 0:
        raise ValueError(f"s must be >= 0, got {s}")
    if not 0 < max_beta <= 1:
        raise ValueError(f"max_beta must lie in (0, 1], got {max_beta}")
    steps = torch.arange(T + 1, dtype=torch.float64) / T  # (T+1,): t/T for t = 0 … T
    # f(t) = cos²((t/T + s)/(1 + s) · π/2)
    f = torch.cos((steps + s) / (1 + s) * math.pi / 2) ** 2
    # β_t = 1 − ᾱ(t)/ᾱ(t−1) = 1 − f(t)/f(t−1)
    return (1 - f[1:] / f[:-1]).clamp(max=max_beta).float()  # (T,)


class DDPMSchedule(nn.Module):
    """The noise schedule of a DDPM and everything computed from it; ``T = num_steps``.

    Defined in notebook 07. Buffers (float32, length T, they move with ``.to(device)``): ``betas``
    (β_t), ``alphas`` (α_t = 1 − β_t), ``alpha_bars`` (ᾱ_t = Π_{s≤t} α_s), ``alpha_bars_prev``
    (ᾱ_{t−1}, with ᾱ_0 = 1) and ``posterior_variance`` (β̃_t). ``DDPMSchedule.from_betas`` takes any
    schedule, e.g. ``cosine_betas(T)``.
    """

    def __init__(self, num_steps: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02):
        super().__init__()
        self._set_betas(linear_betas(num_steps, beta_start, beta_end))

    @classmethod
    def from_betas(cls, betas) -> DDPMSchedule:
        """A schedule with the given β_1 … β_T (a 1-D tensor of values in (0, 1])."""
        if not isinstance(betas, torch.Tensor) or betas.ndim != 1 or len(betas) == 0 \
                or not torch.is_floating_point(betas):
            raise ValueError(f"betas must be a non-empty 1-D float tensor, got {getattr(betas, 'shape', betas)!r}")
        if not ((betas > 0) & (betas <= 1)).all():
            raise ValueError(f"every beta must lie in (0, 1], got values from {float(betas.min()):.3g} "
                             f"to {float(betas.max()):.3g}")
        schedule = cls(len(betas))
        schedule._set_betas(betas.detach().cpu().float())
        return schedule

    def _set_betas(self, betas: torch.Tensor) -> None:
        b = betas.double()  # the products are taken in float64, then stored as float32
        # α_t = 1 − β_t
        alphas = 1 - b
        # ᾱ_t = Π_{s=1}^{t} α_s
        alpha_bars = torch.cumprod(alphas, dim=0)
        # ᾱ_{t−1}, with ᾱ_0 = 1 (no noise before the first step)
        alpha_bars_prev = torch.cat([torch.ones(1, dtype=torch.float64), alpha_bars[:-1]])
        # β̃_t = (1 − ᾱ_{t−1}) / (1 − ᾱ_t) · β_t   (Ho et al., equation 7); β̃_1 = 0
        posterior_variance = (1 - alpha_bars_prev) / (1 - alpha_bars) * b
        for name, value in (("betas", b), ("alphas", alphas), ("alpha_bars", alpha_bars),
                            ("alpha_bars_prev", alpha_bars_prev), ("posterior_variance", posterior_variance)):
            self.register_buffer(name, value.float(), persistent=False)  # (T,)

    @property
    def num_steps(self) -> int:
        return len(self.betas)

    def extra_repr(self) -> str:
        return f"num_steps={self.num_steps}, beta {float(self.betas[0]):.3g} … {float(self.betas[-1]):.3g}"

    def snr(self) -> torch.Tensor:
        """``(T,)`` the signal-to-noise ratio of ``x_t``: ``ᾱ_t / (1 − ᾱ_t)``."""
        return self.alpha_bars / (1 - self.alpha_bars)

    # ---- checks ---------------------------------------------------------------------------------
    def _index(self, t) -> int:
        if isinstance(t, torch.Tensor) and t.numel() == 1 and not t.is_floating_point() and t.dtype != torch.bool:
            t = int(t)
        if isinstance(t, bool) or not isinstance(t, numbers.Integral):
            raise ValueError(f"t must be an int step index 0 … {self.num_steps - 1}, got {t!r}")
        if not 0 <= t < self.num_steps:
            raise ValueError(f"t must lie in 0 … {self.num_steps - 1} (T = {self.num_steps} steps), got {t}")
        return int(t)

    def _indices(self, t, batch: int) -> torch.Tensor:
        """``t`` as a ``(B,)`` int64 tensor on the schedule's device: one step index per row."""
        if isinstance(t, numbers.Integral) and not isinstance(t, bool):
            t = torch.full((batch,), self._index(t), dtype=torch.int64)
        if not isinstance(t, torch.Tensor) or t.is_floating_point() or t.dtype == torch.bool or t.is_complex():
            raise ValueError(f"t must be an int or an integer tensor of step indices, got "
                             f"{t.dtype if isinstance(t, torch.Tensor) else type(t).__name__}")
        if t.shape != (batch,):
            raise ValueError(f"t must have one step index per row, shape ({batch},), got {tuple(t.shape)}")
        if ((t < 0) | (t >= self.num_steps)).any():
            raise ValueError(f"t must lie in 0 … {self.num_steps - 1} (T = {self.num_steps} steps), got values "
                             f"{int(t.min())} … {int(t.max())}")
        return t.to(self.betas.device, torch.int64)

    @staticmethod
    def _data(x, name: str) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or not torch.is_floating_point(x) or x.ndim < 1:
            got = f"shape {tuple(x.shape)} {x.dtype}" if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"{name} must be a float tensor (B, ...), got {got}")
        return x

    @staticmethod
    def _like(x, like: torch.Tensor, name: str) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.shape != like.shape:
            raise ValueError(f"{name} must be a tensor of the data's shape {tuple(like.shape)}, got "
                             f"{getattr(x, 'shape', type(x).__name__)}")
        return x

    def _noise(self, noise, like: torch.Tensor, generator) -> torch.Tensor:
        if noise is None:  # drawn where the generator lives (the CPU by default), then moved to the data
            return torch.randn(like.shape, generator=generator, dtype=like.dtype,
                               device=_generator_device(generator)).to(like.device)
        return self._like(noise, like, "noise")

    # ---- the forward process --------------------------------------------------------------------
    def q_sample(self, x0: torch.Tensor, t, noise: torch.Tensor | None = None,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        """Draw ``x_t ~ q(x_t | x_0)``: ``√ᾱ_t x_0 + √(1 − ᾱ_t) ε`` for each row of ``x0`` ``(B, ...)``.

        Defined in notebook 07. ``t`` is a ``(B,)`` integer tensor (one step per row) or an int for
        all rows; ``noise`` (ε, the shape of ``x0``) is drawn if ``None``.
        """
        x0 = self._data(x0, "x0")
        B = x0.shape[0]
        t = self._indices(t, B)
        noise = self._noise(noise, x0, generator)
        # ᾱ_t of each row, shaped (B, 1, …, 1) so that it scales the whole row
        alpha_bar = self.alpha_bars[t].view(B, *[1] * (x0.ndim - 1)).to(x0.dtype)
        # x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε   (Ho et al., equation 4)
        return alpha_bar.sqrt() * x0 + (1 - alpha_bar).sqrt() * noise

    def predict_x0(self, x_t: torch.Tensor, t, eps: torch.Tensor) -> torch.Tensor:
        """The clean data implied by a noise prediction: ``x̂_0 = (x_t − √(1 − ᾱ_t) ε) / √ᾱ_t``."""
        x_t = self._data(x_t, "x_t")
        B = x_t.shape[0]
        eps = self._like(eps, x_t, "eps")
        alpha_bar = self.alpha_bars[self._indices(t, B)].view(B, *[1] * (x_t.ndim - 1)).to(x_t.dtype)
        return (x_t - (1 - alpha_bar).sqrt() * eps) / alpha_bar.sqrt()

    def loss(self, eps_model: Callable, x0: torch.Tensor, condition=None,
             generator: torch.Generator | None = None) -> torch.Tensor:
        """One Monte-Carlo estimate of ``L_DM = E_{x_0, ε, t} ‖ε − ε_θ(x_t, t)‖²`` (Algorithm 1).

        Defined in notebook 07. Draws ``t`` uniformly from ``0 … T−1`` and ``ε ~ N(0, I)`` for each row,
        and calls ``eps_model(x_t, t)``, or ``eps_model(x_t, t, condition)`` if a condition is given.
        Returns the mean squared error over every number (a scalar).
        """
        x0 = self._data(x0, "x0")
        B = x0.shape[0]
        where = _generator_device(generator)
        t = torch.randint(0, self.num_steps, (B,), generator=generator, device=where).to(x0.device)  # (B,)
        noise = torch.randn(x0.shape, generator=generator, device=where).to(x0)  # ε, (B, ...)
        x_t = self.q_sample(x0, t, noise)  # (B, ...)
        eps = eps_model(x_t, t) if condition is None else eps_model(x_t, t, condition)
        if not isinstance(eps, torch.Tensor) or eps.shape != noise.shape:
            # a (B,) prediction for (B, 1) data would broadcast to (B, B) and give a wrong loss without a word
            got = tuple(eps.shape) if isinstance(eps, torch.Tensor) else type(eps).__name__
            raise ValueError(f"eps_model must return the predicted noise with the shape of x_t, {tuple(noise.shape)}; "
                             f"got {got}")
        return F.mse_loss(eps, noise)

    # ---- the reverse process --------------------------------------------------------------------
    def step(self, eps: torch.Tensor, t, x_t: torch.Tensor, noise: torch.Tensor | None = None,
             generator: torch.Generator | None = None) -> torch.Tensor:
        """One reverse step ``x_t → x_{t−1}`` given the predicted noise ``eps`` (Algorithm 2, line 4).

        Defined in notebook 07. ``x_{t−1} = (x_t − β_t/√(1 − ᾱ_t) · ε) / √α_t + √β̃_t · z``, with
        ``z = noise`` (drawn if ``None``); at ``t = 0`` no noise is added (nor drawn). ``t`` is an int.
        """
        x_t = self._data(x_t, "x_t")
        t = self._index(t)
        eps = self._like(eps, x_t, "eps")
        beta, alpha, alpha_bar = self.betas[t], self.alphas[t], self.alpha_bars[t]
        # 1. μ_θ(x_t, t) = (x_t − β_t / √(1 − ᾱ_t) · ε_θ) / √α_t   (Ho et al., equation 11)
        mean = (x_t - beta / (1 - alpha_bar).sqrt() * eps) / alpha.sqrt()
        if t == 0:
            # 2. the last step returns the mean: x_0 = μ_θ(x_1, 1)
            return mean
        # 3. x_{t−1} = μ_θ + σ_t z with σ_t² = β̃_t, the posterior variance
        noise = self._noise(noise, x_t, generator)
        return mean + self.posterior_variance[t].sqrt() * noise

    @torch.no_grad()
    def sample(self, eps_model: Callable, shape, condition=None, guidance_scale: float = 1.0,
               null_condition=None, generator: torch.Generator | None = None, device=None,
               progress: bool | None = None, return_trajectory: bool = False):
        """Run the whole reverse process from ``x_T ~ N(0, I)`` of ``shape`` down to ``x_0``.

        Defined in notebook 07. ``eps_model(x_t, t)`` predicts the noise (``t`` a ``(B,)`` tensor); with
        a ``condition`` (one row per sample, e.g. prompt token ids) it is called as
        ``eps_model(x_t, t, condition)``. A ``guidance_scale`` s other than 1 needs ``null_condition`` (the
        "no prompt" condition, one row or one per sample) and uses classifier-free guidance,
        ``ε = ε(x_t, ∅) + s (ε(x_t, c) − ε(x_t, ∅))``: s = 0 ignores the prompt, s = 1 is the plain
        conditional model, s > 1 exaggerates it. Returns ``x_0``, or ``(x_0, trajectory)`` with the
        trajectory ``(T+1, *shape)`` (``x_T`` first) on the CPU.
        """
        if isinstance(shape, int) or not all(isinstance(n, numbers.Integral) and n >= 1 for n in shape) \
                or len(shape) == 0:
            raise ValueError(f"shape must be a tuple of positive ints (B, ...), got {shape!r}")
        B = int(shape[0])
        s = _real(guidance_scale, "guidance_scale")
        guided = condition is not None and s != 1.0
        if condition is not None:
            if not isinstance(condition, torch.Tensor) or len(condition) != B:
                raise ValueError(f"condition must be a tensor with one row per sample ({B}), got "
                                 f"{getattr(condition, 'shape', type(condition).__name__)}")
        elif s != 1.0:
            raise ValueError(f"guidance_scale={s} needs a condition to guide towards; got condition=None")
        if guided:
            if not isinstance(null_condition, torch.Tensor) or \
                    null_condition.shape not in (condition.shape, condition.shape[1:]):
                raise ValueError(f"guidance_scale={s} needs null_condition, the 'no prompt' condition, of shape "
                                 f"{tuple(condition.shape)} or {tuple(condition.shape[1:])}, got "
                                 f"{getattr(null_condition, 'shape', null_condition)}")
            # the model sees the batch twice: with the prompts, then without them
            both = torch.cat([condition, null_condition.expand_as(condition).to(condition.device)])  # (2B, ...)
        device = self.betas.device if device is None else torch.device(device)
        x_T = torch.randn(tuple(int(n) for n in shape), generator=generator, device=_generator_device(generator))
        x = x_T.to(device)  # x_T ~ N(0, I)
        trajectory = [x.cpu()] if return_trajectory else None
        for t in tqdm(reversed(range(self.num_steps)), total=self.num_steps, desc="sampling", leave=False,
                      disable=not show_progress(progress)):
            t_batch = torch.full((B,), t, dtype=torch.int64, device=device)  # (B,)
            if condition is None:
                eps = eps_model(x, t_batch)
            elif not guided:
                eps = eps_model(x, t_batch, condition)
            else:
                eps_cond, eps_uncond = eps_model(torch.cat([x, x]), torch.cat([t_batch, t_batch]), both).chunk(2)
                eps = classifier_free_guidance(eps_cond, eps_uncond, s)
            x = self.step(eps, t, x, generator=generator)
            if return_trajectory:
                trajectory.append(x.cpu())
        return (x, torch.stack(trajectory)) if return_trajectory else x


def classifier_free_guidance(eps_cond: torch.Tensor, eps_uncond: torch.Tensor, guidance_scale: float) -> torch.Tensor:
    """``ε̃ = ε_uncond + s · (ε_cond − ε_uncond)`` (Ho and Salimans, 2022, with s = 1 + w).

    Defined in notebook 07. s = 0 gives the unconditional model, s = 1 the conditional one, s > 1 moves
    further in the direction that the condition adds.
    """
    s = _real(guidance_scale, "guidance_scale")
    for name, e in (("eps_cond", eps_cond), ("eps_uncond", eps_uncond)):
        if not isinstance(e, torch.Tensor) or not torch.is_floating_point(e):
            raise ValueError(f"{name} must be a float tensor, got {type(e).__name__}")
    if eps_cond.shape != eps_uncond.shape:
        raise ValueError(f"eps_cond and eps_uncond must have the same shape, got {tuple(eps_cond.shape)} "
                         f"and {tuple(eps_uncond.shape)}")
    # ε̃ = ε(x_t, ∅) + s (ε(x_t, c) − ε(x_t, ∅))
    return eps_uncond + s * (eps_cond - eps_uncond)


def drop_condition(condition: torch.Tensor, null_condition: torch.Tensor, p_uncond: float,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """Replace each row of ``condition`` by ``null_condition`` with probability ``p_uncond``.

    Defined in notebook 07. Trained this way, one network learns both ``ε(x_t, c)`` and ``ε(x_t, ∅)``,
    which classifier-free guidance needs. ``null_condition`` has the shape of one row or of the batch.
    """
    p = _real(p_uncond, "p_uncond")
    if not 0 <= p <= 1:
        raise ValueError(f"p_uncond must lie in [0, 1], got {p}")
    if not isinstance(condition, torch.Tensor) or condition.ndim < 1:
        raise ValueError(f"condition must be a tensor (B, ...), got {type(condition).__name__}")
    if not isinstance(null_condition, torch.Tensor) or null_condition.shape not in (condition.shape,
                                                                                      condition.shape[1:]):
        raise ValueError(f"null_condition must have shape {tuple(condition.shape[1:])} or {tuple(condition.shape)}, "
                         f"got {getattr(null_condition, 'shape', type(null_condition).__name__)}")
    B = condition.shape[0]
    drop = torch.rand(B, generator=generator, device=_generator_device(generator)).to(condition.device) < p  # (B,)
    drop = drop.view(B, *[1] * (condition.ndim - 1))  # (B, 1, …)
    return torch.where(drop, null_condition.to(condition), condition)


class TimestepEmbedding(nn.Module):
    """``t ↦ MLP(PE(t))``: the lecture's sinusoidal encoding of the step index, then a small MLP.

    Defined in notebook 07. ``forward(t (B,) int) -> (B, dim)``. The sinusoids (``sinusoidal_encoding``
    of ``mmcourse.positional``) are a fixed buffer ``(num_steps, dim)``; the MLP is trained.
    """

    def __init__(self, num_steps: int, dim: int):
        super().__init__()
        self.num_steps, self.dim = _steps(num_steps), _steps(dim, "dim")
        self.register_buffer("pe", sinusoidal_encoding(self.num_steps, self.dim), persistent=False)  # (T, C)
        self.mlp = nn.Sequential(nn.Linear(self.dim, self.dim), nn.SiLU(), nn.Linear(self.dim, self.dim))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        if not isinstance(t, torch.Tensor) or t.ndim != 1 or t.is_floating_point():
            raise ValueError(f"t must be a (B,) integer tensor of step indices, got "
                             f"{getattr(t, 'shape', type(t).__name__)}")
        if ((t < 0) | (t >= self.num_steps)).any():
            raise ValueError(f"t must lie in 0 … {self.num_steps - 1}, got values {int(t.min())} … {int(t.max())}")
        return self.mlp(self.pe[t])  # (B, C)


def training_loss(schedule: DDPMSchedule, eps_model: Callable, x0: torch.Tensor) -> torch.Tensor:
    """One Monte-Carlo estimate of ``L_DM`` for the batch ``x0`` (Algorithm 1), with the signature of notebook 07's
    exercise: ``eps_model(x_t, t)`` predicts the noise, ``t`` a ``(B,)`` tensor of step indices.

    Defined in notebook 07 (the exercise's reference; the same as ``schedule.loss(eps_model, x0)``).
    """
    return schedule.loss(eps_model, x0)


def check_training_loss(loss_fn: Callable, batch: int = 600, dim: int = 500, tolerance: float = 0.03) -> None:
    """Raise ``ValueError`` unless ``loss_fn(schedule, eps_model, x0)`` is Algorithm 1's loss.

    Defined in notebook 07. Feeds it a network that records what it is shown (``x_t`` and ``t``) on rows that are
    all 3, so that, for each step index, the mean of ``x_t`` gives the data's factor and its spread the noise's.
    Checks that the steps cover ``0 … T−1``, that ``x_t ~ q(x_t | x_0)`` (factors √ᾱ_t and √(1 − ᾱ_t)), and that
    the loss is the mean squared error between the noise in ``x_t`` and the prediction, with a gradient.
    """
    schedule = DDPMSchedule(6, 0.1, 0.6)
    T = schedule.num_steps
    x0 = torch.full((batch, dim), 3.0)
    weight = nn.Parameter(torch.tensor(0.5))
    seen = {}

    def eps_model(x_t, t):
        seen["x_t"], seen["t"] = x_t.detach(), t
        return weight * x_t

    with torch.random.fork_rng():
        torch.manual_seed(0)
        loss = loss_fn(schedule, eps_model, x0)
    if "t" not in seen:
        raise ValueError("the loss never called the network")
    t, x_t = seen["t"], seen["x_t"]
    if not isinstance(t, torch.Tensor) or t.shape != (batch,) or t.is_floating_point():
        raise ValueError("the network must be given one integer step index per row")
    if set(t.tolist()) != set(range(T)):
        raise ValueError(f"the step indices must cover 0 … {T - 1}, got {sorted(set(t.tolist()))}")
    a = torch.stack([x_t[t == s].mean() / 3.0 for s in range(T)])  # the data's factor at each step
    b = torch.stack([x_t[t == s].std() for s in range(T)])  # the noise's factor
    if not (torch.allclose(a, schedule.alpha_bars.sqrt(), atol=tolerance)
            and torch.allclose(b, (1 - schedule.alpha_bars).sqrt(), atol=tolerance)):
        raise ValueError("x_t is not distributed as q(x_t | x_0)")
    alpha_bar = schedule.alpha_bars[t][:, None]
    noise = (x_t - alpha_bar.sqrt() * x0) / (1 - alpha_bar).sqrt()  # the noise that is in x_t
    expected = ((noise - 0.5 * x_t) ** 2).mean()
    if not isinstance(loss, torch.Tensor) or loss.numel() != 1 or not math.isclose(float(loss.detach()), float(expected),
                                                                                   rel_tol=1e-3):
        raise ValueError("the loss is not the mean squared error between the noise and its prediction")
    if not loss.requires_grad:
        raise ValueError("the loss has no gradient with respect to the network")
    loss.backward()
    if weight.grad is None:
        raise ValueError("the loss has no gradient with respect to the network")
