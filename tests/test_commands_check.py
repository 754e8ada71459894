import json

from crossnet import cli


def test_check_compiles_c_conv_stack_forward_and_backward(capsys):
    """Conv + BN + transposed conv, with Adam: the C CorrMM ops, not Python."""
    assert cli.main(["check", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["conv_ops"] == ["CorrMM", "CorrMM_gradInputs", "CorrMM_gradWeights"]
    assert out["loss_last"] < out["loss_first"]


def test_help_lists_subcommands(capsys):
    try:
        cli.main(["--help"])
    except SystemExit as exc:
        assert exc.code == 0
    assert "check" in capsys.readouterr().out
