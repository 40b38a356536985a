"""A small training loop: mini-batches, an optimiser, a progress bar, a loss history.

The notebooks train many small models; they all share this loop so that each notebook shows only
what is new (the model and its loss). ``train`` takes the model, a function that computes the loss
of one batch, and the training tensors; it shuffles with a seeded generator, so the same seed gives
the same model on every run.

``linear_probe`` fits a linear classifier on frozen features: how easily a representation gives up a label.

Defined in notebook 00 (welcome, "Training on CPU or GPU"); used by every notebook that trains.
"""
from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

__all__ = ["TrainConfig", "train", "learning_rate", "adamw_step", "predict", "accuracy", "linear_probe",
           "show_progress"]

PROGRESS_ENV = "MMCOURSE_PROGRESS"


def show_progress(progress: bool | None = None) -> bool:
    """Whether to draw a progress bar: ``progress`` if given, else yes unless ``MMCOURSE_PROGRESS=0``.

    ``make notebooks`` sets ``MMCOURSE_PROGRESS=0``: a bar is for a person waiting on a cell, and a bar
    saved in a committed notebook would show a half-drawn "0%" to everyone who reads it on the web.
    """
    if progress is not None:
        return bool(progress)
    return os.environ.get(PROGRESS_ENV, "1").strip() != "0"


SCHEDULES = ("constant", "cosine")  # how the learning rate moves over training


@dataclass
class TrainConfig:
    """Settings of ``train``; the defaults train a small model on a laptop in seconds."""

    epochs: int = 20  # passes over the training tensors
    batch_size: int = 64  # examples per optimiser step
    lr: float = 3e-3  # Adam's learning rate
    weight_decay: float = 0.0  # L2 penalty on the weights (AdamW style)
    seed: int = 0  # seeds the shuffling of each epoch
    progress: bool | None = None  # a tqdm bar over epochs; None: shown unless MMCOURSE_PROGRESS=0
    device: str | None = None  # None: keep the model where it is
    schedule: str = "constant"  # "cosine": the rate falls from lr to 0 along a half cosine over all steps

    def __post_init__(self):
        for field in ("epochs", "batch_size"):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{field} must be a positive int, got {value!r}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr!r}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        if self.weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay!r}")
        if self.progress is not None and not isinstance(self.progress, bool):
            raise ValueError(f"progress must be True, False or None (follow MMCOURSE_PROGRESS), got {self.progress!r}")


def _check_tensors(tensors: Sequence[torch.Tensor], name: str = "tensors") -> int:
    if isinstance(tensors, torch.Tensor) or not isinstance(tensors, (tuple, list)) or len(tensors) == 0:
        raise ValueError(f"{name} must be a non-empty tuple of tensors with the same first size, "
                         f"got {type(tensors).__name__}")
    sizes = set()
    for i, t in enumerate(tensors):
        if not isinstance(t, torch.Tensor):
            raise ValueError(f"{name}[{i}] must be a tensor, got {type(t).__name__}")
        sizes.add(len(t))
    if len(sizes) != 1:
        raise ValueError(f"{name} must all have the same first size (examples), got sizes {sorted(sizes)}")
    return sizes.pop()


def learning_rate(config: TrainConfig, step: int, total_steps: int) -> float:
    """The learning rate of optimiser step ``step`` (0, 1, …) of ``total_steps``: ``config.lr``, or on the
    cosine schedule ``lr · (1 + cos(π · step / total_steps)) / 2``, from ``lr`` down to 0."""
    if config.schedule == "cosine":
        return config.lr * (0.5 * (1 + math.cos(math.pi * min(step, total_steps) / total_steps)))
    return config.lr


@torch.no_grad()
def adamw_step(params: Sequence[torch.Tensor], grads: Sequence[torch.Tensor | None], state: list, lr: float,
               weight_decay: float = 0.0, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> None:
    """One AdamW step (Loshchilov and Hutter, 2019) on every parameter that has a gradient, in place.

    ``state`` is a list, empty before the first step, that keeps each parameter's step count and moments
    between calls. The operations are those of ``torch.optim.AdamW`` on the CPU, in the same order, so it
    gives the same numbers; writing it out spares each notebook the second torch takes to set up its
    optimisers the first time.
    """
    if not state:
        state.extend([None] * len(params))
    beta1, beta2 = betas
    for i, (p, g) in enumerate(zip(params, grads)):
        if g is None:  # a parameter the loss did not reach is left as it is, as torch does
            continue
        if state[i] is None:
            state[i] = [0, torch.zeros_like(p), torch.zeros_like(p)]  # step, m, v
        state[i][0] += 1
        step, m, v = state[i]
        if weight_decay != 0:  # θ ← θ − lr · λ θ (decoupled weight decay)
            p.mul_(1 - lr * weight_decay)
        # m ← β₁ m + (1 − β₁) g,  v ← β₂ v + (1 − β₂) g²
        m.lerp_(g, 1 - beta1)
        v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
        # θ ← θ − lr · m̂ / (√v̂ + ε), with m̂ = m / (1 − β₁ˢ) and v̂ = v / (1 − β₂ˢ)
        denominator = (v.sqrt() / (1 - beta2 ** step) ** 0.5).add_(eps)
        p.addcdiv_(m, denominator, value=-(lr / (1 - beta1 ** step)))


def train(model: nn.Module, batch_loss: Callable[..., torch.Tensor], tensors: Sequence[torch.Tensor],
          config: TrainConfig | None = None) -> list[float]:
    """Train ``model`` with AdamW (``adamw_step``) on mini-batches of ``tensors``; return the mean loss of each epoch.

    ``batch_loss(*batch)`` receives one mini-batch of each tensor (already on the model's device) and
    returns a scalar loss, e.g. ``lambda x, y: F.cross_entropy(model(x), y)``.
    """
    config = config or TrainConfig()
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not callable(batch_loss):
        raise ValueError(f"batch_loss must be a function of one batch, got {type(batch_loss).__name__}")
    n = _check_tensors(tensors)
    if config.device is not None:
        model.to(config.device)
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("model has no trainable parameters")
    device = params[0].device
    generator = torch.Generator().manual_seed(config.seed)
    total_steps, step, state = config.epochs * math.ceil(n / config.batch_size), 0, []
    history = []
    model.train()
    epochs = tqdm(range(config.epochs), desc="training", disable=not show_progress(config.progress), leave=False)
    for _ in epochs:
        order = torch.randperm(n, generator=generator)
        total, seen = 0.0, 0
        for start in range(0, n, config.batch_size):
            idx = order[start:start + config.batch_size]
            batch = [t[idx].to(device) for t in tensors]
            loss = batch_loss(*batch)
            if not isinstance(loss, torch.Tensor) or loss.ndim != 0:
                raise ValueError(f"batch_loss must return a scalar tensor, got {loss!r:.80}")
            for p in params:
                p.grad = None
            loss.backward()
            adamw_step(params, [p.grad for p in params], state, learning_rate(config, step, total_steps),
                       config.weight_decay)
            step += 1
            total += loss.item() * len(idx)
            seen += len(idx)
        history.append(total / seen)
        epochs.set_postfix(loss=f"{history[-1]:.4f}")
    model.eval()
    return history


@torch.no_grad()
def predict(model: nn.Module, *inputs: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    """``model(*inputs)`` in evaluation mode, in batches, returned on the CPU."""
    n = _check_tensors(inputs, "inputs")
    device = next(model.parameters()).device
    model.eval()
    outputs = [model(*[t[i:i + batch_size].to(device) for t in inputs]).cpu() for i in range(0, n, batch_size)]
    return torch.cat(outputs)


def accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Fraction of rows whose largest logit is at the true label."""
    if logits.ndim != 2 or labels.ndim != 1 or len(logits) != len(labels):
        raise ValueError(f"logits must be (N, classes) and labels (N,), got {tuple(logits.shape)} "
                         f"and {tuple(labels.shape)}")
    return (logits.argmax(dim=1) == labels.to(logits.device)).float().mean().item()


def linear_probe(train_features: torch.Tensor, train_targets: torch.Tensor, test_features: torch.Tensor,
                 test_targets: torch.Tensor, l2: float = 1e-5, max_iter: int = 500, predictions: bool = False):
    """Fit a linear classifier on frozen features and return its accuracy on the test features (and, with
    ``predictions=True``, its test predictions: classes (N,) or booleans (N, K)).

    ``targets`` (N,) int64 are classes (a softmax over them); ``targets`` (N, K) of 0/1 are K yes/no labels
    (one logistic regression each), and an example counts as right only when all K answers are.
    Features (N, D) are standardised with the training mean and spread; the fit minimises the mean
    cross-entropy ``+ l2 · ‖W‖²`` with L-BFGS, from zero weights. Defined in notebook 06; used in 08.
    """
    for name, x, y in (("train", train_features, train_targets), ("test", test_features, test_targets)):
        if not isinstance(x, torch.Tensor) or x.ndim != 2 or not isinstance(y, torch.Tensor) \
                or y.ndim not in (1, 2) or len(x) != len(y):
            raise ValueError(f"{name}_features must be (N, D) and {name}_targets (N,) classes or (N, K) yes/no "
                             f"labels, with the same N; got {getattr(x, 'shape', type(x).__name__)} and "
                             f"{getattr(y, 'shape', type(y).__name__)}")
    if train_features.shape[1] != test_features.shape[1] or train_targets.shape[1:] != test_targets.shape[1:]:
        raise ValueError("train and test must have the same number of features D (and of labels K)")
    multilabel = train_targets.ndim == 2
    if not multilabel and (train_targets.is_floating_point() or int(train_targets.min()) < 0):
        raise ValueError("class targets (N,) must be int64 class indices >= 0")
    mean, std = train_features.mean(0), train_features.std(0) + 1e-6
    x_train, x_test = (train_features - mean) / std, (test_features - mean) / std  # (N, D)
    outputs = train_targets.shape[1] if multilabel else int(max(train_targets.max(), test_targets.max())) + 1
    probe = nn.Linear(x_train.shape[1], outputs)
    nn.init.zeros_(probe.weight)  # a convex problem: start from zero, independent of any random state
    nn.init.zeros_(probe.bias)
    optimiser = torch.optim.LBFGS(probe.parameters(), max_iter=max_iter, line_search_fn="strong_wolfe")

    def loss_of(logits):
        if multilabel:
            return F.binary_cross_entropy_with_logits(logits, train_targets.float())
        return F.cross_entropy(logits, train_targets)

    def closure():
        optimiser.zero_grad()
        loss = loss_of(probe(x_train)) + l2 * probe.weight.pow(2).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        optimiser.step(closure)
    with torch.no_grad():
        logits = probe(x_test)  # (N, K)
    predicted = logits > 0 if multilabel else logits.argmax(dim=1)  # (N, K) yes/no, or (N,) classes
    right = (predicted == test_targets.bool()).all(dim=1) if multilabel else predicted == test_targets
    accuracy = float(right.float().mean())
    return (accuracy, predicted) if predictions else accuracy
