"""The package layout, which pyproject.toml cannot say: the repository keeps the runtime in
``workers/`` at its root, and the distribution installs it as ``tornio.workers``, so that
tornio installs one import package (``tornio``) and no top-level ``workers``. Everything else
is in pyproject.toml."""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["tornio", "tornio.*"]), "tornio.workers"],
    package_dir={"tornio.workers": "workers"},
)
