"""Row labels of MetaXL-style method tables (the tables: tests/report/test_paper_tables.py)."""

from __future__ import annotations

from xlsweep.report.method_table import method_label


def test_labels_name_the_method_and_its_varying_settings() -> None:
    assert method_label("metaxl", {"metaxl.rtn_layers": [1, 2], "metaxl.source_size": 5000}) == \
        "metaxl rtn_layers=1,2 source_size=5000"
    assert method_label("jt", {}) == "jt"
