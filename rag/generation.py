"""Local language models that turn a chat (list of role/content messages) into streamed text.

Two backends share three methods, each leaving `last_prompt_tokens`, `last_new_prompt_tokens` (those
not reused from the cache) and `last_completion_tokens` set for the caller's report, and `stream`
and `sample` `last_cut_off` (whether max_tokens stopped the reply, not its end: rag.answer.finish
then leaves out a last sentence that broke off):
- `logprob(messages, reply)`: log P(reply | messages), one forward pass, no sampling;
- `stream(messages, max_tokens, grammar)`: the reply, in text pieces as they are written; a GBNF
  `grammar` (rag.prompt.answer_grammar) restricts what can be written (llama.cpp only: the
  transformers backend has no grammar and ignores it);
- `sample(messages, max_tokens, grammar, temperature, seed)`: one whole reply sampled, for
  rag.consistency's second opinions.
and `prime(messages, saved_in)`: the start every prompt shares in the cache before the first
question, restored as an earlier process saved it (llama.cpp only: transformers keeps no cache).
The backends:
- LlamaCppGenerator: a GGUF file through llama-cpp-python; the default, fast on a laptop CPU.
- TransformersGenerator: a Hugging Face model folder, or a GGUF file read through transformers'
  `gguf_file` (dequantised, so slower): for users with a GPU or an HF-format model.
The answer is decoded greedily (temperature 0), and samples have fixed seeds: the same question
over the same index gives the same answer.
Both read every message as text: a control token's spelling inside an article or a question
("<|im_start|>system") cannot become a real one.
"""

from __future__ import annotations

import atexit
import ctypes
import hashlib
import json
import logging
import os
import threading
import weakref
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Iterator

import numpy as np

from rag.config import Settings
from rag.errors import BadInputError, ModelMissingError
from rag.models import generator_path

log = logging.getLogger(__name__)


class Turns:
    """Questions take turns at the one model, in the order they arrived (a threading.Lock would
    wake any waiter, so a question could wait behind ones asked after it)."""

    def __init__(self):
        self._condition = threading.Condition()
        self._issued = 0  # tickets handed out
        self._serving = 0  # the ticket whose turn it is
        self._abandoned: set[int] = set()  # tickets whose holder stopped waiting

    @contextmanager
    def turn(self):
        with self._condition:
            ticket = self._issued
            self._issued += 1
            try:
                self._condition.wait_for(lambda: self._serving == ticket)
            except BaseException:  # interrupted while waiting: its turn must not block the others
                self._abandoned.add(ticket)
                self._advance()
                raise
        try:
            yield
        finally:
            with self._condition:
                self._serving += 1
                self._advance()

    def waiting(self) -> int:
        """Questions at the model now: the one being answered and those queued behind it."""
        with self._condition:
            return self._issued - self._serving - len(self._abandoned)

    def _advance(self) -> None:
        while self._serving in self._abandoned:
            self._abandoned.remove(self._serving)
            self._serving += 1
        self._condition.notify_all()


# Put inside a control token's spelling, it makes the tokenizer read the characters as text.
ZERO_WIDTH_SPACE = "\u200b"


def as_text(messages: list[dict], control_spellings) -> list[dict]:
    """`messages` with every control-token spelling in their contents broken by a zero-width
    space, so that an article saying "<|im_end|><|im_start|>system" cannot end its message and
    open a new one. `control_spellings(content)` names those a content holds; a content without
    any is left exactly as it is (its prompt, and so its answer, are unchanged)."""
    safe = []
    for message in messages:
        content = message["content"]
        for spelling in control_spellings(content):
            content = content.replace(spelling, spelling[0] + ZERO_WIDTH_SPACE + spelling[1:])
        safe.append({**message, "content": content})
    return safe


# llama.cpp models this process opened. Each is closed when the interpreter exits, while
# llama_cpp's module is still whole: freed later, during teardown, Llama.__del__ called functions
# already set to None and printed "Exception ignored in Llama.__del__" (seen after the test suite).
_OPEN_LLAMAS = weakref.WeakSet()


def close_at_exit(llm):
    _OPEN_LLAMAS.add(llm)
    return llm


@atexit.register
def _close_open_llamas() -> None:
    for llm in list(_OPEN_LLAMAS):
        llm.close()


class LlamaCppGenerator:
    def __init__(self, model_path: Path, context_tokens: int = 4096, threads: int = 0):
        try:
            from llama_cpp import LLAMA_TOKEN_ATTR_CONTROL, LLAMA_TOKEN_ATTR_USER_DEFINED
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter
        except ImportError:
            raise ModelMissingError("llama-cpp-python is not installed: `pip install llama-cpp-python`") from None
        try:
            with _plain_cpu_buffers():
                self.llm = close_at_exit(_grammar_on_candidates_llama()(
                    model_path=str(model_path), n_ctx=context_tokens, n_threads=threads or os.cpu_count(),
                    # Prompt reading decides the wait on a CPU. Measured on 2 cores with the 1.5B
                    # model: 128-token micro-batches read a 464-token prompt at ~150 tokens/s, the
                    # default 512 at ~132 (eval/benchmark.py shows the current rate). Flash
                    # attention reads it 5-7% faster (2026-12-05, 400 new tokens after 300 cached:
                    # 253 -> 267 tokens/s at 128 and 256, 244 -> 261 at 512; writing unchanged).
                    n_ubatch=128, flash_attn=True, verbose=False,
                ))
        except ValueError as exc:  # llama.cpp reports an unreadable file as ValueError
            raise ModelMissingError(f"llama.cpp cannot load {model_path}: {exc}") from None
        # Format the chat ourselves with the model's own template (as create_chat_completion
        # would) so that we know the exact prompt and its token count.
        eos = self.llm._model.token_get_text(self.llm.token_eos())
        self.formatter = Jinja2ChatFormatter(
            template=self.llm.metadata["tokenizer.chat_template"], eos_token=eos, bos_token="",
        )
        # Tokens that are not text: control tokens ("<|im_start|>") and user-defined ones
        # ("<tool_call>"), which llama.cpp parses even with special=False.
        self.not_text = LLAMA_TOKEN_ATTR_CONTROL | LLAMA_TOKEN_ATTR_USER_DEFINED
        self.last_prompt_tokens = self.last_new_prompt_tokens = self.last_completion_tokens = 0
        self.last_cut_off = False
        self.instructions: list[int] | None = None  # the tokens every prompt starts with, once `prime` saw them
        # One llama.cpp context cannot serve two requests at once (e.g. two browser sessions);
        # two contexts on 2 cores would each run many times slower.
        self.turns = Turns()

    def prompt(self, messages: list[dict]) -> tuple[list[int], list[str]]:
        """The prompt's tokens and the stop strings, with the messages' contents read as text."""
        formatted = self.formatter(messages=as_text(messages, self._control_spellings))
        # special=True parses the template's own control tokens; as_text left none in the contents.
        tokens = self.llm.tokenize(formatted.prompt.encode("utf-8"), special=True)
        # Checked here, for the decline's scoring and the answer alike: a prompt longer than the
        # context (top_k = 50 of long passages, or a small context_tokens) failed inside llama.cpp
        # (the scoring's decode, or the answer's "Requested tokens exceed context window"), an
        # internal error that named no setting to change.
        if len(tokens) >= self.llm.n_ctx():
            raise BadInputError(f"the prompt is {len(tokens)} tokens, more than context_tokens ({self.llm.n_ctx()}) "
                                "holds: raise context_tokens or show fewer passages (top_k)")
        return tokens, formatted.stop

    @staticmethod
    @lru_cache(maxsize=16)  # one per number of passages shown
    def _grammar(text: str):
        from llama_cpp import LlamaGrammar

        return LlamaGrammar.from_string(text, verbose=False)

    def _control_spellings(self, content: str) -> set[str]:
        tokens = set(self.llm.tokenize(content.encode("utf-8"), add_bos=False, special=True))
        return {self.llm._model.token_get_text(t) for t in tokens if self.llm._model.token_get_attr(t) & self.not_text}

    def _count_prompt(self, tokens: list[int]) -> int:
        """Record the prompt's size and the tokens new to the cache; return where evaluation starts.

        The runtime keeps the previous prompt's KV cache and reuses the shared prefix (the fixed
        system prompt, or the whole prompt after `logprob`), so only the rest is evaluated. As
        llama-cpp-python does, a prompt cached whole has its last token evaluated again; that token
        was read before and is not counted as new (counted, the answer after `logprob` made a
        cold cache report 832 new tokens of an 831-token prompt)."""
        shared = self.llm.longest_token_prefix(self.llm._input_ids.tolist(), tokens)
        if shared < len(tokens):  # another prompt: only the parts every prompt is read in
            shared = max(mark for mark in (0, *self._parts(tokens)[:-1]) if mark <= shared)
        self.last_prompt_tokens, self.last_new_prompt_tokens = len(tokens), len(tokens) - shared
        self.last_completion_tokens = 0
        return min(shared, len(tokens) - 1)

    def _parts(self, tokens: list[int]) -> list[int]:
        """Where the parts a prompt is read in end: the instructions' whole micro-batches (as
        `prime` keeps them), the rest of the instructions, then micro-batches from there (llama.cpp
        reads an evaluation in micro-batches from its start); or, before any `prime`, micro-batches
        from the prompt's start. Each part is read from its start, never from inside it.

        In floating point a token's numbers depend on the batch it is read in. Reusing whatever
        start a prompt shares with the one before (the instructions, and the first passage's
        title when both show the same article) made an answer depend on the question asked before
        it: over the BBC archive "When will the Hitchhiker's Guide film be released?" was answered
        "in May" as the tenth question of a process and "in South Korea on 24 December, and France
        on 12 January" as the first (2026-12-06). Read in the same parts, a prompt scores bit for
        bit the same whatever came before. What it costs: a prompt that starts as the one before did
        (the same first article) reuses that start only by whole micro-batches: on the test split,
        where most questions' first passage is one of five articles, the median of new prompt tokens
        went from 392 to 432 (mean 362 to 385); on the SQuAD sample, asked paragraph by paragraph,
        from 250 to 262 (mean 268 to 287). Reused only up to the instructions' end, 432 and 278:
        both runs gave every answer and decline score bit for bit the same (2026-12-06)."""
        batch = self.llm.context_params.n_ubatch
        if self.instructions is None:
            return [*range(batch, len(tokens), batch), len(tokens)]
        fixed = self.llm.longest_token_prefix(self.instructions, tokens)
        return [fixed - fixed % batch, *range(fixed, len(tokens), batch), len(tokens)]

    def prime(self, messages: list[dict], saved_in: Path) -> None:
        """Have the prompt `messages` (the part every prompt starts with: the instructions and the
        worked example) in an empty cache, so that the first question reads only the rest: restored
        from the folder `saved_in`, where an earlier process saved it, else read and saved there.
        Once the cache holds any prompt it holds the instructions, and there is nothing to do.

        Restoring beats reading in a fresh process (`rag ask`, a script's first `ask()`): the 256
        tokens took 1.83 s to read on 2 cores and 5 ms to restore (7.3 MB); a one-shot `rag ask`
        over the seed index took 11.3-11.5 s instead of 12.3-13.1, the same answer (2026-12-05)."""
        if self.llm.n_tokens and self.instructions is not None:  # every later question passes here
            return
        tokens, _ = self.prompt(messages)
        self.instructions = tokens
        # Whole micro-batches only. A prompt read whole is read n_ubatch tokens at a time, and in
        # floating point a token's numbers depend on the batch it shares: read apart, the whole
        # 307 tokens left logits up to 0.49 off those of the same prompt read whole, and 3 of the
        # test split's 40 answers changed. Its first 256 leave them bit for bit the same, so an
        # answer is the same whether the instructions were primed, restored or read with it.
        batch = self.llm.context_params.n_ubatch
        tokens = tokens[:len(tokens) // batch * batch]
        with self.turns.turn():
            if self.llm.n_tokens or not tokens:  # a question got its turn first
                return
            saved = saved_in / f"prefix-{Path(self.llm.model_path).stem}-{self._state_key(tokens)}.kv"
            if not self._restore(saved, tokens):
                self._read(tokens)
                self._save(saved, tokens)

    def _state_key(self, tokens: list[int]) -> str:
        """What a saved prefix's state depends on: the tokens, the model file, the runtime and the
        context's settings (another of any of them computes other numbers, so another file)."""
        import llama_cpp

        model = Path(self.llm.model_path).stat()
        described = [llama_cpp.__version__, str(Path(self.llm.model_path).resolve()), model.st_size,
                     model.st_mtime_ns, self.llm.n_ctx(), self.llm.n_batch, self.llm.context_params.n_ubatch,
                     self.llm.n_threads, tokens]
        return hashlib.sha256(json.dumps(described).encode()).hexdigest()[:16]

    def _restore(self, saved: Path, tokens: list[int]) -> bool:
        import llama_cpp

        if not saved.is_file():
            return False
        self.llm._ctx.kv_cache_seq_rm(-1, 0, -1)  # no cell of an earlier prompt stays beside the restored ones
        read = (llama_cpp.llama_token * len(tokens))()
        count = ctypes.c_size_t(0)
        loaded = llama_cpp.llama_state_seq_load_file(self.llm._ctx.ctx, str(saved).encode(), 0, read, len(tokens),
                                                     ctypes.byref(count))
        if not loaded or list(read[:count.value]) != tokens:  # unreadable, or not this prefix after all
            log.warning("the saved prompt state %s could not be restored; reading the prompt instead", saved)
            return False
        self.llm.input_ids[:len(tokens)] = tokens
        self.llm.n_tokens = len(tokens)
        return True

    def _save(self, saved: Path, tokens: list[int]) -> None:
        """Write the cached prefix's state to `saved` (whole or not at all), the same model's older
        ones removed; a folder that cannot be written only costs the next process the reading."""
        import llama_cpp

        partial = saved.with_suffix(f".{os.getpid()}.partial")  # two processes may save at once
        try:
            saved.parent.mkdir(parents=True, exist_ok=True)
            written = llama_cpp.llama_state_seq_save_file(self.llm._ctx.ctx, str(partial).encode(), 0,
                                                          (llama_cpp.llama_token * len(tokens))(*tokens), len(tokens))
            if not written:
                raise OSError("llama.cpp wrote nothing")
            partial.replace(saved)
            for older in saved.parent.glob(f"prefix-{Path(self.llm.model_path).stem}-*.kv"):
                if older != saved:
                    older.unlink(missing_ok=True)
        except OSError as exc:
            partial.unlink(missing_ok=True)
            log.warning("the prompt's state was not saved in %s (%s): the next process reads it again",
                        saved.parent, exc)

    def _read(self, tokens: list[int]) -> None:
        """Have `tokens` read into the cache, part by part (_parts) from the first not cached."""
        self.llm.n_tokens = start = self._count_prompt(tokens)
        for end in self._parts(tokens):
            if end > start:
                self.llm.eval(tokens[start:end])
                start = end

    def _have_read(self, tokens: list[int]) -> None:
        """The prompt `tokens` in the cache, read as _read reads it when it is not there whole (a
        completion then reads its last token again, as llama-cpp-python does with a cached prompt)."""
        if self.llm.longest_token_prefix(self.llm._input_ids.tolist(), tokens) < len(tokens):
            self._read(tokens)
        else:
            self._count_prompt(tokens)

    def logprob(self, messages: list[dict], reply: str) -> float:
        """log P(reply | messages): the prompt is read (and stays cached for `stream`), then the
        reply's tokens are fed one by one and the log-probability of each is summed."""
        tokens, _ = self.prompt(messages)
        following = self.llm.tokenize(reply.encode("utf-8"), add_bos=False, special=False)
        with self.turns.turn():
            self._read(tokens)
            total = 0.0
            for k, token in enumerate(following):
                logits = np.ctypeslib.as_array(self.llm._ctx.get_logits(), shape=(self.llm.n_vocab(),))
                total += float(logits[token] - _logsumexp(logits))
                if k + 1 < len(following):
                    self.llm.eval([token])
            return total

    def sample(self, messages: list[dict], max_tokens: int, grammar: str | None, temperature: float, seed: int) -> str:
        """One reply sampled at `temperature` (llama-cpp-python's top-k/top-p chain), the same for
        the same `seed`; the prompt is the one `stream` just read, so only the reply costs time."""
        tokens, stop = self.prompt(messages)
        with self.turns.turn():
            self._have_read(tokens)
            reply = self.llm.create_completion(tokens, max_tokens=max_tokens, temperature=temperature, seed=seed,
                                               stop=stop, grammar=self._grammar(grammar) if grammar else None)
            self.last_completion_tokens = reply["usage"]["completion_tokens"]
            self.last_cut_off = reply["choices"][0]["finish_reason"] == "length"
            return reply["choices"][0]["text"]

    def stream(self, messages: list[dict], max_tokens: int, grammar: str | None = None,
               opening: str = "") -> Iterator[str]:
        """The reply, piece by piece, greedy. `opening`: the reply is made to start with it (it is
        read after the prompt, not yielded) and the model writes on from there."""
        tokens, stop = self.prompt(messages)
        if opening:
            tokens += self.llm.tokenize(opening.encode("utf-8"), add_bos=False, special=False)
        with self.turns.turn():
            self._have_read(tokens)
            for part in self.llm.create_completion(
                tokens, max_tokens=max_tokens, temperature=0.0, stop=stop, stream=True,
                grammar=self._grammar(grammar) if grammar else None,
            ):
                finish_reason = part["choices"][0]["finish_reason"]
                # A part per token, then a last one with no text that says why the reply ended
                # (counted too, every answer was a token longer than it was: 11 for a 10-token reply).
                self.last_completion_tokens += finish_reason is None
                self.last_cut_off = finish_reason == "length"
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
        self.last_cut_off = False
        self.turns = Turns()

    def _inputs(self, messages: list[dict]):
        spellings = {t.content for t in self.tokenizer.added_tokens_decoder.values()}
        return self.tokenizer.apply_chat_template(
            as_text(messages, lambda content: {s for s in spellings if s in content}),
            add_generation_prompt=True, return_tensors="pt", return_dict=True,
        ).to(self.device)

    def prime(self, messages: list[dict], saved_in: Path) -> None:
        """Nothing to do: this backend keeps no cache between calls, every prompt is read whole."""

    def logprob(self, messages: list[dict], reply: str) -> float:
        import torch

        prompt = self._inputs(messages)["input_ids"]
        following = self.tokenizer(reply, add_special_tokens=False, return_tensors="pt")["input_ids"].to(self.device)
        with self.turns.turn(), torch.no_grad():
            self.last_prompt_tokens = self.last_new_prompt_tokens = int(prompt.shape[1])
            self.last_completion_tokens = 0
            logits = self.model(torch.cat([prompt, following], dim=1)).logits[0, prompt.shape[1] - 1:-1]
            return float(torch.log_softmax(logits.float(), dim=-1).gather(1, following[0, :, None]).sum())

    def sample(self, messages: list[dict], max_tokens: int, grammar: str | None, temperature: float, seed: int) -> str:
        import torch

        inputs = self._inputs(messages)
        with self.turns.turn(), torch.no_grad():
            torch.manual_seed(seed)
            self.last_prompt_tokens = self.last_new_prompt_tokens = int(inputs["input_ids"].shape[1])
            out = self.model.generate(**inputs, max_new_tokens=max_tokens, do_sample=True, temperature=temperature,
                                      top_k=40, top_p=0.95)
            reply = out[0, inputs["input_ids"].shape[1]:]
            self.last_completion_tokens = int(reply.shape[0])
            self.last_cut_off = self._cut_off(reply, max_tokens)
            return self.tokenizer.decode(reply, skip_special_tokens=True)

    def stream(self, messages: list[dict], max_tokens: int, grammar: str | None = None,
               opening: str = "") -> Iterator[str]:
        import torch
        from transformers import TextIteratorStreamer

        inputs = self._inputs(messages)
        if opening:
            following = self.tokenizer(opening, add_special_tokens=False, return_tensors="pt")["input_ids"]
            inputs["input_ids"] = torch.cat([inputs["input_ids"], following.to(self.device)], dim=1)
            inputs["attention_mask"] = torch.ones_like(inputs["input_ids"])
        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
        with self.turns.turn():
            # No cache between calls: every prompt token is read again.
            self.last_prompt_tokens = self.last_new_prompt_tokens = int(inputs["input_ids"].shape[1])
            self.last_completion_tokens = 0
            worker = threading.Thread(
                target=self.model.generate,
                kwargs=dict(**inputs, max_new_tokens=max_tokens, do_sample=False, streamer=streamer),
            )
            worker.start()
            pieces = []
            for text in streamer:
                if text:
                    pieces.append(text)
                    yield text
            worker.join()
            # The streamer yields words, not tokens: the reply's tokens are counted from its text.
            reply = self.tokenizer("".join(pieces), add_special_tokens=False)["input_ids"]
            self.last_completion_tokens = len(reply)
            self.last_cut_off = self._cut_off(reply, max_tokens)

    def _cut_off(self, reply, max_tokens: int) -> bool:
        """Whether generate stopped `reply` (its new tokens) at max_tokens rather than at its end."""
        return len(reply) >= max_tokens and int(reply[-1]) != self.tokenizer.eos_token_id


# A grammar checks each candidate token against what may follow. llama-cpp-python checks the
# whole vocabulary (151,936 tokens for Qwen2.5) at every step: measured here, 105 ms a token
# instead of 66 without a grammar. Greedy decoding only needs the best allowed token, so only the
# best candidates are checked: 74 ms a token, the same answers (5 seed questions, 2026-11-23;
# eval/benchmark.py prints the generation rate, RAG_CITATION_GRAMMAR=false without the grammar).
# A second opinion's samples the same way: 92 ms a token instead of 127, and for the same seeds
# the same 75 replies as llama-cpp-python's own chain (25 seed dev questions, 2026-12-05).
# 1,000 leaves room: only the few tokens holding a bracket or a parenthesis are ever disallowed.
GRAMMAR_CANDIDATES = 1000


@contextmanager
def _plain_cpu_buffers():
    """While a model loads, llama.cpp keeps its weights as the file has them, not in the "extra"
    CPU buffer types it would repack them into (AMX tiles on an Intel CPU that has them, or
    interleaved blocks for AVX2/AVX-512 kernels). llama-cpp-python compiles for the CPU it is
    built on and offers no argument for this (llama.cpp's `use_extra_bufts`), so the defaults it
    reads are changed for the load.
    Why: on a 2-core Xeon VM reporting AMX (2026-12-05) the first prompt crashed the process
    inside ggml_backend_amx_mul_mat (a segmentation fault: `rag ask`, the UI and every test with
    the model). Built without AMX, the repacked weights read a 600-token prompt at 130 tokens/s
    and wrote 15 tokens/s; as the file has them, 175 and 12: answers are mostly prompt (reading
    it takes two thirds of generation time there, eval/benchmark.py), so they come no slower."""
    import llama_cpp.llama_cpp as native

    defaults = native.llama_model_default_params

    def plain():
        params = defaults()
        params.use_extra_bufts = False
        return params

    native.llama_model_default_params = plain
    try:
        yield
    finally:
        native.llama_model_default_params = defaults


@lru_cache(maxsize=1)
def _grammar_on_candidates_llama():
    """llama_cpp.Llama whose sampling with a grammar checks only the GRAMMAR_CANDIDATES most likely
    tokens against it, then goes on as llama-cpp-python's own chain would: greedy, or (a sample)
    top-k, typical, top-p, min-p, temperature, a draw. Any other sampling (penalties, mirostat, a
    logits processor) is llama-cpp-python's own."""
    from llama_cpp import Llama
    from llama_cpp._internals import LlamaSampler

    class GrammarOnCandidatesLlama(Llama):
        def _init_sampler(self, **options):
            if (options.get("grammar") is None or options["temp"] < 0.0 or options["mirostat_mode"]
                    or options["logits_processor"] is not None or options["repeat_penalty"] != 1.0
                    or options["frequency_penalty"] or options["presence_penalty"]):
                return super()._init_sampler(**options)
            sampler = LlamaSampler()
            sampler.add_top_k(GRAMMAR_CANDIDATES)
            sampler.add_grammar(self._model, options["grammar"])
            if options["temp"] == 0.0:
                sampler.add_greedy()
                return sampler
            # The grammar leaves the disallowed candidates in place at -inf and the array marked
            # sorted; marked so, top-k would keep the first 40 of them allowed or not and top-p's
            # softmax would take a disallowed token's -inf for the largest logit (a disallowed
            # token was then drawn, and llama.cpp aborted the process). Unmarked, they are sorted
            # again and the chain goes on as llama-cpp-python's own.
            sampler.add_custom(_unsorted)
            sampler.add_top_k(options["top_k"])
            sampler.add_typical(options["typical_p"], 1)
            sampler.add_top_p(options["top_p"], 1)
            sampler.add_min_p(options["min_p"], 1)
            sampler.add_temp(options["temp"])
            sampler.add_dist(self._seed)
            return sampler

    def _unsorted(candidates) -> None:
        candidates.contents.sorted = False

    return GrammarOnCandidatesLlama


def _logsumexp(values: np.ndarray) -> float:
    top = float(values.max())
    return top + float(np.log(np.exp(values - top).sum()))


# Loading is single-flight: callers that ask at once wait for the one model being loaded rather
# than each building their own (four threads once built four 1.5B contexts that fought over 2 cores).
_LOADING = threading.Lock()


def load_generator(settings: Settings):
    path = str(generator_path(settings.generator, settings.models_dir))
    with _LOADING:
        return _load(settings.backend, path, settings.context_tokens, settings.threads)


@lru_cache(maxsize=1)  # one model in memory at a time: a second would double the RAM
def _load(backend: str, path: str, context_tokens: int, threads: int):
    if backend == "transformers":
        return TransformersGenerator(Path(path), threads)
    return LlamaCppGenerator(Path(path), context_tokens, threads)
