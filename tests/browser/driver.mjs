// Drives Debian's Chromium through playwright-core for the Python tests: one JSON command per line on
// stdin, one JSON reply per line on stdout (tests/browser.py is the other end).
//
//   {"op": "open", "url": ..., "locale": "ko-KR"}     a fresh page (and context)
//   {"op": "ask", "text": ..., "timeout": 30000}       type into <twin-chat> and wait for the answer
//   {"op": "retry"}                                     press the chat's retry button, wait as for ask
//   {"op": "state"}                                     what the chat shows now
//   {"op": "screenshot", "path": ...}
//   {"op": "reload"}                                    the same tab again (sessionStorage kept)
import { createInterface } from "node:readline";
import { chromium } from "playwright-core";

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"],
});
let context = null;
let page = null;
const consoleErrors = [];

// runs in the page: the chat's shadow root and what its bubbles say
const READ_STATE = () => {
  const root = document.querySelector("twin-chat")?.shadowRoot;
  if (!root) return { ready: false };
  const bubbles = [...root.querySelectorAll(".msg")].map((m) => ({
    role: m.classList.contains("user") ? "user" : "model",
    pending: m.classList.contains("pending"),
    error: m.classList.contains("error"),
    text: m.querySelector("span:not(.sr)")?.textContent ?? "",
    html: m.querySelector("span:not(.sr)")?.innerHTML ?? "",
  }));
  const status = root.querySelector(".status");
  return {
    ready: true,
    bubbles,
    statusHidden: status ? status.hidden : true,
    statusText: root.querySelector(".status [role=status]")?.textContent ?? "",
    retryVisible: !!root.querySelector(".status button") && !root.querySelector(".status button").hidden,
    busy: !!root.querySelector("form button")?.disabled,
    log: { role: root.querySelector(".log")?.getAttribute("role"), live: root.querySelector(".log")?.getAttribute("aria-live") },
    launcher: root.querySelector(".launcher")?.textContent ?? "",
    xss: window.__xss ?? null,
    storedTurns: (() => {
      for (let i = 0; i < sessionStorage.length; i += 1) {
        const key = sessionStorage.key(i);
        if (key.startsWith("twin-chat:")) return JSON.parse(sessionStorage.getItem(key)).turns;
      }
      return [];
    })(),
  };
};

// runs in the page before a question is sent: records the newest model bubble's text over time
const WATCH = () => {
  const root = document.querySelector("twin-chat").shadowRoot;
  const log = root.querySelector(".log");
  window.__frames = [];
  const started = performance.now();
  const observer = new MutationObserver(() => {
    const bubbles = log.querySelectorAll(".msg.model");
    const last = bubbles[bubbles.length - 1];
    if (!last) return;
    window.__frames.push({ t: performance.now() - started, pending: last.classList.contains("pending"),
      text: last.querySelector("span:not(.sr)")?.textContent ?? "" });
  });
  observer.observe(log, { subtree: true, childList: true, characterData: true, attributes: true });
  window.__stopWatch = () => observer.disconnect();
};

async function waitForAnswer(userCount, timeout) {
  await page.waitForFunction((n) => {
    const root = document.querySelector("twin-chat")?.shadowRoot;
    if (!root) return false;
    const busy = root.querySelector("form button")?.disabled;
    const users = root.querySelectorAll(".msg.user").length;
    const status = root.querySelector(".status");
    const offline = status && !status.hidden && !root.querySelector(".status button").hidden;
    return users >= n && !busy && (root.querySelectorAll(".msg.pending").length === 0 || offline);
  }, userCount, { timeout, polling: 50 });
  const frames = await page.evaluate(() => { window.__stopWatch?.(); return window.__frames || []; });
  return { ...(await page.evaluate(READ_STATE)), frames };
}

async function handle(command) {
  switch (command.op) {
    case "open": {
      if (context) await context.close();
      context = await browser.newContext({ locale: command.locale || "en-US", viewport: { width: 1000, height: 760 } });
      page = await context.newPage();
      page.on("console", (m) => { if (m.type() === "error") consoleErrors.push(m.text()); });
      page.on("pageerror", (e) => consoleErrors.push(String(e)));
      await page.goto(command.url, { waitUntil: "load" });
      await page.waitForFunction(() => !!document.querySelector("twin-chat")?.shadowRoot, null, { timeout: 15000 });
      await page.locator("twin-chat .launcher").click();
      return page.evaluate(READ_STATE);
    }
    case "reload": {
      await page.reload({ waitUntil: "load" });
      await page.waitForFunction(() => !!document.querySelector("twin-chat")?.shadowRoot, null, { timeout: 15000 });
      return page.evaluate(READ_STATE);
    }
    case "ask": {
      const users = (await page.evaluate(READ_STATE)).bubbles.filter((b) => b.role === "user").length;
      await page.evaluate(WATCH);
      const box = page.locator("twin-chat textarea");
      await box.fill(command.text);
      await box.press("Enter"); // the keyboard, as a visitor sends
      return waitForAnswer(users + 1, command.timeout || 30000);
    }
    case "retry": {
      // a retry that reaches the service adds the answer: wait for one more settled model bubble
      const models = (await page.evaluate(READ_STATE)).bubbles.filter((b) => b.role === "model").length;
      await page.evaluate(WATCH);
      await page.locator("twin-chat .status button").click();
      await page.waitForFunction((n) => {
        const root = document.querySelector("twin-chat").shadowRoot;
        return root.querySelectorAll(".msg.model").length > n && !root.querySelector(".msg.pending")
          && !root.querySelector("form button").disabled;
      }, models, { timeout: command.timeout || 30000, polling: 50 });
      const frames = await page.evaluate(() => { window.__stopWatch?.(); return window.__frames || []; });
      return { ...(await page.evaluate(READ_STATE)), frames };
    }
    case "state":
      return { ...(await page.evaluate(READ_STATE)), consoleErrors };
    case "screenshot":
      await page.screenshot({ path: command.path });
      return { path: command.path };
    default:
      throw new Error(`unknown op ${command.op}`);
  }
}

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  if (!line.trim()) continue;
  let reply;
  try {
    reply = { ok: true, result: await handle(JSON.parse(line)) };
  } catch (error) {
    reply = { ok: false, error: String(error && error.stack || error) };
  }
  process.stdout.write(JSON.stringify(reply) + "\n");
}
await browser.close();
