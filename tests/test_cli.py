"""The command line: argument checks at the parser, one-line user errors."""
import pytest

from crossnet import cli


@pytest.mark.parametrize("argv, message", [
    (["benchmark", "--iterations", "0"], "must be >= 1"),
    (["benchmark", "--batch-size", "0"], "must be >= 1"),
    (["benchmark", "--threads", "-2"], "must be >= 1"),
    (["render", "--weights", "w", "--dataset", "icvl", "--gt", "g",
      "--out", "o", "--frames", "0"], "must be >= 1"),
    (["roundtrip", "--weights", "w", "--dataset", "icvl", "--gt", "g",
      "--frames", "x"], "'x' is not a whole number"),
    (["demo", "--labelled-fraction", "1.5"], "must be in (0, 1]"),
    (["demo", "--latent", "median"], "invalid choice: 'median'"),
    (["show", "--data", "d", "--out", "o", "--frames", "-1"], "must be >= 1"),
    (["estimate", "x.png", "--weights", "w", "--dataset-config", "icvl",
      "--camera", "icvl", "--centre", "1,2"], "--centre must be u,v,d"),
    (["estimate", "x.png", "--weights", "w", "--dataset-config", "icvl",
      "--camera", "icvl", "--image-size", "100"], "power of two"),
])
def test_bad_arguments_exit_2_before_any_work(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_user_errors_are_one_line_with_exit_2(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text("{}")
    assert cli.main(["render", "--weights", str(run), "--dataset", "icvl",
                     "--gt", "g.txt", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "a run folder without a checkpoint" in err
