"""YAML from files anyone can drop into a corpus: PyYAML's safe loader without anchors or aliases.

An alias repeats a node by reference, so a kilobyte of nested aliases expands into gigabytes
when it is read ("billion laughs"). Front matter and persona.yaml never need them.
"""

from __future__ import annotations

import yaml


class UnsafeYAMLError(yaml.YAMLError):
    """Well-formed YAML that is refused for what reading it would cost."""


class _NoAliasLoader(yaml.SafeLoader):
    def compose_node(self, parent, index):
        event = self.peek_event()
        # an anchor (&name) is refused too: it is only ever there to be aliased
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            line = event.start_mark.line + 1 if event.start_mark else "?"
            raise UnsafeYAMLError(f"YAML anchors and aliases (&name, *name) are not allowed (line {line})")
        return super().compose_node(parent, index)


def load_yaml(text: str):
    """Parse one YAML document; aliases, anchors and runaway nesting raise UnsafeYAMLError."""
    try:
        return yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 - a SafeLoader subclass
    except RecursionError:
        # the composer recurses once per level: "[[[[…" would otherwise end in a RecursionError traceback
        raise UnsafeYAMLError("YAML nested too deeply") from None
