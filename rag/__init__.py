"""Offline, cited answers to questions about a folder of news articles.

    >>> import rag
    >>> rag.build_index("seeds")
    >>> answer = rag.ask("What came out of the May 2025 Istanbul talks?")
    >>> answer.text, answer.citations
    >>> rag.ask("What did the talks achieve?", scope=rag.Scope(since="2025-05", within="europe"))
"""

from rag.config import Settings, load_settings
from rag.errors import BadInputError, IndexUnusableError, ModelMissingError, RagError
from rag.pipeline import ask, ask_stream, build_index, search
from rag.schema import Answer, Checking, Citation, Correcting, Hit, IndexInfo, Retrieved, Timings
from rag.scope import Scope

__all__ = [
    "ask", "ask_stream", "build_index", "search", "Scope", "Settings", "load_settings",
    "Answer", "Checking", "Citation", "Correcting", "Hit", "IndexInfo", "Retrieved", "Timings",
    "RagError", "BadInputError", "IndexUnusableError", "ModelMissingError",
]
