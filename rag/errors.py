"""Exceptions the library raises. Only the edges translate them: the CLI into an exit code and
one line, the UI into a visible message. Each message says what is wrong and what fixes it."""


class RagError(Exception):
    """Base class: something the user can act on."""


class BadInputError(RagError):
    """The question, a file or an argument is not usable (CLI exit code 2)."""


class IndexUnusableError(RagError):
    """The index is missing, damaged or built with another embedding model."""


class ModelMissingError(RagError):
    """A model file is absent or does not match its published checksum."""


class IncompleteAnswerError(RuntimeError):
    """The core stopped before its last item, the checked Answer. A fault, not something the user
    can act on, so not a RagError; the edges tell it plainly (the API's code answer_incomplete,
    the web app's message) instead of showing unchecked words, or nothing, as the answer."""
