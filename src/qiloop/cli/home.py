"""Which qiloop home a command works on, and refusing to invent one for a command that only reads.

The home comes from (first wins) the command's own ``--home``, the root
command's ``qiloop --home H``, then the settings (``QILOOP_HOME``,
``qiloop.toml``, ``./.qiloop``). A command that writes (ingest, import,
train, demo) creates the home it is given. A command that only reads refuses
a home that does not exist: it would otherwise create an empty one and answer
"nothing here", while the data sits in another folder (``make demo`` writes
``.qiloop-demo``).
"""

from __future__ import annotations

from pathlib import Path

from qiloop.core.errors import NotFoundError
from qiloop.settings import Settings, load_settings

# What a home holds once any command wrote to it; one of them is enough to recognise one.
HOME_MARKERS = ("images", "labels", "mlflow", "labeling.db", "fleet.db")


def _current_context():
    """The running command's click context (Typer >= 0.20 carries its own copy of click)."""
    try:
        from typer._click.globals import get_current_context
    except ImportError:  # older Typer runs on click itself
        from click import get_current_context
    return get_current_context(silent=True)


def root_home() -> Path | None:
    """The ``--home`` given to the root command (``qiloop --home H models ls``), if any."""
    ctx = _current_context()
    if ctx is None:
        return None
    root = ctx.find_root()
    value = root.params.get("home") if root is not ctx else None
    return Path(value) if value is not None else None


def resolve_settings(home: Path | None, *, must_exist: bool = False) -> Settings:
    """Settings for a command; ``must_exist`` refuses a home folder that is not there.

    Raises:
        NotFoundError: ``must_exist`` and a backend lives under a home folder that does not exist.
    """
    home = home if home is not None else root_home()
    settings = load_settings(home=home) if home is not None else load_settings()
    if must_exist and settings.uses_home() and not settings.home.is_dir():
        raise missing_home(settings.home)
    return settings


def looks_like_home(folder: Path) -> bool:
    """Whether ``folder`` holds what qiloop writes into a home (images/, labels/, mlflow/, labeling.db, ...)."""
    try:
        return folder.is_dir() and any((folder / marker).exists() for marker in HOME_MARKERS)
    except OSError:
        return False


def homes_in(folder: Path) -> list[Path]:
    """The qiloop homes directly inside ``folder`` (``.qiloop``, ``.qiloop-demo``, ...), sorted by name."""
    try:
        children = sorted(folder.iterdir())
    except OSError:
        return []
    return [child for child in children if looks_like_home(child)]


def missing_home(home: Path, cwd: Path | None = None) -> NotFoundError:
    """The error for a read-only command on a home that does not exist, naming the homes nearby."""
    found = homes_in(cwd if cwd is not None else Path.cwd())
    hint = "name the home with `qiloop --home DIR ...` (or the command's own --home), or set QILOOP_HOME=DIR"
    if found:
        hint += "; qiloop homes in this folder: " + ", ".join(p.name for p in found)
    else:
        hint += "; commands that write (qiloop demo, images ingest, labels import, train) create one"
    return NotFoundError(f"no qiloop home at {home}: this command only reads, so it does not create one", hint=hint)
