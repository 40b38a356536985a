"""Tests for mmcourse.data.scenes: the procedural scene world (images, captions, questions, splits)."""
import re

import pytest
import torch

from mmcourse.data.scenes import (COLOURS, KINDS, NUMBERS, RELATIONS, Scene, SceneConfig, Shape, answers, caption,
                                  describe, make_scenes, make_vqa, questions, relation_holds, render,
                                  scene_vocabulary, single_object_scenes)

HELD_OUT = (("red", "circle"), ("blue", "square"))


@pytest.fixture(scope="module")
def scenes():
    return make_scenes(600, seed=0)


def test_images_have_the_documented_shape_dtype_and_range(scenes):
    assert scenes.images.shape == (600, 3, 32, 32) and scenes.images.dtype == torch.float32
    assert scenes.images.min() >= 0 and scenes.images.max() <= 1
    assert len(scenes.captions) == len(scenes.scenes) == len(scenes) == 600


def test_same_seed_gives_identical_scenes_images_captions_and_questions(scenes):
    again = make_scenes(600, seed=0)
    assert again.scenes == scenes.scenes and again.captions == scenes.captions
    assert torch.equal(again.images, scenes.images)
    a, b = make_vqa(scenes, per_scene=2, seed=3), make_vqa(again, per_scene=2, seed=3)
    assert a.questions == b.questions and a.answers == b.answers and torch.equal(a.scene_index, b.scene_index)


def test_another_seed_or_split_gives_other_scenes(scenes):
    assert make_scenes(600, seed=1).captions != scenes.captions
    assert make_scenes(600, seed=0, split="test").captions != scenes.captions


def test_a_smaller_set_is_a_prefix_of_a_larger_one(scenes):
    assert make_scenes(50, seed=0).scenes == scenes.scenes[:50]


def test_objects_lie_in_distinct_cells_with_distinct_colour_shape_pairs(scenes):
    for scene in scenes.scenes:
        assert 1 <= len(scene.objects) <= 3
        assert len({(o.row, o.col) for o in scene.objects}) == len(scene.objects)
        assert len({(o.colour, o.shape) for o in scene.objects}) == len(scene.objects)


def test_each_object_is_drawn_in_its_colour_at_its_cell_and_nowhere_else(scenes):
    config = scenes.config
    cell = config.image_size // config.grid
    margin = (config.image_size - cell * config.grid) // 2
    for scene, image in zip(scenes.scenes[:200], scenes.images[:200]):
        painted = image.sum(0) > 0  # (H, W)
        covered = torch.zeros_like(painted)
        for o in scene.objects:
            y0, x0 = margin + o.row * cell, margin + o.col * cell
            patch = image[:, y0:y0 + cell, x0:x0 + cell]  # the object's cell
            ink = patch.sum(0) > 0
            assert ink.sum() >= 10, f"{o} is not drawn in its cell"
            colours = patch[:, ink].T.unique(dim=0)
            assert torch.allclose(colours, torch.tensor([COLOURS[o.colour]]), atol=1e-6), f"{o} has the wrong colour"
            covered[y0:y0 + cell, x0:x0 + cell] = True
        assert not (painted & ~covered).any(), "ink outside the cells of the scene's objects"


def test_each_shape_has_its_own_silhouette():
    silhouettes = [render(Scene((Shape("white", s, 1, 1),)))[0, 0] > 0 for s in ("circle", "square", "triangle", "cross")]
    for i in range(4):
        for j in range(i + 1, 4):
            assert (silhouettes[i] != silhouettes[j]).sum() >= 8


def _parse(text):
    """A caption back into [(colour, shape)] and the relation words between them."""
    parts = re.split(r" (left of|above) ", text)
    return [tuple(p.split()[1:]) for p in parts[0::2]], parts[1::2]


def test_captions_name_every_object_and_true_relations_in_canonical_order(scenes):
    for scene, text in zip(scenes.scenes, scenes.captions):
        pairs, relations = _parse(text)
        objs = sorted(scene.objects, key=lambda o: (o.col, o.row))
        assert pairs == [(o.colour, o.shape) for o in objs]
        for a, rel, b in zip(objs, relations, objs[1:]):
            assert relation_holds(a, rel, b)
            assert rel == ("left of" if a.col < b.col else "above")


def test_caption_does_not_depend_on_the_order_objects_are_listed():
    a, b = Shape("red", "circle", 0, 2), Shape("blue", "square", 2, 0)
    assert caption(Scene((a, b))) == caption(Scene((b, a))) == "a blue square left of a red circle"
    assert describe("green", "cross") == "a green cross"


def test_relations_follow_rows_and_columns():
    a, b = Shape("red", "circle", 0, 0), Shape("blue", "square", 1, 2)
    assert relation_holds(a, "left of", b) and relation_holds(a, "above", b)
    assert relation_holds(b, "right of", a) and relation_holds(b, "below", a)
    assert not relation_holds(a, "right of", b) and not relation_holds(a, "below", b)


def test_answers_of_questions_are_true_of_the_scene():
    scene = Scene((Shape("red", "circle", 0, 0), Shape("blue", "square", 0, 2), Shape("green", "circle", 2, 1)))
    qa = {q.question: q.answer for q in questions(scene)}
    assert qa["how many objects are there"] == "three"
    assert qa["how many circles are there"] == "two" and qa["how many crosses are there"] == "zero"
    assert qa["what colour is the square"] == "blue" and "what colour is the circle" not in qa
    assert qa["what shape is the green object"] == "circle"
    assert qa["what shape is below the blue square"] == "circle"
    assert qa["what shape is right of the green circle"] == "square"
    assert "what shape is right of the red circle" not in qa  # two objects are: no unique answer
    assert qa["is the red circle left of the blue square"] == "yes"
    assert qa["is the green circle above the red circle"] == "no"


def test_every_answer_is_in_the_answer_set_and_every_word_in_the_vocabulary(scenes):
    vocab, labels = scene_vocabulary(), answers()
    qa = make_vqa(scenes, per_scene=3)
    assert all(a in labels for a in qa.answers)
    for text in scenes.captions + qa.questions:
        assert vocab.unk_id not in vocab.encode(text), text


def test_vqa_covers_every_kind_balances_yes_no_and_can_keep_chosen_kinds(scenes):
    qa = make_vqa(scenes, per_scene=4)
    assert set(qa.kinds) == set(KINDS) and len(qa) == 2400
    yes_no = [a for a, k in zip(qa.answers, qa.kinds) if k == "yes/no"]
    assert 0.4 < yes_no.count("yes") / len(yes_no) < 0.6
    only = make_vqa(scenes, per_scene=2, kinds=("colour", "count"))
    assert set(only.kinds) <= {"colour", "count"}
    assert all(qa.questions[i] in {q.question for q in questions(scenes.scenes[int(s)])}
               for i, s in enumerate(qa.scene_index[:100]))


def test_held_out_pairs_never_appear_in_train_or_test_and_always_in_unseen():
    config = SceneConfig(held_out=HELD_OUT)
    for split in ("train", "test"):
        data = make_scenes(1500, seed=0, config=config, split=split)
        seen = {(o.colour, o.shape) for s in data.scenes for o in s.objects}
        assert not seen & set(HELD_OUT), f"held-out pairs in {split}"
        assert len(seen) == len(COLOURS) * 4 - 2
    unseen = make_scenes(300, seed=0, config=config, split="unseen")
    assert all({(o.colour, o.shape) for o in s.objects} & set(HELD_OUT) for s in unseen.scenes)


def test_a_config_can_restrict_colours_shapes_and_object_counts():
    config = SceneConfig(colours=("red", "green", "blue", "yellow"), shapes=("circle", "square", "triangle"),
                         max_objects=2, image_size=24, jitter=0)
    data = make_scenes(200, seed=0, config=config)
    assert data.images.shape == (200, 3, 24, 24)
    assert all(len(s.objects) <= 2 and {o.colour for o in s.objects} <= set(config.colours) for s in data.scenes)
    assert answers(config).itos[-5:] == [*NUMBERS[:3], "yes", "no"]
    assert len(RELATIONS) == 4


@pytest.mark.parametrize("kwargs, message", [
    ({"colours": ("pink",)}, "colours must come from"),
    ({"max_objects": 10}, "max_objects"),
    ({"held_out": (("red", "star"),)}, "not a colour-shape pair"),
    ({"image_size": 12}, "cells of"),
])
def test_bad_configs_get_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SceneConfig(**kwargs)


def test_bad_splits_and_scenes_get_clear_errors():
    with pytest.raises(ValueError, match="split must be"):
        make_scenes(3, split="valid")
    with pytest.raises(ValueError, match="needs held-out pairs"):
        make_scenes(3, split="unseen")
    with pytest.raises(ValueError, match="distinct cells"):
        Scene((Shape("red", "circle", 0, 0), Shape("blue", "square", 0, 0)))


def test_single_object_scenes_lists_every_pair_cell_and_offset_once():
    config = SceneConfig(held_out=HELD_OUT)
    every = single_object_scenes(config)
    assert len(every) == 24 * 9 * 9 and len(set(every.scenes)) == len(every)  # 24 pairs, 9 cells, 3×3 offsets
    assert every.images.shape == (len(every), 3, 32, 32) and every.split == "all"
    assert single_object_scenes(config, [("green", "cross")]).split == "test"
    assert every.captions[0] == describe("red", "circle")
    held = single_object_scenes(config, HELD_OUT)
    assert len(held) == 2 * 81 and held.split == "unseen"
    assert {(s.objects[0].colour, s.objects[0].shape) for s in held.scenes} == set(HELD_OUT)
    # the same images as random draws make: every single-object "unseen" scene is in the list
    drawn = make_scenes(200, seed=0, config=SceneConfig(held_out=HELD_OUT, max_objects=1), split="unseen")
    index = {scene: i for i, scene in enumerate(held.scenes)}
    assert all(torch.equal(held.images[index[s]], image) for s, image in zip(drawn.scenes, drawn.images))


def test_single_object_scenes_rejects_pairs_outside_the_config():
    with pytest.raises(ValueError, match="pairs must be"):
        single_object_scenes(SceneConfig(colours=("red", "green")), [("blue", "circle")])
