"""set_seed, get_device, check_shape and as_tensor."""
import numpy as np
import pytest
import torch

import mmcourse
from mmcourse.core import as_tensor, check_shape, get_device, set_seed


def test_set_seed_makes_torch_and_numpy_draws_repeat():
    set_seed(3)
    a = (torch.rand(4), np.random.rand(4))
    set_seed(3)
    b = (torch.rand(4), np.random.rand(4))
    assert torch.equal(a[0], b[0]) and np.array_equal(a[1], b[1])


def test_set_seed_returns_a_generator_seeded_like_the_global_state():
    g1, g2 = set_seed(5), set_seed(5)
    assert torch.equal(torch.rand(3, generator=g1), torch.rand(3, generator=g2))
    assert not torch.equal(torch.rand(3, generator=set_seed(6)), torch.rand(3, generator=set_seed(5)))


@pytest.mark.parametrize("bad", [-1, 1.5, "0", None, True])
def test_set_seed_rejects_non_integer_or_negative_seeds(bad):
    with pytest.raises(ValueError, match="seed"):
        set_seed(bad)


def test_get_device_respects_an_explicit_cpu_choice_and_the_environment(monkeypatch):
    assert get_device("cpu") == torch.device("cpu")
    monkeypatch.setenv("MMCOURSE_DEVICE", "cpu")
    assert get_device() == torch.device("cpu")


def test_get_device_without_preference_returns_an_available_device(monkeypatch):
    monkeypatch.delenv("MMCOURSE_DEVICE", raising=False)
    device = get_device()
    assert device.type in {"cpu", "cuda", "mps"}
    torch.zeros(1, device=device)  # the chosen device really works


def test_get_device_rejects_unknown_names(monkeypatch):
    with pytest.raises(ValueError, match="prefer"):
        get_device("tpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_get_device_explains_a_missing_gpu():
    with pytest.raises(ValueError, match="CUDA"):
        get_device("cuda")


def test_check_shape_returns_its_input_when_the_shape_matches():
    x = torch.zeros(2, 3, 4)
    assert check_shape(x, (2, None, 4)) is x


def test_check_shape_names_both_shapes_on_mismatch():
    with pytest.raises(ValueError, match=r"h has shape \(2, 3\) but \(2, \*, 5\) was expected"):
        check_shape(torch.zeros(2, 3), (2, None, 5), "h")


def test_check_shape_rejects_objects_without_a_shape_and_bad_shape_specs():
    with pytest.raises(ValueError, match="must be a tensor"):
        check_shape([1, 2], (2,), "x")
    with pytest.raises(ValueError, match="shape"):
        check_shape(torch.zeros(2), "2")


def test_as_tensor_converts_lists_and_arrays_and_rejects_text():
    assert as_tensor([1, 2]).dtype == torch.float32
    assert torch.equal(as_tensor(np.arange(3)), torch.tensor([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match="weights"):
        as_tensor({"a": 1}, "weights")


def test_top_level_names_are_exported():
    for name in ("set_seed", "get_device", "check_shape", "record"):
        assert callable(getattr(mmcourse, name))
