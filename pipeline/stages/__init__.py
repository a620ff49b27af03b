"""The four stages of the digital twin, one `dspy.Module` each, typed in and out (`pipeline.turn`).

    rewrite.py   message + history            → Query      (standalone, searchable)
    plan.py      Query                        → Plan       (about the owner? retrieve? which sections?)
    retrieve.py  Query + Plan                 → Retrieval  (hybrid or dense, the plan's sections)
    generate.py  Query + Plan + Retrieval     → text       (grounded, in the visitor's language)

A stage holds its predictors (what DSPy's optimizers tune) and shared, read-only providers;
its parameters arrive with each call, so parallel copies never see each other's settings.
"""

from __future__ import annotations

import copy
import logging
import time

import dspy

log = logging.getLogger("pipeline")


class LMUnavailableError(RuntimeError):
    """The configured LM could not be reached: the program answers from the site without it."""


class LMTimeSpent(LMUnavailableError):
    """No LM call may start any more in this request: the LM is not at fault (the breaker ignores it)."""


class Stage(dspy.Module):
    """A stage whose copies (DSPy's optimizers make many) share its providers: only prompts,
    demos and parameters are copied. A native embedder handle must never be duplicated."""

    shared: tuple[str, ...] = ()

    def __deepcopy__(self, memo):
        new = self.__class__.__new__(self.__class__)
        for key, value in self.__dict__.items():
            new.__dict__[key] = value if key in self.shared else copy.deepcopy(value, memo)
        return new


def call_lm(predictor: dspy.Predict, trace, **inputs):
    """One LM call: unusable output falls back (None, counted), provider outages raise, and so does a
    call that could not finish before the request's deadline (it is not started). Anything else — a
    TypeError, a KeyError — is this project's bug and propagates: it is not the LM's fault."""
    if trace.lm_until is not None and time.monotonic() > trace.lm_until:
        raise LMTimeSpent("the request's time for the language model is spent")
    trace.lm_calls += 1
    try:
        return predictor(**inputs)
    except Exception as exc:  # noqa: BLE001 - classified below
        if is_provider_outage(exc):
            raise LMUnavailableError(f"the language model is unavailable ({exc.__class__.__name__})") from exc
        if not is_unusable_output(exc):
            raise
        trace.lm_fallbacks += 1
        log.warning("LM output unusable in %s: %s", predictor.signature.__name__, exc.__class__.__name__)
        return None


def is_unusable_output(exc: Exception) -> bool:
    """What the LM said could not be used: unparseable or ill-typed fields, a prompt too long for it,
    any other DSPy error that is not an outage. ValueError covers JSON and pydantic validation."""
    from dspy.utils import exceptions as dspy_errors

    return isinstance(exc, (dspy_errors.DSPyError, ValueError))


def is_provider_outage(exc: Exception) -> bool:
    """Connection, auth, quota, rate-limit and server faults: the LM is not there and DSPy's
    retries are spent. Bad output or a too-long prompt is not an outage."""
    from dspy import lm15
    from dspy.utils import exceptions as dspy_errors

    if isinstance(exc, dspy_errors.LMInvalidRequestError):  # the request was wrong (too long): not an outage
        return False
    outages = (
        dspy_errors.LMTransportError, dspy_errors.LMLockTimeoutError, dspy_errors.LMNotConfiguredError,
        # any provider fault: auth, quota, rate limit, timeout, server error, a reply that is not JSON
        dspy_errors.LMProviderError, dspy_errors.LMUnexpectedError,
        lm15.TransportError, lm15.ServerError, lm15.RateLimitError, lm15.AuthError, lm15.TimeoutError,
        lm15.NotConfiguredError,
    )
    return isinstance(exc, outages)
