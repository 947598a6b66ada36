"""Local language models that turn a chat (list of role/content messages) into streamed text.

Two backends share one method, `stream(messages, max_tokens)`, which yields text pieces and then
leaves `last_prompt_tokens`, `last_new_prompt_tokens` (those not reused from the cache) and
`last_completion_tokens` set for the caller's report:
- LlamaCppGenerator: a GGUF file through llama-cpp-python; the default, fast on a laptop CPU.
- TransformersGenerator: a Hugging Face model folder, or a GGUF file read through transformers'
  `gguf_file` (dequantised, so slower): for users with a GPU or an HF-format model.
Both decode greedily (temperature 0): the same question over the same index gives the same answer.
"""

from __future__ import annotations

import os
import threading
from functools import lru_cache
from pathlib import Path
from typing import Iterator

from rag.config import Settings
from rag.errors import ModelMissingError
from rag.models import generator_path


class LlamaCppGenerator:
    def __init__(self, model_path: Path, context_tokens: int = 4096, threads: int = 0):
        try:
            from llama_cpp import Llama
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter
        except ImportError:
            raise ModelMissingError("llama-cpp-python is not installed: `pip install llama-cpp-python`") from None
        try:
            self.llm = Llama(
                model_path=str(model_path), n_ctx=context_tokens, n_threads=threads or os.cpu_count(),
                # Prompt reading decides the wait on a CPU. Measured on 2 cores with the 1.5B
                # model: 128-token micro-batches read a 464-token prompt at ~150 tokens/s, the
                # default 512 at ~132 (eval/benchmark.py shows the current rate).
                n_ubatch=128, verbose=False,
            )
        except ValueError as exc:  # llama.cpp reports an unreadable file as ValueError
            raise ModelMissingError(f"llama.cpp cannot load {model_path}: {exc}") from None
        # Format the chat ourselves with the model's own template (as create_chat_completion
        # would) so that we know the exact prompt and its token count.
        eos = self.llm._model.token_get_text(self.llm.token_eos())
        self.formatter = Jinja2ChatFormatter(
            template=self.llm.metadata["tokenizer.chat_template"], eos_token=eos, bos_token="",
        )
        self.last_prompt_tokens = self.last_new_prompt_tokens = self.last_completion_tokens = 0
        # One llama.cpp context cannot serve two requests at once (e.g. two browser sessions).
        self.lock = threading.Lock()

    def stream(self, messages: list[dict], max_tokens: int) -> Iterator[str]:
        formatted = self.formatter(messages=messages)
        with self.lock:
            tokens = self.llm.tokenize(formatted.prompt.encode("utf-8"), special=True)
            self.last_prompt_tokens = len(tokens)
            # The runtime keeps the previous prompt's KV cache and reuses the shared prefix (the
            # fixed system prompt), so only the new part of each prompt is evaluated; as
            # llama-cpp-python does, a prompt cached whole has its last token evaluated again.
            cached = min(self.llm.longest_token_prefix(self.llm._input_ids.tolist(), tokens), len(tokens) - 1)
            self.last_new_prompt_tokens = len(tokens) - cached
            self.last_completion_tokens = 0
            for part in self.llm.create_completion(
                formatted.prompt, max_tokens=max_tokens, temperature=0.0, stop=formatted.stop, stream=True,
            ):
                self.last_completion_tokens += 1
                text = part["choices"][0]["text"]
                if text:
                    yield text


class TransformersGenerator:
    def __init__(self, model_path: Path, threads: int = 0):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if threads:
            torch.set_num_threads(threads)
        path = Path(model_path)
        # A .gguf file is read with transformers' gguf_file (needs the `gguf` package).
        folder, gguf = (str(path.parent), path.name) if path.suffix == ".gguf" else (str(path), None)
        self.tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=gguf, local_files_only=True)
        self.model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=gguf, local_files_only=True)
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self.model.to(self.device).eval()
        self.last_prompt_tokens = self.last_new_prompt_tokens = self.last_completion_tokens = 0
        self.lock = threading.Lock()

    def stream(self, messages: list[dict], max_tokens: int) -> Iterator[str]:
        from transformers import TextIteratorStreamer

        inputs = self.tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
        ).to(self.device)
        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
        with self.lock:
            # No cache between calls: every prompt token is read again.
            self.last_prompt_tokens = self.last_new_prompt_tokens = int(inputs["input_ids"].shape[1])
            self.last_completion_tokens = 0
            worker = threading.Thread(
                target=self.model.generate,
                kwargs=dict(**inputs, max_new_tokens=max_tokens, do_sample=False, streamer=streamer),
            )
            worker.start()
            for text in streamer:
                self.last_completion_tokens += 1
                if text:
                    yield text
            worker.join()


def load_generator(settings: Settings):
    return _load(settings.backend, str(generator_path(settings.generator, settings.models_dir)),
                 settings.context_tokens, settings.threads)


@lru_cache(maxsize=1)  # one model in memory at a time: a second would double the RAM
def _load(backend: str, path: str, context_tokens: int, threads: int):
    if backend == "transformers":
        return TransformersGenerator(Path(path), threads)
    return LlamaCppGenerator(Path(path), context_tokens, threads)
