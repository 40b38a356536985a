"""The shared training loop learns, is deterministic, and checks its inputs."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mmcourse.training import TrainConfig, accuracy, predict, train


def _blobs(seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.cat([torch.randn(100, 2, generator=g) + 3, torch.randn(100, 2, generator=g) - 3])
    y = torch.cat([torch.zeros(100), torch.ones(100)]).long()
    return x, y


def _fit(seed=0):
    torch.manual_seed(seed)
    model = nn.Linear(2, 2)
    x, y = _blobs()
    history = train(model, lambda a, b: F.cross_entropy(model(a), b), (x, y),
                    TrainConfig(epochs=15, batch_size=32, lr=0.05, progress=False))
    return model, history, x, y


def test_train_lowers_the_loss_and_separates_two_blobs():
    model, history, x, y = _fit()
    assert history[-1] < history[0] / 5
    assert accuracy(predict(model, x), y) == 1.0


def test_train_is_deterministic_for_a_seed():
    (m1, h1, *_), (m2, h2, *_) = _fit(), _fit()
    assert h1 == h2 and torch.equal(m1.weight, m2.weight)


def test_accuracy_counts_the_fraction_of_argmax_hits():
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0], [3.0, 1.0]])
    assert accuracy(logits, torch.tensor([0, 1, 1])) == pytest.approx(2 / 3)


def test_train_config_rejects_nonsense():
    with pytest.raises(ValueError, match="epochs"):
        TrainConfig(epochs=0)
    with pytest.raises(ValueError, match="lr"):
        TrainConfig(lr=-1.0)


def test_train_rejects_mismatched_tensors_and_non_scalar_losses():
    model = nn.Linear(2, 2)
    with pytest.raises(ValueError, match="same first size"):
        train(model, lambda a, b: a.sum(), (torch.zeros(4, 2), torch.zeros(5)), TrainConfig(progress=False))
    with pytest.raises(ValueError, match="scalar"):
        train(model, lambda a: model(a), (torch.zeros(4, 2),), TrainConfig(epochs=1, progress=False))
    with pytest.raises(ValueError, match="model"):
        train("model", lambda a: a, (torch.zeros(4, 2),))


def test_accuracy_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="logits"):
        accuracy(torch.zeros(3, 2), torch.zeros(4).long())
