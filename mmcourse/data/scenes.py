"""A procedural scene world: coloured shapes on a grid, with captions and questions about them.

Paired image–text data, made on the spot and deterministic from a seed. A *scene* is one to three
objects (a colour, a shape and a cell of a ``grid × grid`` board); from its description we
*render* a small RGB image and *write* a caption and question–answer pairs, so the text is true
of the image by construction. The same world serves captioning and VQA (notebook 02), spatial
questions (04), zero-shot classification of colour–shape pairs never seen in training (06),
text-to-image generation (07) and patch + token pretraining (08).

Rules (all documented here, all tested):

- **Positions.** Objects sit in distinct cells, so they never overlap; ``jitter`` shifts each
  one by a few pixels inside its cell. "A left of B" means A's column is smaller than B's; "A
  above B" means A's row is smaller. Within a scene, every object has a different colour–shape
  pair, so "the red circle" names one object.
- **Captions.** Sort the objects by column, then row (left to right, top to bottom). One object:
  "a red circle". More: name them in that order, joined by the relation of each to the next,
  "left of" if it is in an earlier column, else "above" (same column, earlier row):
  "a red circle left of a blue square above a green cross". So the caption is a function of the
  image, and exact-match captioning is well defined. ``describe(colour, shape)`` gives the caption
  of a single attribute pair ("a red circle").
- **Questions** (``questions``): how many objects / circles are there; what colour is the
  <shape> and what shape is the <colour> object (asked only where one object fits); what shape is
  <left of|right of|above|below> the <colour> <shape> (only where exactly one object is); is the
  <colour> <shape> <relation> the <colour> <shape> (yes / no). Answers come from ``answers(config)``.
- **Splits.** ``held_out`` colour–shape pairs never appear in the ``"train"`` or ``"test"``
  splits; every scene of ``"unseen"`` contains at least one of them. Each (seed, split) has its
  own random stream.

Defined in notebook 02 (pipelines); used in notebooks 04, 06, 07 and 08.
Sources: the CLEVR idea (Johnson et al., "CLEVR: A Diagnostic Dataset for Compositional Language
and Elementary Visual Reasoning", 2017) and Shapeworld (Kuhnle and Copestake, 2017), in 2-D.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import torch

from mmcourse.data.vocab import Vocabulary

__all__ = ["COLOURS", "SHAPES", "RELATIONS", "Shape", "Scene", "SceneConfig", "SceneSet", "QA", "VQASet",
           "KINDS", "render", "caption", "describe", "questions", "answers", "make_scenes", "make_vqa", "scene_vocabulary",
           "relation_holds", "single_object_scenes"]

COLOURS = {"red": (0.92, 0.12, 0.12), "green": (0.15, 0.75, 0.2), "blue": (0.2, 0.4, 1.0),
           "yellow": (0.95, 0.88, 0.1), "purple": (0.62, 0.22, 0.85), "white": (0.95, 0.95, 0.95)}
SHAPES = ("circle", "square", "triangle", "cross")
PLURALS = {"circle": "circles", "square": "squares", "triangle": "triangles", "cross": "crosses"}
RELATIONS = ("left of", "right of", "above", "below")
NUMBERS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
SPLITS = ("train", "test", "unseen")


@dataclass(frozen=True)
class Shape:
    """One object of a scene: what it is and where. Defined in notebook 02."""

    colour: str  # a key of COLOURS
    shape: str  # one of SHAPES
    row: int  # grid row, 0 at the top
    col: int  # grid column, 0 at the left
    dy: int = 0  # shift in pixels from the cell centre (down)
    dx: int = 0  # shift in pixels from the cell centre (right)


@dataclass(frozen=True)
class Scene:
    """A scene: its objects in caption order (by column, then row). Defined in notebook 02."""

    objects: tuple[Shape, ...]

    def __post_init__(self):
        cells = [(o.row, o.col) for o in self.objects]
        pairs = [(o.colour, o.shape) for o in self.objects]
        if not self.objects or len(set(cells)) < len(cells) or len(set(pairs)) < len(pairs):
            raise ValueError(f"a scene needs >= 1 object, in distinct cells with distinct colour-shape pairs: {self}")
        object.__setattr__(self, "objects", tuple(sorted(self.objects, key=lambda o: (o.col, o.row))))


@dataclass
class SceneConfig:
    """What scenes look like; the defaults make 32×32 images on a 3×3 grid. Defined in notebook 02."""

    image_size: int = 32  # H = W in pixels
    grid: int = 3  # the board has grid × grid cells
    colours: tuple[str, ...] = tuple(COLOURS)  # colours to draw from (keys of COLOURS)
    shapes: tuple[str, ...] = SHAPES  # shapes to draw from
    min_objects: int = 1  # objects per scene, drawn uniformly in [min_objects, max_objects]
    max_objects: int = 3
    jitter: int = 1  # each object moves up to this many pixels from its cell centre
    held_out: tuple[tuple[str, str], ...] = ()  # colour-shape pairs kept out of "train" and "test"

    def __post_init__(self):
        if not set(self.colours) <= set(COLOURS) or not set(self.shapes) <= set(SHAPES):
            raise ValueError(f"colours must come from {tuple(COLOURS)} and shapes from {SHAPES}")
        if not 1 <= self.min_objects <= self.max_objects <= min(self.grid ** 2, 9):
            raise ValueError(f"need 1 <= min_objects <= max_objects <= grid² (and <= 9), got "
                             f"{self.min_objects}, {self.max_objects} on a {self.grid}×{self.grid} grid")
        if self.image_size // self.grid < 6 or not 0 <= self.jitter <= self.image_size // self.grid // 5:
            raise ValueError(f"cells of {self.image_size // self.grid} px need >= 6 px and jitter in "
                             f"[0, cell // 5], got image_size={self.image_size}, grid={self.grid}, jitter={self.jitter}")
        self.held_out = tuple((c, s) for c, s in self.held_out)
        for pair in self.held_out:
            if pair[0] not in self.colours or pair[1] not in self.shapes:
                raise ValueError(f"held-out pair {pair} is not a colour-shape pair of this config")
        if len(self.allowed_pairs()) < self.max_objects:
            raise ValueError("too many held-out pairs: fewer allowed pairs than objects per scene")

    def allowed_pairs(self) -> list[tuple[str, str]]:
        """The colour-shape pairs that "train" and "test" scenes may contain."""
        return [(c, s) for c in self.colours for s in self.shapes if (c, s) not in self.held_out]


@dataclass
class SceneSet:
    """``N`` scenes with their images and captions. Defined in notebook 02."""

    scenes: list[Scene]
    images: torch.Tensor  # (N, 3, H, W) float32 in [0, 1]
    captions: list[str]  # N canonical captions
    config: SceneConfig = field(repr=False)
    split: str = "train"

    def __len__(self) -> int:
        return len(self.scenes)


def _rng(seed: int, split: str) -> np.random.Generator:
    """An independent random stream for one (seed, split)."""
    digest = hashlib.sha256(f"scenes/{seed}/{split}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def _masks(shape_ids: torch.Tensor, dy: torch.Tensor, dx: torch.Tensor, r: float) -> torch.Tensor:
    """Boolean masks (M, S, S) of M shapes, from their kinds and offsets from a patch centre."""
    # dy, dx: (M, S, S) pixel-centre offsets from each object's centre
    ay, ax = dy.abs(), dx.abs()
    circle = dy ** 2 + dx ** 2 <= r ** 2
    square = (ay <= 0.8 * r) & (ax <= 0.8 * r)
    triangle = (dy >= -r) & (dy <= 0.8 * r) & (ax <= (dy + r) / 1.8)  # apex up, base at +0.8 r
    cross = ((ax <= 0.3 * r) & (ay <= r)) | ((ay <= 0.3 * r) & (ax <= r))
    table = torch.stack([circle, square, triangle, cross])  # (4, M, S, S)
    return table[shape_ids, torch.arange(len(shape_ids))]  # (M, S, S)


def render(scenes, config: SceneConfig | None = None, chunk: int = 1024) -> torch.Tensor:
    """Draw scenes (one ``Scene`` or a list) as float images ``(N, 3, H, W)`` in [0, 1], black
    background. The objects of ``chunk`` scenes are masked at once, so thousands of scenes take a
    fraction of a second and little memory. Defined in notebook 02."""
    config = config or SceneConfig()
    scenes = [scenes] if isinstance(scenes, Scene) else list(scenes)
    if len(scenes) > chunk:
        return torch.cat([render(scenes[i:i + chunk], config, chunk) for i in range(0, len(scenes), chunk)])
    N, S, cell = len(scenes), config.image_size, config.image_size // config.grid
    margin = (S - cell * config.grid) / 2
    flat = [(n, o) for n, scene in enumerate(scenes) for o in scene.objects]
    images = torch.zeros(N, 3, S, S)
    if not flat:
        return images
    owner = torch.tensor([n for n, _ in flat])  # (M,)
    shape_ids = torch.tensor([SHAPES.index(o.shape) for _, o in flat])  # (M,)
    cy = torch.tensor([margin + cell * (o.row + 0.5) + o.dy for _, o in flat])  # (M,)
    cx = torch.tensor([margin + cell * (o.col + 0.5) + o.dx for _, o in flat])  # (M,)
    colours = torch.tensor([COLOURS[o.colour] for _, o in flat])  # (M, 3)
    pixel = torch.arange(S) + 0.5  # pixel centres
    dy = pixel.view(1, S, 1) - cy.view(-1, 1, 1)  # (M, S, 1)
    dx = pixel.view(1, 1, S) - cx.view(-1, 1, 1)  # (M, 1, S)
    masks = _masks(shape_ids, dy.expand(-1, S, S), dx.expand(-1, S, S), r=0.4 * cell)  # (M, S, S)
    # objects never overlap, so painting is a sum of colour × mask per scene
    paint = masks.unsqueeze(1) * colours.view(-1, 3, 1, 1)  # (M, 3, S, S)
    images.index_add_(0, owner, paint)
    return images.clamp_(0, 1)


def describe(colour: str, shape: str) -> str:
    """The caption of one object, from its attributes only: ``"a red circle"``."""
    return f"a {colour} {shape}"


def relation_holds(a: Shape, relation: str, b: Shape) -> bool:
    """Is ``a`` <relation> ``b``? Columns decide left/right, rows decide above/below."""
    if relation not in RELATIONS:
        raise ValueError(f"relation must be one of {RELATIONS}, got {relation!r}")
    return {"left of": a.col < b.col, "right of": a.col > b.col,
            "above": a.row < b.row, "below": a.row > b.row}[relation]


def caption(scene: Scene) -> str:
    """The canonical caption: objects by column then row, each related to the next by "left of"
    (earlier column) or "above" (same column). Defined in notebook 02."""
    objects = scene.objects  # already in caption order
    words = [describe(objects[0].colour, objects[0].shape)]
    for a, b in zip(objects, objects[1:]):
        words += ["left of" if a.col < b.col else "above", describe(b.colour, b.shape)]
    return " ".join(words)


@dataclass(frozen=True)
class QA:
    """A question about a scene, its answer (one word) and its kind. Defined in notebook 02."""

    question: str
    answer: str
    kind: str  # "count", "colour", "shape", "relation" or "yes/no"


def questions(scene: Scene, config: SceneConfig | None = None) -> list[QA]:
    """Every question the grammar can ask about ``scene`` with a unique answer, in a fixed order."""
    config = config or SceneConfig()
    objs = scene.objects
    out = [QA("how many objects are there", NUMBERS[len(objs)], "count")]
    for s in config.shapes:
        out.append(QA(f"how many {PLURALS[s]} are there", NUMBERS[sum(o.shape == s for o in objs)], "count"))
    for s in config.shapes:
        found = [o for o in objs if o.shape == s]
        if len(found) == 1:
            out.append(QA(f"what colour is the {s}", found[0].colour, "colour"))
    for c in config.colours:
        found = [o for o in objs if o.colour == c]
        if len(found) == 1:
            out.append(QA(f"what shape is the {c} object", found[0].shape, "shape"))
    for t in objs:
        for rel in RELATIONS:
            found = [o for o in objs if relation_holds(o, rel, t)]
            if len(found) == 1:
                out.append(QA(f"what shape is {rel} the {t.colour} {t.shape}", found[0].shape, "relation"))
    for a in objs:
        for b in objs:
            if a != b:
                for rel in RELATIONS:
                    out.append(QA(f"is the {a.colour} {a.shape} {rel} the {b.colour} {b.shape}",
                                  "yes" if relation_holds(a, rel, b) else "no", "yes/no"))
    return out


def answers(config: SceneConfig | None = None) -> Vocabulary:
    """The closed set of answers (no special tokens): colours, shapes, numbers, yes and no."""
    config = config or SceneConfig()
    return Vocabulary([*config.colours, *config.shapes, *NUMBERS[:config.max_objects + 1], "yes", "no"],
                      specials=False)


def scene_vocabulary(config: SceneConfig | None = None) -> Vocabulary:
    """Every word of every caption and question of this world, with the special tokens."""
    config = config or SceneConfig()
    grammar = "a left of above right below how many objects are there what colour is the shape object"
    words = grammar.split() + list(config.colours) + list(config.shapes) + [PLURALS[s] for s in config.shapes]
    return Vocabulary(words + list(NUMBERS[:config.max_objects + 1]) + ["yes", "no"])


def _sample_scene(rng: np.random.Generator, config: SceneConfig, split: str) -> Scene:
    allowed = config.allowed_pairs()
    k = int(rng.integers(config.min_objects, config.max_objects + 1))
    cells = rng.choice(config.grid ** 2, size=k, replace=False)
    if split == "unseen":  # one held-out pair, the rest from every pair
        first = config.held_out[int(rng.integers(len(config.held_out)))]
        rest = [p for p in ((c, s) for c in config.colours for s in config.shapes) if p != first]
        pairs = [first] + [rest[i] for i in rng.choice(len(rest), size=k - 1, replace=False)]
    else:
        pairs = [allowed[i] for i in rng.choice(len(allowed), size=k, replace=False)]
    j = config.jitter
    shifts = rng.integers(-j, j + 1, size=(k, 2))
    return Scene(tuple(Shape(c, s, int(cell // config.grid), int(cell % config.grid), int(sy), int(sx))
                       for (c, s), cell, (sy, sx) in zip(pairs, cells, shifts)))


def make_scenes(n: int, seed: int = 0, config: SceneConfig | None = None, split: str = "train") -> SceneSet:
    """``n`` scenes of ``split`` ("train", "test" or "unseen"), rendered and captioned.

    The same (n, seed, config, split) always gives the same scenes; the first ``m`` scenes of a
    larger set are the ``m`` scenes of a smaller one. Defined in notebook 02.
    """
    config = config or SceneConfig()
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if split == "unseen" and not config.held_out:
        raise ValueError("split='unseen' needs held-out pairs: SceneConfig(held_out=[('red', 'circle'), ...])")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"n must be an int >= 0, got {n!r}")
    rng = _rng(int(seed), split)
    scenes = [_sample_scene(rng, config, split) for _ in range(int(n))]
    return SceneSet(scenes, render(scenes, config), [caption(s) for s in scenes], config, split)


def single_object_scenes(config: SceneConfig | None = None, pairs=None) -> SceneSet:
    """Every one-object scene of ``pairs`` (default: every colour-shape pair of ``config``, held-out
    ones included): each pair in each cell at each jitter offset, so ``len(pairs) · grid² · (2·jitter + 1)²``
    distinct images, in a fixed order (pair, cell, offset). Random draws repeat these few images; this
    lists each exactly once, e.g. to split them into disjoint validation and test sets. ``split`` follows
    the splits' rules: "test" if no pair is held out, "unseen" if every pair is, else "all". Defined in
    notebook 06."""
    config = config or SceneConfig()
    pairs = [(c, s) for c in config.colours for s in config.shapes] if pairs is None else [tuple(p) for p in pairs]
    for pair in pairs:
        if len(pair) != 2 or pair[0] not in config.colours or pair[1] not in config.shapes:
            raise ValueError(f"pairs must be (colour, shape) pairs of this config, got {pair!r}")
    offsets = range(-config.jitter, config.jitter + 1)
    scenes = [Scene((Shape(c, s, cell // config.grid, cell % config.grid, dy, dx),))
              for c, s in pairs for cell in range(config.grid ** 2) for dy in offsets for dx in offsets]
    held = [p in config.held_out for p in pairs]
    split = "test" if not any(held) else "unseen" if all(held) else "all"
    return SceneSet(scenes, render(scenes, config), [caption(s) for s in scenes], config, split)


@dataclass
class VQASet:
    """Question–answer pairs about a ``SceneSet``. Defined in notebook 02."""

    scene_index: torch.Tensor  # (M,) int64: which scene (and image) each question is about
    questions: list[str]  # M questions
    answers: list[str]  # M one-word answers
    kinds: list[str]  # M kinds: "count", "colour", "shape", "relation", "yes/no"

    def __len__(self) -> int:
        return len(self.questions)


KINDS = ("count", "colour", "shape", "relation", "yes/no")


def make_vqa(scene_set: SceneSet, per_scene: int = 1, seed: int = 0, kinds: tuple[str, ...] = KINDS) -> VQASet:
    """``per_scene`` questions about each scene: a kind drawn uniformly among ``kinds`` that the
    scene allows, then a question of that kind; yes/no questions are balanced (yes and no equally
    likely when both exist). Deterministic. Defined in notebook 02."""
    if not kinds or not set(kinds) <= set(KINDS):
        raise ValueError(f"kinds must be a non-empty subset of {KINDS}, got {kinds!r}")
    rng = _rng(int(seed), f"vqa/{scene_set.split}")
    index, qs, ans, kinds_out = [], [], [], []
    for i, scene in enumerate(scene_set.scenes):
        pool = [qa for qa in questions(scene, scene_set.config) if qa.kind in kinds]
        by_kind: dict[str, dict[str, list[QA]]] = {}
        for qa in pool:
            key = f"{qa.kind}/{qa.answer}" if qa.kind == "yes/no" else qa.kind
            by_kind.setdefault(qa.kind, {}).setdefault(key, []).append(qa)
        for _ in range(per_scene):
            kind = sorted(by_kind)[int(rng.integers(len(by_kind)))]
            groups = by_kind[kind]
            group = groups[sorted(groups)[int(rng.integers(len(groups)))]]
            qa = group[int(rng.integers(len(group)))]
            index.append(i)
            qs.append(qa.question)
            ans.append(qa.answer)
            kinds_out.append(qa.kind)
    return VQASet(torch.tensor(index, dtype=torch.int64), qs, ans, kinds_out)
