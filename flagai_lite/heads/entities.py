"""Entity spans <-> token labels (BIO tags); token spans -> text is ``global_pointer.spans_to_char_offsets``."""
from typing import Any, List, Mapping, Optional, Sequence, Tuple

from ..errors import TaskError

Span = Tuple[int, int, int]  # (type index, first token, last token)


def entity_types_and_tags(labels: Sequence[str]) -> Tuple[List[str], List[str]]:
    """Entity types and BIO tags from ``labels``: either types (``["LOC", "PER"]``) or a tag list with "O"."""
    labels = list(labels)
    if "O" in labels or any(l.startswith(("B-", "I-")) for l in labels):
        if labels[0] != "O":
            raise TaskError(f"a tag list must start with 'O', got {labels[:3]}")
        types = []
        for tag in labels[1:]:
            if not tag.startswith(("B-", "I-")):
                raise TaskError(f"tag {tag!r} is not 'O', 'B-TYPE' or 'I-TYPE'")
            if tag[2:] not in types:
                types.append(tag[2:])
        missing = [t for t in types for p in ("B-", "I-") if p + t not in labels]
        if missing:
            raise TaskError(f"tag list lacks {missing}")
        return types, labels
    return labels, ["O"] + [f"{p}{t}" for t in labels for p in ("B-", "I-")]


def token_spans(entities: Sequence[Mapping[str, Any]], offsets: Sequence[Tuple[int, int]],
                types: Sequence[str]) -> List[Span]:
    """Token spans of character-span ``entities`` (``start``, ``end``, ``type``) given token offsets.

    A token belongs to an entity when its characters overlap it; special tokens ((0, 0)) never do.
    Entities cut off by truncation are dropped.
    """
    spans = []
    for entity in entities:
        if entity["type"] not in types:
            raise TaskError(f"entity type {entity['type']!r} is not one of {list(types)}")
        inside = [i for i, (s, e) in enumerate(offsets) if e > s and s < entity["end"] and e > entity["start"]]
        if inside:
            spans.append((types.index(entity["type"]), inside[0], inside[-1]))
    return spans


def spans_to_bio(spans: Sequence[Span], length: int, tags: Sequence[str], types: Sequence[str]) -> List[int]:
    """Tag ids ``[length]`` for ``spans`` (0 = "O")."""
    row = [0] * length
    for type_index, first, last in spans:
        name = types[type_index]
        row[first] = tags.index(f"B-{name}")
        for i in range(first + 1, last + 1):
            row[i] = tags.index(f"I-{name}")
    return row


def bio_to_spans(tag_ids: Sequence[int], tags: Sequence[str], types: Sequence[str]) -> List[Span]:
    """Spans of a BIO tag sequence; an I- tag without its B- starts a new entity."""
    spans: List[Span] = []
    current: Optional[List[int]] = None
    for i, tag_id in enumerate(tag_ids):
        tag = tags[tag_id] if 0 <= tag_id < len(tags) else "O"
        if tag == "O":
            current = None
            continue
        prefix, name = tag[:2], tag[2:]
        if prefix == "I-" and current is not None and current[0] == types.index(name) and current[2] == i - 1:
            current[2] = i
            continue
        current = [types.index(name), i, i]
        spans.append(current)  # type: ignore[arg-type]
    return [tuple(s) for s in spans]  # type: ignore[misc]
