"""Tests for mmcourse.pipelines: each from-scratch piece against a reference, and the pipelines' shapes;
and the pieces notebook 02 builds in its cells (the GRU step, the encoder, the sequence-to-sequence
model) against torch and against these references, with copied weights."""
import ast

import pytest
import torch
import torch.nn.functional as F

from mmcourse.pipelines import (AVClassifier, Captioner, FusionHead, GRUCell, GRUDecoder, QuestionOnlyModel,
                                RecurrentEncoder, Seq2Seq, SequenceEncoder, SharedEncoderClassifier, VQAModel,
                                encode_sequence, fusion_logits, greedy_decode, sequence_cross_entropy)


@pytest.fixture
def g():
    return torch.Generator().manual_seed(0)


def test_gru_cell_matches_torch_gru_cell_with_the_same_weights(g):
    torch.manual_seed(0)
    ours, ref = GRUCell(5, 7), torch.nn.GRUCell(5, 7)
    ref.load_state_dict(ours.state_dict())
    x, h = torch.randn(4, 5, generator=g), torch.randn(4, 7, generator=g)
    assert torch.allclose(ours(x, h), ref(x, h), atol=1e-6)


def test_gru_cell_names_wrong_sizes():
    with pytest.raises(ValueError, match="GRUCell expects"):
        GRUCell(5, 7)(torch.zeros(2, 4), torch.zeros(2, 7))


def test_sequence_cross_entropy_matches_torch_with_ignore_index(g):
    logits = torch.randn(3, 5, 11, generator=g)
    targets = torch.randint(1, 11, (3, 5), generator=g)
    targets[0, 3:] = 0
    expected = F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=0)
    assert torch.allclose(sequence_cross_entropy(logits, targets, pad_id=0), expected, atol=1e-6)


def test_padding_at_the_end_does_not_change_the_encoding(g):
    torch.manual_seed(0)
    encoder = SequenceEncoder(vocab_size=10, embed_size=4, hidden_size=6)
    short = torch.tensor([[5, 6, 7]])
    padded = torch.tensor([[5, 6, 7, 0, 0]])
    assert torch.allclose(encoder(short), encoder(padded), atol=1e-6)


def _counting_step(tokens, h):
    """A fake decoder: says token+1 (wrapping 4 ... 9), and <eos> (2) once its counter h runs out."""
    h = h - 1
    nxt = torch.where(tokens < 4, torch.full_like(tokens, 4), 4 + (tokens - 3) % 6)
    nxt = torch.where(h[:, 0] <= 0, torch.full_like(tokens, 2), nxt)
    return F.one_hot(nxt, 10).float() * 5, h


def test_greedy_decoding_feeds_back_its_prediction_and_stops_at_eos():
    h0 = torch.tensor([[1.0], [3.0], [9.0]])
    out = greedy_decode(_counting_step, h0, bos_id=1, eos_id=2, pad_id=0, max_len=6)
    assert out.tolist() == [[2, 0, 0, 0, 0, 0], [4, 5, 2, 0, 0, 0], [4, 5, 6, 7, 8, 9]]


def test_greedy_decoding_of_a_trained_free_decoder_matches_a_step_by_step_loop(g):
    torch.manual_seed(0)
    model = Seq2Seq(vocab_size=12, embed_size=8, hidden_size=16)
    h = model.encoder(torch.randint(4, 12, (5, 4), generator=g))
    out = greedy_decode(model.decoder.step, h, 1, 2, 0, max_len=7)
    tokens, state = torch.ones(5, dtype=torch.long), h
    for t in range(7):
        logits, state = model.decoder.step(tokens, state)
        tokens = logits.argmax(-1)
        before = (out[:, :t] == 2).any(1)
        assert torch.equal(out[~before, t], tokens[~before])
        assert (out[before, t] == 0).all()


def test_fusion_logits_is_an_mlp_on_the_concatenated_states(g):
    v, q = torch.randn(4, 6, generator=g), torch.randn(4, 3, generator=g)
    W, b = torch.randn(5, 9, generator=g), torch.randn(5, generator=g)
    U, c = torch.randn(2, 5, generator=g), torch.randn(2, generator=g)
    mlp_in = torch.nn.Linear(9, 5)
    mlp_out = torch.nn.Linear(5, 2)
    with torch.no_grad():
        mlp_in.weight.copy_(W), mlp_in.bias.copy_(b), mlp_out.weight.copy_(U), mlp_out.bias.copy_(c)
    expected = mlp_out(torch.relu(mlp_in(torch.cat([v, q], dim=1))))
    assert torch.allclose(fusion_logits(v, q, W, b, U, c), expected, atol=1e-6)
    head = FusionHead(6, 3, 5, 2)
    assert head(v, q).shape == (4, 2)


def test_every_pipeline_gives_the_documented_shapes(g):
    torch.manual_seed(0)
    images = torch.rand(2, 3, 32, 32, generator=g)
    tokens = torch.randint(1, 20, (2, 7), generator=g)
    captioner = Captioner(vocab_size=20, embed_size=8, hidden_size=16, channels=8)
    assert captioner(images, tokens).shape == (2, 7, 20)
    step, h0 = captioner.step_from(images)
    assert greedy_decode(step, h0, 1, 2, 0, max_len=5).shape == (2, 5)
    assert Seq2Seq(20, 8, 16)(tokens, tokens[:, :4]).shape == (2, 4, 20)
    v = captioner.encode(images)[0]
    assert v.shape == (2, 8 * 9)
    assert VQAModel(72, 20, 9, hidden_size=16)(v, tokens).shape == (2, 9)
    assert QuestionOnlyModel(20, 9, hidden_size=16)(None, tokens).shape == (2, 9)
    rows, frames = torch.rand(2, 8, 8, generator=g), torch.rand(2, 12, 32, generator=g)
    for use in ("both", "image", "audio"):
        assert AVClassifier(8, 32, hidden_size=16, use=use)(rows, frames).shape == (2, 10)
    assert SharedEncoderClassifier(8, 32, hidden_size=16)(rows, frames).shape == (2, 10)
    assert RecurrentEncoder(8, 16)(rows).shape == (2, 16)


def test_a_unimodal_av_classifier_ignores_the_other_modality(g):
    torch.manual_seed(0)
    model = AVClassifier(8, 32, hidden_size=16, use="image")
    rows = torch.rand(2, 8, 8, generator=g)
    a, b = torch.rand(2, 12, 32, generator=g), torch.rand(2, 12, 32, generator=g)
    assert torch.equal(model(rows, a), model(rows, b))
    with pytest.raises(ValueError, match="use must be"):
        AVClassifier(8, 32, use="video")


def test_the_decoder_with_a_context_is_a_gru_step_on_the_token_and_the_context(g):
    torch.manual_seed(0)
    decoder = GRUDecoder(vocab_size=11, embed_size=4, hidden_size=6, context_size=5)
    reference = torch.nn.GRUCell(9, 6)
    reference.load_state_dict(decoder.cell.state_dict())
    tokens, context = torch.randint(1, 11, (3, 7), generator=g), torch.randn(3, 5, generator=g)
    h = torch.randn(3, 6, generator=g)
    expected, state = [], h
    for t in range(7):
        state = reference(torch.cat([decoder.embed(tokens[:, t]), context], dim=-1), state)
        expected.append(decoder.out(state))
    expected = torch.stack(expected, dim=1)
    assert torch.allclose(decoder(tokens, h, context), expected, atol=1e-5)
    scores, _ = decoder.step(tokens[:, 0], h, context)
    assert torch.allclose(scores, expected[:, 0], atol=1e-5)


def _notebook_definitions(*names):
    """The classes and functions that notebook 02 builds in its cells (the instructor's source), by name."""
    import jupytext
    from torch import nn

    import nbtools
    nb = jupytext.read(nbtools.NOTEBOOKS / "02_pipelines.py")
    namespace = {"torch": torch, "nn": nn, "F": F}
    definitions = {node.name: node for cell in nb.cells if cell.cell_type == "code"
                   for node in ast.parse(cell.source).body if isinstance(node, (ast.ClassDef, ast.FunctionDef))}
    for name in names:  # only the definition, not the rest of its cell
        exec(compile(ast.Module([definitions[name]], []), f"<notebook 02: {name}>", "exec"), namespace)
    if "encode" in namespace:  # the notebook's Seq2Seq calls the fallback name bound after Exercise 2.1
        namespace["encode_used"] = namespace["encode"]
    return namespace


def test_the_notebooks_gru_step_matches_torch_and_the_reference_with_copied_weights(g):
    built = _notebook_definitions("GRUCell")["GRUCell"]
    torch.manual_seed(0)
    ours, torch_cell, reference = built(5, 7), torch.nn.GRUCell(5, 7), GRUCell(5, 7)
    ours.load_state_dict(torch_cell.state_dict())
    reference.load_state_dict(torch_cell.state_dict())
    x, h = torch.randn(4, 5, generator=g), torch.randn(4, 7, generator=g)
    assert torch.allclose(ours(x, h), torch_cell(x, h), atol=1e-5)
    assert torch.allclose(ours(x, h), reference(x, h), atol=1e-5)


def test_the_notebooks_encoder_and_seq2seq_match_the_reference_with_copied_weights(g):
    built = _notebook_definitions("GRUCell", "encode", "Seq2Seq")
    torch.manual_seed(0)
    ours = built["Seq2Seq"](vocab_size=12, embed_size=8, hidden_size=16, pad_id=0)
    reference = Seq2Seq(vocab_size=12, embed_size=8, hidden_size=16, pad_id=0)
    with torch.no_grad():  # the notebook shares one embedding between encoder and decoder
        reference.encoder.embed.weight.copy_(ours.embed.weight)
        reference.decoder.embed.weight.copy_(ours.embed.weight)
    reference.encoder.rnn.cell.load_state_dict(ours.encoder.state_dict())
    reference.decoder.cell.load_state_dict(ours.decoder.state_dict())
    reference.decoder.out.load_state_dict(ours.out.state_dict())
    source = torch.tensor([[5, 6, 7, 8], [9, 4, 0, 0], [11, 0, 0, 0]])
    target_inputs = torch.randint(1, 12, (3, 5), generator=g)
    assert torch.allclose(ours.encode(source), reference.encoder(source), atol=1e-5)
    assert torch.allclose(ours(source, target_inputs), reference(source, target_inputs), atol=1e-5)
    assert torch.allclose(built["encode"](ours.encoder, ours.embed(source), source != 0),
                          encode_sequence(ours.encoder, ours.embed(source), source != 0), atol=1e-6)
    scores, state = ours.step(target_inputs[:, 0], ours.encode(source))
    ref_scores, ref_state = reference.decoder.step(target_inputs[:, 0], reference.encoder(source))
    assert torch.allclose(scores, ref_scores, atol=1e-5) and torch.allclose(state, ref_state, atol=1e-5)


def test_each_distinct_question_encoded_once_gives_the_encoders_states_and_gradients(g):
    from mmcourse.pipelines import encode_each_question_once
    torch.manual_seed(0)
    encoder = SequenceEncoder(vocab_size=12, embed_size=4, hidden_size=6)
    questions = torch.randint(1, 12, (7, 5), generator=g)[torch.randint(0, 7, (40,), generator=g)]  # repeats
    questions[::3, -2:] = 0  # some padded
    once = encode_each_question_once(encoder, questions)
    assert torch.allclose(once, encoder(questions), atol=1e-6)
    once.square().sum().backward()
    grads = [p.grad.clone() for p in encoder.parameters()]
    encoder.zero_grad()
    encoder(questions).square().sum().backward()
    assert all(torch.allclose(a, p.grad, atol=1e-5) for a, p in zip(grads, encoder.parameters()))
