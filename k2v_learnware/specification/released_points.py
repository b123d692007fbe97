"""Points a market worker need not hold: released from memory, read back from their file when needed.

A search over a fixed embedding family reads only the stored class-mean
embeddings; the condensed points are needed again only when a learnware is
reused (mimic data) or compared in a calibrated family. At 10,000 learnwares of
100 points in 196-d the points are 0.78 GB, as much as the class-mean matrix a
search reads, so a market releases them once a learnware's means are stored
(:mod:`k2v_learnware.market.lane_means`) and reads them back, for the few
learnwares a user reuses, from the specification file they were loaded from.

A spec's ``data_class_means`` (format 4) go with the points: the market's
stored copy is what its search reads, so a worker holds them once, in that
copy, and reads the spec's own back from its file only if asked.

What is read back must be exactly what was released: its SHA-256 digest is
checked, so a file replaced in the meantime is an error, never other points.
"""

from __future__ import annotations

import functools
import hashlib

import numpy as np

from .formats import SpecificationFormatError


def _digest(z: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(z).tobytes()).hexdigest()


def _field_of_file(spec_class, filepath, field: str) -> np.ndarray:
    """``field`` (the points ``z`` or ``data_class_means``) of the specification file ``filepath``, read and
    checked in full, as ``load`` does."""
    fresh = spec_class()
    fresh.load(filepath)
    value = getattr(fresh, field)
    if value is None:
        raise ValueError(f"{filepath} holds no {field}")
    return value


def _checked_read(spec, reload, digest, shape, what: str) -> np.ndarray:
    """``reload()`` as float32, raising a format error unless it is exactly what was released."""
    try:
        value = np.ascontiguousarray(reload(), dtype=np.float32)
    except (OSError, ValueError, TypeError) as err:
        raise SpecificationFormatError(f"the released {what} of this {type(spec).__name__} could not be read "
                                       f"back: {err}") from err
    if tuple(value.shape) != shape or _digest(value) != digest:
        raise SpecificationFormatError(f"the {what} read back for this {type(spec).__name__} are not those "
                                       f"released (shape {tuple(value.shape)}, expected {shape}): its file changed")
    return value


class ReleasablePoints:
    """The ``z`` attribute of a specification, which :meth:`release_points` may drop from memory."""

    @property
    def z(self):
        z = self.__dict__.get("_z")
        if z is None and self.__dict__.get("_released") is not None:
            z = self._read_back()
        return z

    @z.setter
    def z(self, value):
        self.__dict__["_z"] = value
        self.__dict__["_released"] = None  # new points: whatever was released or loaded before is not them
        self.__dict__["_source_file"] = None

    @property
    def data_class_means(self):
        """``(K, D)`` float32 class means of the developer's rows in the spec's fixed family, or None."""
        means = self.__dict__.get("_data_means")
        if means is None and self.__dict__.get("_released_means") is not None:
            reload, digest, shape = self.__dict__["_released_means"]
            means = _checked_read(self, reload, digest, shape, "data class means")
            self.__dict__["_data_means"] = means  # kept, and released again with the points
        return means

    @data_class_means.setter
    def data_class_means(self, value):
        self.__dict__["_data_means"] = value
        self.__dict__["_released_means"] = None

    def _points_shape(self) -> tuple[int, ...] | None:
        """The points' shape, without reading released points back (None when there are none)."""
        z = self.__dict__.get("_z")
        if z is not None:
            return tuple(z.shape)
        released = self.__dict__.get("_released")
        return None if released is None else released[2]

    @property
    def source_file(self) -> str | None:
        """The file these points were loaded from (None when built or changed in memory)."""
        return self.__dict__.get("_source_file")

    def points_in_memory(self) -> bool:
        """Whether the points are held (False after :meth:`release_points`, until they are needed)."""
        return self.__dict__.get("_z") is not None

    def release_points(self, reload=None) -> None:
        """Drop the points from memory; they are read back, and checked, the next time they are needed.

        ``reload`` is a callable that returns them; by default they are read
        from the file this specification was loaded from (a specification built
        in memory must be given one). Data class means loaded from a file are
        released with them, and read back from that file.
        """
        z = self.__dict__.get("_z")
        if z is None:
            if self.__dict__.get("_released") is not None:
                self._release_means()  # read back since, maybe
                return  # released already
            raise ValueError(f"this {type(self).__name__} is empty: there are no points to release")
        if reload is None:
            source = self.source_file
            if source is None:
                raise ValueError(f"this {type(self).__name__} was not loaded from a file: pass reload=, a callable "
                                 "that returns its points")
            reload = functools.partial(_field_of_file, type(self), source, "z")
        elif not callable(reload):
            raise TypeError(f"reload must be a callable that returns the points, got {type(reload).__name__}")
        self._release_means()
        self.__dict__["_released"] = (reload, _digest(z), tuple(z.shape))
        self.__dict__["_z"] = None

    def _release_means(self) -> None:
        """Drop the data class means too, when there is a file to read them back from."""
        means, source = self.__dict__.get("_data_means"), self.source_file
        if means is None or source is None:
            return
        if self.__dict__.get("_released_means") is None:
            self.__dict__["_released_means"] = (functools.partial(_field_of_file, type(self), source,
                                                                  "data_class_means"),
                                                _digest(means), tuple(means.shape))
        self.__dict__["_data_means"] = None

    def _read_back(self) -> np.ndarray:
        reload, digest, shape = self.__dict__["_released"]
        z = _checked_read(self, reload, digest, shape, "points")
        self.__dict__["_z"] = z
        self.__dict__["_released"] = (reload, digest, shape)  # the setter is bypassed: it can be released again
        return z
