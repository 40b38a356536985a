"""Notebook 07's exercise diagnoses are proven: each known wrong answer gets the message that names it.

The test functions are taken from ``notebooks/07_diffusion.py`` exactly as otter takes them, and called with
correct and wrong implementations, as a student's notebook would call them.
"""
import pytest

from exercise_feedback import exercise_tests, feedback
from mmcourse.diffusion import DDPMSchedule, classifier_free_guidance

QUESTIONS = ("q07_q_sample", "q07_reverse_step", "q07_guidance")
Q07 = {q: exercise_tests("07_diffusion", q) for q in QUESTIONS}


# ---- q_sample ----------------------------------------------------------------------------------------
def _q_sample(coefficients, reshape=True):
    """q_sample built from ``coefficients(schedule, t) -> (data coefficient, noise coefficient)``, each (B,)."""
    def q_sample(schedule, x0, t, noise):
        a, b = coefficients(schedule, t)
        if reshape:
            a, b = (c.view(len(x0), *[1] * (x0.ndim - 1)) for c in (a, b))
        return a * x0 + b * noise
    return q_sample


def _q_sample_2d_only(schedule, x0, t, noise):
    alpha_bar = schedule.alpha_bars[t].view(-1, 1)  # right for (B, D), wrong for images
    return alpha_bar.sqrt() * x0 + (1 - alpha_bar).sqrt() * noise


Q_SAMPLE_MISTAKES = [
    (_q_sample(lambda s, t: (s.alpha_bars[t], 1 - s.alpha_bars[t])), "the square roots are missing"),
    (_q_sample(lambda s, t: (s.alphas[t].sqrt(), (1 - s.alphas[t]).sqrt())), "you used α_t = 1 − β_t"),
    (_q_sample(lambda s, t: (s.alpha_bars[t].sqrt(), s.betas[t].sqrt())), "β_t and ᾱ_t are mixed up"),
    (_q_sample(lambda s, t: ((1 - s.alpha_bars[t]).sqrt(), s.alpha_bars[t].sqrt())), "coefficients are swapped"),
    (_q_sample(lambda s, t: (s.alpha_bars[t - 1].sqrt(), (1 - s.alpha_bars[t - 1]).sqrt())),
     "index t already stands for the paper's step t"),
    (_q_sample(lambda s, t: (s.alpha_bars[t].sqrt(), (1 - s.alpha_bars[t]).sqrt()), reshape=False),
     "reshape it to (4, 1)"),
]


# ---- reverse_step ------------------------------------------------------------------------------------
def _step(mean_of, std_of, last_step_special=True):
    """reverse_step = mean_of(schedule, eps, t, x_t) + std_of(schedule, t) · noise (only the mean at t = 0)."""
    def reverse_step(schedule, eps, t, x_t, noise):
        mean = mean_of(schedule, eps, t, x_t)
        if t == 0 and last_step_special:
            return mean
        return mean + std_of(schedule, t) * noise
    return reverse_step


def _mean(coefficient, divisor=lambda s, t: s.alphas[t].sqrt(), sign=-1):
    """(x_t + sign · coefficient · ε) / divisor."""
    return lambda s, eps, t, x_t: (x_t + sign * coefficient(s, t) * eps) / divisor(s, t)


RIGHT_COEFFICIENT = lambda s, t: s.betas[t] / (1 - s.alpha_bars[t]).sqrt()  # noqa: E731
RIGHT_MEAN = _mean(RIGHT_COEFFICIENT)
POSTERIOR = lambda s, t: (1 - s.alpha_bars[t - 1]) / (1 - s.alpha_bars[t]) * s.betas[t]  # noqa: E731
RIGHT_STD = lambda s, t: POSTERIOR(s, t).sqrt()  # noqa: E731

STEP_MISTAKES = [
    (_step(RIGHT_MEAN, lambda s, t: 0.0), "no noise was added"),
    (_step(RIGHT_MEAN, lambda s, t: s.betas[t].sqrt()), "you added √β_t · z"),
    (_step(RIGHT_MEAN, POSTERIOR), "not by the variance β̃_t"),
    (_step(_mean(RIGHT_COEFFICIENT, divisor=lambda s, t: s.alpha_bars[t].sqrt()), RIGHT_STD),
     "divide by √α_t of this one step"),
    (_step(_mean(lambda s, t: s.betas[t] / (1 - s.alpha_bars[t])), RIGHT_STD), "the square root is missing"),
    (_step(_mean(lambda s, t: s.alpha_bars[t] / (1 - s.betas[t]).sqrt()), RIGHT_STD), "β_t and ᾱ_t are mixed up"),
    (_step(_mean(lambda s, t: s.betas[t] / (1 - s.betas[t]).sqrt()), RIGHT_STD), "β_t and ᾱ_t are mixed up"),
    (_step(_mean(lambda s, t: (1 - s.alpha_bars[t]).sqrt()), RIGHT_STD), "all the noise in x_t"),
    (_step(_mean(RIGHT_COEFFICIENT, sign=+1), RIGHT_STD), "must be subtracted from x_t"),
    (_step(RIGHT_MEAN, RIGHT_STD, last_step_special=False), "wraps round to ᾱ_T"),
    (_step(RIGHT_MEAN, lambda s, t: s.betas[t].sqrt() if t == 0 else RIGHT_STD(s, t), last_step_special=False),
     "adds no noise"),
]


# ---- guidance ----------------------------------------------------------------------------------------
GUIDANCE_MISTAKES = [
    (lambda ec, eu, s: eu - s * (ec - eu), "the guidance sign is swapped"),
    (lambda ec, eu, s: ec + s * (eu - ec), "ε_cond and ε_uncond are swapped"),
    (lambda ec, eu, s: s * (ec - eu), "you left out ε_uncond"),
    (lambda ec, eu, s: ec + s * (ec - eu), "equals ours with s = 1 + w"),
    (lambda ec, eu, s: s * ec, "you scaled ε_cond alone"),
]

CORRECT = {"q07_q_sample": {"q_sample": DDPMSchedule.q_sample},
           "q07_reverse_step": {"reverse_step": DDPMSchedule.step},
           "q07_guidance": {"guided_eps": classifier_free_guidance}}
MISTAKES = ([("q07_q_sample", {"q_sample": f}, d) for f, d in Q_SAMPLE_MISTAKES]
            + [("q07_reverse_step", {"reverse_step": f}, d) for f, d in STEP_MISTAKES]
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
    namespace = {}
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


def test_q07_hidden_test_catches_a_q_sample_that_only_works_for_vectors():
    assert feedback(Q07["q07_q_sample"]["test_q_sample_on_a_batch_of_vectors"], q_sample=_q_sample_2d_only) == ""
    message = feedback(Q07["q07_q_sample"]["test_q_sample_on_images_and_at_the_ends"], q_sample=_q_sample_2d_only)
    assert "(B, 1, 1, 1)" in message


def test_q07_hidden_tests_catch_answers_right_only_at_the_visible_inputs():
    hidden_step = Q07["q07_reverse_step"]["test_reverse_step_matches_the_course_on_images"]
    assert feedback(hidden_step, reverse_step=_step(RIGHT_MEAN, RIGHT_STD, last_step_special=False)) != ""
    hidden_guidance = Q07["q07_guidance"]["test_guided_eps_on_images_and_other_scales"]
    assert feedback(hidden_guidance, guided_eps=lambda ec, eu, s: eu + 3.0 * (ec - eu)) != ""
