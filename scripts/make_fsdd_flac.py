"""Build the bundled Free Spoken Digit Dataset in ``data/fsdd/`` from the original WAVs (maintainers only).

FSDD v1.0.10 (Z. Jackson et al., CC BY-SA 4.0) is 3,000 mono 16-bit PCM WAV files at 8 kHz,
21 MB of files. FLAC stores the same samples losslessly in 12 MB. This script:

1. reads the SHA-256 manifest of the original WAV files (``file,sha256``, 3,000 rows) and checks
   every source WAV against it;
2. re-encodes each WAV as 16-bit FLAC with ``soundfile`` (libsndfile's FLAC encoder, compression
   level 1.0 = libFLAC's strongest), named ``{digit}_{speaker}_{take}.flac``;
3. checks each FLAC by decoding it: its samples must equal the WAV's, and the canonical WAV bytes
   rebuilt from them (``mmcourse.data.fsdd.pcm16_wav_bytes``) must be the original file byte for
   byte, so they hash to the manifest's SHA-256 (this is the check ``load_fsdd`` repeats on load);
4. copies the manifest beside the FLACs, unchanged.

``data/fsdd/LICENSE.md`` and ``data/fsdd/README.md`` (licence notice, credit, provenance) are
written by hand and committed; the script leaves them alone. The FLAC bytes depend on the libFLAC
version (its name is written in each file); the decoded samples, which the manifest checks, do not.
Run from the repository root:

    python scripts/make_fsdd_flac.py                    # reads ../shared/data/fsdd-v1.0.10/
    python scripts/make_fsdd_flac.py --source DIR --manifest CSV --out data/fsdd
    du -sh data                                         # must stay under about 25 MB

Used by ``mmcourse.data.fsdd.load_fsdd`` and ``load_spoken_digits(source="fsdd")``.
"""
from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from mmcourse.data.fsdd import MANIFEST_NAME, N_RECORDINGS, SAMPLE_RATE, read_manifest, pcm16_wav_bytes  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
COMPRESSION_LEVEL = 1.0  # soundfile's 0.0-1.0 maps to libFLAC levels 0-8


def build(source: Path, manifest: Path, out: Path) -> int:
    """Encode every recording of ``manifest`` from ``source`` into ``out``; return the bytes written."""
    expected = read_manifest(manifest)
    if len(expected) != N_RECORDINGS:
        raise SystemExit(f"{manifest} lists {len(expected)} recordings, expected {N_RECORDINGS}")
    out.mkdir(parents=True, exist_ok=True)
    stale = {p.name for p in out.glob("*.flac")} - {Path(n).with_suffix(".flac").name for n in expected}
    for name in sorted(stale):  # a rebuild leaves no file the manifest does not name
        (out / name).unlink()
    total = 0
    for i, (name, sha) in enumerate(sorted(expected.items())):
        wav = source / name
        raw = wav.read_bytes()
        # 1. the source file is the published one
        if hashlib.sha256(raw).hexdigest() != sha:
            raise SystemExit(f"{wav} does not match the manifest: it is not FSDD v1.0.10 as published")
        samples, sr = sf.read(wav, dtype="int16")  # (T,)
        if sr != SAMPLE_RATE or samples.ndim != 1:
            raise SystemExit(f"{wav} is {sr} Hz with shape {samples.shape}; expected mono {SAMPLE_RATE} Hz")
        # 2. lossless re-encoding
        flac = out / Path(name).with_suffix(".flac").name
        sf.write(flac, samples, sr, format="FLAC", subtype="PCM_16", compression_level=COMPRESSION_LEVEL)
        # 3. decoding gives the same samples, and the same WAV file byte for byte
        decoded, sr2 = sf.read(flac, dtype="int16")  # (T,)
        if sr2 != sr or not np.array_equal(decoded, samples):
            raise SystemExit(f"{flac} does not decode to the samples of {wav}")
        if pcm16_wav_bytes(decoded, sr2) != raw:
            raise SystemExit(f"{wav} is not a canonical 44-byte-header PCM WAV: its bytes cannot be rebuilt")
        total += flac.stat().st_size
        if (i + 1) % 500 == 0:
            print(f"{i + 1} / {len(expected)} encoded and checked", flush=True)
    # 4. the manifest travels with the files
    shutil.copyfile(manifest, out / MANIFEST_NAME)
    return total


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=SHARED / "fsdd-v1.0.10", help="folder of the 3,000 WAVs")
    parser.add_argument("--manifest", type=Path, default=SHARED / MANIFEST_NAME, help="SHA-256 manifest of the WAVs")
    parser.add_argument("--out", type=Path, default=ROOT / "data" / "fsdd", help="where the FLACs go")
    args = parser.parse_args(argv)
    total = build(args.source, args.manifest, args.out)
    print(f"wrote {N_RECORDINGS} FLAC files, {total / 1e6:.1f} MB, to {args.out}; every one decodes to its "
          "original WAV byte for byte")


if __name__ == "__main__":
    main()
