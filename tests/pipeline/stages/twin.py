"""The program the stage tests take their stages from: one owner, the mini index, no real models."""

from pipeline.params import ProgramParams
from pipeline.persona import Persona, SiteLink
from pipeline.program import DigitalTwin
from pipeline.providers.base import LMCapabilities

PERSONA = Persona(
    name="Mina Park",
    native_name="박민아",
    site_map=[SiteLink(label="Education", href="/cv/education"), SiteLink(label="Papers", href="/papers")],
)
CAPABLE = LMCapabilities(languages=frozenset({"en", "ko"}), can_plan=True, can_abstract=True, local=False)


def twin(store, embedder, capabilities=None, params=None) -> DigitalTwin:
    return DigitalTwin(store, embedder, PERSONA, capabilities, params or ProgramParams(), doc_types=store.doc_types())
