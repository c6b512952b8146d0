"""GlobalPointer: shapes and masking, RoPE, the multi-label loss, decoding and char offsets."""
import math

import pytest
import torch

from flagai_lite.errors import ConfigError, InputError
from flagai_lite.heads.global_pointer import GlobalPointer, _rope_interleaved, spans_to_char_offsets

HIDDEN, TYPES, INNER = 16, 2, 8


def _pointer(rope: bool = True, seed: int = 0) -> GlobalPointer:
    torch.manual_seed(seed)
    return GlobalPointer(hidden_size=HIDDEN, num_types=TYPES, inner_dim=INNER, rope=rope).double()


def _hidden(batch: int, length: int, seed: int = 1) -> torch.Tensor:
    return torch.randn(batch, length, HIDDEN, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_scores_shape_and_masking():
    pointer = _pointer()
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])
    scores = pointer(_hidden(2, 5), mask)
    assert scores.shape == (2, TYPES, 5, 5)
    lower = torch.ones(5, 5, dtype=torch.bool).tril(-1)
    real = mask.bool()
    pad = ~(real[:, :, None] & real[:, None, :])  # [B, L, L]
    invalid = (lower | pad).unsqueeze(1).expand_as(scores)
    assert (scores[invalid] <= -1e11).all()
    assert (scores[~invalid].abs() < 1e3).all()
    assert invalid[1, :, 3:, :].all() and invalid[1, :, :, 3:].all()  # padding rows and columns


def test_no_mask_only_masks_lower_triangle():
    scores = _pointer()(_hidden(1, 4))
    lower = torch.ones(4, 4, dtype=torch.bool).tril(-1).expand_as(scores)
    assert (scores[lower] <= -1e11).all() and (scores[~lower].abs() < 1e3).all()


def test_rotary_matches_complex_rotation():
    x = torch.randn(2, 5, 3, 6, dtype=torch.float64)  # [B, L, C, D]
    pairs = torch.view_as_complex(x.view(2, 5, 3, 3, 2).contiguous())  # (x[2i], x[2i+1]) -> x[2i] + i x[2i+1]
    theta = 10000.0 ** (-torch.arange(0, 6, 2, dtype=torch.float64) / 6)  # [D/2]
    phase = torch.polar(torch.ones(5, 3, dtype=torch.float64), torch.arange(5.0, dtype=torch.float64)[:, None] * theta)
    expected = torch.view_as_real(pairs * phase[:, None, :]).flatten(-2)  # [B, L, C, D]
    torch.testing.assert_close(_rope_interleaved(x), expected)


def test_rope_scores_are_shift_invariant():
    pointer = _pointer()
    content = _hidden(1, 4)
    scores = pointer(torch.cat([content, content], dim=1))  # the same 4 tokens at 0..3 and at 4..7
    upper = torch.ones(4, 4, dtype=torch.bool).triu()
    torch.testing.assert_close(scores[..., :4, :4][..., upper], scores[..., 4:, 4:][..., upper])


def test_rope_makes_scores_depend_on_distance():
    a, b, filler = _hidden(3, 1).unbind(0)  # three [1, H] token vectors

    def pair_score(pointer, gap):  # score of span (0, gap) with a at 0 and b at gap
        hidden = torch.cat([a] + [filler] * (gap - 1) + [b]).unsqueeze(0)
        return pointer(hidden)[0, :, 0, gap]

    with_rope, without_rope = _pointer(rope=True), _pointer(rope=False)
    assert not torch.allclose(pair_score(with_rope, 1), pair_score(with_rope, 3))
    torch.testing.assert_close(pair_score(without_rope, 1), pair_score(without_rope, 3))


def _brute_force_loss(scores: torch.Tensor, labels: torch.Tensor) -> float:
    total = 0.0
    batch, types = scores.shape[:2]
    for b in range(batch):
        for c in range(types):
            neg = pos = 0.0
            for s, y in zip(scores[b, c].flatten().tolist(), labels[b, c].flatten().tolist()):
                if y:
                    pos += math.exp(-s)
                else:
                    neg += math.exp(s)
            total += math.log1p(neg) + math.log1p(pos)
    return total / (batch * types)


def test_loss_matches_brute_force():
    gen = torch.Generator().manual_seed(0)
    scores = torch.randn(2, 3, 4, 4, generator=gen, dtype=torch.float64) * 3
    labels = (torch.rand(2, 3, 4, 4, generator=gen) < 0.2).long()
    labels[0, 0] = 0  # a (row, type) without entities
    assert GlobalPointer(hidden_size=4, num_types=3).loss(scores, labels).item() == pytest.approx(
        _brute_force_loss(scores, labels), rel=1e-12
    )


def test_loss_ignores_masked_spans_and_stays_finite():
    pointer = _pointer()
    mask = torch.tensor([[1, 1, 1, 0]])
    scores = pointer(_hidden(1, 4), mask)
    labels = torch.zeros_like(scores, dtype=torch.long)
    labels[0, 0, 0, 1] = 1
    loss = pointer.loss(scores, labels)
    assert torch.isfinite(loss)
    expected = _brute_force_loss(scores[..., :3, :3], labels[..., :3, :3])  # padding spans add exp(-1e12) = 0
    assert loss.item() == pytest.approx(expected, rel=1e-9)


def test_learns_a_fixed_span():
    torch.manual_seed(0)
    pointer = GlobalPointer(hidden_size=HIDDEN, num_types=TYPES, inner_dim=INNER)
    hidden = torch.randn(2, 6, HIDDEN)
    mask = torch.tensor([[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0]])
    gold = torch.zeros(2, TYPES, 6, 6)
    gold[0, 0, 1, 3] = gold[1, 1, 2, 2] = 1
    wrong = torch.zeros_like(gold)
    wrong[0, 0, 2, 4] = wrong[1, 1, 0, 1] = 1
    optimizer = torch.optim.Adam(pointer.parameters(), lr=0.02)
    first = pointer.loss(pointer(hidden, mask), gold).item()
    for _ in range(60):
        optimizer.zero_grad()
        pointer.loss(pointer(hidden, mask), gold).backward()
        optimizer.step()
    with torch.no_grad():
        scores = pointer(hidden, mask)
    assert pointer.loss(scores, gold) < 0.1 * first
    assert pointer.loss(scores, gold) < pointer.loss(scores, wrong)
    assert pointer.decode(scores) == [[(0, 1, 3)], [(1, 2, 2)]]


def test_decode_returns_exactly_spans_above_threshold():
    gen = torch.Generator().manual_seed(0)
    scores = torch.randn(3, 2, 5, 5, generator=gen)
    scores[1, 0, 2, 3] = 0.5  # exactly at the threshold: not kept
    scores[2] = -1.0  # a row without spans
    decoded = GlobalPointer.decode(scores, threshold=0.5)
    for b in range(3):
        expected = sorted(
            (c, i, j) for c in range(2) for i in range(5) for j in range(5) if scores[b, c, i, j] > 0.5
        )
        assert decoded[b] == expected
    assert (1, 2, 3) not in decoded[1] and decoded[2] == []


def test_decode_of_forward_never_returns_masked_spans():
    pointer = _pointer()
    mask = torch.tensor([[1, 1, 1, 0, 0]])
    decoded = pointer.decode(pointer(_hidden(1, 5), mask), threshold=-1e6)
    assert decoded[0] and all(start <= end < 3 for _, start, end in decoded[0])


def test_spans_to_char_offsets_chinese():
    text = "张三在北京工作"
    offsets = [(0, 0)] + [(i, i + 1) for i in range(len(text))] + [(0, 0)]  # [CLS] chars [SEP]
    spans = [(0, 1, 2), (1, 4, 5), (1, 0, 2), (0, 7, 8), (0, 3, 2)]  # last three: [CLS], [SEP], reversed
    entities = spans_to_char_offsets(spans, offsets, text, type_names=["PER", "LOC"])
    assert entities == [
        {"type": "PER", "start": 0, "end": 2, "text": "张三"},
        {"type": "LOC", "start": 3, "end": 5, "text": "北京"},
    ]
    assert [text[e["start"] : e["end"]] for e in entities] == ["张三", "北京"]


def test_spans_to_char_offsets_english_subwords():
    text = "Alice Johnson lives in New York."
    # [CLS] alice john ##son lives in new york . [SEP] [PAD]
    offsets = [(0, 0), (0, 5), (6, 10), (10, 13), (14, 19), (20, 22), (23, 26), (27, 31), (31, 32), (0, 0), (0, 0)]
    entities = spans_to_char_offsets([(0, 1, 3), (1, 6, 7), (0, 2, 2), (1, 8, 10)], offsets, text)
    assert entities == [
        {"type": 0, "start": 0, "end": 13, "text": "Alice Johnson"},
        {"type": 1, "start": 23, "end": 31, "text": "New York"},
        {"type": 0, "start": 6, "end": 10, "text": "John"},
    ]


def test_spans_to_char_offsets_bad_input():
    with pytest.raises(InputError, match="token 5"):
        spans_to_char_offsets([(0, 1, 5)], [(0, 0), (0, 1), (1, 2)], "ab")
    with pytest.raises(InputError, match="type 2"):
        spans_to_char_offsets([(2, 1, 1)], [(0, 0), (0, 1)], "a", type_names=["A", "B"])
    with pytest.raises(InputError, match="outside text"):
        spans_to_char_offsets([(0, 1, 1)], [(0, 0), (0, 9)], "ab")


def test_bad_arguments_raise():
    with pytest.raises(ConfigError, match="inner_dim"):
        GlobalPointer(hidden_size=8, num_types=2, inner_dim=5)
    GlobalPointer(hidden_size=8, num_types=2, inner_dim=5, rope=False)
    with pytest.raises(ConfigError, match="num_types"):
        GlobalPointer(hidden_size=8, num_types=0)
    pointer = GlobalPointer(hidden_size=8, num_types=2, inner_dim=4)
    with pytest.raises(InputError, match=r"\[B, L, 8\]"):
        pointer(torch.randn(1, 3, 7))
    with pytest.raises(InputError, match="mask shape"):
        pointer(torch.randn(1, 3, 8), torch.ones(1, 4))
    with pytest.raises(InputError, match="labels shape"):
        pointer.loss(torch.zeros(1, 2, 3, 3), torch.zeros(1, 2, 3, 4))
    with pytest.raises(InputError, match="4-D|\\[B, C, L, L\\]"):
        pointer.decode(torch.zeros(2, 3, 3))


def test_float16_masking_stays_finite():
    pointer = GlobalPointer(hidden_size=8, num_types=1, inner_dim=4).half()
    scores = pointer(torch.randn(1, 3, 8).half(), torch.tensor([[1, 1, 0]]))
    assert torch.isfinite(scores).all() and scores[0, 0, 2, 2] == torch.finfo(torch.float16).min
