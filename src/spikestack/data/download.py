"""Opt-in, verified downloads of official data set files (``download=True``).

:func:`fetch` gets a file into place safely: it downloads to ``.<name>.part`` beside the
target (resuming a partial file with an HTTP range request when the server allows it,
starting again when it does not), shows a progress bar, checks the md5 (and sha256 where
one is published) and only then renames the file into place, atomically. A failed
transfer leaves at most the ``.part`` file, which the next call resumes; a checksum
mismatch removes it and says so. Nothing here runs unless a data set is asked to download.
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from pathlib import Path

__all__ = ["fetch"]

_BLOCK = 1 << 16


def _digest(path: Path, name: str) -> str:
    h = hashlib.new(name)
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def fetch(
    url: str,
    target: str | os.PathLike[str],
    *,
    md5: str | None = None,
    sha256: str | None = None,
    progress: bool = True,
    timeout: float = 60.0,
) -> Path:
    """Download ``url`` to ``target`` (see the module docstring); returns ``target``.

    Raises ConnectionError for a transfer that fails (server error, connection lost: the
    ``.part`` file stays for the next try) and ValueError for a checksum mismatch (the
    ``.part`` file is removed)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(f".{target.name}.part")
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 - opt-in URLs
    except urllib.error.HTTPError as error:
        if error.code == 416 and have:  # the partial file is already whole
            response = None
        else:
            raise ConnectionError(
                f"downloading {url}: the server answered {error.code} {error.reason}"
            ) from None
    except (urllib.error.URLError, OSError) as error:
        raise ConnectionError(f"downloading {url}: {getattr(error, 'reason', error)}") from None
    if response is not None:
        with response:
            resumed = have and response.status == 206
            mode, start = ("ab", have) if resumed else ("wb", 0)
            length = response.headers.get("Content-Length")
            total = start + int(length) if length is not None else None
            bar = None
            if progress:
                from tqdm.auto import tqdm

                bar = tqdm(
                    total=total,
                    initial=start,
                    unit="B",
                    unit_scale=True,
                    desc=target.name,
                    leave=False,
                )
            received = start
            try:
                with open(part, mode) as out:
                    while chunk := response.read(_BLOCK):
                        out.write(chunk)
                        received += len(chunk)
                        if bar is not None:
                            bar.update(len(chunk))
            except (OSError, urllib.error.URLError) as error:
                raise ConnectionError(
                    f"downloading {url}: the transfer broke off after {received} bytes ({error}); "
                    "call again to resume"
                ) from None
            finally:
                if bar is not None:
                    bar.close()
            if total is not None and received < total:
                raise ConnectionError(
                    f"downloading {url}: got {received} of {total} bytes; call again to resume"
                )
    for name, expected in (("md5", md5), ("sha256", sha256)):
        if expected is not None and (got := _digest(part, name)) != expected.lower():
            part.unlink(missing_ok=True)
            raise ValueError(
                f"downloading {url}: {name} {got} does not match the published {expected}; "
                "the partial file was removed, call again to download it afresh"
            )
    os.replace(part, target)
    return target
