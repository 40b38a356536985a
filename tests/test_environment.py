"""The two install routes (pip via pyproject.toml, conda via environment.yml) must agree."""
import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
REQUIRED = {"jupyterlab", "ipywidgets", "matplotlib", "torch", "torchaudio", "nbval", "jupytext"}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def pyproject_names() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {_name(r) for r in project["dependencies"]}


def environment_names() -> set[str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    names = set()
    for entry in env["dependencies"]:
        if isinstance(entry, dict):
            names |= {_name(r) for r in entry.get("pip", []) if not r.startswith("-e")}
    return names


def test_environment_yml_lists_exactly_the_pyproject_dependencies():
    missing = pyproject_names() - environment_names()
    extra = environment_names() - pyproject_names()
    assert not missing and not extra, f"environment.yml lacks {sorted(missing)} and has extra {sorted(extra)}"


def test_environment_lists_each_package_on_its_own_dash_line():
    lines = {line.strip() for line in (ROOT / "environment.yml").read_text().splitlines()}
    for package in REQUIRED:
        assert any(re.fullmatch(rf"- {package}([<>=].*)?", line) for line in lines), f"no '- {package}' line"


def test_environment_installs_the_course_package_itself():
    assert "- -e ." in (ROOT / "environment.yml").read_text()
