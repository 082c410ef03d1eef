"""The embedding stage: per stacked label, a logistic regression over the comment's static
sentence embedding (models.embedding), stacked with the n-gram model's margin for that label.

Word and char n-grams cannot know that "burn it down with them inside" is a threat; the
embedding carries what the sentence means. Training (models.train) fits, per label:
- the embedding model on the fit rows (the same rows and weights as the n-gram model, with
  contrast negatives weighted up: training comments that use the label's words harmlessly);
- the stacker, two weights and a bias over (n-gram margin, embedding margin), on the
  calibration rows, which neither first-stage model saw: it is the label's calibration too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from models.embedding import StaticEmbedding


@dataclass
class EmbeddingStage:
    embedding: StaticEmbedding
    labels: tuple[str, ...]  # the stacked labels
    columns: np.ndarray  # each stacked label's column in the classifier's labels
    weights: np.ndarray  # (dim, k): embedding model weights per stacked label
    bias: np.ndarray  # (k,)
    stack: np.ndarray  # (k, 2): stacker weights of (n-gram margin, embedding margin)
    stack_bias: np.ndarray  # (k,)

    def embedding_margins(self, vectors: np.ndarray) -> np.ndarray:
        """(n, k) embedding-model margins of (n, dim) vectors."""
        return vectors @ self.weights + self.bias

    def logits(self, margins: np.ndarray, vectors: np.ndarray) -> np.ndarray:
        """(n, k) calibrated log-odds of the stacked labels from the n-gram margins (n, labels)
        and the texts' embeddings (n, dim)."""
        ngram = margins[:, self.columns]
        embedded = self.embedding_margins(vectors)
        return ngram * self.stack[:, 0] + embedded * self.stack[:, 1] + self.stack_bias

    def apply(self, probabilities: np.ndarray, margins: np.ndarray, texts: Sequence[str]) -> None:
        """Replaces the stacked labels' columns of ``probabilities`` (n, labels) in place;
        ``texts`` are the normalised texts the margins came from."""
        if len(texts) == 1:
            vectors = self.embedding.embed_one(texts[0])[None, :]
        else:
            vectors = self.embedding.embed(texts)
        z = self.logits(margins, vectors)
        probabilities[:, self.columns] = 1.0 / (1.0 + np.exp(-z))
