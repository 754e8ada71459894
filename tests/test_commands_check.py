import json

from crossnet import cli


def test_check_compiles_c_conv_stack_forward_and_backward(capsys):
    """Conv + BN + transposed conv, with Adam: crossnet's C Ops, and aesara's
    C CorrMM ops (not Python) when they are switched off."""
    assert cli.main(["check", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["crossnet_ops"]["ops"] == [
        "BatchNormAct", "BatchNormActGrad", "BatchStats", "BatchStatsGrad",
        "Corr6x6S2", "Corr6x6S2GradInputs", "Corr6x6S2GradWeights"]
    assert out["aesara_ops"]["ops"] == ["CorrMM", "CorrMM_gradInputs",
                                        "CorrMM_gradWeights"]
    for key in ("crossnet_ops", "aesara_ops"):
        assert out[key]["loss_last"] < out[key]["loss_first"]


def test_help_lists_subcommands(capsys):
    try:
        cli.main(["--help"])
    except SystemExit as exc:
        assert exc.code == 0
    assert "check" in capsys.readouterr().out
