"""generate() is token-identical to transformers' generate on the same weights."""
import pytest
import torch

LEFT_PADDED = torch.tensor([[0, 0, 5, 6, 7], [8, 9, 10, 11, 12], [0, 0, 0, 3, 4]])
SEARCHES = [
    dict(),
    dict(num_beams=4),
    dict(num_beams=3, length_penalty=0.5),
    dict(repetition_penalty=1.3, no_repeat_ngram_size=2),
    dict(num_beams=4, no_repeat_ngram_size=2, early_stopping=True),
]


def _both(hf, ours, **kwargs):
    with torch.no_grad():
        expected = hf.generate(do_sample=False, **kwargs)
    got = ours.generate(**kwargs)
    return expected, got


@pytest.mark.parametrize("search", SEARCHES, ids=str)
@pytest.mark.parametrize("batched", [False, True])
def test_gpt2_generation_matches_transformers(gpt2_pair, search, batched):
    hf, ours = gpt2_pair
    ids = LEFT_PADDED if batched else LEFT_PADDED[1:2]
    expected, got = _both(hf, ours, input_ids=ids, attention_mask=(ids != 0).long(), max_new_tokens=12,
                          pad_token_id=0, eos_token_id=2, **search)
    assert torch.equal(got, expected), (got, expected)


@pytest.mark.parametrize("search", [dict(), dict(num_beams=4)], ids=str)
def test_gpt2_generation_stops_rows_at_eos_like_transformers(gpt2_pair, search):
    hf, ours = gpt2_pair
    ids, mask = LEFT_PADDED, (LEFT_PADDED != 0).long()
    free_run = ours.generate(input_ids=ids, attention_mask=mask, max_new_tokens=12, eos_token_id=2, pad_token_id=0,
                             **search)
    eos = int(free_run[0, ids.shape[1] + 2])  # row 0's third new token becomes the stop token
    expected, got = _both(hf, ours, input_ids=ids, attention_mask=mask, max_new_tokens=12, pad_token_id=3,
                          eos_token_id=eos, **search)
    assert torch.equal(got, expected), (got, expected)
    if not search:  # greedy: row 0 now stops at its first EOS and is padded after it
        new = got[0, ids.shape[1]:].tolist()
        stop = new.index(eos)
        assert stop <= 2 and set(new[stop + 1:]) == {3}


@pytest.mark.parametrize("search", SEARCHES[:3], ids=str)
@pytest.mark.parametrize("batched", [False, True])
def test_t5_generation_matches_transformers(t5_pair, search, batched):
    hf, ours = t5_pair
    ids = torch.tensor([[5, 6, 7, 1, 0], [8, 9, 10, 11, 1]])
    ids = ids if batched else ids[:1, :4]
    expected, got = _both(hf, ours, input_ids=ids, attention_mask=(ids != 0).long(), max_new_tokens=10, **search)
    assert torch.equal(got, expected), (got, expected)


def test_t5_generation_with_early_eos_matches_transformers(t5_pair):
    hf, ours = t5_pair
    ids = torch.tensor([[5, 6, 7, 1, 0], [8, 9, 10, 11, 1]])
    mask = (ids != 0).long()
    free_run = ours.generate(input_ids=ids, attention_mask=mask, max_new_tokens=10)
    eos = int(free_run[1, 3])
    for search in (dict(), dict(num_beams=4)):
        expected, got = _both(hf, ours, input_ids=ids, attention_mask=mask, max_new_tokens=10, eos_token_id=eos,
                              pad_token_id=7, **search)
        assert torch.equal(got, expected), (search, got, expected)


def test_sampling_is_reproducible_with_a_seed(gpt2_pair):
    _, ours = gpt2_pair
    ids = LEFT_PADDED
    kwargs = dict(input_ids=ids, attention_mask=(ids != 0).long(), max_new_tokens=15, do_sample=True,
                  temperature=0.8, top_k=20, top_p=0.9)
    first = ours.generate(generator=torch.Generator().manual_seed(7), **kwargs)
    second = ours.generate(generator=torch.Generator().manual_seed(7), **kwargs)
    other = ours.generate(generator=torch.Generator().manual_seed(8), **kwargs)
    assert torch.equal(first, second)
    assert not torch.equal(first, other)
    torch.manual_seed(3)
    global_a = ours.generate(**kwargs)
    torch.manual_seed(3)
    global_b = ours.generate(**kwargs)
    assert torch.equal(global_a, global_b)


def test_streamer_receives_each_new_token(gpt2_pair):
    _, ours = gpt2_pair
    seen = []
    out = ours.generate(input_ids=LEFT_PADDED[1:2], max_new_tokens=6, streamer=lambda ids: seen.append(ids.clone()))
    assert torch.equal(torch.stack(seen, 1), out[:, LEFT_PADDED.shape[1]:])


def test_cached_generation_equals_uncached_argmax(gpt2_pair):
    """The preallocated cache gives the same tokens as re-running the whole sequence each step."""
    _, ours = gpt2_pair
    ids = LEFT_PADDED[1:2]
    got = ours.generate(input_ids=ids, max_new_tokens=10, eos_token_id=None)
    seq = ids
    with torch.no_grad():
        for _ in range(10):
            nxt = ours(input_ids=seq)["logits"][:, -1].argmax(-1, keepdim=True)
            seq = torch.cat([seq, nxt], 1)
    assert torch.equal(got, seq)


def test_bad_generation_arguments(gpt2_pair):
    from flagai_lite.errors import GenerationError

    _, ours = gpt2_pair
    right_padded = torch.tensor([[5, 6, 0]])
    with pytest.raises(GenerationError, match="left-padded"):
        ours.generate(input_ids=right_padded, attention_mask=(right_padded != 0).long(), max_new_tokens=2)
    with pytest.raises(GenerationError, match="top_p"):
        ours.generate(input_ids=right_padded[:, :2], do_sample=True, top_p=0.0)
    with pytest.raises(GenerationError, match="beam search"):
        ours.generate(input_ids=right_padded[:, :2], num_beams=2, streamer=lambda ids: None)
    with pytest.raises(GenerationError, match="max_length"):
        ours.generate(input_ids=right_padded[:, :2], max_length=2)
