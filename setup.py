from setuptools import find_packages, setup

setup(
    name="crossnet",
    version="0.1.0",
    description="Crossing Nets (Wan et al., CVPR 2017) hand pose estimation "
                "on aesara",
    long_description=open("README.md").read(),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["crossnet", "crossnet.*"]),
    package_data={"crossnet.csrc": ["*.c", "*.h"]},
    python_requires=">=3.9,<3.12",
    install_requires=[
        "aesara>=2.9,<2.10",
        "numpy>=1.24,<2",
        "scipy>=1.10,<=1.12.0",
        "h5py>=3.8",
        "matplotlib>=3.7",
        "Pillow>=9",
        "tqdm>=4.60",
        "threadpoolctl>=3.1",
    ],
    extras_require={
        "test": ["pytest>=7"],
        # peers of paper_experiments/timing.py (PyTorch CPU, ONNX Runtime,
        # OpenVINO); tested with torch 2.13.0, onnx 1.23.2, onnxruntime
        # 1.32.0, openvino 2026.4.1, ml_dtypes 0.5.4 beside numpy 1.26.4
        # (onnx imports ml_dtypes, whose 0.6+ wheels need numpy 2); then
        # pip install "setuptools<74" (torch pulls 77+, which breaks the
        # numpy.distutils import aesara makes; see timing.py)
        "bench": ["torch>=2.0", "onnx>=1.16", "onnxruntime>=1.18",
                  "openvino>=2024.0", "ml_dtypes<0.6"],
    },
    entry_points={"console_scripts": ["crossnet=crossnet.cli:main"]},
)
