"""Notebook 07's exercise diagnoses are proven: each known wrong answer gets the message that names it.

The test functions are taken from ``notebooks/07_diffusion.py`` exactly as otter takes them, and called with
correct and wrong implementations, as a student's notebook would call them.
"""
import pytest
import torch

from exercise_feedback import exercise_tests, feedback
from mmcourse.diffusion import classifier_free_guidance, training_loss

QUESTIONS = ("q07_training_loss", "q07_guidance")
Q07 = {q: exercise_tests("07_diffusion", q) for q in QUESTIONS}


# ---- training_loss (Algorithm 1) ---------------------------------------------------------------------
def _loss(factors=None, steps=None, noise=torch.randn_like, target="noise", reduce="mean", reshape=True,
          detach=False):
    """Algorithm 1 with one thing changed: ``factors(schedule, t) -> (of x_0, of ε)``, each (B,); ``steps(T, B)``
    draws the step indices; the noise; the regression target; the reduction; the reshape of the factors; a
    detached loss."""
    def training_loss(schedule, eps_model, x0):
        B, T = x0.shape[0], schedule.num_steps
        t = torch.randint(0, T, (B,)) if steps is None else steps(T, B)
        eps = noise(x0)
        ab = schedule.alpha_bars[t]
        a, b = (ab.sqrt(), (1 - ab).sqrt()) if factors is None else factors(schedule, t)
        shape = (B, *[1] * (x0.ndim - 1)) if reshape else (B, 1)
        x_t = a.view(shape) * x0 + b.view(shape) * eps
        d = (eps_model(x_t, t) - {"noise": eps, "x0": x0, "x_t": x_t}[target]) ** 2
        loss = {"mean": d.mean(), "per example": d.flatten(1).sum(1).mean(), "sum": d.sum()}[reduce]
        return loss.detach() if detach else loss
    return training_loss


LOSS_MISTAKES = [
    (_loss(factors=lambda s, t: (s.alpha_bars[t], 1 - s.alpha_bars[t])), "the square roots are missing"),
    (_loss(factors=lambda s, t: (s.alphas[t].sqrt(), s.betas[t].sqrt())), "you used α_t = 1 − β_t"),
    (_loss(factors=lambda s, t: (s.alpha_bars[t].sqrt(), s.betas[t].sqrt())), "β_t and ᾱ_t are mixed up"),
    (_loss(factors=lambda s, t: ((1 - s.alpha_bars[t]).sqrt(), s.alpha_bars[t].sqrt())), "the two factors are swapped"),
    (_loss(factors=lambda s, t: (s.alpha_bars[t - 1].sqrt(), (1 - s.alpha_bars[t - 1]).sqrt())),
     "x_t was noised for step t − 1"),
    (_loss(steps=lambda T, B: torch.randint(0, T - 1, (B,))), "upper bound is exclusive"),
    (_loss(steps=lambda T, B: torch.randint(1, T + 1, (B,))), "indexing the schedule failed"),
    (_loss(steps=lambda T, B: torch.full((B,), int(torch.randint(0, T, ())))), "every row got the same step"),
    (_loss(steps=lambda T, B: torch.rand(B) * T), "must be integers 0 … T−1"),
    (_loss(noise=torch.rand_like), "the noise looks uniform"),
    (_loss(target="x0"), "you regressed x_0"),
    (_loss(target="x_t"), "you regressed x_t"),
    (_loss(reduce="per example"), "you summed over each example's numbers"),
    (_loss(reduce="sum"), "you summed over everything"),
    (_loss(detach=True), "the loss has no gradient"),
    (lambda schedule, eps_model, x0: torch.tensor(0.0), "never called eps_model"),
]


# ---- guidance ----------------------------------------------------------------------------------------
GUIDANCE_MISTAKES = [
    (lambda ec, eu, s: eu - s * (ec - eu), "the guidance sign is swapped"),
    (lambda ec, eu, s: ec + s * (eu - ec), "ε_cond and ε_uncond are swapped"),
    (lambda ec, eu, s: s * (ec - eu), "you left out ε_uncond"),
    (lambda ec, eu, s: ec + s * (ec - eu), "equals ours with s = 1 + w"),
    (lambda ec, eu, s: s * ec, "you scaled ε_cond alone"),
]

CORRECT = {"q07_training_loss": {"training_loss": training_loss},
           "q07_guidance": {"guided_eps": classifier_free_guidance}}
MISTAKES = ([("q07_training_loss", {"training_loss": f}, d) for f, d in LOSS_MISTAKES]
            + [("q07_guidance", {"guided_eps": f}, d) for f, d in GUIDANCE_MISTAKES])


@pytest.mark.parametrize("question", QUESTIONS)
def test_q07_exercises_pass_a_correct_answer(question):
    assert all(feedback(t, **CORRECT[question]) == "" for t in Q07[question].values())


@pytest.mark.parametrize("question", QUESTIONS)
def test_q07_exercises_pass_the_solutions_written_as_a_student_would(question):
    """The hand-written solutions (the ones in the notebook) pass too, not only the course's reference."""
    import jupytext

    import nbtools

    nb = jupytext.read(nbtools.NOTEBOOKS / "07_diffusion.py")
    name = next(iter(CORRECT[question]))
    source = next(c.source for c in nb.cells if c.cell_type == "code" and c.source.startswith(f"def {name}("))
    namespace = {"torch": torch, "F": torch.nn.functional}  # what the notebook has imported by then
    exec(source, namespace)
    assert all(feedback(t, **{name: namespace[name]}) == "" for t in Q07[question].values())


@pytest.mark.parametrize("question, answer, diagnosis", MISTAKES, ids=[f"{m[0]}: {m[2]}" for m in MISTAKES])
def test_q07_exercises_name_each_known_mistake(question, answer, diagnosis):
    visible = next(iter(Q07[question].values()))  # the first test cell of each question is the visible one
    message = feedback(visible, **answer)
    assert diagnosis in message, f"the visible test of {question} should say {diagnosis!r}, it says {message!r}"


@pytest.mark.parametrize("question", QUESTIONS)
def test_q07_exercises_say_an_unfinished_answer_is_unfinished(question):
    unfinished = {name: (lambda *args: None) for name in CORRECT[question]}
    assert all("Replace the `...`" in feedback(t, **unfinished) for t in Q07[question].values())


def test_q07_hidden_test_catches_a_training_loss_that_only_works_for_rows():
    rows_only = _loss(reshape=False)
    assert feedback(Q07["q07_training_loss"]["test_training_loss_on_rows_of_threes"], training_loss=rows_only) == ""
    message = feedback(Q07["q07_training_loss"]["test_training_loss_on_images_and_a_trainable_network"],
                       training_loss=rows_only)
    assert "(B, 1, 1, 1)" in message


def test_q07_hidden_test_runs_the_full_check_on_flat_rows():
    hidden = Q07["q07_training_loss"]["test_training_loss_on_images_and_a_trainable_network"]
    assert "not Algorithm 1" in feedback(hidden, training_loss=_loss(reduce="sum"))


def test_q07_hidden_guidance_test_catches_answers_right_only_at_the_visible_inputs():
    hidden_guidance = Q07["q07_guidance"]["test_guided_eps_on_images_and_other_scales"]
    assert feedback(hidden_guidance, guided_eps=lambda ec, eu, s: eu + 3.0 * (ec - eu)) != ""
