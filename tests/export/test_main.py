"""`python -m export` as a user meets it: the command list, the advice its errors give."""

import re

from export.__main__ import DESCRIPTION, build_parser, main
from live.core.defaults import ROOT


def commands_of(text: str) -> list[str]:
    """The command names of a listing such as --help's `commands:` block or docs/EXPORT.md's synopsis."""
    return re.findall(r"^ {2,4}(?:python -m export )?([a-z]+)\b", text, flags=re.M)


def test_every_command_is_listed_in_help_and_docs():
    parser = build_parser()
    names = list(parser._subparsers._group_actions[0].choices)  # the commands the parser takes
    assert names == ["shapes", "onnx", "verify", "trt", "bench"]
    listed = DESCRIPTION.split("commands:")[1].split("examples:")[0]
    assert commands_of(listed) == names
    synopsis = next(p for p in (ROOT / "docs" / "EXPORT.md").read_text().split("\n\n") if p.startswith("    python -m export"))
    assert commands_of(synopsis) == names


def test_a_missing_model_advises_this_clis_flag(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # not cached, and the hub unreachable: the advice is given
    for argv in (["onnx", "--encoder", "nobody/no-such-encoder", "-o", str(tmp_path / "out")], ["shapes", "--encoder", "nobody/no"]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1
        assert "or use --encoder tiny for a smoke run" in err and "--models" not in err
    assert not (tmp_path / "out").exists()
