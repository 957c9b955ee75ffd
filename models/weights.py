"""Pretrained weights: torchvision's enums, cache, download and checks.

Where a checkpoint comes from, in order:

1. ``$TORCH_HOME/hub/checkpoints/<file>`` (TORCH_HOME defaults to ``$XDG_CACHE_HOME/torch``, then
   ``~/.cache/torch``): torchvision's own cache, so an existing download is reused.
2. A download from torchvision's URL, or from ``$TAPE_<ARCH>_URL`` (e.g. ``TAPE_RESNET18_URL``)
   or ``$TAPE_WEIGHTS_BASE_URL/<file>``. It shows a progress bar on stderr, checks the SHA-256
   prefix in the file name (``resnet18-f37072fd.pth``: the digest starts with ``f37072fd``), and
   is written to a temporary file in the cache directory that is renamed into place only when
   complete and correct; on any failure the temporary file is removed.
3. Otherwise a ``RuntimeError`` that says exactly where to put the file.

Files are read with ``tape.load`` (a restricted unpickler; no torch, no code from the file runs).
"""

from __future__ import annotations

import enum
import hashlib
import os
import re
import sys
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

_HASH = re.compile(r"-([a-f0-9]*)\.")


@dataclass(frozen=True, eq=False)
class Weights:
    url: str
    num_classes: int = 1000
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def file_name(self) -> str:
        return os.path.basename(self.url)


class WeightsEnum(enum.Enum):
    """torchvision's ``WeightsEnum``: members hold a ``Weights`` with ``url`` and ``meta``."""

    @classmethod
    def verify(cls, obj):
        if obj is None or isinstance(obj, cls):
            return obj
        if isinstance(obj, str):
            name = obj.replace(cls.__name__ + ".", "")
            try:
                return cls[name]
            except KeyError:
                raise ValueError(
                    f"Failed to find Weights {name} in {cls.__name__}. Try one of "
                    f"{[m.name for m in cls]}"
                ) from None
        raise TypeError(
            f"Invalid Weight class provided; expected {cls.__name__} but received "
            f"{obj.__class__.__name__}."
        )

    def get_state_dict(self, progress: bool = True, check_hash: bool = True):
        return load_state_dict_from_url(self.url, progress=progress, check_hash=check_hash)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}.{self._name_}"

    @property
    def url(self) -> str:
        return self.value.url

    @property
    def meta(self) -> dict:
        return self.value.meta

    @property
    def num_classes(self) -> int:
        return self.value.num_classes


_BASE = "https://download.pytorch.org/models/"


class ResNet18_Weights(WeightsEnum):  # noqa: N801 (torchvision's name)
    IMAGENET1K_V1 = Weights(_BASE + "resnet18-f37072fd.pth", meta={"num_params": 11689512})
    DEFAULT = IMAGENET1K_V1


class ResNet34_Weights(WeightsEnum):  # noqa: N801
    IMAGENET1K_V1 = Weights(_BASE + "resnet34-b627a593.pth", meta={"num_params": 21797672})
    DEFAULT = IMAGENET1K_V1


class ResNet50_Weights(WeightsEnum):  # noqa: N801
    IMAGENET1K_V1 = Weights(_BASE + "resnet50-0676ba61.pth", meta={"num_params": 25557032})
    IMAGENET1K_V2 = Weights(_BASE + "resnet50-11ad3fa6.pth", meta={"num_params": 25557032})
    DEFAULT = IMAGENET1K_V2


def torch_home() -> str:
    home = os.environ.get("TORCH_HOME")
    if home:
        return os.path.expanduser(home)
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(xdg, "torch")


def checkpoint_dir() -> str:
    return os.path.join(torch_home(), "hub", "checkpoints")


def _arch_of(file_name: str) -> str:
    return file_name.split("-")[0].split(".")[0].upper()


def source_url(url: str) -> str:
    """The URL to download from: ``$TAPE_<ARCH>_URL``, ``$TAPE_WEIGHTS_BASE_URL/<file>``, or
    torchvision's."""
    file_name = os.path.basename(url)
    override = os.environ.get(f"TAPE_{_arch_of(file_name)}_URL")
    if override:
        return override
    base = os.environ.get("TAPE_WEIGHTS_BASE_URL")
    if base:
        return base.rstrip("/") + "/" + file_name
    return url


def load_state_dict_from_url(url: str, progress: bool = True, check_hash: bool = True):
    """torchvision's ``load_state_dict_from_url`` on tape: the cached file if present, else a
    checked, atomic download; the state dict is read with ``tape.load``."""
    file_name = os.path.basename(url)
    cached = os.path.join(checkpoint_dir(), file_name)
    if not os.path.exists(cached):
        src = source_url(url)
        src_name = os.path.basename(urllib.request.urlparse(src).path) or file_name
        # A mirror file named with its own hash is cached (and checked) under that name.
        target = cached if src_name == file_name else os.path.join(checkpoint_dir(), src_name)
        if not os.path.exists(target):
            match = _HASH.search(src_name) or _HASH.search(file_name)
            prefix = match.group(1) if (check_hash and match) else None
            try:
                download(src, target, prefix, progress)
            except (urllib.error.URLError, OSError, ValueError) as error:
                raise RuntimeError(
                    f"Could not get the pretrained weights {file_name}: {error}.\n"
                    f"Download {url} and put it at {cached} (the torchvision cache, "
                    "$TORCH_HOME/hub/checkpoints; TORCH_HOME defaults to "
                    "$XDG_CACHE_HOME/torch, then ~/.cache/torch), or set TAPE_"
                    f"{_arch_of(file_name)}_URL / TAPE_WEIGHTS_BASE_URL to a mirror."
                ) from error
        cached = target
    return load_file(cached)


def load_file(path: str):
    """A state dict from a torch ``.pth`` file, with a clear error if the file is damaged."""
    import tape

    try:
        state = tape.load(path)
    except FileNotFoundError:
        raise
    except Exception as error:  # noqa: BLE001 (any damage: zip, pickle, bounds)
        raise RuntimeError(
            f"{path} is not a readable checkpoint ({type(error).__name__}: {error}). It may be "
            "truncated or corrupt: delete it and download it again."
        ) from error
    if not isinstance(state, dict):
        raise RuntimeError(f"{path} does not hold a state dict (got {type(state).__name__})")
    return state


def download(url: str, dst: str, hash_prefix: str | None = None, progress: bool = True) -> None:
    """Download ``url`` to ``dst`` through a temporary file in the same directory, checking the
    length and the SHA-256 prefix; nothing is left behind on failure."""
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    request = urllib.request.Request(url, headers={"User-Agent": "tape"})
    fd, tmp = tempfile.mkstemp(
        prefix=os.path.basename(dst) + ".", suffix=".partial", dir=os.path.dirname(dst)
    )
    try:
        sha = hashlib.sha256()
        with os.fdopen(fd, "wb") as f, urllib.request.urlopen(request, timeout=60) as response:
            length = response.headers.get("Content-Length")
            total = int(length) if length else None
            done = 0
            bar = _Progress(total, os.path.basename(dst)) if progress else None
            while True:
                chunk = response.read(1 << 16)
                if not chunk:
                    break
                f.write(chunk)
                sha.update(chunk)
                done += len(chunk)
                if bar:
                    bar.update(done)
            if bar:
                bar.close()
            if total is not None and done != total:
                raise ValueError(f"download truncated: got {done} of {total} bytes from {url}")
        digest = sha.hexdigest()
        if hash_prefix is not None and not digest.startswith(hash_prefix):
            raise ValueError(f'invalid hash value (expected "{hash_prefix}", got "{digest}")')
        os.replace(tmp, dst)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


class _Progress:
    def __init__(self, total: int | None, name: str) -> None:
        self.total = total
        self.name = name
        sys.stderr.write(f'Downloading: "{name}"\n')

    def update(self, done: int) -> None:
        mb = done / 2**20
        if self.total:
            frac = done / self.total
            filled = int(30 * frac)
            line = f"\r{frac:6.1%} |{'#' * filled}{' ' * (30 - filled)}| {mb:.1f}/"
            line += f"{self.total / 2**20:.1f} MB"
        else:
            line = f"\r{mb:.1f} MB"
        sys.stderr.write(line)
        sys.stderr.flush()

    def close(self) -> None:
        sys.stderr.write("\n")
        sys.stderr.flush()


def resolve(weights, pretrained: bool, enum_cls):
    """``weights`` from the builder's arguments: an enum member, its name, a file path, None."""
    if pretrained and weights is None:
        weights = enum_cls.DEFAULT
    if weights is None or isinstance(weights, enum_cls):
        return weights
    if isinstance(weights, str):
        name = weights.replace(enum_cls.__name__ + ".", "")
        if name in enum_cls.__members__:
            return enum_cls[name]
        if weights.endswith((".pth", ".pt", ".bin", ".tar")) or os.path.sep in weights:
            return os.fspath(weights)
        enum_cls.verify(weights)  # raises torchvision's error
    if isinstance(weights, os.PathLike):
        return os.fspath(weights)
    return enum_cls.verify(weights)


def state_dict_for(weights, progress: bool):
    if isinstance(weights, str):
        return load_file(weights)
    return weights.get_state_dict(progress=progress)
