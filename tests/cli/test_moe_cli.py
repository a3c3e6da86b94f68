"""``diversa moe``: registration, help, and one-line errors before any model is read."""

import pytest

from diversa import cli

CONFIG = """\
base_model: base
gate_mode: random
experts_per_token: 2
experts:
  - source_model: m1
  - source_model: m2
"""


def test_moe_is_a_registered_command_whose_help_names_the_gate_modes(capsys):
    assert "moe" in cli.COMMANDS
    with pytest.raises(SystemExit):
        cli.main(["moe", "--help"])
    flat = " ".join(capsys.readouterr().out.split())
    assert "hidden, cheap_embed, random" in flat and "diversa moe moe.yml --out moe/" in flat


@pytest.mark.parametrize("text,needle", [
    (CONFIG.replace("random", "learned"), "gate_mode must be one of hidden, cheap_embed, random, got 'learned'"),
    (CONFIG.replace("experts_per_token: 2", "experts_per_token: 3"), "experts_per_token (3) exceeds"),
    (CONFIG.replace("random", "hidden"), "experts[0].positive_prompts is required"),
    (CONFIG.replace("m2", "absent"), "experts[1].source_model: model folder 'absent' does not exist"),
    (CONFIG + "shared_experts: []\n", "shared_experts"),
    ("base_model: [unclosed\n", "is not valid YAML"),
    ("- a\n- list\n", "expected a mapping"),
])
def test_config_errors_are_one_line_and_write_nothing(tmp_path, monkeypatch, capsys, text, needle):
    monkeypatch.chdir(tmp_path)
    for name in ("base", "m1", "m2"):
        (tmp_path / name).mkdir()
    (tmp_path / "moe.yml").write_text(text)
    assert cli.main(["moe", "moe.yml", "--out", "out"]) == 1
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1 and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["base", "m1", "m2", "moe.yml"]


def test_bad_shard_size_is_a_usage_error(tmp_path, capsys):
    assert cli.main(["moe", "x.yml", "--out", str(tmp_path / "o"), "--max-shard-size", "huge"]) == 2
    assert "--max-shard-size" in capsys.readouterr().err
