"""`swarm new NAME`: a hackathon starter project with one custom tool, one custom agent (a task plugin) and a
devnet test.

The generated project depends on the library by name and the version this command runs
(`defai-swarm==0.1.0`), as on a package index. Until defai-swarm is on one, pip finds it in a directory
holding its wheel (`pip install --find-links DIR`): a path would tie the project to one machine's checkout.

The project's files are real files in `starter_template/` (package data): its Python modules are ordinary
Python, linted and type-checked with the library, written for a package named `starter_project` (the
placeholder: `create` writes the project's name for it, and puts `starter_project/` and
`tests/test_starter_project.py` under the project's names); `pyproject.toml.tmpl` and `README.md.tmpl` are
`string.Template` texts ($name, $dependency, $wheel_note).
"""
from __future__ import annotations

import re
from pathlib import Path
from string import Template

from defai_swarm.core.errors import SwarmError

TEMPLATE = Path(__file__).resolve().parent / "starter_template"
PLACEHOLDER = "starter_project"  # the package name the template's Python is written for


WHEEL_FROM_CHECKOUT = '''To make that wheel from the checkout `swarm new` ran from:

    pip install build && python -m build --wheel --outdir /path/to/wheels $root'''

WHEEL_FROM_ELSEWHERE = '''Use the wheel this copy of defai-swarm was installed from, or build one from
a checkout: `pip install build && python -m build --wheel --outdir /path/to/wheels /path/to/defai-swarm`.'''

INIT = '''"""$name: a defai-swarm bot."""
'''

TEXTS = {"pyproject.toml": "pyproject.toml.tmpl", "README.md": "README.md.tmpl"}  # string.Template texts
MODULES = {"$name/pool_depth.py": "starter_project/pool_depth.py",  # Python written for the placeholder's name
           "$name/liquidity_guard.py": "starter_project/liquidity_guard.py",
           "$name/__main__.py": "starter_project/__main__.py",
           "tests/test_$name.py": "tests/test_starter_project.py"}


def with_name(source: str, name: str) -> str:
    """A template module for the project `name`: every `starter_project` (a whole word) becomes `name`."""
    return re.sub(rf"\b{PLACEHOLDER}\b", name, source)


def project_files(name: str, values: dict[str, str]) -> dict[str, str]:
    """Each file of the project `name`: its path in the project, its text."""
    files = {rel: Template((TEMPLATE / src).read_text()).substitute(values) for rel, src in TEXTS.items()}
    files["$name/__init__.py"] = Template(INIT).substitute(values)
    files.update({rel: with_name((TEMPLATE / src).read_text(), name) for rel, src in MODULES.items()})
    return {Template(rel).substitute(name=name): text for rel, text in files.items()}


class StarterError(SwarmError, ValueError):
    """A name that cannot be a Python package, or a target that is not empty."""


def library_checkout() -> Path | None:
    """The defai-swarm checkout this library runs from (it has the pyproject.toml), or None for an installed copy."""
    import defai_swarm
    root = Path(defai_swarm.__file__).resolve().parents[1]
    pyproject = root / "pyproject.toml"
    if pyproject.is_file() and re.search(r'^name\s*=\s*"defai-swarm"', pyproject.read_text(), re.MULTILINE):
        return root
    return None


def library_version() -> str | None:
    """The version of the installed library (None when it runs from a checkout that was never installed)."""
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("defai-swarm")
    except PackageNotFoundError:
        return None


def dependency() -> str:
    """The project's requirement on the library: by name and this version (a wheel for it is what pip installs),
    with the `devnet` extra: the project's own tests start a local devnet, which compiles its contracts with Vyper."""
    found = library_version()
    return f"defai-swarm[devnet]=={found}" if found else "defai-swarm[devnet]"


def create(name: str, directory: Path | None = None) -> Path:
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,39}", name):
        raise StarterError(f"{name!r} is not a valid project name: use lower-case letters, digits and _ (a Python package name)")
    target = Path(directory or name)
    if target.exists() and any(target.iterdir()):
        raise StarterError(f"{target} exists and is not empty: nothing written")
    root = library_checkout()
    note = Template(WHEEL_FROM_CHECKOUT).substitute(root=root) if root is not None else WHEEL_FROM_ELSEWHERE
    values = {"name": name, "dependency": dependency(), "wheel_note": note}
    for rel, text in project_files(name, values).items():
        path = target / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return target
