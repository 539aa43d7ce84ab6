"""`monitor.frozen.builder` builds what the dataclass's own ``__init__`` builds, and refuses the
classes where skipping that ``__init__`` would skip something."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from monitor.frozen import builder
from monitor.models import Author, Post

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def test_a_built_post_is_the_post_the_constructor_makes() -> None:
    author = builder(Author)(
        id="42", handle="dana", display_name=None, followers=120, verified=False
    )
    post = builder(Post)(
        platform="x",
        external_id="1001",
        author=author,
        text="@acme refund?",
        url="https://x.com/dana/status/1001",
        created_at=NOW,
        language="en",
        contact_url=None,
        extra={"title": "t"},
        edited_at=None,
        revises=(),
        rating=None,
    )
    expected = Post(
        platform="x",
        external_id="1001",
        author=Author(id="42", handle="dana", followers=120),
        text="@acme refund?",
        url="https://x.com/dana/status/1001",
        created_at=NOW,
        language="en",
        extra={"title": "t"},
    )
    assert type(post) is Post and type(post.author) is Author
    assert post == expected and hash(post.key) == hash(expected.key)
    assert dataclasses.replace(post, text="edited").text == "edited"
    with pytest.raises(dataclasses.FrozenInstanceError):
        post.text = "changed"  # type: ignore[misc]


def test_every_field_must_be_given_by_name() -> None:
    build = builder(Author)
    with pytest.raises(TypeError):
        build(id="42", handle="dana")  # the defaults too: a new field cannot be forgotten
    with pytest.raises(TypeError):
        build("42", "dana", None, 1, False)


@dataclasses.dataclass(frozen=True, slots=True)
class Checked:
    value: int

    def __post_init__(self) -> None:
        if self.value < 0:
            raise ValueError("negative")


@dataclasses.dataclass(frozen=True)
class Unslotted:
    value: int


@dataclasses.dataclass(frozen=True, slots=True)
class Computed:
    value: int
    double: int = dataclasses.field(init=False, default=0)


@pytest.mark.parametrize("cls", [Checked, Unslotted, Computed, int])
def test_a_class_whose_init_does_more_is_refused(cls: type) -> None:
    with pytest.raises(TypeError):
        builder(cls)
