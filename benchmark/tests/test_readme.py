"""labbench.readme: the README's results section, written from the leaderboard."""

from __future__ import annotations

import pytest

from labbench.cli import main
from labbench.leaderboard import leaderboard_table
from labbench.protocol import load_protocol
from labbench.readme import END, START, update_readme
from labcore.errors import ConfigError


@pytest.fixture
def protocol():
    base = load_protocol("cls-shapes-tiny")
    return type(base)(**{**base.__dict__, "baseline": "base"})


def test_the_results_section_holds_the_leaderboards_numbers(tmp_path, protocol, make_records):
    values = {"base": [0.70, 0.72, 0.71, 0.69, 0.73], "better": [0.80, 0.81, 0.82, 0.80, 0.82]}
    records = make_records(protocol.name, values)
    readme = tmp_path / "README.md"
    readme.write_text(f"# Title\n\nBefore.\n\n{START}\nold table\n{END}\n\nAfter.\n")
    update_readme(readme, records, {protocol.name: protocol})

    text = readme.read_text()
    assert text.startswith("# Title\n\nBefore.\n\n" + START) and text.endswith(END + "\n\nAfter.\n")
    assert "old table" not in text
    section = text.split(START)[1].split(END)[0]
    assert f"**{protocol.label}**: top1 (higher is better)" in section
    rows = {line.split("|")[1].strip(): line for line in section.splitlines() if "|" in line}
    table = leaderboard_table(records, protocol).set_index("config")
    better = table.loc["better"]
    cells = [c.strip() for c in rows["better"].split("|")[1:-1]]
    assert cells[:4] == ["better", "5", f"{better['mean']:.4f}", f"{better['std']:.4f}"]
    assert any(c.endswith("*") for c in cells)  # significant against the baseline
    assert "MLflow" not in rows["Config"]  # the README leaves the run links to the leaderboard

    # rewriting replaces the section, and a README without the markers is named
    update_readme(readme, records, {protocol.name: protocol})
    assert readme.read_text().count(START) == 1
    bare = tmp_path / "BARE.md"
    bare.write_text("# no markers\n")
    with pytest.raises(ConfigError, match="labbench:results:start"):
        update_readme(bare, records, {protocol.name: protocol})


def test_readme_needs_report(tmp_path, capsys):
    assert main(["--readme", str(tmp_path / "README.md"), "--work-dir", str(tmp_path)]) == 2
    assert "give --report with it" in capsys.readouterr().err
