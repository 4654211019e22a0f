"""`newsdesk eval`'s reading and scoring: answer-sentence sets (WikiQA, TrecQA), the dense baseline, scripted
conversations and the choice of what is indexed."""

import json

from embeddings.models import Article
from embeddings.segment import split_sentences
from retrieval.evaluate import evaluate, evenly, read_conversations, read_qa, sample_off_corpus
from tests.conftest import SHARED, assert_quotes_are_exact, require_shared

GLACIER = ["A partly submerged glacier cave on Perito Moreno Glacier .", "The ice facade is approximately 60 m high",
           "A glacier cave is a cave formed within the ice of a glacier ."]
TREC = ["Hugo Young wrote `` The Iron Lady '' in 1989 .", "Mrs. Thatcher left office in 1990 .",
        "The book sold well . Critics praised it .", "Young , a journalist , died in 2003 ."]


def _record(id_, question, title, candidates, labels, **extra):
    """A record in the shape of the shared WikiQA/TrecQA files: candidates joined by spaces, with offsets."""
    context = " ".join(candidates)
    starts = [sum(len(c) + 1 for c in candidates[:i]) for i in range(len(candidates))]
    answers = [c for c, label in zip(candidates, labels) if label]
    return {"id": id_, "question": question, "context_title": title, "context": context, "sentences": candidates,
            "sentence_starts": starts, "labels": labels, "answers": answers,
            "answer_starts": [s for s, label in zip(starts, labels) if label],
            "answer_start": next((s for s, label in zip(starts, labels) if label), None), **extra}


def _write(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def _answers_map(articles, questions, records):
    by_id = {a.id: a for a in articles}
    for question, record in zip(questions, records):
        text = by_id[question.article_id].text
        assert [text[a:b] for a, b in question.spans] == record["answers"]


def test_wikiqa_records_give_one_paragraph_per_candidate_and_share_their_page(tmp_path):
    records = [_record("wikiqa:Q1", "how are glacier caves formed?", "Glacier cave", GLACIER, [0, 0, 1]),
               _record("wikiqa:Q2", "how high is the ice facade?", "Glacier cave", GLACIER, [0, 1, 0]),
               _record("wikiqa:Q3", "who found the cave?", "Glacier cave", GLACIER, [0, 0, 0], is_impossible=True)]
    articles, questions = read_qa([_write(tmp_path / "wikiqa.jsonl", records)])
    assert [(a.id, a.title) for a in articles] == [("Glacier cave", "Glacier cave")]
    assert articles[0].text == "\n\n".join(GLACIER)
    assert [s.text for s in split_sentences(articles[0])] == GLACIER  # the splitter never merges two candidates
    _answers_map(articles, questions, records)
    assert all(q.whole_sentences for q in questions)
    assert [q.impossible for q in questions] == [False, False, True] and questions[2].spans == []


def test_trecqa_records_are_articles_of_their_own_with_candidates_shuffled(tmp_path):
    records = [_record("trecqa:1", "Who wrote The Iron Lady?", "", TREC, [1, 0, 0, 1]),
               _record("trecqa:2", "When did Thatcher leave office?", "", TREC, [0, 1, 0, 0])]
    articles, questions = read_qa([_write(tmp_path / "trecqa.jsonl", records)])
    assert [a.id for a in articles] == ["trecqa:1", "trecqa:2"]
    assert [q.article_id for q in questions] == ["trecqa:1", "trecqa:2"]
    for article in articles:
        assert sorted(article.text.split("\n\n")) == sorted(TREC)
    assert any(a.text.split("\n\n")[0] != TREC[0] for a in articles)  # correct ones no longer come first
    _answers_map(articles, questions, records)


def test_squad_paragraphs_of_one_title_are_joined_as_before(tmp_path):
    records = [{"id": "1", "question": "Who?", "context_title": "T", "context": "Ann came.", "answers": ["Ann"],
                "answer_start": 0},
               {"id": "2", "question": "What?", "context_title": "T", "context": "Bob left.", "answers": ["left"],
                "answer_starts": [4]}]
    articles, questions = read_qa([_write(tmp_path / "squad.jsonl", records)])
    assert [(a.id, a.text) for a in articles] == [("T", "Ann came.\n\nBob left.")]
    assert [q.spans for q in questions] == [[(0, 3)], [(15, 19)]] and not questions[0].whole_sentences


def test_shared_wikiqa_and_trecqa_answers_map_into_their_articles():
    qa = require_shared(SHARED / "data" / "qa")
    for pattern in ("wikiqa_train.part*.jsonl", "trecqa_train.part*.jsonl"):
        files = sorted(qa.glob(pattern))
        records = [json.loads(line) for f in files for line in f.read_text().splitlines() if line.strip()]
        articles, questions = read_qa(files)
        _answers_map(articles, questions, records)


def test_part_or_copy_of_a_gold_candidate_counts_only_for_sentence_sets():
    from retrieval.evaluate import Question, gold_rank
    from retrieval.models import Answer, AnswerSentence, Citation

    def answer(start, end, article_id="a", text="x"):
        citation = Citation(article_id=article_id, title="", start=start, end=end)
        return Answer(question="?", answered=True, sentences=[AnswerSentence(text=text, score=1.0, citation=citation)])

    candidate = Question("q", "?", "a", [(10, 50)], False, whole_sentences=True, answers=("Young wrote it .",))
    phrase = Question("q", "?", "a", [(10, 50)], False, answers=("Young wrote it .",))  # a SQuAD answer phrase
    assert gold_rank(candidate, answer(10, 30)) == 1 and gold_rank(candidate, answer(0, 30)) is None  # cut in two
    assert gold_rank(candidate, answer(0, 16, "b", "Young wrote it .")) == 1  # the same candidate, another pool
    assert gold_rank(phrase, answer(10, 30)) is None and gold_rank(phrase, answer(5, 60)) == 1
    assert gold_rank(phrase, answer(0, 16, "b", "Young wrote it .")) is None


def test_dense_baseline_ranks_the_nearest_sentence_first(sample_index, sample_pipeline, encoder):
    from retrieval.baseline import DenseBaseline

    baseline = DenseBaseline(sample_index, encoder)
    answer = baseline.ask("How much will the Harrowgate Bay harbour wall repair cost, and how did the council vote?",
                          top=5)
    assert answer.sentences[0].text.startswith("Harrowgate Bay town council voted 7 to 2")
    assert answer.sentences[0].citation.article_id == "wire-2025-0214-harbour-wall"
    scores = [s.score for s in answer.sentences]
    assert len(scores) == 5 and scores == sorted(scores, reverse=True) and answer.confidence is None
    assert_quotes_are_exact(sample_pipeline, answer)


def test_dense_baseline_is_scored_without_abstention_figures(sample_index, sample_pipeline, encoder, tmp_path):
    from retrieval.baseline import DenseBaseline

    article = sample_pipeline.article("wire-2025-0214-harbour-wall")
    start = article.text.index("voted 7 to 2")
    record = {"id": "q", "question": "How did the Harrowgate Bay council vote on the harbour wall?",
              "context_title": article.id, "answers": ["voted 7 to 2"], "answer_start": start}
    _, questions = read_qa([_write(tmp_path / "q.jsonl", [record])])
    report = evaluate(DenseBaseline(sample_index, encoder), questions, 0.5).report()
    assert report["P@1"] == 1.0 and report["citation_accuracy"] == 1.0
    assert report["answered_when_answerable"] is None and report["answered_when_off_corpus"] is None


def test_scripted_conversations_are_scored_turn_by_turn(sample_pipeline, tmp_path):
    kestrel, storm = "html/kestrel-robotics-delivery-drones.html", "wire-2025-1109-storm-orla"
    scripts = [{"id": "kestrel", "turns": [{"question": "Who founded Kestrel Robotics?", "article_id": kestrel},
                                           {"question": "When does their trial start?", "article_id": kestrel}]},
               {"id": "storm", "turns": [
                   {"question": "How many homes lost electricity during Storm Orla?", "article_id": storm},
                   {"question": "Who painted the Mona Lisa?", "article_id": storm}]}]  # not covered: abstains
    path = _write(tmp_path / "chat.jsonl", [{"id": "q", "question": "Who?", "context_title": kestrel}, *scripts])
    assert len(read_qa([path])[1]) == 1  # conversation records are not questions
    conversations = read_conversations([path])
    assert [[t.id for t in c.turns] for c in conversations] == [["kestrel#1", "kestrel#2"], ["storm#1", "storm#2"]]
    report = evaluate(sample_pipeline, [], 0.5, conversations=conversations).report()
    assert report["conversations"] == 2 and report["conversation_turns"] == 4
    assert report["turns_right_article"] == 0.75 and report["conversations_all_right"] == 0.5


def test_indexed_articles_are_spread_evenly_and_half_is_every_other():
    assert evenly(list(range(48)), 24) == list(range(0, 48, 2))
    assert evenly(list(range(47)), 24) == list(range(0, 47, 2))
    assert evenly(list(range(48)), 4) == [0, 12, 24, 36] and evenly(list(range(3)), 5) == [0, 1, 2]


def test_off_corpus_questions_are_capped_evenly():
    from retrieval.evaluate import Question

    questions = [Question(str(n), "?", "in" if n % 3 == 0 else "out", [], False) for n in range(30)]
    kept = sample_off_corpus(questions, {"in"}, 4)
    assert [q.id for q in kept if q.article_id == "in"] == [str(n) for n in range(0, 30, 3)]
    assert len([q for q in kept if q.article_id == "out"]) == 4


def test_eval_command_indexes_distractors_and_a_share_of_the_articles(tmp_path, capsys):
    from bot.cli import main

    records = [{"id": f"{t}{n}", "question": f"What is {t}?", "context_title": t, "context": f"{t} is a letter.",
                "answers": [t], "answer_start": 0} for t in "ABCD" for n in range(3)]
    distractor = Article(id="extra", title="Extra", text="Nothing to see here.")
    _write(tmp_path / "corpus.jsonl", [distractor.model_dump(include={"id", "title", "text"})])
    code = main(["eval", str(_write(tmp_path / "qa.jsonl", records)), "--json", "--indexed", "2",
                 "--off-corpus-sample", "2", "--distractors", str(tmp_path / "corpus.jsonl"),
                 "--index", str(tmp_path / "index")])
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0 and report["articles"] == 3  # A and C of the four, and the distractor
    assert report["answerable"] == 6 and report["off_corpus"] == 2 and report["ranking"] == "newsdesk"
