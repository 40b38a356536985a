"""Real, small, offline data for the course: one loader module per source.

- ``digits``: scikit-learn's 1,797 handwritten 8×8 digits (ship with scikit-learn);
- ``samples``: a photo, an EEG recording, an MRI slice and stock prices (ship with matplotlib);
- ``speech``: spoken digits, synthetic (made with espeak-ng, ``data/spoken_digits/``) or real, and
  splits by speaker;
- ``fsdd``: the real Free Spoken Digit Dataset, 3,000 recordings of 6 speakers bundled as FLAC in
  ``data/fsdd/`` (CC BY-SA 4.0), verified against a SHA-256 manifest, with its official split;
- ``avdigits``: audio-visual pairs of a digit image and a spoken digit of the same label, with
  noise and missing modalities;
- ``text``: the docstrings of Python's standard library, read at run time.
- ``scenes``: a procedural world of coloured shapes on a grid, with captions, questions and answers,
  and splits that hold out colour–shape pairs (notebook 02);
- ``vocab``: a ``Vocabulary`` of words ↔ ids with ``<pad>``, ``<bos>``, ``<eos>``, ``<unk>`` (notebook 02).

Nothing here uses the network. Provenance and
licences: ``data/README.md``. Defined in notebook 01 (modalities).
"""
from mmcourse.data.avdigits import TEST_VOICES, AVDigits, AVDigitsConfig, make_av_digits
from mmcourse.data.digits import load_digits, train_test_split_indices
from mmcourse.data.fsdd import FSDD_SPEAKERS, TEST_TAKES, fsdd_takes, load_fsdd, official_split, verify_fsdd
from mmcourse.data.samples import load_eeg, load_mri, load_photo, load_stock_prices
from mmcourse.data.speech import (SPEECH_ENV, SpokenDigits, data_dir, load_spoken_digits, log_mel_spectrogram,
                                  pad_or_trim, select_speakers, speech_source, split_by_speaker)
from mmcourse.data.text import load_corpus, tokenize

__all__ = [
    "load_digits", "train_test_split_indices",
    "load_photo", "load_eeg", "load_mri", "load_stock_prices",
    "SpokenDigits", "data_dir", "load_spoken_digits", "pad_or_trim", "log_mel_spectrogram",
    "select_speakers", "split_by_speaker", "speech_source", "SPEECH_ENV",
    "load_fsdd", "verify_fsdd", "official_split", "fsdd_takes", "FSDD_SPEAKERS", "TEST_TAKES",
    "AVDigitsConfig", "AVDigits", "make_av_digits", "TEST_VOICES",
    "load_corpus", "tokenize",
]
from mmcourse.data.scenes import (COLOURS, KINDS, QA, RELATIONS, SHAPES, Scene, SceneConfig, SceneSet, Shape, VQASet,
                                  answers, caption, describe, make_scenes, make_vqa, questions, relation_holds, render,
                                  scene_vocabulary)
from mmcourse.data.vocab import SPECIALS, Vocabulary, pad_batch

__all__ += [
    "COLOURS", "SHAPES", "RELATIONS", "KINDS", "Shape", "Scene", "SceneConfig", "SceneSet", "QA", "VQASet",
    "render", "caption", "describe", "questions", "answers", "make_scenes", "make_vqa", "scene_vocabulary",
    "relation_holds", "Vocabulary", "pad_batch", "SPECIALS",
]
