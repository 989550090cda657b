"""Build ``examples/chunking-en`` and ``examples/chunking-zh`` (deterministic).

- ``chunking-en``: a copy of the two-document subset of the Chroma chunking evaluation
  (``chunking_en`` of the shared benchmark data: corpus, 132 questions, character-span
  references, MIT licence).
- ``chunking-zh``: CMRC 2018 (CC BY-SA 4.0) turned into the same format by
  :func:`manifold_core.qa_to_chunks.qa_to_chunking`: the first ``--articles`` articles of
  its test split, one document per article, each question's reference the sentence that
  holds its answer.

Run from the repository root:

    python examples/make_chunking_sets.py --source ../shared/data
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from manifold_core.chunk_benchmark import write_chunking_dataset  # noqa: E402
from manifold_core.qa_to_chunks import qa_to_chunking  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default=str(HERE.parent.parent / "shared/data"))
    parser.add_argument("--articles", type=int, default=40)
    args = parser.parse_args()
    source = Path(args.source)

    en = HERE / "chunking-en"
    en.mkdir(exist_ok=True)
    for name in ("corpus.jsonl.gz", "queries.jsonl", "references.tsv", "LICENSE"):
        shutil.copyfile(source / "chunking_en" / name, en / name)

    zh = qa_to_chunking(source / "cmrc2018", "test", max_documents=args.articles)
    write_chunking_dataset(zh, HERE / "chunking-zh")
    print(f"chunking-zh: {len(zh.documents)} articles, {len(zh.queries)} questions")


if __name__ == "__main__":
    main()
