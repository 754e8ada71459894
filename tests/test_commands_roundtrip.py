import json
import os

import numpy as np

from crossnet import cli


def _paths(reference_dir, dataset, gt):
    return (os.path.join(reference_dir, "crossingnet_pretrained", dataset),
            os.path.join(reference_dir, "handpose_eval", "groundtruth",
                         dataset.lower(), gt))


def test_roundtrip_json(reference_dir, capsys):
    weights, gt = _paths(reference_dir, "ICVL", "icvl_test_groundtruth_label.txt")
    assert cli.main(["roundtrip", "--weights", weights, "--dataset", "icvl",
                     "--gt", gt, "--frames", "50", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["frames"] == 50
    assert set(out) == {"vae_mean_error_mm", "loop_mean_error_mm", "frames"}
    assert out["vae_mean_error_mm"] < 10 and out["loop_mean_error_mm"] < 30


def test_nyu_public_labels_are_refused_with_a_reason(reference_dir, capsys):
    weights, gt = _paths(reference_dir, "NYU", "nyu_test_groundtruth_label.txt")
    assert cli.main(["roundtrip", "--weights", weights, "--dataset", "nyu",
                     "--gt", gt]) == 2
    err = capsys.readouterr().err
    assert "14 joints per frame" in err and "36" in err


def test_render_writes_pngs(reference_dir, tmp_path, capsys):
    from PIL import Image
    weights, gt = _paths(reference_dir, "ICVL", "icvl_test_groundtruth_label.txt")
    assert cli.main(["render", "--weights", weights, "--dataset", "icvl",
                     "--gt", gt, "--frames", "4", "--out", str(tmp_path)]) == 0
    names = sorted(os.listdir(tmp_path))
    assert names == ["frame_00000.png", "frame_00001.png", "frame_00002.png",
                     "frame_00003.png", "grid.png"]
    img = np.asarray(Image.open(tmp_path / "frame_00000.png"))
    assert img.shape == (128, 128) and img.max() > 200 and img.min() == 0


def test_missing_weights_folder(tmp_path, capsys):
    assert cli.main(["roundtrip", "--weights", str(tmp_path / "none"),
                     "--dataset", "icvl", "--gt", "x.txt"]) == 2
    assert "none: weights folder not found" in capsys.readouterr().err
