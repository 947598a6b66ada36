"""`rag`: a thin command line over the library; each command calls one public function.

Exit codes: 0 success, 2 bad usage or input (including a missing index or model: the message
says which command fixes it), 1 internal failure.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import traceback
from dataclasses import asdict
from pathlib import Path

from rag.config import LOGIN_VARIABLE, PROJECT_DIR, Settings, load_settings
from rag.errors import BadInputError, IncompleteAnswerError, RagError
from rag.loading import (ARTICLE_SUFFIXES, BOOK_SUFFIXES, DUMP_SUFFIXES, FEED_SUFFIXES, MAILBOX_SUFFIXES,
                         NOTES_SUFFIXES)
from rag.schema import Answer, Checking, Correcting, IndexInfo, Retrieved
from rag.scope import Scope

DEFAULT_EVAL_SET = PROJECT_DIR / "eval" / "questions.jsonl"
DEFAULT_EVAL_REPORT = PROJECT_DIR / "eval" / "reports" / "latest.json"
SEED_ARTICLES = PROJECT_DIR / "seeds"  # what the default question set asks about


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s: %(message)s")
    try:
        settings = load_settings(args.config, index_dir=args.index_dir, generator=args.generator,
                                 backend=args.backend, top_k=getattr(args, "top_k", None))
        return args.command(args, settings) or 0
    except RagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader stopped reading (`rag articles | head`): not a failure
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing left to flush at exit
        return 0
    except Exception as exc:  # the edge of the program: one line, the traceback only with -v
        if args.verbose:
            traceback.print_exc()
        print(f"internal error: {type(exc).__name__}: {exc}" + ("" if args.verbose else " (run with -v for details)"),
              file=sys.stderr)
        return 1


_EXAMPLES = """examples:
  rag index library                 # index (or sync) the articles in library/
  rag index library --dry-run       # what a sync would change, and the index's size
  rag articles gazprom              # the indexed articles that name it (title, text, file, outlet, author)
  rag ask "What came out of the May 2025 Istanbul talks?"
  rag search "prisoner exchange"    # the passages that match, without the model
  rag chat                          # a conversation in the terminal
  rag ui                            # the web app on http://127.0.0.1:7860
  rag serve                         # an OpenAI-compatible API (and the web app) on http://127.0.0.1:8000
  rag mcp                           # the library as tools for an MCP assistant, over stdio
  rag eval --split test             # the evaluation that is reported

`rag COMMAND --help` for a command's options. Exit codes: 0 success, 2 bad usage or input (the
message names the command that fixes it), 1 internal failure."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rag", description="Cited answers from a folder of news articles, offline.",
                                     epilog=_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    parser.add_argument("--config", help="settings file (TOML); default ./rag.toml or $RAG_CONFIG")
    parser.add_argument("--index-dir", type=Path, help="index folder (default: the project's index/)")
    parser.add_argument("--generator", help="generator model name or path to a .gguf / model folder")
    parser.add_argument("--backend", choices=["llama_cpp", "transformers"], help="generator runtime")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress and show tracebacks")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    # Listed with spaces between: the help wraps its lines at spaces only, and split ".htm" in two.
    index = commands.add_parser("index", help=f"index the articles in DIR ({' '.join(ARTICLE_SUFFIXES)} files, "
                                f"{' '.join(DUMP_SUFFIXES)} dumps, {' '.join(FEED_SUFFIXES)} feeds, "
                                f"{' '.join(NOTES_SUFFIXES)} Evernote notebooks, {' '.join(MAILBOX_SUFFIXES)} "
                                f"mailboxes, {' '.join(BOOK_SUFFIXES)} books such as calibre's news): new and "
                                "changed files are read and embedded, deleted ones removed, unchanged ones left alone",
                                epilog="examples:\n  rag index library\n  rag --index-dir /data/index index /data/news "
                                "--ray auto\n  rag index library --dry-run --json\n  rag index library --watch",
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    index.add_argument("source_dir", type=Path)
    index.add_argument("--ray", metavar="ADDRESS",
                       help="embed on a Ray cluster: 'auto' (a running one, else a local one) or its address")
    index.add_argument("--dry-run", action="store_true",
                       help="say what a sync would add, change and remove, and how big the index is; change nothing")
    index.add_argument("--json", action="store_true", help="print the result (or the dry run) as JSON")
    _watch_option(index, "keep watching DIR and sync again whenever its files change, looking every SECONDS (60 "
                         "unless given) until stopped (Ctrl-C); with --json, one line of JSON a sync")
    index.set_defaults(command=_index)

    articles = commands.add_parser("articles", help="list the indexed articles, or those a search finds",
                                   epilog="examples:\n  rag articles\n  rag articles cod quota --limit 20\n"
                                   "  rag articles 2005-03 --json\n  rag articles --within business --since 2005",
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    articles.add_argument("words", nargs="*", help="words the title, file name, outlet, author or dates, or a "
                                                   "passage, must all hold (any case); none: every article")
    articles.add_argument("--limit", type=_positive, default=50, help="articles shown at most (default 50)")
    articles.add_argument("--json", action="store_true", help="print the articles found and their count as JSON")
    _scope_options(articles)
    articles.set_defaults(command=_articles)

    ask = commands.add_parser("ask", help="answer one question with citations")
    ask.add_argument("question")
    ask.add_argument("--top-k", type=int, help="passages shown to the model")
    printed = ask.add_mutually_exclusive_group()
    printed.add_argument("--json", action="store_true", help="print the whole Answer as JSON")
    printed.add_argument("--markdown", action="store_true",
                         help="print the answer as Markdown, its sources as references, to paste into notes")
    _scope_options(ask)
    ask.set_defaults(command=_ask)

    search = commands.add_parser("search", help="the passages that best match a question or words, without the "
                                 "language model (a tenth of a second each once loaded)",
                                 epilog='examples:\n  rag search "Istanbul talks prisoner exchange"\n'
                                 '  rag search "Who led the Ukrainian delegation?" --limit 3 --json\n'
                                 '  rag search "merger" --within business --since 2005-01',
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    search.add_argument("query")
    search.add_argument("--limit", type=_positive, default=10, help="passages shown at most (default 10, up to 50)")
    search.add_argument("--json", action="store_true", help="print the passages as JSON (each as an answer's citation)")
    _scope_options(search)
    search.set_defaults(command=_search)

    chat = commands.add_parser("chat", help="a conversation in the terminal (follow-ups work)")
    chat.add_argument("--top-k", type=int)
    _scope_options(chat)
    chat.set_defaults(command=_chat)

    ui = commands.add_parser("ui", help="serve the chat web UI")
    ui.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback only)")
    ui.add_argument("--port", type=port, default=7860)
    ui.add_argument("--share", action="store_true",
                    help="also open a public Gradio share link (needs --auth, or --no-auth)")
    login = ui.add_mutually_exclusive_group()
    login.add_argument("--auth", metavar="USER:PASSWORD",
                       help="require this login (default: $RAG_UI_AUTH); needed for a non-loopback --host")
    login.add_argument("--no-auth", action="store_true",
                       help="serve a non-loopback --host or a share link without a login (trusted networks only)")
    _watch_option(ui, _WATCH_LIBRARY)
    ui.set_defaults(command=_ui)

    serve = commands.add_parser("serve", help="serve an OpenAI-style HTTP API (/v1/chat/completions) and the web UI")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback only)")
    serve.add_argument("--port", type=port, default=8000)
    login = serve.add_mutually_exclusive_group()
    login.add_argument("--auth", metavar="USER:PASSWORD",
                       help="require this login (default: $RAG_UI_AUTH); API clients send it as the API key")
    login.add_argument("--no-auth", action="store_true", help="serve a non-loopback --host without a login")
    _watch_option(serve, _WATCH_LIBRARY)
    serve.set_defaults(command=_serve)

    mcp = commands.add_parser("mcp", help="serve the library as tools for an MCP assistant (LM Studio, Claude Desktop) "
                              "over stdio", epilog='an assistant\'s MCP settings: {"mcpServers": {"news": {"command": '
                              '"/path/to/.venv/bin/rag", "args": ["--index-dir", "/path/to/index", "mcp"]}}}')
    mcp.set_defaults(command=_mcp)

    evaluate = commands.add_parser("eval", help="score answers, retrieval, citations, abstention and speed")
    source = evaluate.add_mutually_exclusive_group()
    source.add_argument("--set", dest="question_set", type=Path, metavar="FILE",
                        help="questions file (default: eval/questions.jsonl)")
    source.add_argument("--squad", type=Path, metavar="FILE",
                        help="a SQuAD v1.1/v2.0 JSON file, its paragraphs indexed apart")
    source.add_argument("--compare", nargs=2, type=Path, metavar=("A.json", "B.json"),
                        help="what improved and what regressed from report A to report B (with --split or "
                             "--kind: in that part only)")
    evaluate.add_argument("--index", dest="eval_index", type=Path, metavar="DIR",
                          help="index folder (default: --index-dir)")
    evaluate.add_argument("--distractors", type=Path, metavar="FILE|DIR",
                          help="ask the question set over a throwaway index of its articles (--articles) and "
                               "every paragraph of this SQuAD file, or every article of this folder (a crowded index); "
                               "with --squad, a folder whose articles are indexed beside its paragraphs")
    evaluate.add_argument("--articles", type=Path, metavar="DIR",
                          help="with --distractors: the folder of the articles the question set asks about "
                               "(default: seeds/)")
    evaluate.add_argument("--limit", type=int, metavar="N",
                          help="only N questions: the first N, or with --squad a sample, half unanswerable "
                               "(default with --squad: 200; 0 for every question)")
    evaluate.add_argument("--seed", type=int, metavar="N", help="seed of the --squad sample (default 0)")
    evaluate.add_argument("--kind", metavar="K", help="only questions of this kind")
    evaluate.add_argument("--split", choices=["dev", "test"],
                          help="only this split of the question set (tune on dev, report test)")
    evaluate.add_argument("--top-k", type=int, help="passages shown to the model")
    evaluate.add_argument("--json", dest="json_out", type=Path, default=DEFAULT_EVAL_REPORT, metavar="OUT",
                          help="where to write the full report (default: eval/reports/latest.json)")
    evaluate.set_defaults(command=_eval)

    models = commands.add_parser("models", help="assemble and verify the model files")
    models.add_argument("action", choices=["install", "status"])
    models.add_argument("--model", help="model to install: a generator name, all-mpnet-base-v2 or "
                                        "nomic-embed-text-v1.5 (default: the configured generator)")
    models.add_argument("--verify", action="store_true",
                        help="with status: re-hash every assembled generator now (exit 2 if one is damaged)")
    models.set_defaults(command=_models)
    return parser


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of 1 or more")
    return int(text)


def _articles(args, settings: Settings) -> int:
    from rag.library import find_articles, how_many

    text, scope = " ".join(args.words), _scope(args)
    found, total = find_articles(text, args.limit, settings=settings, scope=scope)
    if args.json:
        print(json.dumps({"total": total, "articles": [asdict(a) for a in found]}, indent=2,
                         ensure_ascii=False))
        return 0
    for article in found:
        print(f"{article.date() or '-':10}  {article.source}  {article.title}" +
              (f" ({article.outlet})" if article.outlet else ""))
    shown = f"; the first {len(found)} by name are shown (--limit)" if len(found) < total else ""
    among = f" ({scope.described()})" if scope else ""
    print(how_many(total, text) + among + shown, file=sys.stderr)
    return 0


def _index(args, settings: Settings) -> int:
    from rag.pipeline import build_index

    if args.dry_run:
        if args.watch is not None:
            raise BadInputError("--dry-run changes nothing, so there is nothing to watch for: give one of them")
        return _index_plan(args.source_dir, settings, args.json)
    if args.watch is not None:
        return _index_watch(args, settings)
    info = build_index(args.source_dir, settings=settings, ray=args.ray, progress=not args.json)
    if args.json:
        print(json.dumps(asdict(info), ensure_ascii=False, indent=2))
        return 0
    _print_sync(info)
    return 0


def _print_sync(info: IndexInfo, out=None) -> None:
    for skipped in info.skipped:
        print(f"skipped {skipped}", file=sys.stderr)
    print(f"indexed {info.articles} articles as {info.chunks} chunks into {info.index_dir} in {info.seconds:.1f} s "
          f"({info.embedded} read and embedded, {info.removed} removed, the rest unchanged)", file=out or sys.stdout,
          flush=True)


def _index_watch(args, settings: Settings) -> int:
    """rag index DIR --watch: rag.sync.watch, each sync printed as it ends, until Ctrl-C."""
    from rag.pipeline import build_index
    from rag.sync import watch

    every = _watched(args)

    def report(result) -> None:
        if isinstance(result, Exception):
            _report_sync(result)
        elif args.json:
            print(json.dumps(asdict(result), ensure_ascii=False), flush=True)
        else:
            _print_sync(result)

    if not args.json:
        print(f"watching {args.source_dir}: a sync whenever its files change (looking every {every:g} s; "
              "Ctrl-C stops)", file=sys.stderr, flush=True)
    try:
        watch(args.source_dir, lambda: build_index(args.source_dir, settings=settings, ray=args.ray, progress=False),
              every=every, report=report)
    except KeyboardInterrupt:
        print("stopped watching", file=sys.stderr)
    return 0


def _index_plan(source_dir: Path, settings: Settings, as_json: bool) -> int:
    from rag.index import index_size
    from rag.loading import article_files, file_name
    from rag.sync import build_for, dry_run

    listing = article_files(source_dir)  # a missing or empty folder is refused before the model loads
    size = index_size(settings.index_dir)  # and so is a damaged index
    plan = dry_run(source_dir, listing, settings.index_dir, build_for(settings), settings)

    def names(entries: list[tuple[Path, str]]) -> list[str]:
        return [file_name(source_dir, path) for path, _ in entries]

    if as_json:
        print(json.dumps({"add": names(plan.new), "change": names(plan.changed),
                          "remove": plan.removed, "skip": plan.refused, "unchanged": len(plan.unchanged),
                          "keep_unread": plan.kept,
                          "read_again": names(plan.read_again), "index": size}, indent=2))
        return 0
    for word, entries in (("add", plan.new), ("change", plan.changed)):
        for name in names(entries):
            print(f"would {word} {name}")
    for reason in plan.refused:
        print(f"would skip {reason}")
    for name in plan.removed:
        print(f"would remove {name}")
    if plan.read_again:
        print(f"would read {len(plan.read_again)} unchanged files again, read by older rules (how articles are read, "
              "and whether they speak to the assistant), and embed again only articles whose passages or title "
              "change")
    print(f"would add {len(plan.new)}, change {len(plan.changed)}, remove {len(plan.removed)}, skip "
          f"{len(plan.refused)} and leave {len(plan.unchanged) + len(plan.kept)} unchanged; the index at "
          f"{settings.index_dir} holds "
          f"{size['articles']} articles, {size['passages']} passages, {size['bytes'] / 1e6:.1f} MB")
    return 0


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("rag-news")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "(not installed)"


_WATCH_LIBRARY = ("keep the index in sync with its library folder while serving: sync again whenever its files "
                  "change, looking every SECONDS (60 unless given)")


def _watch_option(command: argparse.ArgumentParser, text: str) -> None:
    command.add_argument("--watch", metavar="SECONDS", type=float, nargs="?", const=60.0, help=text)


def _watched(args) -> float | None:
    """--watch's seconds between looks (None when not given); BadInputError unless more than 0."""
    if args.watch is not None and not args.watch > 0:
        raise BadInputError(f"--watch takes the seconds between looks, more than 0, not {args.watch:g}")
    return args.watch


def _report_sync(result) -> None:
    """A sync a watch ran, or the error it met, as `rag index` prints them (to stderr beside an app)."""
    if isinstance(result, Exception):
        print(f"rag: {result} (still watching)", file=sys.stderr, flush=True)
    else:
        _print_sync(result, sys.stderr)


def _scope_options(command: argparse.ArgumentParser) -> None:
    """Options that keep a question to some articles (rag.Scope)."""
    scope = command.add_argument_group("only some articles")
    scope.add_argument("--since", metavar="DATE",
                       help="dated this year, month or day or later (2024, 2024-05, May 2024)")
    scope.add_argument("--until", metavar="DATE", help="dated this year, month or day or earlier (until 2024: "
                                                      "to the end of 2024)")
    scope.add_argument("--within", metavar="FOLDER", help="in this folder or file of the library (business, "
                                                          "2024/05, feeds/world.rss)")
    scope.add_argument("--outlet", help="from an outlet whose name holds these words (BBC: BBC News, bbc.co.uk)")


def _scope(args) -> Scope:
    return Scope(since=args.since, until=args.until, within=args.within, outlet=args.outlet)


def _ask(args, settings: Settings) -> int:
    from rag.pipeline import ask

    scope = _scope(args)
    answer = ask(args.question, settings=settings, scope=scope)
    if args.json:
        print(json.dumps(asdict(answer), ensure_ascii=False, indent=2))
    elif args.markdown:
        from rag.transcript import answer_markdown

        print(answer_markdown(args.question, answer, scope.described() if scope else ""))
    else:
        print(_render(answer))
    return 0


def _search(args, settings: Settings) -> int:
    from rag.pipeline import search

    found = search(args.query, limit=args.limit, settings=settings, scope=_scope(args))
    if args.json:
        print(json.dumps([asdict(c) for c in found], ensure_ascii=False, indent=2))
        return 0
    for c in found:  # each with its sentence that shares most words with the query
        print(f"[{c.n}] {c.score:.2f}  {c.reference()}")
        print("\n".join(f"    “{sentence}”" for sentence in c.highlighted()))
    return 0


def _render(answer: Answer) -> str:
    lines = [answer.text]
    if answer.citations:
        lines.append("")
        for c in answer.citations:  # each with the sentences its claims rest on
            lines.append(f"[{c.n}] {c.reference()}")
            lines += [f"    “{sentence}”" for sentence in c.highlighted()]
    if answer.unsupported:  # as the web app lists them under Sources: what the model claimed beyond them
        lines += ["", f"Left out, no passage supports {'it' if len(answer.unsupported) == 1 else 'them'}: "
                      + " ".join(answer.unsupported)]
    if answer.withdrawn:
        lines += ["", f"Withdrawn ({answer.why_withdrawn}): {' '.join(answer.withdrawn)}"]
    elif answer.why_declined:  # a decline says what made it one: nothing close, the model, the checks...
        lines += ["", f"Why: {answer.why_declined}."]
    return "\n".join(lines)


def _chat(args, settings: Settings) -> int:
    from rag.pipeline import warming_up

    scope = _scope(args)  # refused before the models load, when malformed
    with warming_up(settings):  # while the first question is typed
        return _converse(settings, scope)


def _converse(settings: Settings, scope: Scope) -> int:
    from rag.pipeline import ask_stream, require_answer

    history: list[dict] = []
    print("Ask about the articles; an empty line or Ctrl-D ends the chat.")
    while True:
        try:
            question = input("\n> ").strip()
        except EOFError:
            return 0
        except UnicodeDecodeError:  # a line that is not UTF-8 does not end the conversation
            print("error: that line is not UTF-8 text; type it again", file=sys.stderr)
            continue
        if not question:
            return 0
        try:
            streamed = ""
            asked = ask_stream(question, history=history, settings=settings, scope=scope)
            for item in require_answer(asked, question):
                if isinstance(item, Retrieved):
                    print(f"({len(item.hits)} passages found; reading them…)", file=sys.stderr, flush=True)
                elif isinstance(item, Checking):
                    print(f"\n(checking the answer: the model answers up to {item.samples} times more…)",
                          file=sys.stderr, flush=True)
                elif isinstance(item, Correcting):
                    print("\n(the articles may say otherwise than the question: asking the model once more…)",
                          file=sys.stderr, flush=True)
                elif isinstance(item, Answer):
                    # The streamed words were the model's own; show the checked text if it differs.
                    checked = item.text if item.text != streamed.strip() else ""
                    sources = _render(item).removeprefix(item.text).strip("\n")
                    print("\n\n" + "\n\n".join(filter(None, [checked, sources])))
                    history += [{"role": "user", "content": question}, {"role": "assistant", "content": item.text}]
                else:
                    streamed += item
                    print(item, end="", flush=True)
        except RagError as exc:  # one bad question does not end the conversation
            print(f"error: {exc}", file=sys.stderr)
        except IncompleteAnswerError as exc:  # nor one the core broke off: the words shown were never checked
            print(f"\nerror: {exc}; the words above were not checked against the articles", file=sys.stderr)


def _ui(args, settings: Settings) -> int:
    from rag.library import watching
    from rag.pipeline import warming_up
    from ui.app import serve

    # warming up: so that the first question does not wait for the models
    with warming_up(settings), watching(_watched(args), _report_sync, settings=settings):
        serve(settings, host=args.host, port=args.port, share=args.share, auth=_login(args),
              allow_no_auth=args.no_auth)
    return 0


def _serve(args, settings: Settings) -> int:
    from rag.library import watching
    from rag.pipeline import warming_up
    from rag.server import serve

    # warming up: so that the first question does not wait for the models
    with warming_up(settings), watching(_watched(args), _report_sync, settings=settings):
        serve(settings, host=args.host, port=args.port, auth=_login(args), allow_no_auth=args.no_auth)
    return 0


def _mcp(args, settings: Settings) -> int:
    from rag.mcp_server import serve_stdio

    serve_stdio(settings)
    return 0


def _login(args) -> tuple[str, str] | None:
    """The login `rag ui` and `rag serve` require: --auth, else $RAG_UI_AUTH; none with --no-auth."""
    from ui.app import parse_auth

    if args.no_auth:
        return None
    # The environment keeps the password out of the process list and the shell history.
    return parse_auth(args.auth or os.environ.get(LOGIN_VARIABLE) or None)


def _eval(args, settings: Settings) -> int:
    from rag.evaluation.report import compare_reports, format_comparison, format_summary
    from rag.evaluation.runner import evaluate_set
    from rag.evaluation.squad import SAMPLE_SIZE, evaluate_among_distractors, evaluate_squad

    if args.compare:
        given = [option for option, value in (("--index", args.eval_index), ("--distractors", args.distractors),
                                              ("--articles", args.articles), ("--limit", args.limit),
                                              ("--seed", args.seed), ("--top-k", args.top_k),
                                              ("--json", args.json_out != DEFAULT_EVAL_REPORT)) if value]
        if given:  # they were silently ignored: a comparison that seemed to be of a part was of the whole
            raise BadInputError(f"{', '.join(given)} {'does' if len(given) == 1 else 'do'} not apply to --compare, "
                                "which reads two reports (--split or --kind compares one part of them)")
        print(format_comparison(compare_reports(*args.compare, split=args.split, kind=args.kind)))
        return 0
    if args.seed is not None and not args.squad:
        raise BadInputError("--seed only applies to --squad: the question set's --limit takes the first N")
    if args.distractors and args.eval_index:
        raise BadInputError("--distractors builds its own index of the set's articles: not with --index")
    if args.squad and args.distractors and not args.distractors.is_dir():
        raise BadInputError("with --squad, --distractors is a folder of articles to index beside its paragraphs")
    if args.articles and args.squad:
        raise BadInputError("--articles does not apply to --squad: its paragraphs are the articles")
    if args.articles and not args.distractors:
        raise BadInputError("--articles only applies to --distractors: otherwise the set's articles are the folder "
                            "the index was built from")
    _writable(args.json_out)  # before the run, not after minutes of answers that would be lost
    if args.squad:
        if args.eval_index:
            raise BadInputError("--index does not apply to --squad: its paragraphs get a throwaway index")
        if args.split:
            raise BadInputError("--split does not apply to --squad: a SQuAD file has no dev/test split")
        limit = SAMPLE_SIZE if args.limit is None else args.limit or None
        report = evaluate_squad(args.squad, settings=settings, limit=limit, seed=args.seed or 0, kind=args.kind,
                                distractors=args.distractors)
    elif args.distractors:
        report = evaluate_among_distractors(args.question_set or DEFAULT_EVAL_SET, args.distractors,
                                            args.articles or SEED_ARTICLES, settings=settings, kind=args.kind,
                                            split=args.split, limit=args.limit)
    else:
        report = evaluate_set(args.question_set or DEFAULT_EVAL_SET, settings=settings, index_dir=args.eval_index,
                              kind=args.kind, split=args.split, limit=args.limit)
    print(format_summary(report["summary"]))
    args.json_out.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    print(f"\nreport written to {args.json_out}")
    return 0


def port(text: str) -> int:
    """A TCP port (0 for any free one); argparse turns the ValueError into a usage error, exit 2
    ("invalid port value"; 70000 was an OverflowError, exit 1)."""
    number = int(text)
    if not 0 <= number <= 65535:
        raise ValueError(text)
    return number


def _writable(path: Path) -> None:
    """Refuse a report path that cannot be written (a folder, a path under a file, no permission)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BadInputError(f"cannot write the report to {path}: {exc.strerror or exc}") from None
    if path.is_dir() or not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise BadInputError(f"cannot write the report to {path}: a folder, or no permission to write there")


def _models(args, settings: Settings) -> int:
    from rag.models import (
        EMBEDDING_MODELS, GENERATORS, embedding_model_path, generator_path, install_model, verify_generator,
    )

    if args.action == "install":
        name = args.model or settings.generator
        path = install_model(name, settings.models_dir)
        print(f"{name}: {path} (SHA-256 verified)")
        return 0
    for name in EMBEDDING_MODELS:
        try:
            print(f"embedding {name}: {embedding_model_path(name, settings.models_dir)}")
        except RagError as exc:
            print(f"embedding {name}: {exc}")
    damaged = False
    for name in GENERATORS:
        try:
            if args.verify:
                print(f"generator {name}: {verify_generator(name, settings.models_dir)} (SHA-256 re-hashed now)")
            else:
                print(f"generator {name}: {generator_path(name, settings.models_dir)} (verified)")
        except RagError as exc:
            print(f"generator {name}: {exc}")
            damaged |= args.verify and "does not match" in str(exc)
    return 2 if damaged else 0


if __name__ == "__main__":
    sys.exit(main())
