"""Keep ``learnware``'s LLM specifications out of our processes until someone uses them.

``import learnware.specification`` runs two modules we never use:
``regular.text.generative`` (trl, transformers, peft, accelerate) and
``system.llm_general_capability_spec.spec`` (lm_eval, transformers). Measured
here they cost ~110 MB of resident memory and ~40% of the import time that every
CLI call and every market worker paid. Before ``learnware`` is imported we
register a stand-in module under each name whose public class loads the real
module on first use (instantiation, any attribute) and then hands over to the
real class; ``learnware``'s own re-exports are pointed at the real class at that
moment. An ``isinstance`` check against a stand-in loads nothing: until the real
module is loaded no instance of its class can exist. Nothing changes for a
process that uses these specifications except when they load.
"""

from __future__ import annotations

import importlib.util
import sys
import types

#: module -> (its class we stand in for, the modules that re-export that class)
DEFERRED = {
    "learnware.specification.regular.text.generative": (
        "GenerativeModelSpecification",
        ("learnware.specification", "learnware.specification.regular", "learnware.specification.regular.text",
         "learnware.specification.module")),
    "learnware.specification.system.llm_general_capability_spec.spec": (
        "LLMGeneralCapabilitySpecification",
        ("learnware.specification", "learnware.specification.system",
         "learnware.specification.system.llm_general_capability_spec", "learnware.market.easy.checker",
         "learnware.market.llm.organizer")),
}


def _loaded(module_name: str) -> bool:
    module = sys.modules.get(module_name)
    return module is not None and not getattr(module, "_k2v_deferred", False)


def _real_module(module_name: str) -> types.ModuleType:
    """Import the real module (once) and point learnware's re-exports at its class."""
    if _loaded(module_name):
        return sys.modules[module_name]
    stand_in = sys.modules.pop(module_name)
    spec = importlib.util.find_spec(module_name)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules[module_name] = stand_in
        raise
    class_name, reexports = DEFERRED[module_name]
    real = getattr(module, class_name)
    for name in reexports:
        parent = sys.modules.get(name)
        if parent is not None and getattr(parent, class_name, None) is getattr(stand_in, class_name):
            setattr(parent, class_name, real)
    return module


class _Deferred(type):
    def _real(cls):
        return getattr(_real_module(cls._module), cls._class_name)

    def __instancecheck__(cls, instance):
        return _loaded(cls._module) and isinstance(instance, cls._real())

    def __subclasscheck__(cls, subclass):
        return _loaded(cls._module) and issubclass(subclass, cls._real())

    def __getattr__(cls, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(cls._real(), name)


def _stand_in_class(module_name: str, class_name: str) -> type:
    def __new__(cls, *args, **kwargs):
        return cls._real()(*args, **kwargs)

    return _Deferred(class_name, (), {"__new__": __new__, "_module": module_name, "_class_name": class_name,
                                      "__doc__": f"Stands for learnware's {class_name} until it is first used."})


def defer_llm_specifications() -> None:
    """Register the stand-ins, unless learnware is absent or its specifications are loaded already."""
    if "learnware.specification" in sys.modules or importlib.util.find_spec("learnware") is None:
        return
    for module_name, (class_name, _) in DEFERRED.items():
        stand_in = types.ModuleType(module_name, "Deferred by k2v_learnware: loaded when first used.")
        stand_in._k2v_deferred = True
        setattr(stand_in, class_name, _stand_in_class(module_name, class_name))

        def module_getattr(name, _module=module_name):
            if name.startswith("__"):  # probes such as inspect's hasattr(module, "__file__") load nothing
                raise AttributeError(name)
            return getattr(_real_module(_module), name)

        stand_in.__getattr__ = module_getattr
        sys.modules[module_name] = stand_in
