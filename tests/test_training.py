"""The shared training loop learns, is deterministic, and checks its inputs."""
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mmcourse.training import TrainConfig, accuracy, linear_probe, predict, train


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


def _rates_of_each_step(monkeypatch, config, n):
    """The learning rate ``train`` passes to every AdamW step on ``n`` examples."""
    import mmcourse.training as training

    rates, step = [], training.adamw_step
    monkeypatch.setattr(training, "adamw_step", lambda *args, **kwargs: (rates.append(args[3]), step(*args, **kwargs)))
    model = nn.Linear(1, 1)
    train(model, lambda x: model(x).sum(), (torch.ones(n, 1),), config)
    return rates


def test_a_cosine_schedule_falls_from_lr_to_zero_along_a_half_cosine(monkeypatch):
    rates = _rates_of_each_step(monkeypatch, TrainConfig(epochs=2, batch_size=4, lr=0.1, schedule="cosine",
                                                         progress=False), 10)
    steps = 2 * 3  # 3 batches per epoch: 4 + 4 + 2 examples
    assert rates == pytest.approx([0.1 * 0.5 * (1 + math.cos(math.pi * k / steps)) for k in range(steps)])


def test_a_constant_schedule_keeps_lr_and_an_unknown_schedule_is_named(monkeypatch):
    with pytest.raises(ValueError, match="schedule must be one of"):
        TrainConfig(schedule="linear")
    assert _rates_of_each_step(monkeypatch, TrainConfig(epochs=2, batch_size=4, progress=False), 8) == [
        TrainConfig().lr] * 4


def _train_with_torch_optimiser(model, batch_loss, tensors, config):
    """The same loop as ``train`` with torch's AdamW and LambdaLR: the reference ``adamw_step`` must match."""
    params = [p for p in model.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    n, generator = len(tensors[0]), torch.Generator().manual_seed(config.seed)
    total = config.epochs * math.ceil(n / config.batch_size)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda k: 0.5 * (1 + math.cos(math.pi * min(k, total) / total)) if config.schedule == "cosine" else 1)
    model.train()
    for _ in range(config.epochs):
        order = torch.randperm(n, generator=generator)
        for start in range(0, n, config.batch_size):
            loss = batch_loss(*[t[order[start:start + config.batch_size]] for t in tensors])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            scheduler.step()


@pytest.mark.parametrize("config", [TrainConfig(epochs=3, batch_size=32, lr=3e-2, progress=False),
                                    TrainConfig(epochs=3, batch_size=32, lr=1e-2, schedule="cosine", weight_decay=0.1,
                                                progress=False)])
def test_train_takes_exactly_the_steps_of_torch_adamw_even_for_parameters_the_loss_skips(config):
    import copy

    from mmcourse.pipelines import AVClassifier

    g = torch.Generator().manual_seed(0)
    rows, frames, labels = torch.randn(100, 8, 8, generator=g), torch.randn(100, 5, 6, generator=g), torch.arange(100) % 10
    for use in ("both", "audio"):  # "audio" leaves the image encoder without gradients
        ours = AVClassifier(8, 6, hidden_size=12, use=use)
        theirs = copy.deepcopy(ours)
        train(ours, lambda r, a, y: F.cross_entropy(ours(r, a), y), (rows, frames, labels), config)
        _train_with_torch_optimiser(theirs, lambda r, a, y: F.cross_entropy(theirs(r, a), y), (rows, frames, labels),
                                    config)
        for (name, p), q in zip(ours.named_parameters(), theirs.parameters()):
            assert torch.equal(p, q), f"{name} differs from torch's AdamW by {(p - q).abs().max():.1e} ({use})"


def test_accuracy_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="logits"):
        accuracy(torch.zeros(3, 2), torch.zeros(4).long())


# ---- linear_probe -------------------------------------------------------------------------------

def _clusters(seed, n=400, d=5, k=3):
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(k, d, generator=torch.Generator().manual_seed(99)) * 3
    labels = torch.randint(0, k, (n,), generator=g)
    return centres[labels] + torch.randn(n, d, generator=g), labels


def test_linear_probe_matches_sklearn_logistic_regression():
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    (x_train, y_train), (x_test, y_test) = _clusters(0), _clusters(1)
    ours = linear_probe(x_train, y_train, x_test, y_test, l2=1e-3)
    scaler = StandardScaler().fit(x_train.numpy())
    # sklearn minimises ½‖W‖² + C Σ loss; ours mean loss + l2 ‖W‖², the same for C = 1 / (2 · l2 · N)
    theirs = LogisticRegression(C=1 / (2 * 1e-3 * len(x_train)), max_iter=2000).fit(scaler.transform(x_train.numpy()),
                                                                                      y_train.numpy())
    assert abs(ours - theirs.score(scaler.transform(x_test.numpy()), y_test.numpy())) <= 0.01


def test_linear_probe_multilabel_counts_an_example_right_only_when_all_labels_are():
    x_train, y_train = _clusters(2)
    x_test, y_test = _clusters(3)
    one_hot_train, one_hot_test = F.one_hot(y_train, 3), F.one_hot(y_test, 3)
    accuracy, predicted = linear_probe(x_train, one_hot_train, x_test, one_hot_test, predictions=True)
    assert predicted.shape == (400, 3) and predicted.dtype == torch.bool
    assert accuracy == pytest.approx(float((predicted == one_hot_test.bool()).all(1).float().mean()))
    assert accuracy > 0.9
    assert linear_probe(x_train, one_hot_train, x_test, 1 - one_hot_test) == 0.0  # every label wrong


def test_linear_probe_on_random_labels_is_at_chance():
    x_train, _ = _clusters(4)
    x_test, _ = _clusters(5)
    g = torch.Generator().manual_seed(6)
    accuracy = linear_probe(x_train, torch.randint(0, 2, (400,), generator=g), x_test,
                            torch.randint(0, 2, (400,), generator=g))
    assert 0.4 < accuracy < 0.6


@pytest.mark.parametrize("args, match", [((torch.zeros(4, 2), torch.zeros(3, dtype=torch.long), torch.zeros(4, 2),
                                           torch.zeros(4, dtype=torch.long)), "train_features"),
                                         ((torch.zeros(4, 2), torch.zeros(4, dtype=torch.long), torch.zeros(4, 3),
                                           torch.zeros(4, dtype=torch.long)), "same number of features"),
                                         ((torch.zeros(4, 2), torch.zeros(4), torch.zeros(4, 2), torch.zeros(4)),
                                          "int64 class indices")])
def test_linear_probe_rejects_bad_input_by_name(args, match):
    with pytest.raises(ValueError, match=match):
        linear_probe(*args)


def test_show_progress_follows_the_argument_then_the_environment(monkeypatch):
    from mmcourse.training import show_progress

    monkeypatch.delenv("MMCOURSE_PROGRESS", raising=False)
    assert show_progress() is True and show_progress(False) is False
    monkeypatch.setenv("MMCOURSE_PROGRESS", "0")
    assert show_progress() is False and show_progress(True) is True


def test_train_config_names_a_progress_that_is_not_a_bool():
    with pytest.raises(ValueError, match="progress must be True, False or None"):
        TrainConfig(progress="yes")
