"""YAML from a user, with bounds: a file of nested aliases ("billion laughs": 9 lines that
expand to 10^9 values) or thousands of nesting levels is refused in one line before
anything expands it or recursion overflows.

PyYAML keeps an alias as a reference to its anchor's node, so composing such a file is
cheap; what explodes is every consumer that copies it (OmegaConf, deepcopy, a merge).  So
the document is composed with a depth bound, then its *expanded* size and depth are
counted once per node (memoised: linear in the file), and only then constructed.
"""

from __future__ import annotations

from typing import IO, Any

import yaml

#: nesting levels a config may have (kampai's deepest is about 6)
MAX_DEPTH = 100
#: values (scalars, lists, mappings) the document may hold once aliases are expanded
MAX_NODES = 200_000


class YAMLLimitError(yaml.YAMLError):
    """The document is too deep or expands to too many values (its own ``str``: one line)."""


def _bounded(base: type) -> type:
    class Bounded(base):  # type: ignore[misc, valid-type]
        _depth = 0

        def compose_node(self, parent: Any, index: Any) -> Any:
            self._depth += 1
            try:
                if self._depth > MAX_DEPTH:
                    mark = self.peek_event().start_mark
                    raise YAMLLimitError(f"nesting deeper than {MAX_DEPTH} levels (line {mark.line + 1})")
                return super().compose_node(parent, index)
            finally:
                self._depth -= 1

    return Bounded


def _measure(root: yaml.Node) -> None:
    """Refuse a document whose expanded form is too big or too deep, or that holds itself."""
    sizes: dict[int, tuple[int, int]] = {}  # id(node) -> (values, depth) once expanded
    busy: set[int] = set()

    def deep(node: yaml.Node) -> YAMLLimitError:
        return YAMLLimitError(f"its aliases nest deeper than {MAX_DEPTH} levels (line {node.start_mark.line + 1})")

    def visit(node: yaml.Node, level: int) -> tuple[int, int]:
        # ``level``: where this node sits once expanded; recursion stays within MAX_DEPTH
        key = id(node)
        if key in sizes:
            if level + sizes[key][1] - 1 > MAX_DEPTH:
                raise deep(node)
            return sizes[key]
        if level > MAX_DEPTH:
            raise deep(node)
        if isinstance(node, yaml.ScalarNode):
            return 1, 1
        if key in busy:
            raise YAMLLimitError(f"an alias refers to a value that holds it (line {node.start_mark.line + 1})")
        busy.add(key)
        children = ([n for pair in node.value for n in pair] if isinstance(node, yaml.MappingNode)
                    else list(node.value))
        count, depth = 1, 1
        for child in children:
            c, d = visit(child, level + 1)
            count, depth = count + c, max(depth, d + 1)
            if count > MAX_NODES:
                raise YAMLLimitError(f"its aliases expand to more than {MAX_NODES:,} values "
                                     f"(line {node.start_mark.line + 1}): write the values out")
        busy.discard(key)
        sizes[key] = (count, depth)
        return count, depth

    visit(root, 1)


def load_yaml(stream: str | bytes | IO[Any], loader: type | None = None) -> Any:
    """Parse one YAML document like ``yaml.load(stream, Loader=loader)`` (a SafeLoader by
    default), refusing more than :data:`MAX_DEPTH` levels or :data:`MAX_NODES` values once
    aliases are expanded (:class:`YAMLLimitError`, a ``yaml.YAMLError``)."""
    bounded = _bounded(loader or yaml.SafeLoader)
    instance = bounded(stream)
    try:
        node = instance.get_single_node()
        if node is None:
            return None
        _measure(node)
        return instance.construct_document(node)
    finally:
        instance.dispose()
