"""YAML from files anyone can drop into a site: PyYAML's safe loader, its alias expansion bounded.

An alias repeats a node by reference, so a kilobyte of nested aliases expands into gigabytes
when it is read ("billion laughs"). Real sites use a few anchors (Jekyll configs share
`defaults` with `&anchor`/`*alias`), so aliases are allowed; what is refused is a document
whose expanded size — every alias counted as a full copy — passes a bound, or one that refers
to itself. The size is counted on the composed node graph, before anything is constructed.
"""

from __future__ import annotations

import yaml

# nodes after expanding every alias: a large CV is a few thousand; a bomb is billions
MAX_EXPANDED_NODES = 200_000


class UnsafeYAMLError(yaml.YAMLError):
    """Well-formed YAML that is refused for what reading it would cost."""


def _expanded_size(root: yaml.Node, limit: int) -> int:
    """Nodes in the document once every alias is expanded (shared nodes counted at each use)."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            line = node.start_mark.line + 1 if node.start_mark else "?"
            raise UnsafeYAMLError(f"YAML alias refers to itself (line {line})")
        active.add(key)
        total = 1
        if isinstance(node, yaml.SequenceNode):
            total += sum(size(child) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            total += sum(size(k) + size(v) for k, v in node.value)
        active.discard(key)
        sizes[key] = total
        if total > limit:
            raise UnsafeYAMLError(
                f"YAML aliases expand to more than {limit:,} values (an alias bomb?); write the values out instead"
            )
        return total

    return size(root)


class _NoAliasLoader(yaml.SafeLoader):
    def compose_node(self, parent, index):
        event = self.peek_event()
        # an anchor (&name) is refused too: it is only ever there to be aliased
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            line = event.start_mark.line + 1 if event.start_mark else "?"
            raise UnsafeYAMLError(f"YAML anchors and aliases (&name, *name) are not allowed (line {line})")
        return super().compose_node(parent, index)


def load_yaml(text: str, max_nodes: int = MAX_EXPANDED_NODES, *, aliases: bool = True):
    """Parse one YAML document; alias bombs, self-reference and runaway nesting raise UnsafeYAMLError.
    With `aliases=False` any anchor is refused (files that never need one: persona.yaml)."""
    loader = yaml.SafeLoader(text) if aliases else _NoAliasLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _expanded_size(node, max_nodes)
        return loader.construct_document(node)
    except RecursionError:
        # the composer recurses once per level: "[[[[…" would otherwise end in a RecursionError traceback
        raise UnsafeYAMLError("YAML nested too deeply") from None
    finally:
        loader.dispose()
