"""Every command that the README and the book's reproducibility page show works as written.

The commands are read from the documents: each line of a shell code block (```bash; a trailing
backslash continues a line, ``#`` starts a comment) and each inline code span that starts with a
program (``make``, ``papermill``, ``python``, ``torchrun``, ``.venv/bin/...``, ``.ci/run``). Each
is mapped to its smoke form by the first rule of :func:`plan` that matches it, and checked:

- ``papermill NOTEBOOK OUT ...``: run. ``-p profile X`` (or ``profile: X`` in ``-y``) becomes
  ``smoke`` (no profile: the notebooks' default, smoke); OUT goes to a tmp folder. The records it
  writes must be there, one per seed asked for. ``dataset`` other than ``synthetic`` needs real
  data: run with ``STUDYLIB_DATA`` naming a missing folder, it must stop with an error naming
  ``STUDYLIB_DATA`` before any record. ``device cuda`` must stop with the no-CUDA error (where
  torch sees no CUDA).
- ``python -m studylib.run`` and ``torchrun ... -m studylib.run``: run, ``--profile X`` becoming
  ``--profile smoke``; torchrun gets ``--standalone`` (a free rendezvous port) and runs on CPU
  processes with the gloo backend. ``--device cuda``: the no-CUDA error.
- ``python -m studylib.bench``: run with ``--tiny --device cpu --out <tmp>`` added (the CI form
  its docstring gives); the records must be there.
- ``python -m studylib.study``: not run, since it writes executed notebooks into the project's
  ``results/executed`` (``make notebooks`` runs every notebook at smoke); every option it is given
  must be one ``--help`` lists. With ``--real``: run at smoke with ``STUDYLIB_DATA`` naming a
  missing folder, it must stop with an error naming ``STUDYLIB_DATA``.
- ``make study-real [STUDYLIB_DATA=...] [PROFILE=...]``: run (make's ``-o .venv/.installed``
  keeps it from installing anything); it needs real data, so without ``STUDYLIB_DATA`` the
  Makefile must refuse, and with the README's placeholder folder (missing here) the study must,
  both naming ``STUDYLIB_DATA`` and before any record.
- Any other ``make TARGET [VAR=VALUE ...]``: ``make -n`` (a dry run: nothing is built or
  installed) must accept the target and print the command it runs, with the variables in it
  (``PROFILE=full`` -> ``--profile full``, ``RESUME=1`` -> ``--resume``). Running these here
  would run the study (minutes to hours), this test command itself (``test``, ``unit``), or the
  book build and notebooks that ``make test`` runs right after the unit tests (``book``,
  ``notebooks``); what each runs is covered by the rules above or by ``make test``.
  ``PROFILE=full`` is a GPU job that no code refuses on a CPU (it would train for days), so only
  its dry run is checked.
- ``.ci/run``: an executable script that calls ``make test``.

Every run writes under tmp (``STUDYLIB_RESULTS``, ``STUDYLIB_CACHE``, bench's ``--out``), never
under ``results/``. A command that no rule matches fails :func:`test_every_command_has_a_rule`:
a new command in the README gets a rule here, so that it stays covered.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from studylib.config import PROFILE_SEEDS

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DOCUMENTS = ("README.md", "book/reproducibility.ipynb")
#: Programs that make an inline code span a command (a path to one counts, e.g. .venv/bin/python).
PROGRAMS = ("make", "papermill", "python", "python3", "torchrun", "jupyter-book", "pytest", "run")
SHELL_FENCES = ("bash", "sh", "shell", "console")
#: What ``make -n TARGET`` must print: the command that the target runs.
MAKE_RECIPES = {
    "study": "-m studylib.study --profile",
    "study-real": "-m studylib.study --profile",
    "test": "pytest -q tests/book_checks.py",
    "unit": "-m pytest",
    "notebooks": "--nbval",
    "refresh-notebooks": "nbconvert --to notebook --execute",
    "book": "jupyter-book build .",
    "lint": "ruff check",
    "clean-build": "rm -rf _build",
    "reproduce": "-m studylib.reproduce",
    "gpu-check": "scripts/gpu_check.sh",
}
NO_CUDA = "sees no CUDA"
NO_DATA = "STUDYLIB_DATA"
TIMEOUT = 600


# ----------------------------------------------------------------------------- finding commands


def _text(document: str) -> str:
    path = ROOT / document
    if path.suffix == ".ipynb":
        cells = json.loads(path.read_text())["cells"]
        return "\n\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    return path.read_text()


def find_commands(text: str) -> list[str]:
    """Shell code-block lines and inline spans that start with a program, in document order."""
    commands = []
    fence = re.compile(r"^```([\w-]*)[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
    for language, body in fence.findall(text):
        if language in SHELL_FENCES:
            for line in body.replace("\\\n", " ").splitlines():
                if shlex.split(line, comments=True):
                    commands.append(line.strip())
    for span in re.findall(r"`([^`\n]+)`", fence.sub("", text)):
        try:
            tokens = shlex.split(span)
        except ValueError:  # unbalanced quotes: prose, not a command
            continue
        if _program(tokens) in PROGRAMS:
            commands.append(span.strip())
    return commands


def _program(tokens: list[str]) -> str | None:
    words = [t for t in tokens if not re.match(r"^[A-Z_]+=", t)]  # after VAR=value prefixes
    return Path(words[0]).name if words else None


COMMANDS = {
    f"{Path(document).stem}-{index}": command
    for document in DOCUMENTS
    for index, command in enumerate(find_commands(_text(document)), start=1)
}


# ----------------------------------------------------------------------------- the rules


@dataclass
class Plan:
    """How one command is checked: ``argv`` run with ``env`` on top of a clean environment."""

    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    ok: bool = True  # True: must succeed; False: must fail with ``expect`` in its output
    expect: list[str] = field(default_factory=list)  # texts the output must hold
    after: Callable[[Path], None] | None = None  # further checks of the tmp folder


def plan(command: str, tmp: Path) -> Plan | None:
    """The smoke form of ``command`` (see the module docstring); None when no rule matches."""
    tokens = shlex.split(command, comments=True)
    env = {}
    while tokens and re.match(r"^[A-Z_]+=", tokens[0]):
        key, _, value = tokens.pop(0).partition("=")
        env[key] = value
    if not tokens:
        return None
    program, args = Path(tokens[0]).name, tokens[1:]
    if program == "papermill":
        return _papermill(args, env, tmp)
    if program in ("python", "python3") and args[:2] == ["-m", "studylib.run"]:
        return _run([sys.executable, "-m", "studylib.run"], args[2:], env, tmp)
    if program == "torchrun" and "studylib.run" in args:
        split = args.index("studylib.run")
        launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
        return _run(launcher + args[: split + 1], args[split + 1 :], env, tmp)
    if program in ("python", "python3") and args[:2] == ["-m", "studylib.bench"]:
        return _bench(args[2:], env, tmp)
    if program in ("python", "python3") and args[:2] == ["-m", "studylib.study"]:
        return _study(args[2:], env, tmp)
    if program == "make":
        return _make(args, env, tmp)
    if tokens == [".ci/run"]:
        return Plan(["grep", "-x", "make test", str(ROOT / ".ci" / "run")], expect=["make test"])
    return None


def _refusal(device: str | None, dataset: str | None, env: dict, tmp: Path) -> Plan | None:
    """The refusal a GPU or real-data command must give here, or None when it can run."""
    if device == "cuda":
        import torch

        if torch.cuda.is_available():
            pytest.skip("a CUDA command's refusal is checked on a machine without CUDA")
        return Plan([], env, ok=False, expect=[NO_CUDA])
    if dataset not in (None, "synthetic"):
        return Plan([], {**env, NO_DATA: str(tmp / "no-data")}, ok=False, expect=[NO_DATA])
    return None


def _papermill(args: list[str], env: dict, tmp: Path) -> Plan | None:
    positional = [a for a in args if not a.startswith("-")]
    if len(positional) < 2 or not positional[0].endswith(".ipynb"):
        return None
    params: dict = {}
    argv = [str(BIN / "papermill")]
    rest = iter(args)
    for arg in rest:
        if arg in ("-p", "--parameters"):
            name, value = next(rest), next(rest)
            value = "smoke" if name == "profile" else value
            params[name] = _papermill_value(value)
            argv += [arg, name, value]
        elif arg in ("-y", "--parameters_yaml"):
            values = yaml.safe_load(next(rest))
            values.update({"profile": "smoke"} if "profile" in values else {})
            params.update(values)
            argv += [arg, yaml.safe_dump(values, default_flow_style=True).strip()]
        elif arg.startswith("-"):
            return None  # an option this rule does not know: a new rule is needed
        elif arg == positional[1]:
            argv.append(str(tmp / Path(arg).name))
        else:
            argv.append(arg)
    argv.append("--no-progress-bar")
    refusal = _refusal(params.get("device"), params.get("dataset"), env, tmp)
    if refusal:
        refusal.argv = argv
        return refusal
    # Read here without studylib, so that a notebook that cannot take the form fails the run.
    seeds = params.get("seeds") or PROFILE_SEEDS["smoke"]
    seeds = tuple(ast.literal_eval(seeds) if isinstance(seeds, str) else seeds)
    return Plan(argv, env, after=lambda folder: _check_records(folder / "results", seeds))


def _papermill_value(text: str):
    """papermill's reading of ``-p``: a bool, None, int or float where it is one, else the text."""
    special = {"True": True, "False": False, "None": None}
    if text in special:
        return special[text]
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _run(launcher: list[str], args: list[str], env: dict, tmp: Path) -> Plan:
    args = list(args)
    if "--profile" in args:
        args[args.index("--profile") + 1] = "smoke"
    sets = {}
    if "--set" in args:
        for item in args[args.index("--set") + 1 :]:
            if item.startswith("--"):
                break
            key, _, value = item.partition("=")
            sets[key] = value
    refusal = _refusal(sets.get("device"), sets.get("dataset"), env, tmp)
    if refusal:
        refusal.argv = launcher + args
        return refusal
    seeds = (int(args[args.index("--seed") + 1]),) if "--seed" in args else (0,)
    return Plan(
        launcher + args, env, after=lambda folder: _check_records(folder / "results", seeds)
    )


def _bench(args: list[str], env: dict, tmp: Path) -> Plan:
    args = list(args)
    device = args[args.index("--device") + 1] if "--device" in args else None
    refusal = _refusal(device, None, env, tmp)
    argv = [sys.executable, "-m", "studylib.bench"]
    if refusal:
        refusal.argv = argv + args
        return refusal
    for option in ("--tiny", "--device", "--out"):
        assert option not in args, f"the bench rule adds {option}; give it a rule of its own"
    argv += [*args, "--tiny", "--device", "cpu", "--out", str(tmp / "bench")]

    def records(folder: Path) -> None:
        assert list((folder / "bench").rglob("*.json")), "bench wrote no records"

    return Plan(argv, env, after=records)


def _study(args: list[str], env: dict, tmp: Path) -> Plan:
    if "--real" in args:
        profile = args.index("--profile") + 1 if "--profile" in args else None
        args = [("smoke" if i == profile else a) for i, a in enumerate(args)]
        args += [] if profile else ["--profile", "smoke"]
        missing = {**env, NO_DATA: str(tmp / "no-data")}
        return Plan([sys.executable, "-m", "studylib.study", *args], missing, False, [NO_DATA])
    options = [a for a in args if a.startswith("--")]
    return Plan([sys.executable, "-m", "studylib.study", "--help"], env, expect=options)


def _make(args: list[str], env: dict, tmp: Path) -> Plan | None:
    targets = [a for a in args if "=" not in a]
    variables = dict(a.split("=", 1) for a in args if "=" in a)
    if len(targets) != 1 or targets[0] not in MAKE_RECIPES:
        return None
    target = targets[0]
    expected = [MAKE_RECIPES[target]]
    if target == "study":
        expected.append(f"--profile {variables.get('PROFILE', 'quick')}")
        expected += ["--resume"] if variables.get("RESUME") else []
    if target == "study-real":
        # Runs for real: without STUDYLIB_DATA the Makefile refuses, with a missing folder the
        # study does, before it writes anything. ``-o`` keeps make from (re)installing .venv.
        data = variables.get("STUDYLIB_DATA")
        if data is not None and Path(data).exists():  # someone's real data: not here
            args = [a for a in args if not a.startswith("STUDYLIB_DATA=")]
            args.append(f"STUDYLIB_DATA={tmp / 'no-data'}")
        expect = [NO_DATA] + (["is not a folder"] if data is not None else [])
        if data is not None and variables.get("PROFILE") in ("gpu", "full"):
            import torch

            if not torch.cuda.is_available():  # the GPU profile is refused first, for its reason
                expect = ["sized for a GPU"]
        return Plan(["make", "-o", ".venv/.installed", *args], env, ok=False, expect=expect)
    return Plan(["make", "-n", *args], env, expect=expected)


def _check_records(results: Path, seeds: tuple[int, ...]) -> None:
    found = {p.parent.name for p in results.rglob("metrics.json")}
    assert found == {f"seed{s}" for s in seeds}, f"records for {sorted(found)}, asked {seeds}"


# ----------------------------------------------------------------------------- the tests


def test_the_documents_show_commands():
    assert any("papermill" in c for c in COMMANDS.values()), "no papermill command found"
    assert any("torchrun" in c for c in COMMANDS.values()), "no torchrun command found"


def test_every_command_has_a_rule(tmp_path):
    unknown = [f"{key}: {c}" for key, c in COMMANDS.items() if plan(c, tmp_path) is None]
    assert not unknown, (
        "commands that tests/test_readme_commands.py cannot check; add a rule for them:\n"
        + "\n".join(unknown)
    )


def _unique() -> dict[str, str]:
    """One test per distinct command (the README and the book share some)."""
    seen: dict[str, str] = {}
    for key, command in COMMANDS.items():
        seen.setdefault(" ".join(shlex.split(command, comments=True)), key)
    return {key: COMMANDS[key] for key in seen.values()}


@pytest.mark.slow
@pytest.mark.parametrize("key", list(_unique()))
def test_command_works_as_written(key, tmp_path, shared_cache):
    command = COMMANDS[key]
    checked = plan(command, tmp_path)
    if checked is None:
        pytest.fail(f"no rule for {command!r} (see test_every_command_has_a_rule)")
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in (NO_DATA, "MAKEFLAGS", "MAKELEVEL", "MFLAGS")
    }
    env.update(
        OMP_NUM_THREADS="1",  # the checks share the machine; a one-thread kernel is enough
        STUDYLIB_RESULTS=str(tmp_path / "results"),
        STUDYLIB_CACHE=shared_cache,
        **checked.env,
    )
    done = subprocess.run(
        checked.argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT
    )
    output = done.stdout + done.stderr
    where = f"{command!r} (checked as {shlex.join(checked.argv)})"
    if checked.ok:
        assert done.returncode == 0, f"{where} failed:\n{output[-4000:]}"
    else:
        assert done.returncode != 0, f"{where} should have refused:\n{output[-4000:]}"
        assert not list((tmp_path / "results").rglob("metrics.json")), "records before refusing"
    for text in checked.expect:
        assert text in output, f"{where}: {text!r} not in its output:\n{output[-4000:]}"
    if checked.after is not None:
        checked.after(tmp_path)
