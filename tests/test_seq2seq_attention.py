"""Tests for mmcourse.seq2seq_attention: packing keeps the padding out, and the decoder attends to real letters only."""
import pytest
import torch
from torch import nn

from mmcourse.pipelines import LETTERS, letter_reversals
from mmcourse.seq2seq_attention import EncoderDecoder, run_packed


def _randn(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def test_packed_bigru_states_do_not_depend_on_how_much_padding_follows():
    torch.manual_seed(0)
    gru = nn.GRU(4, 3, batch_first=True, bidirectional=True)
    x = _randn(1, 5, 4)  # one sequence of 5 real steps
    short = run_packed(gru, x, torch.ones(1, 5, dtype=torch.bool))[0]  # (1, 5, 6)
    padded = torch.cat([x, torch.zeros(1, 7, 4)], dim=1)  # the same sequence padded to 12 steps
    mask = torch.arange(12)[None] < 5
    long, last = run_packed(gru, padded, mask)
    torch.testing.assert_close(long[:, :5], short, atol=1e-6, rtol=0)
    assert long[:, 5:].abs().max() == 0, "the outputs at the padding are 0"
    # without packing, the backward direction starts in the padding and its states change
    unpacked = gru(padded)[0]
    assert (unpacked[:, :5, 3:] - short[..., 3:]).abs().max() > 1e-3
    torch.testing.assert_close(unpacked[:, :5, :3], short[..., :3], atol=1e-6, rtol=0)
    # last: the forward state after the last real step, the backward state after reading back to step 0
    torch.testing.assert_close(last[0], short[:, 4, :3], atol=1e-6, rtol=0)
    torch.testing.assert_close(last[1], short[:, 0, 3:], atol=1e-6, rtol=0)


def test_packing_a_batch_gives_each_row_what_it_gets_alone():
    torch.manual_seed(1)
    gru = nn.GRU(3, 5, batch_first=True, bidirectional=True)
    x = _randn(3, 6, 3)
    lengths = torch.tensor([6, 2, 4])
    mask = torch.arange(6)[None] < lengths[:, None]
    batch = run_packed(gru, x * mask[..., None], mask)[0]
    for b, n in enumerate(lengths.tolist()):
        alone = gru(x[b:b + 1, :n])[0]
        torch.testing.assert_close(batch[b:b + 1, :n], alone, atol=1e-6, rtol=0)


def test_run_packed_rejects_an_empty_row_and_bad_masks():
    gru = nn.GRU(2, 2, batch_first=True)
    with pytest.raises(ValueError, match="at least one real step"):
        run_packed(gru, torch.zeros(2, 3, 2), torch.tensor([[True, False, False], [False, False, False]]))
    with pytest.raises(ValueError, match="boolean"):
        run_packed(gru, torch.zeros(2, 3, 2), torch.ones(2, 3))


def test_letter_reversals_are_bos_reverse_eos():
    source, target, lengths = letter_reversals(50, seed=3)
    assert source.shape == (50, 6) and target.shape == (50, 8)
    assert ((source != LETTERS.pad_id).sum(1) == lengths).all() and lengths.min() >= 3 and lengths.max() <= 6
    for s, t in zip(LETTERS.decode_batch(source), LETTERS.decode_batch(target)):
        assert t.split() == s.split()[::-1]
    assert (target[:, 0] == LETTERS.bos_id).all()
    assert torch.equal(letter_reversals(50, seed=3)[0], source), "the same seed gives the same data"


@pytest.mark.parametrize("attend", [False, True])
def test_extra_padding_changes_no_score(attend):
    torch.manual_seed(2)
    model = EncoderDecoder(len(LETTERS), attend, embed_size=8, hidden_size=16).eval()
    source, target, _ = letter_reversals(5, seed=4)  # (5, 6)
    wider = torch.cat([source, torch.zeros(5, 3, dtype=torch.long)], dim=1)  # 3 more padding columns
    with torch.no_grad():
        torch.testing.assert_close(model(wider, target[:, :-1]), model(source, target[:, :-1]), atol=1e-6, rtol=0)


def test_attention_weights_are_a_distribution_over_the_real_letters():
    torch.manual_seed(3)
    model = EncoderDecoder(len(LETTERS), True, embed_size=8, hidden_size=16).eval()
    source, target, lengths = letter_reversals(6, seed=5)
    with torch.no_grad():
        states, last, mask = model.encode(source)
        _, _, weights = model.decode(target[:, :-1], last, states, mask)  # (6, 7, 6)
    torch.testing.assert_close(weights.sum(-1), torch.ones(6, 7))
    assert weights.masked_select(~mask[:, None, :].expand_as(weights)).abs().max() == 0


def test_attention_adds_only_the_wider_output_layer():
    H, V = 16, len(LETTERS)
    count = {a: sum(p.numel() for p in EncoderDecoder(V, a, embed_size=8, hidden_size=H).parameters())
             for a in (False, True)}
    assert count[True] - count[False] == H * V


@pytest.mark.parametrize("attend", [False, True])
def test_greedy_decoding_picks_what_teacher_forcing_on_its_own_output_scores_highest(attend):
    torch.manual_seed(4)
    model = EncoderDecoder(len(LETTERS), attend, embed_size=8, hidden_size=16).eval()
    with torch.no_grad():
        model.out.bias[LETTERS.eos_id] -= 5.0  # no early <eos>: every step is compared
    source, _, _ = letter_reversals(8, seed=6)
    decoded = model.greedy(source, LETTERS.bos_id, LETTERS.eos_id, 7)  # (8, 7)
    assert decoded.shape == (8, 7) and decoded.dtype == torch.long
    inputs = torch.cat([torch.full((8, 1), LETTERS.bos_id), decoded[:, :-1]], dim=1)  # (8, 7)
    with torch.no_grad():
        again = model(source, inputs).argmax(-1)
    assert torch.equal(again, decoded)
