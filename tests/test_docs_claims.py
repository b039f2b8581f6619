"""The benchmark pages say which run their hand-written findings come from."""

import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCH))

import bench_cold_start  # noqa: E402

PAGE = """Title
=====

table

Findings
--------

* a number written by hand: 0.1234

Reproduce
---------

.. code-block:: console

   $ python benchmarks/x.py

Machine
-------

* date: 2026-11-28
* commit: abc1234
"""


def test_findings_copied_forward_are_fenced_with_their_run(tmp_path):
    page = tmp_path / "page.rst"
    page.write_text(PAGE)
    block = bench_cold_start._findings(page)
    assert block[:2] == ["Findings", "--------"]
    assert block[3] == (".. note:: Findings written by hand from the run of "
                        "2026-11-28 (abc1234);")
    assert "* a number written by hand: 0.1234" in block
    # a rerun writes a page with a new date and commit: the note keeps the old run
    page.write_text("\n".join([*block, "Reproduce", "---------", "", "* date: 2027-01-01",
                               "* commit: fff0000"]))
    again = bench_cold_start._findings(page)
    assert again == block


def test_page_without_findings_gets_none(tmp_path):
    page = tmp_path / "page.rst"
    page.write_text(PAGE.replace("Findings\n--------\n\n* a number written by hand: 0.1234\n\n", ""))
    assert bench_cold_start._findings(page) == []


def test_every_findings_section_of_the_docs_names_its_run():
    docs = Path(__file__).resolve().parents[1] / "docs" / "benchmarks"
    for page in docs.glob("*.rst"):
        lines = page.read_text().splitlines()
        for heading in ("Findings", "What the numbers say"):
            if heading in lines:
                start = lines.index(heading)
                assert lines[start + 3].startswith(".. note:: Findings written by hand from the run of"), page.name
