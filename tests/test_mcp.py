"""`rag mcp`: the library as tools for an MCP assistant, driven by the MCP SDK's own client over
stdio, as LM Studio or Claude Desktop would launch it. Whatever the process writes to stdout
that is not the protocol would break the client: these tests run the real process."""

import json
import sys

import anyio
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from conftest import ISTANBUL, SEEDS

ASTANA = "000_011dc16fc288ae1d.txt"


def call(seed_index, *calls):
    """The results of the tool calls, made in one session with `rag mcp` over the seed index."""
    async def session():
        command = StdioServerParameters(command=sys.executable,
                                        args=["-m", "rag.cli", "--index-dir", str(seed_index), "mcp"])
        async with Client(command) as client:
            tools = await client.list_tools()
            results = [await client.call_tool(name, arguments) for name, arguments in calls]
            return [tool.name for tool in tools.tools], results

    return anyio.run(session)


def content(result):
    assert not result.is_error, result.content
    return result.structured_content or json.loads(result.content[0].text)


def test_an_assistant_finds_reads_and_lists_the_articles_without_the_model(seed_index):
    names, (found, read, listed, refused, unknown, scoped, nothing_then, from_outlet) = call(
        seed_index,
        ("search_articles", {"query": "Where did Putin and Erdogan meet in Kazakhstan?", "limit": 2}),
        ("read_article", {"source": ISTANBUL, "start": 0, "length": 60}),
        ("find_articles", {"words": "GRAIN corridor"}),
        ("search_articles", {"query": "talks", "limit": 0}),
        ("read_article", {"source": "../../etc/passwd"}),
        ("search_articles", {"query": "Where did Putin and Erdogan meet?", "within": ISTANBUL}),
        ("search_articles", {"query": "talks", "since": "2030"}),
        ("find_articles", {"outlet": "TRT"}))
    assert sorted(names) == ["ask", "find_articles", "read_article", "search_articles"]
    passages = content(found)["passages"]
    assert [p["rank"] for p in passages] == [1, 2] and passages[0]["source"] == ASTANA
    assert {p["source"] for p in content(scoped)["passages"]} == {ISTANBUL}
    assert nothing_then.is_error and "no indexed article is dated 2030 or later" in nothing_then.content[0].text
    assert [a["source"] for a in content(from_outlet)["articles"]] == [ISTANBUL]  # TRT World's
    first = passages[0]
    assert first["text"] == (SEEDS / ASTANA).read_text(encoding="utf-8")[first["start"]:first["end"]]
    assert first["closest_sentences"] and first["gives_orders"] is False
    article = content(read)
    assert article["text"] == (SEEDS / ISTANBUL).read_text(encoding="utf-8")[:60] and article["remaining"] > 0
    assert content(listed)["total"] == 1 and content(listed)["articles"][0]["source"] == "003_1ca7cd9bf0959689.txt"
    assert refused.is_error and "limit must be a whole number from 1 to 50" in refused.content[0].text
    assert unknown.is_error and "'../../etc/passwd' is not in the library" in unknown.content[0].text


@pytest.mark.slow
def test_an_assistant_gets_the_local_model_s_cited_answer(seed_index):
    _, (answered,) = call(seed_index, ("ask", {"question": "What came out of the May 2025 Istanbul talks?"}))
    answer = content(answered)
    assert answer["abstained"] is False and "[1]" in answer["answer"]
    assert ISTANBUL in {c["source"] for c in answer["citations"]}
