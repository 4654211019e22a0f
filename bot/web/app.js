// newsdesk's page: ask, read the quoted answer, open a citation to see the quote highlighted in its article.
// Every piece of article or question text goes into the page as text (textContent), never as markup.
"use strict";

const NOT_COVERED = "The articles don't cover this question.";
const state = { conversation: null, token: sessionStorage.getItem("newsdesk-token") };
const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

async function api(path, body) {
  const headers = { "Accept": "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (state.token) headers["Authorization"] = "Bearer " + state.token;
  const response = await fetch(path, {
    method: body === undefined ? "GET" : "POST", headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({}));
  if (response.status === 401) $("token-form").hidden = false;
  if (!response.ok) throw new Error(describeError(response.status, data));
  return data;
}

function describeError(status, data) {
  const detail = data && data.detail;
  if (Array.isArray(detail)) return detail.map((d) => d.msg).join("; ");
  return detail || "the server answered " + status;
}

// The citation's date and source, as "Source · 2017-06-22".
function details(c) {
  return [c.source, c.date].filter(Boolean).join(" · ");
}

function safeLink(url) {
  return /^https?:\/\//i.test(url || "") ? url : null;
}

// Sources numbered in order of first citation, as in the terminal and Telegram.
function numberSources(answer) {
  const numbers = new Map();
  for (const s of answer.sentences) {
    if (!numbers.has(s.citation.article_id)) numbers.set(s.citation.article_id, numbers.size + 1);
  }
  return numbers;
}

// "Title: the sentence before", less what the quote above already shows (its article's title, or itself).
function leadIn(sentence, above) {
  const context = sentence.context;
  if (!context) return null;
  const sameArticle = above && above.citation.article_id === sentence.citation.article_id;
  const previous = sameArticle && above.text === context.previous ? null : context.previous;
  const parts = [sameArticle ? null : context.title, previous].filter(Boolean);
  return parts.length ? el("p", { class: "lead" }, parts.join(": ")) : null;
}

function quoteItem(sentence, number, above) {
  const c = sentence.citation;
  const cite = el("button", {
    type: "button", class: "cite", "aria-label": `Open source ${number} at this quote`,
    "data-article": c.article_id, "data-start": c.start, "data-end": c.end, onclick: () => openArticle(c),
  }, `[${number}]`);
  const also = sentence.also_reported_by.length
    ? el("p", { class: "also" }, "also reported by: " +
        sentence.also_reported_by.map((a) => a.title + (details(a) ? ` (${details(a)})` : "")).join("; "))
    : null;
  return el("li", { class: "quote" }, leadIn(sentence, above),
    el("blockquote", {}, el("span", { class: "quote-text" }, sentence.text), " ", cite), also);
}

function sourceItem(citation, number) {
  const link = safeLink(citation.url);
  return el("li", { value: String(number) },
    el("button", { type: "button", class: "source-title", onclick: () => openArticle(citation) },
      citation.title || citation.article_id),
    details(citation) ? el("span", { class: "details" }, " · " + details(citation)) : null,
    link ? " · " : null, link ? el("a", { href: link, target: "_blank", rel: "noopener noreferrer" }, "link") : null);
}

function undatedNote(answer) {
  const n = answer.undated_left_out || 0;
  if (!n) return null;
  return el("p", { class: "undated" },
    n === 1 ? "1 article without a date was not searched." : `${n} articles without a date were not searched.`);
}

function answerBlock(answer) {
  if (!answer.answered) return el("div", {}, el("p", { class: "not-covered" }, NOT_COVERED), undatedNote(answer));
  const numbers = numberSources(answer);
  const firstQuote = new Map();
  for (const s of answer.sentences) {
    if (!firstQuote.has(s.citation.article_id)) firstQuote.set(s.citation.article_id, s.citation);
  }
  return el("div", { class: "answer" },
    el("ol", { class: "quotes" },
      ...answer.sentences.map((s, i) => quoteItem(s, numbers.get(s.citation.article_id), answer.sentences[i - 1]))),
    el("h3", { class: "sources-head" }, "Sources"),
    el("ol", { class: "sources" }, ...[...firstQuote.values()].map((c) => sourceItem(c, numbers.get(c.article_id)))),
    undatedNote(answer));
}

function addTurn(question) {
  $("welcome").hidden = true;
  const turn = el("article", { class: "turn" }, el("p", { class: "question" }, question));
  $("chat").append(turn);
  return turn;
}

async function ask(event) {
  event.preventDefault();
  const input = $("question");
  const question = input.value.trim();
  if (!question) return;
  const turn = addTurn(question);
  setBusy(true, "Searching the articles…");
  try {
    const answer = await api("/api/ask", { question, conversation: state.conversation });
    state.conversation = answer.conversation;
    turn.append(answerBlock(answer));
    input.value = "";
    setBusy(false, "");
  } catch (error) {
    turn.append(el("p", { class: "error" }, "Could not answer: " + error.message));
    setBusy(false, "");
  }
  showTurn(turn);
  input.focus({ preventScroll: true });
}

// Bring a new turn's question to the top of the view, so its answer is not left under the ask bar.
function showTurn(turn) {
  const still = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  turn.scrollIntoView({ block: "start", behavior: still ? "auto" : "smooth" });
}

function setBusy(busy, message) {
  $("ask-button").disabled = busy;
  $("status").textContent = message;
}

function newChat() {
  state.conversation = null;
  $("chat").replaceChildren();
  $("welcome").hidden = !$("holdings").textContent;
  $("status").textContent = "New conversation: the next question stands alone.";
  $("question").focus();
}

// Offsets count code points (Python's str); JavaScript strings count UTF-16 units.
function utf16Index(text, codePoints) {
  let index = 0;
  for (let n = 0; n < codePoints && index < text.length; n++) {
    index += text.codePointAt(index) > 0xffff ? 2 : 1;
  }
  return index;
}

async function openArticle(citation) {
  let article;
  try {
    article = await api("/api/articles/" + encodeURIComponent(citation.article_id));
  } catch (error) {
    $("status").textContent = "Could not open the article: " + error.message;
    return;
  }
  const text = article.text;
  const start = utf16Index(text, citation.start);
  const end = start + utf16Index(text.slice(start), citation.end - citation.start);
  const mark = el("mark", { id: "quoted" }, text.slice(start, end));
  $("article-title").textContent = article.title || article.id;
  const link = safeLink(article.url);
  $("article-meta").replaceChildren(details(article),
    link ? el("a", { href: link, target: "_blank", rel: "noopener noreferrer" }, (details(article) ? " · " : "") + link) : "");
  $("article-text").replaceChildren(text.slice(0, start), mark, text.slice(end));
  const dialog = $("article");
  if (!dialog.open) dialog.showModal();
  mark.scrollIntoView({ block: "center" });
  $("article-text").focus({ preventScroll: true });
}

// Before the first question: what the index holds, and questions about its newest stories to start from.
async function welcome() {
  let stats;
  try {
    stats = await api("/api/stats");
  } catch (error) {
    return;  // the page works without it (e.g. before a token is given)
  }
  const sources = stats.sources ? ` from ${stats.sources} source${stats.sources === 1 ? "" : "s"}` : "";
  const span = stats.first_date ? `, ${stats.first_date} to ${stats.last_date}` : "";
  $("holdings").textContent = `The index holds ${stats.articles} article${stats.articles === 1 ? "" : "s"}` +
    `${sources}${span}. Ask in your own words; a follow-up can lean on the answer before it.`;
  $("examples").replaceChildren(...(stats.newest || []).map((title) => {
    const question = `Tell me about “${title}”`;
    return el("button", { type: "button", class: "example", onclick: () => useExample(question) }, question);
  }));
  document.querySelector("#welcome .try").hidden = !(stats.newest || []).length;
  $("welcome").hidden = $("chat").children.length > 0;
}

function useExample(question) {
  $("question").value = question;
  $("question").focus();
}

function useToken(event) {
  event.preventDefault();
  state.token = $("token").value.trim() || null;
  if (state.token) sessionStorage.setItem("newsdesk-token", state.token);
  $("token-form").hidden = true;
  $("status").textContent = "Token saved for this tab; ask again.";
  welcome();
}

document.addEventListener("DOMContentLoaded", () => {
  $("ask").addEventListener("submit", ask);
  $("new-chat").addEventListener("click", newChat);
  $("token-form").addEventListener("submit", useToken);
  $("close-article").addEventListener("click", () => $("article").close());
  $("article").addEventListener("click", (event) => {
    if (event.target === $("article")) $("article").close();  // a click on the backdrop
  });
  $("question").focus();
  welcome();
});
