"""A small recycling pool for the large output tensors of the fused CPU kernels.

Fresh multi-megabyte CPU tensors are ``mmap``-ed by malloc and every page is
faulted in on first touch; on virtual machines that costs more than the
kernel itself (about 50 ms for 64 MiB here, against 20 ms to compute LIF). The
pool hands out tensors backed by numpy arrays it keeps; a tensor's storage
holds the (numpy) view it was made from, so once a weak reference to that view
is dead no tensor, or view of one, uses the memory and it can be handed out again.

Reused memory is not zeroed: callers must overwrite every element.
``SPIKESTACK_CPU_POOL_MB`` (default 2048; 0 disables) bounds the idle bytes kept.
"""

from __future__ import annotations

import os
import threading
import weakref

import numpy as np
import torch
from torch import Tensor

_MIN_BYTES = 1 << 20
_ALIGN = 64
_NUMPY = {torch.float32: np.float32, torch.float64: np.float64}


def _aligned_bytes(nbytes: int) -> np.ndarray:
    """``nbytes`` uninitialised bytes starting on a cache line (as torch's allocator does;
    numpy only promises 16 bytes, and vector loads that straddle lines cost more)."""
    raw = np.empty(nbytes + _ALIGN, dtype=np.uint8)
    start = -raw.ctypes.data % _ALIGN
    return raw[start : start + nbytes]


class BufferPool:
    """Recycles numpy-backed tensors of the same byte size once nothing else refers to them."""

    def __init__(self, max_idle_bytes: int) -> None:
        self.max_idle_bytes = max_idle_bytes
        # (memory, weak reference to the view handed to torch), least recently used first
        self._entries: list[tuple[np.ndarray, weakref.ref]] = []
        self._lock = threading.Lock()

    def empty(self, shape: tuple[int, ...], dtype: torch.dtype) -> Tensor:
        """An uninitialised contiguous tensor, recycled when an idle one of that size exists."""
        numel = 1
        for size in shape:
            numel *= size
        itemsize = torch.empty((), dtype=dtype).element_size()
        if self.max_idle_bytes <= 0 or dtype not in _NUMPY or numel * itemsize < _MIN_BYTES:
            return torch.empty(shape, dtype=dtype)
        nbytes = numel * itemsize
        with self._lock:
            memory = None
            for i, (mem, ref) in enumerate(self._entries):
                if mem.nbytes == nbytes and ref() is None:
                    memory = self._entries.pop(i)[0]
                    break
            if memory is None:
                memory = _aligned_bytes(nbytes)
            view = memory.view(_NUMPY[dtype])
            self._entries.append((memory, weakref.ref(view)))
            self._trim()
        return torch.from_numpy(view).view(shape)

    def empty_channels_last(self, shape: tuple[int, ...], dtype: torch.dtype) -> Tensor:
        """:meth:`empty` of ``shape`` ``[N, C, ...]`` stored with channels innermost
        (channels-last for ``[N, C, H, W]``)."""
        n, c, *rest = shape
        return self.empty((n, *rest, c), dtype).movedim(-1, 1)

    def _trim(self) -> None:
        idle = [i for i, (_, ref) in enumerate(self._entries) if ref() is None]
        excess = sum(self._entries[i][0].nbytes for i in idle) - self.max_idle_bytes
        drop = set()
        for i in idle:  # least recently used first
            if excess <= 0:
                break
            excess -= self._entries[i][0].nbytes
            drop.add(i)
        if drop:
            self._entries = [e for i, e in enumerate(self._entries) if i not in drop]

    def idle_bytes(self) -> int:
        """Bytes held by the pool that no tensor uses."""
        with self._lock:
            return sum(mem.nbytes for mem, ref in self._entries if ref() is None)

    def clear(self) -> None:
        """Forget every buffer (those still in use stay alive with their tensors)."""
        with self._lock:
            self._entries = []


POOL = BufferPool(int(float(os.environ.get("SPIKESTACK_CPU_POOL_MB", "2048")) * (1 << 20)))
