"""Capture dissection: ``dissect_capture`` (a list) and ``iter_connections`` (reports as
connections end), imported lazily so that reading one module does not load them all."""

__all__ = ["dissect_capture", "iter_connections"]


def __getattr__(name):
    if name in __all__:
        from . import dissect
        return getattr(dissect, name)
    raise AttributeError(name)
