"""Citations as a small model writes them: repaired, checked against the passages, renumbered.
No model needed: the passages and raw answers are hand-made."""

import re
import time

import pytest

from rag.answer import LiveRenumbering, claim_bodies, finish
from rag.grounding import (affirms, asks_yes_no, corrects, is_decline, not_in_passage, novel_terms, repeats_itself,
                            restates, support)
from rag.prompt import NOT_COVERED
from rag.schema import ArticleRecord, Chunk, Hit
from rag.text import content_words

PASSAGES = [
    "Heavy rain is expected across the valley next week.",
    "Officials from both towns met in Lyon on 3 March. They agreed to share the cost of a new dam.",
    "The dam will cost 1,000 million euros and take four years to build.",
]


def _hits():
    return [Hit(Chunk(id=f"c{i}", source=f"s{i}.txt", title=f"Title {i}", text=text, start=100 * i,
                      end=100 * i + len(text), position=0), score=0.5) for i, text in enumerate(PASSAGES, 1)]


@pytest.mark.parametrize("raw", [
    "The towns agreed to share the cost of a new dam [2].",
    "The towns agreed to share the cost of a new dam. [2]",
    "The towns agreed to share the cost of a new dam 【2】.",
    "The towns agreed to share the cost of a new dam (Source 2).",
    "The towns agreed to share the cost of a new dam [Source: 2].",
    "The towns agreed to share the cost of a new dam [2, 7].",
])
def test_citation_shapes_become_one_marker_before_the_stop(raw):
    checked = finish(raw, _hits())
    assert checked.text == "The towns agreed to share the cost of a new dam [1]."
    assert [(c.n, c.chunk_id, c.start) for c in checked.citations] == [(1, "c2", 200)]
    assert not checked.abstained and checked.unsupported == []


@pytest.mark.parametrize("raw, passages", [
    ("The towns agreed to share the cost of a new dam [[2]3].", 3),  # KeyError: 3
    ("Heavy rain is expected across the valley next week [[7]2].", 1),  # IndexError: [2] of one passage
    ("The dam will cost 1,000 million euros [" + "1" * 5000 + "].", 3),  # ValueError: int() of 5,000 digits
])
def test_odd_markers_from_a_model_without_the_grammar_do_not_crash_the_check(raw, passages):
    """Found by fuzzing (the grammar keeps llama.cpp's model from writing these; a transformers
    model can): each raised. Every marker left in the text has its citation."""
    checked = finish(raw, _hits()[:passages])
    numbers = [int(n) for n in re.findall(r"\[(\d+)\]", checked.text)]
    assert sorted(set(numbers)) == [c.n for c in checked.citations]
    stream = LiveRenumbering(passages)
    stream.feed(raw)
    stream.flush()


def test_markers_inside_a_sentence_move_to_its_end_without_leaving_gaps():
    checked = finish("The towns met [2] in Lyon and agreed [2] to share the cost of a new dam.", _hits())
    assert checked.text == "The towns met in Lyon and agreed to share the cost of a new dam [1]."


def test_markers_written_as_a_list_take_their_commas_with_them():
    # The 1.5B model writes the passages' numbers where a list's items belong; moved to the end,
    # the markers once left "a new dam:,, and [1]".
    checked = finish("The towns agreed to share the cost of a new dam, which will cost 1,000 million euros: "
                     "[2], [3], and [1].", _hits())
    assert checked.text == ("The towns agreed to share the cost of a new dam, "
                            "which will cost 1,000 million euros [1][2].")
    assert [c.chunk_id for c in checked.citations] == ["c2", "c3"]
    assert finish("The towns agreed to share the cost of a new dam. [2], [3]", _hits()).text == (
        "The towns agreed to share the cost of a new dam [1].")


def test_numbers_follow_first_use_and_only_cited_passages_are_listed():
    raw = "The dam will cost 1,000 million euros [3]. The towns met in Lyon [2]. It takes four years to build [3]."
    checked = finish(raw, _hits())
    assert checked.text == ("The dam will cost 1,000 million euros [1]. The towns met in Lyon [2]. "
                            "It takes four years to build [1].")
    assert [(c.n, c.chunk_id, c.quote) for c in checked.citations] == [(1, "c3", PASSAGES[2]), (2, "c2", PASSAGES[1])]


def test_each_citation_highlights_the_supporting_sentence_with_source_offsets():
    checked = finish("They agreed to share the cost of a new dam [2].", _hits())
    citation = checked.citations[0]
    sentence = "They agreed to share the cost of a new dam."
    assert [PASSAGES[1][start - 200:end - 200] for start, end in citation.highlights] == [sentence]
    assert citation.support == 1.0


def test_each_claim_citing_a_passage_highlights_its_own_sentence():
    # Best over the claims joined, the passage got one highlight for both claims.
    checked = finish("The towns met in Lyon on 3 March [2]. They agreed to share the cost of a new dam [2].", _hits())
    citation = checked.citations[0]
    assert [PASSAGES[1][start - 200:end - 200] for start, end in citation.highlights] == [
        "Officials from both towns met in Lyon on 3 March.", "They agreed to share the cost of a new dam."]


def test_a_sentence_citing_each_clause_to_its_own_passage_is_checked_clause_by_clause():
    """An overview lists what several articles say, a marker after each clause: no one passage
    writes the whole sentence, and it was left out (the BBC archive's "What do the articles say
    about spam e-mail?" was declined so)."""
    said = ["Spammers now send most junk mail from hijacked home computers.",
            "One in ten internet users has bought something advertised in unsolicited messages.",
            "Filters alone cannot stop the flood of bulk advertising, the regulator warned."]
    hits = [Hit(Chunk(id=f"c{n}", source=f"s{n}.txt", title="Spam", text=text, start=0, end=len(text), position=0),
                score=0.5) for n, text in enumerate(said, 1)]
    clauses = ["Spammers send most junk mail from hijacked home computers",
               "one in ten internet users has bought something advertised in unsolicited messages",
               "and filters alone cannot stop the flood of bulk advertising"]
    checked = finish(f"{clauses[0]} [1], {clauses[1]} [2], {clauses[2]} [3].", hits)
    assert checked.text == f"{clauses[0]} [1], {clauses[1]} [2], {clauses[2]} [3]."
    assert [(c.chunk_id, [c.quote[a:b] for a, b in c.highlights]) for c in checked.citations] == [
        ("c1", [said[0]]), ("c2", [said[1]]), ("c3", [said[2]])]
    # A clause that rests on no passage leaves the sentence out, as before.
    checked = finish(f"{clauses[0]} [1], {clauses[1]} [2], and Brussels will fine them from 2026 [3].", hits)
    assert checked.abstained
    assert checked.unsupported == [f"{clauses[0]}, {clauses[1]}, and Brussels will fine them from 2026."]


def test_a_sentence_cited_to_the_wrong_passage_is_reattributed():
    checked = finish("The towns met in Lyon on 3 March [1].", _hits())
    assert checked.text == "The towns met in Lyon on 3 March [1]." and checked.citations[0].chunk_id == "c2"


def test_a_claim_moves_to_the_passage_that_writes_it_from_one_that_only_shares_half_its_words():
    # The seed articles' follow-up "Who represented Ukraine at the Istanbul talks?", as the model
    # answered it: cited to the passage on the day of the talks, not to the one that writes it.
    talks_day = "On May 15, Turkey hosted Ukraine and Russia for talks in Istanbul."
    delegation = ("Ukraine, represented by its defense minister, met the Russian delegation for talks in Istanbul"
                  " on May 15.")
    hits = [Hit(Chunk(id=f"c{n}", source=f"s{n}.txt", title="Istanbul talks", text=text, start=0, end=len(text),
                      position=0), score=0.5) for n, text in enumerate([talks_day, delegation], 1)]
    claim = "Ukraine's defense minister represented Ukraine at the Istanbul talks."
    assert (support(claim, talks_day), support(claim, delegation)) == (0.5, 1.0)
    checked = finish("Ukraine's defense minister represented Ukraine at the Istanbul talks [1].", hits)
    assert [citation.chunk_id for citation in checked.citations] == ["c2"]
    # Where both passages support the claim as well, the model's citation stays, whichever it is.
    for cited in (1, 2):
        checked = finish(f"Ukraine and Russia held talks in Istanbul on May 15 [{cited}].", hits)
        assert [citation.chunk_id for citation in checked.citations] == [f"c{cited}"]


def test_a_citation_moves_at_the_margin_whatever_the_floating_point_difference():
    # Supports of 0.5 and 0.7 are 0.2 apart, though 0.7 - 0.5 < 0.2 in floating point.
    words = "alpha bravo charlie delta echo foxtrot golf hotel india juliet".split()
    texts = [" ".join(words[:5]) + ".", " ".join(words[:7]) + "."]
    hits = [Hit(Chunk(id=f"c{n}", source=f"s{n}.txt", title="X", text=text, start=0, end=len(text), position=0),
                score=0.5) for n, text in enumerate(texts, 1)]
    claim = " ".join(words) + "."
    assert [support(claim, text) for text in texts] == [0.5, 0.7]
    checked = finish(claim[:-1] + " [1].", hits)
    assert [citation.chunk_id for citation in checked.citations] == ["c2"]


def test_a_supported_sentence_without_citation_gets_one():
    checked = finish("Heavy rain is expected in the valley.", _hits())
    assert checked.text == "Heavy rain is expected in the valley [1]." and checked.citations[0].chunk_id == "c1"


def test_years_in_parentheses_are_not_taken_for_citations():
    checked = finish("The towns met in Lyon (March 2025) [2].", _hits(), question="Where did they meet in 2025?")
    assert checked.text == "The towns met in Lyon (March 2025) [1]."


@pytest.mark.parametrize("raw", [
    'Officials said: "Both towns met in Lyon. They agreed to share the cost of a new dam." [2]',
    'Officials said: “Both towns met in Lyon. They agreed to share the cost of a new dam.” [2]',
])
def test_a_quotation_of_several_sentences_is_cited_after_it_not_inside_it(raw):
    """Found asking the BBC archive: split inside the quotation, its first part was cited on its
    own and the marker written inside the quotation ('She said: "I am not well [1]. ..." [1]')."""
    checked = finish(raw, _hits())
    assert checked.text == raw.replace(" [2]", " [1]") and [c.chunk_id for c in checked.citations] == ["c2"]


def test_an_unsupported_sentence_is_left_out_and_reported():
    checked = finish("The towns agreed to share the dam cost [2]. The mayor of Lyon, Jean Dupont, signed it [2].",
                     _hits())
    assert checked.text == "The towns agreed to share the dam cost [1]."
    assert checked.unsupported == ["The mayor of Lyon, Jean Dupont, signed it."]


@pytest.mark.parametrize("raw", [
    "The articles do not say.",
    "The passages do not mention the capital of Australia.",
    "",
    "I'm sorry, but the provided passages don't contain that information.",
    "The capital of Australia is Canberra [1].",  # outside knowledge, whatever it cites
    "Why don't scientists trust atoms? Because they make up everything!",
    "The towns met in Lyon, Paris and Nice [2].",  # names the passage does not give
    "The dam will cost 2,500 million euros [3].",  # a number the passage does not give
])
def test_declined_or_ungrounded_answers_become_abstentions(raw):
    checked = finish(raw, _hits())
    assert (checked.text, checked.citations, checked.abstained) == (NOT_COVERED, [], True)
    # What declined it: the model's own words, or the checks leaving nothing of what it wrote.
    assert checked.declined_by == ("model" if not raw or is_decline(raw) else "checks")


def test_a_cited_answer_with_a_side_remark_is_not_an_abstention():
    checked = finish("They agreed to share the dam cost [2]. The date of work is not mentioned.", _hits())
    assert not checked.abstained and [c.chunk_id for c in checked.citations] == ["c2"]
    assert checked.unsupported == []


def test_an_answer_over_articles_in_another_script_is_checked_like_an_english_one():
    # Read as a-z only, a Russian sentence had no content words: every answer over Russian
    # articles was left out as unsupported and the question declined.
    text = "Делегации встретились в Стамбуле. Российскую делегацию возглавил Владимир Мединский."
    hits = [Hit(Chunk(id="ru", source="ru.txt", title="Переговоры", text=text, start=0, end=len(text), position=0),
                score=0.5)]
    checked = finish("Российскую делегацию возглавил Владимир Мединский [1].", hits)
    assert checked.text == "Российскую делегацию возглавил Владимир Мединский [1]."
    assert [text[start:end] for start, end in checked.citations[0].highlights] == [
        "Российскую делегацию возглавил Владимир Мединский."]
    # ...and a name the passage does not give is caught as in English.
    checked = finish("Российскую делегацию возглавил Сергей Лавров [1].", hits)
    assert checked.abstained and checked.unsupported == ["Российскую делегацию возглавил Сергей Лавров."]


def test_support_counts_shared_content_words_with_crude_stems():
    assert support("Russian demands", "Russia demanded recognition") == 1.0
    assert support("1000 prisoners", "exchange 1,000 prisoners of war") == 1.0
    assert support("The capital is Canberra", "The dam will cost 1,000 million") == 0.0


def test_novel_terms_are_names_and_numbers_the_evidence_lacks():
    evidence = "Türkiye hosted talks in Istanbul on May 15; 1,000 prisoners will be exchanged."
    assert novel_terms("Turkey hosted the Istanbul talks; 1000 prisoners.", evidence) == set()
    assert novel_terms("Donetsk and Kharkiv were named on May 16.", evidence) == {"Donetsk", "Kharkiv", "16"}
    # A number in digits may be spelled out in the evidence; not the other way round, unchecked.
    spelled = "a seven-layer protocol, twenty-five years on"
    assert novel_terms("It evolved into 7 layers over 25 years.", spelled) == set()
    assert novel_terms("It evolved into 8 layers.", "a seven-layer protocol") == {"8"}
    # "one" is as often a pronoun: no evidence of a count of 1.
    assert novel_terms("He won 1 vote.", "He was elected on the first ballot. One of those backing him left.") == {"1"}


def test_the_question_vouches_for_a_name_only_where_it_writes_one():
    """A passage that names no airline, a question that asks which: "American Airlines" was let
    through on the question's lower-case "airline" (a news tuning answer to a question no article
    answers)."""
    passage = "A man with a loaded gun was stopped in Memphis before boarding his flight. Americans' fears grow."
    question = "Which airline was the man flying with when he was stopped in Memphis?"
    assert novel_terms("He was flying with American Airlines.", passage, question) == {"Airlines"}
    # A name the question writes, capitalised, needs no passage; nor does a sentence's first word,
    # capitalised by its place, that the question uses.
    assert novel_terms("He was stopped at Memphis by the Airline Police.", passage,
                       "Did the Airline Police stop him?") == set()
    assert novel_terms("Airline staff stopped him in Memphis.", passage, question) == set()
    hits = [Hit(Chunk(id="c1", source="s1.txt", title="Gun", text=passage, start=0, end=len(passage), position=0),
                score=0.8)]
    assert finish("The man was flying with American Airlines when he was stopped in Memphis [1].", hits,
                  question).abstained


def test_a_claim_rests_on_one_passage_for_the_questions_names_and_its_numbers():
    question = "By how many runs did Australia win the Boxing Day Test?"
    boxing_day = "Australia's quicks have the side in a dominant position on day three of the Boxing Day Test."
    first_test = "Australia has beaten South Africa by 246 runs in the first Test in Adelaide."
    hits = [Hit(Chunk(id=f"c{n}", source=f"s{n}.txt", title=f"Cricket {n}", text=text, start=0, end=len(text),
                      position=0), score=0.5) for n, text in enumerate([boxing_day, first_test], 1)]
    # Each part is in some passage; no one passage holds both: the Boxing Day Test and the 246 runs.
    assert finish("Australia won the Boxing Day Test by 246 runs [2].", hits, question).abstained
    assert not_in_passage("Australia won the Boxing Day Test by 246 runs.", first_test, question) == ["Boxing Day Test"]
    assert not_in_passage("Australia won the Boxing Day Test by 246 runs.", boxing_day, question) == ["246"]
    # Asked of the first Test, the same claim rests on the passage that states both.
    asked = "By how many runs did Australia win the first Test in Adelaide?"
    checked = finish("Australia won the first Test in Adelaide by 246 runs [1].", hits, asked)
    assert checked.text == "Australia won the first Test in Adelaide by 246 runs [1]."
    assert checked.citations[0].chunk_id == "c2"


def test_a_passage_is_read_with_the_one_before_it_in_its_article_not_the_one_after():
    question = "How many cylinders does the Energiprojekt AB engine have?"
    texts = ["The company Energiprojekt AB in Sweden has made progress with steam.",
             "It is a single-step, 5-cylinder engine with superheated steam."]
    hits = [Hit(Chunk(id=f"c{n}", source="steam.txt", title="Steam engine", text=text, start=100 * n,
                      end=100 * n + len(text), position=n), score=0.5) for n, text in enumerate(texts)]
    checked = finish("The Energiprojekt AB engine has 5 cylinders [2].", hits, question)
    assert not checked.abstained and checked.citations[0].chunk_id == "c1"
    # The Council is named only after the vote it did not take: the claim rests on no passage.
    texts = ["After a 16-hour debate the House of Assembly passed the bill by 15 votes to eight.",
             "The Legislative Council will begin debate on the bill today."]
    hits = [Hit(Chunk(id=f"c{n}", source="bill.txt", title="Abortion bill", text=text, start=100 * n,
                      end=100 * n + len(text), position=n), score=0.5) for n, text in enumerate(texts)]
    question = "By what margin did Tasmania's Legislative Council pass the abortion bill?"
    assert finish("The Legislative Council passed the bill by 15 votes to eight [1].", hits, question).abstained
    assert not finish("The House of Assembly passed the bill by 15 votes to eight [1].", hits,
                      "By what margin did the House of Assembly pass the bill?").abstained


def test_a_name_is_written_as_news_writes_it_again_and_a_lower_case_opener_is_no_name():
    passage = ("The European Union agreed to the plan. The United Nations World Food Program welcomed it. "
               "Mr Blair said the Solomon Islands prime minister backed it.")
    assert not_in_passage("The EU agreed to the plan.", passage, "What did the EU agree to?") == []
    assert not_in_passage("The UN welcomed it.", passage, "Did the UN welcome it?") == []
    assert not_in_passage("The U.S. welcomed it.", passage, "Did the U.S. welcome it?") == []
    assert not_in_passage("Tony Blair said the prime minister backed it.", passage, "What did Tony Blair say?") == []
    assert not_in_passage("The Prime Minister of the Solomon Islands backed it.", passage,
                          "Who backed the Prime Minister of the Solomon Islands?") == []
    assert not_in_passage("The ECB agreed to the plan.", passage, "What did the ECB agree to?") == ["ECB"]
    assert not_in_passage("The World Bank agreed to the plan.", passage,
                          "What did the World Bank agree to?") == ["World Bank"]
    assert not_in_passage("The purpose of Telenet was to make the technology public.", "Telenet was founded to make "
                          "the technology public.", "Purpose of Telenet") == []


def test_hyphenated_and_apostrophised_names_are_checked_part_by_part():
    # Read whole, "One-fifth" and "US-Russia" were found in no passage and a right answer was left out.
    evidence = "By 1700, one-fifth of Berlin was French speaking. US-Russia contact resumed; Al-Qaeda denied it."
    assert novel_terms("One-fifth of Berlin spoke French.", evidence) == set()
    assert novel_terms("US-Russia contact resumed, O'Brien's aide said.", evidence + " Brien O") == set()
    assert novel_terms("Al-Shabaab denied it.", evidence) == {"Al-Shabaab"}
    assert novel_terms("The Kremlin-backed group denied it.", evidence) == {"Kremlin-backed"}
    passage = "By 1700, one-fifth of the city's population was French speaking."
    hits = [Hit(Chunk(id="c1", source="s1.txt", title="Berlin", text=passage, start=0, end=len(passage), position=0),
                score=0.8)]
    checked = finish("One-fifth of the city's population was French speaking [1].", hits)
    assert not checked.abstained and checked.text == "One-fifth of the city's population was French speaking [1]."


def test_live_renumbering_matches_the_final_numbers_even_when_a_marker_is_split():
    live = LiveRenumbering(3)
    pieces = ["The dam will cost 1,000 million euros [", "3", "]. The towns met in Lyon [2", "]."]
    streamed = "".join(live.feed(p) for p in pieces) + live.flush()
    assert streamed == "The dam will cost 1,000 million euros [1]. The towns met in Lyon [2]."
    assert finish("".join(pieces), _hits()).text == streamed


def test_live_renumbering_releases_an_unclosed_bracket_at_the_end():
    live = LiveRenumbering(3)
    assert live.feed("Costs rose (sharply") == "Costs rose "
    assert live.flush() == "(sharply"


def test_a_how_many_or_what_year_answer_without_a_number_is_an_abstention():
    question = "How many officials met in Lyon?"
    checked = finish("Officials from both towns met in Lyon [2].", _hits(), question)
    assert checked.abstained and checked.text == NOT_COVERED
    assert checked.unsupported == ["Officials from both towns met in Lyon."]
    # A digit inside a name ("TB2") is not a count.
    drones = [Hit(Chunk(id="d", source="d.txt", title="Drones", text="Türkiye armed Ukraine with Bayraktar TB2 drones.",
                        start=0, end=48, position=0), score=0.5)]
    assert finish("Türkiye armed Ukraine with Bayraktar TB2 drones [1].", drones, "How many TB2 drones?").abstained
    counted = finish("The dam will cost 1,000 million euros [3].", _hits(), "How much will the dam cost?")
    assert not counted.abstained and counted.text == "The dam will cost 1,000 million euros [1]."
    # The same for a year asked for.
    assert finish("Officials from both towns met in Lyon [2].", _hits(), "In what year did the towns meet?").abstained
    # A year needs three or four digits: a day of the month or a century is no year.
    assert finish("The towns met in Lyon on 3 March [2].", _hits(), "In what year did the towns meet?").abstained
    dated = [Hit(Chunk(id="y", source="y.txt", title="Dam", text="The dam was built in the 17th century, in 1622.",
                       start=0, end=47, position=0), score=0.5)]
    assert finish("The dam was built in the 17th century [1].", dated, "In what year was the dam built?").abstained
    assert not finish("The dam was built in 1622 [1].", dated, "In what year was the dam built?").abstained
    # A decade is an answer to "what year" or "what decade", written short or in words.
    sixties = [Hit(Chunk(id="s", source="s.txt", title="Dam", text="The dam was built in the sixties, in the '60s.",
                         start=0, end=46, position=0), score=0.5)]
    for answer in ("The dam was built in the sixties [1].", "The dam was built in the '60s [1]."):
        assert not finish(answer, sixties, "In what decade was the dam built?").abstained
    assert finish("The dam was built in the sixties [1].", sixties,
                  "What year in the sixties was the dam built?").abstained
    # A number the question already states is no answer to it; one spelled out is a number.
    assert finish("Officials met in Lyon on 3 March [2].", _hits(), "How many officials met on 3 March?").abstained
    assert not finish("In Lyon, thirteen officials met on 3 March [2].", _hits(),
                      "How many officials met on 3 March?").abstained



def test_a_measure_needs_a_number_and_a_price_a_sum_of_money():
    """"How long", "how far", "how strong" ask for a number as "how many" does, and "how much" a
    thing cost or was fined for asks for a sum of money: a number of something else (the bomb's
    weight for its cost: a news tuning answer) is no answer to it."""
    dam = [Hit(Chunk(id="m", source="m.txt", title="Dam", text="The dam weighs 6,800 kilograms. Its gates are strong.",
                     start=0, end=52, position=0), score=0.5)]
    assert finish("The dam cost 6,800 kilograms [1].", dam, "How much did the dam cost?").abstained
    assert finish("The dam's gates are strong [1].", dam, "How strong are the dam's gates?").abstained
    assert finish("The dam weighs 6,800 kilograms [1].", dam, "How heavy is the dam?").text == (
        "The dam weighs 6,800 kilograms [1].")
    # A currency as a word or a sign, or a share, states a sum; "how much" of anything else needs a number only.
    for answer in ("The dam will cost 1,000 million euros [3].", "The dam will cost $1,000 million [3]."):
        assert not finish(answer, _hits(), "How much will the dam cost?").abstained, answer
    assert not finish("It rose by 2 per cent a year [1].", [Hit(Chunk(
        id="p", source="p.txt", title="Prices", text="It rose by 2 per cent a year.", start=0, end=29, position=0),
        score=0.5)], "How much did the price of oil rise?").abstained
    assert not finish("The dam weighs 6,800 kilograms [1].", dam, "How much does the dam weigh?").abstained
    # A currency that is an English word too states a sum only after a number: "won" the verb does not.
    cup = [Hit(Chunk(id="c", source="c.txt", title="Cup", text="Federer won 3 titles. He earned 5,000 won a day.",
                     start=0, end=48, position=0), score=0.5)]
    assert finish("Federer won 3 titles [1].", cup, "How much did Federer earn?").abstained
    assert not finish("Federer earned 5,000 won a day [1].", cup, "How much did Federer earn?").abstained


def test_a_when_answer_that_names_no_time_is_an_abstention():
    question = "When did officials from both towns meet in Lyon?"
    checked = finish("Officials from both towns met in Lyon [2].", _hits(), question)
    assert checked.abstained and checked.unsupported == ["Officials from both towns met in Lyon."]
    # A date, a month, a span or a time told against another event each answers "when".
    for answer in ("Officials from both towns met in Lyon on 3 March [2].", "They met in Lyon in March [2].",
                   "Officials from both towns met in Lyon after the towns agreed [2]."):
        assert not finish(answer, _hits(), question).abstained, answer
    # Only a question that asks when: "what happened when" asks what.
    assert not finish("Officials from both towns met in Lyon [2].", _hits(),
                      "What happened when the towns met?").abstained
    # "On what date" asks when too.
    assert finish("Officials from both towns met in Lyon [2].", _hits(),
                  "On what date did officials from both towns meet in Lyon?").abstained
    assert not finish("Officials from both towns met in Lyon on 3 March [2].", _hits(),
                      "On what date did officials from both towns meet in Lyon?").abstained


def test_may_the_month_is_a_content_word_and_may_the_verb_is_not():
    """"From May [1]." answers when BT's users get the software (BBC b038): read as the modal verb,
    "May" left the answer no content word, nothing supported it, and it was declined."""
    bt = [Hit(Chunk(id="b", source="b.txt", title="BT program to beat dialler scams", text=(
        "From May, dial-up net users will be able to download free software."), start=0, end=67, position=0),
        score=0.5)]
    question = "when can bt dial up users get the free software"
    assert finish("From May [1].", bt, question).text == "From May [1]."
    assert content_words("Talks resume in May.") == ["talks", "resume", "may"]
    # The modal verb, and a sentence's first word, stay stopwords.
    assert content_words("May I ask? It may rain.") == ["ask", "rain"]
    assert finish("From June [1].", bt, question).abstained


def test_a_bare_sum_with_its_unit_is_an_answer():
    """"£2m [1]." answers how much Lord Sainsbury gave (found over the BBC archive): "2m" read as
    too short a word, the answer had no content word, nothing supported it, and it was declined."""
    gift = [Hit(Chunk(id="s", source="s.txt", title="Sainsbury's Labour election gift", text=(
        "Science Minister Lord Sainsbury has made a £2m donation to the Labour Party for its General "
        "Election fund."), start=0, end=104, position=0), score=0.6)]
    question = "How much did Lord Sainsbury give Labour for the election?"
    assert finish("£2m [1].", gift, question).text == "£2m [1]."
    assert content_words("£2m, 368bn and 3 cars") == ["2m", "368bn", "3", "cars"]
    assert finish("£3m [1].", gift, question).abstained  # a sum the passage does not state


def test_an_answer_to_what_is_the_name_of_that_names_no_one_is_an_abstention():
    crash = [Hit(Chunk(id="c", source="c.txt", title="Crash", text=(
        "The pilot of the Flying Doctor plane, 54, was killed near Mount Gambier. A nurse, Ann Lee, survived."),
        start=0, end=101, position=0), score=0.5)]
    question = "What was the name of the pilot killed near Mount Gambier?"
    checked = finish("The pilot was 54 years old [1].", crash, question)
    assert checked.abstained and checked.unsupported == ["The pilot was 54 years old."]
    # Names of the question do not count ("Mount Gambier"); a name it lacks does, whatever the question's case.
    assert finish("The pilot was killed near Mount Gambier [1].", crash, question).abstained
    assert not finish("A nurse, Ann Lee, survived [1].", crash, "wat was the name of the nurse").abstained
    # Only a question that asks for a name: "who" may rightly be answered "a nurse".
    assert not finish("A nurse survived the crash [1].", crash, "Who survived the crash?").abstained


def test_a_citation_carries_its_articles_outlet_and_latest_date():
    articles = {"s2.txt": ArticleRecord(source="s2.txt", title="Title 2", outlet="Lyon Daily",
                                        dates=["2025-03-01", "2025-03-03"])}
    checked = finish("The towns agreed to share the cost of a new dam [2]. Rain is expected next week [1].",
                     _hits(), articles=articles)
    assert [(c.source, c.outlet, c.date) for c in checked.citations] == [
        ("s2.txt", "Lyon Daily", "2025-03-03"), ("s1.txt", None, None)]  # s1.txt has no record


@pytest.mark.parametrize("raw", ["Yes, the towns agreed to share the cost of a new dam [2].",
                                 "No, the towns did not agree to share the cost of a new dam [2]."])
def test_a_yes_or_no_answer_is_checked_like_any_other(raw):
    """"Yes" opening an answer was read as a name no passage writes ("no" was a stop word, "yes"
    was not), and its sentence left out: all 12 such sentences of the answers to eval/yesno.jsonl
    (session 24)."""
    checked = finish(raw, _hits(), "Did the towns agree to share the cost of a dam?")
    assert not checked.abstained and checked.unsupported == []
    assert checked.text == raw.replace("[2]", "[1]")


def test_an_answer_says_yes_by_the_word_or_by_restating_a_yes_no_question_without_a_negation():
    """What rag.decline.doubts_yes is asked about: the answer asserts the question's premise."""
    question = "Did Esther Rantzen attend Cyril Fletcher's funeral?"
    assert affirms(question, ["Yes, Esther Rantzen attended Cyril Fletcher's funeral."])
    assert affirms(question, ["Esther Rantzen attended Cyril Fletcher's funeral."])  # a yes without the word
    assert affirms("What did the towns agree?", ["Yes, the towns agreed to share the cost."])
    assert not affirms(question, ["No, Esther Rantzen did not attend the funeral."])
    assert not affirms(question, ["Esther Rantzen didn't attend Cyril Fletcher's funeral."])
    assert not affirms(question, ["Esther Rantzen said he was a delight to work with."])  # says something else
    assert not affirms("Did Lavrov or Medinsky lead it?", ["Medinsky led it."])  # a choice
    assert not affirms("Who attended Cyril Fletcher's funeral?", ["Esther Rantzen attended Cyril Fletcher's funeral."])
    assert not affirms(question, [])


def test_a_no_is_kept_when_it_names_what_is_so_instead_of_the_premise():
    """rag.grounding.corrects: a false premise refuted by the right value; a bare denial, or a
    "No" that says the premise after all, reads the same whether the article disagrees or is silent."""
    question = "Was Cyril Fletcher 85 when he died?"
    assert corrects(question, claim_bodies("No, in fact, Cyril Fletcher died at the age of 91 [1]."))
    assert corrects("Was Dirty Den played by Ross Kemp?", ["No, in fact, it was Leslie Grantham who played him."])
    assert not corrects(question, ["No, in fact, Cyril Fletcher was not 85 when he died."])  # a denial only
    assert not corrects(question, ["No, in fact, Cyril Fletcher was 85.", "He died at 91."])  # its first claim
    assert not corrects(question, ["Cyril Fletcher died at the age of 91."])  # no "No": the check dropped it
    assert not corrects(question, [])
    assert not corrects("Did Ed Davey say the Lib Dems would win 100 seats?",
                        claim_bodies("No, in fact, Ed Davey said the Lib Dems would win 100 seats [1]."))
    assert asks_yes_no(question) and not asks_yes_no("Was he 85 or 91?") and not asks_yes_no("How old was he?")


def test_a_no_is_kept_when_it_names_another_ordinal_or_denies_what_the_article_denies():
    """An ordinal is a number ("the fourth", not "the first"); a denial is kept when a sentence it
    rests on denies the same: then the article is not silent about it."""
    first = "Was the meeting in Astana the first between Putin and Erdogan that year?"
    assert corrects(first, ["No, in fact, it was their fourth direct encounter that year."])
    assert not corrects(first, ["No, in fact, it was not their first meeting that year."])
    assert corrects("Was it the 20th sale?", ["No, in fact, it was the eleventh."])
    assert not corrects("Was it the twentieth sale?", ["No, in fact, it was not the 20th."])  # the question's own
    question, denial = "Did Trump show up at the Istanbul talks?", ["No, in fact, Trump did not show up at the talks."]
    assert corrects(question, denial, ["Trump's attendance could have changed this, but he did not show up either."])
    assert corrects(question, ["No, in fact, Trump didn't show up."], ["He never showed up."])
    assert not corrects(question, denial, ["Trump's attendance could have changed this."])  # silent
    assert not corrects(question, denial, ["The talks did not produce a ceasefire."])  # denies something else
    assert not corrects(question, denial)


def test_an_answer_that_only_restates_the_question_is_an_abstention():
    assert restates("What problems did the Yuan dynasty have near its end?", ["The Yuan dynasty had problems."])
    assert not restates("What problems did the Yuan dynasty have?", ["The Yuan dynasty had floods."])
    assert not restates("Were the centres profitable?", ["The centres were profitable."])  # a yes
    assert not restates("Who led it, Lavrov or Medinsky?", ["Medinsky led it."])  # a choice
    assert restates("When did the fighting stop in Prussia?", ["The fighting stopped in Prussia."])  # by Porter
    hits = _hits()
    checked = finish("The towns agreed to share [2].", hits, "What did the towns agree to share?")
    assert checked.abstained and checked.text == NOT_COVERED
    assert not finish("The towns agreed to share the cost of a new dam [2].", hits,
                      "What did the towns agree to share?").abstained


def test_an_answer_that_writes_the_same_words_twice_in_a_row_is_an_abstention():
    """The greedy model loops when the passages have run out: a second executive it cannot name,
    an aside it cannot end."""
    assert repeats_itself(["The two executives are senior vice president Joshua Bewlay and senior vice president "
                           "Joshua Bewlay."])
    assert repeats_itself(["The festival raised more than $150m (£80m) (£80m)."])
    assert not repeats_itself(["Prices rose higher and higher."])  # one word, as English repeats it
    assert not repeats_itself(["It cost $150m (£80m), and later $20m (£10m)."])
    assert not repeats_itself(["Sony's PSP costs $250 in the US.", "Nintendo's DS costs $150 in the US."])
    hits = _hits()
    assert finish("The towns agreed to share the cost of a new dam, a new dam [2].", hits,
                  "What did the towns agree to share?").abstained
    assert not finish("The towns agreed to share the cost of a new dam [2].", hits,
                      "What did the towns agree to share?").abstained


def test_a_sentence_the_token_limit_broke_off_is_left_out():
    raw = "The dam will take four years to build [3]. The towns agreed to share the cost of [2]"
    checked = finish(raw, _hits(), "How long will the dam take?", cut_off=True)
    assert checked.text == "The dam will take four years to build [1]." and not checked.unsupported
    # Finished sentences stay, whatever closes them; without the limit reached nothing is cut.
    for finished in ('The towns agreed to share "the cost of a new dam." [2]',
                     "The towns share the cost (of a new dam). [2]"):
        assert finish(finished, _hits(), cut_off=True).text.startswith("The towns")
    assert "The towns" in finish(raw, _hits(), "How long will the dam take?").text
    # Nothing left but the fragment: the decline.
    assert finish("The towns agreed to share the cost of [2]", _hits(), cut_off=True).abstained


def test_a_sentence_written_again_word_for_word_is_shown_once():
    checked = finish("The dam will take four years to build [3]. The towns will share its cost [2]. "
                     "The dam will take four years to build [3].", _hits(), "How long will the dam take?")
    assert checked.text == "The dam will take four years to build [1]. The towns will share its cost [2]."
    assert not checked.unsupported
    # One that no passage supports is listed once among the sentences left out.
    checked = finish("The dam will take four years to build [3]. It opens in Paris [3]. It opens in Paris [3].",
                     _hits(), "How long will the dam take?")
    assert checked.unsupported == ["It opens in Paris."]


def test_a_sentence_an_earlier_one_already_says_in_other_words_is_left_out():
    """A summary asked of the BBC archive said "It has been indexing US-based programmes ... since
    December [1]. Google Video has been indexing US-based programmes ... since December [1]."."""
    question = "What do the articles say about the dam?"
    checked = finish("The dam will cost 1,000 million euros and take four years to build [3]. Officials from both "
                     "towns met in Lyon [2]. Building the dam will cost 1,000 million euros and take four years [3].",
                     _hits(), question)
    assert checked.text == ("The dam will cost 1,000 million euros and take four years to build [1]. Officials from "
                            "both towns met in Lyon [2].")
    # A sentence that shares most words but adds what the first did not say is kept.
    checked = finish("The dam will take four years to build [3]. The dam will cost 1,000 million euros [3].",
                     _hits(), question)
    assert checked.text == "The dam will take four years to build [1]. The dam will cost 1,000 million euros [1]."


@pytest.mark.parametrize("raw", [
    "The towns agreed to share the cost of a new dam [2, 7, and 9].",
    "The towns agreed to share the cost of a new dam [Sources: 2, 9, & 7].",
    "The towns agreed to share the cost of a new dam [2 and 7].",
    "The towns agreed to share the cost of a new dam [1-3].",
    "The towns agreed to share the cost of a new dam [Passages 2–4].",
    "The towns agreed to share the cost of a new dam (Source 2-2).",
])
def test_lists_with_and_and_ranges_of_numbers_are_citations_too(raw):
    """A backend without the grammar writes these; ", and" and ranges were left in the text as
    they were ("... a new dam [2, 7, and 9].")."""
    checked = finish(raw, _hits())
    assert checked.text == "The towns agreed to share the cost of a new dam [1]."
    assert [c.chunk_id for c in checked.citations] == ["c2"]


@pytest.mark.parametrize("raw, numbers", [
    ("Rain is expected [1-3].", "[1][2][3]"),
    ("Rain is expected [3-1].", ""),  # no range: nothing is cited
    ("Rain is expected [2-99999].", "[1][2]"),  # up to the last passage, not 99,998 markers
    ("Rain is expected [3, 1, and 2].", "[1][2][3]"),
])
def test_the_streamed_numbers_of_a_range_or_list_follow_first_use(raw, numbers):
    live = LiveRenumbering(3)
    assert live.feed(raw) + live.flush() == f"Rain is expected {numbers}."


@pytest.mark.parametrize("raw", [
    "The dam will cost 1,000 million euros [Sources: 3, 12, 9, 1, 2]. The towns met in Lyon [2].",
    "The dam will cost 1,000 million euros [Passages 3, 1, 4, 5, and 2]. The towns met in Lyon [2].",
])
def test_live_renumbering_does_not_depend_on_how_the_answer_is_split(raw):
    """A marker still open after 24 characters was let through as it was written, numbers and
    all, and its numbers were missed: the stream showed "[Sources: 3, 12, 9, 1, 2]" and then
    "[1]" where the whole text gives "[1][2][3]" and "[3]"."""
    whole = LiveRenumbering(3)
    expected = whole.feed(raw) + whole.flush()
    assert expected == "The dam will cost 1,000 million euros [1][2][3]. The towns met in Lyon [3]."
    for size in range(1, 6):  # a model's pieces are a few characters long
        live = LiveRenumbering(3)
        pieces = [raw[k:k + size] for k in range(0, len(raw), size)]
        assert "".join(live.feed(p) for p in pieces) + live.flush() == expected, size


def test_a_model_looping_inside_a_bracket_streams_without_delay():
    """Held back until it closed, "[1, 1, 1, ..." streamed a character at a time took 10 s for 6,000
    characters: past the longest marker a model means, it is let through."""
    text, live = "[" + "1, " * 2000, LiveRenumbering(3)
    started = time.perf_counter()
    assert "".join(live.feed(c) for c in text) + live.flush() == text
    assert time.perf_counter() - started < 1


def test_why_an_answer_was_withdrawn_is_told_by_what_withdrew_it():
    from rag.schema import DECLINED_BY, Answer, Timings

    def withdrawn(**fields):
        return Answer("Did Blackburn accept the offer?", NOT_COVERED, [], True, Timings(0.05, 1.5, 3.0),
                      withdrawn=["Yes, Blackburn accepted the offer."], **fields)

    # Samples recorded beside a doubted "Yes" do not make it a second opinion's withdrawal.
    doubted = withdrawn(declined_by="doubted_yes", yes_margin=2.5, samples_disagreeing=0, samples_drawn=2)
    assert doubted.why_withdrawn.startswith(DECLINED_BY["doubted_yes"] + ": it found it only 12 times")
    overruled = withdrawn(declined_by="second_opinion", samples_disagreeing=2, samples_drawn=3)
    assert overruled.why_withdrawn == f"{DECLINED_BY['second_opinion']} in 2 of 3 replies"
    assert overruled.why_declined == f"the model wrote an answer, but {overruled.why_withdrawn}, so it was withdrawn"
    # An Answer built without a cause (by hand, or from an old report) says nothing rather than half a sentence.
    assert (withdrawn().why_withdrawn, withdrawn().why_declined) == ("", "")
