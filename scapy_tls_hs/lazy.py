"""Lazy attributes for package ``__init__`` modules (PEP 562): a name is imported from its
module on first use, so importing one part of the package does not load the others (the
dissector never loads the automata, nor the automata the capture reader)."""
import importlib

__all__ = ["lazy_attributes"]


def lazy_attributes(package, names):
    """A module ``__getattr__`` for ``package`` that imports ``names[attr]``, a submodule
    (relative to ``package``) or a ``(submodule, attribute)`` pair, and caches the value."""
    namespace = importlib.import_module(package).__dict__

    def __getattr__(attr):
        try:
            target = names[attr]
        except KeyError:
            raise AttributeError("module %r has no attribute %r" % (package, attr)) from None
        module, name = target if isinstance(target, tuple) else (target, attr)
        value = getattr(importlib.import_module("." + module, package), name)
        namespace[attr] = value
        return value

    return __getattr__
