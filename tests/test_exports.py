"""A news database's export, many articles in one Word document or text file (Nexis Uni,
LexisNexis Academic), is read as its articles: each cited by its place in the file, with its own
headline, outlet, date and byline, its labels, cover page and classification left out."""

import docx

import rag
from rag.config import load_settings
from rag.loading import load_file

STORIES = [
    ("Prisoner swap agreed in Istanbul", "The Guardian (London)", "May 16, 2025 Friday", "Pjotr Sauer",
     ["Russia and Ukraine agreed on Friday to exchange 1,000 prisoners of war each.",
      "It was the first direct meeting of the two sides since 2022."]),
    ("Talks: what comes next", "The New York Times", "May 17, 2025 Saturday", None,
     ["Both delegations said they would present their visions of a ceasefire."]),
]


def nexis_uni_export(path, stories=STORIES):
    """A Word document as Nexis Uni delivers a search's results: a cover page (the search, its
    dates, the list of titles), then each article, ending "End of Document"; its labels written
    with a no-break space, as Nexis Uni writes them."""
    document = docx.Document()
    for line in ["User Name: = Jane Reader", "Date and Time: = May 20, 2025 10:22 AM EDT", "Job Number: = 245113",
                 f"Documents ({len(stories)})", *(f"{n}. {s[0]}" for n, s in enumerate(stories, start=1)),
                 "Client/Matter: -None-", "Search Terms: istanbul talks",
                 "Narrowed by: Content Type News Timeline: May 01, 2025 to May 31, 2025"]:
        document.add_paragraph(line)
    document.add_page_break()
    for title, outlet, date, byline, body in stories:
        header = [title, outlet, date, "Late Edition - Final", "Copyright 2025 The Publisher All Rights Reserved",
                  "Section:\xa0WORLD; Pg. 8", "Length:\xa0523 words", *([f"Byline:\xa0{byline}"] if byline else []),
                  "Dateline: ISTANBUL"]
        trailer = ["Classification", "Language:\xa0ENGLISH", "Subject:\xa0PRISONERS OF WAR (90%)",
                   "Load-Date:\xa0May 17, 2025", "End of Document"]
        for line in [*header, "Body", *body, *trailer]:
            document.add_paragraph(line)
        document.add_page_break()
    document.save(path)
    return path


ACADEMIC = """Download Request: Selected Items: 1-2
Time Of Request: Friday, March 20, 2018  16:51:31

Terms: (DATE(>=2009-12-01 and <=2010-05-11) and (talks))


                               1 of 2 DOCUMENTS



                                  Guardian.com

                            January 11, 2010 Monday

Ministers agree to new talks on the
pension reform

BYLINE: Andrew Sparrow

LENGTH: 355 words

Ministers agreed on Monday to reopen talks on the pension reform, after
unions threatened a strike in February.

The talks will begin next week in London.

LOAD-DATE: January 11, 2010

LANGUAGE: ENGLISH


                       Copyright 2010 Guardian Unlimited
                              All Rights Reserved

                               2 of 2 DOCUMENTS



                               The Times (London)

                            January 12, 2010 Tuesday
                                   Edition 1;
                                    Ireland

Strike called off

BYLINE: Tom Coghlan

SECTION: NEWS; Pg. 3

LENGTH: 453 words


The unions called off the strike planned for February after the
ministers offered new talks.

LOAD-DATE: January 12, 2010

LANGUAGE: ENGLISH
"""


def factiva_rtf(stories):
    """An RTF file as Factiva saves a search's articles (its "Article Format"): each paragraph a
    \\par, the headline in bold, each article ending with its id; the search summary last."""
    paragraphs = []
    for title, byline, date, time, outlet, code, body, doc_id in stories:
        paragraphs += [r"{\b " + title + "}", *([byline] if byline else []), "523 words", date,
                       *([time] if time else []), outlet, code, "English",
                       r"\'a9 2025 The Publisher. All rights reserved.", *body, "", f"Document {doc_id}", ""]
    paragraphs += ["Search Summary", "Text", "istanbul talks", "Date", "01/05/2025 to 31/05/2025", "Source",
                   "All Sources", "Results Found", str(len(stories))]
    return (r"{\rtf1\ansi\ansicpg1252{\fonttbl{\f0 Arial;}}" + "\n"
            + "\n".join(r"\pard " + paragraph + r"\par" for paragraph in paragraphs) + "\n}")


def described(articles):
    return [(a.source, a.origin, a.title, a.outlet, a.published, a.author) for a in articles]


def test_a_nexis_uni_export_is_read_as_its_articles(tmp_path):
    articles, skipped = load_file(nexis_uni_export(tmp_path / "Files (2).docx"))
    assert described(articles) == [
        ("Files (2).docx#1", "document 1", "Prisoner swap agreed in Istanbul", "The Guardian (London)", "2025-05-16",
         "Pjotr Sauer"),
        ("Files (2).docx#2", "document 2", "Talks: what comes next", "The New York Times", "2025-05-17", None)]
    assert articles[0].text == ("Prisoner swap agreed in Istanbul\n"
                                "Russia and Ukraine agreed on Friday to exchange 1,000 prisoners of war each.\n"
                                "It was the first direct meeting of the two sides since 2022.\n")
    assert skipped == []


def test_a_nexis_uni_export_saved_as_pdf_is_read_as_its_articles(tmp_path):
    from test_loading import make_pdf

    pages = [[title, outlet, date, "Length: 523 words", *([f"Byline: {byline}"] if byline else []), "Body", *body,
              "Load-Date: May 17, 2025", "", "End of Document"] for title, outlet, date, byline, body in STORIES]
    path = tmp_path / "nexis.pdf"
    path.write_bytes(make_pdf(pages))
    articles, _ = load_file(path)
    assert [(a.source, a.title, a.outlet, a.published) for a in articles] == [
        ("nexis.pdf#1", "Prisoner swap agreed in Istanbul", "The Guardian (London)", "2025-05-16"),
        ("nexis.pdf#2", "Talks: what comes next", "The New York Times", "2025-05-17")]
    assert "1,000 prisoners of war" in articles[0].text and "Length" not in articles[0].text


def test_a_lexisnexis_academic_export_is_read_as_its_articles_their_lines_unwrapped(tmp_path):
    path = tmp_path / "results.txt"
    path.write_text(ACADEMIC, encoding="utf-8")
    articles, _ = load_file(path)
    assert described(articles) == [
        ("results.txt#1", "document 1", "Ministers agree to new talks on the pension reform", "Guardian.com",
         "2010-01-11", "Andrew Sparrow"),
        ("results.txt#2", "document 2", "Strike called off", "The Times (London)", "2010-01-12", "Tom Coghlan")]
    assert articles[0].text.splitlines()[1:] == [
        "Ministers agreed on Monday to reopen talks on the pension reform, after unions threatened a strike in "
        "February.",
        "The talks will begin next week in London."]


def test_a_factiva_export_is_read_as_its_articles(tmp_path):
    path = tmp_path / "Factiva-20250520.rtf"
    path.write_text(factiva_rtf([
        ("Russia and Ukraine agree prisoner swap", "By Max Seddon", "16 May 2025", "17:02 GMT", "Financial Times",
         "FTCOM", ["Russia and Ukraine agreed on Friday to exchange 1,000 prisoners of war each.",
                   "It was the first direct meeting since 2022."], "FTCOM00020250516el5g0001x"),
        ("Talks end after two hours", None, "17 May 2025", None, "Reuters News", "LBA",
         ["Both delegations said they would present their visions of a ceasefire."], "LBA0000020250517el5h000ab")]),
        encoding="ascii")
    articles, skipped = load_file(path)
    assert described(articles) == [
        ("Factiva-20250520.rtf#1", "document 1", "Russia and Ukraine agree prisoner swap", "Financial Times",
         "2025-05-16", "Max Seddon"),
        ("Factiva-20250520.rtf#2", "document 2", "Talks end after two hours", "Reuters News", "2025-05-17", None)]
    assert articles[0].text == ("Russia and Ukraine agree prisoner swap\n"
                                "Russia and Ukraine agreed on Friday to exchange 1,000 prisoners of war each.\n"
                                "It was the first direct meeting since 2022.\n")
    assert skipped == []


def test_an_article_that_only_mentions_an_export_s_words_stays_one_article(tmp_path):
    """An export is told by its lines' shapes together: the article's length in words among them."""
    path = tmp_path / "column.txt"
    path.write_text("Body\nThe body of the report was found.\nEnd of Document\n1 of 2 DOCUMENTS\nThat was all.\n",
                    encoding="utf-8")
    [article], _ = load_file(path)
    assert article.source == "column.txt" and article.origin is None


def test_an_export_s_articles_are_asked_about_one_by_one_and_kept_to_their_dates(tmp_path):
    library = tmp_path / "library"
    library.mkdir()
    nexis_uni_export(library / "nexis.docx")
    settings = load_settings(index_dir=tmp_path / "index")
    rag.build_index(library, settings=settings, progress=False)
    found = rag.search("How many prisoners were exchanged?", settings=settings)
    assert found[0].source == "nexis.docx#1" and "1,000 prisoners" in found[0].quote
    later = rag.search("ceasefire visions", settings=settings, scope=rag.Scope(since="2025-05-17"))
    assert {c.source for c in later} == {"nexis.docx#2"}


def test_an_export_s_article_with_no_text_is_skipped_with_the_reason_and_the_rest_kept(tmp_path):
    path = tmp_path / "nexis.txt"
    path.write_text("Talks begin\nThe Times\nMay 15, 2025\nLength: 3 words\nBody\nThe talks began.\nEnd of Document\n"
                    "A chart of the talks\nThe Times\nMay 15, 2025\nGraphic: a chart\nEnd of Document\n"
                    "Talks end\nThe Times\nMay 16, 2025\nLength: 3 words\nBody\nThe talks ended.\nEnd of Document\n",
                    encoding="utf-8")
    articles, skipped = load_file(path)
    assert [(a.source, a.title) for a in articles] == [("nexis.txt#1", "Talks begin"), ("nexis.txt#3", "Talks end")]
    assert skipped == ["nexis.txt, document 2: no article text found in it"]


def test_an_export_sharing_a_story_with_one_indexed_is_added_whole(tmp_path):
    """Two searches' exports share stories: an upload is refused for a text already indexed only
    when it is one article; an export whose first story the library holds was refused whole."""
    from rag import library

    folder = tmp_path / "library"
    folder.mkdir()
    nexis_uni_export(folder / "first search.docx", STORIES[:1])
    settings = load_settings(index_dir=tmp_path / "index")
    rag.build_index(folder, settings=settings, progress=False)
    info = library.add_articles([nexis_uni_export(tmp_path / "second search.docx")], settings=settings)
    assert info.articles == 3
