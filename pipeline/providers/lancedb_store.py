"""The embedded vector store: LanceDB on disk, dense search plus a full-text index.

An ingest never writes into the index being served: `build()` writes a new generation (a
folder `.build-…` seeded with the current rows), and only when it is complete renames it and
points `CURRENT` at it with one atomic rename. A crash or kill at any point leaves `CURRENT`
naming the last complete generation; a stale `.build-…` is removed by the next build, and
generations older than the previous one (which a running service may still be reading) too.
An index written before generations (its table in the folder itself) is read as it is.

LanceDB holds the chunks durably and runs the full-text search. Dense queries are
answered exactly from an in-memory snapshot of the vectors (`ExactIndex`) while the
table has at most `exact_max_rows` rows: faster than LanceDB's own query path at a
portfolio's size, and exact. Larger tables use LanceDB's vector search.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.providers.base import Chunk, Hit, IndexMismatchError, SearchRequest, manifest_keywords_version
from pipeline.providers.exact_search import ExactIndex
from pipeline.retrieval_fusion import convex_fusion
from pipeline.text import KEYWORDS_VERSION, keyword_fields

TABLE = "chunks"
MANIFEST = "manifest.json"
CURRENT = "CURRENT"  # the name of the generation being served
BUILDING = ".build-"  # a generation being written (hidden: never served)


def current_generation(index_dir: Path) -> str:
    """The generation `CURRENT` names; "" when the index keeps its table in the folder itself."""
    try:
        name = (Path(index_dir) / CURRENT).read_text(encoding="utf-8").strip()
    except OSError:
        return ""
    return name if name and "/" not in name and not name.startswith(".") else ""


def is_index_folder(folder: Path) -> bool:
    """Whether `folder` holds an index `workbench ingest` wrote (of either layout)."""
    return (Path(folder) / CURRENT).is_file() or (Path(folder) / MANIFEST).is_file()


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
_META = ("id", "source", "doc_type", "title", "anchor", "page_title", "text", "content_hash", "url")
# the full-text fields: words, and Korean character bigrams in a field of their own (see keyword_fields)
_KEYWORD_FIELDS = ("keywords", "keyword_bigrams")
# 250k x 384 float32 vectors is about 370 MB of memory: beyond, let LanceDB scan
EXACT_MAX_ROWS = 250_000


def _sql_list(values: Sequence[str]) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)


class LanceDBStore:
    """One table of chunks in `index_dir`; a manifest records the embedder that built it."""

    def __init__(self, index_dir: Path, exact_max_rows: int = EXACT_MAX_ROWS, generation: str | None = None):
        import lancedb

        self.index_dir = Path(index_dir)
        self.exact_max_rows = exact_max_rows
        self._generation = generation  # None: the one CURRENT names, read at first use
        self._lancedb = lancedb
        self._db: Any = None
        self._table: Any = None
        self._exact: ExactIndex | None = None
        self._exact_checked = False  # the row count was compared with the cap since the last write

    # -- lifecycle -------------------------------------------------------------

    @property
    def data_dir(self) -> Path:
        """The folder of the generation this store reads and writes."""
        if self._generation is None:
            self._generation = current_generation(self.index_dir)
        return self.index_dir / self._generation if self._generation else self.index_dir

    def _connect(self, create: bool = False):
        if self._db is None:
            if not create and not self.data_dir.exists():
                raise IndexMismatchError(
                    f"no index at {self.index_dir}: run `workbench ingest` first (or pass --index)"
                )
            self.data_dir.mkdir(parents=True, exist_ok=True)
            self._db = self._lancedb.connect(str(self.data_dir))
        return self._db

    @contextmanager
    def build(self) -> Iterator[LanceDBStore]:
        """A new generation seeded with the current rows, to write into; served only once the block
        completes (then `CURRENT` is switched to it in one rename). An exception or a kill leaves the
        current generation as it was."""
        self._remove_stale_builds()
        name = f"g{time.time_ns()}"
        building = LanceDBStore(self.index_dir, self.exact_max_rows, generation=BUILDING + name)
        self._seed(building)
        try:
            yield building
        except BaseException:
            shutil.rmtree(self.index_dir / (BUILDING + name), ignore_errors=True)
            raise
        if not building.exists():  # everything was cleared and nothing written: an empty index
            building.data_dir.mkdir(parents=True, exist_ok=True)
        os.rename(self.index_dir / (BUILDING + name), self.index_dir / name)
        previous = current_generation(self.index_dir)
        _write_atomically(self.index_dir / CURRENT, name + "\n")
        self._generation, self._db, self._table = name, None, None
        self._forget_snapshot()
        self._remove_old_generations(keep={name, previous})

    def _seed(self, building: LanceDBStore) -> None:
        table = self._open() if self.data_dir.exists() else None
        manifest = self.manifest()
        if table is None or not manifest or manifest_keywords_version(manifest) != KEYWORDS_VERSION:
            return  # nothing to keep: an older index's columns are rewritten whole anyway
        building._table = building._connect(create=True).create_table(TABLE, table.to_arrow())
        _write_atomically(building.data_dir / MANIFEST, json.dumps(manifest, indent=2))
        building._reindex_text()

    def _remove_stale_builds(self) -> None:
        if self.index_dir.is_dir():
            for entry in self.index_dir.iterdir():
                if entry.name.startswith(BUILDING) and entry.is_dir():
                    shutil.rmtree(entry, ignore_errors=True)

    def _remove_old_generations(self, keep: set[str]) -> None:
        for entry in self.index_dir.iterdir():
            if entry.is_dir() and entry.name.startswith("g") and entry.name[1:].isdigit() and entry.name not in keep:
                shutil.rmtree(entry, ignore_errors=True)
        if "" not in keep:  # a table from before generations, now replaced by one
            for legacy in (self.index_dir / f"{TABLE}.lance", self.index_dir / MANIFEST):
                if legacy.is_dir():
                    shutil.rmtree(legacy, ignore_errors=True)
                elif legacy.exists():
                    legacy.unlink()

    def _open(self, create: bool = False):
        if self._table is None:
            db = self._connect(create)
            if TABLE in self._table_names():
                self._table = db.open_table(TABLE)
        return self._table

    def manifest(self) -> dict:
        path = self.data_dir / MANIFEST
        return json.loads(path.read_text()) if path.exists() else {}

    def embedder_name(self) -> str | None:
        return self.manifest().get("embedder")

    def keywords_version(self) -> int | None:
        """The `pipeline.text.KEYWORDS_VERSION` its keyword index was built with (None: no index yet)."""
        return manifest_keywords_version(self.manifest())

    def exists(self) -> bool:
        return (self.data_dir / MANIFEST).exists()

    # -- writes ------------------------------------------------------------------

    def existing_hashes(self) -> dict[str, str]:
        table = self._open() if self.data_dir.exists() else None
        if table is None:
            return {}
        data = table.to_arrow().select(["id", "content_hash"]).to_pydict()
        return dict(zip(data["id"], data["content_hash"]))

    def upsert(self, chunks: Sequence[Chunk], vectors: np.ndarray, embedder_name: str) -> None:
        if not chunks:
            return
        import pyarrow as pa

        dim = int(vectors.shape[1])
        rows = {name: [getattr(c, name) for c in chunks] for name in _META}
        fields = [keyword_fields(c.embed_text) for c in chunks]
        rows["keywords"] = [" ".join(words) for words, _ in fields]
        rows["keyword_bigrams"] = [" ".join(bigrams) for _, bigrams in fields]
        schema = pa.schema(
            [pa.field(name, pa.string()) for name in (*_META, *_KEYWORD_FIELDS)]
            + [pa.field("vector", pa.list_(pa.float32(), dim))]
        )
        flat = pa.array(np.asarray(vectors, dtype=np.float32).reshape(-1), type=pa.float32())
        rows["vector"] = pa.FixedSizeListArray.from_arrays(flat, dim)
        batch = pa.table(rows, schema=schema)
        table = self._open(create=True)
        if table is None:
            self._table = self._connect(create=True).create_table(TABLE, batch)
        else:
            table.merge_insert("id").when_matched_update_all().when_not_matched_insert_all().execute(batch)
        self._write_manifest(embedder_name, dim)
        self._reindex_text()
        self._forget_snapshot()

    def delete(self, ids: Sequence[str]) -> None:
        table = self._open()
        if table is None or not ids:
            return
        table.delete(f"id IN ({_sql_list(ids)})")
        self._reindex_text()
        self._forget_snapshot()

    def clear(self) -> None:
        if not self.data_dir.exists():
            return
        db = self._connect()
        if TABLE in self._table_names():
            db.drop_table(TABLE)
        self._table = None
        self._forget_snapshot()
        (self.data_dir / MANIFEST).unlink(missing_ok=True)

    def _table_names(self) -> list[str]:
        return list(self._connect().list_tables().tables)

    def _write_manifest(self, embedder_name: str, dim: int) -> None:
        manifest = {"embedder": embedder_name, "dim": dim, "keywords": KEYWORDS_VERSION}
        _write_atomically(self.data_dir / MANIFEST, json.dumps(manifest, indent=2))

    def _reindex_text(self) -> None:
        # tokens are made by pipeline.text (Korean bigrams, light stemming); the
        # index only splits on whitespace so queries and documents agree
        from lancedb.index import FTS

        config = FTS(
            base_tokenizer="whitespace",
            lower_case=False,
            stem=False,
            remove_stop_words=False,
            ascii_folding=False,
            max_token_length=None,
        )
        for column in _KEYWORD_FIELDS:
            self._table.create_index(column, config=config, replace=True)

    # -- reads -------------------------------------------------------------------

    def count(self) -> int:
        table = self._open()
        return 0 if table is None else table.count_rows()

    def doc_types(self) -> list[str]:
        table = self._open()
        if table is None:
            return []
        return sorted(set(table.to_arrow().column("doc_type").to_pylist()))

    def chunks(self) -> list[Chunk]:
        table = self._open()
        if table is None:
            return []
        data = table.to_arrow().select(list(_META)).to_pylist()
        return [Chunk(**row) for row in data]

    def _where(self, doc_types: Sequence[str]) -> str | None:
        return f"doc_type IN ({_sql_list(doc_types)})" if doc_types else None

    def _forget_snapshot(self) -> None:
        self._exact, self._exact_checked = None, False

    def _snapshot(self, table) -> ExactIndex | None:
        """The in-memory copy of the vectors, loaded on first use; None above the row cap."""
        if not self._exact_checked:
            if table.count_rows() <= self.exact_max_rows:
                data = table.to_arrow().select([*_META, "vector"])
                column = data.column("vector").combine_chunks()
                vectors = column.values.to_numpy(zero_copy_only=False).reshape(len(column), column.type.list_size)
                chunks = [Chunk(**row) for row in data.select(list(_META)).to_pylist()]
                self._exact = ExactIndex(chunks, vectors)
            self._exact_checked = True  # above the cap, the rows are counted once, not on every query
        return self._exact

    def dense_search(self, vector: np.ndarray, k: int, doc_types: Sequence[str] = ()) -> list[Hit]:
        table = self._open()
        if table is None:
            raise IndexMismatchError(f"the index at {self.index_dir} is empty: run `workbench ingest`")
        exact = self._snapshot(table)
        if exact is not None:
            return exact.search(vector, k, doc_types)
        return self.native_dense_search(vector, k, doc_types)

    def native_dense_search(self, vector: np.ndarray, k: int, doc_types: Sequence[str] = ()) -> list[Hit]:
        """LanceDB's own vector search (used above the in-memory row cap; benchmarked against it)."""
        table = self._open()
        query = table.search(np.asarray(vector, dtype=np.float32), vector_column_name="vector").metric("cosine")
        where = self._where(doc_types)
        if where:
            query = query.where(where, prefilter=True)
        rows = query.select([*_META, "_distance"]).limit(k).to_list()
        return [Hit(Chunk(**{n: r[n] for n in _META}), 1.0 - float(r["_distance"])) for r in rows]

    def keyword_search(self, text: str, k: int, doc_types: Sequence[str] = ()) -> list[Hit]:
        from lancedb.query import MultiMatchQuery

        table = self._open()
        words, bigrams = keyword_fields(text)
        if table is None or not (words or bigrams):
            return []
        # BM25 per field, each against its own lengths; a passage takes its better field
        # ("best fields"; summing the two measured one Korean question worse on the demo set)
        terms = " ".join(dict.fromkeys(words + bigrams))
        # boosts and operator have defaults the library's annotations do not show
        query = table.search(MultiMatchQuery(terms, list(_KEYWORD_FIELDS)), query_type="fts")  # type: ignore[call-arg]
        where = self._where(doc_types)
        if where:
            query = query.where(where, prefilter=True)
        rows = query.select([*_META, "_score"]).limit(k).to_list()
        return [Hit(Chunk(**{n: r[n] for n in _META}), float(r["_score"])) for r in rows]

    def search(self, request: SearchRequest) -> list[Hit]:
        if request.mode != "hybrid":
            return self.dense_search(request.vector, request.k, request.doc_types)
        # a deep candidate pool keeps the dense scaling stable across queries
        depth = max(request.k * 8, 50)
        dense = self.dense_search(request.vector, depth, request.doc_types)
        keyword = self.keyword_search(request.text, depth, request.doc_types)
        return convex_fusion(dense, keyword, request.k, request.alpha)
