"""Every coded error declares its own stable code: the API and the CSV report errors by it."""

from __future__ import annotations

import pytest

from facescreen.edge.errors import CodedError, FaceScreenError, NoFaceError, PhotoError, PhotoTooLargeError


@pytest.mark.parametrize(
    "cls, code",
    [
        (FaceScreenError, "facescreen_error"),
        (PhotoError, "bad_image"),
        (PhotoTooLargeError, "image_too_large"),  # its own, not its parent's
        (NoFaceError, "no_face"),
    ],
)
def test_the_code_given_in_the_class_statement_is_the_class_s(cls, code):
    assert cls.code == code and cls("why").code == code and issubclass(cls, CodedError)


def test_a_subclass_that_forgets_its_code_is_refused():
    with pytest.raises(TypeError, match="code"):

        class Forgetful(PhotoError):  # would have answered "bad_image"
            pass


def test_a_code_already_taken_is_refused():
    with pytest.raises(TypeError, match="error code 'no_face' of .*Impostor is already NoFaceError's"):

        class Impostor(FaceScreenError, code="no_face"):
            pass
