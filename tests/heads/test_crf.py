"""CRF: NLL and Viterbi against brute force over every tag sequence; masks, gradients, dtypes."""
import itertools

import pytest
import torch

from flagai_lite.errors import ConfigError, InputError
from flagai_lite.heads.crf import CRF

LENGTHS = [5, 3, 1]  # B=3 rows of different lengths in one padded batch


def _crf(num_tags: int, seed: int = 0) -> CRF:
    torch.manual_seed(seed)
    crf = CRF(num_tags).double()
    with torch.no_grad():  # larger than the init range, so that transitions matter
        for p in crf.parameters():
            p.normal_()
    return crf


def _batch(num_tags: int, lengths=LENGTHS, seed: int = 1):
    gen = torch.Generator().manual_seed(seed)
    batch, length = len(lengths), max(lengths)
    emissions = torch.randn(batch, length, num_tags, generator=gen, dtype=torch.float64)
    mask = torch.arange(length).unsqueeze(0) < torch.tensor(lengths).unsqueeze(1)  # [B, L]
    tags = torch.randint(num_tags, (batch, length), generator=gen).masked_fill(~mask, -100)
    return emissions, tags, mask


def _path_score(crf: CRF, emissions: torch.Tensor, path) -> torch.Tensor:
    score = crf.start_transitions[path[0]] + crf.end_transitions[path[-1]]
    for t, tag in enumerate(path):
        score = score + emissions[t, tag]
        if t:
            score = score + crf.transitions[path[t - 1], tag]
    return score


def _all_paths(crf: CRF, emissions: torch.Tensor, length: int):
    paths = list(itertools.product(range(crf.num_tags), repeat=length))
    return paths, torch.stack([_path_score(crf, emissions[:length], p) for p in paths])


@pytest.mark.parametrize("num_tags", [3, 4])
def test_nll_matches_brute_force(num_tags):
    crf = _crf(num_tags)
    emissions, tags, mask = _batch(num_tags)
    got = crf.nll(emissions, tags, mask, reduction="none")
    expected = []
    for b, n in enumerate(LENGTHS):
        _, scores = _all_paths(crf, emissions[b], n)
        gold = _path_score(crf, emissions[b], tags[b, :n].tolist())
        expected.append(torch.logsumexp(scores, 0) - gold)
    expected = torch.stack(expected)
    torch.testing.assert_close(got, expected)
    torch.testing.assert_close(crf.nll(emissions, tags, mask), expected.mean())
    torch.testing.assert_close(crf.nll(emissions, tags, mask, reduction="sum"), expected.sum())


@pytest.mark.parametrize("num_tags", [3, 4])
def test_viterbi_matches_brute_force(num_tags):
    crf = _crf(num_tags, seed=2)
    emissions, _, mask = _batch(num_tags, seed=3)
    decoded = crf.decode(emissions, mask)
    for b, n in enumerate(LENGTHS):
        paths, scores = _all_paths(crf, emissions[b], n)
        assert decoded[b] == list(paths[int(scores.argmax())])
    padded = crf.decode_tensor(emissions, mask)
    assert padded.shape == mask.shape
    assert padded[~mask].eq(-1).all()
    assert [row[:n] for row, n in zip(padded.tolist(), LENGTHS)] == decoded


def test_padding_content_is_ignored():
    crf = _crf(3)
    emissions, tags, mask = _batch(3)
    noisy = emissions.masked_fill(~mask.unsqueeze(-1), 1e6)
    torch.testing.assert_close(
        crf.nll(noisy, tags, mask, reduction="none"), crf.nll(emissions, tags, mask, reduction="none")
    )
    assert crf.decode(noisy, mask) == crf.decode(emissions, mask)


def test_no_mask_means_full_length():
    crf = _crf(3)
    emissions, tags, _ = _batch(3, lengths=[4, 4])
    full = torch.ones(tags.shape, dtype=torch.long)
    torch.testing.assert_close(crf.nll(emissions, tags), crf.nll(emissions, tags, full))
    assert crf.decode(emissions) == crf.decode(emissions, full)


def test_gradients_reach_transitions_and_emissions():
    crf = CRF(4)
    emissions, tags, mask = _batch(4)
    emissions = emissions.float().requires_grad_()
    crf.nll(emissions, tags, mask).backward()
    for name, p in crf.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    assert emissions.grad.abs().sum() > 0
    assert emissions.grad[~mask].abs().max() == 0  # padding gets no gradient


def test_float32_agrees_with_float64():
    crf64 = _crf(4)
    crf32 = CRF(4)
    crf32.load_state_dict({k: v.float() for k, v in crf64.state_dict().items()})
    emissions, tags, mask = _batch(4)
    torch.testing.assert_close(
        crf32.nll(emissions.float(), tags, mask, reduction="none").double(),
        crf64.nll(emissions, tags, mask, reduction="none"),
        rtol=1e-5,
        atol=1e-5,
    )
    assert crf32.decode(emissions.float(), mask) == crf64.decode(emissions, mask)


def test_large_scores_stay_finite():
    crf = _crf(3)
    emissions, tags, mask = _batch(3)
    nll = crf.nll(emissions.float() * 1e4, tags, mask, reduction="none")
    assert torch.isfinite(nll).all() and (nll >= 0).all()


def test_reset_parameters_range():
    crf = CRF(5)
    for p in crf.parameters():
        assert p.abs().max() <= 0.1


def test_mask_starting_with_zero_raises():
    crf = CRF(3)
    emissions, tags, mask = _batch(3)
    mask[1, 0] = False
    with pytest.raises(InputError, match=r"rows \[1\]"):
        crf.nll(emissions, tags, mask)
    with pytest.raises(InputError, match="start with 1"):
        crf.decode(emissions, mask)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda e, t, m: (e, t, m.index_put((torch.tensor(0), torch.tensor(2)), torch.tensor(False))), "left-aligned"),
        (lambda e, t, m: (e[..., :2], t, m), r"\[B, L, 3\]"),
        (lambda e, t, m: (e, t[:, :2], m), "tags shape"),
        (lambda e, t, m: (e, t, m[:, :2]), "mask shape"),
        (lambda e, t, m: (e, t.masked_fill(m, 3), m), r"\[0, 3\)"),
        (lambda e, t, m: (e, t.float(), m), "integer"),
        (lambda e, t, m: (e[:, :0], t[:, :0], m[:, :0]), "zero length"),
    ],
)
def test_bad_inputs_raise(change, message):
    crf = CRF(3)
    emissions, tags, mask = change(*_batch(3))
    with pytest.raises(InputError, match=message):
        crf.nll(emissions, tags, mask)


def test_bad_reduction_and_num_tags():
    emissions, tags, mask = _batch(3)
    with pytest.raises(InputError, match="reduction"):
        CRF(3).nll(emissions, tags, mask, reduction="token_mean")
    with pytest.raises(ConfigError, match="num_tags"):
        CRF(0)
