"""One import name for everything installed (issue 25): a user's own `tools.py`, `agents.py` and `swarm.py`
shadow nothing of the library, and the package list in pyproject.toml is every package folder."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {"swarm": "defai_swarm", "agents": "defai_swarm.agents", "tools": "defai_swarm.tools"}

USER_PROJECT = {  # what a LangChain project often has lying around, each failing loudly if the library imports it
    "tools.py": "raise ImportError('the user project tools.py was imported by the library')\n",
    "agents.py": "raise ImportError('the user project agents.py was imported by the library')\n",
    "swarm.py": "raise ImportError('the user project swarm.py was imported by the library')\n",
}


def test_the_package_list_is_every_package_folder():
    """A package folder missing from pyproject.toml would be missing from the wheel, silently."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert config["package-dir"] == {name: folder for folder, name in FOLDERS.items()}
    found = {".".join((name, *init.parent.relative_to(ROOT / folder).parts))
             for folder, name in FOLDERS.items() for init in (ROOT / folder).rglob("__init__.py")
             if "__pycache__" not in init.parts}
    assert set(config["packages"]) == found


def test_no_old_top_level_names_are_imported():
    """The library's code imports only `defai_swarm...`: an `import tools` would pick up the user's module."""
    import ast
    old = []
    for folder in FOLDERS:
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                         else [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else [])
                old += [f"{path.relative_to(ROOT)}:{node.lineno} {n}" for n in names
                        if n.split(".")[0] in FOLDERS]
    assert old == []


def _user_project(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    project = tmp_path / "my_bot"
    project.mkdir()
    for name, text in USER_PROJECT.items():
        (project / name).write_text(text)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(project)  # as `python my_bot/main.py` would: the project's folder first on the path
    return project, env


def test_every_module_imports_beside_a_users_tools_agents_and_swarm_modules(tmp_path):
    """Every module of the library (and the `swarm` command's help) with the user's modules first on the path."""
    project, env = _user_project(tmp_path)
    script = textwrap.dedent("""
        import importlib, pkgutil, sys
        import defai_swarm
        names = [m.name for m in pkgutil.walk_packages(defai_swarm.__path__, "defai_swarm.")
                 if not m.name.endswith("__main__")]
        for name in names:
            importlib.import_module(name)
        assert not any(m in sys.modules for m in ("tools", "agents", "swarm")), "a user module was imported"
        print(len(names))
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=project, capture_output=True, text=True, env=env,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert int(done.stdout.split()[-1]) > 100  # the whole library was walked
    swarm = Path(sys.executable).parent / "swarm"
    help_text = subprocess.run([str(swarm), "--help"], cwd=project, capture_output=True, text=True, env=env,
                               timeout=120)
    assert help_text.returncode == 0 and "plan" in help_text.stdout, help_text.stderr[-2000:]


@pytest.mark.devnet
def test_from_devnet_runs_beside_a_users_tools_agents_and_swarm_modules(tmp_path, devnet):
    """The reported failure: `Swarm.from_devnet()` raised "No module named 'tools.devnet'; 'tools' is not a package"."""
    project, env = _user_project(tmp_path)
    env["SWARM_LEDGER"] = str(tmp_path / "ledger.sqlite")
    env["SWARM_HOME"] = str(tmp_path / "home")
    script = textwrap.dedent(f"""
        import sys
        from defai_swarm import Swarm
        swarm = Swarm.from_devnet({str(devnet.manifest_path)!r}, anchor=False)
        plan = swarm.plan("swap 0.01 ETH to USDC, max 1% slippage")
        assert plan.ok, plan.refusal_reason
        print(sorted(t.kind for t in plan.task_graph.tasks))
        assert not any(m in sys.modules for m in ("tools", "agents", "swarm")), "a user module was imported"
        swarm.close()
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=project, capture_output=True, text=True, env=env,
                          timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "swap" in done.stdout
