"""Our logits processors equal transformers' processors on the same logits."""
import pytest
import torch

from flagai_lite.generation.processors import (
    LogitsPipeline,
    apply_no_repeat_ngram,
    apply_repetition_penalty,
    apply_top_k,
    apply_top_p,
)

lp = pytest.importorskip("transformers.generation.logits_process")


@pytest.fixture
def logits_and_ids():
    gen = torch.Generator().manual_seed(0)
    scores = torch.randn(4, 50, generator=gen) * 3
    scores[0, :5] = scores[0, 5]  # ties
    ids = torch.randint(0, 50, (4, 12), generator=gen)
    ids[1, -3:] = ids[1, :3]  # a repeated trigram prefix
    return scores, ids


@pytest.mark.parametrize("penalty", [1.3, 0.7])
def test_repetition_penalty(logits_and_ids, penalty):
    scores, ids = logits_and_ids
    expected = lp.RepetitionPenaltyLogitsProcessor(penalty)(ids, scores.clone())
    assert torch.equal(apply_repetition_penalty(scores, ids, penalty), expected)


@pytest.mark.parametrize("size", [1, 2, 3, 4])
def test_no_repeat_ngram(logits_and_ids, size):
    scores, ids = logits_and_ids
    expected = lp.NoRepeatNGramLogitsProcessor(size)(ids, scores.clone())
    assert torch.equal(apply_no_repeat_ngram(scores, ids, size), expected)


@pytest.mark.parametrize("k,keep", [(1, 1), (5, 1), (3, 4), (60, 1)])
def test_top_k(logits_and_ids, k, keep):
    scores, ids = logits_and_ids
    expected = lp.TopKLogitsWarper(k, min_tokens_to_keep=keep)(ids, scores.clone())
    assert torch.equal(apply_top_k(scores, k, keep), expected)


@pytest.mark.parametrize("p,keep", [(0.1, 1), (0.5, 1), (0.9, 2), (0.999, 1)])
def test_top_p(logits_and_ids, p, keep):
    scores, ids = logits_and_ids
    expected = lp.TopPLogitsWarper(p, min_tokens_to_keep=keep)(ids, scores.clone())
    assert torch.equal(apply_top_p(scores, p, keep), expected)


def test_pipeline_order_matches_transformers(logits_and_ids):
    scores, ids = logits_and_ids
    chain = lp.LogitsProcessorList([
        lp.RepetitionPenaltyLogitsProcessor(1.2), lp.NoRepeatNGramLogitsProcessor(2),
        lp.TemperatureLogitsWarper(0.7), lp.TopKLogitsWarper(10), lp.TopPLogitsWarper(0.8),
    ])
    ours = LogitsPipeline(repetition_penalty=1.2, no_repeat_ngram_size=2, do_sample=True, temperature=0.7,
                          top_k=10, top_p=0.8)
    assert torch.equal(ours(ids, scores.clone()), chain(ids, scores.clone()))
