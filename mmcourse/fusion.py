"""Fusion: early, late and joint fusion of modalities, and AVDCNN-style audio-visual speech enhancement.

The seminar combines n modalities x_1 … x_n (⊕ is concatenation) in three ways:

- **early fusion**, ``ŷ = f(x_1 ⊕ … ⊕ x_n)``: one network reads the joined inputs (``EarlyFusion``);
- **late fusion**, ``ŷ_i = f_i(x_i)``, ``ŷ_final = Σ_i w_i ŷ_i``: an ensemble of one network per modality
  with weights w_i (``late_fusion``, ``LateFusion``);
- **joint fusion**, ``z_joint = f_1(x_1) ⊕ … ⊕ f_n(x_n)``, ``ŷ = g(z_joint)``: one encoder per modality
  and a joint head (``JointFusion``), its encoders either trained each on its own modality's loss (the
  seminar's remark) or end to end.

AVDCNN (Hou et al.) is joint fusion with two decoders: ``Z_joint = f_A(X_A) ⊕ f_V(X_V)``, enhanced speech
``Ŷ = g_A∘g_common(Z_joint)``, reconstructed image ``X̂_V = g_V∘g_common(Z_joint)``, trained with
``1/K Σ_i (‖Ŷ_i − Y_i‖² + μ‖X̂_V,i − X_V,i‖²)`` (``avdcnn_loss``, ``AVEnhancer``). Speech goes in and out
as STFT magnitudes; waveforms come back with the noisy phase (``waveform_from``) or by Griffin-Lim
(``griffin_lim``).

Shapes: B batch, n modalities, D features, H hidden size, F frequency bins, T frames, P pixels, L samples.
Defined in notebook 05 (fusion). Sources: the seminar "MultiModal learning" (fusion; AVDCNN); J.-C. Hou et al.,
"Audio-Visual Speech Enhancement Using Multimodal Deep Convolutional Neural Networks", IEEE TETCI 2018;
D. Griffin and J. Lim, IEEE TASSP 1984; N. Perraudin et al., "A fast Griffin-Lim algorithm", WASPAA 2013.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["concat_features", "UnimodalClassifier", "EarlyFusion", "late_fusion", "LateFusion", "JointFusion",
           "joint_fusion_loss", "mouth_opening", "avdcnn_loss", "AVEnhancer", "magnitude_and_phase", "waveform_from",
           "griffin_lim", "N_FFT", "HOP"]

N_FFT, HOP = 256, 128  # STFT window (32 ms at 8 kHz) and hop (16 ms): F = 129 bins


def _tensors(xs, name: str, ndim: int) -> list[torch.Tensor]:
    """``xs`` as a non-empty list of ``ndim``-D tensors with one batch size, or a clear error."""
    if isinstance(xs, torch.Tensor):
        xs = list(xs)
    if not isinstance(xs, (list, tuple)) or len(xs) == 0:
        raise TypeError(f"{name} must be a non-empty list of tensors, one per modality, got {type(xs).__name__}")
    for i, x in enumerate(xs):
        if not isinstance(x, torch.Tensor) or x.ndim != ndim:
            got = f"shape {tuple(x.shape)}" if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"{name}[{i}] must be a {ndim}-D tensor, got {got}")
    if len({x.shape[0] for x in xs}) != 1:
        raise ValueError(f"{name} must share the batch size, got {[x.shape[0] for x in xs]}")
    return list(xs)


def concat_features(xs: Sequence[torch.Tensor]) -> torch.Tensor:
    """``x_1 ⊕ … ⊕ x_n``: n tensors (B, D_i) → (B, Σ D_i). Defined in notebook 05."""
    return torch.cat(_tensors(xs, "xs", 2), dim=1)  # (B, D_1 + … + D_n)


class UnimodalClassifier(nn.Module):
    """``f_i``: an encoder (Linear, ReLU) and a linear head; scores (B, classes). Defined in notebook 05."""

    def __init__(self, in_size: int, hidden_size: int = 64, n_classes: int = 10):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(in_size, hidden_size), nn.ReLU())  # x_i → (B, H)
        self.head = nn.Linear(hidden_size, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x))  # (B, classes)


class EarlyFusion(nn.Module):
    """Early fusion, ``ŷ = f(x_1 ⊕ … ⊕ x_n)``, with ``f`` a one-hidden-layer MLP. Defined in notebook 05."""

    def __init__(self, in_sizes: Sequence[int], hidden_size: int = 128, n_classes: int = 10):
        super().__init__()
        self.in_sizes = tuple(in_sizes)
        self.f = nn.Sequential(nn.Linear(sum(self.in_sizes), hidden_size), nn.ReLU(), nn.Linear(hidden_size, n_classes))

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        x = concat_features(xs)  # (B, Σ D_i)
        if x.shape[1] != sum(self.in_sizes):
            raise ValueError(f"EarlyFusion expects inputs of sizes {self.in_sizes}, got {[t.shape[1] for t in xs]}")
        return self.f(x)  # (B, classes)


def _weights(weights, n: int, B: int) -> torch.Tensor:
    """Ensemble weights as (B, n): one row (n,) for every example, or one row per example (B, n)."""
    try:
        w = torch.as_tensor(weights, dtype=torch.float32)
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(f"weights must be a tensor or list of numbers, got {type(weights).__name__}") from None
    if w.shape == (n,):
        return w.expand(B, n)
    if w.shape == (B, n):
        return w
    raise ValueError(f"weights must have shape ({n},) (one per modality) or ({B}, {n}), got {tuple(w.shape)}")


def late_fusion(scores: Sequence[torch.Tensor], weights, present: torch.Tensor | None = None) -> torch.Tensor:
    """Late fusion of n unimodal outputs: ``ŷ_final = Σ_i w_i ŷ_i`` with ``ŷ_i = softmax(f_i(x_i))``.

    ``scores``: n tensors (B, classes) of scores f_i(x_i); ``weights``: (n,) or (B, n). Returns (B, classes)
    probabilities when the weights sum to 1. ``present`` (B, n) bool, False where an example lacks a
    modality: that modality is left out of the example's sum and the weights of the others are divided by
    their sum, ``Σ_{i present} w_i ŷ_i / Σ_{i present} w_i``. Defined in notebook 05 (the reference of
    exercise 5.1).
    """
    scores = _tensors(scores, "scores", 2)
    B, n = scores[0].shape[0], len(scores)
    w = _weights(weights, n, B).to(scores[0].dtype)  # (B, n)
    if present is not None:
        if not isinstance(present, torch.Tensor) or present.shape != (B, n):
            raise ValueError(f"present must be a bool tensor of shape ({B}, {n}) (examples, modalities), "
                             f"got {getattr(present, 'shape', type(present).__name__)}")
        w = w * present.to(w.dtype)  # a missing modality gets no weight
        w = w / w.sum(dim=1, keepdim=True).clamp(min=1e-12)  # the others share all of it
    # ŷ_i = softmax(f_i(x_i)) over the classes
    y_hat = torch.stack([s.softmax(dim=-1) for s in scores], dim=1)  # (B, n, classes)
    # ŷ_final = Σ_i w_i ŷ_i
    return (w[:, :, None] * y_hat).sum(dim=1)  # (B, classes)


class LateFusion(nn.Module):
    """An ensemble of unimodal models ``f_i`` with weights ``w_i``. Defined in notebook 05.

    ``forward(*xs, present=None)`` returns ``Σ_i w_i ŷ_i``; ``present`` (B, n) bool drops the missing
    modalities and renormalises the weights of the others. ``log=True`` combines log-probabilities
    instead, ``Σ_i w_i log ŷ_i`` (a weighted product of experts); its argmax is the fused prediction.
    """

    def __init__(self, models: Sequence[nn.Module], weights, log: bool = False):
        super().__init__()
        self.models = nn.ModuleList(models)
        w = torch.as_tensor(weights, dtype=torch.float32)
        if w.shape != (len(self.models),) or (w < 0).any() or w.sum() <= 0:
            raise ValueError(f"weights must be {len(self.models)} numbers >= 0 with a positive sum, got {weights!r}")
        self.register_buffer("weights", w / w.sum())  # (n,)
        self.log = log

    def forward(self, *xs: torch.Tensor, present: torch.Tensor | None = None) -> torch.Tensor:
        if len(xs) != len(self.models):
            raise ValueError(f"LateFusion has {len(self.models)} models but got {len(xs)} inputs")
        scores = [f(x) for f, x in zip(self.models, xs)]  # n × (B, classes)
        if not self.log:
            return late_fusion(scores, self.weights, present)
        w = self.weights.expand(scores[0].shape[0], -1)  # (B, n)
        if present is not None:
            if not isinstance(present, torch.Tensor) or present.shape != w.shape:
                raise ValueError(f"present must be a bool tensor of shape {tuple(w.shape)} (examples, modalities), "
                                 f"got {getattr(present, 'shape', type(present).__name__)}")
            w = w * present.float()
            w = w / w.sum(dim=1, keepdim=True).clamp(min=1e-12)
        log_p = torch.stack([s.log_softmax(dim=-1) for s in scores], dim=1)  # (B, n, classes)
        return (w[:, :, None] * log_p).sum(dim=1)  # (B, classes)


class JointFusion(nn.Module):
    """Joint fusion: ``z_joint = f_1(x_1) ⊕ … ⊕ f_n(x_n)``, ``ŷ = g(z_joint)``. Defined in notebook 05.

    ``encoders`` are the f_i (each returns (B, H_i)); ``g`` is a one-hidden-layer MLP. With
    ``train_encoders=False`` the f_i are frozen: trained beforehand, each by its own modality's loss.
    """

    def __init__(self, encoders: Sequence[nn.Module], joint_size: int, hidden_size: int = 64, n_classes: int = 10,
                 train_encoders: bool = True):
        super().__init__()
        self.encoders = nn.ModuleList(encoders)
        for p in self.encoders.parameters():
            p.requires_grad_(train_encoders)
        self.g = nn.Sequential(nn.Linear(joint_size, hidden_size), nn.ReLU(), nn.Linear(hidden_size, n_classes))

    def z_joint(self, *xs: torch.Tensor) -> torch.Tensor:
        if len(xs) != len(self.encoders):
            raise ValueError(f"JointFusion has {len(self.encoders)} encoders but got {len(xs)} inputs")
        return concat_features([f(x) for f, x in zip(self.encoders, xs)])  # (B, Σ H_i)

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        return self.g(self.z_joint(*xs))  # (B, classes)


def joint_fusion_loss(encoders: Sequence[nn.Module], heads: Sequence[nn.Module], g: nn.Module,
                      xs: Sequence[torch.Tensor], y: torch.Tensor) -> torch.Tensor:
    """One loss that trains joint fusion the seminar's way: each f_i only by the loss from x_i.

    ``encoders`` f_i (B, D_i) → (B, H_i), ``heads`` h_i (B, H_i) → scores of modality i alone, ``g`` the
    joint head on z_joint = f_1(x_1) ⊕ … ⊕ f_n(x_n). Returns Σ_i CE(h_i(f_i(x_i)), y) + CE(g(z_joint), y),
    with the features detached inside z_joint, so the fused loss trains g and never reaches an f_i.
    Defined in notebook 05 (the reference of exercise 5.2).
    """
    if not (len(encoders) == len(heads) == len(xs)):
        raise ValueError(f"need one encoder, one head and one input per modality, got {len(encoders)}, "
                         f"{len(heads)} and {len(xs)}")
    features = [f(x) for f, x in zip(encoders, xs)]  # n × (B, H_i)
    own = sum(F.cross_entropy(h(z), y) for h, z in zip(heads, features))  # each f_i by its own modality's loss
    z_joint = concat_features([z.detach() for z in features])  # (B, Σ H_i): no gradient back into any f_i
    return own + F.cross_entropy(g(z_joint), y)


def avdcnn_loss(Y_hat: torch.Tensor, Y: torch.Tensor, X_V_hat: torch.Tensor, X_V: torch.Tensor,
                mu: float) -> torch.Tensor:
    """The AVDCNN loss ``1/K Σ_i (‖Ŷ_i − Y_i‖² + μ‖X̂_V,i − X_V,i‖²)`` over the K examples of a batch.

    Each squared norm sums over all the elements of one example (bins × frames, pixels). Defined in
    notebook 05 (the reference of exercise 5.3).
    """
    for name, a, b in (("Y_hat", Y_hat, Y), ("X_V_hat", X_V_hat, X_V)):
        if not isinstance(a, torch.Tensor) or not isinstance(b, torch.Tensor) or a.shape != b.shape:
            raise ValueError(f"{name} must be a tensor with the shape of its target, got "
                             f"{getattr(a, 'shape', type(a).__name__)} and {getattr(b, 'shape', type(b).__name__)}")
    if Y.shape[0] != X_V.shape[0]:
        raise ValueError(f"speech and image must share the batch size K, got {Y.shape[0]} and {X_V.shape[0]}")
    if isinstance(mu, bool) or not isinstance(mu, (int, float)) or mu < 0:
        raise ValueError(f"mu must be a number >= 0, got {mu!r}")
    speech = (Y_hat - Y).pow(2).flatten(1).sum(dim=1)  # (K,) ‖Ŷ_i − Y_i‖²
    image = (X_V_hat - X_V).pow(2).flatten(1).sum(dim=1)  # (K,) ‖X̂_V,i − X_V,i‖²
    return (speech + mu * image).mean()


class AVEnhancer(nn.Module):
    """AVDCNN-style enhancer: noisy magnitudes X_A (B, F, T) and an image X_V (B, P) → (Ŷ (B, F, T), X̂_V (B, P)).

    f_A: a convolution over time with the F bins as channels; f_V: a linear layer whose output is repeated
    at every frame; g_common: two convolutions over Z_joint = f_A(X_A) ⊕ f_V(X_V); g_A: a gain in (0, 1) per
    bin and frame that multiplies X_A; g_V: the time average of g_common's output, then a linear layer.
    ``use_image=False`` replaces X_V by zeros: the audio-only enhancer, with the same parameters.
    ``per_frame=True`` takes a visual signal with one number per frame instead, X_V (B, T) (a mouth opening):
    f_V is then a convolution over time, and g_V rebuilds X̂_V (B, T) frame by frame.
    Defined in notebook 05.
    """

    def __init__(self, n_freq: int = N_FFT // 2 + 1, image_size: int = 64, channels: int = 32, visual_size: int = 16,
                 kernel_size: int = 5, use_image: bool = True, per_frame: bool = False):
        super().__init__()
        self.use_image, self.per_frame = use_image, per_frame
        C, k = channels, kernel_size
        self.f_A = nn.Sequential(nn.Conv1d(n_freq, C, 3, padding=1), nn.ReLU())  # (B, C, T)
        if per_frame:
            self.f_V = nn.Sequential(nn.Conv1d(1, visual_size, 3, padding=1), nn.ReLU())  # (B, C_V, T)
            self.g_V = nn.Conv1d(C, 1, 1)  # (B, 1, T)
        else:
            self.f_V = nn.Sequential(nn.Linear(image_size, visual_size), nn.ReLU())  # (B, C_V)
            self.g_V = nn.Linear(C, image_size)  # (B, P)
        self.g_common = nn.Sequential(nn.Conv1d(C + visual_size, C, k, padding=k // 2), nn.ReLU(),
                                      nn.Conv1d(C, C, k, padding=k // 2), nn.ReLU())  # (B, C, T)
        self.g_A = nn.Conv1d(C, n_freq, 1)  # (B, F, T) gains before the sigmoid

    def z_joint(self, X_A: torch.Tensor, X_V: torch.Tensor) -> torch.Tensor:
        if X_A.ndim != 3 or X_V.ndim != 2 or X_A.shape[0] != X_V.shape[0]:
            raise ValueError(f"X_A must be (B, F, T) and X_V (B, P), got {tuple(X_A.shape)} and {tuple(X_V.shape)}")
        if not self.use_image:
            X_V = torch.zeros_like(X_V)  # the audio-only enhancer sees no image
        a = self.f_A(X_A)  # (B, C, T)
        if self.per_frame:
            if X_V.shape[1] != a.shape[2]:
                raise ValueError(f"a per-frame X_V must have one number per frame ({a.shape[2]}), got {X_V.shape[1]}")
            v = self.f_V(X_V[:, None, :])  # (B, C_V, T): follows the frames
        else:
            v = self.f_V(X_V)[:, :, None].expand(-1, -1, a.shape[2])  # (B, C_V, T): the same at every frame
        return torch.cat([a, v], dim=1)  # (B, C + C_V, T): Z_joint = f_A(X_A) ⊕ f_V(X_V)

    def forward(self, X_A: torch.Tensor, X_V: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.g_common(self.z_joint(X_A, X_V))  # (B, C, T)
        Y_hat = torch.sigmoid(self.g_A(h)) * X_A  # (B, F, T): Ŷ = g_A∘g_common(Z_joint), a gain on X_A
        if self.per_frame:
            X_V_hat = self.g_V(h)[:, 0]  # (B, T): X̂_V = g_V∘g_common(Z_joint), frame by frame
        else:
            X_V_hat = self.g_V(h.mean(dim=2))  # (B, P): X̂_V = g_V∘g_common(Z_joint)
        return Y_hat, X_V_hat


def mouth_opening(clean_magnitude: torch.Tensor, smooth: int = 5) -> torch.Tensor:
    """A stand-in for lip movements: how wide the mouth is open in each frame, from the clean speech.

    The frame energies of the clean magnitudes (B, F, T), in dB, clipped to the 40 dB below each utterance's
    loudest frame, mapped to [0, 1] and smoothed over ``smooth`` frames (lips move more slowly than sound).
    It carries when the target speaker talks and how loudly, not which word. Returns (B, T). Defined in
    notebook 05.
    """
    if clean_magnitude.ndim != 3:
        raise ValueError(f"clean_magnitude must be (B, F, T), got {tuple(clean_magnitude.shape)}")
    level = 10 * torch.log10(clean_magnitude.pow(2).sum(dim=1) + 1e-10)  # (B, T) dB per frame
    level = level - level.amax(dim=1, keepdim=True)  # 0 dB at the loudest frame
    opening = (level.clamp(min=-40.0) + 40.0) / 40.0  # (B, T) in [0, 1]
    return F.avg_pool1d(opening[:, None], smooth, 1, smooth // 2, count_include_pad=False)[:, 0]  # (B, T)


def _window(n_fft: int, device) -> torch.Tensor:
    return torch.hann_window(n_fft, device=device)


def magnitude_and_phase(waveforms: torch.Tensor, n_fft: int = N_FFT, hop: int = HOP
                        ) -> tuple[torch.Tensor, torch.Tensor]:
    """STFT magnitudes |S| and phases ∠S of waveforms (B, L): two (B, F, T) tensors. Defined in notebook 05."""
    if not isinstance(waveforms, torch.Tensor) or waveforms.ndim != 2:
        got = tuple(waveforms.shape) if isinstance(waveforms, torch.Tensor) else type(waveforms).__name__
        raise ValueError(f"waveforms must be a tensor (B, L), got {got}")
    S = torch.stft(waveforms, n_fft, hop, window=_window(n_fft, waveforms.device), return_complex=True)  # (B, F, T)
    return S.abs(), S.angle()


def waveform_from(magnitude: torch.Tensor, phase: torch.Tensor, length: int, n_fft: int = N_FFT,
                  hop: int = HOP) -> torch.Tensor:
    """The waveform (B, L) whose STFT has this magnitude and phase (inverse STFT). Defined in notebook 05."""
    if magnitude.shape != phase.shape:
        raise ValueError(f"magnitude and phase must have one shape, got {tuple(magnitude.shape)} and "
                         f"{tuple(phase.shape)}")
    S = torch.polar(magnitude, phase)  # (B, F, T) |S|·e^{i∠S}
    return torch.istft(S, n_fft, hop, window=_window(n_fft, magnitude.device), length=length)  # (B, L)


def griffin_lim(magnitude: torch.Tensor, length: int, n_iter: int = 32, momentum: float = 0.99,
                n_fft: int = N_FFT, hop: int = HOP) -> torch.Tensor:
    """A waveform (B, L) whose STFT magnitude is close to ``magnitude`` (B, F, T), by (fast) Griffin-Lim.

    Start from zero phase; then repeat: invert, take the STFT of the result, keep its phase (with
    ``momentum``, Perraudin et al.). The same steps as ``torchaudio.functional.griffinlim`` with
    ``rand_init=False``. Defined in notebook 05.
    """
    if not 0 <= momentum < 1:
        raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
    if isinstance(n_iter, bool) or not isinstance(n_iter, int) or n_iter < 1:
        raise ValueError(f"n_iter must be an int >= 1, got {n_iter!r}")
    window = _window(n_fft, magnitude.device)
    angles = torch.ones_like(magnitude, dtype=torch.complex64)  # (B, F, T) phase e^{i0}
    previous = torch.zeros_like(angles)
    for _ in range(n_iter):
        x = torch.istft(magnitude * angles, n_fft, hop, window=window, length=length)  # (B, L)
        rebuilt = torch.stft(x, n_fft, hop, window=window, return_complex=True)  # (B, F, T)
        # fast Griffin-Lim: step past the new estimate, away from the previous one
        angles = rebuilt - momentum / (1 + momentum) * previous
        angles = angles / (angles.abs() + 1e-16)  # keep only the phase
        previous = rebuilt
    return torch.istft(magnitude * angles, n_fft, hop, window=window, length=length)  # (B, L)
