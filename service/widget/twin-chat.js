/* <twin-chat>: the chat with the site's digital twin, dropped into any page with one script tag.
 *
 *   <script src="https://twin.example.org/widget.js" defer></script>
 *
 * The service is the script's own origin (or the element's `service` attribute). No dependency, no
 * inline script or style (the styles are a constructed stylesheet), no eval: a page with a strict
 * Content-Security-Policy can adopt it. The visitor's text is only ever text; the service's answer
 * is parsed inertly and rebuilt from text and links to http(s) or site paths, nothing else. The
 * conversation (text, at most 50 entries) and the session id are kept per tab.
 */
(() => {
  "use strict";
  if (customElements.get("twin-chat")) return;

  const SCRIPT = document.currentScript;
  const SERVICE = SCRIPT && SCRIPT.src ? new URL(SCRIPT.src).origin : "";
  const MAX_HISTORY = 50; // what the site's original widget keeps and sends
  const STORE_KEY = "twin-chat:";

  const TEXT = {
    en: {
      open: "Chat with me", close: "Close the chat", title: "Ask me about my work",
      placeholder: "Ask a question…", send: "Send", you: "You", twin: "Twin",
      hello: "Hi! Ask me about my studies, work, papers, projects or awards.",
      thinking: "Thinking…", offline: "The chat service cannot be reached right now.",
      retry: "Try again", back: "Connected again.", busy: "Too many questions at once: please wait a moment.",
      failed: "Something went wrong while answering.", tooLong: "That message is too long.",
      waitSeconds: (s) => ` Try again in ${s} s.`,
    },
    ko: {
      open: "저와 대화하기", close: "대화 닫기", title: "제 작업에 대해 물어보세요",
      placeholder: "질문을 입력하세요…", send: "보내기", you: "나", twin: "트윈",
      hello: "안녕하세요! 학력, 경력, 논문, 프로젝트, 수상에 대해 물어보세요.",
      thinking: "답을 찾는 중…", offline: "지금은 채팅 서비스에 연결할 수 없어요.",
      retry: "다시 시도", back: "다시 연결되었어요.", busy: "질문이 너무 많아요. 잠시 후에 다시 물어봐 주세요.",
      failed: "답하는 중에 문제가 생겼어요.", tooLong: "메시지가 너무 길어요.",
      waitSeconds: (s) => ` ${s}초 후에 다시 시도해 주세요.`,
    },
  };

  const CSS = `
    :host { all: initial; position: fixed; right: 1rem; bottom: 1rem; z-index: 2147483000;
      font: 15px/1.45 system-ui, -apple-system, "Segoe UI", "Noto Sans KR", "Noto Sans CJK KR", sans-serif;
      color: #1d1d1f; }
    button { font: inherit; cursor: pointer; }
    .launcher { border: 0; border-radius: 999px; padding: .7rem 1.1rem; background: #2b59c3; color: #fff;
      box-shadow: 0 4px 14px rgba(0,0,0,.2); }
    .launcher:focus-visible, button:focus-visible, textarea:focus-visible { outline: 3px solid #f5a623; outline-offset: 2px; }
    .panel { display: flex; flex-direction: column; width: min(24rem, calc(100vw - 2rem));
      height: min(34rem, calc(100vh - 2rem)); background: #fff; border-radius: 12px;
      box-shadow: 0 8px 30px rgba(0,0,0,.25); overflow: hidden; }
    .panel[hidden], .launcher[hidden], .status[hidden] { display: none; }
    header { display: flex; align-items: center; justify-content: space-between; gap: .5rem;
      padding: .6rem .8rem; background: #2b59c3; color: #fff; }
    header h2 { font-size: 1rem; margin: 0; font-weight: 600; }
    header button { border: 0; background: transparent; color: #fff; font-size: 1.3rem; line-height: 1; padding: .2rem .4rem; }
    .log { flex: 1; overflow-y: auto; padding: .8rem; display: flex; flex-direction: column; gap: .6rem; }
    .msg { max-width: 85%; padding: .5rem .7rem; border-radius: 10px; white-space: pre-wrap; overflow-wrap: anywhere; }
    .msg.user { align-self: flex-end; background: #e8eefc; }
    .msg.model { align-self: flex-start; background: #f3f3f5; }
    .msg.pending { color: #6b6b70; }
    .msg a { color: #1f4fb5; }
    .sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
    .status { padding: .5rem .8rem; background: #fff4e0; color: #6a4500; display: flex; gap: .6rem;
      align-items: center; justify-content: space-between; }
    .status button { border: 1px solid #6a4500; background: #fff; border-radius: 6px; padding: .2rem .6rem; }
    form { display: flex; gap: .4rem; padding: .6rem; border-top: 1px solid #e5e5ea; }
    textarea { flex: 1; resize: none; font: inherit; padding: .45rem .55rem; border: 1px solid #c7c7cc; border-radius: 8px;
      min-height: 2.4rem; max-height: 7rem; }
    form button { border: 0; border-radius: 8px; padding: 0 .9rem; background: #2b59c3; color: #fff; }
    form button:disabled { opacity: .5; cursor: default; }
    @media (prefers-color-scheme: dark) {
      .panel { background: #1c1c1e; color: #f2f2f7; }
      .msg.user { background: #23365f; } .msg.model { background: #2c2c2e; } .msg a { color: #8fb0ff; }
      textarea { background: #2c2c2e; color: #f2f2f7; border-color: #48484a; } form { border-color: #38383a; }
    }`;

  function languageOf(element) {
    const wanted = element.getAttribute("lang") || document.documentElement.lang || navigator.language || "en";
    return wanted.toLowerCase().startsWith("ko") ? "ko" : "en";
  }

  function newSessionId() {
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  // the service's answer, rebuilt from what it may contain: text, line breaks, links to http(s) or site paths
  function safeLinkTarget(href) {
    if (!href) return null;
    if (href.startsWith("/") && !href.startsWith("//")) return href;
    if (href.startsWith("#")) return href;
    try {
      const url = new URL(href);
      return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
    } catch (_) {
      return null;
    }
  }

  function rebuild(node, into) {
    for (const child of node.childNodes) {
      if (child.nodeType === Node.TEXT_NODE) {
        into.appendChild(document.createTextNode(child.data));
      } else if (child.nodeType === Node.ELEMENT_NODE) {
        const tag = child.tagName.toLowerCase();
        const href = tag === "a" ? safeLinkTarget(child.getAttribute("href")) : null;
        if (href) {
          const a = document.createElement("a");
          a.href = href;
          a.rel = "noopener noreferrer";
          if (!href.startsWith("/") && !href.startsWith("#")) a.target = "_blank";
          a.textContent = child.textContent;
          into.appendChild(a);
        } else if (tag === "br") {
          into.appendChild(document.createTextNode("\n"));
        } else if (tag !== "script" && tag !== "style" && tag !== "template") {
          rebuild(child, into); // any other element: its text only
        }
      }
    }
  }

  function parseInert(html) {
    // DOMParser's document runs no script and loads nothing
    return new DOMParser().parseFromString(`<!doctype html><body>${html}`, "text/html").body;
  }

  function renderAnswer(html, into) {
    into.replaceChildren();
    rebuild(parseInert(html), into);
  }

  function textOf(html) {
    return parseInert(html).textContent || "";
  }

  class TwinChat extends HTMLElement {
    connectedCallback() {
      if (this.root) return;
      this.service = (this.getAttribute("service") || SERVICE).replace(/\/+$/, "");
      this.lang = languageOf(this);
      this.t = TEXT[this.lang];
      this.storeKey = STORE_KEY + this.service;
      this.restore();
      this.root = this.attachShadow({ mode: "open" });
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS);
      this.root.adoptedStyleSheets = [sheet];
      this.build();
    }

    // -- the conversation, per tab ------------------------------------------------------------------

    restore() {
      let saved = null;
      try {
        saved = JSON.parse(sessionStorage.getItem(this.storeKey) || "null");
      } catch (_) {
        saved = null;
      }
      const valid = saved && typeof saved.sessionId === "string" && Array.isArray(saved.turns);
      this.sessionId = valid ? saved.sessionId : newSessionId();
      this.turns = valid
        ? saved.turns.filter((t) => t && (t.role === "user" || t.role === "model") && typeof t.text === "string")
        : [];
    }

    save() {
      this.turns = this.turns.slice(-MAX_HISTORY);
      try {
        sessionStorage.setItem(this.storeKey, JSON.stringify({ sessionId: this.sessionId, turns: this.turns }));
      } catch (_) {
        /* private mode or full: the chat still works for this page */
      }
    }

    history() {
      // text, not HTML, as the model's turns: what the service reads is what the visitor read
      return this.turns.slice(-MAX_HISTORY).map((t) => ({ role: t.role, parts: [{ text: t.text }] }));
    }

    // -- the interface ------------------------------------------------------------------------------

    el(tag, props = {}, ...children) {
      const node = document.createElement(tag);
      for (const [key, value] of Object.entries(props)) {
        if (key === "class") node.className = value;
        else if (key.startsWith("aria-") || key === "role" || key === "for") node.setAttribute(key, value);
        else node[key] = value;
      }
      node.append(...children);
      return node;
    }

    build() {
      const t = this.t;
      this.launcher = this.el("button", { class: "launcher", type: "button", "aria-expanded": "false" }, t.open);
      this.launcher.addEventListener("click", () => this.open());
      this.closeButton = this.el("button", { type: "button", "aria-label": t.close, title: t.close }, "×");
      this.closeButton.addEventListener("click", () => this.close());
      this.log = this.el("div", { class: "log", role: "log", "aria-live": "polite", "aria-relevant": "additions" });
      this.retryButton = this.el("button", { type: "button" }, t.retry);
      this.retryButton.addEventListener("click", () => this.retry());
      this.statusText = this.el("span", { role: "status" });
      this.status = this.el("div", { class: "status", hidden: true }, this.statusText, this.retryButton);
      this.input = this.el("textarea", { rows: 1, placeholder: t.placeholder, "aria-label": t.placeholder });
      this.sendButton = this.el("button", { type: "submit" }, t.send);
      const form = this.el("form", {}, this.input, this.sendButton);
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        this.ask(this.input.value);
      });
      this.input.addEventListener("keydown", (event) => {
        if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
          event.preventDefault();
          this.ask(this.input.value);
        }
      });
      const heading = this.el("h2", { id: "twin-chat-title" }, t.title);
      this.panel = this.el("section", { class: "panel", hidden: true, role: "dialog", "aria-labelledby": "twin-chat-title" },
        this.el("header", {}, heading, this.closeButton), this.log, this.status, form);
      this.panel.addEventListener("keydown", (event) => {
        if (event.key === "Escape") this.close();
      });
      this.root.append(this.launcher, this.panel);
      this.bubble("model", null).textContent = t.hello;
      for (const turn of this.turns) {
        const bubble = this.bubble(turn.role, null);
        if (turn.role === "model" && turn.html) renderAnswer(turn.html, bubble);
        else bubble.textContent = turn.text;
      }
      if (this.hasAttribute("open")) this.open();
    }

    open() {
      this.panel.hidden = false;
      this.launcher.hidden = true;
      this.launcher.setAttribute("aria-expanded", "true");
      this.input.focus();
      this.log.scrollTop = this.log.scrollHeight;
    }

    close() {
      this.panel.hidden = true;
      this.launcher.hidden = false;
      this.launcher.setAttribute("aria-expanded", "false");
      this.launcher.focus();
    }

    bubble(role, label) {
      const who = this.el("span", { class: "sr" }, `${role === "user" ? this.t.you : this.t.twin}: `);
      const body = this.el("span", {});
      const node = this.el("div", { class: `msg ${role}` }, who, body);
      if (label) node.setAttribute("aria-label", label);
      this.log.append(node);
      this.log.scrollTop = this.log.scrollHeight;
      return body;
    }

    showStatus(text, canRetry) {
      this.statusText.textContent = text;
      this.retryButton.hidden = !canRetry;
      this.status.hidden = false;
    }

    hideStatus() {
      this.status.hidden = true;
    }

    busy(on) {
      this.sendButton.disabled = on;
      this.input.readOnly = on;
    }

    // -- asking -------------------------------------------------------------------------------------

    async ask(raw) {
      const message = (raw || "").trim();
      if (!message || this.pending) return;
      this.input.value = "";
      this.bubble("user", null).textContent = message; // the visitor's text is only ever text
      this.pending = { message, history: this.history() };
      this.turns.push({ role: "user", text: message });
      this.save();
      await this.send();
    }

    async retry() {
      if (!this.pending) {
        this.hideStatus();
        return;
      }
      // is the service itself back? (not the page's own site)
      try {
        const health = await fetch(`${this.service}/health`, { cache: "no-store" });
        if (!health.ok) throw new Error(`status ${health.status}`);
      } catch (_) {
        this.showStatus(this.t.offline, true);
        return;
      }
      this.showStatus(this.t.back, false);
      await this.send();
    }

    async send() {
      const { message, history } = this.pending;
      const answer = this.bubble("model", null);
      answer.parentNode.classList.add("pending");
      answer.textContent = this.t.thinking;
      this.busy(true);
      let started = false;
      try {
        const response = await fetch(`${this.service}/api/chat/stream`, {
          method: "POST",
          headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
          body: JSON.stringify({ message, history, sessionId: this.sessionId }),
        });
        if (!response.ok) {
          const error = await response.json().catch(() => ({}));
          this.fail(answer, response.status, error.error, response.headers.get("Retry-After"));
          return;
        }
        const final = await this.readStream(response, answer, () => {
          if (!started) {
            started = true;
            answer.textContent = "";
            answer.parentNode.classList.remove("pending");
          }
        });
        if (!final) return;
        renderAnswer(final.response, answer);
        answer.parentNode.classList.remove("pending");
        this.turns.push({ role: "model", text: textOf(final.response), html: final.response });
        if (typeof final.sessionId === "string") this.sessionId = final.sessionId;
        this.save();
        this.pending = null;
        this.hideStatus();
      } catch (_) {
        // no answer at all: the service is down or unreachable; the question is kept for a retry
        answer.parentNode.remove();
        this.showStatus(this.t.offline, true);
      } finally {
        this.busy(false);
      }
    }

    async readStream(response, answer, onFirstDelta) {
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) throw new Error("the stream ended without an answer");
        buffer += decoder.decode(value, { stream: true }).replace(/\r\n/g, "\n");
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = (block.match(/^event: ?(.*)$/m) || [])[1] || "message";
          const data = block.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.replace(/^data: ?/, "")).join("\n");
          if (!data) continue;
          const payload = JSON.parse(data);
          if (event === "delta") {
            onFirstDelta();
            // a delta is escaped HTML: shown as the text it stands for, never parsed into the page
            answer.appendChild(document.createTextNode(textOf(payload.text)));
            this.log.scrollTop = this.log.scrollHeight;
          } else if (event === "final") {
            return payload;
          } else if (event === "error") {
            this.fail(answer, payload.status, payload.error, payload.retryAfter);
            return null;
          }
        }
      }
    }

    fail(answer, status, error, retryAfter) {
      const t = this.t;
      const seconds = Number.parseInt(retryAfter, 10);
      let text = status === 429 ? t.busy : status === 413 || status === 422 ? t.tooLong : t.failed;
      if (Number.isFinite(seconds) && seconds > 0) text += t.waitSeconds(seconds);
      answer.parentNode.classList.remove("pending");
      answer.textContent = text;
      answer.parentNode.classList.add("error");
      this.pending = status === 503 || status === 429 || status >= 500 ? this.pending : null;
      if (this.pending) this.showStatus(text, true);
      if (status === 413 || status === 422) {
        // not kept: the service will refuse it again
        this.turns.pop();
        this.save();
      }
    }
  }

  customElements.define("twin-chat", TwinChat);
  // one script tag is enough: the chat appears unless the page placed its own <twin-chat>
  const place = () => {
    if (!document.querySelector("twin-chat")) document.body.appendChild(document.createElement("twin-chat"));
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", place);
  else place();
})();
