"""What is being served: the workbench (built at start-up, or lazily), and its index as on disk.

A `workbench ingest` into the served index, or a rebuild, writes a new generation and points
`CURRENT` at it; the service notices it cheaply (a stat of `CURRENT`, the manifest and the table's version folder,
at most every `RAG_INDEX_CHECK_SECONDS` on a request, and on every /ready) and reloads: the new
workbench is built in a worker thread once the files hold still, then swapped in. Requests
admitted before the swap finish on the old one. An index that is gone or cannot be loaded
makes /ready 503 with the reason, while the last workbench keeps answering; a search that
fails on it is the degraded answer, never a 500.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import os
import time
from collections.abc import Callable
from pathlib import Path

import anyio

from pipeline.settings import Settings
from service.admission import Runner
from service.errors import ServiceError

log = logging.getLogger("service")

from pipeline.providers.lancedb_store import CURRENT, MANIFEST, current_generation

TABLE_DIR = "chunks.lance"  # the generation's table; every write adds a file to `_versions`


def _stat(path: Path):
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


class IndexFiles:
    """The version of a LanceDB index on disk: a hash of its manifest and of the table's version
    files (names, sizes, times: a rebuild writes the same names again), re-read only when the
    stats of the manifest and of the version folder change."""

    def __init__(self, index_dir: Path):
        self.index_dir = Path(index_dir)
        self._key: tuple | None = None
        self._state: tuple[str | None, str | None] = (None, None)

    @classmethod
    def of(cls, store) -> IndexFiles | None:
        """The files of a store that keeps its index in a folder (LanceDB); None for a cloud one."""
        index_dir = getattr(store, "index_dir", None)
        return cls(Path(index_dir)) if isinstance(index_dir, (str, Path)) else None

    def read(self) -> tuple[str | None, str | None]:
        """(version, None), or (None, why there is no usable index). Reasons name no path: /ready
        answers anyone."""
        generation = current_generation(self.index_dir)
        base = self.index_dir / generation if generation else self.index_dir
        manifest = base / MANIFEST
        versions = base / TABLE_DIR / "_versions"
        stats = (_stat(self.index_dir / CURRENT), _stat(manifest), _stat(versions))
        key: tuple | None = stats
        if key == self._key:
            return self._state
        state: tuple[str | None, str | None]
        if stats[1] is None or stats[2] is None:
            state = (None, "the index is gone or incomplete: run `workbench ingest` "
                           "(answers that need it say they cannot look it up)")
        else:
            try:
                digest = hashlib.sha256(generation.encode() + manifest.read_bytes())
                for entry in sorted(os.scandir(versions), key=lambda e: e.name):
                    st = entry.stat()
                    digest.update(f"{entry.name} {st.st_size} {st.st_mtime_ns}\n".encode())
                state = (digest.hexdigest()[:12], None)
            except OSError:  # changing under us: read again next time
                key, state = None, (None, "the index is being rewritten")
        self._key, self._state = key, state
        return state


class Served:
    """The runner and the workbench it serves; loads, watches the index, reloads."""

    RETRY_LOAD_AFTER = 30.0  # seconds: a provider that was down at start-up may be back
    SETTLE_S = 0.3  # an index must hold still this long before it is loaded (ingest writes in steps)

    def __init__(self, settings: Settings, source, tracer, clock: Callable[[], float] = time.monotonic):
        self.settings = settings
        self.tracer = tracer
        self.runner: Runner | None = None
        self.error: str | None = None  # why nothing is served yet
        self.index_error: str | None = None  # why the index on disk is not being served
        self.store_error: str | None = None  # the served index failed while being searched
        self.version: str | None = None
        self._clock = clock
        self._failed_at = 0.0
        self._failed_version: str | None = None
        self._checked_at = -math.inf
        self._files: IndexFiles | None = None
        self._factory = source if callable(source) else None
        self._lock: asyncio.Lock | None = None
        self._loaded: asyncio.Event | None = None  # set when a load attempt ends, served or failed
        self.reloading: asyncio.Task | None = None
        if self._factory is None:
            self._serve(source)

    # -- the workbench -----------------------------------------------------------------------

    def _serve(self, workbench, version: str | None = None) -> None:
        if self.runner is None:
            self.runner = Runner(workbench, self.settings, self.tracer)
            self.runner.on_retrieval = self._searched
        else:
            self.runner.serve(workbench)
        files = IndexFiles.of(workbench.store)
        if files is None or self._files is None or files.index_dir != self._files.index_dir:
            self._files = files
        self.version = version if version is not None else (self._files.read()[0] if self._files else None)
        self.index_error = self.store_error = None

    def _searched(self, failure: BaseException | None) -> None:
        if failure is None:
            self.store_error = None
        else:
            self.store_error = f"searching the index failed ({failure.__class__.__name__}): answers say so"
            self._checked_at = -math.inf  # look at the files on the next request

    async def load(self) -> None:
        """Build the workbench (once; again after a failure, at most every RETRY_LOAD_AFTER). While a
        load is under way, return at once: a probe gets "still loading", not a wait."""
        if self.runner is not None or self._factory is None:
            return
        self._lock = self._lock or asyncio.Lock()
        if self._lock.locked():
            return
        self._loaded = asyncio.Event()
        try:
            await self._load()
        finally:
            self._loaded.set()

    async def _load(self) -> None:
        assert self._lock is not None and self._factory is not None
        async with self._lock:
            if self.runner is not None:
                return
            if self.error is not None and self._clock() - self._failed_at < self.RETRY_LOAD_AFTER:
                return
            try:
                workbench = await anyio.to_thread.run_sync(self._factory)
            except Exception as exc:  # noqa: BLE001 - reported by /ready
                self.error = _reason(exc)
                self._failed_at = self._clock()
                log.error("start-up failed: %s", self.error)
                return
            self.error = None
            self._serve(workbench)

    async def ready_runner(self) -> Runner:
        """The runner; a visitor who asks while the service starts waits for it (the widget's first
        question after a deploy is answered, not turned into an error), at most RAG_STARTUP_WAIT_S."""
        await self.load()
        if self.runner is None and self._loaded is not None and not self._loaded.is_set():
            with anyio.move_on_after(self.settings.startup_wait_s):
                await self._loaded.wait()
        if self.runner is None:
            raise ServiceError(503, f"the service is not ready: {self.error or 'still loading'}", 10)
        self.check()
        return self.runner

    def problems(self) -> list[str]:
        """Why /ready says no (empty: ready)."""
        if self.runner is None:
            return [self.error or "the index and models are still loading"]
        return [p for p in (self.index_error, self.store_error) if p]

    # -- the index on disk -------------------------------------------------------------------

    def check(self, force: bool = False) -> None:
        """Compare the index on disk with the served one (at most every RAG_INDEX_CHECK_SECONDS
        unless forced); start a reload when it changed and a factory can build another."""
        if self._files is None:
            return
        now = self._clock()
        if not force and now - self._checked_at < self.settings.index_check_s:
            return
        self._checked_at = now
        version, problem = self._files.read()
        if problem is not None:
            self.index_error = problem
            return
        # the same files, but searching them failed: build it again now and then
        retry = self.store_error is not None and now - self._failed_at >= self.RETRY_LOAD_AFTER
        if (version == self.version and not retry) or self._factory is None:
            self.index_error = None  # without a factory, what is served stays served
        elif self.reloading is None or self.reloading.done():
            self.reloading = asyncio.get_running_loop().create_task(self._reload(force=retry))

    async def _reload(self, force: bool = False) -> None:
        assert self._factory is not None  # check() starts a reload only with one
        while True:
            version, problem = await self._settled()
            if problem is not None:
                self.index_error = problem
                return
            if version == self.version and not force:
                self.index_error = None
                return
            force = False
            if version == self._failed_version and self._clock() - self._failed_at < self.RETRY_LOAD_AFTER:
                return
            log.info("index version %s on disk (serving %s): loading it", version, self.version)
            try:
                workbench = await anyio.to_thread.run_sync(self._factory)
            except Exception as exc:  # noqa: BLE001 - reported by /ready; the old one keeps serving
                self.index_error = f"the index changed but could not be loaded: {_reason(exc)}"
                self._failed_version, self._failed_at = version, self._clock()
                log.error("reload failed: %s", self.index_error)
                return
            self._failed_at = self._clock()  # when a failing store may be rebuilt again
            self._serve(workbench, version)
            log.info("serving index version %s", version)
            # written to again while it loaded? then the loaded one is already old: once more

    async def _settled(self) -> tuple[str | None, str | None]:
        assert self._files is not None  # check() starts a reload only for an index in a folder
        state = self._files.read()
        while True:
            await asyncio.sleep(self.SETTLE_S)
            again = self._files.read()
            if again == state:
                return state
            state = again

    async def close(self) -> None:
        if self.reloading is not None:
            self.reloading.cancel()


def _reason(exc: Exception) -> str:
    from pipeline.providers.base import ProviderError

    return str(exc) if isinstance(exc, ProviderError) else f"the pipeline could not be built ({exc.__class__.__name__})"
