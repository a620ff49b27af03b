// The widget's logic under bare Node (`node --test test/widget.test.mjs`), in a minimal DOM stub:
// text nodes serialize escaped, an innerHTML assignment serializes as the markup it was given
// (what a browser would parse, and run). Run from tests/test_astro_example.py.
import assert from "node:assert/strict";
import { test } from "node:test";
import { MAX_HISTORY, MAX_SENT_HISTORY, createChat, mountChatWidget, responseText } from "../src/lib/chat-widget.mjs";

const escapeText = (s) => s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");

class TextNode {
  constructor(data) { this.data = String(data); }
  get outerHTML() { return escapeText(this.data); }
}
class Markup { // what innerHTML was set to: parsed (and run) by a browser
  constructor(html) { this.html = String(html); }
  get outerHTML() { return this.html; }
}
class Element {
  constructor(tag) { this.tag = tag; this.children = []; this.listeners = {}; this.className = ""; this.value = ""; }
  appendChild(node) { this.children.push(node); return node; }
  set textContent(text) { this.children = [new TextNode(text)]; }
  set innerHTML(html) { this.children = [new Markup(html)]; innerHTMLWrites.push(String(html)); }
  get innerHTML() { return this.children.map((c) => c.outerHTML).join(""); }
  get outerHTML() { return `<${this.tag} class="${this.className}">${this.innerHTML}</${this.tag}>`; }
  addEventListener(type, fn) { this.listeners[type] = fn; }
}
const innerHTMLWrites = [];
const document = { createElement: (tag) => new Element(tag), createTextNode: (data) => new TextNode(data) };

/** A fetch that answers from a list and records what the widget sent. */
function fakeFetch(answers) {
  const sent = [];
  const fn = async (url, init) => {
    sent.push({ url, ...init, json: JSON.parse(init.body) });
    const { status = 200, body, headers = {} } = answers.shift();
    return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });
  };
  return Object.assign(fn, { sent });
}

function widget(fetch) {
  const parts = { form: new Element("form"), input: new Element("textarea"), log: new Element("ol"),
                  button: new Element("button"), document, fetch };
  const mounted = mountChatWidget(parts);
  const submit = (text) => {
    parts.input.value = text;
    return parts.form.listeners.submit({ preventDefault() {} });
  };
  return { ...parts, ...mounted, submit };
}

const ANSWER = 'I studied robotics &amp; HCI &lt;at Aalto&gt; — see <a href="/education">Education</a>.';
const ATTACK = "<img src=x onerror=alert(document.cookie)>";

test("what the visitor types is rendered as text, the service's answer as HTML", async () => {
  innerHTMLWrites.length = 0;
  const w = widget(fakeFetch([{ body: { response: ANSWER, sources: [], sessionId: "s-1", language: "en" } }]));
  await w.submit(ATTACK);

  const [user, model] = w.log.children;
  assert.equal(user.className, "chat-turn chat-user");
  assert.ok(user.children.every((c) => c instanceof TextNode), "the visitor's turn holds only text nodes");
  assert.equal(user.innerHTML, "&lt;img src=x onerror=alert(document.cookie)&gt;");
  assert.ok(!w.log.innerHTML.includes("<img"), w.log.innerHTML);
  assert.ok(!innerHTMLWrites.some((html) => html.includes("onerror")), "the visitor's text never went to innerHTML");

  assert.equal(model.innerHTML, ANSWER); // the service's own anchor is markup
  assert.ok(w.log.innerHTML.includes('<a href="/education">Education</a>'));
});

test("the stub tells the two apart: the seed site's innerHTML would have rendered the <img>", () => {
  const item = document.createElement("li");
  item.innerHTML = ATTACK; // what the seed site's widget did with the visitor's message
  assert.ok(item.outerHTML.includes("<img src=x onerror="));
});

test("it sends {message, history, sessionId} and keeps the sessionId the service returns", async () => {
  const fetch = fakeFetch([
    { body: { response: ANSWER, sessionId: "from-service" } },
    { body: { response: "Yes.", sessionId: "from-service" } },
  ]);
  const w = widget(fetch);
  await w.submit("  Where did you study robotics?  ");
  await w.submit("In Finland?");

  assert.equal(fetch.sent[0].url, "/api/chat");
  assert.equal(fetch.sent[0].headers["content-type"], "application/json");
  assert.deepEqual(fetch.sent[0].json, { message: "Where did you study robotics?", history: [] });
  assert.deepEqual(fetch.sent[1].json, {
    message: "In Finland?",
    history: [
      { role: "user", parts: [{ text: "Where did you study robotics?" }] },
      { role: "model", parts: [{ text: "I studied robotics & HCI <at Aalto> — see Education." }] },
    ],
    sessionId: "from-service",
  });
  assert.equal(w.chat.sessionId, "from-service");
  assert.equal(w.chat.history.length, 4);
});

test("the history keeps at most 50 entries and sends the service's limit", async () => {
  const answers = Array.from({ length: 40 }, (_, i) => ({ body: { response: `answer ${i}`, sessionId: "s" } }));
  const fetch = fakeFetch(answers);
  const chat = createChat({ fetch });
  for (let i = 0; i < 40; i++) await chat.send(`question ${i}`);

  assert.equal(chat.history.length, MAX_HISTORY);
  assert.deepEqual(chat.history[0], { role: "user", parts: [{ text: "question 15" }] });
  assert.deepEqual(chat.history.at(-1), { role: "model", parts: [{ text: "answer 39" }] });
  const last = fetch.sent.at(-1).json.history;
  assert.equal(last.length, MAX_SENT_HISTORY);
  assert.equal(last[0].role, "user");
  assert.deepEqual(last.at(-1), { role: "model", parts: [{ text: "answer 38" }] });
});

test("an error is shown as text with Retry-After, and is not history", async () => {
  const w = widget(fakeFetch([{ status: 429, headers: { "retry-after": "12" },
                                body: { error: "too many requests: <b>slow down</b>" } }]));
  await w.submit("hello");
  const shown = w.log.children[1];
  assert.equal(shown.className, "chat-turn chat-error");
  assert.equal(shown.innerHTML, "too many requests: &lt;b&gt;slow down&lt;/b&gt; (try again in 12 s)");
  assert.deepEqual(w.chat.history, []);
  assert.equal(w.button.disabled, false);
});

test("responseText undoes the service's escaping and drops its anchors", () => {
  assert.equal(responseText('a &amp; b &lt;c&gt; &quot;d&quot; &#x27;e&#x27; &#39;f&#39; <a href="/x">X</a>'),
               "a & b <c> \"d\" 'e' 'f' X");
});
