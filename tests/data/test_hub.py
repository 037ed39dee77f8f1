"""Hub datasets mapped to the canonical schema by their columns.

``datasets.load_dataset`` is replaced by a fake that returns small in-memory datasets with the columns
(and feature types) of each hub dataset; nothing is downloaded.
"""

from __future__ import annotations

from typing import Any

import datasets
import pytest

from xlsweep.data.hub import load_hub
from xlsweep.data.schema import NER_TAGS, DataError, task_features

NLI_LABEL = datasets.ClassLabel(names=["entailment", "neutral", "contradiction"])
STRING = datasets.Value("string")


def _xnli() -> datasets.Dataset:
    return datasets.Dataset.from_dict(
        {"premise": ["Er schläft.", "Er rennt.", "Sie liest."], "hypothesis": ["Er ruht.", "Er sitzt.", "Sie liest."],
         "label": [0, 2, 1]},
        features=datasets.Features({"premise": STRING, "hypothesis": STRING, "label": NLI_LABEL}))


def _mnli() -> datasets.Dataset:
    return datasets.Dataset.from_dict(
        {"promptID": [1, 2, 3], "pairID": ["1e", "2n", "3c"], "premise": ["a", "b", "c"],
         "hypothesis": ["x", "y", "z"], "genre": ["fiction"] * 3, "label": [0, -1, 2]},
        features=datasets.Features({"promptID": datasets.Value("int32"), "pairID": STRING, "premise": STRING,
                                    "hypothesis": STRING, "genre": STRING, "label": NLI_LABEL}))


def _squad() -> datasets.Dataset:
    return datasets.Dataset.from_dict(
        {"id": ["q1", "q2"], "title": ["Normans", "Normans"], "context": ["In France.", "In France."],
         "question": ["Where?", "What?"],
         "answers": [{"text": ["France"], "answer_start": [3]},
                     {"text": ["France", "France"], "answer_start": [3, 3]}]},
        features=datasets.Features({"id": STRING, "title": STRING, "context": STRING, "question": STRING,
                                    "answers": {"text": datasets.List(STRING),
                                                "answer_start": datasets.List(datasets.Value("int32"))}}))


def _wikiann(names: list[str]) -> datasets.Dataset:
    tags = [["B-LOC", "O"], ["B-PER", "I-PER"]]
    return datasets.Dataset.from_dict(
        {"tokens": [["Lima", "llaqta"], ["Tupac", "Amaru"]], "ner_tags": [[names.index(t) for t in s] for s in tags],
         "langs": [["qu", "qu"], ["qu", "qu"]], "spans": [["LOC: Lima"], ["PER: Tupac Amaru"]]},
        features=datasets.Features({"tokens": datasets.List(STRING),
                                    "ner_tags": datasets.List(datasets.ClassLabel(names=names)),
                                    "langs": datasets.List(STRING), "spans": datasets.List(STRING)}))


def _marc() -> datasets.Dataset:  # the original amazon_reviews_multi columns
    stars = [1, 2, 3, 4, 5]
    return datasets.Dataset.from_dict(
        {"review_id": [f"de_{s}" for s in stars], "product_id": ["p"] * 5, "reviewer_id": ["r"] * 5, "stars": stars,
         "review_body": [f"body {s}" for s in stars], "review_title": ["t"] * 5, "language": ["de"] * 5,
         "product_category": ["home"] * 5})


def _setfit() -> datasets.Dataset:  # SetFit/amazon_reviews_multi_<lang>: label = stars - 1, read from JSON lines
    return datasets.Dataset.from_dict({"id": ["a", "b", "c", "d"], "text": ["bad", "meh", "good", "top"],
                                       "label": [0, 2, 3, 4], "label_text": ["0", "2", "3", "4"]})


@pytest.fixture()
def hub(monkeypatch: pytest.MonkeyPatch) -> dict[tuple[str, str | None, str], Any]:
    """A fake hub: (name, config, split) -> dataset (or an exception to raise); records every call."""
    table: dict[tuple[str, str | None, str], Any] = {}

    def load_dataset(name: str, config: str | None = None, *, split: str) -> Any:
        item = table.get((name, config, split))
        if item is None:
            raise ConnectionError(f"Couldn't reach '{name}' on the Hub (LocalEntryNotFoundError)")
        if isinstance(item, Exception):
            raise item
        return item

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    return table


def test_xnli_ids_are_row_indices_shared_by_translations(hub) -> None:  # type: ignore[no-untyped-def]
    hub["facebook/xnli", "de", "validation"] = _xnli()
    ds = load_hub("facebook/xnli", "de", "validation", "nli", "de")
    assert ds.features == task_features("nli")
    assert list(ds["id"]) == ["validation-0", "validation-1", "validation-2"]
    assert list(ds["label"]) == [0, 2, 1]
    assert ds[0]["premise"] == "Er schläft."


def test_mnli_drops_unlabelled_rows_keeping_ids(hub) -> None:  # type: ignore[no-untyped-def]
    hub["nyu-mll/multi_nli", None, "train"] = _mnli()
    ds = load_hub("nyu-mll/multi_nli", None, "train", "nli", "en")
    assert list(ds["id"]) == ["train-0", "train-2"]
    assert list(ds["label"]) == [0, 2] and list(ds["premise"]) == ["a", "c"]


def test_labels_are_mapped_by_class_name(hub) -> None:  # type: ignore[no-untyped-def]
    flipped = datasets.ClassLabel(names=["contradiction", "neutral", "entailment"])
    hub["other/nli", None, "test"] = _xnli().cast_column("label", flipped)  # keeps the names: 0 -> contradiction
    assert list(load_hub("other/nli", None, "test", "nli", "en")["label"]) == [2, 0, 1]
    order = ["O", "B-LOC", "I-LOC", "B-PER", "I-PER", "B-ORG", "I-ORG"]
    hub["wiki/other", "qu", "train"] = _wikiann(order)
    ds = load_hub("wiki/other", "qu", "train", "ner", "qu")
    assert [[NER_TAGS[t] for t in s] for s in ds["ner_tags"]] == [["B-LOC", "O"], ["B-PER", "I-PER"]]


def test_squad_and_mlqa_columns(hub) -> None:  # type: ignore[no-untyped-def]
    hub["google/xtreme", "MLQA.de.de", "validation"] = _squad()
    ds = load_hub("google/xtreme", "MLQA.de.de", "validation", "qa", "de")
    assert ds.features == task_features("qa")
    assert list(ds["id"]) == ["q1", "q2"]
    assert ds[1]["answers"] == {"text": ["France", "France"], "answer_start": [3, 3]}


def test_wikiann(hub) -> None:  # type: ignore[no-untyped-def]
    hub["unimelb-nlp/wikiann", "qu", "validation"] = _wikiann(list(NER_TAGS))
    ds = load_hub("unimelb-nlp/wikiann", "qu", "validation", "ner", "qu")
    assert ds.column_names == ["id", "tokens", "ner_tags"]
    assert list(ds["id"]) == ["0", "1"]
    assert list(ds[1]["tokens"]) == ["Tupac", "Amaru"]
    assert list(ds[1]["ner_tags"]) == [NER_TAGS.index("B-PER"), NER_TAGS.index("I-PER")]


def test_sentiment_from_stars_five_class_and_binary_labels(hub) -> None:  # type: ignore[no-untyped-def]
    hub["amazon_reviews_multi", "de", "test"] = _marc()
    marc = load_hub("amazon_reviews_multi", "de", "test", "sentiment", "de")
    assert list(marc["id"]) == ["de_1", "de_2", "de_4", "de_5"] and list(marc["label"]) == [0, 0, 1, 1]
    assert marc[0]["text"] == "body 1"
    hub["SetFit/amazon_reviews_multi_ja", None, "train"] = _setfit()
    setfit = load_hub("SetFit/amazon_reviews_multi_ja", None, "train", "sentiment", "ja")
    assert list(setfit["id"]) == ["a", "c", "d"] and list(setfit["label"]) == [0, 1, 1]  # label 2 = 3 stars
    binary = datasets.Dataset.from_dict({"text": ["no", "yes"], "label": [0, 1]},
                                        features=datasets.Features({"text": STRING, "label": datasets.ClassLabel(
                                            names=["neg", "pos"])}))
    hub["some/binary", None, "validation"] = binary
    ds = load_hub("some/binary", None, "validation", "sentiment", "en")
    assert list(ds["id"]) == ["validation-0", "validation-1"] and list(ds["label"]) == [0, 1]


def test_hub_failure_names_dataset_split_and_language(hub) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(DataError, match=r"hub:facebook/xnli:sw@validation \(language 'sw'\): cannot be loaded "
                                        r"\(ConnectionError: Couldn't reach .*point data\.sources at local files"):
        load_hub("facebook/xnli", "sw", "validation", "nli", "sw")
    hub["facebook/xnli", "xx", "test"] = ValueError("BuilderConfig 'xx' not found. Available: ['ar', 'bg']")
    with pytest.raises(DataError, match=r"hub:facebook/xnli:xx@test .*BuilderConfig 'xx' not found"):
        load_hub("facebook/xnli", "xx", "test", "nli", "xx")
    hub["facebook/xnli", "de", "train"] = datasets.DatasetDict({"train": _xnli()})
    with pytest.raises(DataError, match=r"loaded a DatasetDict; expected one split"):
        load_hub("facebook/xnli", "de", "train", "nli", "de")


def test_missing_columns_and_bad_labels(hub) -> None:  # type: ignore[no-untyped-def]
    hub["rajpurkar/squad", None, "train"] = _squad().remove_columns("question")
    with pytest.raises(DataError, match=r"rajpurkar/squad@train .* missing \['question'\]; a hub qa dataset needs"):
        load_hub("rajpurkar/squad", None, "train", "qa", "en")
    hub["bad/nli", None, "train"] = datasets.Dataset.from_dict({"premise": ["a"], "hypothesis": ["b"], "label": [7]})
    with pytest.raises(DataError, match=r"bad/nli@train .*: label 7; expected 0 to 2"):
        load_hub("bad/nli", None, "train", "nli", "en")
    hub["bad/sent", None, "train"] = datasets.Dataset.from_dict({"sentence": ["a"], "label": [1]})
    with pytest.raises(DataError, match=r"bad/sent@train .*needs 'text' or 'review_body', and 'stars'"):
        load_hub("bad/sent", None, "train", "sentiment", "en")
    hub["bad/stars", None, "train"] = datasets.Dataset.from_dict({"text": ["a"], "stars": [6]})
    with pytest.raises(DataError, match=r"star rating 6; expected 1 to 5"):
        load_hub("bad/stars", None, "train", "sentiment", "en")


# ----------------------------------------------------------------- QA rows are checked as local files are (issue 12, 4)
@pytest.mark.parametrize(("answers", "context", "problem"), [
    ({"text": ["Paris"], "answer_start": [3]}, "In France.", "answer 0 'Paris' at answer_start 3 does not match the "
                                                            "context there ('Franc'; the text is nowhere"),
    ({"text": ["France"], "answer_start": [4]}, "In France.", "does not match the context there ('rance.'; the text "
                                                             "occurs at 3)"),
    ({"text": ["France"], "answer_start": [40]}, "In France.", "at answer_start 40 does not fit in the context "
                                                              "(10 characters)"),
    ({"text": [], "answer_start": []}, "In France.", "no answer; extractive QA here needs at least one"),
    ({"text": ["France"], "answer_start": [3]}, "", "the context is empty"),
    ({"text": ["France"], "answer_start": []}, "In France.", "1 answer texts but 0 answer_start values"),
])
def test_hub_qa_rows_whose_answers_are_not_spans_are_refused(hub, answers, context, problem) -> None:  # type: ignore[no-untyped-def]
    good = {"text": ["France"], "answer_start": [3]}
    hub["google/xtreme", "MLQA.de.de", "test"] = datasets.Dataset.from_dict(
        {"id": ["q1", "q2", "q3"], "context": ["In France."] * 2 + [context], "question": ["Where?"] * 3,
         "answers": [good, good, answers]},
        features=datasets.Features({"id": STRING, "context": STRING, "question": STRING,
                                    "answers": {"text": datasets.List(STRING),
                                                "answer_start": datasets.List(datasets.Value("int32"))}}))
    with pytest.raises(DataError) as info:
        load_hub("google/xtreme", "MLQA.de.de", "test", "qa", "de")
    message = str(info.value)
    assert message.startswith("hub:google/xtreme:MLQA.de.de@test (language 'de'): row 2 (question id 'q3'): ")
    assert problem in message and "expected every answer to be context[answer_start:answer_start + len(text)]" \
        in message


def test_hub_qa_answers_of_the_wrong_shape_are_one_error(hub) -> None:  # type: ignore[no-untyped-def]
    hub["x/qa", None, "test"] = datasets.Dataset.from_dict(
        {"id": ["q1"], "context": ["In France."], "question": ["Where?"], "answers": [[{"text": "France"}]]})
    with pytest.raises(DataError, match=r"x/qa@test \(language 'de'\): row 0 \(question id 'q1'\): answers "
                                        r"\[\{'text': 'France'\}\]; expected"):
        load_hub("x/qa", None, "test", "qa", "de")
