"""The shared conventions agree with the readers, networks and cameras."""
from crossnet import conventions as cv
from crossnet.camera import BENCHMARK_CAMERAS, RELEASE_CAMERAS
from crossnet.data import icvl, msra
from crossnet.networks.config import config_for


def test_joint_counts_match_readers_and_networks():
    assert cv.NUM_JOINTS["icvl"] == icvl.NUM_JOINTS
    assert cv.NUM_JOINTS["msra"] == msra.NUM_JOINTS
    assert len(cv.NYU_EVAL_JOINTS) == cv.BENCHMARK_NUM_JOINTS["nyu"]
    assert max(cv.NYU_EVAL_JOINTS) < cv.NUM_JOINTS["nyu"]
    for d in cv.DATASETS:
        cfg = config_for(d)
        assert (cfg.num_joints, cfg.root_joint) == (cv.NUM_JOINTS[d],
                                                    cv.ROOT_JOINT[d])
        assert 0 <= cv.ROOT_JOINT[d] < cv.NUM_JOINTS[d]
    assert set(cv.BENCHMARK_DATASETS) == set(BENCHMARK_CAMERAS) == \
        set(RELEASE_CAMERAS)
