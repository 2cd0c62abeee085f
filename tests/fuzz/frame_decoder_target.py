"""Fuzz target for the codec's frame decoder: only ``CodecError`` subclasses may escape.

Run directly with atheris (coverage-guided, libFuzzer)::

    python tests/fuzz/frame_decoder_target.py -runs=1000000 -max_len=4096 corpus/

(``tests/fuzz/test_frame_decoder_fuzz.py`` runs it the way CI and certify do: shards with
their own ``-seed`` and corpus, ``-rss_limit_mb=2048``, started through a small launcher.)

Without atheris installed, ``--fallback N`` runs N seeded random mutations of the test-vector
frames instead (same oracle, no coverage guidance). The seed corpus is every valid and
invalid frame in ``tests/vectors/wire-v1.json``.
"""

from __future__ import annotations

import contextlib
import json
import random
import resource
import sys
from pathlib import Path
from typing import Any

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "wire-v1.json"


def _instrumented_imports() -> Any:
    try:
        import atheris
    except ImportError:
        return None
    with atheris.instrument_imports(include=["redis_fintech_sdk.codec"]):
        import redis_fintech_sdk.codec  # noqa: F401
    return atheris


ATHERIS = _instrumented_imports()

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from redis_fintech_sdk.codec import Codec, Keyring, MessageRegistry, Signer, Verifier  # noqa: E402
from redis_fintech_sdk.errors import CodecError  # noqa: E402


def load_vectors() -> tuple[dict[str, Any], list[bytes]]:
    """The vector file and every frame in it (valid and invalid)."""
    data = json.loads(VECTORS.read_text())
    frames = [bytes.fromhex(v["frame"]) for v in data["vectors"]]
    for case in data.get("invalid", []):
        if isinstance(case, dict) and isinstance(case.get("frame"), str):
            frames.append(bytes.fromhex(case["frame"]))
    return data, frames


def build_codecs(data: dict[str, Any]) -> list[Codec]:
    """Decoders as a receiver would configure them: keys, dictionaries, a verifier."""
    ring = Keyring()
    for key_id, key in data["keys"].items():
        ring.add(int(key_id), bytes.fromhex(key), primary=True)
    signer = Signer(
        data["signer"]["id"],
        Ed25519PrivateKey.from_private_bytes(bytes.fromhex(data["signer"]["seed"])),
    )
    dictionaries = {int(k): bytes.fromhex(v) for k, v in data["dictionaries"].items()}
    common: dict[str, Any] = {
        "registry": MessageRegistry(),
        "keyring": ring,
        "compression_dictionaries": dictionaries,
        "verifier": Verifier({signer.signer_id: signer.public_key()}),
    }
    return [Codec(**common), Codec(**common, require_signature=True), Codec()]


DATA, CORPUS = load_vectors()
CODECS = build_codecs(DATA)
CHANNELS = ("md:AAPL", "trades:settled", "")


def test_one_input(data: bytes) -> None:
    """The oracle: decoding hostile bytes raises only CodecError subclasses."""
    for i, codec in enumerate(CODECS):
        channel = CHANNELS[(len(data) + i) % len(CHANNELS)]
        with contextlib.suppress(CodecError):
            codec.peek_header(data)
        for validate in (False, True):
            with contextlib.suppress(CodecError):
                codec.decode(data, channel=channel, validate=validate)


def mutate(rng: random.Random, frame: bytes) -> bytes:
    """One random structural mutation of a frame (flip, truncate, insert, splice, lengths)."""
    buf = bytearray(frame)
    op = rng.randrange(6)
    if op == 0 and buf:
        for _ in range(rng.randrange(1, 4)):
            buf[rng.randrange(len(buf))] ^= 1 << rng.randrange(8)
    elif op == 1:
        del buf[rng.randrange(len(buf) + 1) :]
    elif op == 2:
        pos = rng.randrange(len(buf) + 1)
        buf[pos:pos] = rng.randbytes(rng.randrange(1, 16))
    elif op == 3:
        other = rng.choice(CORPUS)
        cut = rng.randrange(len(buf) + 1)
        buf = buf[:cut] + other[rng.randrange(len(other) + 1) :]
    elif op == 4 and len(buf) > 6:
        buf[4:6] = rng.randrange(65536).to_bytes(2, "big")
    else:
        buf = bytearray(rng.randbytes(rng.randrange(0, 64)))
    return bytes(buf)


def fallback(runs: int, seed: int) -> int:
    """Seeded mutation fuzzing without atheris; returns the number of inputs tried."""
    rng = random.Random(seed)
    for frame in CORPUS:
        test_one_input(frame)
    for _ in range(runs):
        test_one_input(mutate(rng, rng.choice(CORPUS)))
    return runs + len(CORPUS)


def main(argv: list[str]) -> None:
    """Entry point: atheris when available (libFuzzer flags), else ``--fallback N``."""
    if "--fallback" in argv or ATHERIS is None:
        runs = 10_000
        for arg in argv:
            if arg.startswith("-runs="):
                runs = int(arg.split("=", 1)[1])
        if "--fallback" in argv:
            runs = int(argv[argv.index("--fallback") + 1])
        print(f"fallback fuzzing: {fallback(runs, seed=runs)} inputs, no crash")
        return
    # libFuzzer's -rss_limit_mb checks ru_maxrss, which Linux carries over exec from the
    # process this one was forked from: say where it starts (test_frame_decoder_fuzz.py).
    start_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss >> 10
    print(f"frame_decoder_target: ru_maxrss at start: {start_mb} MB", file=sys.stderr, flush=True)
    corpus_dir = [a for a in argv[1:] if not a.startswith("-")]
    if corpus_dir:
        seed_dir = Path(corpus_dir[0])
        seed_dir.mkdir(parents=True, exist_ok=True)
        for n, frame in enumerate(CORPUS):
            (seed_dir / f"vector-{n:03d}").write_bytes(frame)
    ATHERIS.Setup(argv, test_one_input)
    ATHERIS.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
