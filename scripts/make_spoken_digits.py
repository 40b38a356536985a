"""Generate the bundled spoken-digit set in ``data/spoken_digits/`` (maintainers only).

The course needs real-sounding speech that ships with the project and works offline. This script
asks the ``espeak-ng`` speech synthesiser (Debian package ``espeak-ng``) to say the English words
"zero" ... "nine" in 12 voices (accents and voice variants), each at 5 settings of speed and pitch,
then makes every utterance look like a Free Spoken Digit Dataset recording:

1. synthesise ``espeak-ng -v VOICE -s SPEED -p PITCH -w out.wav WORD`` (22,050 Hz mono WAV);
2. resample to 8 kHz (``torchaudio.functional.resample``);
3. trim leading and trailing silence (keep 10 ms either side of the first/last sample above 1 %
   of the peak);
4. peak-normalise to 0.9;
5. save as 16-bit FLAC ``{digit}_{voice}_{speed}_{pitch}.flac`` and list it in ``index.csv``
   (columns ``file,label,voice,speed,pitch``).

The settings are a fixed, balanced design (no random draws): voice ``v`` says digit ``d`` at every
speed ``SPEEDS[k]`` with pitch ``PITCHES[(k + v + d) % 5]``, so every voice uses every speed and
every pitch, and every digit is spoken 60 times. Output is deterministic for a given espeak-ng
version. Run from the repository root:

    python scripts/make_spoken_digits.py          # writes data/spoken_digits/
    du -sh data/spoken_digits                     # must stay <= 5 MB

Used by ``mmcourse.data.speech.load_spoken_digits(source="bundled")``.
"""
from __future__ import annotations

import argparse
import csv
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torchaudio

WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
# 12 voices = espeak-ng language (accent) + optional variant (+f2 ... female, +m3 male timbre).
# mmcourse.data.avdigits holds out the last three (TEST_VOICES there) as unseen speakers.
VOICES = (
    "en-us", "en-gb", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-us-nyc",
    "en-us+f2", "en-gb+f3", "en-us+m3",
    "en-gb-scotland", "en-029", "en-gb-x-rp+f4",
)
SPEEDS = (110, 140, 170, 200, 230)  # words per minute (espeak-ng's default is 175)
PITCHES = (25, 40, 55, 70, 85)  # espeak-ng pitch 0-99 (default 50)
SAMPLE_RATE = 8000
PEAK = 0.9
SILENCE_FRACTION = 0.01  # a sample is "silent" below 1 % of the utterance's peak
MARGIN_S = 0.010  # keep 10 ms of context around the speech


def design() -> list[tuple[int, str, int, int]]:
    """Every (digit, voice, speed, pitch) to synthesise, in a fixed order."""
    rows = []
    for d in range(len(WORDS)):
        for v, voice in enumerate(VOICES):
            for k, speed in enumerate(SPEEDS):
                rows.append((d, voice, speed, PITCHES[(k + v + d) % len(PITCHES)]))
    return rows


def synthesise(word: str, voice: str, speed: int, pitch: int, tmp: Path) -> tuple[torch.Tensor, int]:
    """Run espeak-ng once and return its waveform ``(T,)`` and sample rate."""
    out = tmp / "utterance.wav"
    cmd = ["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", str(out), word]
    subprocess.run(cmd, check=True, capture_output=True)
    audio, sr = sf.read(out, dtype="float32", always_2d=True)  # (T, channels)
    return torch.from_numpy(audio.mean(axis=1)), sr  # (T,)


def trim_silence(x: torch.Tensor, sample_rate: int) -> torch.Tensor:
    """Cut leading/trailing samples quieter than SILENCE_FRACTION of the peak, keeping a margin."""
    loud = torch.nonzero(x.abs() > SILENCE_FRACTION * x.abs().max()).flatten()
    margin = int(MARGIN_S * sample_rate)
    start = max(int(loud[0]) - margin, 0)
    stop = min(int(loud[-1]) + 1 + margin, x.numel())
    return x[start:stop]  # (T',)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    root = Path(__file__).resolve().parents[1]
    parser.add_argument("--out", type=Path, default=root / "data" / "spoken_digits")
    args = parser.parse_args(argv)
    if shutil.which("espeak-ng") is None:
        print("espeak-ng is not installed: apt-get install -y espeak-ng", file=sys.stderr)
        return 1
    version = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True).stdout.strip()
    print(version)

    if args.out.exists():
        shutil.rmtree(args.out)
    args.out.mkdir(parents=True)
    index = []
    with tempfile.TemporaryDirectory() as tmpdir:
        for d, voice, speed, pitch in design():
            x, sr = synthesise(WORDS[d], voice, speed, pitch, Path(tmpdir))  # (T,) at 22,050 Hz
            x = torchaudio.functional.resample(x, sr, SAMPLE_RATE)  # (T * 8000 / sr,)
            x = trim_silence(x, SAMPLE_RATE)
            x = PEAK * x / x.abs().max()
            name = f"{d}_{voice}_{speed}_{pitch}.flac"
            sf.write(args.out / name, x.numpy().astype(np.float32), SAMPLE_RATE, subtype="PCM_16")
            index.append((name, d, voice, speed, pitch))
    with open(args.out / "index.csv", "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["file", "label", "voice", "speed", "pitch"])
        writer.writerows(index)
    print(f"wrote {len(index)} utterances to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
