"""The model loader's report (issue 12, point 16): what transformers silently initialised is said once, in a line."""

from __future__ import annotations

from pathlib import Path

from transformers import (
    AutoModelForQuestionAnswering,
    AutoModelForSequenceClassification,
    BertConfig,
    BertForMaskedLM,
    BertModel,
)

from xlsweep.models.encoder import load_pretrained, loading_report

CONFIG = BertConfig(vocab_size=40, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32)


def test_a_checkpoint_without_a_pooler_reports_the_pooler_next_to_the_expected_head(tmp_path: Path) -> None:
    BertForMaskedLM(CONFIG).save_pretrained(tmp_path)  # as the tiny encoder is saved: no pooler, an MLM head
    model = load_pretrained(AutoModelForSequenceClassification, tmp_path, num_labels=3)
    assert loading_report(model) == (
        f"loaded {tmp_path} into BertForSequenceClassification: the task head (classifier) is new, as expected "
        "(trained from here); also newly initialised, not in the checkpoint: bert.pooler.dense; unused checkpoint "
        "weights: cls.predictions, cls.predictions.transform.LayerNorm, cls.predictions.transform.dense")


def test_a_complete_encoder_reports_the_new_head_and_the_pooler_qa_does_not_use(tmp_path: Path) -> None:
    BertModel(CONFIG).save_pretrained(tmp_path)
    model = load_pretrained(AutoModelForQuestionAnswering, tmp_path)
    assert loading_report(model) == (f"loaded {tmp_path} into BertForQuestionAnswering: the task head (qa_outputs) "
                                     "is new, as expected (trained from here); unused checkpoint weights: "
                                     "pooler.dense; every encoder weight came from the checkpoint")


def test_a_fine_tuned_model_has_no_new_weights(tmp_path: Path) -> None:
    BertModel(CONFIG).save_pretrained(tmp_path / "encoder")
    load_pretrained(AutoModelForSequenceClassification, tmp_path / "encoder", num_labels=2).save_pretrained(
        tmp_path / "tuned")
    model = load_pretrained(AutoModelForSequenceClassification, tmp_path / "tuned", num_labels=2)
    assert loading_report(model).endswith("BertForSequenceClassification: no new task head; every encoder weight "
                                          "came from the checkpoint")


def test_building_stage_1_logs_the_report_once(tmp_path: Path) -> None:
    from xlsweep.plan import parse_trial
    from xlsweep.prepare import prepare

    cfg = parse_trial({"data": {"synthetic": {"train_size": 24, "dev_size": 8, "test_size": 8}},
                       "model": {"tiny": {"vocab_size": 300, "hidden_size": 16, "num_heads": 2,
                                          "intermediate_size": 32}},
                       "stage1": {"epochs": 1}, "meta": {"support": ["ana"], "query": ["bel"], "support_size": 2,
                                                         "query_size": 2}, "eval": {"targets": ["bel"]}})
    lines: list[str] = []
    prepare(cfg, tmp_path, log=lines.append)
    reports = [line for line in lines if "into BertForSequenceClassification" in line]
    assert len(reports) == 1 and "the task head (classifier) is new, as expected" in reports[0]
    assert "also newly initialised, not in the checkpoint: bert.pooler.dense" in reports[0]  # the tiny MLM save
    lines.clear()
    prepare(cfg, tmp_path, log=lines.append)  # cached: nothing is loaded into a new head again
    assert not [line for line in lines if "into Bert" in line]
