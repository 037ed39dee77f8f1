"""Tests for :mod:`xlsweep.data.episodes`: coverage, disjointness, parallel episodes, languages, resuming."""

from __future__ import annotations

import io
from typing import Any

import pytest
import torch
from torch import Tensor

from xlsweep.data.episodes import Episode, EpisodeSampler, language_pairs


def _features(n: int, *, example_id: Tensor | None = None, offset: int = 0) -> dict[str, Tensor]:
    """``n`` rows of hand-made features; ``input_ids`` encode the row so rows are distinguishable."""
    return {
        "input_ids": (torch.arange(n).unsqueeze(1) + offset) * torch.ones(1, 5, dtype=torch.long),
        "attention_mask": torch.ones(n, 5, dtype=torch.long),
        "token_type_ids": torch.zeros(n, 5, dtype=torch.long),
        "labels": torch.arange(n) % 3,
        "example_id": torch.arange(n) if example_id is None else example_id,
    }


def _data(n: int = 20, languages: str = "abc") -> dict[str, dict[str, Tensor]]:
    return {lang: _features(n, offset=100 * i) for i, lang in enumerate(languages)}


def _rows(episode: Episode) -> tuple[str, str, list[int], list[int]]:
    return (episode.support_language, episode.query_language,
            episode.support_rows.tolist(), episode.query_rows.tolist())


def _draw(sampler: EpisodeSampler, count: int) -> list[tuple[str, str, list[int], list[int]]]:
    return [_rows(sampler.sample()) for _ in range(count)]


# ----------------------------------------------------------------- language pairs
def test_language_pairs_xla_maml_is_support_times_query() -> None:
    assert language_pairs(["a"], ["b", "c"]) == [("a", "b"), ("a", "c")]


def test_language_pairs_xla_maml_skips_same_language() -> None:
    assert language_pairs(["a", "b"], ["a", "b"]) == [("a", "b"), ("b", "a")]


def test_language_pairs_x_maml_pairs_each_language_with_itself() -> None:
    assert language_pairs(["a", "b"], [], same_language=True) == [("a", "a"), ("b", "b")]


def test_xla_maml_episodes_draw_support_from_s_and_query_from_q() -> None:
    sampler = EpisodeSampler(_data(), language_pairs(["a"], ["b", "c"]), support_size=4, query_size=4)
    episodes = [sampler.sample() for _ in range(50)]
    assert {e.support_language for e in episodes} == {"a"}
    assert {e.query_language for e in episodes} == {"b", "c"}


# ----------------------------------------------------------------- cover mode
@pytest.mark.parametrize(("n", "episodes_per_pass"), [(20, 5), (22, 6)])
def test_cover_mode_visits_every_support_row_once_per_pass(n: int, episodes_per_pass: int) -> None:
    sampler = EpisodeSampler(_data(n), [("a", "b")], support_size=4, query_size=4, mode="cover", seed=1)
    passes = []
    for _ in range(2):
        episodes = [sampler.sample() for _ in range(episodes_per_pass)]
        support = [row for e in episodes for row in e.support_rows.tolist()]
        query = [row for e in episodes for row in e.query_rows.tolist()]
        assert sorted(support) == list(range(n))
        assert sorted(query) == list(range(n))
        assert all(len(e.support_rows) <= 4 for e in episodes)
        passes.append(support)
    assert passes[0] != passes[1]  # a new permutation each pass


def test_cover_mode_remainder_is_a_short_last_batch() -> None:
    sampler = EpisodeSampler(_data(22), [("a", "b")], support_size=4, query_size=4, mode="cover")
    assert [len(sampler.sample().support_rows) for _ in range(7)] == [4, 4, 4, 4, 4, 2, 4]


# ----------------------------------------------------------------- x-maml
@pytest.mark.parametrize("mode", ["random", "cover"])
def test_x_maml_support_and_query_are_disjoint_rows(mode: str) -> None:
    sampler = EpisodeSampler(_data(20), [("a", "a")], support_size=4, query_size=3, mode=mode)  # type: ignore[arg-type]
    for _ in range(30):
        episode = sampler.sample()
        support, query = set(episode.support_rows.tolist()), set(episode.query_rows.tolist())
        assert episode.support_language == episode.query_language == "a"
        assert len(support) == 4 and len(query) >= 3
        assert not support & query


def test_x_maml_random_mode_query_has_exactly_n_rows() -> None:
    sampler = EpisodeSampler(_data(20), [("a", "a")], support_size=4, query_size=3)
    assert {len(sampler.sample().query_rows) for _ in range(20)} == {3}


def test_x_maml_cover_mode_covers_every_row_once_per_pass() -> None:
    # 20 rows in blocks of K + N = 8: [8, 8, 4] -> the remainder is folded in: [8, 12]
    sampler = EpisodeSampler(_data(20), [("a", "a")], support_size=4, query_size=4, mode="cover", seed=5)
    for _ in range(3):
        episodes = [sampler.sample() for _ in range(2)]
        rows = [r for e in episodes for r in e.support_rows.tolist() + e.query_rows.tolist()]
        assert sorted(rows) == list(range(20))
        assert [len(e.support_rows) for e in episodes] == [4, 4]
        assert [len(e.query_rows) for e in episodes] == [4, 8]


# ----------------------------------------------------------------- parallel
@pytest.mark.parametrize("mode", ["random", "cover"])
def test_parallel_query_rows_are_the_support_rows_in_another_language(mode: str) -> None:
    sampler = EpisodeSampler(_data(20), [("a", "b"), ("a", "c")], support_size=4, query_size=4,
                             mode=mode, parallel=True)  # type: ignore[arg-type]
    for _ in range(20):
        episode = sampler.sample()
        assert episode.support_language == "a"
        assert episode.query_language in {"b", "c"}
        assert episode.query_rows.tolist() == episode.support_rows.tolist()
        assert len(episode.support_rows) == 4


def test_parallel_query_smaller_than_support_is_a_prefix() -> None:
    sampler = EpisodeSampler(_data(20), [("a", "b")], support_size=5, query_size=2, parallel=True)
    episode = sampler.sample()
    assert episode.query_rows.tolist() == episode.support_rows.tolist()[:2]


def test_parallel_with_misaligned_example_ids_raises() -> None:
    data = {"a": _features(20), "b": _features(20, example_id=torch.arange(20).flip(0))}
    with pytest.raises(ValueError, match="aligned by example_id; 'a' and 'b'"):
        EpisodeSampler(data, [("a", "b")], support_size=4, query_size=4, parallel=True)


def test_parallel_with_one_language_raises() -> None:
    with pytest.raises(ValueError, match=r"two languages, got the pair \('a', 'a'\)"):
        EpisodeSampler(_data(20), [("a", "a")], support_size=4, query_size=4, parallel=True)


# ----------------------------------------------------------------- determinism and resuming
@pytest.mark.parametrize("mode", ["random", "cover"])
def test_same_seed_gives_same_episodes(mode: str) -> None:
    def make(seed: int) -> EpisodeSampler:
        return EpisodeSampler(_data(20), language_pairs(["a", "b"], ["b", "c"]),
                              support_size=4, query_size=4, mode=mode, seed=seed)  # type: ignore[arg-type]

    assert _draw(make(7), 15) == _draw(make(7), 15)
    assert _draw(make(7), 15) != _draw(make(8), 15)


def _roundtrip_torch(state: dict[str, Any]) -> dict[str, Any]:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=False)


@pytest.mark.parametrize("mode", ["random", "cover"])
@pytest.mark.parametrize("pairs", [[("a", "b"), ("a", "c"), ("b", "c")], [("a", "a"), ("b", "b")]])
@pytest.mark.parametrize("through_torch", [False, True])
def test_state_dict_round_trip_resumes_the_same_episodes(
    mode: str, pairs: list[tuple[str, str]], through_torch: bool
) -> None:
    def make(seed: int) -> EpisodeSampler:
        return EpisodeSampler(_data(22), pairs, support_size=4, query_size=3, mode=mode, seed=seed)  # type: ignore[arg-type]

    original = make(seed=3)
    _draw(original, 7)  # stop in the middle of a pass
    state = original.state_dict()
    if through_torch:
        state = _roundtrip_torch(state)
    expected = _draw(original, 10)  # drawing on must not alter the saved state

    resumed = make(seed=99)
    resumed.load_state_dict(state)
    assert _draw(resumed, 10) == expected


# ----------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("pairs", "support_size", "query_size", "parallel", "message"),
    [
        ([("a", "b")], 21, 4, False, "needs 21 rows of 'a', which has 20"),
        ([("a", "a")], 12, 9, False, "needs 21 rows of 'a', which has 20"),
        ([("a", "b")], 4, 21, True, "needs 21 rows of 'a', which has 20"),
    ],
)
def test_more_rows_than_available_raises(
    pairs: list[tuple[str, str]], support_size: int, query_size: int, parallel: bool, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        EpisodeSampler(_data(20), pairs, support_size=support_size, query_size=query_size, parallel=parallel)


def test_query_larger_than_query_language_raises() -> None:
    data = {"a": _features(20), "b": _features(3)}
    with pytest.raises(ValueError, match="needs 4 rows of 'b', which has 3"):
        EpisodeSampler(data, [("a", "b")], support_size=4, query_size=4)


@pytest.mark.parametrize("pair", [("a", "zz"), ("zz", "a")])
def test_unknown_language_raises(pair: tuple[str, str]) -> None:
    with pytest.raises(ValueError, match="no data for language 'zz'"):
        EpisodeSampler(_data(20), [pair], support_size=4, query_size=4)


def test_no_pairs_raises() -> None:
    with pytest.raises(ValueError, match="no \\(support, query\\) language pairs"):
        EpisodeSampler(_data(20), [], support_size=4, query_size=4)


def test_unknown_mode_raises() -> None:
    with pytest.raises(ValueError, match="sampling mode 'walk'; expected 'random' or 'cover'"):
        EpisodeSampler(_data(20), [("a", "b")], support_size=4, query_size=4, mode="walk")  # type: ignore[arg-type]


# ----------------------------------------------------------------- union: batches from the pooled languages
def _located(parts: tuple[tuple[str, Tensor], ...]) -> list[tuple[str, int]]:
    return [(lang, int(r)) for lang, rows in parts for r in rows]


def test_language_pairs_union_is_one_pair_of_language_sets() -> None:
    assert language_pairs(["a", "b"], ["c"], "union") == [(("a", "b"), ("c",))]
    assert language_pairs(["a"], ["b", "c"], "union") == [(("a",), ("b", "c"))]
    assert language_pairs(["a", "b"], [], "union", same_language=True) == [(("a", "b"), ("a", "b"))]
    with pytest.raises(ValueError, match="episode languages 'mixed'; expected 'one' or 'union'"):
        language_pairs(["a"], ["b"], "mixed")  # type: ignore[arg-type]


def test_union_batches_mix_the_support_languages_and_the_query_languages() -> None:
    """Algorithm 1 of the XLA-MAML paper: S ⊂ ⋃ D_l over the support languages, Q likewise."""
    sampler = EpisodeSampler(_data(20, "abcd"), language_pairs(["a", "b"], ["c", "d"], "union"),
                             support_size=8, query_size=8, seed=1)
    episodes = [sampler.sample() for _ in range(30)]
    for e in episodes:
        assert {lang for lang, _ in e.support} <= {"a", "b"} and {lang for lang, _ in e.query} <= {"c", "d"}
        assert len(_located(e.support)) == len(set(_located(e.support))) == 8
    assert any(len(e.support) == 2 for e in episodes) and any(len(e.query) == 2 for e in episodes)
    assert all(len(e.support) == 1 for e in (EpisodeSampler(_data(20, "abcd"), language_pairs(
        ["a", "b"], ["c", "d"]), support_size=8, query_size=8, seed=1).sample() for _ in range(30)))


def test_union_cover_mode_visits_every_pooled_support_row_once_per_pass() -> None:
    data = {"a": _features(12), "b": _features(8, offset=100), "c": _features(20, offset=200)}
    sampler = EpisodeSampler(data, language_pairs(["a", "b"], ["c"], "union"), support_size=5,
                             query_size=5, mode="cover", seed=2)
    for _ in range(2):
        rows = [x for _ in range(4) for x in _located(sampler.sample().support)]
        assert sorted(rows) == sorted([("a", i) for i in range(12)] + [("b", i) for i in range(8)])


@pytest.mark.parametrize("mode", ["random", "cover"])
def test_union_x_maml_support_and_query_are_disjoint_rows_of_the_pooled_languages(mode: str) -> None:
    sampler = EpisodeSampler(_data(10, "ab"), language_pairs(["a", "b"], [], "union", same_language=True),
                             support_size=4,
                             query_size=4, mode=mode, seed=3)  # type: ignore[arg-type]
    for _ in range(10):
        e = sampler.sample()
        support, query = _located(e.support), _located(e.query)
        assert len(support) == 4 and len(query) >= 4 and not set(support) & set(query)


def test_union_parallel_query_rows_are_the_support_examples_in_a_query_language() -> None:
    sampler = EpisodeSampler(_data(20, "abcd"), language_pairs(["a", "b"], ["c", "d"], "union"),
                             support_size=6, query_size=4, parallel=True, seed=4)
    langs = set()
    for _ in range(20):
        e = sampler.sample()
        support, query = _located(e.support), _located(e.query)
        assert len(query) == 4  # the first 4 support examples (rows aligned by example_id), translated
        left = [row for _, row in support]
        for _, row in query:
            left.remove(row)  # a query row is a support row's example, each at most once
        langs |= {lang for lang, _ in query}
    assert langs == {"c", "d"}  # a query language drawn per row


def test_union_parallel_with_a_language_in_both_sets_raises() -> None:
    with pytest.raises(ValueError, match=r"two languages, got the pair \('a\+b', 'b\+c'\): b in both"):
        EpisodeSampler(_data(20), [(("a", "b"), ("b", "c"))], support_size=4, query_size=4, parallel=True)


def test_union_episode_needs_rows_of_the_pooled_languages() -> None:
    data = {"a": _features(3), "b": _features(3, offset=100), "c": _features(20)}
    EpisodeSampler(data, [(("a", "b"), ("c",))], support_size=6, query_size=4)  # 6 pooled rows fit
    with pytest.raises(ValueError, match="needs 7 rows of 'a\\+b', which has 6"):
        EpisodeSampler(data, [(("a", "b"), ("c",))], support_size=7, query_size=4)


def test_episode_batch_concatenates_the_languages_rows() -> None:
    from xlsweep.data.episodes import episode_batch

    data = {"a": _features(5), "b": _features(5, offset=100)}
    data["b"]["attention_mask"][:, 3:] = 0  # b's rows are shorter; the batch keeps a's width
    batch = episode_batch(data, (("a", torch.tensor([4, 1])), ("b", torch.tensor([2]))))
    assert batch["input_ids"][:, 0].tolist() == [4, 1, 102]
    assert batch["input_ids"].shape == (3, 5) and "example_id" not in batch
    narrow = episode_batch(data, (("b", torch.tensor([2, 3])),))
    assert narrow["input_ids"].shape == (2, 3)
