// The chat widget's logic, in the browser (src/components/ChatWidget.astro mounts it) and under
// bare Node for its test (test/widget.test.mjs, with a minimal DOM stub). Plain ESM, no deps.
//
// Two kinds of text reach the page, and they go in differently on purpose:
//  - what the visitor typed goes in as TEXT (textContent): it is untrusted markup. The seed
//    site's widget put the visitor's message into innerHTML, which is its own XSS: typing or
//    pasting `<img src=x onerror=alert(document.cookie)>` (or a link that pre-fills the box) ran
//    script in the site's origin. Error sentences go in as text too.
//  - the service's `response` goes in as HTML (innerHTML): the service escapes everything the LM
//    wrote (pipeline/render.py) and the only markup it adds is its own `<a href>` anchors to the
//    site's pages, which is why it can be rendered as HTML at all.

/** Entries of history kept in the page (user and model turns, oldest dropped first). */
export const MAX_HISTORY = 50;
/** Entries sent with a message: all of them; the service keeps its RAG_MAX_HISTORY_TURNS (50) most recent. */
export const MAX_SENT_HISTORY = 50;
/** Characters of one history text: the service clips each to its RAG_MAX_MESSAGE_CHARS (2,000). */
export const MAX_TEXT_CHARS = 2000;

const ENTITIES = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

/** The plain text of the service's `response` (escaped text and <a> tags), for the history. */
export function responseText(html) {
  return String(html)
    .replace(/<[^>]*>/g, "")
    .replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (whole, name) => {
      if (name[0] !== "#") return ENTITIES[name.toLowerCase()] ?? whole;
      const code = name[1] === "x" || name[1] === "X" ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
      return Number.isFinite(code) ? String.fromCodePoint(code) : whole;
    });
}

/**
 * The conversation without any DOM: Gemini-format history, the service's sessionId, the request.
 * @param {{ endpoint?: string, fetch?: typeof fetch, maxHistory?: number, maxSentHistory?: number }} [options]
 */
export function createChat({
  endpoint = "/api/chat",
  fetch = (...args) => globalThis.fetch(...args),
  maxHistory = MAX_HISTORY,
  maxSentHistory = MAX_SENT_HISTORY,
} = {}) {
  /** @type {{ role: "user" | "model", parts: { text: string }[] }[]} */
  const history = [];
  const chat = { history, sessionId: undefined };

  /** Send one message; resolves to the service's body, or throws an Error with {status, retryAfter}. */
  chat.send = async (message) => {
    let sent = history.slice(-maxSentHistory);
    if (sent[0]?.role === "model") sent = sent.slice(1); // start at a visitor's turn
    const body = { message, history: sent, sessionId: chat.sessionId };
    let res;
    try {
      res = await fetch(endpoint, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body), // sessionId left out while there is none
      });
    } catch {
      throw Object.assign(new Error("the chat could not be reached: check the connection and try again"), { status: 0 });
    }
    const data = await res.json().catch(() => ({}));
    if (!res.ok) {
      const retryAfter = Number(res.headers.get("retry-after")) || undefined;
      throw Object.assign(new Error(data.error ?? `the chat answered ${res.status}`), { status: res.status, retryAfter });
    }
    if (data.sessionId) chat.sessionId = data.sessionId;
    history.push(
      { role: "user", parts: [{ text: message.slice(0, MAX_TEXT_CHARS) }] },
      { role: "model", parts: [{ text: responseText(data.response ?? "").slice(0, MAX_TEXT_CHARS) }] },
    );
    if (history.length > maxHistory) history.splice(0, history.length - maxHistory);
    return data;
  };
  return chat;
}

/**
 * Wire the widget's elements: a form with a text input, and a list the turns are added to.
 * @param {{ form: HTMLFormElement, input: HTMLInputElement | HTMLTextAreaElement, log: HTMLElement,
 *           button?: HTMLButtonElement, document?: Document, endpoint?: string, fetch?: typeof fetch }} parts
 * @returns {{ chat: ReturnType<typeof createChat>, ask: (message: string) => Promise<void> }}
 */
export function mountChatWidget({ form, input, log, button, document = globalThis.document, ...options }) {
  const chat = createChat(options);
  let busy = false;

  const turn = (kind) => {
    const item = document.createElement("li");
    item.className = `chat-turn chat-${kind}`;
    log.appendChild(item);
    return item;
  };

  const ask = async (typed) => {
    const message = String(typed).trim();
    if (!message || busy) return;
    busy = true;
    if (button) button.disabled = true;
    // the visitor's words: a text node, never markup (see the top of this file)
    turn("user").appendChild(document.createTextNode(message));
    const answer = turn("model");
    answer.textContent = "…";
    try {
      const data = await chat.send(message);
      // the service's answer: escaped HTML whose only tags are its own <a href> anchors
      answer.innerHTML = data.response;
    } catch (error) {
      answer.className = "chat-turn chat-error";
      answer.textContent = error.retryAfter ? `${error.message} (try again in ${error.retryAfter} s)` : error.message;
    } finally {
      busy = false;
      if (button) button.disabled = false;
      log.scrollTop = log.scrollHeight;
    }
  };

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const typed = input.value;
    input.value = "";
    return ask(typed);
  });
  return { chat, ask };
}
