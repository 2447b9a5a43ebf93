"""Package layout only; everything else is in pyproject.toml.

The repository keeps one thin entry module per process in the top-level
`workers/` folder (it shows the architecture), but installs it as
`tickborg.workers` so no top-level package named `workers` lands in a user's
environment. pyproject.toml's package discovery cannot add a remapped
sub-package beside the found ones, hence this file.
"""

from setuptools import find_namespace_packages, setup

setup(
    # Namespace discovery also finds folders of data, such as tickborg/fakegithub/data.
    packages=[*find_namespace_packages(include=["tickborg", "tickborg.*"]), "tickborg.workers"],
    package_dir={"tickborg.workers": "workers"},
    package_data={"tickborg.fakegithub.data": ["*.json", "*.md"], "tickborg.logs.data": ["*.html"]},
)
