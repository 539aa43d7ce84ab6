"""A cheaper way to build a frozen, slotted dataclass the pipeline makes once per post (a leaf).

A frozen dataclass's ``__init__`` sets each field through ``object.__setattr__`` looked up
anew for every field: a `Post` and its `Author` cost about 1.8 µs, a large share of the glue
around the classifier at thousands of posts a poll. `builder` returns a function that takes
every field by name and fills the slots directly: the same object, equal field
for field, in under half the time. It refuses any class whose ``__init__`` does more
than set its fields (``__post_init__``, a field left out of ``__init__``, no slots), so a
class that grows validation cannot be built around it unnoticed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from types import MemberDescriptorType
from typing import Any, TypeVar

T = TypeVar("T")


def builder(cls: type[T]) -> Callable[..., T]:
    """A function ``(*, field1, field2, ...) -> cls`` (every field by name, defaults
    included: a missing or unknown one is a TypeError) that builds what
    ``cls(field1=..., field2=..., ...)`` builds, without its ``__init__``."""
    if not dataclasses.is_dataclass(cls) or "__slots__" not in cls.__dict__:
        raise TypeError(f"{cls.__name__} is not a slotted dataclass")
    fields = dataclasses.fields(cls)
    if hasattr(cls, "__post_init__") or not all(f.init for f in fields):
        raise TypeError(f"{cls.__name__}.__init__ does more than set its fields")
    names = [f.name for f in fields]
    namespace: dict[str, Any] = {"_new": object.__new__, "_cls": cls}
    for name in names:
        slot = getattr(cls, name)
        if not isinstance(slot, MemberDescriptorType):
            raise TypeError(f"{cls.__name__}.{name} is not a slot")
        namespace[f"_set_{name}"] = slot.__set__  # fills the slot, past the frozen __setattr__
    body = "".join(f"    _set_{name}(self, {name})\n" for name in names)
    source = f"def build(*, {', '.join(names)}):\n    self = _new(_cls)\n{body}    return self\n"
    exec(source, namespace)  # the source is made of the dataclass's field names only
    build: Callable[..., T] = namespace["build"]
    build.__qualname__ = build.__name__ = f"build_{cls.__name__}"
    return build
