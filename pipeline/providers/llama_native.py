"""Loading a llama.cpp model so that it cannot crash the process.

Two defences against native faults, which no `try` can catch:

- **No extra buffer types.** On Intel CPUs with AMX, ggml repacks the weights into an
  "AMX model buffer" and segfaults in the first generation (llama.cpp issue 20824). Model
  params `use_extra_bufts = False` keep the weights in plain CPU buffers. llama-cpp-python
  does not take that param in `Llama(...)`, so it is set on the defaults `Llama` starts from,
  for the duration of one load, and checked afterwards.
- **A self-check in a child process.** Before a process loads a model in-process, one short
  generation runs in a child with the same build, model and params. A crash there is a clear
  error naming the cause and the fix, not a dead service. The verdict is cached on disk per
  (native library, model file, params, CPU flags), so it costs one child process per machine
  and build, not per start.

`python -m pipeline.providers.llama_native MODEL` is that child: it prints one JSON line.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from pipeline.providers.base import ProviderError

# extra buffer types (CPU_REPACK, AMX) are what crashes; measured on an AMD EPYC (no AMX,
# SmolLM2 Q4_1 has no repacked layout): the same tok/s either way (README, Troubleshooting)
EXTRA_BUFFER_TYPES = False
CHECK_PROMPT = "Say hello in one short sentence."
CHECK_TOKENS = 8
CHECK_TIMEOUT_S = 180.0

_load_lock = threading.Lock()


def load_llama(model_path: str, *, n_ctx: int, n_threads: int, seed: int, extra_buffer_types: bool = EXTRA_BUFFER_TYPES):
    """A `llama_cpp.Llama` whose weights stay out of the extra (repacked/AMX) buffers."""
    import llama_cpp
    import llama_cpp.llama_cpp as native

    defaults = native.llama_model_default_params

    def params():
        p = defaults()
        p.use_extra_bufts = extra_buffer_types
        return p

    with _load_lock:  # the substitution is process-wide for the length of one load
        native.llama_model_default_params = params
        try:
            llama = llama_cpp.Llama(model_path=model_path, n_ctx=n_ctx, n_threads=n_threads, seed=seed, verbose=False)
        finally:
            native.llama_model_default_params = defaults
    if bool(llama.model_params.use_extra_bufts) != extra_buffer_types:
        raise RuntimeError("llama-cpp-python ignored use_extra_bufts: the AMX workaround did not apply")
    return llama


@dataclass
class CheckResult:
    ok: bool
    detail: str  # the generated text, or what went wrong
    seconds: float  # the whole check: the child's start, the load and the generation
    tokens: int = 0
    generation_s: float = 0.0
    cached: bool = False

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.generation_s if self.generation_s > 0 else 0.0


class NativeCrashError(ProviderError):
    """The local model's native build crashes on this machine; the message says what to do."""


def _fingerprint(model_path: str, n_threads: int) -> str:
    """What the verdict depends on: the native library, the model file, the params, the CPU."""
    import importlib.util

    parts = [model_path, str(n_threads), f"extra_bufts={EXTRA_BUFFER_TYPES}"]
    spec = importlib.util.find_spec("llama_cpp")
    lib_dir = Path(next(iter(spec.submodule_search_locations))) / "lib" if spec and spec.submodule_search_locations else None
    for path in [Path(model_path), *sorted(lib_dir.glob("*.so*") if lib_dir and lib_dir.exists() else [])]:
        try:
            stat = path.stat()
            parts.append(f"{path.name}:{stat.st_size}:{int(stat.st_mtime)}")
        except OSError:
            parts.append(f"{path.name}:missing")
    try:
        flags = next((line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags")), "")
    except OSError:
        flags = ""
    parts.append(hashlib.sha1(flags.encode()).hexdigest())
    return hashlib.sha1("|".join(parts).encode()).hexdigest()[:16]


def run_check(model_path: str, n_threads: int = 2, timeout: float = CHECK_TIMEOUT_S,
              command: list[str] | None = None) -> CheckResult:
    """One short generation in a child process (`command` replaces it in tests): crashes there, not here."""
    started = time.perf_counter()
    try:
        done = subprocess.run(
            command or [sys.executable, "-m", __name__, model_path, str(n_threads)],
            capture_output=True, text=True, timeout=timeout, env={**os.environ, "PYTHONFAULTHANDLER": "1"},
        )
    except subprocess.TimeoutExpired:
        return CheckResult(False, f"no answer within {timeout:.0f} s", time.perf_counter() - started)
    seconds = time.perf_counter() - started
    if done.returncode < 0 or done.returncode in (134, 139):
        signal = -done.returncode if done.returncode < 0 else done.returncode - 128
        return CheckResult(False, f"the child process died of signal {signal} ({_signal_name(signal)})", seconds)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return CheckResult(False, f"exit status {done.returncode}: {tail[:300]}", seconds)
    report = json.loads(lines[-1])
    if report.get("extra_buffer_types") is not EXTRA_BUFFER_TYPES:
        return CheckResult(False, "the model was loaded with extra buffer types despite the workaround", seconds)
    ok = bool(report.get("text", "").strip())
    return CheckResult(ok, report.get("text", "") if ok else "the model generated no text", seconds,
                       int(report.get("tokens", 0)), float(report.get("seconds", 0.0)))


def _signal_name(number: int) -> str:
    import signal

    try:
        return signal.Signals(number).name
    except ValueError:
        return "unknown"


def checked(model_path: str, n_threads: int = 2, cache_dir: Path | None = None) -> CheckResult:
    """The self-check's verdict for this machine and build (from the cache when known)."""
    path = Path(cache_dir) / f"llama-check-{_fingerprint(model_path, n_threads)}.json" if cache_dir else None
    if path is not None and path.exists():
        try:
            return CheckResult(**{**json.loads(path.read_text()), "cached": True})
        except (OSError, ValueError, TypeError):
            pass
    result = run_check(model_path, n_threads)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps({**asdict(result), "cached": False}))
        except OSError:
            pass  # an unwritable cache only costs the check again next time
    return result


def crash_message(result: CheckResult) -> str:
    return (
        f"the local LM (llama.cpp) fails its self-check on this machine: {result.detail}. "
        "Known cause: llama.cpp's AMX/repacked weight buffers on some Intel CPUs (llama.cpp issue 20824), "
        "which the workbench turns off (use_extra_bufts=False); if it still crashes, rebuild llama-cpp-python "
        "without native CPU extensions (CMAKE_ARGS='-DGGML_NATIVE=OFF' .venv/bin/uv pip install --reinstall "
        "--no-binary llama-cpp-python llama-cpp-python), or use a remote LM (GEMINI_API_KEY or RAG_LM)"
    )


def _main(argv: list[str]) -> int:
    model_path, n_threads = argv[0], int(argv[1]) if len(argv) > 1 else 2
    llama = load_llama(model_path, n_ctx=512, n_threads=n_threads, seed=0)
    started = time.perf_counter()
    out = llama.create_chat_completion(
        messages=[{"role": "user", "content": CHECK_PROMPT}], max_tokens=CHECK_TOKENS, temperature=0.0, seed=0
    )
    seconds = time.perf_counter() - started
    text = out["choices"][0]["message"].get("content") or ""
    tokens = (out.get("usage") or {}).get("completion_tokens") or 0
    print(json.dumps({"text": text, "tokens": tokens, "seconds": round(seconds, 3),
                      "extra_buffer_types": bool(llama.model_params.use_extra_bufts)}))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
